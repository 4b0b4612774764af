//! The gateway definition (`gateway.yaml`): its file format, and its validation at load.
//!
//! Everything that can be wrong with a definition is found here, before the first request: each error names
//! the route (or stage) and the problem. What comes out is a [`Definition`] for one stage, with stage variables
//! already substituted.

pub mod route_key;
pub mod template;
pub mod websocket;

use std::{collections::BTreeMap, path::Path, time::Duration};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;

pub use route_key::{RouteKey, Segment};
pub use template::Piece;
pub use websocket::{Builtin, WebSocketSpec, WsLambda, WsTarget};

use crate::usage::Throttle;

/// API Gateway's integration timeout bounds for HTTP APIs: 50 ms to 30 s.
pub const MIN_TIMEOUT_MS: u64 = 50;
pub const MAX_TIMEOUT_MS: u64 = 30_000;

/// Why a definition was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}")]
    Parse(String),
    #[error("stage {stage:?}: {problem}")]
    Stage { stage: String, problem: String },
    #[error("route {route:?}: {problem}")]
    Route { route: String, problem: String },
}

// ===== file format =====

/// The whole `gateway.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayFile {
    /// Shown in logs and as the `apiId` of events sent to integrations.
    #[serde(default = "default_name")]
    pub name: String,
    /// Stage name to its settings. With none, there is one stage, `$default`, without variables.
    #[serde(default)]
    pub stages: BTreeMap<String, StageFile>,
    /// Route key to route (may be empty when the definition has a `websocket` section).
    #[serde(default)]
    pub routes: BTreeMap<String, RouteFile>,
    /// A WebSocket API: its routes, built-in actions and limits.
    #[serde(default)]
    pub websocket: Option<websocket::WebSocketFile>,
    /// Where API keys come from and how long their records are cached.
    #[serde(default)]
    pub api_keys: ApiKeysFile,
    /// Authorizers by name; routes name one with `authorizer`.
    #[serde(default)]
    pub authorizers: BTreeMap<String, AuthorizerFile>,
    /// The authorizer of routes that name none (`authorizer: NONE` opts a route out).
    #[serde(default)]
    pub default_authorizer: Option<String>,
    /// Source-IP allow and deny lists over the whole API.
    #[serde(default)]
    pub resource_policy: Option<ResourcePolicyFile>,
    /// Used by `tollgate serve` only; the router Lambda ignores it.
    #[serde(default)]
    pub local: LocalFile,
}

/// An authorizer's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthorizerFile {
    /// Verifies a JWT in process against the issuer's keys (HTTP APIs' JWT authorizer).
    #[serde(rename_all = "camelCase")]
    Jwt {
        issuer: String,
        /// Accepted `aud` values (or `client_id` when the token has no `aud`); at most 50.
        audiences: Vec<String>,
        /// Where the keys are; default: `jwks_uri` from `{issuer}/.well-known/openid-configuration`.
        #[serde(default)]
        jwks_uri: Option<String>,
        #[serde(default = "default_authorization_header")]
        identity_source: String,
        /// Clock skew allowed on `exp`, `nbf` and `iat`, 0-300 seconds.
        #[serde(default)]
        leeway_seconds: u64,
    },
    /// Invokes a Lambda authorizer with the event API Gateway sends.
    #[serde(rename_all = "camelCase")]
    Lambda {
        function: String,
        #[serde(default = "default_payload_version")]
        payload_format_version: String,
        /// Payload 1.0 only: `TOKEN` (one header) or `REQUEST` (default).
        #[serde(default)]
        event_type: Option<String>,
        #[serde(default = "default_identity_sources")]
        identity_sources: Vec<String>,
        /// 0-3600; 0 turns the cache off.
        #[serde(default = "default_authorizer_ttl")]
        result_ttl_seconds: u64,
        /// Payload 2.0 only: the function answers `{"isAuthorized": bool, "context": {...}}`.
        #[serde(default)]
        simple_responses: bool,
        #[serde(default = "default_authorizer_timeout")]
        timeout_ms: u64,
    },
}

