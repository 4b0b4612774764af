//! The Lambda edge: the events the router accepts and the responses it returns, in the caller's format.
//!
//! REST proxy events (payload 1.0) and HTTP API / Function URL events (payload 2.0) are told apart by their
//! `version` field, read once from the raw JSON before the typed parse. Decoding never panics: what cannot be
//! made sense of (a bad base64 body, a path with broken percent-encoding) is kept as `malformed` on the
//! request, and the pipeline's admit stage answers it with a 400 in API Gateway's shape.

pub mod body;
pub mod proxy;
pub mod time;

use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body;
use http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::{
    clock::Clock,
    request::{GatewayRequest, GatewayResponse},
};

/// Which event shape a request arrived in, so the response goes back in the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// REST API proxy event, payload format 1.0.
    Rest,
    /// HTTP API or Function URL event, payload format 2.0.
    Http,
}

/// An event the router accepts.
#[derive(Debug)]
pub enum GatewayEvent {
    Rest(Box<RestEvent>),
    Http(Box<ApiGatewayV2httpRequest>),
}

/// A REST proxy event, with what the typed event drops: the caller's spelling of header names, and the
/// extended request id.
#[derive(Debug)]
pub struct RestEvent {
    pub event: ApiGatewayProxyRequest,
    pub header_spelling: Vec<String>,
    pub extended_request_id: Option<String>,
    /// The query string as (name, value) pairs: read here, because the typed event's query map panics when
    /// a parameter's list of values is empty (found by fuzzing).
    pub query: Vec<(String, String)>,
}

/// A response in the format of the event it answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum GatewayEventResponse {
    Rest(Box<ApiGatewayProxyResponse>),
    Http(Box<ApiGatewayV2httpResponse>),
}

impl<'de> Deserialize<'de> for GatewayEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Self::from_json(raw.get()).map_err(serde::de::Error::custom)
    }
}

impl GatewayEvent {
    /// Reads an event from its JSON text: the format is told by a few keys read first, then the whole event is
    /// read as that format.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        use serde::de::{Error, IgnoredAny};
        // Only the keys that tell the formats apart; the rest is skipped without allocating.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe<'a> {
            #[serde(borrow, default)]
            version: Option<&'a str>,
            request_context: Option<IgnoredAny>,
            http_method: Option<IgnoredAny>,
            raw_path: Option<IgnoredAny>,
        }
        match serde_json::from_str::<Probe<'_>>(text)? {
            Probe { version: Some("2.0"), request_context: Some(_), raw_path: Some(_), .. } => {
                Ok(Self::Http(Box::new(serde_json::from_str(text)?)))
            }
            Probe { version: None | Some("1.0"), request_context: Some(_), http_method: Some(_), .. } => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Extras<'a> {
                    #[serde(borrow, default)]
                    headers: Option<std::collections::HashMap<std::borrow::Cow<'a, str>, IgnoredAny>>,
                    #[serde(borrow, default)]
                    multi_value_headers: Option<std::collections::HashMap<std::borrow::Cow<'a, str>, IgnoredAny>>,
                    #[serde(default)]
                    query_string_parameters: Option<std::collections::HashMap<String, String>>,
                    #[serde(default)]
                    multi_value_query_string_parameters: Option<std::collections::HashMap<String, Vec<String>>>,
                    request_context: Context,
                }
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Context {
                    #[serde(default)]
                    extended_request_id: Option<String>,
                }
                let extras: Extras<'_> = serde_json::from_str(text)?;
                // Every value of the multi-value map, else the single-value map (API Gateway sends both).
                let query = match extras.multi_value_query_string_parameters.filter(|m| !m.is_empty()) {
                    Some(multi) => {
                        multi.into_iter().flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v))).collect()
                    }
                    None => extras.query_string_parameters.into_iter().flatten().collect(),
                };
                let names =
                    extras.headers.into_iter().flatten().chain(extras.multi_value_headers.into_iter().flatten());
                let mut header_spelling: Vec<String> = names.map(|(name, _)| name.into_owned()).collect();
                header_spelling.sort_unstable();
                header_spelling.dedup();
                Ok(Self::Rest(Box::new(RestEvent {
                    event: serde_json::from_str(text)?,
                    header_spelling,
                    extended_request_id: extras.request_context.extended_request_id,
                    query,
                })))
            }
            _ => Err(serde_json::Error::custom(
                "not an API Gateway or Function URL proxy event (payload format 1.0 or 2.0)",
            )),
        }
    }
}

