//! The WebSocket message function (`$default` route): route selection, the key's usage plan, Lambda
//! integrations and the built-in actions (subscribe, unsubscribe, publish, send, broadcast). Answers and
//! errors reach the client through the `@connections` API.

use tollgate_core::websocket::{Route, run_on_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt().json().without_time().with_ansi(false).init();
    run_on_lambda(Route::Message).await
}
