//! Any text as `gateway.yaml`: every field, check and compile step must refuse bad input with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::config::Definition;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Definition::from_yaml(text, None);
    let _ = Definition::from_yaml(text, Some("prod"));
});
