//! The API key authorizer binary as Lambda runs it (under a local Runtime API), on a DynamoDB table in
//! dynalite, answering recorded authorizer events.

use serde_json::{Value, json};
use tollgate::local_lambda::LocalFunction;
use tollgate_core::admin::{Admin, NewKey};
use tollgate_tests::{T0_SECS, dynalite, event_text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_recorded_authorizer_events_from_the_table() {
    let server = dynalite::shared();
    let store = server.table().await;
    let (key, value) = Admin::new(&store, T0_SECS * 1_000)
        .create_key(NewKey { name: "svc".into(), enabled: true, ..NewKey::default() })
        .await
        .expect("key");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = server.function_env(&[("TOLLGATE_TABLE", store.table())]);
    let command = [env!("CARGO_BIN_EXE_authorizer").to_owned()];
    let function = LocalFunction::start("authorizer", &command, &env, dir.path()).await.expect("starts");

    let mut event: Value = serde_json::from_str(&event_text("authorizer-request-v1.json")).expect("json");
    event["headers"]["x-api-key"] = json!(value);
    let out = function.invoke(event.to_string().into_bytes(), None).await.expect("invoke");
    let answer: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(out.function_error, None, "{answer}");
    assert_eq!(answer["principalId"], key.id.as_str());
    assert_eq!(answer["usageIdentifierKey"], value.as_str());
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/*"
    );

    event["headers"]["x-api-key"] = json!("not-a-key-of-ours-at-all-xxxxxxxx");
    let out = function.invoke(event.to_string().into_bytes(), None).await.expect("invoke");
    let answer: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Deny", "unknown key: 403");

    // No key at all in the recorded WebSocket $connect event: "Unauthorized" (401).
    let out =
        function.invoke(event_text("authorizer-websocket-connect.json").into_bytes(), None).await.expect("invoke");
    let error: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(
        (error["errorType"].as_str(), error["errorMessage"].as_str()),
        (Some("Unauthorized"), Some("Unauthorized"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_table_is_a_named_error() {
    let server = dynalite::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let env = server.function_env(&[("TOLLGATE_TABLE", "no-such-table")]);
    let command = [env!("CARGO_BIN_EXE_authorizer").to_owned()];
    let function = LocalFunction::start("authorizer", &command, &env, dir.path()).await.expect("starts");
    let mut event: Value = serde_json::from_str(&event_text("authorizer-request-v1.json")).expect("json");
    event["headers"]["x-api-key"] = json!("a-key-value-that-needs-the-table");
    let out = function.invoke(event.to_string().into_bytes(), None).await.expect("invoke");
    let error: Value = serde_json::from_slice(&out.payload).expect("json");
    assert!(out.function_error.is_some());
    assert_eq!(error["errorType"], "StoreUnavailable", "{error}");

    // Without TOLLGATE_TABLE the function does not start, and says why.
    let env = server.function_env(&[]);
    let started = LocalFunction::start("authorizer", &command, &env, dir.path()).await;
    let Err(tollgate::local_lambda::LocalFunctionError::Exited { init_error: Some(reported), .. }) = started else {
        panic!("the function should report an init error and exit");
    };
    assert!(reported.contains("TOLLGATE_TABLE"), "{reported}");
}
