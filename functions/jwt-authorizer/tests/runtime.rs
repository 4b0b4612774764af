//! The jwt-authorizer binary as Lambda runs it (under a local Runtime API), against a real issuer on loopback,
//! answering recorded authorizer events.

use std::collections::BTreeMap;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::local_lambda::LocalFunction;
use tollgate_tests::{
    event_text,
    issuer::{Issuer, SigningKey},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_recorded_authorizer_events() {
    let key = SigningKey::load("ed25519.pem", "ed-1", Algorithm::EdDSA);
    let issuer = Issuer::start(&[&key]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let env = BTreeMap::from([
        ("TOLLGATE_JWT_ISSUER".to_owned(), issuer.url.clone()),
        ("TOLLGATE_JWT_AUDIENCES".to_owned(), "api, other".to_owned()),
    ]);
    let command = [env!("CARGO_BIN_EXE_jwt-authorizer").to_owned()];
    let function = LocalFunction::start("jwt-authorizer", &command, &env, dir.path()).await.expect("starts");
    let now = chrono::Utc::now().timestamp();
    let token = key.sign(&json!({"iss": issuer.url, "aud": "api", "sub": "ada", "exp": now + 60}));

    let mut event: Value = serde_json::from_str(&event_text("authorizer-token-request.json")).expect("json");
    event["authorizationToken"] = json!(format!("Bearer {token}"));
    let out = function.invoke(event.to_string().into_bytes()).await.expect("invoke");
    let answer: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(out.function_error, None, "{answer}");
    assert_eq!(answer["principalId"], "ada");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");

    // The recorded token ("allow") is no JWT: API Gateway's 401 convention, an error saying "Unauthorized".
    let out = function.invoke(event_text("authorizer-token-request.json").into_bytes()).await.expect("invoke");
    let error: Value = serde_json::from_slice(&out.payload).expect("json");
    assert!(out.function_error.is_some());
    assert_eq!(error["errorMessage"], "Unauthorized");

    // HTTP API 2.0: a simple response.
    let mut v2: Value = serde_json::from_str(&event_text("authorizer-v2-request.json")).expect("json");
    v2["headers"]["authorization"] = json!(token);
    let out = function.invoke(v2.to_string().into_bytes()).await.expect("invoke");
    let answer: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(answer["isAuthorized"], true, "{answer}");
    assert_eq!(answer["context"]["sub"], "ada");

    // Not an authorizer event: an invocation error, and the process keeps serving.
    let out = function.invoke(event_text("function-url-get-query.json").into_bytes()).await.expect("invoke");
    assert!(out.function_error.is_some());
    let out = function.invoke(event.to_string().into_bytes()).await.expect("invoke");
    assert_eq!(out.function_error, None);
}
