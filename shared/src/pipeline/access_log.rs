//! Stage 16, access log: one line per request, errors included. By default a JSON line through `tracing`
//! (target `tollgate::access`) with the fields of API Gateway's access-log `$context` variables; with
//! `accessLog.format`, the definition's template (a console preset or its own), written as is. Internal error
//! detail goes here and only here; the client sees API Gateway's message.
//!
//! With `accessLog.sampleRate` below 1, a successful request is logged when a hash of its request id falls
//! under the rate: the same request id always gets the same answer, so tests and replays repeat. Errors and
//! throttles are always logged.

use std::{fmt::Write as _, sync::Arc, time::Duration};

use super::{Exchange, SyncStage};
use crate::{
    config::access_log::{AccessLogFormat, AccessLogSpec, Escape, Part, Template, Var},
    error::GatewayError,
    logging::LineSink,
    request::{ApiContext, ApiType, Authorized},
};

pub(super) struct AccessLog {
    pub spec: AccessLogSpec,
    pub context: Arc<ApiContext>,
    pub account_id: String,
    pub sink: Arc<dyn LineSink>,
}

impl SyncStage for AccessLog {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let status = ex.response.as_ref().map_or(0, |r| r.status.as_u16());
        if !(ex.error.is_some() || status >= 400 || sampled(&ex.request.request_id, self.spec.rate())) {
            return Ok(());
        }
        match &self.spec.format {
            AccessLogFormat::Default => default_line(ex),
            AccessLogFormat::Template(template) => self.sink.write_line(&self.render(template, ex)),
        }
        Ok(())
    }
}

