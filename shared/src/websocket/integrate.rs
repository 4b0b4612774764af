//! WebSocket routes' Lambda integrations: the route's event as API Gateway sends it, the function's reply as
//! API Gateway reads it (`{"statusCode", "headers", "body"}`; any other JSON is a 200 with that JSON as body).

use serde_json::Value;

use super::{WebSocketApi, event::WsEvent, event::WsResponse};
use crate::{
    clients::{InvokeFailure, invoke},
    config::WsLambda,
};

/// Why an integration gave no usable reply (the client is told "Internal server error").
#[derive(Debug, thiserror::Error)]
pub(super) enum IntegrationError {
    #[error("no Lambda client")]
    NoClient,
    #[error("cannot serialize the event: {0}")]
    Event(#[from] serde_json::Error),
    #[error(transparent)]
    Invoke(#[from] InvokeFailure),
}

impl WebSocketApi {
    pub(super) async fn invoke(&self, lambda: &WsLambda, event: &WsEvent) -> Result<WsResponse, IntegrationError> {
        let invoker = self.lambda.as_ref().ok_or(IntegrationError::NoClient)?;
        let payload = serde_json::to_vec(event)?;
        let trace = event.trace_id();
        Ok(invoke(invoker.as_ref(), &lambda.function, payload, lambda.timeout, trace, reply).await?)
    }
}

fn reply(payload: &[u8]) -> Result<WsResponse, String> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(WsResponse::ok());
    }
    let value: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    match value {
        Value::Null => Ok(WsResponse::ok()),
        Value::Object(ref obj) if obj.contains_key("statusCode") => {
            let status = match &obj["statusCode"] {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }
            .and_then(|n| u16::try_from(n).ok())
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| format!("statusCode {} is not an HTTP status", obj["statusCode"]))?;
            let headers = obj
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| h.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
                .unwrap_or_default();
            let body = match obj.get("body") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => Some(other.to_string()),
            };
            let is_base64_encoded = obj.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false);
            Ok(WsResponse { status_code: status, headers, body, is_base64_encoded })
        }
        other => Ok(WsResponse { body: Some(other.to_string()), ..WsResponse::ok() }),
    }
}

#[cfg(test)]
mod tests {
    use super::reply;

    #[test]
    fn reads_replies_as_api_gateway_does() {
        assert_eq!(reply(b"").expect("empty").status_code, 200);
        assert_eq!(reply(b"null").expect("null").status_code, 200);
        let refused = reply(br#"{"statusCode": 403, "body": "no"}"#).expect("refusal");
        assert_eq!((refused.status_code, refused.body.as_deref()), (403, Some("no")));
        assert_eq!(reply(br#"{"statusCode": "401"}"#).expect("string status").status_code, 401);
        assert_eq!(reply(br#"{"hello": 1}"#).expect("bare JSON").body.as_deref(), Some(r#"{"hello":1}"#));
        assert!(reply(b"not json").is_err());
        assert!(reply(br#"{"statusCode": 42}"#).is_err());
    }
}
