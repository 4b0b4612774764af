//! Values as a template sees them: null, booleans, Java's `long` and `double`, strings, lists and maps that keep
//! insertion order (Java's `LinkedHashMap`); read from JSON keeping key order, and printed as Java and API Gateway
//! print them (`toString`, JSON, `Double.toString`).

use std::{collections::HashMap, fmt, fmt::Write as _, rc::Rc};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::velocity::{MAX_OUTPUT, RenderError};

/// A value as a template sees it. Containers are shared (`Rc`), so reading a variable never copies a body.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Rc<List>),
    Map(Rc<Obj>),
}

#[derive(Debug)]
pub(super) struct List {
    pub(super) items: Vec<Value>,
    depth: usize,
    /// A JSON array (from a body or `parseJson`) prints as JSON, as API Gateway's does; a Java list as `[a, b]`.
    json: bool,
}

/// A map that keeps insertion order (Java's `LinkedHashMap`): templates iterate `keySet()` in body order.
#[derive(Debug, Clone)]
pub(super) struct Obj {
    pub(super) entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
    pub(super) depth: usize,
}

impl Obj {
    pub(super) fn new() -> Self {
        Self { entries: Vec::new(), index: HashMap::new(), depth: 1 }
    }

    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).and_then(|&at| self.entries.get(at)).map(|(_, value)| value)
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.index.get(key).and_then(|&at| self.entries.get_mut(at)).map(|(_, value)| value)
    }

    /// A key already there keeps its place, as in a `LinkedHashMap`.
    pub(super) fn insert(&mut self, key: String, value: Value) {
        self.depth = self.depth.max(1 + value.depth());
        match self.get_mut(&key) {
            Some(slot) => *slot = value,
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
        }
    }

    pub(super) fn from_pairs(pairs: &[(String, String)]) -> Value {
        let mut obj = Self::new();
        for (key, value) in pairs {
            obj.insert(key.clone(), Value::Str(value.as_str().into()));
        }
        Value::Map(Rc::new(obj))
    }
}

impl Value {
    pub(super) fn list(items: Vec<Value>, json: bool) -> Value {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        Value::List(Rc::new(List { items, depth, json }))
    }

    pub(super) fn depth(&self) -> usize {
        match self {
            Value::List(list) => list.depth,
            Value::Map(map) => map.depth,
            _ => 0,
        }
    }

    /// Velocity 1.7: only null and false are false; an empty string is true.
    pub(super) fn truthy(&self) -> bool {
        !matches!(self, Value::Null | Value::Bool(false))
    }

    pub(super) fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int)
            }
            serde_json::Value::String(s) => Value::Str(s.as_str().into()),
            serde_json::Value::Array(items) => Value::list(items.iter().map(Value::from_json).collect(), true),
            serde_json::Value::Object(map) => {
                let mut obj = Obj::new();
                for (key, value) in map {
                    obj.insert(key.clone(), Value::from_json(value));
                }
                Value::Map(Rc::new(obj))
            }
        }
    }
}

/// JSON straight into [`Value`], keeping key order (serde_json's own map sorts it). serde_json's recursion limit
/// bounds the depth of what a body can nest.
struct Json(Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor).map(Json)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Int(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(i64::try_from(n).map_or(Value::Float(n as f64), Value::Int))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::Float(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.into()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Json(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::list(items, true))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Obj::new();
        while let Some((key, Json(value))) = map.next_entry::<String, Json>()? {
            obj.insert(key, value);
        }
        Ok(Value::Map(Rc::new(obj)))
    }
}

pub(super) fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<Json>(text).map(|json| json.0)
}

/// Java's `Double.toString`: `249.99`, `100.0`, `1.0E20`.
fn java_double(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }
        .to_owned();
    }
    if f == 0.0 || (1e-3..1e7).contains(&f.abs()) {
        let plain = format!("{f}");
        return if plain.contains('.') { plain } else { plain + ".0" };
    }
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let point = if mantissa.contains('.') { "" } else { ".0" };
    format!("{mantissa}{point}E{exponent}")
}

fn json_string(text: &str, out: &mut String) {
    out.push('"');
    let mut rest = text;
    while let Some(at) = rest.bytes().position(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&rest[..at]);
        match rest.as_bytes()[at] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

pub(super) fn int(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(n) => Some(*n as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

impl Value {
    /// Java's `toString`: `{a=1, b=x}` for maps, `[1, x]` for lists; JSON arrays print as JSON.
    pub(super) fn write_text(&self, out: &mut String) -> Result<(), RenderError> {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(n) => out.push_str(&n.to_string()),
            Value::Float(f) => out.push_str(&java_double(*f)),
            Value::Str(s) => out.push_str(s),
            Value::List(list) if list.json => self.write_json(out)?,
            Value::List(list) => {
                out.push('[');
                for (i, item) in list.items.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { ", " });
                    item.write_text(out)?;
                }
                out.push(']');
            }
            Value::Map(map) => {
                out.push('{');
                for (i, (key, item)) in map.entries.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { ", " });
                    out.push_str(key);
                    out.push('=');
                    item.write_text(out)?;
                }
                out.push('}');
            }
        }
        // Shared containers can print far larger than they are; stop at the output limit.
        if out.len() > MAX_OUTPUT { Err(RenderError::OutputTooLarge) } else { Ok(()) }
    }

    pub(super) fn write_json(&self, out: &mut String) -> Result<(), RenderError> {
        match self {
            Value::Null => out.push_str("null"),
            Value::Str(s) => json_string(s, out),
            Value::List(list) => {
                out.push('[');
                for (i, item) in list.items.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { "," });
                    item.write_json(out)?;
                }
                out.push(']');
            }
            Value::Map(map) => {
                out.push('{');
                for (i, (key, item)) in map.entries.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { "," });
                    json_string(key, out);
                    out.push(':');
                    item.write_json(out)?;
                }
                out.push('}');
            }
            Value::Float(f) if !f.is_finite() => out.push_str("null"),
            _ => self.write_text(out)?,
        }
        if out.len() > MAX_OUTPUT { Err(RenderError::OutputTooLarge) } else { Ok(()) }
    }
}
