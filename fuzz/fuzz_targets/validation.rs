//! Request validation: any body against the route's model for its media type, the route's required parameters,
//! and any JSON Schema as a model (compiled as the definition compiles models), then the 400 answers in API
//! Gateway's form and as problem details. Nothing may panic, and no body may make validation unbounded.
//!
//! Input: a control byte, then the rest. Bit 0: the rest is a model (JSON Schema), a NUL, and the body;
//! otherwise the rest is the body, checked against the fixed models below. Bits 1-2 the body's
//! `Content-Type` (JSON, JSON with a charset, a vendor type the `$default` model takes, none); bit 3 problem
//! details; bit 4 the required parameters are sent.
#![no_main]

use std::{collections::BTreeMap, sync::OnceLock};

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tollgate_core::{
    config::validation::{ApiValidation, RequestValidatorFile, RouteValidation},
    error::GatewayError,
    request::{ApiType, GatewayRequest},
    validate,
};

/// The models of `docs/validation.md`'s example, and more of the keywords API Gateway's models use.
fn fixed_models() -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("Tag".to_owned(), json!({ "type": "string", "maxLength": 8, "pattern": "^[a-z][a-z0-9-]*$" })),
        (
            "Pet".to_owned(),
            json!({
                "type": "object",
                "required": ["name", "age"],
                "additionalProperties": false,
                "properties": {
                    "name": { "type": "string", "minLength": 1 },
                    "age": { "type": "integer", "minimum": 0, "maximum": 100 },
                    "tag": { "$ref": "Tag" },
                    "tags": { "type": "array", "items": { "$ref": "#/definitions/Short" }, "maxItems": 4, "uniqueItems": true },
                    "owner": { "$ref": "#/definitions/Owner" },
                    "kind": { "enum": ["cat", "dog", null] },
                    "weight": { "type": "number", "minimum": 0, "exclusiveMinimum": true, "multipleOf": 0.5 },
                    "id": { "type": "string", "format": "uuid" }
                },
                "definitions": {
                    "Short": { "type": "string", "maxLength": 3 },
                    "Owner": { "type": "object", "properties": { "email": { "type": "string", "format": "email" } } }
                }
            }),
        ),
        (
            "Any".to_owned(),
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "anyOf": [{ "type": "array", "prefixItems": [{ "type": "integer" }] }, { "$ref": "Pet" }],
                "dependentRequired": { "a": ["b"] }
            }),
        ),
    ])
}

/// The route's checks with these models: its required parameters, its JSON model and its `$default` one.
fn compile(models: &BTreeMap<String, Value>, problem_details: bool) -> Result<Option<RouteValidation>, String> {
    let checks =
        RequestValidatorFile { validate_request_body: true, validate_request_parameters: true, problem_details };
    let validators = BTreeMap::from([("all".to_owned(), checks)]);
    let api = ApiValidation::compile(models, &validators, Some("all"))?;
    let parameters = BTreeMap::from([
        ("path.id".to_owned(), true),
        ("querystring.dryRun".to_owned(), true),
        ("method.request.header.x-request-id".to_owned(), true),
        ("querystring.optional".to_owned(), false),
    ]);
    let model = if models.contains_key("Fuzz") { "Fuzz" } else { "Pet" };
    let media =
        BTreeMap::from([("application/json".to_owned(), model.to_owned()), ("$default".to_owned(), "Any".to_owned())]);
    let route = api.route(None, &parameters, &media, &["id"]).expect("the fixed route is valid");
    Ok(route.map(|route| route.as_ref().clone()))
}

fn fixed(problem_details: bool) -> &'static RouteValidation {
    static FIXED: OnceLock<[RouteValidation; 2]> = OnceLock::new();
    let [plain, problems] = FIXED.get_or_init(|| {
        [false, true].map(|problems| {
            let route = compile(&fixed_models(), problems).unwrap_or_else(|e| panic!("the fixed models: {e}"));
            route.expect("the route checks something")
        })
    });
    if problem_details { problems } else { plain }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let problem_details = control & 8 != 0;
    let compiled;
    let (spec, body) = if control & 1 != 0 {
        let (schema, body) = match rest.iter().position(|b| *b == 0) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &b""[..]),
        };
        let Ok(schema) = serde_json::from_slice::<Value>(schema) else { return };
        let mut models = fixed_models();
        models.insert("Fuzz".to_owned(), schema);
        let Ok(Some(route)) = compile(&models, problem_details) else { return };
        compiled = route;
        (&compiled, body)
    } else {
        (fixed(problem_details), rest)
    };
    let mut request = GatewayRequest::new(http::Method::POST, "/pets/42");
    let content_type = match (control >> 1) & 3 {
        0 => Some("application/json"),
        1 => Some("Application/JSON; charset=utf-8"),
        2 => Some("application/vnd.pets+json"),
        _ => None,
    };
    if let Some(content_type) = content_type {
        request.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    }
    let path = if control & 0x10 != 0 {
        request.raw_query = "dryRun=1&optional=".to_owned();
        request.headers.insert("x-request-id", http::HeaderValue::from_static("r-1"));
        vec![("id".to_owned(), "42".to_owned())]
    } else {
        request.raw_query = "dryRun=%20".to_owned();
        vec![("id".to_owned(), " ".to_owned())]
    };
    request.body = body.to_vec().into();
    let outcomes = [
        validate::parameters(spec, &request, &path).map_err(|i| GatewayError::MissingParameters(Box::new(i))),
        validate::body(spec, &request).map_err(|i| GatewayError::InvalidBody(Box::new(i))),
    ];
    for error in outcomes.into_iter().filter_map(Result::err) {
        for api in [ApiType::Rest, ApiType::Http] {
            let answer = error.answer(api);
            assert_eq!(answer.status, http::StatusCode::BAD_REQUEST, "{}", answer.body);
            let body: Value = serde_json::from_str(&answer.body).expect("the answer is JSON");
            if problem_details {
                let errors = body["errors"].as_array().expect("problem details list the errors");
                assert!(errors.len() <= validate::MAX_REPORTED, "at most {} errors", validate::MAX_REPORTED);
            }
        }
    }
});
