//! Stage 9, access log: one JSON line per request through `tracing` (target `tollgate::access`), with the
//! fields of API Gateway's access-log `$context` variables. It runs for every request, errors included.
//! Internal error detail goes here and only here; the client sees API Gateway's message.

use super::Exchange;
use crate::{error::GatewayError, request::GatewayResponse};

pub(super) fn record(ex: &Exchange, route_key: Option<&str>, response: &GatewayResponse, error: Option<&GatewayError>) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    tracing::info!(
        target: "tollgate::access",
        requestId = %ex.request.request_id,
        routeKey = route_key.unwrap_or("-"),
        httpMethod = %ex.request.method,
        path = %ex.request.raw_path,
        protocol = %ex.request.protocol,
        status = response.status.as_u16(),
        responseLength = response.body.len(),
        responseLatency = ms(ex.received.elapsed()),
        integrationLatency = ex.integration_latency.map(ms),
        integrationStatus = ex.integration_status,
        sourceIp = %ex.request.source_ip,
        // API Gateway's $context.identity.apiKeyId: the key's id, never its value.
        apiKeyId = ex.caller.as_ref().map(|c| c.key.id.as_str()),
        errorType = error.map(GatewayError::error_type),
        errorDetail = error.map(ToString::to_string),
    );
}
