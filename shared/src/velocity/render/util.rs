//! `$util`: `escapeJavaScript`, `urlEncode`, `urlDecode`, `base64Encode`, `base64Decode`, `parseJson`, as
//! API Gateway's (Java's) behave.

use std::fmt::Write as _;

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};

use super::{
    Renderer,
    value::{Value, parse_json},
};
use crate::velocity::{RenderError, ast::Part};

/// Java's `Base64.getDecoder()` takes input with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Commons Lang 2's `escapeJavaScript`, which API Gateway's documents: `'` and `/` escaped too, and every
/// character outside ASCII as `\uXXXX` (per UTF-16 unit).
fn escape_javascript(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for unit in text.encode_utf16() {
        match unit {
            0x08 => out.push_str("\\b"),
            0x09 => out.push_str("\\t"),
            0x0A => out.push_str("\\n"),
            0x0C => out.push_str("\\f"),
            0x0D => out.push_str("\\r"),
            0x22 => out.push_str("\\\""),
            0x27 => out.push_str("\\'"),
            0x2F => out.push_str("\\/"),
            0x5C => out.push_str("\\\\"),
            0x20..=0x7F => out.push(char::from_u32(u32::from(unit)).unwrap_or('?')),
            _ => {
                let _ = write!(out, "\\u{unit:04X}");
            }
        }
    }
    out
}

/// Java's `URLDecoder.decode`: `+` is a space; a malformed `%` escape is an error, not text.
fn url_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut at = 0;
    while let Some(&b) = text.as_bytes().get(at) {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = text.get(at + 1..at + 3).filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                at += 2;
            }
            _ => bytes.push(b),
        }
        at += 1;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

impl Renderer<'_> {
    pub(super) fn util(&mut self, part: Option<&Part>) -> Result<Value, RenderError> {
        let Some(Part::Call(name, args)) = part else { return Ok(Value::Null) };
        let arg = match args.first() {
            Some(arg) => self.eval(arg)?,
            None => Value::Null,
        };
        if matches!(arg, Value::Null) {
            return Ok(Value::Null);
        }
        let text = self.display(&arg)?;
        let out = match name.as_str() {
            "escapeJavaScript" => escape_javascript(&text),
            "urlEncode" => form_urlencoded::byte_serialize(text.as_bytes()).collect(),
            "urlDecode" => url_decode(&text).ok_or_else(|| self.failed("$util.urlDecode: a malformed % escape"))?,
            "base64Encode" => BASE64.encode(text.as_bytes()),
            "base64Decode" => {
                let bytes =
                    BASE64.decode(text.as_bytes()).map_err(|e| self.failed(format!("$util.base64Decode: {e}")))?;
                String::from_utf8_lossy(&bytes).into_owned()
            }
            "parseJson" => {
                let value = parse_json(&text).map_err(|e| self.failed(format!("$util.parseJson: {e}")))?;
                return self.checked(value);
            }
            _ => return Ok(Value::Null),
        };
        self.new_str(out)
    }
}
