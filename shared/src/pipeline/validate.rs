//! Stage 8, validate: the route's request validator (`requestValidator`), as REST APIs run it: required
//! parameters first (400 `BAD_REQUEST_PARAMETERS`), then the body against the model for its media type (400
//! `BAD_REQUEST_BODY`). It runs before the limits stage, so a request refused here is never charged to a
//! throttle or a quota, and after decompress, so a compressed body is checked as the backend would get it. The
//! checks are in `validate/`; the models were compiled at cold start.

use std::sync::Arc;

use super::{Exchange, SyncStage};
use crate::{
    config::{Definition, validation::RouteValidation},
    error::GatewayError,
    validate,
};

pub(super) struct Validate {
    /// Per route, in definition order.
    per_route: Vec<Option<Arc<RouteValidation>>>,
}

impl Validate {
    pub(super) fn new(definition: &Definition) -> Self {
        Self { per_route: definition.routes.iter().map(|r| r.validation.clone()).collect() }
    }
}

impl SyncStage for Validate {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let matched = ex.matched()?;
        let Some(spec) = self.per_route.get(matched.route).and_then(Option::as_deref) else { return Ok(()) };
        validate::parameters(spec, &ex.request, &matched.params)
            .map_err(|invalid| GatewayError::MissingParameters(Box::new(invalid)))?;
        validate::body(spec, &ex.request).map_err(|invalid| GatewayError::InvalidBody(Box::new(invalid)))
    }
}
