//! Stage 6, API key: on routes with `apiKeyRequired`, finds the caller's key (from `x-api-key` or from what an
//! authorizer returned) and the usage plan that covers this stage. Anything missing is API Gateway's 403.

use std::sync::Arc;

use super::{Exchange, Stage};
use crate::{
    config::{ApiKeySource, Definition},
    error::GatewayError,
    metering::Meter,
};

pub(super) struct IdentifyKey {
    meter: Option<Arc<Meter>>,
    source: ApiKeySource,
    stage: String,
    /// Per route, in definition order.
    required: Vec<bool>,
}

impl IdentifyKey {
    pub(super) fn new(definition: &Definition, meter: Option<Arc<Meter>>) -> Self {
        Self {
            meter,
            source: definition.api_keys.source,
            stage: definition.stage.clone(),
            required: definition.routes.iter().map(|r| r.api_key_required).collect(),
        }
    }
}

impl Stage for IdentifyKey {
    async fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let route = ex.matched()?.route;
        if !self.required.get(route).copied().unwrap_or(false) {
            return Ok(());
        }
        let value = match self.source {
            ApiKeySource::Header => ex.request.header("x-api-key"),
            ApiKeySource::Authorizer => ex.usage_identifier_key(),
        };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Err(GatewayError::Forbidden("no API key in the request"));
        };
        let meter = self.meter.as_ref().ok_or_else(|| GatewayError::Internal("API keys need a store".into()))?;
        let caller = meter.identify(value, &self.stage).await?;
        ex.api_key_value = Some(value.to_owned());
        ex.caller = Some(caller);
        Ok(())
    }
}
