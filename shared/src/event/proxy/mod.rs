//! The events Lambda functions receive for a request, payload formats 1.0 and 2.0, shaped as API Gateway sends
//! them (behaviour reference §1.1, §1.2): the proxy event an integration gets, and the `REQUEST` event a Lambda
//! authorizer gets (the same event less the body, plus `type`, the ARN and the identity). Built from borrowed
//! data and serialized once, straight to bytes.

use std::collections::BTreeMap;

use http::HeaderMap;
use serde::Serialize;

use super::{body, time::request_time};
use crate::{
    config::PayloadVersion,
    request::{ApiContext, Authorized, GatewayRequest, Matched},
};

/// Who the event is for.
#[derive(Debug, Clone, Copy)]
pub enum Recipient<'a> {
    /// The route's integration, told what the authorizer established.
    Integration { authorized: Option<&'a Authorized> },
    /// A `REQUEST` Lambda authorizer, judging `arn` by the identity sources' `values`.
    Authorizer { arn: &'a str, values: &'a [String] },
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
        PayloadVersion::V2 => {
            let mut event = v2(request, &matched.key, context, &common);
            match recipient {
                Recipient::Integration { authorized } => {
                    event.request_context.authorizer = authorized.map(authorizer_v2);
                }
                Recipient::Authorizer { arn, values } => {
                    event.body = None;
                    event.is_base64_encoded = None;
                    event.kind = Some("REQUEST");
                    event.route_arn = Some(arn);
                    event.identity_source = Some(values);
                }
            }
            serde_json::to_vec(&event)
        }
        PayloadVersion::V1 => {
            let mut event = v1(request, &matched.key, context, &common);
            match recipient {
                Recipient::Integration { authorized } => {
                    event.request_context.authorizer = authorized.map(authorizer_v1);
                }
                Recipient::Authorizer { arn, values } => {
                    event.body = None;
                    event.is_base64_encoded = None;
                    event.kind = Some("REQUEST");
                    event.method_arn = Some(arn);
                    let joined = values.join(",");
                    event.identity_source = Some(joined.clone());
                    event.authorization_token = Some(joined);
                }
            }
            serde_json::to_vec(&event)
        }
    }
}

/// `requestContext.authorizer` in payload 2.0: `{"jwt": {"claims", "scopes"}}` or `{"lambda": context}`.
fn authorizer_v2(authorized: &Authorized) -> serde_json::Value {
    match authorized {
        Authorized::Jwt { claims, scopes } => serde_json::json!({ "jwt": { "claims": claims, "scopes": scopes } }),
        Authorized::Lambda { context, .. } => serde_json::json!({ "lambda": context }),
    }
}

/// `requestContext.authorizer` in payload 1.0: `{"claims", "scopes"}`, or the context with `principalId`.
pub fn authorizer_v1(authorized: &Authorized) -> serde_json::Value {
    match authorized {
        Authorized::Jwt { claims, scopes } => serde_json::json!({ "claims": claims, "scopes": scopes }),
        Authorized::Lambda { principal_id, context, .. } => {
            let mut map = context.clone();
            if let Some(p) = principal_id {
                map.insert("principalId".to_owned(), serde_json::Value::String(p.clone()));
            }
            serde_json::Value::Object(map)
        }
    }
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
        let domain_name = request.domain_name.as_deref().unwrap_or("localhost");
        let staged_path = if context.stage == "$default" {
            request.raw_path.clone()
        } else {
            format!("/{}{}", context.stage, request.raw_path)
        };
        Self {
            body: (!request.body.is_empty()).then(|| body::encode(&request.headers, &request.body)),
            path_params: (!matched.params.is_empty())
                .then(|| matched.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()),
            stage_variables: (!context.stage_variables.is_empty()).then_some(&context.stage_variables),
            query: form_urlencoded::parse(request.raw_query.as_bytes()).into_owned().collect(),
            domain_name,
            domain_prefix: domain_name.split('.').next().unwrap_or(domain_name),
            request_time: request_time(request.time_epoch_ms),
            staged_path,
        }
    }
}

// ===== payload format 2.0 =====

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2<'a> {
    version: &'static str,
    route_key: &'a str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<&'a str>,
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_string_parameters: Option<BTreeMap<&'a str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_parameters: Option<&'a BTreeMap<&'a str, &'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage_variables: Option<&'a BTreeMap<String, String>>,
    request_context: V2Context<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    /// `None` for an authorizer, which gets no body.
    #[serde(skip_serializing_if = "Option::is_none")]
    is_base64_encoded: Option<bool>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_source: Option<&'a [String]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2Context<'a> {
    account_id: &'static str,
    api_id: &'a str,
    domain_name: &'a str,
    domain_prefix: &'a str,
    http: V2Http<'a>,
    request_id: &'a str,
    route_key: &'a str,
    stage: &'a str,
    time: &'a str,
    time_epoch: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2Http<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'a str,
    source_ip: &'a str,
    user_agent: &'a str,
}

