//! The request pipeline: a fixed list of stages, one file each, sharing one [`Exchange`] per request.
//!
//! Life of a request (also in the README):
//!
//! | # | stage | file | may end the request with |
//! |---|-------|------|--------------------------|
//! | 1 | admit: well-formed and within API Gateway's size limits | `admit.rs` | 400, 413 |
//! | 2 | route: select the route in API Gateway's order | `route.rs` | 404 |
//! | 3 | policy: the resource policy's source-IP rules | `policy.rs` | 403 |
//! | 4 | authenticate: JWT or Lambda authorizer | `authenticate.rs` | 401, 403, 500 |
//! | 5 | API key: the caller's key and usage plan, on routes that require one | `api_key.rs` | 403, 500 |
//! | 6 | meter: throttles, then quota | `meter.rs` | 429, 500 |
//! | – | validate, cache: slots below, filled by later work | – | 400, cached 200 |
//! | 7 | integrate: Lambda, HTTP or mock | `integrate.rs` | 502, 504 |
//! | 8 | respond: error bodies, request id, rate-limit and WWW-Authenticate headers | `respond.rs` | – |
//! | 9 | access log: one JSON line, always | `access_log.rs` | – |
//!
//! Stages never call each other. A stage returns `Ok(Flow::Continue)`, `Ok(Flow::Respond(..))` to answer
//! without going further (a cache hit will), or `Err(GatewayError)`, which respond turns into API Gateway's
//! error shape.

mod access_log;
mod admit;
mod api_key;
mod authenticate;
mod integrate;
mod meter;
mod policy;
mod respond;
mod route;

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;

use crate::{
    auth::lambda::PresetEvent,
    clock::MICROS_PER_SEC,
    config::{Definition, RouteSpec},
    error::{GatewayError, RateLimit},
    integration::Backends,
    request::{GatewayRequest, GatewayResponse},
    usage::meter::{Caller, Meter, Refusal},
};

pub use admit::{MAX_BODY_BYTES, MAX_HEADER_BYTES};
pub use integrate::IntegrationContext;
pub use respond::error_response;

/// What a stage decided.
#[derive(Debug)]
pub enum Flow {
    /// Go on to the next stage.
    Continue,
    /// Answer now with this response; later stages do not run (respond and the access log still do).
    Respond(GatewayResponse),
}

/// The matched route and its decoded path parameters.
#[derive(Debug, Clone)]
pub struct Matched {
    pub route: usize,
    pub params: Vec<(String, String)>,
}

/// Everything one request carries through the stages.
#[derive(Debug)]
pub struct Exchange {
    pub request: GatewayRequest,
    pub matched: Option<Matched>,
    pub received: Instant,
    /// Time spent waiting on the integration, for the access log.
    pub integration_latency: Option<Duration>,
    /// The status the integration answered with, before any mapping.
    pub integration_status: Option<u16>,
    /// What the route's authorizer established about the caller.
    pub authorized: Option<crate::auth::Authorized>,
    /// The API key an authorizer named (`usageIdentifierKey`), for `apiKeys.source: AUTHORIZER`.
    pub usage_identifier_key: Option<String>,
    /// The caller's key and plan, once the API key stage found them.
    pub caller: Option<Caller>,
    /// The quota state to report in `RateLimit-*` headers.
    pub rate_limit: Option<RateLimit>,
    /// The event Lambda authorizers get when the front end has it (WebSocket `$connect`).
    pub authorizer_event: Option<PresetEvent>,
}

impl Exchange {
    pub fn new(request: GatewayRequest) -> Self {
        Self {
            request,
            matched: None,
            received: Instant::now(),
            integration_latency: None,
            integration_status: None,
            authorized: None,
            usage_identifier_key: None,
            caller: None,
            rate_limit: None,
            authorizer_event: None,
        }
    }
}

/// The error a meter refusal is answered with.
pub(crate) fn refusal(meter: &Meter, refusal: Refusal) -> GatewayError {
    let secs_until = |at_us: i64| {
        u64::try_from((at_us - meter.now_us()).max(0)).unwrap_or(0).div_ceil(MICROS_PER_SEC.unsigned_abs())
    };
    match refusal {
        Refusal::Forbidden(why) => GatewayError::Forbidden(why),
        Refusal::Throttled { retry_at_us, burst } => GatewayError::Throttled(RateLimit {
            limit: u64::from(burst),
            remaining: 0,
            reset_secs: secs_until(retry_at_us),
        }),
        Refusal::QuotaExceeded { limit, resets_at_ms } => {
            GatewayError::QuotaExceeded(RateLimit { limit, remaining: 0, reset_secs: secs_until(resets_at_ms * 1_000) })
        }
        Refusal::StoreDown(detail) => GatewayError::Internal(format!("usage plan store: {detail}")),
    }
}

/// What the stages before the integration established about an admitted caller.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    pub authorized: Option<crate::auth::Authorized>,
    pub caller: Option<Caller>,
    pub rate_limit: Option<RateLimit>,
}

