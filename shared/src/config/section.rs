//! Reading the small sections the file holds as JSON values (`accessLog`, `metrics`) by hand. A derived
//! `Deserialize` costs each shape its own copy of a format's reader, and the router's binary has a size budget;
//! these readers are a few lines, refuse unknown fields the way serde does, and name the field in every error.

use serde_json::{Map, Value};

/// The section's fields, after checking each is one of `allowed`.
pub(super) fn fields<'a>(value: &'a Value, section: &str, allowed: &[&str]) -> Result<&'a Map<String, Value>, String> {
    let map = value.as_object().ok_or_else(|| format!("{section} must be a mapping"))?;
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("{section}: unknown field `{unknown}`, expected one of: {}", allowed.join(", ")));
    }
    Ok(map)
}

pub(super) fn string(map: &Map<String, Value>, section: &str, name: &str) -> Result<Option<String>, String> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(format!("{section}.{name} must be a string, not {other}")),
    }
}

pub(super) fn number(map: &Map<String, Value>, section: &str, name: &str) -> Result<Option<f64>, String> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(format!("{section}.{name} must be a number, not {other}")),
    }
}

pub(super) fn boolean(map: &Map<String, Value>, section: &str, name: &str) -> Result<Option<bool>, String> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!("{section}.{name} must be true or false, not {other}")),
    }
}
