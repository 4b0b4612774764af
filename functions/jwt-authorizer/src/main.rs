//! The JWT authorizer as a Lambda authorizer, for REST and WebSocket APIs (which have no JWT authorizer of
//! their own). Settings: `TOLLGATE_JWT_ISSUER`, `TOLLGATE_JWT_AUDIENCES` (comma-separated), optional
//! `TOLLGATE_JWT_JWKS_URI`, `TOLLGATE_JWT_LEEWAY_SECONDS`, and `TOLLGATE_JWT_SCOPES` (any one required).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tollgate_core::{auth::standalone::JwtFunction, function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let authorizer = Arc::new(function::start(async |settings| JwtFunction::from_settings(&settings)).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let authorizer = Arc::clone(&authorizer);
        async move { authorizer.answer(&event.payload).await }
    }))
    .await
}
