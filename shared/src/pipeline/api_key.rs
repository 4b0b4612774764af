//! Stage 5, API key: on routes with `apiKeyRequired`, finds the caller's key (from `x-api-key` or from what an
//! authorizer returned) and the usage plan that covers this stage. Anything missing is API Gateway's 403.

use std::sync::Arc;

use super::{Exchange, Flow, refusal};
use crate::{
    config::{ApiKeySource, Definition},
    error::GatewayError,
    usage::meter::Meter,
};

pub(super) struct ApiKey {
    meter: Option<Arc<Meter>>,
    source: ApiKeySource,
    stage: String,
    /// Per route, in definition order.
    required: Vec<bool>,
}

impl ApiKey {
    pub(super) fn new(definition: &Definition, meter: Option<Arc<Meter>>) -> Self {
        Self {
            meter,
            source: definition.api_keys.source,
            stage: definition.stage.clone(),
            required: definition.routes.iter().map(|r| r.api_key_required).collect(),
        }
    }

    pub(super) async fn run(&self, ex: &mut Exchange) -> Result<Flow, GatewayError> {
        let route = ex.matched.as_ref().map_or(0, |m| m.route);
        if !self.required.get(route).copied().unwrap_or(false) {
            return Ok(Flow::Continue);
        }
        let value = match self.source {
            ApiKeySource::Header => ex.request.header("x-api-key"),
            ApiKeySource::Authorizer => ex.usage_identifier_key.as_deref(),
        };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Err(GatewayError::Forbidden("no API key in the request"));
        };
        let meter = self.meter.as_ref().ok_or_else(|| GatewayError::Internal("API keys need a store".into()))?;
        let caller = meter.identify(value, &self.stage).await.map_err(|r| refusal(meter, r))?;
        ex.caller = Some(caller);
        Ok(Flow::Continue)
    }
}
