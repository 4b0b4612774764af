//! Stage 11, integrate: calls the route's backend and times the call. A response already in the exchange (a
//! cached one) is not fetched again. The backend gets the request as the route's parameter mapping changes it
//! (`requestParameters`); the exchange keeps the client's own, which later stages and the log read.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Exchange, Stage};
use crate::{
    backends::Backends,
    clients::MissingClient,
    clock::SharedClock,
    config::{Definition, parameter_mapping::ParameterMapping},
    error::GatewayError,
    integration::{
        Integration, IntegrationCall,
        parameter_mapping::{Scope, map_request},
    },
    request::ApiContext,
};

pub(super) struct Integrate {
    context: Arc<ApiContext>,
    /// For the time the invocation has left.
    clock: SharedClock,
    /// Per route, in definition order.
    routes: Vec<Integration>,
    /// Per route: its parameter mapping, if any.
    mappings: Vec<Option<Arc<ParameterMapping>>>,
}

impl Integrate {
    pub(super) fn new(
        definition: &Definition,
        backends: &Backends,
        context: Arc<ApiContext>,
    ) -> Result<Self, MissingClient> {
        let routes = definition
            .routes
            .iter()
            .map(|r| Integration::new(&r.integration, &r.key_text, backends.lambda.as_ref(), backends.http.as_ref()))
            .collect::<Result<_, _>>()?;
        let mappings = definition.routes.iter().map(|r| r.parameter_mapping.clone()).collect();
        Ok(Self { context, clock: backends.clock(), routes, mappings })
    }
}

impl Stage for Integrate {
    async fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        if ex.response.is_some() {
            return Ok(());
        }
        let matched = ex.matched()?;
        let integration = &self.routes[matched.route];
        let authorized = ex.authorized.as_ref();
        let mapped = self.mappings[matched.route].as_deref().and_then(|mapping| {
            map_request(mapping, Scope { request: &ex.request, matched, context: &self.context, authorized })
        });
        // A mock reaches no backend: nothing to trace.
        let hop = if integration.is_backend() { ex.hop(self.clock.as_ref()) } else { None };
        let started = Instant::now();
        let call = IntegrationCall {
            request: mapped.as_ref().map_or(&ex.request, |m| &m.request),
            matched,
            context: &self.context,
            authorized,
            api_key: ex.api_key_use(),
            budget: ex.request.time_left(|| self.clock.now_ms()),
            rewrite: mapped.as_ref().map(|m| &m.rewrite),
            trace: hop.as_ref(),
        };
        let response = integration.call(call).await;
        // API Gateway reports no integration latency for mocks: nothing was called.
        if integration.is_backend() {
            ex.integration_latency = Some(started.elapsed());
        }
        let response = response?;
        ex.integration_status = Some(response.status.as_u16());
        ex.response = Some(response);
        Ok(())
    }
}
