//! When a body travels as text and when as base64, in events and in responses.

use base64::{Engine, engine::general_purpose::STANDARD};
use http::HeaderMap;

/// Media types API Gateway (HTTP APIs, Function URLs) passes as text; everything else goes as base64.
pub fn is_text_media_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/javascript" | "application/yaml"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
}

/// A body as an event field: `(text, is_base64_encoded)`. Text media types that are valid UTF-8 stay text,
/// unless a `Content-Encoding` says the bytes are compressed.
pub fn encode(headers: &HeaderMap, body: &[u8]) -> (String, bool) {
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let encoded =
        headers.get(http::header::CONTENT_ENCODING).is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if !encoded
        && is_text_media_type(content_type)
        && let Ok(text) = std::str::from_utf8(body)
    {
        return (text.to_owned(), false);
    }
    (STANDARD.encode(body), true)
}

/// Bytes as standard base64.
pub fn base64(body: &[u8]) -> String {
    STANDARD.encode(body)
}

/// The bytes of an event body field.
pub fn decode(text: &str, is_base64: bool) -> Result<bytes::Bytes, base64::DecodeError> {
    if is_base64 { STANDARD.decode(text).map(Into::into) } else { Ok(bytes::Bytes::copy_from_slice(text.as_bytes())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_stay_text_others_are_base64() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json; charset=utf-8".parse().expect("value"));
        assert_eq!(encode(&headers, b"{}"), ("{}".to_owned(), false));
        assert!(encode(&headers, &[0xff, 0xfe]).1, "invalid UTF-8 goes as base64 even for JSON");
        headers.insert("content-type", "image/png".parse().expect("value"));
        assert_eq!(encode(&headers, b"x"), ("eA==".to_owned(), true));
        assert!(encode(&HeaderMap::new(), b"x").1, "no content type: base64");
        assert!(decode("not base64!", true).is_err());
    }
}
