//! The request types every layer shares: the gateway's own view of a request and a response (independent of
//! the event format that carried them), the route a request matched, the API it reached, and what an authorizer
//! established about its caller. They live here, below everything that reads them, so integrations and
//! authorizers never import the pipeline.

use std::{collections::BTreeMap, sync::Arc};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Map, Value};

/// A client request as the gateway sees it: decoded from an event, validated, not yet routed.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
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

impl GatewayRequest {
    /// A request for `method` and `raw_path` with nothing else yet (no query, headers or body, an empty id,
    /// time 0): front ends and tests fill in what they know.
    pub fn new(method: Method, raw_path: impl Into<String>) -> Self {
        Self {
            method,
            raw_path: raw_path.into(),
            raw_query: String::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            source_ip: String::new(),
            user_agent: None,
            request_id: String::new(),
            time_epoch_ms: 0,
            domain_name: None,
            protocol: "HTTP/1.1".to_owned(),
            malformed: None,
        }
    }

    /// The first value of a header as text, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
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

/// The route a request matched: its index in the definition, its key as written (`GET /pets/{id}`, what events
/// and logs call it), and its decoded path parameters.
#[derive(Debug, Clone)]
pub struct Matched {
    pub route: usize,
    pub key: Arc<str>,
    pub params: Vec<(String, String)>,
}

/// The API a request reached, as integrations and authorizers are told about it.
#[derive(Debug, Clone, Default)]
pub struct ApiContext {
    pub api_id: String,
    pub stage: String,
    pub stage_variables: BTreeMap<String, String>,
    /// `arn:aws:execute-api:{region}:{account}:` (see `auth::arn`).
    pub arn_prefix: String,
}

/// What an authorizer established about the caller; it reaches the integration in `requestContext.authorizer`.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorized {
    /// JWT claims (values as strings, as API Gateway renders them) and scopes.
    Jwt { claims: Map<String, Value>, scopes: Vec<String> },
    /// A Lambda authorizer's principal and context.
    Lambda { principal_id: Option<String>, context: Map<String, Value>, usage_identifier_key: Option<String> },
}
