//! Arbitrary methods and paths against a route table of every shape (static, parameter, greedy, `ANY`,
//! `$default`-less), in both API types: route selection, percent-decoding, parameters as sent.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_core::{Gateway, request::GatewayRequest};

const DEFINITION: &str = r#"
routes:
  GET /pets: { integration: { type: mock } }
  GET /pets/{id}: { integration: { type: mock } }
  POST /pets/{id}/tags/{tag}: { integration: { type: mock } }
  ANY /files/{proxy+}: { integration: { type: mock } }
  GET /users/@me: { integration: { type: mock } }
  DELETE /a/b/c/{d}: { integration: { type: mock } }
  ANY /{proxy+}: { integration: { type: mock, statusCode: 299 } }
"#;

fn gateways() -> &'static (tokio::runtime::Runtime, Vec<Gateway>) {
    static GATEWAYS: OnceLock<(tokio::runtime::Runtime, Vec<Gateway>)> = OnceLock::new();
    GATEWAYS.get_or_init(|| common::gateways(DEFINITION))
}

const METHODS: [&str; 9] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY", "PURGE"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, path)) = data.split_first() else { return };
    let Ok(path) = std::str::from_utf8(path) else { return };
    let method = http::Method::from_bytes(METHODS[usize::from(pick) % METHODS.len()].as_bytes()).expect("method");
    let (rt, gateways) = gateways();
    for gateway in gateways {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut request = GatewayRequest::new(method.clone(), path);
        request.raw_query = query.to_owned();
        request.path_decoded = pick & 0x80 != 0;
        let _ = rt.block_on(gateway.handle_request(request));
    }
});
