//! The one value a request's stages share: the request, and what each stage established about it. Stages read
//! what earlier ones wrote and add their own; they never call each other.

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    auth::lambda::PresetEvent,
    clock::Micros,
    error::{GatewayError, RateLimit},
    event::proxy::ApiKeyUse,
    metering::Caller,
    request::{Authorized, GatewayRequest, GatewayResponse, Matched},
    trace::{Hop, Recorder, TraceContext},
};

#[derive(Debug)]
pub struct Exchange {
    pub request: GatewayRequest,
    /// Set by route: the route and its path parameters.
    pub route: Option<Matched>,
    /// When the gateway got the request (monotonic, for latencies).
    pub received: Instant,
    /// Set by authenticate: what the route's authorizer established about the caller.
    pub authorized: Option<Authorized>,
    /// Set by the API key stage: the caller's key and plan.
    pub caller: Option<Caller>,
    /// Set by the API key stage: the key value the caller presented (events carry it as `identity.apiKey`).
    pub api_key_value: Option<String>,
    /// Set by limits: the quota state to report in `RateLimit-*` headers.
    pub rate_limit: Option<RateLimit>,
    /// Set by integrate: time spent waiting on the backend, for the access log.
    pub integration_latency: Option<Duration>,
    /// Set by integrate: the status the backend answered with, before any mapping.
    pub integration_status: Option<u16>,
    /// The answer: the integration's, or (once respond ran) the error's.
    pub response: Option<GatewayResponse>,
    /// Why the request ended early; respond turns it into API Gateway's answer.
    pub error: Option<GatewayError>,
    /// Set by the cache lookup: what the cache did, and the key this request fills.
    pub cache: Option<super::cache::CacheStep>,
    /// Set by preflight: the request was a CORS preflight, answered by the gateway itself.
    pub preflight: bool,
    /// Given by the front end: the event Lambda authorizers get, when it has one (WebSocket `$connect`).
    pub authorizer_event: Option<PresetEvent>,
    /// Set before the first stage: the trace the request continues, which backend calls carry on.
    pub trace: Option<TraceContext>,
    /// Set with `trace` when the request's spans are sent to X-Ray: where stages record them.
    pub recorder: Option<Recorder>,
    /// When the recorded request began, on the gateway's clock.
    pub trace_start_us: Micros,
}

impl Exchange {
    pub fn new(request: GatewayRequest) -> Self {
        Self {
            request,
            route: None,
            received: Instant::now(),
            authorized: None,
            caller: None,
            api_key_value: None,
            rate_limit: None,
            integration_latency: None,
            integration_status: None,
            response: None,
            error: None,
            cache: None,
            preflight: false,
            authorizer_event: None,
            trace: None,
            recorder: None,
            trace_start_us: 0,
        }
    }

    /// The matched route; stages after route may rely on it.
    pub fn matched(&self) -> Result<&Matched, GatewayError> {
        self.route.as_ref().ok_or_else(|| GatewayError::Internal("a stage ran before route".into()))
    }

    /// The API key the caller was admitted with, as integrations' events name it.
    pub fn api_key_use(&self) -> Option<ApiKeyUse<'_>> {
        let caller = self.caller.as_ref()?;
        Some(ApiKeyUse { value: self.api_key_value.as_deref()?, id: &caller.key.id })
    }

    /// A backend call continuing the request's trace, timed on `clock` when the request is recorded.
    pub fn hop<'a>(&'a self, clock: &'a dyn crate::clock::Clock) -> Option<Hop<'a>> {
        Some(Hop::new(self.trace.as_ref()?, self.recorder.as_ref(), clock))
    }

    /// The API key a Lambda authorizer named (`usageIdentifierKey`), for `apiKeys.source: AUTHORIZER`.
    pub fn usage_identifier_key(&self) -> Option<&str> {
        match &self.authorized {
            Some(Authorized::Lambda { usage_identifier_key, .. }) => usage_identifier_key.as_deref(),
            _ => None,
        }
    }
}
