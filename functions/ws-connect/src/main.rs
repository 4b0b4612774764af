//! The WebSocket `$connect` function: authorizes the handshake with Tollgate's authorizers and API keys (header
//! or query string), applies the key's connection limit, and records the connection. A non-200 answer makes
//! API Gateway reject the handshake with that status.

use tollgate_core::websocket::{WsFunction, run_on_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run_on_lambda(WsFunction::Connect).await
}