fn default_authorization_header() -> String {
    "$request.header.Authorization".to_owned()
}
fn default_identity_sources() -> Vec<String> {
    vec![default_authorization_header()]
}
fn default_authorizer_ttl() -> u64 {
    300
}
fn default_authorizer_timeout() -> u64 {
    10_000
}

/// Source IP ranges (CIDR, IPv4 or IPv6). A deny match always refuses; with an allow list, only matches pass.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourcePolicyFile {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
}

/// Where a route that requires an API key finds it (API Gateway's `apiKeySource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    #[default]
    Header,
    /// The `usageIdentifierKey` a Lambda authorizer returned.
    Authorizer,
}

/// Default for how long a key or plan record is trusted before it is read again.
pub const DEFAULT_KEY_CACHE_SECS: u32 = 10;
/// Longest allowed key cache: API Gateway's authorizer cache limit.
pub const MAX_KEY_CACHE_SECS: u32 = 3_600;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiKeysFile {
    #[serde(default)]
    pub source: ApiKeySource,
    /// How long a revoked or changed key may still be honoured by an instance that read it.
    #[serde(default = "default_key_cache")]
    pub cache_seconds: u32,
}

impl Default for ApiKeysFile {
    fn default() -> Self {
        Self { source: ApiKeySource::Header, cache_seconds: DEFAULT_KEY_CACHE_SECS }
    }
}

fn default_key_cache() -> u32 {
    DEFAULT_KEY_CACHE_SECS
}

