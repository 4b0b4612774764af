//! The WebSocket `$connect` function: authorizes the handshake with Tollgate's authorizers and API keys (header
//! or query string), applies the key's connection limit, and records the connection. A non-200 answer makes
//! API Gateway reject the handshake with that status.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tollgate_core::websocket::{Route, WebSocketApi};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().with_ansi(false).init();
    let api = Arc::new(WebSocketApi::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(api.handle(Route::Connect, event.payload).await) }
    }))
    .await
}
