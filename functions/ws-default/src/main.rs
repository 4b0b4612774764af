//! The WebSocket message function (`$default` route): route selection, the key's usage plan, Lambda
//! integrations and the built-in actions (subscribe, unsubscribe, publish, send, broadcast). Answers and
//! errors reach the client through the `@connections` API.

use tollgate_core::websocket::{WsFunction, run_on_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run_on_lambda(WsFunction::Message).await
}
