//! Route keys as API Gateway writes them: `GET /pets/{id}`, `ANY /files/{proxy+}`, `$default`.

use http::Method;

/// The methods a route key may name. `ANY` is represented by `method: None`.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Static(String),
    /// `{name}`: exactly one segment.
    Param(String),
    /// `{name+}`: the rest of the path, one segment or more; always last.
    Greedy(String),
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKey {
    /// The `$default` catch-all.
    Default,
    Path {
        /// `None` for `ANY`.
        method: Option<Method>,
        segments: Vec<Segment>,
    },
}

impl RouteKey {
    /// Parses a route key, explaining what is wrong with it in the error.
    pub fn parse(key: &str) -> Result<Self, String> {
        if key == "$default" {
            return Ok(Self::Default);
        }
        let (method, path) =
            key.split_once(' ').ok_or_else(|| "expected \"METHOD /path\" or \"$default\"".to_owned())?;
        let method = match method {
            "ANY" => None,
            m if METHODS.contains(&m) => Some(Method::from_bytes(m.as_bytes()).map_err(|e| e.to_string())?),
            m => return Err(format!("unknown method {m:?}: use one of {} or ANY", METHODS.join(", "))),
        };
        if !path.starts_with('/') {
            return Err(format!("path {path:?} must start with '/'"));
        }
        let segments = if path == "/" { Vec::new() } else { parse_segments(&path[1..])? };
        Ok(Self::Path { method, segments })
    }

    /// Names of the path parameters, in path order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        let segments: &[Segment] = match self {
            Self::Default => &[],
            Self::Path { segments, .. } => segments,
        };
        segments.iter().filter_map(|s| match s {
            Segment::Param(n) | Segment::Greedy(n) => Some(n.as_str()),
            Segment::Static(_) => None,
        })
    }
}

fn parse_segments(path: &str) -> Result<Vec<Segment>, String> {
    let parts: Vec<&str> = path.split('/').collect();
    let mut segments = Vec::with_capacity(parts.len());
    let mut seen = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let segment = if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(name) => (name, true),
                None => (inner, false),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
                return Err(format!("path parameter {part:?} needs a name of letters, digits, '_', '-' or '.'"));
            }
            if seen.contains(&name) {
                return Err(format!("path parameter {{{name}}} appears twice"));
            }
            seen.push(name);
            if greedy && i + 1 != parts.len() {
                return Err(format!("greedy parameter {part:?} must be the last segment"));
            }
            if greedy { Segment::Greedy(name.to_owned()) } else { Segment::Param(name.to_owned()) }
        } else {
            if part.is_empty() {
                return Err("path has an empty segment ('//' or a trailing '/')".to_owned());
            }
            if part.contains(['{', '}']) {
                return Err(format!(
                    "segment {part:?} mixes text and a parameter: a parameter must be a whole segment"
                ));
            }
            if part.contains(|c: char| c.is_whitespace() || c.is_control() || c == '?' || c == '#') {
                return Err(format!("segment {part:?} has a character not allowed in a path"));
            }
            Segment::Static((*part).to_owned())
        };
        segments.push(segment);
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_api_gateway_accepts() {
        assert_eq!(RouteKey::parse("$default"), Ok(RouteKey::Default));
        let key = RouteKey::parse("GET /pets/{id}").expect("valid");
        assert_eq!(key.param_names().collect::<Vec<_>>(), ["id"]);
        let key = RouteKey::parse("ANY /files/{proxy+}").expect("valid");
        assert!(
            matches!(key, RouteKey::Path { method: None, ref segments } if segments[1] == Segment::Greedy("proxy".into()))
        );
        assert!(matches!(RouteKey::parse("GET /"), Ok(RouteKey::Path { segments, .. }) if segments.is_empty()));
    }

    #[test]
    fn rejects_malformed_keys_with_a_reason() {
        for (key, why) in [
            ("GET", "METHOD /path"),
            ("FETCH /a", "unknown method"),
            ("GET a", "must start with '/'"),
            ("GET /a/{proxy+}/b", "must be the last"),
            ("GET /a/{}", "needs a name"),
            ("GET /a/{id}/{id}", "appears twice"),
            ("GET /a//b", "empty segment"),
            ("GET /a/", "empty segment"),
            ("GET /a/x{id}", "whole segment"),
        ] {
            let err = RouteKey::parse(key).expect_err(key);
            assert!(err.contains(why), "{key}: {err}");
        }
    }
}
