//! Stage 4, policy: the resource policy's source-IP rules, the API's first and then the route's. A refusal
//! is API Gateway's 403 naming the method ARN.

use std::sync::Arc;

use super::{Exchange, SyncStage};
use crate::{
    auth::{
        method_arn,
        resource_policy::{Decision, decide},
    },
    config::{Definition, IpRules},
    error::GatewayError,
    request::ApiContext,
};

pub(super) struct CheckPolicy {
    api: Option<IpRules>,
    /// Per route, in definition order.
    routes: Vec<Option<IpRules>>,
    context: Arc<ApiContext>,
}

impl CheckPolicy {
    pub(super) fn new(definition: &Definition, context: Arc<ApiContext>) -> Self {
        Self {
            api: definition.resource_policy.clone(),
            routes: definition.routes.iter().map(|r| r.resource_policy.clone()).collect(),
            context,
        }
    }
}

impl SyncStage for CheckPolicy {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let route = ex.route.as_ref().and_then(|m| self.routes.get(m.route)).and_then(Option::as_ref);
        for rules in self.api.iter().chain(route) {
            let decision = decide(rules, &ex.request.source_ip);
            if decision != Decision::Allow {
                let ctx = &self.context;
                let (method, path) = (ex.request.method.as_str(), ex.request.raw_path.as_str());
                let arn = method_arn(&ctx.arn_prefix, &ctx.api_id, &ctx.stage, method, path);
                return Err(GatewayError::PolicyDenied { arn, explicit: decision == Decision::ExplicitDeny });
            }
        }
        Ok(())
    }
}
