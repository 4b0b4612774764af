//! Stage 7, integrate: calls the route's backend and times the call.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::Exchange;
use crate::{
    config::Definition,
    error::GatewayError,
    integration::{Backends, Integration, MissingBackend},
    request::GatewayResponse,
};

/// What every integration may need to know about the API it serves.
#[derive(Debug, Clone)]
pub struct IntegrationContext {
    pub api_id: String,
    pub stage: String,
    pub stage_variables: BTreeMap<String, String>,
}

pub(super) struct Integrate {
    context: IntegrationContext,
    /// Per route, in definition order: its key text and its integration.
    routes: Vec<(String, Integration)>,
}

impl Integrate {
    pub(super) fn new(definition: &Definition, backends: &Backends) -> Result<Self, MissingBackend> {
        let routes = definition
            .routes
            .iter()
            .map(|r| {
                let integration = Integration::new(&r.integration, backends)
                    .map_err(|e| MissingBackend { route: r.key_text.clone(), ..e })?;
                Ok((r.key_text.clone(), integration))
            })
            .collect::<Result<_, MissingBackend>>()?;
        let context = IntegrationContext {
            api_id: definition.api_name.clone(),
            stage: definition.stage.clone(),
            stage_variables: definition.stage_variables.clone(),
        };
        Ok(Self { context, routes })
    }

    pub(super) fn context(&self) -> &IntegrationContext {
        &self.context
    }

    pub(super) async fn run(&self, ex: &mut Exchange) -> Result<GatewayResponse, GatewayError> {
        let matched = ex.matched.as_ref().ok_or_else(|| GatewayError::Internal("integrate ran before route".into()))?;
        let (key, integration) = &self.routes[matched.route];
        let started = Instant::now();
        let result = integration.call(&ex.request, matched, key, &self.context, ex.authorized.as_ref()).await;
        // API Gateway reports no integration latency for mocks: nothing was called.
        if !matches!(integration, Integration::Mock(_)) {
            ex.integration_latency = Some(started.elapsed());
        }
        if let Ok(response) = &result {
            ex.integration_status = Some(response.status.as_u16());
        }
        result
    }
}
