//! The gateway's own view of a request and a response, independent of the event format that carried them.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// Which event shape the request arrived in, so the response goes back in the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// REST API proxy event, payload format 1.0.
    Rest,
    /// HTTP API or Function URL event, payload format 2.0.
    Http,
}

/// A client request as the gateway sees it: decoded from an event, validated, not yet routed.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    pub origin: Origin,
    pub method: Method,
    /// The path as the client sent it, still percent-encoded, without any stage prefix.
    pub raw_path: String,
    /// The query string as the client sent it, without `?`.
    pub raw_query: String,
    /// Request headers; a repeated header keeps each value. Cookies are here as `cookie` headers.
    pub headers: HeaderMap,
    pub body: Bytes,
    pub source_ip: String,
    pub user_agent: Option<String>,
    /// The id the front door gave the request (Function URL / API Gateway), or one of Tollgate's own.
    pub request_id: String,
    /// When the front door received the request, in milliseconds since the Unix epoch.
    pub time_epoch_ms: i64,
    pub domain_name: Option<String>,
    pub protocol: String,
    /// What made the event unusable, found while decoding it (the admit stage answers it with a 400).
    pub malformed: Option<String>,
}

/// A response before it is rendered into the caller's event format.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayResponse {
    pub status: StatusCode,
    /// Response headers; `set-cookie` may repeat.
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl GatewayResponse {
    pub fn new(status: StatusCode, headers: HeaderMap, body: impl Into<Bytes>) -> Self {
        Self { status, headers, body: body.into() }
    }
}

impl GatewayRequest {
    /// The first value of a header as text, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
