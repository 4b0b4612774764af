//! The events Lambda functions receive for a request, payload formats 1.0 (`v1.rs`) and 2.0 (`v2.rs`), shaped
//! as the API type sends them (behaviour reference §1.1, §1.2): the proxy event an integration gets, and the
//! `REQUEST` event a Lambda authorizer gets (the same event less the body, plus `type`, the ARN and the
//! identity). Built from borrowed data and serialized once, straight to bytes.
//!
//! What the two API types send differently in 1.0 events: a REST API keeps the caller's spelling of header
//! names (canonical `Title-Case` where the front door lowercased them), sends no `version`, adds a
//! `deploymentId` and the API key, keeps path parameters percent-encoded, passes authorizer context values as
//! strings with `integrationLatency`, drops `Content-Length`, and sends a body as base64 only when its type is
//! one of the API's `binaryMediaTypes`.

mod v1;
mod v2;

use std::collections::BTreeMap;

use http::HeaderName;
use serde_json::{Map, Value};

use super::{body, time::request_time};
use crate::{
    config::PayloadVersion,
    request::{ApiContext, ApiType, Authorized, GatewayRequest, Matched},
};

/// Who the event is for.
#[derive(Debug, Clone, Copy)]
pub enum Recipient<'a> {
    /// The route's integration, told what the authorizer established and which API key the caller used.
    Integration { authorized: Option<&'a Authorized>, api_key: Option<ApiKeyUse<'a>> },
    /// A `REQUEST` Lambda authorizer, judging `arn` by the identity sources' `values`.
    Authorizer { arn: &'a str, values: &'a [String] },
}

/// The API key a request was admitted with: `identity.apiKey` and `identity.apiKeyId` of 1.0 events.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyUse<'a> {
    pub value: &'a str,
    pub id: &'a str,
}

/// Serializes the event for `version`.
pub fn build(
    version: PayloadVersion,
    request: &GatewayRequest,
    matched: &Matched,
    context: &ApiContext,
    recipient: Recipient<'_>,
) -> Result<Vec<u8>, serde_json::Error> {
    let common = Common::new(request, matched, context);
    match version {
        PayloadVersion::V2 => serde_json::to_vec(&v2::event(request, &matched.key, context, &common, recipient)),
        PayloadVersion::V1 => serde_json::to_vec(&v1::event(request, &matched.key, context, &common, recipient)),
    }
}

/// `requestContext.authorizer` in payload 2.0: `{"jwt": {"claims", "scopes"}}` or `{"lambda": context}`.
fn authorizer_v2(authorized: &Authorized) -> Value {
    match authorized {
        Authorized::Jwt { claims, scopes } => serde_json::json!({ "jwt": { "claims": claims, "scopes": scopes } }),
        Authorized::Lambda { context, .. } => serde_json::json!({ "lambda": context }),
    }
}

/// `requestContext.authorizer` in payload 1.0: `{"claims", "scopes"}`, or the context with `principalId`. A
/// REST API passes the context's values as strings, and how long the authorizer took (`integrationLatency`, ms;
/// 0 for a cached answer).
pub fn authorizer_v1(authorized: &Authorized, api: ApiType) -> Value {
    match authorized {
        Authorized::Jwt { claims, scopes } => serde_json::json!({ "claims": claims, "scopes": scopes }),
        Authorized::Lambda { principal_id, context, latency_ms, .. } => {
            let mut map: Map<String, Value> = match api {
                ApiType::Http => context.clone(),
                ApiType::Rest => context
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.as_str().map_or_else(|| v.to_string(), str::to_owned))))
                    .collect(),
            };
            if let Some(p) = principal_id {
                map.insert("principalId".to_owned(), Value::String(p.clone()));
            }
            if api == ApiType::Rest {
                map.insert("integrationLatency".to_owned(), Value::from(*latency_ms));
            }
            Value::Object(map)
        }
    }
}

/// Request headers API Gateway never passes to a function: hop-by-hop ones and those it reserves.
const NOT_PASSED: [HeaderName; 11] = [
    http::header::CONNECTION,
    HeaderName::from_static("content-md5"),
    http::header::EXPECT,
    http::header::MAX_FORWARDS,
    http::header::PROXY_AUTHENTICATE,
    http::header::SERVER,
    http::header::TE,
    http::header::TRAILER,
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
    http::header::WWW_AUTHENTICATE,
];

/// Whether a request header reaches the function in an event of the API type (a REST API drops
/// `Content-Length` too).
fn passed(name: &HeaderName, api: ApiType) -> bool {
    let rest_only = api == ApiType::Rest && name == http::header::CONTENT_LENGTH;
    !rest_only && !NOT_PASSED.contains(name)
}

