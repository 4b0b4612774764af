//! REST mapping templates: any text as a template (refused at load, or parsed), rendered against a body, request
//! parameters, stage variables and a `$context`. The first byte splits the input: that many bytes (times 4) of
//! template, the rest is the body. Rendering is bounded by the engine's limits; a panic or a hang is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::velocity::{RenderInput, Template};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let at = (usize::from(split) * 4).min(rest.len());
    let (template, body) = rest.split_at(at);
    let (Ok(template), Ok(body)) = (std::str::from_utf8(template), std::str::from_utf8(body)) else { return };
    let Ok(template) = Template::parse(template) else { return };
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let path = pairs(&[("id", "42")]);
    let querystring = pairs(&[("q", "a b"), ("q", "c")]);
    let header = pairs(&[("Content-Type", "application/json"), ("X-Trace", body)]);
    let stage_variables = pairs(&[("team", "pets")]);
    let context = serde_json::json!({
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "stage": "prod",
        "identity": { "sourceIp": "192.0.2.1" },
        "authorizer": { "principalId": "user", "claims": { "sub": "1" } },
    });
    let input = RenderInput {
        body,
        path: &path,
        querystring: &querystring,
        header: &header,
        stage_variables: &stage_variables,
        context: Some(&context),
    };
    let _ = template.render(&input);
});
