//! The ws-connect binary as Lambda runs it (under a local Runtime API), recording connections in a DynamoDB
//! table in dynalite, answering recorded `$connect` events.

use serde_json::Value;
use tollgate::local_lambda::LocalFunction;
use tollgate_core::store::connections::ConnectionStore as _;
use tollgate_tests::{dynalite, event_text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_connection_of_a_recorded_connect_event() {
    let server = dynalite::shared();
    let table = server.table().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("gateway.yaml");
    std::fs::write(&config, "websocket: {}\n").expect("definition");
    let config = config.display().to_string();
    let env = server.function_env(&[("TOLLGATE_CONFIG", &config), ("TOLLGATE_CONNECTIONS_TABLE", table.table())]);
    let command = [env!("CARGO_BIN_EXE_ws-connect").to_owned()];
    let function = LocalFunction::start("ws-connect", &command, &env, dir.path()).await.expect("starts");

    let out = function.invoke(event_text("ws-connect.json").into_bytes(), None).await.expect("invoke");
    let answer: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(answer, serde_json::json!({ "statusCode": 200 }));
    let recorded = table.get_connection("asdfasdf=").await.expect("read").expect("recorded");
    assert_eq!(recorded.source_ip, "10.0.0.13");

    // A $disconnect event delivered to ws-connect: a 400 in API Gateway's shape, and the function lives on.
    let out = function.invoke(event_text("ws-disconnect.json").into_bytes(), None).await.expect("invoke");
    let answer: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(answer["statusCode"], 400, "{answer}");
    let out = function.invoke(b"{\"not\": \"an event\"}".to_vec(), None).await.expect("invoke");
    assert_eq!(serde_json::from_slice::<Value>(&out.payload).expect("json")["statusCode"], 400);
}
