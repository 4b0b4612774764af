//! The JWT authorizer as a Lambda authorizer, for REST and WebSocket APIs (which have no JWT authorizer of
//! their own). Settings: `TOLLGATE_JWT_ISSUER`, `TOLLGATE_JWT_AUDIENCES` (comma-separated), optional
//! `TOLLGATE_JWT_JWKS_URI`, `TOLLGATE_JWT_LEEWAY_SECONDS`, and `TOLLGATE_JWT_SCOPES` (any one required).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tollgate_core::{
    auth::{
        function::{AuthorizerRequest, jwt_decision},
        jwks::KeyRing,
        jwt::JwtAuthorizer,
    },
    clock::{SharedClock, SystemClock},
    integration::HttpClient,
};

fn list(name: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tollgate_core::logging::init(tollgate_core::logging::Output::Lambda);
    let issuer = std::env::var("TOLLGATE_JWT_ISSUER").map_err(|_| "TOLLGATE_JWT_ISSUER is required")?;
    let audiences = list("TOLLGATE_JWT_AUDIENCES");
    if audiences.is_empty() {
        return Err("TOLLGATE_JWT_AUDIENCES is required".into());
    }
    let leeway = std::env::var("TOLLGATE_JWT_LEEWAY_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let clock: SharedClock = Arc::new(SystemClock);
    let keys = KeyRing::new(
        issuer.clone(),
        std::env::var("TOLLGATE_JWT_JWKS_URI").ok(),
        HttpClient::new()?,
        Arc::clone(&clock),
    );
    let verifier = Arc::new(JwtAuthorizer::new(issuer, audiences, leeway, keys, clock));
    let scopes = Arc::new(list("TOLLGATE_JWT_SCOPES"));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (verifier, scopes) = (Arc::clone(&verifier), Arc::clone(&scopes));
        async move {
            let request = AuthorizerRequest::parse(&event.payload)?;
            let decision = jwt_decision(&verifier, &scopes, &request).await;
            Ok::<_, Error>(request.answer(decision)?)
        }
    }))
    .await
}
