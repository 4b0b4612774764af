//! The `cors` section (HTTP APIs' `corsConfiguration`), for the API and per route: its file shape, the checks
//! at load, and the one rule deciding which origins, methods and headers are allowed. The pipeline's `cors`
//! stage turns these answers into headers.

use http::{HeaderValue, Method};
use serde::Deserialize;

/// The longest `maxAge` API Gateway accepts, in seconds.
pub const MAX_AGE_LIMIT: i64 = 86_400;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CorsFile {
    /// Exact origins (`https://app.example.com`), `*`, or a pattern with one leading wildcard label
    /// (`https://*.example.com`).
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// Methods a preflight may ask for, or `*`.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Request headers a preflight may ask for, or `*`.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Response headers the page's script may read.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight's answer, 0–86400 s (-1: not at all).
    #[serde(default)]
    pub max_age: Option<i64>,
    #[serde(default)]
    pub allow_credentials: bool,
}

/// One `allowOrigins` entry, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginRule {
    Any,
    /// `scheme://host[:port]`, lower-cased.
    Exact(String),
    /// `scheme://*.suffix[:port]`: any origin of the scheme and port whose host ends in `.suffix`.
    Subdomains {
        scheme: String,
        suffix: String,
        port: Option<u16>,
    },
}

/// Either every value (`*`) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed<T> {
    Any,
    Only(Vec<T>),
}

/// A checked `cors` section: what it allows, and the header values it sends, built once.
#[derive(Debug, Clone)]
pub struct CorsSpec {
    origins: Vec<OriginRule>,
    methods: Allowed<Method>,
    /// Lower-cased header names.
    headers: Allowed<String>,
    pub allow_credentials: bool,
    /// `Access-Control-Allow-Methods` / `-Allow-Headers` as configured, comma-separated.
    pub methods_value: Option<HeaderValue>,
    pub headers_value: Option<HeaderValue>,
    pub expose_value: Option<HeaderValue>,
    pub max_age_value: Option<HeaderValue>,
}

impl CorsSpec {
    /// Checks a `cors` section: every origin is an origin or a pattern, methods are methods, `maxAge` is in
    /// range, and credentials are never allowed to every origin (browsers refuse that answer).
    pub fn compile(file: &CorsFile) -> Result<Self, String> {
        let origins = file.allow_origins.iter().map(|o| parse_origin(o)).collect::<Result<Vec<_>, _>>()?;
        if file.allow_credentials && origins.contains(&OriginRule::Any) {
            return Err("allowCredentials cannot be used with the origin \"*\": browsers refuse credentials sent to \
                        every origin; list the origins instead"
                .to_owned());
        }
        let methods = if file.allow_methods.iter().any(|m| m == "*") {
            Allowed::Any
        } else {
            let parse = |m: &String| {
                Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("allowMethods: {m:?} is not an HTTP method"))
            };
            Allowed::Only(file.allow_methods.iter().map(parse).collect::<Result<_, _>>()?)
        };
        for name in file.allow_headers.iter().chain(&file.expose_headers).filter(|h| *h != "*") {
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a header name"))?;
        }
        let headers = if file.allow_headers.iter().any(|h| h == "*") {
            Allowed::Any
        } else {
            Allowed::Only(file.allow_headers.iter().map(|h| h.to_ascii_lowercase()).collect())
        };
        if let Some(age) = file.max_age
            && !(-1..=MAX_AGE_LIMIT).contains(&age)
        {
            return Err(format!("maxAge must be -1 to {MAX_AGE_LIMIT} seconds, not {age}"));
        }
        let list = |items: &[String]| {
            (!items.is_empty()).then(|| items.join(",")).map(|v| HeaderValue::try_from(v).map_err(|e| e.to_string()))
        };
        Ok(Self {
            origins,
            methods,
            headers,
            allow_credentials: file.allow_credentials,
            methods_value: list(&file.allow_methods.iter().map(|m| m.to_ascii_uppercase()).collect::<Vec<_>>())
                .transpose()?,
            headers_value: list(&file.allow_headers).transpose()?,
            expose_value: list(&file.expose_headers).transpose()?,
            max_age_value: file.max_age.map(HeaderValue::from),
        })
    }

    /// The `Access-Control-Allow-Origin` an `Origin` gets: the origin itself, `*` when every origin is allowed
    /// without credentials, or nothing when it is not allowed.
    pub fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        let text = origin.to_str().ok()?;
        let (scheme, host, port) = split_origin(text)?;
        let mut any = false;
        for rule in &self.origins {
            match rule {
                OriginRule::Any => any = true,
                OriginRule::Exact(exact) if exact.eq_ignore_ascii_case(text) => return Some(origin.clone()),
                OriginRule::Subdomains { scheme: s, suffix, port: p }
                    if s.eq_ignore_ascii_case(scheme)
                        && *p == port
                        && host.len() > suffix.len() + 1
                        && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.' =>
                {
                    return Some(origin.clone());
                }
                _ => {}
            }
        }
        any.then(|| HeaderValue::from_static("*"))
    }

    /// Whether a preflight may ask for `method`.
    pub fn allows_method(&self, method: &str) -> bool {
        match &self.methods {
            Allowed::Any => true,
            Allowed::Only(list) => list.iter().any(|m| m.as_str() == method),
        }
    }

    /// Whether a preflight may ask for every header of `Access-Control-Request-Headers` (a comma list).
    pub fn allows_headers(&self, requested: &str) -> bool {
        let names = requested.split(',').map(str::trim).filter(|n| !n.is_empty());
        match &self.headers {
            Allowed::Any => true,
            Allowed::Only(list) => names.into_iter().all(|n| list.iter().any(|h| h.eq_ignore_ascii_case(n))),
        }
    }

    /// Whether `*` in allowMethods / allowHeaders must be answered with the request's own values: browsers
    /// read `*` literally in a credentialed request.
    pub fn echoes_wildcards(&self) -> bool {
        self.allow_credentials
    }

    pub fn any_method(&self) -> bool {
        self.methods == Allowed::Any
    }

    pub fn any_header(&self) -> bool {
        self.headers == Allowed::Any
    }
}

