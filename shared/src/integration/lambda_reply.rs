//! Maps a Lambda function's reply to a response as API Gateway does (behaviour reference §1.3).
//!
//! - 2.0: an object with `statusCode` is a structured response (`headers`, `cookies`, `body`,
//!   `isBase64Encoded`); any other valid JSON is answered 200 `application/json` with that JSON as the body.
//! - 1.0: only a structured response is valid; `multiValueHeaders` wins over `headers` on the same name.
//!
//! Anything else is a malformed reply: the error string explains it for the access log, the client gets 502.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::{Map, Value};

use crate::{config::PayloadVersion, event::body, request::GatewayResponse};

pub fn map(version: PayloadVersion, payload: &[u8]) -> Result<GatewayResponse, String> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| format!("reply is not JSON: {e}"))?;
    match (version, value) {
        (_, Value::Object(obj)) if obj.contains_key("statusCode") => structured(version, &obj),
        (PayloadVersion::V2, _) => {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            let text = std::str::from_utf8(payload).map_err(|e| e.to_string())?.trim();
            Ok(GatewayResponse::new(StatusCode::OK, headers, text.to_owned()))
        }
        (PayloadVersion::V1, _) => Err("a 1.0 reply must be an object with statusCode".to_owned()),
    }
}

fn structured(version: PayloadVersion, obj: &Map<String, Value>) -> Result<GatewayResponse, String> {
    let status = match &obj["statusCode"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .and_then(|n| StatusCode::from_u16(n).ok())
    .filter(|s| (100..=599).contains(&s.as_u16()))
    .ok_or_else(|| format!("statusCode {} is not an HTTP status", obj["statusCode"]))?;

    let mut headers = HeaderMap::new();
    if let Some(single) = non_null(obj, "headers") {
        let single = single.as_object().ok_or("headers must be an object")?;
        for (name, value) in single {
            headers.insert(header_name(name)?, header_value(name, value)?);
        }
    }
    if version == PayloadVersion::V1
        && let Some(multi) = non_null(obj, "multiValueHeaders")
    {
        let multi = multi.as_object().ok_or("multiValueHeaders must be an object")?;
        for (name, values) in multi {
            let name_h = header_name(name)?;
            let values = values.as_array().ok_or_else(|| format!("multiValueHeaders.{name} must be an array"))?;
            headers.remove(&name_h);
            for value in values {
                headers.append(name_h.clone(), header_value(name, value)?);
            }
        }
    }
    if version == PayloadVersion::V2
        && let Some(cookies) = non_null(obj, "cookies")
    {
        let cookies = cookies.as_array().ok_or("cookies must be an array")?;
        for cookie in cookies {
            headers.append(header::SET_COOKIE, header_value("cookies", cookie)?);
        }
    }
    let is_base64 = match non_null(obj, "isBase64Encoded") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("isBase64Encoded must be a boolean".to_owned()),
    };
    let body = match non_null(obj, "body") {
        None => bytes::Bytes::new(),
        Some(Value::String(text)) => {
            body::decode(text, is_base64).map_err(|_| "isBase64Encoded is true but body is not base64".to_owned())?
        }
        Some(_) => return Err("body must be a string".to_owned()),
    };
    // The front door frames the body itself.
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    Ok(GatewayResponse::new(status, headers, body))
}

fn non_null<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::try_from(name).map_err(|_| format!("header name {name:?} is not valid"))
}

/// Header values may be strings, numbers or booleans, as API Gateway accepts.
fn header_value(name: &str, value: &Value) -> Result<HeaderValue, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(format!("header {name}: value must be a string")),
    };
    HeaderValue::try_from(text).map_err(|_| format!("header {name}: value is not valid header text"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use PayloadVersion::{V1, V2};

    fn ok(version: PayloadVersion, reply: &str) -> GatewayResponse {
        map(version, reply.as_bytes()).expect(reply)
    }

    #[test]
    fn v2_json_without_status_code_is_a_200_json_body() {
        let r = ok(V2, r#"{"message":"x"}"#);
        assert_eq!((r.status, r.body.as_ref()), (StatusCode::OK, br#"{"message":"x"}"#.as_ref()));
        assert_eq!(r.headers["content-type"], "application/json");
        let r = ok(V2, r#""Hello, world!""#);
        assert_eq!(r.body.as_ref(), br#""Hello, world!""#, "a bare string keeps its quotes");
    }

    #[test]
    fn v2_structured_with_cookies_and_base64() {
        let r = ok(
            V2,
            r#"{"statusCode":201,"headers":{"x-a":"1","x-n":5},"cookies":["a=1","b=2"],"body":"aGk=","isBase64Encoded":true}"#,
        );
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.body.as_ref(), b"hi");
        assert_eq!(r.headers["x-n"], "5");
        assert_eq!(r.headers.get_all("set-cookie").iter().count(), 2);
    }

    #[test]
    fn v1_multi_value_headers_win() {
        let r = ok(
            V1,
            r#"{"statusCode":"200","headers":{"x-a":"single"},"multiValueHeaders":{"x-a":["m1","m2"]},"body":"b"}"#,
        );
        let values: Vec<_> = r.headers.get_all("x-a").iter().collect();
        assert_eq!(values, ["m1", "m2"]);
    }

    #[test]
    fn malformed_replies_are_refused() {
        for (version, reply) in [
            (V2, "not json"),
            (V1, r#"{"body":"no status"}"#),
            (V1, r#""just a string""#),
            (V2, r#"{"statusCode":999}"#),
            (V2, r#"{"statusCode":"abc"}"#),
            (V2, r#"{"statusCode":200,"body":{"an":"object"}}"#),
            (V2, r#"{"statusCode":200,"headers":["x"]}"#),
            (V2, r#"{"statusCode":200,"headers":{"bad name":"x"}}"#),
            (V2, r#"{"statusCode":200,"body":"!!","isBase64Encoded":true}"#),
            (V1, r#"{"statusCode":200,"multiValueHeaders":{"x":"not-array"}}"#),
        ] {
            assert!(map(version, reply.as_bytes()).is_err(), "{reply}");
        }
    }
}