/// What both formats derive from the request.
struct Common<'a> {
    body: Option<(String, bool)>,
    path_params: Option<BTreeMap<&'a str, &'a str>>,
    stage_variables: Option<&'a BTreeMap<String, String>>,
    query: Vec<(String, String)>,
    domain_name: &'a str,
    domain_prefix: &'a str,
    request_time: String,
    /// Path as API Gateway reports it: with the stage in front for a named stage.
    staged_path: String,
}

impl<'a> Common<'a> {
    fn new(request: &'a GatewayRequest, matched: &'a Matched, context: &'a ApiContext) -> Self {
        let body = (!request.body.is_empty()).then(|| match context.api_type {
            ApiType::Http => body::encode(&request.headers, &request.body),
            // A REST API sends text unless the request's type is one of its binary media types.
            ApiType::Rest => {
                let content_type = request.header(http::header::CONTENT_TYPE.as_str());
                if context.binary_media_types.matches(content_type) {
                    (body::base64(&request.body), true)
                } else {
                    (String::from_utf8_lossy(&request.body).into_owned(), false)
                }
            }
        });
        Self { body, ..Self::without_body(request, matched, context) }
    }

    /// Everything but the body, which only the proxy event carries (a template reads it from the request).
    fn without_body(request: &'a GatewayRequest, matched: &'a Matched, context: &'a ApiContext) -> Self {
        let domain_name = request.domain_name.as_deref().unwrap_or("localhost");
        let staged_path = if context.stage == "$default" {
            request.raw_path.clone()
        } else {
            format!("/{}{}", context.stage, request.raw_path)
        };
        let path_params = (!matched.params.is_empty()).then(|| path_parameters(matched, context.api_type).collect());
        Self {
            body: None,
            path_params,
            stage_variables: (!context.stage_variables.is_empty()).then_some(&context.stage_variables),
            query: form_urlencoded::parse(request.raw_query.as_bytes()).into_owned().collect(),
            domain_name,
            domain_prefix: domain_name.split('.').next().unwrap_or(domain_name),
            request_time: request_time(request.time_epoch_ms),
            staged_path,
        }
    }
}

/// A route's path parameters as the API type passes them: a REST API as the client encoded them, an HTTP API
/// decoded.
fn path_parameters(matched: &Matched, api: ApiType) -> impl Iterator<Item = (&str, &str)> {
    let values: Box<dyn Iterator<Item = &str>> = match api {
        ApiType::Http => Box::new(matched.params.iter().map(|(_, v)| v.as_str())),
        ApiType::Rest => Box::new(matched.raw_params.iter().map(String::as_str)),
    };
    matched.params.iter().map(|(k, _)| k.as_str()).zip(values)
}

/// What a REST API's mapping templates read about a request besides its body: `$input.params()`, as the 1.0
/// event shows the parameters (path parameters as the client encoded them, header names as spelled, a repeated
/// name's last value) but in request order, which templates iterate; and `$context`, which is that event's
/// `requestContext`, so the two never disagree.
#[derive(Debug, Clone)]
pub struct TemplateParams {
    pub path: Vec<(String, String)>,
    pub querystring: Vec<(String, String)>,
    pub header: Vec<(String, String)>,
    pub context: Value,
}

/// [`TemplateParams`] for a request to an integration (`recipient`), built per request.
pub fn template_params(
    request: &GatewayRequest,
    matched: &Matched,
    context: &ApiContext,
    recipient: Recipient<'_>,
) -> Result<TemplateParams, serde_json::Error> {
    let common = Common::without_body(request, matched, context);
    let owned = |(k, v): (&str, &str)| (k.to_owned(), v.to_owned());
    let headers =
        request.headers.iter().filter(|(name, _)| passed(name, context.api_type)).filter_map(|(name, value)| {
            let name = match context.api_type {
                ApiType::Rest => v1::spelled(request, name.as_str()),
                ApiType::Http => name.as_str().to_owned(),
            };
            Some((name, value.to_str().ok()?.to_owned()))
        });
    Ok(TemplateParams {
        path: path_parameters(matched, context.api_type).map(owned).collect(),
        querystring: last_values(common.query.iter().map(|(k, v)| (k.clone(), v.clone()))),
        header: last_values(headers),
        context: v1::request_context(request, &matched.key, context, &common, recipient)?,
    })
}

/// Each name once, where it first appears, with its last value.
fn last_values(pairs: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in pairs {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => out.push((name, value)),
        }
    }
    out
}