/// Whether a successful request with this id is logged at `rate` (FNV-1a over the id, mixed: cheap and stable
/// across builds and platforms, unlike the standard library's hasher).
pub(crate) fn sampled(request_id: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let mut hash =
        request_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    // FNV's high bits barely move between ids that differ in their last characters: mix them (murmur3's fmix64).
    hash = (hash ^ (hash >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash = (hash ^ (hash >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    // The top 53 bits as a fraction in [0, 1): exact in an f64.
    ((hash >> 11) as f64 / (1u64 << 53) as f64) < rate
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn default_line(ex: &Exchange) {
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
}

impl AccessLog {
    fn render(&self, template: &Template, ex: &Exchange) -> String {
        let mut line = String::with_capacity(256);
        let mut value = String::with_capacity(64);
        for part in &template.parts {
            match part {
                Part::Text(text) => line.push_str(text),
                Part::Var(var) => {
                    value.clear();
                    self.value(*var, ex, &mut value);
                    // API Gateway writes `-` for a variable without a value.
                    if value.is_empty() {
                        value.push('-');
                    }
                    escape(template.escape, &value, &mut line);
                }
            }
        }
        line
    }

    fn value(&self, var: Var, ex: &Exchange, out: &mut String) {
        let api = self.context.api_type;
        let response = ex.response.as_ref();
        let _ = match var {
            Var::AccountId => write!(out, "{}", self.account_id),
            Var::ApiId => write!(out, "{}", self.context.api_id),
            Var::ApiKeyId => write!(out, "{}", ex.caller.as_ref().map_or("", |c| c.key.id.as_str())),
            Var::AuthorizerError => {
                let failed = ex.error.as_ref().filter(|e| {
                    matches!(
                        e,
                        GatewayError::Unauthorized { .. }
                            | GatewayError::AuthorizerDenied { .. }
                            | GatewayError::AuthorizerFailure(_)
                    )
                });
                write!(out, "{}", failed.map(|e| e.message(api)).unwrap_or_default())
            }
            Var::AuthorizerPrincipalId => match &ex.authorized {
                Some(Authorized::Lambda { principal_id: Some(p), .. }) => write!(out, "{p}"),
                Some(Authorized::Jwt { claims, .. }) => {
                    write!(out, "{}", claims.get("sub").and_then(|s| s.as_str()).unwrap_or_default())
                }
                _ => Ok(()),
            },
            Var::CacheStatus => write!(out, "{}", ex.cache.as_ref().map_or("", |c| c.status.label())),
            Var::DomainName => write!(out, "{}", ex.request.domain_name.as_deref().unwrap_or_default()),
            Var::ErrorMessage => write!(out, "{}", ex.error.as_ref().map(|e| e.message(api)).unwrap_or_default()),
            Var::ErrorMessageString => match &ex.error {
                Some(e) => write!(out, "\"{}\"", e.message(api)),
                None => Ok(()),
            },
            Var::ErrorResponseType => {
                write!(out, "{}", ex.error.as_ref().map_or("", |e| e.response_type(api).name()))
            }
            Var::ExtendedRequestId => write!(out, "{}", ex.request.extended_request_id()),
            Var::HttpMethod => write!(out, "{}", ex.request.method),
            Var::IdentityCaller | Var::IdentityUser => Ok(()),
            Var::IntegrationLatency => match ex.integration_latency {
                Some(d) => write!(out, "{}", d.as_millis()),
                None => Ok(()),
            },
            Var::IntegrationStatus => match ex.integration_status {
                Some(s) => write!(out, "{s}"),
                None => Ok(()),
            },
            Var::Path => write!(out, "{}", ex.request.raw_path),
            Var::Protocol => write!(out, "{}", ex.request.protocol),
            Var::RequestId => write!(out, "{}", ex.request.request_id),
            Var::RequestTime => write!(out, "{}", crate::event::time::request_time(ex.request.time_epoch_ms)),
            Var::RequestTimeEpoch => write!(out, "{}", ex.request.time_epoch_ms),
            Var::ResourcePath => {
                let key = ex.route.as_ref().map_or("", |m| &*m.key);
                write!(out, "{}", key.split_once(' ').map_or(key, |(_, path)| path))
            }
            Var::ResponseLatency => write!(out, "{}", ex.received.elapsed().as_millis()),
            Var::ResponseLength => write!(out, "{}", response.map_or(0, |r| r.body.len())),
            Var::RouteKey => write!(out, "{}", ex.route.as_ref().map_or("", |m| &*m.key)),
            Var::SourceIp => write!(out, "{}", ex.request.source_ip),
            Var::Stage => write!(out, "{}", self.context.stage),
            Var::Status => write!(out, "{}", response.map_or(0, |r| r.status.as_u16())),
            Var::UserAgent => write!(out, "{}", ex.request.user_agent.as_deref().unwrap_or_default()),
        };
        // REST's `$context.routeKey` has no value (REST APIs have resources, not route keys), as in API Gateway.
        if var == Var::RouteKey && api == ApiType::Rest {
            out.clear();
        }
    }
}

/// Writes `value` so it cannot break the line's syntax or start a new line (log injection): JSON string
/// escapes in a JSON template, entities in XML, and control characters as `\xNN` in plain text.
fn escape(mode: Escape, value: &str, out: &mut String) {
    for c in value.chars() {
        match (mode, c) {
            (Escape::Json, '"') => out.push_str("\\\""),
            (Escape::Json, '\\') => out.push_str("\\\\"),
            (Escape::Json, c) if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            (Escape::Xml, '<') => out.push_str("&lt;"),
            (Escape::Xml, '>') => out.push_str("&gt;"),
            (Escape::Xml, '&') => out.push_str("&amp;"),
            (Escape::Xml, '"') => out.push_str("&quot;"),
            (_, c) if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            (_, c) => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_stable_and_near_the_rate() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("req-{i}")).collect();
        let kept = ids.iter().filter(|id| sampled(id, 0.1)).count();
        assert!((900..1_100).contains(&kept), "{kept} of 10000 at 0.1");
        assert!(ids.iter().all(|id| sampled(id, 0.1) == sampled(id, 0.1)), "the same id, the same answer");
        assert!(ids.iter().all(|id| sampled(id, 1.0)) && !ids.iter().any(|id| sampled(id, 0.0)));
    }

    #[test]
    fn values_cannot_break_a_line() {
        let mut out = String::new();
        escape(Escape::Json, "a\"b\\c\nd", &mut out);
        assert_eq!(out, "a\\\"b\\\\c\\u000ad");
        out.clear();
        escape(Escape::Xml, "<a&\">", &mut out);
        assert_eq!(out, "&lt;a&amp;&quot;&gt;");
        out.clear();
        escape(Escape::Plain, "a\r\nb", &mut out);
        assert_eq!(out, "a\\x0d\\x0ab");
    }
}
