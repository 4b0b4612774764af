//! WebSocket events and responses as API Gateway sends and reads them (`$connect`, MESSAGE, `$disconnect`).
//!
//! Tollgate's own types rather than aws_lambda_events': these are also *produced* (by `tollgate serve`, and
//! for Lambda route integrations), and the crate's types serialize every absent field as `null`, which API
//! Gateway never sends. Reading is lenient (unknown fields are ignored), as it is for AWS's own fixtures.

use std::collections::BTreeMap;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    auth::{lambda::PresetEvent, route_arn},
    request::{ApiContext, GatewayRequest},
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_value_headers: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string_parameters: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_value_query_string_parameters: Option<BTreeMap<String, Vec<String>>>,
    pub request_context: WsContext,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    /// The trace of the Lambda invocation that delivered the event (`_X_AMZN_TRACE_ID`), which its integration
    /// continues. Never part of the event's JSON.
    #[serde(skip)]
    pub lambda_trace: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsContext {
    #[serde(default)]
    pub route_key: String,
    /// `CONNECT`, `MESSAGE` or `DISCONNECT`.
    #[serde(default)]
    pub event_type: String,
    #[serde(default)]
    pub connection_id: String,
    #[serde(default)]
    pub connected_at: i64,
    #[serde(default)]
    pub domain_name: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub api_id: String,
    #[serde(default)]
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_request_id: Option<String>,
    #[serde(default)]
    pub request_time: String,
    #[serde(default)]
    pub request_time_epoch: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default)]
    pub message_direction: String,
    #[serde(default)]
    pub identity: WsIdentity,
    /// What a `$connect` authorizer returned (integrations of later routes receive it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_status_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsIdentity {
    #[serde(default)]
    pub source_ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
}

/// What a WebSocket route's function answers; for `$connect` the status decides the handshake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsResponse {
    #[serde(default = "ok")]
    pub status_code: u16,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_base64_encoded: bool,
}

fn ok() -> u16 {
    200
}

impl WsResponse {
    pub fn ok() -> Self {
        Self { status_code: 200, ..Self::default() }
    }

    /// API Gateway's error shape: `{"message": "..."}` with the status.
    pub fn error(status: u16, message: &str) -> Self {
        Self {
            status_code: status,
            headers: BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]),
            body: Some(serde_json::json!({ "message": message }).to_string()),
            is_base64_encoded: false,
        }
    }

    /// The body's bytes (decoded when base64).
    pub fn body_bytes(&self) -> Option<Vec<u8>> {
        let body = self.body.as_ref()?;
        if self.is_base64_encoded {
            base64::engine::general_purpose::STANDARD.decode(body).ok()
        } else {
            Some(body.clone().into_bytes())
        }
    }
}

/// The frame API Gateway sends a client whose message it could not route or serve, written as it writes it (a
/// space after the first colon and after each comma; client libraries match on the text):
/// `{"message": "Forbidden", "connectionId":"…", "requestId":"…"}`.
pub fn error_frame(message: &str, connection_id: &str, request_id: &str) -> String {
    let text = |s: &str| Value::from(s).to_string();
    format!(
        r#"{{"message": {}, "connectionId":{}, "requestId":{}}}"#,
        text(message),
        text(connection_id),
        text(request_id)
    )
}

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not a WebSocket event: {0}")]
    Shape(String),
    #[error("the event has no {0}")]
    Missing(&'static str),
}

impl WsEvent {
    /// The X-Ray trace the event continues: on Lambda the invocation's own (messages carry no headers), else
    /// the handshake's `X-Amzn-Trace-Id` (`$connect` events), as the HTTP pipeline orders them.
    pub fn trace_id(&self) -> Option<&str> {
        if let Some(trace) = self.lambda_trace.as_deref() {
            return Some(trace);
        }
        let headers = self.headers.as_ref()?;
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-trace-id")).map(|(_, v)| v.as_str())
    }

    /// Reads an event as Lambda delivers it, checking the fields every route needs.
    pub fn parse(payload: Value) -> Result<Self, EventError> {
        let event: Self = serde_json::from_value(payload).map_err(|e| EventError::Shape(e.to_string()))?;
        if event.request_context.connection_id.is_empty() {
            return Err(EventError::Missing("requestContext.connectionId"));
        }
        if event.request_context.route_key.is_empty() {
            return Err(EventError::Missing("requestContext.routeKey"));
        }
        Ok(event)
    }

    pub fn connection_id(&self) -> &str {
        &self.request_context.connection_id
    }

