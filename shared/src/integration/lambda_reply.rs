//! Maps a Lambda function's reply to a response as the API type does (behaviour reference §1.3).
//!
//! - HTTP API, 2.0: an object with `statusCode` is a structured response (`headers`, `cookies`, `body`,
//!   `isBase64Encoded`), given `Content-Type: application/json` when it names none. A JSON string is the body
//!   as text (`"hello"` answers `hello`); any other valid JSON is answered 200 `application/json` with that
//!   JSON as the body.
//! - HTTP API, 1.0: only a structured response is valid; `multiValueHeaders` wins over `headers`.
//! - REST API (1.0): an object; without `statusCode` it is a 200, and `"statusCode": "201"` is a status too.
//!   Only `statusCode`, `headers`, `multiValueHeaders`, `body` and `isBase64Encoded` may appear. A header in
//!   both maps sends every value. `isBase64Encoded` is honoured only when the first media type the request
//!   accepts is one of the API's binary media types; otherwise the base64 text itself is the body.
//!
//! Anything else is a malformed reply: the error string explains it for the access log, the client gets the
//! API type's integration failure answer.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::{Map, Value};

use crate::{
    config::PayloadVersion,
    event::body,
    request::{ApiType, GatewayResponse, MediaTypes},
};

/// What the mapping depends on besides the reply.
#[derive(Debug, Clone, Copy)]
pub struct ReplyRules<'a> {
    pub version: PayloadVersion,
    pub api: ApiType,
    /// REST: the API's binary media types, and the request's `Accept`.
    pub binary_media_types: &'a MediaTypes,
    pub accept: Option<&'a str>,
}

/// The keys a REST API reads from a reply; any other is a malformed reply.
const REST_KEYS: [&str; 5] = ["statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"];

pub fn map(rules: ReplyRules<'_>, payload: &[u8]) -> Result<GatewayResponse, String> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| format!("reply is not JSON: {e}"))?;
    match (rules.api, rules.version, value) {
        (ApiType::Rest, _, Value::Object(obj)) => {
            if let Some(unknown) = obj.keys().find(|k| !REST_KEYS.contains(&k.as_str())) {
                return Err(format!("unknown key {unknown:?} in the reply"));
            }
            structured(rules, &obj)
        }
        (ApiType::Rest, _, _) => Err("a REST reply must be an object".to_owned()),
        (_, _, Value::Object(obj)) if obj.contains_key("statusCode") => structured(rules, &obj),
        (_, PayloadVersion::V2, Value::String(text)) => Ok(json_answer(text)),
        (_, PayloadVersion::V2, _) => {
            let text = std::str::from_utf8(payload).map_err(|e| e.to_string())?.trim();
            Ok(json_answer(text.to_owned()))
        }
        (_, PayloadVersion::V1, _) => Err("a 1.0 reply must be an object with statusCode".to_owned()),
    }
}

/// 200 `application/json` with `body`.
fn json_answer(body: String) -> GatewayResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    GatewayResponse::new(StatusCode::OK, headers, body)
}

