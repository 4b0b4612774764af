//! The router binary as Lambda runs it: a process polling a Runtime API (here `tollgate serve`'s own, on
//! loopback), configured by `TOLLGATE_CONFIG` / `TOLLGATE_STAGE`, answering recorded events.

use std::collections::BTreeMap;

use serde_json::Value;
use tollgate::local_lambda::{LocalFunction, LocalFunctionError};

const DEFINITION: &str = r#"
stages:
  prod: {}
  dev: {}
routes:
  GET /my/path:
    integration: { type: mock, statusCode: 200, headers: { content-type: text/plain }, body: from the router }
"#;

fn event(name: &str) -> Vec<u8> {
    tollgate_tests::event_text(name).into_bytes()
}

async fn start(stage: Option<&str>) -> (Result<LocalFunction, LocalFunctionError>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("gateway.yaml"), DEFINITION).expect("write");
    let mut env = BTreeMap::from([("TOLLGATE_CONFIG".to_owned(), "gateway.yaml".to_owned())]);
    if let Some(stage) = stage {
        env.insert("TOLLGATE_STAGE".to_owned(), stage.to_owned());
    }
    let command = [env!("CARGO_BIN_EXE_router").to_owned()];
    (LocalFunction::start("router", &command, &env, dir.path()).await, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_recorded_events_and_survives_unreadable_ones() {
    let (router, _dir) = start(Some("prod")).await;
    let router = router.expect("router starts");

    let out = router.invoke(event("function-url-get-query.json"), None).await.expect("invoke");
    assert_eq!(out.function_error, None);
    let reply: Value = serde_json::from_slice(&out.payload).expect("JSON reply");
    assert_eq!(reply["statusCode"], 200);
    assert_eq!(reply["body"], "from the router");
    assert_eq!(reply["headers"]["apigw-requestid"], "MIZRNhJtIAMEMDw=");

    // A REST event is answered in the REST shape.
    let out = router.invoke(event("rest-api-no-host.json"), None).await.expect("invoke");
    let reply: Value = serde_json::from_slice(&out.payload).expect("JSON reply");
    assert_eq!(reply["statusCode"], 404);
    assert_eq!(reply["multiValueHeaders"]["content-type"][0], "application/json");

    // Not an event: an invocation error with a named type (the front door's 502), not a crash.
    let out = router.invoke(event("function-url-not-an-event.json"), None).await.expect("invoke");
    assert!(out.function_error.is_some(), "{}", String::from_utf8_lossy(&out.payload));
    let error: Value = serde_json::from_slice(&out.payload).expect("JSON error");
    assert_eq!(error["errorType"], "InvalidEvent", "{error}");
    let out = router.invoke(event("function-url-bad-base64-body.json"), None).await.expect("invoke");
    let reply: Value = serde_json::from_slice(&out.payload).expect("JSON reply");
    assert_eq!(reply["statusCode"], 400, "the same process still answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_definition_fails_at_init() {
    let (router, _dir) = start(None).await;
    let Err(LocalFunctionError::Exited { init_error: Some(reported), .. }) = router else {
        panic!("several stages and no TOLLGATE_STAGE: the router reports an init error and exits");
    };
    let reported: Value = serde_json::from_str(&reported).expect("JSON");
    assert_eq!(reported["errorType"], "InvalidDefinition", "{reported}");
    assert!(reported["errorMessage"].as_str().is_some_and(|m| m.contains("several stages")), "{reported}");
}
