//! The router Lambda: Function URL, HTTP API (payload 2.0) and REST (payload 1.0) events through Tollgate's
//! pipeline. Everything is built once at cold start; a bad definition fails the init, not a request.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;
use tollgate_core::{Gateway, function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let gateway = Arc::new(function::start(async |settings| Ok(Gateway::from_settings(&settings).await?)).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let gateway = Arc::clone(&gateway);
        // Integrations and authorizers get what is left of this invocation, and continue its X-Ray trace.
        let deadline = i64::try_from(event.context.deadline).ok();
        async move { gateway.handle_invocation(event.payload.get(), deadline, event.context.xray_trace_id.as_deref()).await }
    }))
    .await
}