/// How `tollgate serve` runs Lambda functions on this machine.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalFile {
    /// Function name to the command that runs it under a local Lambda Runtime API.
    #[serde(default)]
    pub functions: BTreeMap<String, LocalFunctionFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalFunctionFile {
    /// Program and arguments, run from the definition file's folder.
    pub command: Vec<String>,
    /// Extra environment for the function.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

fn default_name() -> String {
    "tollgate".to_owned()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StageFile {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// A throttle over every request to the stage (API Gateway's account-level limit, per stage here).
    #[serde(default)]
    pub throttle: Option<Throttle>,
    /// Default throttle of each route of the stage, unless the route sets its own.
    #[serde(default)]
    pub route_throttle: Option<Throttle>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteFile {
    pub integration: IntegrationFile,
    /// Requests must carry an API key that belongs to a usage plan of the stage.
    #[serde(default)]
    pub api_key_required: bool,
    /// This route's throttle in every stage (over all callers), instead of the stage's `routeThrottle`.
    #[serde(default)]
    pub throttle: Option<Throttle>,
    /// An authorizer name from `authorizers`, or `NONE`; default: `defaultAuthorizer`.
    #[serde(default)]
    pub authorizer: Option<String>,
    /// JWT authorizers: the token's `scope`/`scp` must hold at least one of these (at most 10).
    #[serde(default)]
    pub authorization_scopes: Vec<String>,
    /// Source-IP rules for this route, checked after the API's.
    #[serde(default)]
    pub resource_policy: Option<ResourcePolicyFile>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum IntegrationFile {
    #[serde(rename_all = "camelCase")]
    Lambda {
        /// Function name, `name:alias`, or ARN; may use `${stageVariables.x}`.
        function: String,
        #[serde(default = "default_payload_version")]
        payload_format_version: String,
        #[serde(default = "default_timeout")]
        timeout_ms: u64,
    },
    #[serde(rename_all = "camelCase")]
    Http {
        /// Target URL; may use `{pathParam}` and `${stageVariables.x}`. The request's query string is appended.
        url: String,
        /// Method to call the backend with; default: the request's own.
        #[serde(default)]
        method: Option<String>,
        #[serde(default = "default_timeout")]
        timeout_ms: u64,
    },
    #[serde(rename_all = "camelCase")]
    Mock {
        #[serde(default = "default_mock_status")]
        status_code: u16,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: String,
    },
}

fn default_payload_version() -> String {
    "2.0".to_owned()
}
fn default_timeout() -> u64 {
    MAX_TIMEOUT_MS
}
fn default_mock_status() -> u16 {
    200
}

// ===== validated definition =====

/// Lambda proxy payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    V1,
    V2,
}

/// An integration, checked and with stage variables substituted.
#[derive(Debug, Clone)]
pub enum IntegrationSpec {
    Lambda { function: String, payload: PayloadVersion, timeout: Duration },
    Http { url: Vec<Piece>, method: Option<http::Method>, timeout: Duration },
    Mock { status: StatusCode, headers: HeaderMap, body: bytes::Bytes },
}

/// One route, ready to serve.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// The route key as written, e.g. `GET /pets/{id}`: what events and logs call the route.
    pub key_text: String,
    pub key: RouteKey,
    pub integration: IntegrationSpec,
    pub api_key_required: bool,
    /// The route's own throttle, or the stage's default route throttle.
    pub throttle: Option<Throttle>,
    /// The authorizer that guards the route, by name (`None`: open).
    pub authorizer: Option<String>,
    pub authorization_scopes: Vec<String>,
    pub resource_policy: Option<ResourcePolicyFile>,
}

/// A checked definition for one stage.
#[derive(Debug, Clone)]
pub struct Definition {
    pub api_name: String,
    pub stage: String,
    pub stage_variables: BTreeMap<String, String>,
    pub routes: Vec<RouteSpec>,
    pub api_keys: ApiKeysFile,
    pub authorizers: BTreeMap<String, AuthorizerFile>,
    pub resource_policy: Option<ResourcePolicyFile>,
    /// Throttle over every request to this stage.
    pub stage_throttle: Option<Throttle>,
    /// Local function commands for `tollgate serve`.
    pub local: LocalFile,
    /// The WebSocket API, if the definition has one.
    pub websocket: Option<WebSocketSpec>,
}

impl Definition {
    /// Reads and checks a definition file for `stage` (see [`Definition::from_yaml`]).
    pub fn load(path: &Path, stage: Option<&str>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_yaml(&text, stage)
    }

    /// Parses and checks a definition. `stage` may be omitted when the file defines at most one stage.
    pub fn from_yaml(text: &str, stage: Option<&str>) -> Result<Self, ConfigError> {
        let file: GatewayFile = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        Self::from_file(file, stage)
    }

    pub fn from_file(file: GatewayFile, stage: Option<&str>) -> Result<Self, ConfigError> {
        for (name, settings) in &file.stages {
            check_stage(name, settings).map_err(|problem| ConfigError::Stage { stage: name.clone(), problem })?;
        }
        let (stage, variables) = pick_stage(&file, stage)?;
        if file.routes.is_empty() && file.websocket.is_none() {
            return Err(ConfigError::Parse("the definition has no routes".to_owned()));
        }
        let stage_file = file.stages.get(&stage);
        let route_default = stage_file.and_then(|s| s.route_throttle);
        let mut routes = Vec::with_capacity(file.routes.len());
        for (key_text, route) in &file.routes {
            let mut spec = compile_route(key_text, route, &variables)
                .map_err(|problem| ConfigError::Route { route: key_text.clone(), problem })?;
            spec.throttle = spec.throttle.or(route_default);
            spec.authorizer = match route.authorizer.as_deref().or(file.default_authorizer.as_deref()) {
                None | Some("NONE") => None,
                Some(name) if file.authorizers.contains_key(name) => Some(name.to_owned()),
                Some(name) => {
                    return Err(ConfigError::Route {
                        route: key_text.clone(),
                        problem: format!("authorizer {name:?} is not defined under authorizers"),
                    });
                }
            };
            if !spec.authorization_scopes.is_empty()
                && !matches!(
                    spec.authorizer.as_ref().and_then(|n| file.authorizers.get(n)),
                    Some(AuthorizerFile::Jwt { .. })
                )
            {
                return Err(ConfigError::Route {
                    route: key_text.clone(),
                    problem: "authorizationScopes need a JWT authorizer".to_owned(),
                });
            }
            routes.push(spec);
        }
        for (name, authorizer) in &file.authorizers {
            check_authorizer(authorizer)
                .map_err(|problem| ConfigError::Parse(format!("authorizer {name:?}: {problem}")))?;
        }
        if let Some(policy) = &file.resource_policy {
            check_resource_policy(policy).map_err(|p| ConfigError::Parse(format!("resourcePolicy: {p}")))?;
        }
        if !(1..=MAX_KEY_CACHE_SECS).contains(&file.api_keys.cache_seconds) {
            return Err(ConfigError::Parse(format!("apiKeys.cacheSeconds must be 1-{MAX_KEY_CACHE_SECS}")));
        }
        // Check every other stage too, so a definition that works in `dev` cannot hide a break in `prod`.
        for (other, settings) in file.stages.iter().filter(|(n, _)| **n != stage) {
            for (key_text, route) in &file.routes {
                compile_route(key_text, route, &settings.variables).map_err(|problem| ConfigError::Route {
                    route: key_text.clone(),
                    problem: format!("in stage {other:?}: {problem}"),
                })?;
            }
        }
        for (name, function) in &file.local.functions {
            if function.command.first().is_none_or(String::is_empty) {
                return Err(ConfigError::Parse(format!("local function {name:?}: command must name a program")));
            }
        }
        let stage_throttle = stage_file.and_then(|s| s.throttle);
        let authorizer_exists = |name: &str| file.authorizers.contains_key(name);
        let compile_ws = |ws, vars| {
            websocket::compile(ws, file.default_authorizer.as_deref(), &authorizer_exists, vars)
                .map_err(|(route, problem)| ConfigError::Route { route, problem })
        };
        let websocket = file.websocket.as_ref().map(|ws| compile_ws(ws, &variables)).transpose()?;
        for (other, settings) in file.stages.iter().filter(|(n, _)| **n != stage) {
            if let Some(ws) = &file.websocket {
                compile_ws(ws, &settings.variables)
                    .map_err(|e| ConfigError::Parse(format!("in stage {other:?}: {e}")))?;
            }
        }
        Ok(Self {
            api_name: file.name,
            stage,
            stage_variables: variables,
            routes,
            api_keys: file.api_keys,
            authorizers: file.authorizers,
            resource_policy: file.resource_policy,
            stage_throttle,
            local: file.local,
            websocket,
        })
    }
}

impl Definition {
    /// The functions the Lambda routes name (as written: name, `name:alias` or ARN), one per route.
    pub fn lambda_functions(&self) -> impl Iterator<Item = &str> {
        self.routes
            .iter()
            .filter_map(|r| match &r.integration {
                IntegrationSpec::Lambda { function, .. } => Some(function.as_str()),
                _ => None,
            })
            .chain(self.authorizer_functions())
            .chain(self.websocket.iter().flat_map(WebSocketSpec::lambda_functions))
    }

    /// The Lambda functions the definition's authorizers invoke.
    pub fn authorizer_functions(&self) -> impl Iterator<Item = &str> {
        self.authorizers.values().filter_map(|a| match a {
            AuthorizerFile::Lambda { function, .. } => Some(function.as_str()),
            AuthorizerFile::Jwt { .. } => None,
        })
    }

    /// Whether requests need the usage-plan store: a route requires a key or any throttle is set.
    pub fn uses_store(&self) -> bool {
        self.stage_throttle.is_some()
            || self.routes.iter().any(|r| r.api_key_required || r.throttle.is_some())
            || self.websocket.as_ref().is_some_and(|ws| ws.connect.api_key_required)
    }

    /// Whether any route has an HTTP integration or a JWT authorizer (and so needs an HTTP client).
    pub fn uses_http(&self) -> bool {
        self.routes.iter().any(|r| matches!(r.integration, IntegrationSpec::Http { .. }))
            || self.authorizers.values().any(|a| matches!(a, AuthorizerFile::Jwt { .. }))
    }
}

fn pick_stage(file: &GatewayFile, wanted: Option<&str>) -> Result<(String, BTreeMap<String, String>), ConfigError> {
    match wanted {
        Some(name) => match file.stages.get(name) {
            Some(s) => Ok((name.to_owned(), s.variables.clone())),
            None if file.stages.is_empty() && name == "$default" => Ok((name.to_owned(), BTreeMap::new())),
            None => Err(ConfigError::Stage {
                stage: name.to_owned(),
                problem: format!(
                    "not defined; the definition has: {}",
                    file.stages.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            }),
        },
        None => match file.stages.len() {
            0 => Ok(("$default".to_owned(), BTreeMap::new())),
            1 => file
                .stages
                .iter()
                .next()
                .map(|(n, s)| (n.clone(), s.variables.clone()))
                .ok_or_else(|| ConfigError::Parse("no stage".to_owned())),
            _ => Err(ConfigError::Parse(format!(
                "the definition has several stages ({}); choose one (TOLLGATE_STAGE or --stage)",
                file.stages.keys().cloned().collect::<Vec<_>>().join(", ")
            ))),
        },
    }
}

/// API Gateway's rules for stage names and variables.
fn check_stage(name: &str, stage: &StageFile) -> Result<(), String> {
    let name_ok = name == "$default"
        || (!name.is_empty()
            && name.len() <= 128
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if !name_ok {
        return Err("a stage name is 1-128 letters, digits, '-' or '_' (or $default)".to_owned());
    }
    for throttle in stage.throttle.iter().chain(&stage.route_throttle) {
        throttle.check()?;
    }
    if stage.variables.len() > 100 {
        return Err("more than 100 stage variables".to_owned());
    }
    for (key, value) in &stage.variables {
        if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("variable name {key:?} must be 1-64 letters, digits or '_'"));
        }
        let value_ok = !value.is_empty()
            && value.len() <= 512
            && value.chars().all(|c| c.is_ascii_alphanumeric() || "-._~:/?#&=,".contains(c));
        if !value_ok {
            return Err(format!("variable {key:?}: a value is 1-512 characters of A-Za-z0-9-._~:/?#&=,"));
        }
    }
    Ok(())
}

fn compile_route(key_text: &str, route: &RouteFile, vars: &BTreeMap<String, String>) -> Result<RouteSpec, String> {
    let key = RouteKey::parse(key_text)?;
    let params: Vec<&str> = key.param_names().collect();
    let integration = match &route.integration {
        IntegrationFile::Lambda { function, payload_format_version, timeout_ms } => {
            let function = template::substitute_stage_variables(function, vars)?;
            if function.is_empty() {
                return Err("lambda integration needs a function name or ARN".to_owned());
            }
            let payload = match payload_format_version.as_str() {
                "1.0" => PayloadVersion::V1,
                "2.0" => PayloadVersion::V2,
                other => return Err(format!("payloadFormatVersion {other:?}: use \"1.0\" or \"2.0\"")),
            };
            IntegrationSpec::Lambda { function, payload, timeout: check_timeout(*timeout_ms)? }
        }
        IntegrationFile::Http { url, method, timeout_ms } => {
            let url = template::substitute_stage_variables(url, vars)?;
            let pieces = template::parse_params(&url, &params)?;
            // The URL with every parameter filled by a placeholder must be a valid http(s) URI.
            let sample: String = pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.as_str(),
                    Piece::Param(_) => "x",
                })
                .collect();
            let uri: http::Uri = sample.parse().map_err(|e| format!("url {url:?} is not a valid URL: {e}"))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err(format!("url {url:?} must be an absolute http:// or https:// URL"));
            }
            let method = method
                .as_deref()
                .map(|m| http::Method::from_bytes(m.as_bytes()).map_err(|_| format!("method {m:?} is not valid")))
                .transpose()?;
            IntegrationSpec::Http { url: pieces, method, timeout: check_timeout(*timeout_ms)? }
        }
        IntegrationFile::Mock { status_code, headers, body } => {
            let status = StatusCode::from_u16(*status_code)
                .ok()
                .filter(|s| (200..=599).contains(&s.as_u16()))
                .ok_or_else(|| format!("statusCode {status_code} must be 200-599"))?;
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                let name =
                    HeaderName::try_from(name.as_str()).map_err(|_| format!("header name {name:?} is not valid"))?;
                let value = HeaderValue::try_from(value.as_str())
                    .map_err(|_| format!("header {name}: value {value:?} is not valid"))?;
                map.append(name, value);
            }
            IntegrationSpec::Mock { status, headers: map, body: bytes::Bytes::from(body.clone()) }
        }
    };
    if let Some(t) = &route.throttle {
        t.check().map_err(|e| format!("throttle: {e}"))?;
    }
    if route.authorization_scopes.len() > 10 {
        return Err("at most 10 authorizationScopes".to_owned());
    }
    if let Some(policy) = &route.resource_policy {
        check_resource_policy(policy).map_err(|p| format!("resourcePolicy: {p}"))?;
    }
    Ok(RouteSpec {
        key_text: key_text.to_owned(),
        key,
        integration,
        api_key_required: route.api_key_required,
        throttle: route.throttle,
        authorizer: None,
        authorization_scopes: route.authorization_scopes.clone(),
        resource_policy: route.resource_policy.clone(),
    })
}

