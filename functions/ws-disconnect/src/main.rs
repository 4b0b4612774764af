//! The WebSocket `$disconnect` function: removes the connection, its subscriptions and its key's connection
//! slot. Safe to run twice or late.

use tollgate_core::websocket::{Route, run_on_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tollgate_core::logging::init(tollgate_core::logging::Output::Lambda);
    run_on_lambda(Route::Disconnect).await
}
