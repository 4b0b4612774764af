//! Stage 16, access log: one JSON line per request through `tracing` (target `tollgate::access`), with the
//! fields of API Gateway's access-log `$context` variables. It runs for every request, errors included.
//! Internal error detail goes here and only here; the client sees API Gateway's message.

use super::{Exchange, SyncStage};
use crate::error::GatewayError;

pub(super) struct AccessLog;

impl SyncStage for AccessLog {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        let (status, length) = ex.response.as_ref().map_or((0, 0), |r| (r.status.as_u16(), r.body.len()));
        tracing::info!(
            target: "tollgate::access",
            requestId = %ex.request.request_id,
            routeKey = ex.route.as_ref().map_or("-", |m| &*m.key),
            httpMethod = %ex.request.method,
            path = %ex.request.raw_path,
            protocol = %ex.request.protocol,
            status,
            responseLength = length,
            responseLatency = ms(ex.received.elapsed()),
            integrationLatency = ex.integration_latency.map(ms),
            integrationStatus = ex.integration_status,
            sourceIp = %ex.request.source_ip,
            // API Gateway's $context.identity.apiKeyId: the key's id, never its value.
            apiKeyId = ex.caller.as_ref().map(|c| c.key.id.as_str()),
            // Hit, Miss or Bypass on cached stages: CacheHitCount and CacheMissCount per route.
            cache = ex.cache.as_ref().map(|c| c.status.label()),
            errorType = ex.error.as_ref().map(GatewayError::error_type),
            errorDetail = ex.error.as_ref().map(ToString::to_string),
        );
        Ok(())
    }
}
