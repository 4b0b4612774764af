//! The WebSocket `$connect` function: authorizes the handshake with Tollgate's authorizers and API keys (header
//! or query string), applies the key's connection limit, and records the connection. A non-200 answer makes
//! API Gateway reject the handshake with that status.

use tollgate_core::websocket::{Route, run_on_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tollgate_core::logging::init(tollgate_core::logging::Output::Lambda);
    run_on_lambda(Route::Connect).await
}
