//! The gateway definition (`gateway.yaml`): its file format (`file.rs`), the checks it passes at load
//! (`check.rs`), and the typed settings the stages are built from (`spec.rs`).
//!
//! Everything that can be wrong with a definition is found here, before the first request: each error names
//! the route (or stage) and the problem. What comes out is a [`Definition`] for one stage, with stage variables
//! already substituted and every string a request would need parsed.

pub mod access_log;
pub mod caching;
mod check;
pub mod cors;
pub mod file;
pub mod gateway_responses;
pub mod identity;
pub mod mapping;
pub mod metrics;
pub mod parameter_mapping;
mod patterns;
mod section;
pub mod spec;
pub mod template;
pub mod validation;
pub mod websocket;

use std::{collections::BTreeMap, path::Path};

use crate::request::{ApiType, MediaTypes};

pub use file::{
    ApiKeySource, ApiKeysFile, AuthorizerFile, DEFAULT_KEY_CACHE_SECS, GatewayFile, IntegrationFile, LocalFile,
    LocalFunctionFile, MAX_KEY_CACHE_SECS, ResourcePolicyFile, RouteFile, StageFile, TracingFile,
};
pub use gateway_responses::GatewayResponses;
pub use identity::{IdentityScope, IdentitySource};
pub use spec::{
    AuthorizerSpec, Definition, EventKind, IntegrationSpec, IpRules, JwtAuthorizerSpec, LambdaAuthorizerSpec,
    PayloadVersion, RouteSpec,
};
pub use template::Piece;
pub use websocket::{Builtin, WebSocketSpec, WsLambda, WsTarget};

pub use crate::route_key::{RouteKey, Segment};