fn v2<'a>(request: &'a GatewayRequest, route_key: &'a str, context: &'a ApiContext, common: &'a Common<'a>) -> V2<'a> {
    let cookies = request
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';').map(str::trim).filter(|c| !c.is_empty()))
        .collect();
    let mut query: BTreeMap<&str, String> = BTreeMap::new();
    for (k, v) in &common.query {
        query
            .entry(k.as_str())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(v);
            })
            .or_insert_with(|| v.clone());
    }
    V2 {
        version: "2.0",
        route_key,
        raw_path: &common.staged_path,
        raw_query_string: &request.raw_query,
        cookies,
        headers: joined_headers(&request.headers),
        query_string_parameters: (!query.is_empty()).then_some(query),
        path_parameters: common.path_params.as_ref(),
        stage_variables: common.stage_variables,
        request_context: V2Context {
            account_id: "anonymous",
            api_id: &context.api_id,
            domain_name: common.domain_name,
            domain_prefix: common.domain_prefix,
            http: V2Http {
                method: request.method.as_str(),
                path: &common.staged_path,
                protocol: &request.protocol,
                source_ip: &request.source_ip,
                user_agent: request.user_agent.as_deref().unwrap_or(""),
            },
            request_id: &request.request_id,
            route_key,
            stage: &context.stage,
            time: &common.request_time,
            time_epoch: request.time_epoch_ms,
            authorizer: None,
        },
        body: common.body.as_ref().map(|(b, _)| b.as_str()),
        is_base64_encoded: Some(common.body.as_ref().is_some_and(|(_, b64)| *b64)),
        kind: None,
        route_arn: None,
        identity_source: None,
    }
}

// ===== payload format 1.0 =====

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V1<'a> {
    version: &'static str,
    resource: &'a str,
    path: &'a str,
    http_method: &'a str,
    headers: BTreeMap<String, String>,
    multi_value_headers: BTreeMap<String, Vec<&'a str>>,
    query_string_parameters: Option<BTreeMap<&'a str, &'a str>>,
    multi_value_query_string_parameters: Option<BTreeMap<&'a str, Vec<&'a str>>>,
    path_parameters: Option<&'a BTreeMap<&'a str, &'a str>>,
    stage_variables: Option<&'a BTreeMap<String, String>>,
    request_context: V1Context<'a>,
    /// `None` (absent) for an authorizer; `Some(None)` is a body-less request's `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_base64_encoded: Option<bool>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V1Context<'a> {
    account_id: &'static str,
    api_id: &'a str,
    domain_name: &'a str,
    domain_prefix: &'a str,
    extended_request_id: &'a str,
    http_method: &'a str,
    identity: V1Identity<'a>,
    path: &'a str,
    protocol: &'a str,
    request_id: &'a str,
    request_time: &'a str,
    request_time_epoch: i64,
    resource_id: &'a str,
    resource_path: &'a str,
    stage: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V1Identity<'a> {
    access_key: Option<&'a str>,
    account_id: Option<&'a str>,
    caller: Option<&'a str>,
    cognito_authentication_provider: Option<&'a str>,
    cognito_authentication_type: Option<&'a str>,
    cognito_identity_id: Option<&'a str>,
    cognito_identity_pool_id: Option<&'a str>,
    principal_org_id: Option<&'a str>,
    source_ip: &'a str,
    user: Option<&'a str>,
    user_agent: &'a str,
    user_arn: Option<&'a str>,
}

fn v1<'a>(request: &'a GatewayRequest, route_key: &'a str, context: &'a ApiContext, common: &'a Common<'a>) -> V1<'a> {
    // `GET /pets/{id}` → resource `/pets/{id}`; `$default` stays `$default`.
    let resource = route_key.split_once(' ').map_or(route_key, |(_, path)| path);
    let mut multi_query: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in &common.query {
        multi_query.entry(k.as_str()).or_default().push(v.as_str());
    }
    // The single-value maps carry the last value of a repeated key.
    let single_query: BTreeMap<&str, &str> =
        multi_query.iter().filter_map(|(k, vs)| vs.last().map(|v| (*k, *v))).collect();
    let mut multi_headers: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, value) in &request.headers {
        if let Ok(v) = value.to_str() {
            multi_headers.entry(name.as_str().to_owned()).or_default().push(v);
        }
    }
    let headers = multi_headers.iter().filter_map(|(k, vs)| vs.last().map(|v| (k.clone(), (*v).to_owned()))).collect();
    V1 {
        version: "1.0",
        resource,
        path: &request.raw_path,
        http_method: request.method.as_str(),
        headers,
        multi_value_headers: multi_headers,
        query_string_parameters: (!single_query.is_empty()).then_some(single_query),
        multi_value_query_string_parameters: (!multi_query.is_empty()).then_some(multi_query),
        path_parameters: common.path_params.as_ref(),
        stage_variables: common.stage_variables,
        request_context: V1Context {
            account_id: "anonymous",
            api_id: &context.api_id,
            domain_name: common.domain_name,
            domain_prefix: common.domain_prefix,
            extended_request_id: &request.request_id,
            http_method: request.method.as_str(),
            identity: V1Identity {
                access_key: None,
                account_id: None,
                caller: None,
                cognito_authentication_provider: None,
                cognito_authentication_type: None,
                cognito_identity_id: None,
                cognito_identity_pool_id: None,
                principal_org_id: None,
                source_ip: &request.source_ip,
                user: None,
                user_agent: request.user_agent.as_deref().unwrap_or(""),
                user_arn: None,
            },
            path: &common.staged_path,
            protocol: &request.protocol,
            request_id: &request.request_id,
            request_time: &common.request_time,
            request_time_epoch: request.time_epoch_ms,
            resource_id: route_key,
            resource_path: resource,
            stage: &context.stage,
            authorizer: None,
        },
        body: Some(common.body.as_ref().map(|(b, _)| b.as_str())),
        is_base64_encoded: Some(common.body.as_ref().is_some_and(|(_, b64)| *b64)),
        kind: None,
        method_arn: None,
        identity_source: None,
        authorization_token: None,
    }
}

/// Header names lowercased, repeated values joined with ",". Like a Function URL, `cookie` stays a header as
/// well as travelling as `cookies`.
fn joined_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let Ok(value) = value.to_str() else { continue };
        out.entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    out
}
