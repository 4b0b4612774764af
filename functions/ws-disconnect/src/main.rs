//! The WebSocket `$disconnect` function: removes the connection, its subscriptions and its key's connection
//! slot. Safe to run twice or late.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tollgate_core::websocket::{Route, WebSocketApi};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().with_ansi(false).init();
    let api = Arc::new(WebSocketApi::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(api.handle(Route::Disconnect, event.payload).await) }
    }))
    .await
}
