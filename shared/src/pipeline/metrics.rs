//! Stage 17, metrics: counts the request in this instance's CloudWatch metrics (`crate::metrics`), after the
//! access log so both see the same final answer. Writes an EMF line only when `flushSeconds` have passed.

use std::sync::Arc;

use super::{Exchange, SyncStage, cache::CacheStatus};
use crate::{
    error::GatewayError,
    metrics::{Metrics, RequestSample},
};

pub(super) struct RecordMetrics {
    pub metrics: Option<Arc<Metrics>>,
}

impl SyncStage for RecordMetrics {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let Some(metrics) = &self.metrics else { return Ok(()) };
        // A preflight the gateway answered is not an API request (API Gateway does not count it either).
        if ex.preflight {
            return Ok(());
        }
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        metrics.record_request(&RequestSample {
            route: ex.route.as_ref().map(|m| &*m.key),
            method: ex.request.method.as_str(),
            key_id: ex.caller.as_ref().map(|c| c.key.id.as_str()),
            status: ex.response.as_ref().map_or(500, |r| r.status.as_u16()),
            latency_ms: ms(ex.received.elapsed()),
            integration_ms: ex.integration_latency.map(ms),
            cache_hit: ex.cache.as_ref().and_then(|c| match c.status {
                CacheStatus::Hit => Some(true),
                CacheStatus::Miss => Some(false),
                CacheStatus::Bypass => None,
            }),
        });
        Ok(())
    }
}