fn check_resource_policy(policy: &ResourcePolicyFile) -> Result<(), String> {
    for cidr in policy.allow.iter().chain(&policy.deny) {
        crate::auth::resource_policy::parse_range(cidr)?;
    }
    Ok(())
}

fn check_authorizer(authorizer: &AuthorizerFile) -> Result<(), String> {
    match authorizer {
        AuthorizerFile::Jwt { issuer, audiences, jwks_uri, identity_source, leeway_seconds } => {
            let issuer_uri: http::Uri = issuer.parse().map_err(|_| format!("issuer {issuer:?} is not a URL"))?;
            if !matches!(issuer_uri.scheme_str(), Some("https" | "http")) {
                return Err(format!("issuer {issuer:?} must be an https:// URL"));
            }
            if audiences.is_empty() || audiences.len() > 50 {
                return Err("audiences: 1-50 values".to_owned());
            }
            if let Some(uri) = jwks_uri {
                uri.parse::<http::Uri>().map_err(|_| format!("jwksUri {uri:?} is not a URL"))?;
            }
            crate::auth::identity::IdentitySource::parse(identity_source)?;
            if *leeway_seconds > 300 {
                return Err("leewaySeconds must be 0-300".to_owned());
            }
        }
        AuthorizerFile::Lambda {
            function,
            payload_format_version,
            event_type,
            identity_sources,
            result_ttl_seconds,
            timeout_ms,
            simple_responses,
        } => {
            if function.is_empty() {
                return Err("function is required".to_owned());
            }
            match (payload_format_version.as_str(), event_type.as_deref()) {
                ("1.0", None | Some("TOKEN" | "REQUEST")) | ("2.0", None) => {}
                ("2.0", Some(_)) => return Err("eventType applies to payload 1.0 only".to_owned()),
                (v, _) => {
                    return Err(format!(
                        "payloadFormatVersion {v:?}: use \"1.0\" or \"2.0\"; eventType TOKEN or REQUEST"
                    ));
                }
            }
            if *simple_responses && payload_format_version != "2.0" {
                return Err("simpleResponses needs payloadFormatVersion 2.0".to_owned());
            }
            if event_type.as_deref() == Some("TOKEN") && identity_sources.len() != 1 {
                return Err("a TOKEN authorizer has exactly one identity source, a header".to_owned());
            }
            if identity_sources.is_empty() && *result_ttl_seconds > 0 {
                return Err("a cached authorizer needs at least one identity source".to_owned());
            }
            for source in identity_sources {
                crate::auth::identity::IdentitySource::parse(source)?;
            }
            if *result_ttl_seconds > 3_600 {
                return Err("resultTtlSeconds must be 0-3600".to_owned());
            }
            if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(timeout_ms) {
                return Err(format!("timeoutMs must be {MIN_TIMEOUT_MS}-{MAX_TIMEOUT_MS}"));
            }
        }
    }
    Ok(())
}

