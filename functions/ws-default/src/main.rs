//! The WebSocket message function (`$default` route): route selection, the key's usage plan, Lambda
//! integrations and the built-in actions (subscribe, unsubscribe, publish, send, broadcast). Answers and
//! errors reach the client through the `@connections` API.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tollgate_core::websocket::{Route, WebSocketApi};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().with_ansi(false).init();
    let api = Arc::new(WebSocketApi::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(api.handle(Route::Message, event.payload).await) }
    }))
    .await
}