    /// The message's bytes (decoded when base64); `None` when a base64 body does not decode.
    pub fn body_bytes(&self) -> Option<Vec<u8>> {
        let body = self.body.as_deref().unwrap_or("");
        if self.is_base64_encoded {
            base64::engine::general_purpose::STANDARD.decode(body).ok()
        } else {
            Some(body.as_bytes().to_vec())
        }
    }

    /// The headers, from `multiValueHeaders` with `headers` filling in what it lacks.
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        let mut put = |name: &str, value: &str| {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                map.append(n, v);
            }
        };
        let multi = self.multi_value_headers.as_ref();
        for (name, values) in multi.into_iter().flatten() {
            values.iter().for_each(|v| put(name, v));
        }
        for (name, value) in self.headers.iter().flatten() {
            if !multi.is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(name))) {
                put(name, value);
            }
        }
        map
    }

    fn query_value(&self, name: &str) -> Option<&str> {
        let multi = self.multi_value_query_string_parameters.as_ref().and_then(|m| m.get(name)?.last());
        multi.or_else(|| self.query_string_parameters.as_ref()?.get(name)).map(String::as_str)
    }

    /// The handshake as the gateway's pipeline sees it: a GET with the handshake's headers and query.
    pub fn handshake_request(&self) -> GatewayRequest {
        let ctx = &self.request_context;
        let mut query = form_urlencoded::Serializer::new(String::new());
        match (&self.multi_value_query_string_parameters, &self.query_string_parameters) {
            (Some(multi), _) => multi.iter().for_each(|(k, vs)| vs.iter().for_each(|v| _ = query.append_pair(k, v))),
            (None, Some(single)) => single.iter().for_each(|(k, v)| _ = query.append_pair(k, v)),
            (None, None) => {}
        }
        let mut headers = self.header_map();
        // Browsers cannot set headers on a WebSocket handshake, so the key may come in the query string.
        if !headers.contains_key("x-api-key")
            && let Some(key) = self.query_value("apiKey")
            && let Ok(value) = HeaderValue::try_from(key)
        {
            headers.insert("x-api-key", value);
        }
        GatewayRequest {
            raw_query: query.finish(),
            headers,
            source_ip: ctx.identity.source_ip.clone(),
            user_agent: ctx.identity.user_agent.clone(),
            request_id: ctx.request_id.clone(),
            time_epoch_ms: ctx.request_time_epoch,
            domain_name: Some(ctx.domain_name.clone()).filter(|d| !d.is_empty()),
            // The handshake's authorizer continues the invocation's trace, as an HTTP request's does.
            lambda_trace: self.lambda_trace.clone(),
            ..GatewayRequest::new(http::Method::GET, "/")
        }
    }

    /// The event a `$connect` Lambda authorizer gets: this one less its body and any earlier authorizer's
    /// result, with `type: REQUEST`, the stage's variables, and `methodArn` `{api}/{stage}/$connect` (the API's
    /// stage when the event names none).
    pub fn authorizer_event(&self, api: &ApiContext) -> Result<PresetEvent, serde_json::Error> {
        let ctx = &self.request_context;
        let stage = if ctx.stage.is_empty() { api.stage.as_str() } else { ctx.stage.as_str() };
        let arn = route_arn(&api.arn_prefix, &ctx.api_id, stage, &ctx.route_key);
        let request_context = WsContext { authorizer: None, ..ctx.clone() };
        let event = ConnectAuthorizerEvent {
            kind: "REQUEST",
            method_arn: &arn,
            headers: self.headers.as_ref(),
            multi_value_headers: self.multi_value_headers.as_ref(),
            query_string_parameters: self.query_string_parameters.as_ref(),
            multi_value_query_string_parameters: self.multi_value_query_string_parameters.as_ref(),
            stage_variables: &api.stage_variables,
            request_context: &request_context,
        };
        Ok(PresetEvent { event: serde_json::to_vec(&event)?, arn })
    }
}

/// What a `$connect` Lambda authorizer is sent (API Gateway's WebSocket `REQUEST` authorizer event).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectAuthorizerEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    method_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<&'a BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_string_parameters: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_query_string_parameters: Option<&'a BTreeMap<String, Vec<String>>>,
    stage_variables: &'a BTreeMap<String, String>,
    request_context: &'a WsContext,
}

/// What the front door knows about one connection, to build its events.
#[derive(Debug, Clone)]
pub struct Peer {
    pub connection_id: String,
    pub connected_at: i64,
    pub domain_name: String,
    pub stage: String,
    pub api_id: String,
    pub source_ip: String,
    pub user_agent: Option<String>,
}

