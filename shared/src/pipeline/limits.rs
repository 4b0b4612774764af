//! Stage 9, limits: meters the request (see `metering`): the throttles in API Gateway's order (the key's
//! per-route limit, the key's plan limit, the route's limit, the stage's limit), then the key's quota. Refusals
//! are 429s with `Retry-After` and `RateLimit-*` headers; an admitted request with a quota carries the
//! `RateLimit-*` headers too.

use std::sync::Arc;

use super::{Exchange, Stage};
use crate::{
    config::Definition,
    error::GatewayError,
    metering::{Limit, Meter},
};

pub(super) struct ApplyLimits {
    meter: Option<Arc<Meter>>,
    /// Per route: the limits over all callers (the route's, then the stage's).
    shared: Vec<Vec<Limit>>,
}

impl ApplyLimits {
    pub(super) fn new(definition: &Definition, meter: Option<Arc<Meter>>) -> Self {
        let (api, stage) = (&definition.api_name, &definition.stage);
        let stage_limit = definition.stage_throttle.map(|throttle| Limit::stage(api, stage, throttle));
        let shared = definition
            .routes
            .iter()
            .map(|r| {
                let route_limit = r.throttle.map(|throttle| Limit::route(api, stage, &r.key_text, throttle));
                route_limit.into_iter().chain(stage_limit.clone()).collect()
            })
            .collect();
        Self { meter, shared }
    }
}

impl Stage for ApplyLimits {
    async fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let matched = ex.matched()?;
        let shared = self.shared.get(matched.route).map_or(&[][..], Vec::as_slice);
        if shared.is_empty() && ex.caller.is_none() {
            return Ok(());
        }
        let meter = self.meter.as_ref().ok_or_else(|| GatewayError::Internal("metering needs a store".into()))?;
        ex.rate_limit = meter.admit(ex.caller.as_ref(), &matched.key, shared).await?;
        Ok(())
    }
}
