//! Text the definition holds and the gateway interprets: gateway-response templates, CORS origins and their
//! matching, and whole `gatewayResponses` sections.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use tollgate_core::config::{
    cors::{CorsFile, CorsSpec},
    gateway_responses::{GatewayResponses, parse_template},
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let vars = BTreeMap::from([("team".to_owned(), "pets".to_owned())]);
    let _ = parse_template(text, &vars);
    let file = CorsFile {
        allow_origins: text.split('\n').map(str::to_owned).collect(),
        allow_methods: vec!["GET".into()],
        allow_headers: vec![],
        expose_headers: vec![],
        max_age: None,
        allow_credentials: false,
    };
    if let Ok(spec) = CorsSpec::compile(&file) {
        for origin in text.split('\n') {
            if let Ok(value) = http::HeaderValue::from_str(origin) {
                let _ = spec.allow_origin(&value);
            }
        }
    }
    if let Ok(section) = serde_yaml_ng::from_str(text) {
        let _ = GatewayResponses::compile(&section, &vars);
    }
});
