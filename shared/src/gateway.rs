//! The gateway handler: one event in, one response out, in the caller's format. The router Lambda and
//! `tollgate serve` both call [`Gateway::handle`]; there is no second implementation.

use crate::{
    backends::{Backends, BackendsError},
    clock::SharedClock,
    config::{ConfigError, Definition},
    event::{self, GatewayEvent, GatewayEventResponse},
    function::FunctionError,
    pipeline::{BuildError, Pipeline},
    request::{GatewayRequest, GatewayResponse},
    settings::Settings,
};

/// Why the gateway could not start. Every one of these happens at cold start, never at a request.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("gateway definition: {0}")]
    Config(#[from] ConfigError),
    #[error("gateway definition: {0}")]
    Build(#[from] BuildError),
    #[error("cannot set up the clients: {0}")]
    Backends(#[from] BackendsError),
}

impl From<StartError> for FunctionError {
    fn from(error: StartError) -> Self {
        let kind = match &error {
            StartError::Config(_) | StartError::Build(_) => "InvalidDefinition",
            StartError::Backends(BackendsError::Settings(_)) => "InvalidSettings",
            StartError::Backends(BackendsError::Http(_)) => "ClientSetupFailed",
        };
        Self::new(kind, error.to_string())
    }
}

/// Loads the definition the settings name (`TOLLGATE_CONFIG`, default `gateway.yaml`) for their stage
/// (`TOLLGATE_STAGE`).
pub fn load_definition(settings: &Settings) -> Result<Definition, ConfigError> {
    Definition::load(&settings.config_path(), settings.stage.as_deref())
}

pub struct Gateway {
    pipeline: Pipeline,
    clock: SharedClock,
}

impl Gateway {
    pub fn new(definition: &Definition, backends: &Backends) -> Result<Self, StartError> {
        Ok(Self { pipeline: Pipeline::new(definition, backends)?, clock: backends.clock() })
    }

    /// The router on Lambda: the definition and the clients it needs, from the settings.
    pub async fn from_settings(settings: &Settings) -> Result<Self, StartError> {
        let definition = load_definition(settings)?;
        let backends = Backends::for_definition(&definition, settings).await?;
        Self::new(&definition, &backends)
    }

    /// Answers one event as Lambda delivers it (JSON text). Text that is no event the router accepts is an
    /// invocation error (`InvalidEvent`), which a Function URL answers with its 502.
    pub async fn handle_json(&self, event: &str) -> Result<GatewayEventResponse, FunctionError> {
        let event = GatewayEvent::from_json(event).map_err(|e| FunctionError::new("InvalidEvent", e.to_string()))?;
        Ok(self.handle(event).await)
    }

    /// Answers one event.
    pub async fn handle(&self, event: GatewayEvent) -> GatewayEventResponse {
        let origin = event.origin();
        let response = self.pipeline.run(event.into_request(self.clock.as_ref())).await;
        event::render(origin, response)
    }

    /// This instance's usage-plan meter, if the definition meters anything.
    pub fn meter(&self) -> Option<&std::sync::Arc<crate::metering::Meter>> {
        self.pipeline.meter()
    }

    /// Answers one request already in the gateway's own form (`tollgate serve`, benchmarks, embedding).
    pub async fn handle_request(&self, request: GatewayRequest) -> GatewayResponse {
        self.pipeline.run(request).await
    }
}
