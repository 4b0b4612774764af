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
    /// The path without any stage prefix: as the client sent it, still percent-encoded, unless
    /// `path_decoded` says the front door decoded it.
    pub raw_path: String,
    /// The front door decoded the path once already (an HTTP API does; a Function URL does not): it must not
    /// be decoded again.
    pub path_decoded: bool,
    /// The query string as the client sent it, without `?`.
    pub raw_query: String,
    /// Request headers; a repeated header keeps each value. Cookies are here as `cookie` headers.
    pub headers: HeaderMap,
    /// Header names as the caller spelled them, when the front door keeps the spelling (REST events do);
    /// empty otherwise. `headers` itself is case-insensitive.
    pub header_spelling: Vec<String>,
    pub body: Bytes,
    pub source_ip: String,
    pub user_agent: Option<String>,
    /// The id the front door gave the request (Function URL / API Gateway), or one of Tollgate's own.
    pub request_id: String,
    /// The front door's extended id (REST events' `extendedRequestId`), when it gave one.
    pub extended_request_id: Option<String>,
    /// When the front door received the request, in milliseconds since the Unix epoch.
    pub time_epoch_ms: i64,
    pub domain_name: Option<String>,
    pub protocol: String,
    /// What made the event unusable, found while decoding it (the admit stage answers it with a 400).
    pub malformed: Option<String>,
    /// When the invocation carrying the request must have answered (Lambda's deadline, ms since the epoch):
    /// integrations and authorizers wait no longer than that.
    pub deadline_ms: Option<i64>,
    /// The X-Ray trace of the Lambda invocation carrying the request (`_X_AMZN_TRACE_ID`), on Lambda.
    pub lambda_trace: Option<String>,
}

impl GatewayRequest {
    /// A request for `method` and `raw_path` with nothing else yet (no query, headers or body, an empty id,
    /// time 0): front ends and tests fill in what they know.
    pub fn new(method: Method, raw_path: impl Into<String>) -> Self {
        Self {
            method,
            raw_path: raw_path.into(),
            path_decoded: false,
            raw_query: String::new(),
            headers: HeaderMap::new(),
            header_spelling: Vec::new(),
            body: Bytes::new(),
            source_ip: String::new(),
            user_agent: None,
            request_id: String::new(),
            extended_request_id: None,
            time_epoch_ms: 0,
            domain_name: None,
            protocol: "HTTP/1.1".to_owned(),
            malformed: None,
            deadline_ms: None,
            lambda_trace: None,
        }
    }

    /// API Gateway's second id of the request (`x-amz-apigw-id`, `extendedRequestId`): the front door's when it
    /// gave one, else 16 base64 characters derived from the request id, so the event and the response agree.
    pub fn extended_request_id(&self) -> String {
        if let Some(id) = &self.extended_request_id {
            return id.clone();
        }
        use base64::Engine as _;
        let digest = ring::digest::digest(&ring::digest::SHA256, self.request_id.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(&digest.as_ref()[..11])
    }

    /// How long the gateway may still wait on an integration or an authorizer: the time until the invocation's
    /// deadline, less [`DEADLINE_MARGIN_MS`] to answer in. `None`: no deadline (not on Lambda). `now_ms` reads
    /// the clock, only when there is a deadline.
    pub fn time_left(&self, now_ms: impl FnOnce() -> i64) -> Option<std::time::Duration> {
        let left = self.deadline_ms? - now_ms() - DEADLINE_MARGIN_MS;
        Some(std::time::Duration::from_millis(u64::try_from(left).unwrap_or(0)))
    }

    /// The first value of a header as text, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the router keeps back from its Lambda deadline to answer in: a timed-out integration still gets API
/// Gateway's timeout answer rather than the front door's 502 for a function that ran out of time.
pub const DEADLINE_MARGIN_MS: i64 = 250;

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
/// and logs call it), and its path parameters, decoded and as the client sent them.
#[derive(Debug, Clone)]
pub struct Matched {
    pub route: usize,
    pub key: Arc<str>,
    /// Name and decoded value, in path order.
    pub params: Vec<(String, String)>,
    /// The same values still percent-encoded (what a REST API's events carry), in the same order.
    pub raw_params: Vec<String>,
}

/// Which kind of Amazon API Gateway API this one behaves as. A user migrating an API picks the type it comes
/// from, and gets that type's answers everywhere: errors, events, replies and headers
/// (`docs/api-gateway-differences.md` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApiType {
    /// An HTTP API (API Gateway v2), and a Function URL.
    #[default]
    Http,
    /// A REST API (API Gateway v1).
    Rest,
}

/// The API a request reached, as integrations and authorizers are told about it.
#[derive(Debug, Clone, Default)]
pub struct ApiContext {
    pub api_type: ApiType,
    pub api_id: String,
    pub stage: String,
    pub stage_variables: BTreeMap<String, String>,
    /// `arn:aws:execute-api:{region}:{account}:`.
    pub arn_prefix: String,
    /// REST: the media types that travel as binary.
    pub binary_media_types: MediaTypes,
    /// REST: the `deploymentId` events carry.
    pub deployment_id: String,
}

/// Media types, as `binaryMediaTypes` lists them: exact (`image/png`), a family (`image/*`) or anything (`*/*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaTypes(Vec<String>);

impl MediaTypes {
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut types = Vec::with_capacity(list.len());
        for text in list {
            let lower = text.trim().to_ascii_lowercase();
            let valid = lower.split_once('/').is_some_and(|(kind, sub)| {
                let token =
                    |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+*".contains(c));
                token(kind) && token(sub) && (kind != "*" || sub == "*")
            });
            if !valid {
                return Err(format!("binaryMediaTypes: {text:?} is not a media type (type/subtype, type/* or */*)"));
            }
            types.push(lower);
        }
        Ok(Self(types))
    }

    /// Whether a `Content-Type` or `Accept` value's media type is listed (parameters ignored).
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let Some((kind, _)) = essence.split_once('/') else { return false };
        self.0.iter().any(|t| t == "*/*" || *t == essence || t.strip_suffix("/*").is_some_and(|family| family == kind))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What an authorizer established about the caller; it reaches the integration in `requestContext.authorizer`.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorized {
    /// JWT claims (values as strings, as API Gateway renders them) and scopes.
    Jwt { claims: Map<String, Value>, scopes: Vec<String> },
    /// A Lambda authorizer's principal and context, and how long it took to answer (0 when cached).
    Lambda {
        principal_id: Option<String>,
        context: Map<String, Value>,
        usage_identifier_key: Option<String>,
        latency_ms: u64,
    },
}

/// Whether a comma-separated header (`Cache-Control`, `Vary`), over all its values, holds any of `tokens`,
/// compared without case.
pub fn header_has_token(headers: &HeaderMap, name: &http::HeaderName, tokens: &[&str]) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| tokens.iter().any(|wanted| t.eq_ignore_ascii_case(wanted)))
}