/// `scheme://host[:port]` split; `None` for anything else (a path, userinfo, an empty host, a bad port).
fn split_origin(text: &str) -> Option<(&str, &str, Option<u16>)> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal's colons are inside brackets.
        Some((host, port)) if !port.contains(']') => {
            let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
            (host, Some(port))
        }
        _ => (rest, None),
    };
    let bracketed = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
    let host_ok = bracketed
        || (!host.is_empty()
            && !host.starts_with('.')
            && !host.ends_with('.')
            && !host.contains("..")
            && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*')));
    host_ok.then_some((scheme, host, port))
}

fn parse_origin(text: &str) -> Result<OriginRule, String> {
    if text == "*" {
        return Ok(OriginRule::Any);
    }
    let bad = || {
        format!(
            "allowOrigins: {text:?} is not an origin (scheme://host[:port], no path) or a pattern such as \
             https://*.example.com"
        )
    };
    let (scheme, host, port) = split_origin(text).ok_or_else(bad)?;
    match host.strip_prefix("*.") {
        Some(suffix) if !suffix.contains('*') && suffix.contains('.') => Ok(OriginRule::Subdomains {
            scheme: scheme.to_ascii_lowercase(),
            suffix: suffix.to_ascii_lowercase(),
            port,
        }),
        Some(_) => Err(bad()),
        None if host.contains('*') => Err(bad()),
        None => Ok(OriginRule::Exact(text.to_ascii_lowercase())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(origins: &[&str], credentials: bool) -> Result<CorsSpec, String> {
        CorsSpec::compile(&CorsFile {
            allow_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            allow_methods: vec!["GET".into(), "put".into()],
            allow_headers: vec!["Content-Type".into(), "X-Custom".into()],
            expose_headers: vec![],
            max_age: Some(600),
            allow_credentials: credentials,
        })
    }

    fn allows(spec: &CorsSpec, origin: &str) -> Option<String> {
        let value = HeaderValue::from_str(origin).expect("header value");
        spec.allow_origin(&value).map(|v| v.to_str().expect("ascii").to_owned())
    }

    #[test]
    fn origins_match_exactly_by_wildcard_label_or_all() {
        let s =
            spec(&["https://app.example.com", "https://*.example.org", "http://localhost:8080"], true).expect("valid");
        assert_eq!(allows(&s, "https://app.example.com").as_deref(), Some("https://app.example.com"));
        assert_eq!(allows(&s, "https://APP.example.com").as_deref(), Some("https://APP.example.com"));
        assert_eq!(allows(&s, "https://a.b.example.org").as_deref(), Some("https://a.b.example.org"));
        assert_eq!(allows(&s, "http://localhost:8080").as_deref(), Some("http://localhost:8080"));
        for refused in [
            "https://example.org",       // the pattern needs a subdomain
            "https://evil-example.org",  // not a label boundary
            "http://a.example.org",      // another scheme
            "https://a.example.org:444", // another port
            "http://localhost:8081",
            "https://app.example.com.evil.net",
            "null",
            "https://app.example.com/",
        ] {
            assert_eq!(allows(&s, refused), None, "{refused}");
        }
        let any = spec(&["*"], false).expect("valid");
        assert_eq!(allows(&any, "https://anything.example").as_deref(), Some("*"));
    }

    #[test]
    fn bad_settings_are_refused_at_load() {
        assert!(spec(&["*"], true).expect_err("credentials").contains("allowCredentials"));
        for bad in [
            "example.com",
            "https://",
            "https://app.example.com/path",
            "https://*",
            "https://*.com*",
            "https://a.*.example.com",
            "https://app.example.com:0",
            "https://app.example.com:99999",
            "ftp//x",
        ] {
            assert!(spec(&[bad], false).expect_err(bad).contains("allowOrigins"), "{bad}");
        }
        let mut file = CorsFile {
            allow_origins: vec!["*".into()],
            allow_methods: vec!["G ET".into()],
            allow_headers: vec![],
            expose_headers: vec![],
            max_age: None,
            allow_credentials: false,
        };
        assert!(CorsSpec::compile(&file).expect_err("method").contains("allowMethods"));
        file.allow_methods.clear();
        file.max_age = Some(86_401);
        assert!(CorsSpec::compile(&file).expect_err("max age").contains("maxAge"));
        file.max_age = None;
        file.allow_headers = vec!["bad header".into()];
        assert!(CorsSpec::compile(&file).expect_err("header").contains("header name"));
    }

    #[test]
    fn methods_and_headers_are_checked_case_insensitively_where_http_says_so() {
        let s = spec(&["*"], false).expect("valid");
        assert!(s.allows_method("PUT") && s.allows_method("GET") && !s.allows_method("DELETE"));
        assert!(s.allows_headers("content-type, x-custom") && s.allows_headers(""));
        assert!(!s.allows_headers("content-type,x-other"));
    }
}