fn check_timeout(ms: u64) -> Result<Duration, String> {
    if (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&ms) {
        Ok(Duration::from_millis(ms))
    } else {
        Err(format!("timeoutMs {ms} must be {MIN_TIMEOUT_MS}-{MAX_TIMEOUT_MS}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: pets
stages:
  prod: { variables: { host: "api.internal", fn: "pets-prod" } }
  dev: { variables: { host: "localhost:9000", fn: "pets-dev" } }
routes:
  GET /pets/{id}:
    integration: { type: lambda, function: "${stageVariables.fn}", payloadFormatVersion: "1.0" }
  ANY /files/{proxy+}:
    integration: { type: http, url: "http://${stageVariables.host}/files/{proxy}", timeoutMs: 5000 }
  $default:
    integration: { type: mock, statusCode: 404, body: "nope" }
"#;

    #[test]
    fn loads_one_stage_with_variables_substituted() {
        let def = Definition::from_yaml(GOOD, Some("dev")).expect("valid");
        assert_eq!(def.stage, "dev");
        assert_eq!(def.routes.len(), 3);
        let lambda = def.routes.iter().find(|r| r.key_text == "GET /pets/{id}").expect("route");
        assert!(
            matches!(&lambda.integration, IntegrationSpec::Lambda { function, payload: PayloadVersion::V1, .. } if function == "pets-dev")
        );
    }

    #[test]
    fn names_the_route_and_the_problem() {
        let cases = [
            (
                GOOD.replace("payloadFormatVersion: \"1.0\"", "payloadFormatVersion: \"3.0\""),
                "GET /pets/{id}",
                "payloadFormatVersion",
            ),
            (GOOD.replace("{proxy}\"", "{nope}\""), "ANY /files/{proxy+}", "not a path parameter"),
            (GOOD.replace("timeoutMs: 5000", "timeoutMs: 31000"), "ANY /files/{proxy+}", "timeoutMs"),
            (GOOD.replace("statusCode: 404", "statusCode: 99"), "$default", "statusCode"),
            (GOOD.replace("${stageVariables.fn}", "${stageVariables.missing}"), "GET /pets/{id}", "not defined"),
            (GOOD.replace("GET /pets/{id}", "FETCH /pets/{id}"), "FETCH /pets/{id}", "unknown method"),
        ];
        for (yaml, route, problem) in cases {
            let err = Definition::from_yaml(&yaml, Some("prod")).expect_err(problem).to_string();
            assert!(err.contains(route) && err.contains(problem), "{err}");
        }
    }

    #[test]
    fn refuses_unknown_fields_ambiguous_and_missing_stages() {
        let typo = GOOD.replace("timeoutMs: 5000", "timeout: 5000");
        assert!(Definition::from_yaml(&typo, Some("prod")).expect_err("typo").to_string().contains("timeout"));
        assert!(Definition::from_yaml(GOOD, None).expect_err("ambiguous").to_string().contains("several stages"));
        assert!(Definition::from_yaml(GOOD, Some("qa")).expect_err("missing").to_string().contains("qa"));
        let bad_var = GOOD.replace("api.internal", "has space");
        assert!(Definition::from_yaml(&bad_var, Some("dev")).expect_err("var").to_string().contains("prod"));
    }

    #[test]
    fn authorizer_settings_are_checked_at_load() {
        let base = |authorizers: &str, route: &str| {
            format!("authorizers:\n{authorizers}\nroutes:\n  GET /x:\n{route}    integration: {{ type: mock }}\n")
        };
        let jwt = "  users: { type: jwt, issuer: \"https://id.example\", audiences: [api] }";
        assert!(
            Definition::from_yaml(&base(jwt, "    authorizer: users\n    authorizationScopes: [read]\n"), None).is_ok()
        );
        let cases = [
            (base(jwt, "    authorizer: nobody\n"), "not defined"),
            (base("  users: { type: jwt, issuer: \"ftp://id.example\", audiences: [api] }", ""), "https"),
            (base("  users: { type: jwt, issuer: \"https://id.example\", audiences: [] }", ""), "audiences"),
            (
                base("  users: { type: jwt, issuer: \"https://id.example\", audiences: [a], leewaySeconds: 301 }", ""),
                "leeway",
            ),
            (base("  fn: { type: lambda, function: f, resultTtlSeconds: 3601 }", ""), "resultTtlSeconds"),
            (
                base("  fn: { type: lambda, function: f, identitySources: [\"$request.body.x\"] }", ""),
                "identity source",
            ),
            (base("  fn: { type: lambda, function: f, eventType: TOKEN }", ""), "eventType"),
            (
                base("  fn: { type: lambda, function: f, payloadFormatVersion: \"1.0\", simpleResponses: true }", ""),
                "simpleResponses",
            ),
            (
                base("  fn: { type: lambda, function: f }", "    authorizer: fn\n    authorizationScopes: [a]\n"),
                "JWT authorizer",
            ),
        ];
        for (yaml, problem) in cases {
            let err = Definition::from_yaml(&yaml, None).expect_err(problem).to_string();
            assert!(err.contains(problem), "{problem}: {err}");
        }
    }
}
