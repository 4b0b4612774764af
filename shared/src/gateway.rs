//! The gateway handler: one event in, one response out, in the caller's format. The router Lambda and
//! `tollgate serve` both call [`Gateway::handle`]; there is no second implementation.

use std::path::PathBuf;

use crate::{
    config::{ConfigError, Definition},
    event::{self, GatewayEvent, GatewayEventResponse},
    integration::Backends,
    pipeline::{BuildError, Pipeline},
    request::{GatewayRequest, GatewayResponse},
};

/// Where the definition comes from when nothing says otherwise: bundled beside the function's binary.
pub const DEFAULT_CONFIG: &str = "gateway.yaml";

/// Why the gateway could not start. Every one of these happens at cold start, never at a request.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("gateway definition: {0}")]
    Config(#[from] ConfigError),
    #[error("gateway definition: {0}")]
    Build(#[from] BuildError),
    #[error("cannot set up the integration clients: {0}")]
    Clients(#[from] std::io::Error),
}

pub struct Gateway {
    pipeline: Pipeline,
}

impl Gateway {
    pub fn new(definition: &Definition, backends: &Backends) -> Result<Self, StartError> {
        Ok(Self { pipeline: Pipeline::new(definition, backends)? })
    }

    /// Loads the definition named by `TOLLGATE_CONFIG` (default `gateway.yaml`) for the stage named by
    /// `TOLLGATE_STAGE`, and builds the clients it needs.
    pub async fn from_env() -> Result<Self, StartError> {
        let path = std::env::var_os("TOLLGATE_CONFIG").map_or_else(|| PathBuf::from(DEFAULT_CONFIG), PathBuf::from);
        let stage = std::env::var("TOLLGATE_STAGE").ok().filter(|s| !s.is_empty());
        let definition = Definition::load(&path, stage.as_deref())?;
        let backends = Backends::for_definition(&definition).await?;
        Self::new(&definition, &backends)
    }

    /// Answers one event.
    pub async fn handle(&self, event: GatewayEvent) -> GatewayEventResponse {
        let origin = event.origin();
        let response = self.pipeline.run(event.into_request()).await;
        event::render(origin, response)
    }

    /// This instance's usage-plan meter, if the definition meters anything.
    pub fn meter(&self) -> Option<&std::sync::Arc<crate::usage::meter::Meter>> {
        self.pipeline.meter()
    }

    /// Answers one request already in the gateway's own form (benchmarks and embedding).
    pub async fn handle_request(&self, request: GatewayRequest) -> GatewayResponse {
        self.pipeline.run(request).await
    }
}
