//! Payload format 1.0: what a REST API sends a function, and what an HTTP API sends one that asked for 1.0.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Common, Recipient, authorizer_v1, passed};
use crate::request::{ApiContext, ApiType, GatewayRequest};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct V1<'a> {
    /// HTTP APIs send `"1.0"`; REST APIs send no version.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'static str>,
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
    /// REST only.
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment_id: Option<&'a str>,
    domain_name: &'a str,
    domain_prefix: &'a str,
    extended_request_id: String,
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
    /// REST: the API key used (null without one). HTTP APIs never send it.
    #[serde(skip_serializing_if = "Absent::is_absent")]
    api_key: Absent<&'a str>,
    /// The key's id: REST sends null without one, HTTP APIs leave it out.
    #[serde(skip_serializing_if = "Absent::is_absent")]
    api_key_id: Absent<&'a str>,
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

/// A field that is left out, `null`, or a value.
#[derive(Clone, Copy)]
enum Absent<T> {
    Out,
    Null,
    Value(T),
}

impl<T> Absent<T> {
    fn is_absent(&self) -> bool {
        matches!(self, Self::Out)
    }
}

impl<T: Serialize> Serialize for Absent<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => v.serialize(serializer),
            Self::Out | Self::Null => serializer.serialize_none(),
        }
    }
}

pub(super) fn event<'a>(
    request: &'a GatewayRequest,
    route_key: &'a str,
    context: &'a ApiContext,
    common: &'a Common<'a>,
    recipient: Recipient<'a>,
) -> V1<'a> {
    let rest = context.api_type == ApiType::Rest;
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
    for (name, value) in request.headers.iter().filter(|(name, _)| passed(name, context.api_type)) {
        if let Ok(v) = value.to_str() {
            let name = if rest { spelled(request, name.as_str()) } else { name.as_str().to_owned() };
            multi_headers.entry(name).or_default().push(v);
        }
    }
    let headers = multi_headers.iter().filter_map(|(k, vs)| vs.last().map(|v| (k.clone(), (*v).to_owned()))).collect();
    let mut event = V1 {
        version: (!rest).then_some("1.0"),
        resource,
        path: &request.raw_path,
        http_method: request.method.as_str(),
        headers,
        multi_value_headers: multi_headers,
        query_string_parameters: (!single_query.is_empty()).then_some(single_query),
        multi_value_query_string_parameters: (!multi_query.is_empty()).then_some(multi_query),
        path_parameters: common.path_params.as_ref(),
        stage_variables: common.stage_variables,
        request_context: request_context_of(request, route_key, context, common, recipient),
        body: Some(common.body.as_ref().map(|(b, _)| b.as_str())),
        is_base64_encoded: Some(common.body.as_ref().is_some_and(|(_, b64)| *b64)),
        kind: None,
        method_arn: None,
        identity_source: None,
        authorization_token: None,
    };
    if let Recipient::Authorizer { arn, values } = recipient {
        event.body = None;
        event.is_base64_encoded = None;
        event.kind = Some("REQUEST");
        event.method_arn = Some(arn);
        let joined = values.join(",");
        event.identity_source = Some(joined.clone());
        event.authorization_token = Some(joined);
    }
    event
}

/// `$context` of a REST mapping template: the `requestContext` of the event the request would send.
pub(super) fn request_context(
    request: &GatewayRequest,
    route_key: &str,
    context: &ApiContext,
    common: &Common<'_>,
    recipient: Recipient<'_>,
) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(request_context_of(request, route_key, context, common, recipient))
}

fn request_context_of<'a>(
    request: &'a GatewayRequest,
    route_key: &'a str,
    context: &'a ApiContext,
    common: &'a Common<'a>,
    recipient: Recipient<'a>,
) -> V1Context<'a> {
    let rest = context.api_type == ApiType::Rest;
    let resource = route_key.split_once(' ').map_or(route_key, |(_, path)| path);
    let key = match recipient {
        Recipient::Integration { api_key, .. } => api_key,
        Recipient::Authorizer { .. } => None,
    };
    let (api_key, api_key_id) = match (key, rest) {
        (Some(k), true) => (Absent::Value(k.value), Absent::Value(k.id)),
        (Some(k), false) => (Absent::Out, Absent::Value(k.id)),
        (None, true) => (Absent::Null, Absent::Null),
        (None, false) => (Absent::Out, Absent::Out),
    };
    V1Context {
        account_id: "anonymous",
        api_id: &context.api_id,
        deployment_id: rest.then_some(context.deployment_id.as_str()),
        domain_name: common.domain_name,
        domain_prefix: common.domain_prefix,
        extended_request_id: request.extended_request_id(),
        http_method: request.method.as_str(),
        identity: V1Identity {
            access_key: None,
            account_id: None,
            api_key,
            api_key_id,
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
        authorizer: match recipient {
            Recipient::Integration { authorized, .. } => authorized.map(|a| authorizer_v1(a, context.api_type)),
            Recipient::Authorizer { .. } => None,
        },
    }
}

/// A header's name as the caller spelled it when the front door kept the spelling, else canonical
/// `Title-Case` (`x-amzn-trace-id` → `X-Amzn-Trace-Id`).
pub(super) fn spelled(request: &GatewayRequest, lower: &str) -> String {
    if let Some(original) = request.header_spelling.iter().find(|n| n.eq_ignore_ascii_case(lower)) {
        return original.clone();
    }
    let mut out = String::with_capacity(lower.len());
    let mut start = true;
    for c in lower.chars() {
        out.push(if start { c.to_ascii_uppercase() } else { c });
        start = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_the_callers_spelling_or_become_title_case() {
        let mut request = GatewayRequest::new(http::Method::GET, "/");
        request.header_spelling = vec!["X-API-key".to_owned()];
        assert_eq!(spelled(&request, "x-api-key"), "X-API-key");
        assert_eq!(spelled(&request, "x-amzn-trace-id"), "X-Amzn-Trace-Id");
        assert_eq!(spelled(&request, "accept"), "Accept");
    }
}
