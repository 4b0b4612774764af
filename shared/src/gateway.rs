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
/// (`TOLLGATE_STAGE`), with the deployment's access-log sample rate where the definition sets none.
pub fn load_definition(settings: &Settings) -> Result<Definition, ConfigError> {
    let mut definition = Definition::load(&settings.config_path(), settings.stage.as_deref())?;
    if definition.access_log.sample_rate.is_none() {
        definition.access_log.sample_rate = settings.access_log_sample_rate;
    }
    Ok(definition)
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

    /// Answers one event as Lambda delivers it (JSON text), before the invocation's deadline (ms since the
    /// epoch). Text that is no event the router accepts is an invocation error (`InvalidEvent`), which a
    /// Function URL answers with its 502.
    pub async fn handle_json(
        &self,
        event: &str,
        deadline_ms: Option<i64>,
    ) -> Result<GatewayEventResponse, FunctionError> {
        self.handle_invocation(event, deadline_ms, None).await
    }

    /// [`Gateway::handle_json`] for a Lambda invocation whose X-Ray trace is `lambda_trace` (the runtime's
    /// `_X_AMZN_TRACE_ID`): integrations continue it, and a traced stage's subsegments go under its segment.
    pub async fn handle_invocation(
        &self,
        event: &str,
        deadline_ms: Option<i64>,
        lambda_trace: Option<&str>,
    ) -> Result<GatewayEventResponse, FunctionError> {
        let event = GatewayEvent::from_json(event).map_err(|e| FunctionError::new("InvalidEvent", e.to_string()))?;
        let origin = event.origin();
        let mut request = event.into_request(self.clock.as_ref());
        request.deadline_ms = deadline_ms;
        request.lambda_trace = lambda_trace.map(str::to_owned);
        Ok(event::render(origin, self.pipeline.run(request).await))
    }

    /// Answers one event. With a deadline, integrations and authorizers get only what is left of it, so a slow
    /// backend is answered as API Gateway answers a timeout rather than the invocation running out of time.
    pub async fn handle(&self, event: GatewayEvent, deadline_ms: Option<i64>) -> GatewayEventResponse {
        let origin = event.origin();
        let mut request = event.into_request(self.clock.as_ref());
        request.deadline_ms = deadline_ms;
        event::render(origin, self.pipeline.run(request).await)
    }

    /// This instance's counts of answers per day for the dashboard, when it has a store (flushed on shutdown).
    pub fn traffic(&self) -> Option<&std::sync::Arc<crate::metrics::traffic::TrafficTally>> {
        self.pipeline.traffic()
    }

    /// This instance's usage-plan meter, if the definition meters anything.
    pub fn meter(&self) -> Option<&std::sync::Arc<crate::metering::Meter>> {
        self.pipeline.meter()
    }

    /// This instance's CloudWatch metrics, unless the definition turns them off (flushed on shutdown).
    pub fn metrics(&self) -> Option<&std::sync::Arc<crate::metrics::Metrics>> {
        self.pipeline.metrics()
    }

    /// Answers a request a front end refused before reading all of it (a body over the limit) with `error`,
    /// as the API type answers it.
    pub fn refuse(&self, request: GatewayRequest, error: crate::error::GatewayError) -> GatewayResponse {
        self.pipeline.refuse(request, error)
    }

    /// Answers one request already in the gateway's own form (`tollgate serve`, benchmarks, embedding).
    pub async fn handle_request(&self, request: GatewayRequest) -> GatewayResponse {
        self.pipeline.run(request).await
    }
}
