//! The gateway definition (`gateway.yaml`): its file format, and its validation at load.
//!
//! Everything that can be wrong with a definition is found here, before the first request: each error names
//! the route (or stage) and the problem. What comes out is a [`Definition`] for one stage, with stage variables
//! already substituted.

pub mod route_key;
pub mod template;

use std::{collections::BTreeMap, path::Path, time::Duration};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;

pub use route_key::{RouteKey, Segment};
pub use template::Piece;

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
    /// Route key to route.
    pub routes: BTreeMap<String, RouteFile>,
    /// Where API keys come from and how long their records are cached.
    #[serde(default)]
    pub api_keys: ApiKeysFile,
    /// Used by `tollgate serve` only; the router Lambda ignores it.
    #[serde(default)]
    pub local: LocalFile,
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
}

/// A checked definition for one stage.
#[derive(Debug, Clone)]
pub struct Definition {
    pub api_name: String,
    pub stage: String,
    pub stage_variables: BTreeMap<String, String>,
    pub routes: Vec<RouteSpec>,
    pub api_keys: ApiKeysFile,
    /// Throttle over every request to this stage.
    pub stage_throttle: Option<Throttle>,
    /// Local function commands for `tollgate serve`.
    pub local: LocalFile,
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
        if file.routes.is_empty() {
            return Err(ConfigError::Parse("the definition has no routes".to_owned()));
        }
        let stage_file = file.stages.get(&stage);
        let route_default = stage_file.and_then(|s| s.route_throttle);
        let mut routes = Vec::with_capacity(file.routes.len());
        for (key_text, route) in &file.routes {
            let mut spec = compile_route(key_text, route, &variables)
                .map_err(|problem| ConfigError::Route { route: key_text.clone(), problem })?;
            spec.throttle = spec.throttle.or(route_default);
            routes.push(spec);
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
        Ok(Self {
            api_name: file.name,
            stage,
            stage_variables: variables,
            routes,
            api_keys: file.api_keys,
            stage_throttle,
            local: file.local,
        })
    }
}

impl Definition {
    /// The functions the Lambda routes name (as written: name, `name:alias` or ARN), one per route.
    pub fn lambda_functions(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().filter_map(|r| match &r.integration {
            IntegrationSpec::Lambda { function, .. } => Some(function.as_str()),
            _ => None,
        })
    }

    /// Whether requests need the usage-plan store: a route requires a key or any throttle is set.
    pub fn uses_store(&self) -> bool {
        self.stage_throttle.is_some() || self.routes.iter().any(|r| r.api_key_required || r.throttle.is_some())
    }

    /// Whether any route has an HTTP integration (and so needs an HTTP client).
    pub fn uses_http(&self) -> bool {
        self.routes.iter().any(|r| matches!(r.integration, IntegrationSpec::Http { .. }))
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
    Ok(RouteSpec {
        key_text: key_text.to_owned(),
        key,
        integration,
        api_key_required: route.api_key_required,
        throttle: route.throttle,
    })
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
}
