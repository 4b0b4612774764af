//! Any bytes as the event Lambda hands the router (Function URL / HTTP API 2.0, REST 1.0, or nonsense), through
//! the whole gateway of each API type: decoding, admission, CORS, routing, the mock integrations, gateway
//! responses, compression and rendering. Nothing may panic; everything is an answer or an `InvalidEvent`.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_core::Gateway;

const DEFINITION: &str = r#"
minimumCompressionSize: 0
cors: { allowOrigins: ["https://*.example.com", "http://localhost:8080"], allowMethods: [GET, PUT], allowHeaders: [x-custom], allowCredentials: true }
gatewayResponses:
  DEFAULT_4XX: { responseParameters: { gatewayresponse.header.X-Path: method.request.path.id }, responseTemplates: { application/json: '{"m":$context.error.messageString,"p":"$context.path"}' } }
routes:
  GET /pets/{id}: { integration: { type: mock, statusCode: 200, headers: { content-type: application/json }, body: '{"pet":true,"padding":"................................................"}' } }
  ANY /files/{proxy+}: { integration: { type: mock, statusCode: 201, body: files } }
  POST /users/@me: { cors: { allowOrigins: ["*"] }, integration: { type: mock, statusCode: 204 } }
  $default: { integration: { type: mock, statusCode: 404, body: nope } }
"#;

fn gateways() -> &'static (tokio::runtime::Runtime, Vec<Gateway>) {
    static GATEWAYS: OnceLock<(tokio::runtime::Runtime, Vec<Gateway>)> = OnceLock::new();
    GATEWAYS.get_or_init(|| common::gateways(DEFINITION))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (rt, gateways) = gateways();
    for gateway in gateways {
        let _ = rt.block_on(gateway.handle_json(text, None));
    }
});
