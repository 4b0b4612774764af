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
    // The binary runs on the system clock: a token valid until 2100, so the test reads no clock.
    let token = key.sign(&json!({"iss": issuer.url, "aud": "api", "sub": "ada", "exp": 4_102_444_800_i64}));

    let mut event: Value = serde_json::from_str(&event_text("authorizer-token-request.json")).expect("json");
    event["authorizationToken"] = json!(format!("Bearer {token}"));
    let out = function.invoke(event.to_string().into_bytes(), None).await.expect("invoke");
    let answer: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(out.function_error, None, "{answer}");
    assert_eq!(answer["principalId"], "ada");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");

    // The recorded token ("allow") is no JWT: API Gateway's 401 convention, an error saying "Unauthorized".
    let out = function.invoke(event_text("authorizer-token-request.json").into_bytes(), None).await.expect("invoke");
    let error: Value = serde_json::from_slice(&out.payload).expect("json");
    assert!(out.function_error.is_some());
    assert_eq!(
        (error["errorType"].as_str(), error["errorMessage"].as_str()),
        (Some("Unauthorized"), Some("Unauthorized"))
    );

    // HTTP API 2.0: a simple response.
    let mut v2: Value = serde_json::from_str(&event_text("authorizer-v2-request.json")).expect("json");
    v2["headers"]["authorization"] = json!(token);
    let out = function.invoke(v2.to_string().into_bytes(), None).await.expect("invoke");
    let answer: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(answer["isAuthorized"], true, "{answer}");
    assert_eq!(answer["context"]["sub"], "ada");

    // Not an authorizer event: an invocation error with a named type, and the process keeps serving.
    let out = function.invoke(event_text("function-url-get-query.json").into_bytes(), None).await.expect("invoke");
    let error: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(error["errorType"], "InvalidEvent", "{error}");
    let out = function.invoke(event.to_string().into_bytes(), None).await.expect("invoke");
    assert_eq!(out.function_error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_settings_are_an_init_error_with_the_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = BTreeMap::from([("TOLLGATE_JWT_AUDIENCES".to_owned(), "api".to_owned())]);
    let command = [env!("CARGO_BIN_EXE_jwt-authorizer").to_owned()];
    let started = LocalFunction::start("jwt-authorizer", &command, &env, dir.path()).await;
    let Err(tollgate::local_lambda::LocalFunctionError::Exited { init_error: Some(reported), .. }) = started else {
        panic!("the function should report an init error and exit");
    };
    let reported: Value = serde_json::from_str(&reported).expect("JSON");
    assert_eq!(reported["errorType"], "InvalidSettings", "{reported}");
    assert!(reported["errorMessage"].as_str().is_some_and(|m| m.contains("TOLLGATE_JWT_ISSUER")), "{reported}");
}
