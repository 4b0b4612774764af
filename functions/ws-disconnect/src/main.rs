//! The WebSocket `$disconnect` function: removes the connection, its subscriptions and its key's connection
//! slot. Safe to run twice or late.

use tollgate_core::websocket::{WsFunction, run_on_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run_on_lambda(WsFunction::Disconnect).await
}
