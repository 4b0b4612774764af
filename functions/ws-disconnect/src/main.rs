//! The WebSocket `$disconnect` function: removes the connection, its subscriptions and its key's connection
//! slot. Safe to run twice or late.

use tollgate_core::websocket::{Route, run_on_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt().json().without_time().with_ansi(false).init();
    run_on_lambda(Route::Disconnect).await
}
