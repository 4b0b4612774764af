//! HTTP proxy integration: forwards the request to a URL template and relays the answer.
//!
//! Hop-by-hop headers are not forwarded; `X-Forwarded-For`, `-Proto` and `-Port` are added, as API Gateway does
//! for proxies. Connections come from the process's pooled [`HttpClient`].

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header};
use http_body_util::Full;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::IntegrationCall;
use crate::{
    clients::{
        HttpClient,
        http::{error_chain, read_body},
    },
    config::Piece,
    error::GatewayError,
    request::{GatewayRequest, GatewayResponse, Matched},
    trace::{self, SpanKind},
};

/// API Gateway's response payload limit.
pub const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// Characters escaped in a path segment (RFC 3986 `pchar` complement).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded in either direction. Names are parsed once here, not
/// per request.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

pub struct HttpIntegration {
    client: HttpClient,
    url: Vec<Piece>,
    method: Option<Method>,
    timeout: Duration,
    /// The URL names no path parameter on a `$default` or greedy route: the request's path goes after it.
    append_path: bool,
}

impl HttpIntegration {
    pub fn new(
        client: HttpClient,
        url: Vec<Piece>,
        method: Option<Method>,
        timeout: Duration,
        append_path: bool,
    ) -> Self {
        Self { client, url, method, timeout, append_path }
    }

    pub async fn call(&self, call: IntegrationCall<'_>) -> Result<GatewayResponse, GatewayError> {
        let mut outgoing = self.build(call.request, call.matched)?;
        if let Some(rewrite) = call.rewrite {
            rewrite.apply(&mut outgoing, call.request)?;
        }
        self.send(&call, outgoing).await
    }

    /// Sends a built request within the call's time and reads the whole answer (a non-proxy integration builds
    /// it, then puts its rendered body in).
    pub(super) async fn send(
        &self,
        call: &IntegrationCall<'_>,
        mut outgoing: Request<Full<Bytes>>,
    ) -> Result<GatewayResponse, GatewayError> {
        if let Some(hop) = call.trace {
            // The backend continues the trace from this hop, not from wherever the caller's headers pointed.
            hop.headers.apply(outgoing.headers_mut());
        }
        let (method, uri) = (outgoing.method().clone(), outgoing.uri().clone());
        let kind = || SpanKind::Http { method: method.to_string(), url: uri.to_string() };
        let status = |r: &GatewayResponse| Some(r.status.as_u16());
        let name = uri.host().unwrap_or("backend");
        trace::record(call.trace, name, kind, status, self.exchange(call, outgoing)).await
    }

    async fn exchange(
        &self,
        call: &IntegrationCall<'_>,
        outgoing: Request<Full<Bytes>>,
    ) -> Result<GatewayResponse, GatewayError> {
        let timeout = call.timeout(self.timeout);
        let exchange = async {
            let response = self.client.send(outgoing).await.map_err(|e| {
                let detail = error_chain(&e);
                if e.is_connect() {
                    GatewayError::IntegrationUnreachable(detail)
                } else {
                    GatewayError::IntegrationFailure(detail)
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = read_body(body, MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| GatewayError::IntegrationFailure(format!("reading the backend's body: {e}")))?;
            Ok::<_, GatewayError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| GatewayError::IntegrationTimeout(timeout.as_millis() as u64))??;
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        headers.remove(header::CONTENT_LENGTH);
        Ok(GatewayResponse::new(parts.status, headers, body))
    }

    pub(super) fn build(
        &self,
        request: &GatewayRequest,
        matched: &Matched,
    ) -> Result<Request<Full<Bytes>>, GatewayError> {
        let mut url = String::new();
        for piece in &self.url {
            match piece {
                Piece::Text(text) => url.push_str(text),
                Piece::Param(name) => {
                    let value = matched.params.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str());
                    push_encoded(&mut url, value);
                }
            }
        }
        if self.append_path {
            // `https://backend` on `$default` or `ANY /store/{proxy+}`: `/store/checkout` goes to
            // `https://backend/store/checkout`, before any query the URL has.
            let query = url.find('?').map(|at| url.split_off(at));
            while url.ends_with('/') {
                url.pop();
            }
            if request.path_decoded {
                push_encoded(&mut url, &request.raw_path);
            } else {
                url.push_str(&request.raw_path);
            }
            url.push_str(query.as_deref().unwrap_or(""));
        }
        if !request.raw_query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&request.raw_query);
        }
        let mut builder =
            Request::builder().method(self.method.clone().unwrap_or_else(|| request.method.clone())).uri(&url);
        let headers =
            builder.headers_mut().ok_or_else(|| GatewayError::Internal(format!("bad backend URL {url:?}")))?;
        headers.reserve(request.headers.len() + 3);
        // Hop-by-hop headers, and those the Connection header names, are left out while copying.
        let named = connection_tokens(&request.headers);
        for (name, value) in &request.headers {
            let hop = HOP_BY_HOP.contains(name) || named.iter().any(|n| n.eq_ignore_ascii_case(name.as_str()));
            if !hop && name != header::HOST && name != header::CONTENT_LENGTH {
                headers.append(name.clone(), value.clone());
            }
        }
        let forwarded_for = match request.header("x-forwarded-for") {
            // The front door already named the client last.
            Some(xff) if xff.rsplit(',').next().map(str::trim) == Some(request.source_ip.as_str()) => None,
            Some(xff) => Some(format!("{xff}, {}", request.source_ip)),
            None => Some(request.source_ip.clone()),
        };
        if let Some(value) = forwarded_for {
            set(headers, X_FORWARDED_FOR, &value);
        }
        let proto = request.header("x-forwarded-proto").unwrap_or("https");
        if !headers.contains_key(&X_FORWARDED_PROTO) {
            set(headers, X_FORWARDED_PROTO, proto);
        }
        if !headers.contains_key(&X_FORWARDED_PORT) {
            set(headers, X_FORWARDED_PORT, if proto == "http" { "80" } else { "443" });
        }
        builder
            .body(Full::new(request.body.clone()))
            .map_err(|e| GatewayError::Internal(format!("cannot build the backend request for {url:?}: {e}")))
    }
}

/// A decoded value into a URL path: each segment escaped on its own, so a greedy value keeps its slashes.
pub(super) fn push_encoded(url: &mut String, value: &str) {
    for (i, segment) in value.split('/').enumerate() {
        if i > 0 {
            url.push('/');
        }
        url.extend(utf8_percent_encode(segment, SEGMENT));
    }
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::try_from(value) {
        headers.insert(name, v);
    }
}

/// The header names a `Connection` header lists (hop-by-hop as well); usually none.
fn connection_tokens(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(str::trim))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Removes hop-by-hop headers, including any the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> =
        connection_tokens(headers).into_iter().filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok()).collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}