impl GatewayEvent {
    pub fn origin(&self) -> Origin {
        match self {
            Self::Rest(_) => Origin::Rest,
            Self::Http(_) => Origin::Http,
        }
    }

    /// The gateway's view of the request this event carries. `clock` dates an event that carries no time.
    pub fn into_request(self, clock: &dyn Clock) -> GatewayRequest {
        match self {
            Self::Rest(ev) => from_rest(*ev, clock),
            Self::Http(ev) => from_http(*ev, clock),
        }
    }
}

fn from_http(ev: ApiGatewayV2httpRequest, clock: &dyn Clock) -> GatewayRequest {
    let ctx = ev.request_context;
    let mut malformed = None;
    // A Function URL passes the path as the client sent it; an HTTP API (and its custom domains) decodes it.
    let path_decoded = !ctx.domain_name.as_deref().is_some_and(|d| d.contains(".lambda-url."));
    let path = ev.raw_path.or(ctx.http.path).unwrap_or_else(|| "/".to_owned());
    let raw_path = strip_stage(path, ctx.stage.as_deref());
    let mut headers = ev.headers;
    // Function URLs and HTTP APIs lift cookies out of the headers; the gateway puts them back for integrations.
    if let Some(cookies) = ev.cookies.filter(|c| !c.is_empty()) {
        match HeaderValue::try_from(cookies.join("; ")) {
            Ok(v) => {
                headers.insert(header::COOKIE, v);
            }
            Err(_) => malformed = Some("cookies are not valid header text".to_owned()),
        }
    }
    let body = decode_body(ev.body.as_deref(), ev.is_base64_encoded, &mut malformed);
    GatewayRequest {
        method: ctx.http.method,
        raw_path,
        path_decoded,
        raw_query: ev.raw_query_string.unwrap_or_default(),
        headers,
        header_spelling: Vec::new(),
        body,
        source_ip: ctx.http.source_ip.unwrap_or_default(),
        user_agent: ctx.http.user_agent,
        request_id: ctx.request_id.unwrap_or_else(new_request_id),
        extended_request_id: None,
        time_epoch_ms: if ctx.time_epoch > 0 { ctx.time_epoch } else { clock.now_ms() },
        domain_name: ctx.domain_name,
        protocol: ctx.http.protocol.unwrap_or_else(|| "HTTP/1.1".to_owned()),
        malformed,
        deadline_ms: None,
        lambda_trace: None,
    }
}

fn from_rest(rest: RestEvent, clock: &dyn Clock) -> GatewayRequest {
    let RestEvent { event: ev, header_spelling, extended_request_id, query } = rest;
    let ctx = ev.request_context;
    let mut malformed = None;
    // multiValueHeaders holds every value; single-value headers fill in names it lacks.
    let mut headers = ev.multi_value_headers;
    for (name, value) in &ev.headers {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    let raw_query = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode_query_part(k), encode_query_part(v)))
        .collect::<Vec<_>>()
        .join("&");
    let body = decode_body(ev.body.as_deref(), ev.is_base64_encoded, &mut malformed);
    GatewayRequest {
        method: ev.http_method,
        raw_path: ev.path.unwrap_or_else(|| "/".to_owned()),
        path_decoded: false,
        raw_query,
        headers,
        header_spelling,
        body,
        source_ip: ctx.identity.source_ip.unwrap_or_default(),
        user_agent: ctx.identity.user_agent,
        request_id: ctx.request_id.unwrap_or_else(new_request_id),
        extended_request_id,
        time_epoch_ms: if ctx.request_time_epoch > 0 { ctx.request_time_epoch } else { clock.now_ms() },
        domain_name: ctx.domain_name,
        protocol: ctx.protocol.unwrap_or_else(|| "HTTP/1.1".to_owned()),
        malformed,
        deadline_ms: None,
        lambda_trace: None,
    }
}