/// The pipeline of one definition and stage. Build once (cold start), run per request.
pub struct Pipeline {
    routes: Arc<[RouteSpec]>,
    admit: admit::Admit,
    route: route::Route,
    policy: policy::Policy,
    authenticate: authenticate::Authenticate,
    api_key: api_key::ApiKey,
    meter: meter::MeterStage,
    integrate: integrate::Integrate,
    usage: Option<Arc<Meter>>,
}

/// Why a pipeline could not be built from a definition.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Routes(#[from] crate::route_table::RouteTableError),
    #[error(transparent)]
    Backend(#[from] crate::integration::MissingBackend),
    #[error("routes require API keys or throttles, and no usage-plan store was configured")]
    NoStore,
    #[error("resourcePolicy: {0}")]
    Policy(String),
}

impl Pipeline {
    pub fn new(definition: &Definition, backends: &Backends) -> Result<Self, BuildError> {
        let routes: Arc<[RouteSpec]> = definition.routes.clone().into();
        let clock = backends.clock.clone().unwrap_or_else(|| Arc::new(crate::clock::SystemClock));
        let usage = match (&backends.store, definition.uses_store()) {
            (Some(store), _) => {
                Some(Arc::new(Meter::new(Arc::clone(store), Arc::clone(&clock), definition.api_keys.cache_seconds)))
            }
            (None, true) => return Err(BuildError::NoStore),
            (None, false) => None,
        };
        Ok(Self {
            admit: admit::Admit,
            route: route::Route::new(&routes)?,
            policy: policy::Policy::new(definition).map_err(BuildError::Policy)?,
            authenticate: authenticate::Authenticate::new(definition, backends, &clock)?,
            api_key: api_key::ApiKey::new(definition, usage.clone()),
            meter: meter::MeterStage::new(definition, usage.clone()),
            integrate: integrate::Integrate::new(definition, backends)?,
            routes,
            usage,
        })
    }

    /// This instance's meter, when the definition meters anything.
    pub fn meter(&self) -> Option<&Arc<Meter>> {
        self.usage.as_ref()
    }

    /// Runs one request through every stage and returns the response to send.
    pub async fn run(&self, request: GatewayRequest) -> GatewayResponse {
        let mut ex = Exchange::new(request);
        let outcome = self.process(&mut ex).await;
        let (response, error) = respond::shape(&ex, outcome);
        let route_key = ex.matched.as_ref().map(|m| self.routes[m.route].key_text.as_str());
        access_log::record(&ex, route_key, &response, error.as_ref());
        response
    }

    /// Runs the stages before the integration only (WebSocket `$connect`): what they established about the
    /// caller, or the shaped refusal to send instead. A Lambda authorizer gets `authorizer_event`.
    pub async fn admit(
        &self,
        request: GatewayRequest,
        authorizer_event: Option<PresetEvent>,
    ) -> Result<Admission, GatewayResponse> {
        let mut ex = Exchange::new(request);
        ex.authorizer_event = authorizer_event;
        let outcome = match self.guard(&mut ex).await {
            Ok(None) => Ok(GatewayResponse::new(http::StatusCode::OK, http::HeaderMap::new(), bytes::Bytes::new())),
            Ok(Some(response)) => Ok(response),
            Err(e) => Err(e),
        };
        let (response, error) = respond::shape(&ex, outcome);
        let route_key = ex.matched.as_ref().map(|m| self.routes[m.route].key_text.as_str());
        access_log::record(&ex, route_key, &response, error.as_ref());
        if !response.status.is_success() {
            return Err(response);
        }
        Ok(Admission { authorized: ex.authorized, caller: ex.caller, rate_limit: ex.rate_limit })
    }

    async fn process(&self, ex: &mut Exchange) -> Result<GatewayResponse, GatewayError> {
        if let Some(response) = self.guard(ex).await? {
            return Ok(response);
        }
        // Slots for request validation (400) and the response cache (may respond).
        self.integrate.run(ex).await
    }

    /// Every stage before the integration; `Some` when one of them answered.
    async fn guard(&self, ex: &mut Exchange) -> Result<Option<GatewayResponse>, GatewayError> {
        // Refuse what API Gateway would refuse before spending anything on it.
        if let Flow::Respond(r) = self.admit.run(ex)? {
            return Ok(Some(r));
        }
        // Every later stage is per route, so routing comes first.
        if let Flow::Respond(r) = self.route.run(ex)? {
            return Ok(Some(r));
        }
        if let Flow::Respond(r) = self.policy.run(ex)? {
            return Ok(Some(r));
        }
        let route_key = ex.matched.as_ref().map_or("", |m| self.routes[m.route].key_text.as_str());
        if let Flow::Respond(r) = self.authenticate.run(ex, self.integrate.context(), route_key).await? {
            return Ok(Some(r));
        }
        if let Flow::Respond(r) = self.api_key.run(ex).await? {
            return Ok(Some(r));
        }
        if let Flow::Respond(r) = self.meter.run(ex).await? {
            return Ok(Some(r));
        }
        Ok(None)
    }
}