fn structured(rules: ReplyRules<'_>, obj: &Map<String, Value>) -> Result<GatewayResponse, String> {
    let rest = rules.api == ApiType::Rest;
    let status = match obj.get("statusCode") {
        // A REST API answers a reply without a status with 200.
        None | Some(Value::Null) if rest => Some(200),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .and_then(|n| StatusCode::from_u16(n).ok())
    .filter(|s| (100..=599).contains(&s.as_u16()))
    .ok_or_else(|| format!("statusCode {} is not an HTTP status", obj.get("statusCode").unwrap_or(&Value::Null)))?;

    let mut headers = HeaderMap::new();
    if let Some(single) = non_null(obj, "headers") {
        let single = single.as_object().ok_or("headers must be an object")?;
        for (name, value) in single {
            headers.insert(header_name(name)?, header_value(name, value)?);
        }
    }
    if rules.version == PayloadVersion::V1
        && let Some(multi) = non_null(obj, "multiValueHeaders")
    {
        let multi = multi.as_object().ok_or("multiValueHeaders must be an object")?;
        for (name, values) in multi {
            let name_h = header_name(name)?;
            let values = values.as_array().ok_or_else(|| format!("multiValueHeaders.{name} must be an array"))?;
            // An HTTP API lets the multi-value entry win; a REST API sends the values of both.
            if !rest {
                headers.remove(&name_h);
            }
            for value in values {
                headers.append(name_h.clone(), header_value(name, value)?);
            }
        }
    }
    if rules.version == PayloadVersion::V2
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
    // A REST API decodes base64 only when the caller accepts one of its binary media types (the first type in
    // `Accept` is the one that counts); otherwise the text is the body.
    let decode =
        is_base64 && (!rest || rules.binary_media_types.matches(rules.accept.and_then(|a| a.split(',').next())));
    let body = match non_null(obj, "body") {
        None => bytes::Bytes::new(),
        Some(Value::String(text)) => {
            body::decode(text, decode).map_err(|_| "isBase64Encoded is true but body is not base64".to_owned())?
        }
        Some(_) => return Err("body must be a string".to_owned()),
    };
    if rules.version == PayloadVersion::V2 && !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
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

    fn rules(version: PayloadVersion, api: ApiType, binary: &MediaTypes) -> ReplyRules<'_> {
        ReplyRules { version, api, binary_media_types: binary, accept: None }
    }

    fn http(version: PayloadVersion, reply: &str) -> Result<GatewayResponse, String> {
        map(rules(version, ApiType::Http, &MediaTypes::default()), reply.as_bytes())
    }

    fn rest(reply: &str) -> Result<GatewayResponse, String> {
        let binary = MediaTypes::parse(&["image/png".to_owned()]).expect("types");
        map(rules(PayloadVersion::V1, ApiType::Rest, &binary), reply.as_bytes())
    }

    #[test]
    fn http_v2_infers_and_reads_structured_replies() {
        let r = http(PayloadVersion::V2, r#"{"message":"x"}"#).expect("inferred");
        assert_eq!((r.status, r.body.as_ref()), (StatusCode::OK, br#"{"message":"x"}"#.as_ref()));
        assert_eq!(r.headers["content-type"], "application/json");
        let r = http(PayloadVersion::V2, r#""Hello, world!""#).expect("a string");
        assert_eq!(r.body.as_ref(), b"Hello, world!", "a JSON string is its text");
        let r = http(
            PayloadVersion::V2,
            r#"{"statusCode":201,"headers":{"x-a":"1","x-n":5},"cookies":["a=1","b=2"],"body":"aGk=","isBase64Encoded":true}"#,
        )
        .expect("structured");
        assert_eq!((r.status, r.body.as_ref()), (StatusCode::CREATED, b"hi".as_ref()));
        assert_eq!(r.headers["x-n"], "5");
        assert_eq!(r.headers["content-type"], "application/json", "no type given: JSON");
        assert_eq!(r.headers.get_all("set-cookie").iter().count(), 2);
    }

    #[test]
    fn http_v1_multi_value_headers_win() {
        let r = http(
            PayloadVersion::V1,
            r#"{"statusCode":"200","headers":{"x-a":"single"},"multiValueHeaders":{"x-a":["m1","m2"]},"body":"b"}"#,
        )
        .expect("v1");
        assert_eq!(r.headers.get_all("x-a").iter().collect::<Vec<_>>(), ["m1", "m2"]);
    }

    #[test]
    fn rest_replies_as_a_rest_api_reads_them() {
        assert_eq!(rest("{}").expect("empty").status, StatusCode::OK);
        assert_eq!(rest(r#"{"headers":{"x-a":"1"}}"#).expect("no status").status, StatusCode::OK);
        assert_eq!(rest(r#"{"statusCode":"201"}"#).expect("string status").status, StatusCode::CREATED);
        let both = rest(r#"{"headers":{"x-a":"single"},"multiValueHeaders":{"x-a":["m1","m2"]}}"#).expect("both");
        assert_eq!(both.headers.get_all("x-a").iter().collect::<Vec<_>>(), ["single", "m1", "m2"]);
        assert!(rest(r#"{"statusCode":200,"extra":1}"#).is_err(), "an unknown key");
        assert!(rest(r#""a string""#).is_err());
        // Base64 is decoded only for a caller that accepts a binary media type, whatever the reply's type.
        let png = r#"{"headers":{"content-type":"image/png"},"body":"aGk=","isBase64Encoded":true}"#;
        assert_eq!(rest(png).expect("png").body.as_ref(), b"aGk=", "no Accept: the text as it is");
        let binary = MediaTypes::parse(&["image/*".to_owned()]).expect("types");
        let accepting =
            |accept| ReplyRules { accept: Some(accept), ..rules(PayloadVersion::V1, ApiType::Rest, &binary) };
        let r = map(accepting("image/webp, */*"), png.as_bytes()).expect("accept");
        assert_eq!(r.body.as_ref(), b"hi", "the first accepted type counts");
        let r = map(accepting("text/html, image/webp"), png.as_bytes()).expect("accept");
        assert_eq!(r.body.as_ref(), b"aGk=", "only the first");
    }

    #[test]
    fn malformed_replies_are_refused() {
        for (version, reply) in [
            (PayloadVersion::V2, "not json"),
            (PayloadVersion::V1, r#"{"body":"no status"}"#),
            (PayloadVersion::V1, r#""just a string""#),
            (PayloadVersion::V2, r#"{"statusCode":999}"#),
            (PayloadVersion::V2, r#"{"statusCode":"abc"}"#),
            (PayloadVersion::V2, r#"{"statusCode":200,"body":{"an":"object"}}"#),
            (PayloadVersion::V2, r#"{"statusCode":200,"headers":["x"]}"#),
            (PayloadVersion::V2, r#"{"statusCode":200,"headers":{"bad name":"x"}}"#),
            (PayloadVersion::V2, r#"{"statusCode":200,"body":"!!","isBase64Encoded":true}"#),
            (PayloadVersion::V1, r#"{"statusCode":200,"multiValueHeaders":{"x":"not-array"}}"#),
        ] {
            assert!(http(version, reply).is_err(), "{reply}");
        }
    }
}