fn decode_body(body: Option<&str>, is_base64: bool, malformed: &mut Option<String>) -> bytes::Bytes {
    match body.map(|b| body::decode(b, is_base64)) {
        None => bytes::Bytes::new(),
        Some(Ok(bytes)) => bytes,
        Some(Err(_)) => {
            *malformed = Some("isBase64Encoded is true but the body is not valid base64".to_owned());
            bytes::Bytes::new()
        }
    }
}

/// HTTP APIs put a named stage in front of the path (`/prod/pets`); routes are written without it.
fn strip_stage(path: String, stage: Option<&str>) -> String {
    match stage {
        Some(stage) if stage != "$default" => {
            let rest = path.strip_prefix('/').and_then(|p| p.strip_prefix(stage));
            match rest {
                Some("") => "/".to_owned(),
                Some(r) if r.starts_with('/') => r.to_owned(),
                _ => path,
            }
        }
        _ => path,
    }
}

fn encode_query_part(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Renders a response for the format of the event it answers.
pub fn render(origin: Origin, response: GatewayResponse) -> GatewayEventResponse {
    let GatewayResponse { status, mut headers, body } = response;
    let body = if body.is_empty() {
        (None, false)
    } else {
        let (text, b64) = body::encode(&headers, &body);
        (Some(Body::Text(text)), b64)
    };
    match origin {
        Origin::Http => {
            let cookies =
                headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok().map(str::to_owned)).collect();
            headers.remove(header::SET_COOKIE);
            let mut out = ApiGatewayV2httpResponse::default();
            out.status_code = i64::from(status.as_u16());
            out.headers = join_repeated(&headers);
            out.cookies = cookies;
            out.body = body.0;
            out.is_base64_encoded = body.1;
            GatewayEventResponse::Http(Box::new(out))
        }
        Origin::Rest => {
            let mut out = ApiGatewayProxyResponse::default();
            out.status_code = i64::from(status.as_u16());
            out.multi_value_headers = headers;
            out.body = body.0;
            out.is_base64_encoded = body.1;
            GatewayEventResponse::Rest(Box::new(out))
        }
    }
}

/// Payload 2.0 headers are single strings: repeated values are joined with ", ".
fn join_repeated(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.keys_len());
    for name in headers.keys() {
        if let Some(v) = join_values(headers.get_all(name).iter(), b", ") {
            out.insert(name.clone(), v);
        }
    }
    out
}

/// One header value from several, joined with `separator`. A lone value is returned as is (no copy).
pub fn join_values<'a>(mut values: impl Iterator<Item = &'a HeaderValue>, separator: &[u8]) -> Option<HeaderValue> {
    let first = values.next()?;
    let Some(second) = values.next() else { return Some(first.clone()) };
    let mut joined = first.as_bytes().to_vec();
    for v in std::iter::once(second).chain(values) {
        joined.extend_from_slice(separator);
        joined.extend_from_slice(v.as_bytes());
    }
    HeaderValue::from_bytes(&joined).ok()
}

/// A recorded event from the repository's `events/` folder, for the core's own tests.
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_prefix_is_stripped_only_when_present() {
        assert_eq!(strip_stage("/prod/pets/1".into(), Some("prod")), "/pets/1");
        assert_eq!(strip_stage("/prod".into(), Some("prod")), "/");
        assert_eq!(strip_stage("/production/x".into(), Some("prod")), "/production/x");
        assert_eq!(strip_stage("/pets".into(), Some("$default")), "/pets");
    }

    /// Found by the `event` fuzz target: a REST event whose multi-value query parameter has no values
    /// panicked inside the typed event's query map.
    #[test]
    fn empty_multi_value_lists_are_no_values_not_a_panic() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/rest-api-get-pet.json"))
            .expect("recorded event");
        let mut event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        event["multiValueQueryStringParameters"] = serde_json::json!({ "verbose": [], "x": ["1", "2"] });
        event["queryStringParameters"] = serde_json::json!({ "x": "2" });
        event["multiValueHeaders"]["X-Forwarded-For"] = serde_json::json!([]);
        let GatewayEvent::Rest(rest) = GatewayEvent::from_json(&event.to_string()).expect("an event") else {
            panic!("a REST event")
        };
        let request = from_rest(*rest, &crate::clock::ManualClock::at(0));
        assert_eq!(request.raw_query, "x=1&x=2");
    }
}
