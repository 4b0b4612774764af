//! The ws-disconnect binary as Lambda runs it (under a local Runtime API), on a DynamoDB table in dynalite:
//! a recorded `$disconnect` event removes the connection and its subscriptions, and again is no error.

use serde_json::{Value, json};
use tollgate::local_lambda::LocalFunction;
use tollgate_core::store::connections::ConnectionStore as _;
use tollgate_tests::{dynalite, event_text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removes_the_connection_of_a_recorded_disconnect_event() {
    let server = dynalite::shared();
    let table = server.table().await;
    let connection = tollgate_tests::connection("AAAA1234=", "$default");
    table.put_connection(&connection).await.expect("put");
    table.subscribe(&connection, "news").await.expect("subscribe");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("gateway.yaml");
    std::fs::write(&config, "websocket: {}\n").expect("definition");
    let config = config.display().to_string();
    let env = server.function_env(&[("TOLLGATE_CONFIG", &config), ("TOLLGATE_CONNECTIONS_TABLE", table.table())]);
    let command = [env!("CARGO_BIN_EXE_ws-disconnect").to_owned()];
    let function = LocalFunction::start("ws-disconnect", &command, &env, dir.path()).await.expect("starts");
    for _ in 0..2 {
        let out = function.invoke(event_text("ws-disconnect.json").into_bytes(), None).await.expect("invoke");
        let answer: Value = serde_json::from_slice(&out.payload).expect("json");
        assert_eq!(answer, json!({ "statusCode": 200 }), "twice is fine");
    }
    assert!(table.get_connection("AAAA1234=").await.expect("read").is_none());
    assert!(table.members("$default", Some("news"), 10, None).await.expect("members").items.is_empty());
}
