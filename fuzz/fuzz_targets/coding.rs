//! `Accept-Encoding` negotiation and compressed request bodies: any header, any body, every coding, under the
//! decompression cap (a bomb must stop at the cap, never allocate past it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::coding::{self, Coding, Level};

fuzz_target!(|data: &[u8]| {
    let _ = coding::negotiate([data]);
    for encoding in ["gzip", "deflate", "x-gzip", "gzip, deflate", "identity", "br"] {
        if let Ok(body) = coding::decode(encoding, data, 64 * 1024) {
            assert!(body.len() <= 64 * 1024, "the cap held");
        }
    }
    // What the gateway writes, it reads back.
    for coding in Coding::OFFERED {
        let packed = coding::encode(*coding, data, Level::Fastest).expect("encode");
        let back = coding::decode(coding.token(), &packed, data.len().max(1)).expect("round trip");
        assert_eq!(back, data);
    }
});
