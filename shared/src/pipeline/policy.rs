//! Stage 3, policy: the resource policy's source-IP rules, the API's first and then the route's. A refusal
//! is API Gateway's 403 naming the method ARN.

use super::{Exchange, Flow};
use crate::{
    auth::{
        method_arn,
        resource_policy::{Decision, ResourcePolicy},
    },
    config::Definition,
    error::GatewayError,
};

pub(super) struct Policy {
    api: Option<ResourcePolicy>,
    /// Per route, in definition order.
    routes: Vec<Option<ResourcePolicy>>,
    api_name: String,
    stage: String,
}

impl Policy {
    pub(super) fn new(definition: &Definition) -> Result<Self, String> {
        let build = |p: &Option<crate::config::ResourcePolicyFile>| p.as_ref().map(ResourcePolicy::new).transpose();
        Ok(Self {
            api: build(&definition.resource_policy)?,
            routes: definition.routes.iter().map(|r| build(&r.resource_policy)).collect::<Result<_, _>>()?,
            api_name: definition.api_name.clone(),
            stage: definition.stage.clone(),
        })
    }

    pub(super) fn run(&self, ex: &Exchange) -> Result<Flow, GatewayError> {
        let route = ex.matched.as_ref().and_then(|m| self.routes.get(m.route)).and_then(Option::as_ref);
        for policy in self.api.iter().chain(route) {
            let decision = policy.decide(&ex.request.source_ip);
            if decision != Decision::Allow {
                let arn = method_arn(&self.api_name, &self.stage, ex.request.method.as_str(), &ex.request.raw_path);
                return Err(GatewayError::PolicyDenied { arn, explicit: decision == Decision::ExplicitDeny });
            }
        }
        Ok(Flow::Continue)
    }
}
