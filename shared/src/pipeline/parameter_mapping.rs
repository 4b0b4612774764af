//! Map response, right after the cache store (stage 12): an HTTP API route's `responseParameters` change the integration's answer (its headers
//! and status, per the status it came with) before it becomes the client's. It runs after the cache store, so
//! the cache keeps the answer as the integration gave it and every answer, cached or fresh, is mapped for its own
//! request (a `$context.requestId` is this request's). The gateway's own error answers are not mapped, as API
//! Gateway maps only what an integration returns. The rules apply in `integration/parameter_mapping.rs`.

use std::sync::Arc;

use super::{Exchange, SyncStage};
use crate::{
    config::{Definition, parameter_mapping::ParameterMapping},
    error::GatewayError,
    integration::parameter_mapping::{Scope, map_response},
    request::ApiContext,
};

pub(super) struct MapResponse {
    context: Arc<ApiContext>,
    /// Per route, in definition order: its parameter mapping, if any.
    mappings: Vec<Option<Arc<ParameterMapping>>>,
}

impl MapResponse {
    pub(super) fn new(definition: &Definition, context: Arc<ApiContext>) -> Self {
        Self { context, mappings: definition.routes.iter().map(|r| r.parameter_mapping.clone()).collect() }
    }
}

impl SyncStage for MapResponse {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let Some(matched) = &ex.route else { return Ok(()) };
        let Some(mapping) = self.mappings.get(matched.route).and_then(Option::as_deref) else { return Ok(()) };
        let Some(response) = ex.response.as_mut().filter(|_| ex.error.is_none() && !ex.preflight) else {
            return Ok(());
        };
        let scope = Scope { request: &ex.request, matched, context: &self.context, authorized: ex.authorized.as_ref() };
        map_response(mapping, scope, response)
    }
}
