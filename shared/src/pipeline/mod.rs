//! The request pipeline: a fixed list of stages, one file each, sharing one [`Exchange`] per request.
//!
//! Life of a request (also in the README):
//!
//! | # | stage | file | may end the request with |
//! |---|-------|------|--------------------------|
//! | 1 | admit: well-formed and within API Gateway's size limits | `admit.rs` | 400, 413 |
//! | 2 | route: select the route in API Gateway's order | `route.rs` | 404 |
//! | – | policy, authenticate, meter, validate, cache: slots below, filled by later work | – | 403, 401, 429, 400, cached 200 |
//! | 3 | integrate: Lambda, HTTP or mock | `integrate.rs` | 502, 504 |
//! | 4 | respond: error bodies, request id headers | `respond.rs` | – |
//! | 5 | access log: one JSON line, always | `access_log.rs` | – |
//!
//! Stages never call each other. A stage returns `Ok(Flow::Continue)`, `Ok(Flow::Respond(..))` to answer
//! without going further (a cache hit will), or `Err(GatewayError)`, which respond turns into API Gateway's
//! error shape.

mod access_log;
mod admit;
mod integrate;
mod respond;
mod route;

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;

use crate::{
    config::{Definition, RouteSpec},
    error::GatewayError,
    integration::Backends,
    request::{GatewayRequest, GatewayResponse},
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
}

impl Exchange {
    pub fn new(request: GatewayRequest) -> Self {
        Self { request, matched: None, received: Instant::now(), integration_latency: None, integration_status: None }
    }
}

/// The pipeline of one definition and stage. Build once (cold start), run per request.
pub struct Pipeline {
    routes: Arc<[RouteSpec]>,
    admit: admit::Admit,
    route: route::Route,
    integrate: integrate::Integrate,
}

/// Why a pipeline could not be built from a definition.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Routes(#[from] crate::route_table::RouteTableError),
    #[error(transparent)]
    Backend(#[from] crate::integration::MissingBackend),
}

impl Pipeline {
    pub fn new(definition: &Definition, backends: &Backends) -> Result<Self, BuildError> {
        let routes: Arc<[RouteSpec]> = definition.routes.clone().into();
        Ok(Self {
            admit: admit::Admit,
            route: route::Route::new(&routes)?,
            integrate: integrate::Integrate::new(definition, backends)?,
            routes,
        })
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

    async fn process(&self, ex: &mut Exchange) -> Result<GatewayResponse, GatewayError> {
        // Refuse what API Gateway would refuse before spending anything on it.
        if let Flow::Respond(r) = self.admit.run(ex)? {
            return Ok(r);
        }
        // Every later stage is per route, so routing comes first.
        if let Flow::Respond(r) = self.route.run(ex)? {
            return Ok(r);
        }
        // Slots, in API Gateway's order, for the stages later work adds: resource policy (403), authorizers
        // (401/403), usage-plan metering (403/429), request validation (400), response cache (may respond).
        self.integrate.run(ex).await
    }
}
