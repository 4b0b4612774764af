//! Identity sources: where an authorizer finds what identifies the caller (HTTP API syntax).

use crate::request::GatewayRequest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// `$request.header.X` (case-insensitive).
    Header(String),
    /// `$request.querystring.X` (case-sensitive).
    Query(String),
    /// `$context.X`: `requestId`, `routeKey`, `sourceIp`, `httpMethod`, `path`, `stage`.
    Context(String),
    /// `$stageVariables.X`.
    StageVariable(String),
}

/// What identity sources may read besides the request.
#[derive(Debug, Clone, Copy)]
pub struct IdentityScope<'a> {
    pub route_key: &'a str,
    pub stage: &'a str,
    pub stage_variables: &'a std::collections::BTreeMap<String, String>,
}

impl IdentitySource {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "identity source {text:?}: use $request.header.X, $request.querystring.X (or route.request.header.X, \
                 route.request.querystring.X), $context.X or $stageVariables.X"
            )
        };
        // `route.request.*` is how WebSocket APIs write the same sources.
        let (kind, name) = if let Some(n) =
            text.strip_prefix("$request.header.").or_else(|| text.strip_prefix("route.request.header."))
        {
            (0, n)
        } else if let Some(n) =
            text.strip_prefix("$request.querystring.").or_else(|| text.strip_prefix("route.request.querystring."))
        {
            (1, n)
        } else if let Some(n) = text.strip_prefix("$context.") {
            if !matches!(n, "requestId" | "routeKey" | "sourceIp" | "httpMethod" | "path" | "stage") {
                return Err(format!("identity source {text:?}: unknown $context variable"));
            }
            (2, n)
        } else if let Some(n) = text.strip_prefix("$stageVariables.") {
            (3, n)
        } else {
            return Err(bad());
        };
        if name.is_empty() {
            return Err(bad());
        }
        let name = name.to_owned();
        Ok(match kind {
            0 => Self::Header(name.to_ascii_lowercase()),
            1 => Self::Query(name),
            2 => Self::Context(name),
            _ => Self::StageVariable(name),
        })
    }

    /// The value for this request; `None` when it is missing or empty (API Gateway then answers 401).
    pub fn resolve(&self, request: &GatewayRequest, scope: IdentityScope<'_>) -> Option<String> {
        let value = match self {
            Self::Header(name) => {
                let values: Vec<&str> =
                    request.headers.get_all(name.as_str()).iter().filter_map(|v| v.to_str().ok()).collect();
                (!values.is_empty()).then(|| values.join(","))
            }
            Self::Query(name) => {
                let values: Vec<String> = form_urlencoded::parse(request.raw_query.as_bytes())
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
                    .collect();
                (!values.is_empty()).then(|| values.join(","))
            }
            Self::Context(name) => Some(match name.as_str() {
                "requestId" => request.request_id.clone(),
                "routeKey" => scope.route_key.to_owned(),
                "sourceIp" => request.source_ip.clone(),
                "httpMethod" => request.method.to_string(),
                "path" => request.raw_path.clone(),
                _ => scope.stage.to_owned(),
            }),
            Self::StageVariable(name) => scope.stage_variables.get(name).cloned(),
        };
        value.filter(|v| !v.is_empty())
    }
}
