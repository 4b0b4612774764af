//! Payload format 2.0: what an HTTP API (or a Function URL) sends a function.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Common, Recipient, authorizer_v2, passed};
use crate::request::{ApiContext, ApiType, GatewayRequest};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct V2<'a> {
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

pub(super) fn event<'a>(
    request: &'a GatewayRequest,
    route_key: &'a str,
    context: &'a ApiContext,
    common: &'a Common<'a>,
    recipient: Recipient<'a>,
) -> V2<'a> {
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
    let mut event = V2 {
        version: "2.0",
        route_key,
        raw_path: &common.staged_path,
        raw_query_string: &request.raw_query,
        cookies,
        headers: joined_headers(request, context.api_type),
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
    };
    match recipient {
        Recipient::Integration { authorized, .. } => event.request_context.authorizer = authorized.map(authorizer_v2),
        Recipient::Authorizer { arn, values } => {
            event.body = None;
            event.is_base64_encoded = None;
            event.kind = Some("REQUEST");
            event.route_arn = Some(arn);
            event.identity_source = Some(values);
        }
    }
    event
}

/// Header names lowercased, repeated values joined with ",". Like a Function URL, `cookie` stays a header as
/// well as travelling as `cookies`.
fn joined_headers(request: &GatewayRequest, api: ApiType) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in request.headers.iter().filter(|(name, _)| passed(name, api)) {
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
