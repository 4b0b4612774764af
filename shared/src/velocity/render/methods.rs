//! The Java methods of the subset on strings, lists and maps (`size`, `get`, `substring`, `replaceAll`, ...), and
//! the literal-text subset of Java's regular expressions that `replaceAll` and `split` take.

use super::{
    Renderer,
    value::{Value, int},
};
use crate::velocity::RenderError;

/// Java's `replaceAll` and `split` take regular expressions; only those that match literal text are evaluated.
pub(in crate::velocity) fn literal_regex(regex: &str) -> Option<String> {
    let mut literal = String::new();
    let mut chars = regex.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                escaped if escaped.is_ascii_alphanumeric() => return None,
                escaped => literal.push(escaped),
            },
            '.' | '[' | ']' | '(' | ')' | '{' | '}' | '*' | '+' | '?' | '^' | '$' | '|' => return None,
            _ => literal.push(c),
        }
    }
    Some(literal)
}

/// A `replaceAll` replacement: `\x` is `x`; group references (`$1`) are outside the subset.
pub(in crate::velocity) fn java_replacement(with: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = with.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '$' => return None,
            _ => out.push(c),
        }
    }
    Some(out)
}

impl Renderer<'_> {
    /// The Java methods of the subset. One the value does not have gives null, as Velocity's lookup does.
    pub(super) fn method(&self, value: &Value, method: &str, args: &[Value]) -> Result<Value, RenderError> {
        let arg = args.first().unwrap_or(&Value::Null);
        let text_arg = match arg {
            Value::Str(s) => Some(&**s),
            _ => None,
        };
        Ok(match (method, value) {
            ("size", Value::List(list)) => int(list.items.len()),
            ("size" | "length", Value::Map(map)) if method == "size" => int(map.entries.len()),
            ("length", Value::Str(s)) => int(s.encode_utf16().count()),
            ("isEmpty", Value::Str(s)) => Value::Bool(s.is_empty()),
            ("isEmpty", Value::List(list)) => Value::Bool(list.items.is_empty()),
            ("isEmpty", Value::Map(map)) => Value::Bool(map.entries.is_empty()),
            ("get", Value::Map(map)) => text_arg.and_then(|key| map.get(key)).cloned().unwrap_or(Value::Null),
            ("get", Value::List(_)) => self.index(value, arg)?,
            ("keySet", Value::Map(map)) => {
                Value::list(map.entries.iter().map(|(key, _)| Value::Str(key.as_str().into())).collect(), false)
            }
            ("values", Value::Map(map)) => Value::list(map.entries.iter().map(|(_, v)| v.clone()).collect(), false),
            ("containsKey", Value::Map(map)) => Value::Bool(text_arg.is_some_and(|key| map.get(key).is_some())),
            ("contains", Value::Str(s)) => text_arg.map_or(Value::Null, |part| Value::Bool(s.contains(part))),
            ("contains", Value::List(list)) => {
                let mut found = false;
                for item in &list.items {
                    if self.java_equals(item, arg)? {
                        found = true;
                        break;
                    }
                }
                Value::Bool(found)
            }
            ("toString", _) => self.new_str(self.display(value)?)?,
            ("equals", _) => Value::Bool(self.java_equals(value, arg)?),
            ("substring", Value::Str(s)) => self.substring(s, args)?,
            ("startsWith", Value::Str(s)) => text_arg.map_or(Value::Null, |p| Value::Bool(s.starts_with(p))),
            ("endsWith", Value::Str(s)) => text_arg.map_or(Value::Null, |p| Value::Bool(s.ends_with(p))),
            ("indexOf", Value::Str(s)) => text_arg
                .map_or(Value::Null, |p| s.find(p).map_or(Value::Int(-1), |at| int(s[..at].encode_utf16().count()))),
            // Java's trim drops every character up to the space.
            ("trim", Value::Str(s)) => Value::Str(s.trim_matches(|c: char| c <= ' ').into()),
            ("toLowerCase", Value::Str(s)) => self.new_str(s.to_lowercase())?,
            ("toUpperCase", Value::Str(s)) => self.new_str(s.to_uppercase())?,
            ("replace", Value::Str(s)) => match args {
                [Value::Str(from), Value::Str(to)] => self.new_str(s.replace(&**from, to))?,
                _ => Value::Null,
            },
            ("replaceAll", Value::Str(s)) => match args {
                [Value::Str(regex), Value::Str(with)] => {
                    let (from, to) = self.literal(regex, Some(with))?;
                    self.new_str(s.replace(&from, &to))?
                }
                _ => Value::Null,
            },
            ("split", Value::Str(s)) => match text_arg {
                Some(regex) => {
                    let (on, _) = self.literal(regex, None)?;
                    let mut parts: Vec<&str> = s.split(on.as_str()).collect();
                    // Java's split drops trailing empty strings (unless nothing matched).
                    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
                        parts.pop();
                    }
                    if s.contains(on.as_str()) && parts.iter().all(|p| p.is_empty()) {
                        parts.clear();
                    }
                    self.spend(s.len())?;
                    Value::list(parts.into_iter().map(|p| Value::Str(p.into())).collect(), false)
                }
                None => Value::Null,
            },
            _ => Value::Null,
        })
    }

    fn literal(&self, regex: &str, with: Option<&str>) -> Result<(String, String), RenderError> {
        let from = literal_regex(regex).filter(|l| !l.is_empty());
        let to = with.map_or(Some(String::new()), java_replacement);
        from.zip(to).ok_or_else(|| self.failed(format!("regular expression {regex:?} is beyond literal text")))
    }

    fn substring(&self, s: &str, args: &[Value]) -> Result<Value, RenderError> {
        let units: Vec<u16> = s.encode_utf16().collect();
        let bound = |value: Option<&Value>, default: usize| match value {
            None => Some(default),
            Some(Value::Int(n)) => usize::try_from(*n).ok(),
            Some(_) => None,
        };
        let (begin, end) = (bound(args.first(), 0), bound(args.get(1), units.len()));
        match (begin, end) {
            (Some(begin), Some(end)) if begin <= end && end <= units.len() => {
                Ok(Value::Str(String::from_utf16_lossy(&units[begin..end]).into()))
            }
            _ => Err(self.failed(format!("substring out of range for a string of {}", units.len()))),
        }
    }
}
