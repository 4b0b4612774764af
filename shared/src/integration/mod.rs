//! Integrations: where a matched request goes. Each kind lives in its own file; this one picks between them
//! and holds the clients they share, which are built once per process (cold start), never per request.

pub mod http;
pub mod lambda;
pub mod lambda_event;
pub mod lambda_reply;
pub mod mock;

use std::sync::Arc;

use crate::{
    auth::Authorized,
    clock::SharedClock,
    config::{Definition, IntegrationSpec},
    error::GatewayError,
    pipeline::{IntegrationContext, Matched},
    request::{GatewayRequest, GatewayResponse},
    store::{
        Store,
        dynamo::{DynamoOptions, DynamoStore},
    },
};

pub use self::http::HttpClient;
pub use lambda::{InvokeError, InvokeFuture, InvokeOutput, Invoker, SdkInvoker, sdk_config_loader};

/// The clients integrations call through. Only those a definition needs are built.
#[derive(Clone, Default)]
pub struct Backends {
    pub lambda: Option<Arc<dyn Invoker>>,
    pub http: Option<HttpClient>,
    /// Keys, plans and metering state, for definitions that require API keys or throttle.
    pub store: Option<Arc<dyn Store>>,
    /// The meter's clock; the system clock when `None` (tests inject one).
    pub clock: Option<SharedClock>,
}

/// A definition uses an integration kind whose client was not provided.
#[derive(Debug, thiserror::Error)]
#[error("route {route:?} needs a {kind} client and none was configured")]
pub struct MissingBackend {
    pub route: String,
    pub kind: &'static str,
}

impl Backends {
    /// Builds the clients `definition` needs: the AWS SDK's Lambda client, the HTTP client, and the DynamoDB
    /// store named by `TOLLGATE_TABLE` (with `AWS_ENDPOINT_URL_DYNAMODB` honoured, for a local server).
    pub async fn for_definition(definition: &Definition) -> Result<Self, std::io::Error> {
        let lambda = if definition.lambda_functions().next().is_some() {
            Some(Arc::new(SdkInvoker::from_env().await) as Arc<dyn Invoker>)
        } else {
            None
        };
        let http = if definition.uses_http() { Some(HttpClient::new()?) } else { None };
        let store = if definition.uses_store() {
            let table = std::env::var("TOLLGATE_TABLE").ok().filter(|t| !t.is_empty()).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the definition requires API keys or throttles: set TOLLGATE_TABLE to the DynamoDB table",
                )
            })?;
            let options = DynamoOptions { table, endpoint: None };
            Some(Arc::new(DynamoStore::connect(&options).await) as Arc<dyn Store>)
        } else {
            None
        };
        Ok(Self { lambda, http, store, clock: None })
    }
}

/// One route's integration, ready to call.
pub enum Integration {
    Lambda(lambda::LambdaIntegration),
    // Boxed: the pooled client is large and most routes are not HTTP.
    Http(Box<self::http::HttpIntegration>),
    Mock(mock::MockIntegration),
}

impl Integration {
    pub fn new(spec: &IntegrationSpec, backends: &Backends) -> Result<Self, MissingBackend> {
        let missing = |kind| MissingBackend { route: String::new(), kind };
        Ok(match spec {
            IntegrationSpec::Lambda { function, payload, timeout } => Self::Lambda(lambda::LambdaIntegration::new(
                backends.lambda.clone().ok_or_else(|| missing("Lambda"))?,
                function.clone(),
                *payload,
                *timeout,
            )),
            IntegrationSpec::Http { url, method, timeout } => Self::Http(Box::new(self::http::HttpIntegration::new(
                backends.http.clone().ok_or_else(|| missing("HTTP"))?,
                url.clone(),
                method.clone(),
                *timeout,
            ))),
            IntegrationSpec::Mock { status, headers, body } => {
                Self::Mock(mock::MockIntegration::new(*status, headers.clone(), body.clone()))
            }
        })
    }

    pub async fn call(
        &self,
        request: &GatewayRequest,
        matched: &Matched,
        route_key: &str,
        context: &IntegrationContext,
        authorized: Option<&Authorized>,
    ) -> Result<GatewayResponse, GatewayError> {
        match self {
            Self::Lambda(i) => i.call(request, matched, route_key, context, authorized).await,
            Self::Http(i) => i.call(request, matched).await,
            Self::Mock(i) => Ok(i.call()),
        }
    }
}
