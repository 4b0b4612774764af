//! The router Lambda: Function URL, HTTP API (payload 2.0) and REST (payload 1.0) events through Tollgate's
//! pipeline. Everything is built once at cold start; a bad definition fails the init, not a request.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tollgate_core::{Gateway, event::GatewayEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines without timestamps or ANSI codes: CloudWatch adds the time and reads the JSON.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_target(true)
        .without_time()
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let gateway = Arc::new(Gateway::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<GatewayEvent>| {
        let gateway = Arc::clone(&gateway);
        async move { Ok::<_, Error>(gateway.handle(event.payload).await) }
    }))
    .await
}
