//! Stage 6, meter: applies the throttles in API Gateway's order (the key's per-route limit, the key's plan
//! limit, the route's limit, the stage's limit), then the key's quota. Refusals are 429s with `Retry-After`
//! and `RateLimit-*` headers; an admitted request with a quota carries the `RateLimit-*` headers too.

use std::sync::Arc;

use super::{Exchange, Flow, refusal};
use crate::{
    clock::MICROS_PER_SEC,
    config::Definition,
    error::{GatewayError, RateLimit},
    usage::{
        FailMode,
        meter::{Limit, Meter},
        quota::QuotaVerdict,
    },
};

pub(super) struct MeterStage {
    meter: Option<Arc<Meter>>,
    /// Per route: its key text and its own limit over all callers.
    routes: Vec<(String, Option<Limit>)>,
    stage_limit: Option<Limit>,
}

impl MeterStage {
    pub(super) fn new(definition: &Definition, meter: Option<Arc<Meter>>) -> Self {
        let scope = format!("{}#{}", definition.api_name, definition.stage);
        let routes = definition
            .routes
            .iter()
            .map(|r| {
                let limit =
                    r.throttle.map(|throttle| Limit { bucket: format!("route#{scope}#{}", r.key_text), throttle });
                (r.key_text.clone(), limit)
            })
            .collect();
        let stage_limit =
            definition.stage_throttle.map(|throttle| Limit { bucket: format!("stage#{scope}"), throttle });
        Self { meter, routes, stage_limit }
    }

    pub(super) async fn run(&self, ex: &mut Exchange) -> Result<Flow, GatewayError> {
        let route = ex.matched.as_ref().map_or(0, |m| m.route);
        let Some((route_key, route_limit)) = self.routes.get(route) else { return Ok(Flow::Continue) };
        let mut limits = Vec::with_capacity(4);
        if let Some(caller) = &ex.caller {
            let who = format!("key#{}#{}", caller.plan.id, caller.key.id);
            if let Some(throttle) = caller.plan.route_throttles.get(route_key) {
                limits.push(Limit { bucket: format!("{who}#{route_key}"), throttle: *throttle });
            }
            if let Some(throttle) = caller.plan.throttle {
                limits.push(Limit { bucket: who, throttle });
            }
        }
        limits.extend(route_limit.iter().cloned());
        limits.extend(self.stage_limit.iter().cloned());
        if limits.is_empty() && ex.caller.is_none() {
            return Ok(Flow::Continue);
        }
        let meter = self.meter.as_ref().ok_or_else(|| GatewayError::Internal("metering needs a store".into()))?;
        let fail = ex.caller.as_ref().map_or(FailMode::Open, |c| c.plan.on_store_error);
        meter.throttle(&limits, fail).await.map_err(|r| refusal(meter, r))?;
        if let Some(caller) = &ex.caller {
            let verdict = meter.quota(caller).await.map_err(|r| refusal(meter, r))?;
            if let QuotaVerdict::Admitted { limit: Some(limit), remaining, resets_at_ms } = verdict {
                let reset_secs = (resets_at_ms * 1_000 - meter.now_us()).max(0) / MICROS_PER_SEC;
                ex.rate_limit = Some(RateLimit {
                    limit,
                    remaining: remaining.unwrap_or(0),
                    reset_secs: u64::try_from(reset_secs).unwrap_or(0),
                });
            }
        }
        Ok(Flow::Continue)
    }
}
