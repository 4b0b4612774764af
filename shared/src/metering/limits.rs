//! Which throttle buckets a request draws on, and what they are called in the store. One rule for HTTP routes
//! and WebSocket messages alike, in API Gateway's order: the key's limit for the route, the key's plan limit,
//! the route's limit, the stage's limit.

use super::Caller;
use crate::usage::Throttle;

/// One throttle that applies to a request, most specific first.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// The bucket's name in the store: who and what it limits.
    pub bucket: String,
    pub throttle: Throttle,
}

impl Limit {
    /// A route's own limit over all callers of a stage (`api#stage`).
    pub fn route(api: &str, stage: &str, route_key: &str, throttle: Throttle) -> Self {
        Self { bucket: format!("route#{api}#{stage}#{route_key}"), throttle }
    }

    /// The stage's limit over every request.
    pub fn stage(api: &str, stage: &str, throttle: Throttle) -> Self {
        Self { bucket: format!("stage#{api}#{stage}"), throttle }
    }
}

/// The caller's own limits on `route_key`: its plan's throttle for that route, then its plan's throttle.
pub(super) fn of_caller(caller: &Caller, route_key: &str) -> Vec<Limit> {
    let who = format!("key#{}#{}", caller.plan.id, caller.key.id);
    let mut limits = Vec::with_capacity(4);
    if let Some(throttle) = caller.plan.route_throttles.get(route_key) {
        limits.push(Limit { bucket: format!("{who}#{route_key}"), throttle: *throttle });
    }
    if let Some(throttle) = caller.plan.throttle {
        limits.push(Limit { bucket: who, throttle });
    }
    limits
}
