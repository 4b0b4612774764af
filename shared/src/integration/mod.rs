//! Integrations: where a matched request goes. Each kind lives in its own file; this one picks between them.
//! The clients they call through are built once per process (cold start), never per request.

pub mod http;
pub mod lambda;
pub mod lambda_reply;
pub mod mock;
pub mod parameter_mapping;
pub mod templates;

use std::{sync::Arc, time::Duration};

use crate::{
    clients::{HttpClient, Invoker, MissingClient},
    config::IntegrationSpec,
    error::GatewayError,
    event::proxy::ApiKeyUse,
    request::{ApiContext, Authorized, GatewayRequest, GatewayResponse, Matched},
    trace::Hop,
};

/// Everything a call to an integration is about.
#[derive(Clone, Copy)]
pub struct IntegrationCall<'a> {
    pub request: &'a GatewayRequest,
    pub matched: &'a Matched,
    pub context: &'a ApiContext,
    pub authorized: Option<&'a Authorized>,
    pub api_key: Option<ApiKeyUse<'a>>,
    /// The longest the caller may still wait (the invocation's deadline); the integration's own timeout
    /// applies within it.
    pub budget: Option<Duration>,
    /// What the route's parameter mapping set that `request` cannot carry to an HTTP backend (a new path, `Host`).
    pub rewrite: Option<&'a parameter_mapping::Rewrite>,
    /// The trace this call continues: its headers, and its span when the request is recorded.
    pub trace: Option<&'a Hop<'a>>,
}

impl IntegrationCall<'_> {
    /// `timeout`, cut to the budget.
    pub fn timeout(&self, timeout: Duration) -> Duration {
        self.budget.map_or(timeout, |budget| budget.min(timeout))
    }
}

/// One route's integration, ready to call.
pub enum Integration {
    Lambda(lambda::LambdaIntegration),
    // Boxed: most routes are not HTTP.
    Http(Box<self::http::HttpIntegration>),
    Mock(mock::MockIntegration),
    /// REST non-proxy: a Lambda or HTTP integration behind mapping templates.
    Mapped(Box<templates::Mapped>),
}

impl Integration {
    /// The integration `spec` describes, for the route `route`, over the clients given.
    pub fn new(
        spec: &IntegrationSpec,
        route: &str,
        lambda: Option<&Arc<dyn Invoker>>,
        http: Option<&HttpClient>,
    ) -> Result<Self, MissingClient> {
        let needed_by = || format!("route {route:?}");
        let integration = match spec {
            IntegrationSpec::Lambda { function, payload, timeout, .. } => Self::Lambda(lambda::LambdaIntegration::new(
                MissingClient::require(lambda, "Lambda", needed_by)?,
                function.clone(),
                *payload,
                *timeout,
            )),
            IntegrationSpec::Http { url, method, timeout, append_path, .. } => {
                Self::Http(Box::new(self::http::HttpIntegration::new(
                    MissingClient::require(http, "HTTP", needed_by)?,
                    url.clone(),
                    method.clone(),
                    *timeout,
                    *append_path,
                )))
            }
            IntegrationSpec::Mock { status, headers, body, .. } => {
                Self::Mock(mock::MockIntegration::new(*status, headers.clone(), body.clone()))
            }
        };
        // A REST non-proxy integration: the same backend, behind its mapping templates.
        Ok(match spec.mapping() {
            Some(mapping) => Self::Mapped(Box::new(templates::Mapped::new(integration, Arc::clone(mapping)))),
            None => integration,
        })
    }

    /// Whether calling it reaches a backend (a mock does not: API Gateway reports no integration latency).
    pub fn is_backend(&self) -> bool {
        match self {
            Self::Mock(_) => false,
            Self::Mapped(mapped) => mapped.is_backend(),
            Self::Lambda(_) | Self::Http(_) => true,
        }
    }

    pub async fn call(&self, call: IntegrationCall<'_>) -> Result<GatewayResponse, GatewayError> {
        match self {
            Self::Lambda(i) => i.call(call).await,
            Self::Http(i) => i.call(call).await,
            Self::Mock(i) => Ok(i.call()),
            Self::Mapped(i) => i.call(call).await,
        }
    }
}
