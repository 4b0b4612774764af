//! The ws-default binary as Lambda runs it (under a local Runtime API), on a DynamoDB table in dynalite and
//! a recorded MESSAGE event subscribes its connection.

use serde_json::{Value, json};
use tollgate::local_lambda::LocalFunction;
use tollgate_core::store::connections::ConnectionStore as _;
use tollgate_tests::{dynalite, event_text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_a_recorded_message_event() {
    let server = dynalite::shared();
    let table = server.table().await;
    let connection = tollgate_tests::connection("asdfasdf=", "$default");
    table.put_connection(&connection).await.expect("put");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("gateway.yaml");
    std::fs::write(&config, "websocket: {}\n").expect("definition");
    // Replies go to an endpoint nobody listens on: the post fails (logged), the subscription stands.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let (config, endpoint) = (config.display().to_string(), format!("http://{unused}/dev"));
    let env = server.function_env(&[
        ("TOLLGATE_CONFIG", &config),
        ("TOLLGATE_CONNECTIONS_TABLE", table.table()),
        ("TOLLGATE_WS_ENDPOINT", &endpoint),
    ]);
    let command = [env!("CARGO_BIN_EXE_ws-default").to_owned()];
    let function = LocalFunction::start("ws-default", &command, &env, dir.path()).await.expect("starts");
    let out = function.invoke(event_text("ws-message-subscribe.json").into_bytes(), None).await.expect("invoke");
    let answer: Value = serde_json::from_slice(&out.payload).expect("json");
    assert_eq!(answer, json!({ "statusCode": 200 }));
    assert_eq!(table.channels("asdfasdf=").await.expect("channels"), ["news"]);
    let out = function.invoke(event_text("ws-connect.json").into_bytes(), None).await.expect("invoke");
    assert_eq!(serde_json::from_slice::<Value>(&out.payload).expect("json")["statusCode"], 400);
}
