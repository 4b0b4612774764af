//! The API key authorizer: answers authorizer events (REST TOKEN/REQUEST, HTTP API 2.0, WebSocket
//! `$connect`) by looking the key up in Tollgate's table (`TOLLGATE_TABLE`), and returns it as
//! `usageIdentifierKey` so API Gateway's usage plans (or Tollgate's) meter it.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tollgate_core::{
    auth::function::{AuthorizerRequest, api_key_decision},
    clock::SystemClock,
    config::DEFAULT_KEY_CACHE_SECS,
    store::dynamo::{DynamoOptions, DynamoStore},
    usage::meter::Meter,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tollgate_core::logging::init(tollgate_core::logging::Output::Lambda);
    let table = std::env::var("TOLLGATE_TABLE").map_err(|_| "TOLLGATE_TABLE must name the DynamoDB table")?;
    let store = Arc::new(DynamoStore::connect(&DynamoOptions { table, endpoint: None }).await);
    let meter = Arc::new(Meter::new(store, Arc::new(SystemClock), DEFAULT_KEY_CACHE_SECS));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let meter = Arc::clone(&meter);
        async move {
            let request = AuthorizerRequest::parse(&event.payload)?;
            let decision = api_key_decision(&meter, &request).await?;
            Ok::<_, Error>(request.answer(decision)?)
        }
    }))
    .await
}
