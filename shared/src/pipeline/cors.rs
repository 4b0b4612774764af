//! CORS, as HTTP APIs do it (the rules of what is allowed are in `config/cors.rs`):
//! - stage 2, preflight: an `OPTIONS` with `Origin` and `Access-Control-Request-Method` is answered here, 204,
//!   before routing, policies, authorizers, keys and metering could refuse or count it. The CORS that applies
//!   is that of the route the prepared request would take, else the API's. Anything not allowed gets the 204
//!   without allow headers, so the browser blocks the request before it is sent.
//! - stage 14, after respond, on every other response (errors included): the allow headers for an allowed origin and
//!   `Vary: Origin`. The backend's own `Access-Control-*` headers are dropped, as HTTP APIs ignore them.

use std::sync::Arc;

use http::{
    HeaderMap, HeaderValue, Method, StatusCode,
    header::{self, HeaderName},
};

use super::{Exchange, SyncStage, route::MatchRoute};
use crate::{
    config::{Definition, cors::CorsSpec},
    error::GatewayError,
    request::{GatewayResponse, header_has_token},
};

const ORIGIN: HeaderValue = HeaderValue::from_static("Origin");
const TRUE: HeaderValue = HeaderValue::from_static("true");

/// Which CORS applies to a request: its route's, or the API's when no route matched.
#[derive(Clone)]
pub(super) struct CorsRules {
    per_route: Arc<[Option<Arc<CorsSpec>>]>,
    api: Option<Arc<CorsSpec>>,
}

impl CorsRules {
    /// `None` when the definition configures CORS nowhere: both steps are then skipped.
    pub(super) fn new(definition: &Definition) -> Option<Self> {
        let per_route: Arc<[_]> = definition.routes.iter().map(|r| r.cors.clone()).collect();
        let any = definition.cors.is_some() || per_route.iter().any(Option::is_some);
        any.then(|| Self { per_route, api: definition.cors.clone() })
    }

    fn for_route(&self, route: Option<usize>) -> Option<&CorsSpec> {
        match route {
            Some(i) => self.per_route.get(i).and_then(Option::as_deref),
            None => self.api.as_deref(),
        }
    }
}

/// Stage 2: answers CORS preflights.
pub(super) struct Preflight {
    pub(super) rules: Option<CorsRules>,
    pub(super) routes: Arc<MatchRoute>,
}

impl SyncStage for Preflight {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let Some(rules) = &self.rules else { return Ok(()) };
        let headers = &ex.request.headers;
        if ex.request.method != Method::OPTIONS {
            return Ok(());
        }
        let (Some(origin), Some(wanted)) =
            (headers.get(header::ORIGIN), headers.get(header::ACCESS_CONTROL_REQUEST_METHOD))
        else {
            return Ok(());
        };
        let method = Method::from_bytes(wanted.as_bytes()).ok();
        let route = method.as_ref().and_then(|m| self.routes.route_for(m, &ex.request));
        // A route without CORS of its own has the API's (set at load); no CORS at all: routed as any request.
        let Some(spec) = rules.for_route(route) else { return Ok(()) };
        let mut out = HeaderMap::new();
        out.insert(header::VARY, ORIGIN);
        let requested = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS);
        let requested_text = requested.and_then(|v| v.to_str().ok()).unwrap_or("");
        let allowed = spec.allow_origin(origin).filter(|_| {
            method.is_some()
                && spec.allows_method(wanted.to_str().unwrap_or(""))
                && requested.is_none_or(|v| v.to_str().is_ok())
                && spec.allows_headers(requested_text)
        });
        if let Some(allow_origin) = allowed {
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
            if spec.allow_credentials {
                out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
            }
            // Browsers read `*` literally in a credentialed request: name what was asked for instead.
            let methods = if spec.any_method() && spec.echoes_wildcards() {
                Some(wanted.clone())
            } else {
                spec.methods_value.clone()
            };
            if let Some(methods) = methods {
                out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
            }
            let echo_headers = spec.any_header() && spec.echoes_wildcards();
            let allow_headers = if echo_headers { requested.cloned() } else { spec.headers_value.clone() };
            if let Some(allow_headers) = allow_headers {
                out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
            }
            if let Some(age) = &spec.max_age_value {
                out.insert(header::ACCESS_CONTROL_MAX_AGE, age.clone());
            }
        }
        ex.response = Some(GatewayResponse::new(StatusCode::NO_CONTENT, out, ""));
        ex.preflight = true;
        Ok(())
    }
}

/// After respond: the CORS headers every response to an allowed origin carries.
pub(super) struct CorsHeaders {
    pub(super) rules: Option<CorsRules>,
}

impl SyncStage for CorsHeaders {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let Some(rules) = &self.rules else { return Ok(()) };
        if ex.preflight {
            return Ok(());
        }
        let Some(spec) = rules.for_route(ex.route.as_ref().map(|m| m.route)) else { return Ok(()) };
        let Some(response) = ex.response.as_mut() else { return Ok(()) };
        let headers = &mut response.headers;
        let is_cors = |n: &HeaderName| n.as_str().starts_with("access-control-");
        if headers.keys().any(is_cors) {
            let backend_cors: Vec<HeaderName> = headers.keys().filter(|n| is_cors(n)).cloned().collect();
            for name in backend_cors {
                headers.remove(name);
            }
        }
        add_vary(headers, "origin", ORIGIN);
        let origin = ex.request.headers.get(header::ORIGIN);
        let Some(allow_origin) = origin.and_then(|o| spec.allow_origin(o)) else { return Ok(()) };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if spec.allow_credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        }
        if let Some(expose) = &spec.expose_value {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
        Ok(())
    }
}

/// Adds `value` to `Vary` unless it already names `token` (lower case) or is `*`.
pub(super) fn add_vary(headers: &mut HeaderMap, token: &str, value: HeaderValue) {
    if !header_has_token(headers, &header::VARY, &["*", token]) {
        headers.append(header::VARY, value);
    }
}
