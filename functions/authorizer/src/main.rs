//! The API key authorizer: answers authorizer events (REST TOKEN/REQUEST, HTTP API 2.0, WebSocket
//! `$connect`) by looking the key up in Tollgate's table (`TOLLGATE_TABLE`), and returns it as
//! `usageIdentifierKey` so API Gateway's usage plans (or Tollgate's) meter it.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tollgate_core::{auth::standalone::ApiKeyFunction, function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let authorizer = Arc::new(function::start(async |settings| ApiKeyFunction::from_settings(&settings).await).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let authorizer = Arc::clone(&authorizer);
        async move { authorizer.answer(&event.payload).await }
    }))
    .await
}