/// The largest `minimumCompressionSize` REST APIs accept.
pub const MAX_COMPRESSION_SIZE: u64 = 10_485_760;

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
            check::check_stage(name, settings)
                .map_err(|problem| ConfigError::Stage { stage: name.clone(), problem })?;
        }
        let (stage, variables) = pick_stage(&file, stage)?;
        if file.routes.is_empty() && file.websocket.is_none() {
            return Err(ConfigError::Parse("the definition has no routes".to_owned()));
        }
        let mut authorizers = BTreeMap::new();
        for (name, authorizer) in &file.authorizers {
            let spec = check::authorizer(authorizer, file.api_type)
                .map_err(|problem| ConfigError::Parse(format!("authorizer {name:?}: {problem}")))?;
            authorizers.insert(name.clone(), spec);
        }
        let cors = file.cors.as_ref().map(cors::CorsSpec::compile).transpose();
        let cors = cors.map_err(|e| ConfigError::Parse(format!("cors: {e}")))?.map(std::sync::Arc::new);
        // Every model compiles here, at load: never per request, and a broken schema stops the cold start.
        let validation = validation::ApiValidation::compile(
            &file.models,
            &file.request_validators,
            file.request_validator.as_deref(),
        );
        let validation = validation.map_err(ConfigError::Parse)?;
        let stage_file = file.stages.get(&stage);
        let route_default = stage_file.and_then(|s| s.route_throttle);
        let mut routes = Vec::with_capacity(file.routes.len());
        for (key_text, route) in &file.routes {
            let mut spec = check::compile_route(key_text, route, &variables, file.api_type)
                .map_err(|problem| ConfigError::Route { route: key_text.clone(), problem })?;
            spec.throttle = spec.throttle.or(route_default);
            spec.cors = spec.cors.or_else(|| cors.clone());
            spec.cache =
                caching::CacheSpec::compile(stage_file.and_then(|s| s.caching.as_ref()), route.caching.as_ref())
                    .map_err(|problem| ConfigError::Route { route: key_text.clone(), problem })?;
            let path_params: Vec<&str> = spec.key.param_names().collect();
            spec.validation = validation
                .route(
                    route.request_validator.as_deref(),
                    &route.request_parameters,
                    &route.request_models,
                    &path_params,
                )
                .map_err(|problem| ConfigError::Route { route: key_text.clone(), problem })?;
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
                && !matches!(spec.authorizer.as_ref().and_then(|n| authorizers.get(n)), Some(AuthorizerSpec::Jwt(_)))
            {
                return Err(ConfigError::Route {
                    route: key_text.clone(),
                    problem: "authorizationScopes need a JWT authorizer".to_owned(),
                });
            }
            routes.push(spec);
        }
        let resource_policy = file.resource_policy.as_ref().map(check::resource_policy).transpose();
        let resource_policy = resource_policy.map_err(ConfigError::Parse)?;
        if !(1..=MAX_KEY_CACHE_SECS).contains(&file.api_keys.cache_seconds) {
            return Err(ConfigError::Parse(format!("apiKeys.cacheSeconds must be 1-{MAX_KEY_CACHE_SECS}")));
        }
        // Check every other stage too, so a definition that works in `dev` cannot hide a break in `prod`.
        for (other, settings) in file.stages.iter().filter(|(n, _)| **n != stage) {
            for (key_text, route) in &file.routes {
                check::compile_route(key_text, route, &settings.variables, file.api_type)
                    .and_then(|_| caching::CacheSpec::compile(settings.caching.as_ref(), route.caching.as_ref()))
                    .map_err(|problem| ConfigError::Route {
                        route: key_text.clone(),
                        problem: format!("in stage {other:?}: {problem}"),
                    })?;
            }
            if let Some(caching) = &settings.caching {
                caching::StageCache::compile(caching)
                    .map_err(|problem| ConfigError::Stage { stage: other.clone(), problem })?;
            }
        }
        for (name, function) in &file.local.functions {
            if function.command.first().is_none_or(String::is_empty) {
                return Err(ConfigError::Parse(format!("local function {name:?}: command must name a program")));
            }
        }
        let stage_throttle = stage_file.and_then(|s| s.throttle);
        let cache = match stage_file.and_then(|s| s.caching.as_ref()) {
            Some(settings) if routes.iter().any(|r| r.cache.is_some()) => Some(
                caching::StageCache::compile(settings)
                    .map_err(|problem| ConfigError::Stage { stage: stage.clone(), problem })?,
            ),
            _ => None,
        };
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
        if file.api_type == ApiType::Http && !file.binary_media_types.is_empty() {
            return Err(ConfigError::Parse(
                "binaryMediaTypes is a REST API setting: HTTP APIs send every non-text body as base64".to_owned(),
            ));
        }
        let binary_media_types = MediaTypes::parse(&file.binary_media_types).map_err(ConfigError::Parse)?;
        if let Some(size) = file.minimum_compression_size.filter(|s| *s > MAX_COMPRESSION_SIZE) {
            return Err(ConfigError::Parse(format!(
                "minimumCompressionSize must be 0-{MAX_COMPRESSION_SIZE} bytes, not {size}"
            )));
        }
        let page = &file.usage_page;
        if page.enabled && (!page.path.starts_with('/') || page.path.contains(['?', '#', '{'])) {
            return Err(ConfigError::Parse(format!("usagePage.path must be a plain path from /, not {:?}", page.path)));
        }
        let gateway_responses = GatewayResponses::compile(&file.gateway_responses, &variables);
        let gateway_responses = gateway_responses.map_err(ConfigError::Parse)?;
        for (other, settings) in file.stages.iter().filter(|(n, _)| **n != stage) {
            GatewayResponses::compile(&file.gateway_responses, &settings.variables)
                .map_err(|e| ConfigError::Parse(format!("in stage {other:?}: {e}")))?;
        }
        let access_log = file.access_log.as_ref().filter(|v| !v.is_null());
        let access_log = access_log.map(access_log::AccessLogFile::from_value).transpose();
        let access_log = access_log.map_err(ConfigError::Parse)?.unwrap_or_default();
        let access_log = access_log::AccessLogSpec::compile(&access_log).map_err(ConfigError::Parse)?;
        let metrics = file.metrics.as_ref().filter(|v| !v.is_null());
        let metrics = metrics.map(metrics::MetricsFile::from_value).transpose().map_err(ConfigError::Parse)?;
        let metrics = metrics::MetricsSpec::compile(metrics.as_ref()).map_err(ConfigError::Parse)?;
        Ok(Self {
            access_log,
            metrics,
            api_type: file.api_type,
            binary_media_types,
            api_name: file.name,
            stage,
            stage_variables: variables,
            routes,
            api_keys: file.api_keys,
            authorizers,
            resource_policy,
            stage_throttle,
            local: file.local,
            websocket,
            cors,
            minimum_compression_size: file.minimum_compression_size.and_then(|s| usize::try_from(s).ok()),
            gateway_responses,
            cache,
            usage_page: None,
            tracing: stage_file.and_then(|s| s.tracing).is_some_and(|t| t.enabled),
        }
        .with_usage_page(file.usage_page))
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
            AuthorizerSpec::Lambda(lambda) => Some(lambda.function.as_str()),
            AuthorizerSpec::Jwt(_) => None,
        })
    }

    /// Turns the key holder's usage page on where it can answer: it reads keys, so only when a store is used.
    fn with_usage_page(mut self, page: file::UsagePageFile) -> Self {
        self.usage_page = (page.enabled && self.uses_store()).then_some(page.path);
        self
    }

    /// Whether requests need the store: a route requires a key, any throttle is set, or responses are cached
    /// (the shared tier lives there).
    pub fn uses_store(&self) -> bool {
        self.stage_throttle.is_some()
            || self.cache.is_some()
            || self.routes.iter().any(|r| r.api_key_required || r.throttle.is_some())
            || self.websocket.as_ref().is_some_and(|ws| ws.connect.api_key_required)
    }

    /// Whether any route has an HTTP integration or a JWT authorizer (and so needs an HTTP client).
    pub fn uses_http(&self) -> bool {
        self.routes.iter().any(|r| matches!(r.integration, IntegrationSpec::Http { .. }))
            || self.authorizers.values().any(|a| matches!(a, AuthorizerSpec::Jwt(_)))
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
    fn browser_settings_are_checked_at_load() {
        let route = "routes:\n  GET /x:\n    integration: { type: mock }\n";
        let ok = format!(
            "cors: {{ allowOrigins: [\"https://*.example.com\"], allowCredentials: true }}\nminimumCompressionSize: 0\n{route}"
        );
        let def = Definition::from_yaml(&ok, None).expect("valid");
        assert!(def.cors.is_some() && def.routes[0].cors.is_some(), "routes inherit the API's CORS");
        assert_eq!(def.minimum_compression_size, Some(0));
        let cases = [
            (format!("cors: {{ allowOrigins: [\"*\"], allowCredentials: true }}\n{route}"), "cors: allowCredentials"),
            (format!("cors: {{ allowOrigins: [\"app.example.com\"] }}\n{route}"), "is not an origin"),
            (
                "routes:\n  GET /x:\n    cors: { allowOrigins: [\"https://a.b/c\"] }\n    integration: { type: mock }\n"
                    .to_owned(),
                "route \"GET /x\": cors: allowOrigins",
            ),
            (format!("minimumCompressionSize: 10485761\n{route}"), "minimumCompressionSize"),
            (format!("gatewayResponses: {{ NOPE: {{}} }}\n{route}"), "not a response type"),
            (
                format!(
                    "stages:\n  a: {{ variables: {{ v: x }} }}\n  b: {{}}\ngatewayResponses:\n  THROTTLED: \
                     {{ responseTemplates: {{ text/plain: $stageVariables.v }} }}\n{route}"
                ),
                "in stage \"b\"",
            ),
        ];
        for (yaml, problem) in cases {
            let stage = yaml.contains("stages:").then_some("a");
            let err = Definition::from_yaml(&yaml, stage).expect_err(problem).to_string();
            assert!(err.contains(problem), "{problem}: {err}");
        }
    }

    #[test]
    fn tracing_is_a_stage_setting() {
        let with = |stage: &str| {
            format!("stages:\n  a: {{ {stage} }}\nroutes:\n  GET /x: {{ integration: {{ type: mock }} }}\n")
        };
        assert!(Definition::from_yaml(&with("tracing: { enabled: true }"), None).expect("valid").tracing);
        for off in ["", "tracing: {}", "tracing: { enabled: false }"] {
            assert!(!Definition::from_yaml(&with(off), None).expect("valid").tracing, "{off}");
        }
        let err = Definition::from_yaml(&with("tracing: { enabled: true, sampleRate: 1 }"), None).expect_err("unknown");
        assert!(err.to_string().contains("sampleRate"), "{err}");
    }

    #[test]
    fn caching_settings_are_checked_at_load() {
        let with = |stage: &str, route: &str| {
            format!("stages:\n  a: {{ {stage} }}\nroutes:\n  GET /x:\n{route}    integration: {{ type: mock }}\n")
        };
        let def = Definition::from_yaml(&with("caching: { enabled: true, ttlSeconds: 30 }", ""), None).expect("valid");
        let spec = def.routes[0].cache.as_ref().expect("cached");
        assert_eq!((spec.ttl.as_secs(), spec.shared), (30, false));
        assert!(def.cache.is_some() && def.uses_store());
        let off = with("caching: { enabled: true }", "    caching: { enabled: false }\n");
        assert!(Definition::from_yaml(&off, None).expect("valid").cache.is_none(), "no route cached: no cache");
        for (yaml, problem) in [
            (with("caching: { enabled: true, ttlSeconds: 3601 }", ""), "ttlSeconds"),
            (with("caching: { enabled: true, methods: [FETCH] }", ""), "caching.methods"),
            (with("", "    caching: { enabled: true }\n"), "stage's caching section"),
            (with("caching: { enabled: true, maxEntryBytes: 0 }", ""), "maxEntryBytes"),
            (with("caching: { enabled: true, instanceBytes: 0, sharedTier: false }", ""), "needs a tier"),
            (with("caching: { enabled: true, unauthorizedCacheControl: MAYBE }", ""), "unauthorizedCacheControl"),
            (with("caching: { enabled: true }", "    caching: { keyHeaders: [\"bad header\"] }\n"), "keyHeaders"),
        ] {
            let err = Definition::from_yaml(&yaml, None).expect_err(problem).to_string();
            assert!(err.contains(problem), "{problem}: {err}");
        }
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

    #[test]
    fn the_usage_page_is_on_where_keys_are_read_and_its_path_is_checked() {
        let keyed = "routes:\n  GET /a:\n    apiKeyRequired: true\n    integration: { type: mock }\n";
        let def = Definition::from_yaml(keyed, None).expect("valid");
        assert_eq!(def.usage_page.as_deref(), Some("/_usage"));
        let moved = format!("usagePage: {{ path: /me/usage }}\n{keyed}");
        assert_eq!(Definition::from_yaml(&moved, None).expect("valid").usage_page.as_deref(), Some("/me/usage"));
        let off = format!("usagePage: {{ enabled: false }}\n{keyed}");
        assert_eq!(Definition::from_yaml(&off, None).expect("valid").usage_page, None);
        let unmetered = "routes:\n  GET /a:\n    integration: { type: mock }\n";
        assert_eq!(Definition::from_yaml(unmetered, None).expect("valid").usage_page, None, "no keys to read");
        for path in ["usage", "/u?x=1", "/u/{id}"] {
            let bad = format!("usagePage: {{ path: \"{path}\" }}\n{keyed}");
            let err = Definition::from_yaml(&bad, None).expect_err(path).to_string();
            assert!(err.contains("usagePage.path"), "{path}: {err}");
        }
    }
}