impl Peer {
    fn context(&self, route_key: &str, event_type: &str, now_ms: i64) -> WsContext {
        let request_id = crate::event::new_request_id();
        WsContext {
            route_key: route_key.to_owned(),
            event_type: event_type.to_owned(),
            connection_id: self.connection_id.clone(),
            connected_at: self.connected_at,
            domain_name: self.domain_name.clone(),
            stage: self.stage.clone(),
            api_id: self.api_id.clone(),
            extended_request_id: Some(request_id.clone()),
            request_id,
            request_time: crate::event::time::request_time(now_ms),
            request_time_epoch: now_ms,
            message_id: None,
            message_direction: "IN".to_owned(),
            identity: WsIdentity { source_ip: self.source_ip.clone(), ..WsIdentity::default() },
            authorizer: None,
            disconnect_status_code: None,
            disconnect_reason: None,
        }
    }

    /// The `$connect` event of a handshake (headers and query string as received).
    pub fn connect_event(&self, headers: &HeaderMap, query: &str, now_ms: i64) -> WsEvent {
        let mut single = BTreeMap::new();
        let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in headers {
            let Ok(value) = value.to_str() else { continue };
            let name = canonical_header(name.as_str());
            single.entry(name.clone()).or_insert_with(|| value.to_owned());
            multi.entry(name).or_default().push(value.to_owned());
        }
        let mut query_single = BTreeMap::new();
        let mut query_multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            // Like API Gateway: the last value wins in the single-value map.
            query_single.insert(k.to_string(), v.to_string());
            query_multi.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        let mut context = self.context("$connect", "CONNECT", now_ms);
        context.identity.user_agent.clone_from(&self.user_agent);
        context.identity.api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
        WsEvent {
            headers: Some(single),
            multi_value_headers: Some(multi),
            query_string_parameters: (!query_single.is_empty()).then_some(query_single),
            multi_value_query_string_parameters: (!query_multi.is_empty()).then_some(query_multi),
            request_context: context,
            body: None,
            is_base64_encoded: false,
            lambda_trace: None,
        }
    }

    /// A MESSAGE event; binary frames arrive base64-encoded.
    pub fn message_event(&self, route_key: &str, data: &[u8], binary: bool, now_ms: i64) -> WsEvent {
        let mut context = self.context(route_key, "MESSAGE", now_ms);
        context.message_id = Some(crate::event::new_request_id());
        context.identity.user_agent.clone_from(&self.user_agent);
        let body = if binary {
            base64::engine::general_purpose::STANDARD.encode(data)
        } else {
            String::from_utf8_lossy(data).into_owned()
        };
        WsEvent { request_context: context, body: Some(body), is_base64_encoded: binary, ..WsEvent::default() }
    }

    /// The `$disconnect` event, with the close code and reason (1005 when the close frame had none).
    pub fn disconnect_event(&self, code: Option<u16>, reason: &str, now_ms: i64) -> WsEvent {
        let mut context = self.context("$disconnect", "DISCONNECT", now_ms);
        context.disconnect_status_code = Some(i64::from(code.unwrap_or(1005)));
        context.disconnect_reason =
            Some(if code.is_none() { "Client-side close frame status not set".to_owned() } else { reason.to_owned() });
        let host = BTreeMap::from([("Host".to_owned(), self.domain_name.clone())]);
        let multi = BTreeMap::from([("Host".to_owned(), vec![self.domain_name.clone()])]);
        WsEvent {
            headers: Some(host),
            multi_value_headers: Some(multi),
            request_context: context,
            ..WsEvent::default()
        }
    }
}

/// `sec-websocket-key` → `Sec-WebSocket-Key`, as API Gateway presents handshake headers.
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| match part {
            "websocket" => "WebSocket".to_owned(),
            _ => {
                let mut chars = part.chars();
                chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_frames_are_written_as_api_gateway_writes_them() {
        assert_eq!(
            super::error_frame("Forbidden", "L0SM9cOFvHcCIhw=", "L0SM9FKbvHcFq-A="),
            r#"{"message": "Forbidden", "connectionId":"L0SM9cOFvHcCIhw=", "requestId":"L0SM9FKbvHcFq-A="}"#
        );
        let odd: serde_json::Value = serde_json::from_str(&super::error_frame("say \"hi\"", "a\\b", "")).expect("JSON");
        assert_eq!((odd["message"].as_str(), odd["connectionId"].as_str()), (Some("say \"hi\""), Some("a\\b")));
    }
}
