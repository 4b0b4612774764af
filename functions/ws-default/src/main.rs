//! The WebSocket message function (`$default` route): route selection, the key's usage plan, Lambda
//! integrations and the built-in actions (subscribe, unsubscribe, publish, send, broadcast). Answers and
//! errors reach the client through the `@connections` API.

use tollgate_core::websocket::{Route, run_on_lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tollgate_core::logging::init(tollgate_core::logging::Output::Lambda);
    run_on_lambda(Route::Message).await
}
