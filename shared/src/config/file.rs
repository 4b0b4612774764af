//! The file format of `gateway.yaml`: serde shapes, their defaults, and nothing else. Unknown fields are
//! refused. What these mean once checked is in `spec.rs`; the checks are in `check.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{
    MAX_TIMEOUT_MS,
    caching::{CachingFile, RouteCachingFile},
    cors::CorsFile,
    gateway_responses::GatewayResponseFile,
    mapping::{IntegrationResponseFile, Passthrough},
    parameter_mapping::{RequestParametersFile, ResponseParametersFile},
    validation::RequestValidatorFile,
    websocket::WebSocketFile,
};
use crate::{request::ApiType, usage::Throttle};

/// The whole `gateway.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayFile {
    /// `HTTP` (default) or `REST`: the API Gateway API type whose answers, events and replies Tollgate gives.
    #[serde(default, rename = "type")]
    pub api_type: ApiType,
    /// Shown in logs and as the `apiId` of events sent to integrations.
    #[serde(default = "default_name")]
    pub name: String,
    /// REST: media types sent to Lambda as base64 and whose base64 replies are decoded (`image/png`, `image/*`,
    /// `*/*`). Every other body travels as text.
    #[serde(default)]
    pub binary_media_types: Vec<String>,
    /// Stage name to its settings. With none, there is one stage, `$default`, without variables.
    #[serde(default)]
    pub stages: BTreeMap<String, StageFile>,
    /// Route key to route (may be empty when the definition has a `websocket` section).
    #[serde(default)]
    pub routes: BTreeMap<String, RouteFile>,
    /// A WebSocket API: its routes, built-in actions and limits.
    #[serde(default)]
    pub websocket: Option<WebSocketFile>,
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
    /// CORS for every route (HTTP APIs' `corsConfiguration`); a route's own `cors` replaces it.
    #[serde(default)]
    pub cors: Option<CorsFile>,
    /// Responses with bodies of at least this many bytes are compressed when the client accepts it, and
    /// compressed request bodies are read (0-10485760; absent: off), as REST APIs' setting.
    #[serde(default)]
    pub minimum_compression_size: Option<u64>,
    /// Response type (`UNAUTHORIZED`, `DEFAULT_4XX`...) to the status, headers and body the gateway answers it with.
    #[serde(default)]
    pub gateway_responses: BTreeMap<String, GatewayResponseFile>,
    /// Model name to its JSON Schema (draft 4, or 2020-12 when its `$schema` names it); routes name models in
    /// `requestModels`, and models may `$ref` each other.
    #[serde(default)]
    pub models: BTreeMap<String, serde_json::Value>,
    /// Validator name to what it checks (API Gateway's `x-amazon-apigateway-request-validators`).
    #[serde(default)]
    pub request_validators: BTreeMap<String, RequestValidatorFile>,
    /// The validator of routes that name none.
    #[serde(default)]
    pub request_validator: Option<String>,
    /// Where a key holder reads their own usage (`GET {path}` with their `x-api-key`), or `enabled: false`.
    #[serde(default)]
    pub usage_page: UsagePageFile,
    /// The access-log line: its format (a preset or a `$context` template) and sample rate; shaped as
    /// `access_log::AccessLogFile`. Read as a JSON value first, then into that shape by hand (`section.rs`): a
    /// derived struct would add a reader of its own to the size-bound router.
    #[serde(default)]
    pub access_log: Option<serde_json::Value>,
    /// CloudWatch metrics as EMF lines: namespace, how often an instance flushes, per-key dimensions; shaped as
    /// `metrics::MetricsFile` and read the same way.
    #[serde(default)]
    pub metrics: Option<serde_json::Value>,
    /// Used by `tollgate serve` only; the router Lambda ignores it.
    #[serde(default)]
    pub local: LocalFile,
}

/// The key holder's usage page: reserved before routing, so it shadows a route on the same path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsagePageFile {
    #[serde(default = "default_usage_path")]
    pub path: String,
    #[serde(default = "on")]
    pub enabled: bool,
}

fn on() -> bool {
    true
}

impl Default for UsagePageFile {
    fn default() -> Self {
        Self { path: default_usage_path(), enabled: true }
    }
}

fn default_usage_path() -> String {
    "/_usage".to_owned()
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
        /// Any `aud` passes, with `audiences` empty: a Cognito user pool authorizer accepts tokens from any of
        /// the pool's app clients (the issuer and signature are still checked).
        #[serde(default)]
        any_audience: bool,
    },
    /// Invokes a Lambda authorizer with the event API Gateway sends.
    #[serde(rename_all = "camelCase")]
    Lambda {
        function: String,
        /// `"1.0"` or `"2.0"`; default: the API type's own (REST APIs send 1.0, HTTP APIs 2.0).
        #[serde(default)]
        payload_format_version: Option<String>,
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
        /// TOKEN only: a regex the whole token must match, or the answer is 401 without invoking the function.
        #[serde(default)]
        identity_validation_expression: Option<String>,
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
    /// Response caching for the stage's routes.
    #[serde(default)]
    pub caching: Option<CachingFile>,
    /// X-Ray tracing for the stage (API Gateway's `tracingEnabled`).
    #[serde(default)]
    pub tracing: Option<TracingFile>,
}

/// The stage's `tracing` section: with `enabled`, the router sends X-Ray documents for its authorizer, store
/// and integration calls (`docs/tracing.md`). Trace headers are continued either way.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TracingFile {
    #[serde(default)]
    pub enabled: bool,
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
    /// This route's CORS, instead of the API's.
    #[serde(default)]
    pub cors: Option<CorsFile>,
    /// This route's caching, over the stage's.
    #[serde(default)]
    pub caching: Option<RouteCachingFile>,
    /// A validator name from `requestValidators`, or `NONE`; default: the API's `requestValidator`.
    #[serde(default)]
    pub request_validator: Option<String>,
    /// `querystring.x`, `header.x` or `path.x` (or `method.request.querystring.x`) to whether it is required.
    #[serde(default)]
    pub request_parameters: BTreeMap<String, bool>,
    /// Media type (or `$default`) to the model its body must match.
    #[serde(default)]
    pub request_models: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum IntegrationFile {
    #[serde(rename_all = "camelCase")]
    Lambda {
        /// Function name, `name:alias`, or ARN; may use `${stageVariables.x}`.
        function: String,
        /// `"1.0"` or `"2.0"`; default: the API type's own (REST APIs send 1.0, HTTP APIs 2.0).
        #[serde(default)]
        payload_format_version: Option<String>,
        #[serde(default = "default_timeout")]
        timeout_ms: u64,
        /// `false`: a REST non-proxy integration, with mapping templates (`docs/mapping-templates.md`).
        #[serde(default = "default_proxy")]
        proxy: bool,
        #[serde(default)]
        passthrough_behavior: Option<Passthrough>,
        /// Media type to request template.
        #[serde(default)]
        request_templates: BTreeMap<String, String>,
        /// `default` or a `selectionPattern` to the integration response it selects.
        #[serde(default)]
        responses: Option<BTreeMap<String, IntegrationResponseFile>>,
        /// HTTP APIs' parameter mapping: `append|overwrite|remove:header.x`, `...:querystring.x` or
        /// `overwrite:path` to a value (`config/parameter_mapping.rs`).
        #[serde(default)]
        request_parameters: RequestParametersFile,
        /// HTTP APIs' parameter mapping: per status code, `...:header.x` or `overwrite:statuscode` to a value.
        #[serde(default)]
        response_parameters: ResponseParametersFile,
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
        /// `false`: a REST non-proxy integration, with mapping templates (`docs/mapping-templates.md`).
        #[serde(default = "default_proxy")]
        proxy: bool,
        #[serde(default)]
        passthrough_behavior: Option<Passthrough>,
        /// Media type to request template.
        #[serde(default)]
        request_templates: BTreeMap<String, String>,
        /// `default` or a `selectionPattern` to the integration response it selects.
        #[serde(default)]
        responses: Option<BTreeMap<String, IntegrationResponseFile>>,
        /// HTTP APIs' parameter mapping: `append|overwrite|remove:header.x`, `...:querystring.x` or
        /// `overwrite:path` to a value (`config/parameter_mapping.rs`).
        #[serde(default)]
        request_parameters: RequestParametersFile,
        /// HTTP APIs' parameter mapping: per status code, `...:header.x` or `overwrite:statuscode` to a value.
        #[serde(default)]
        response_parameters: ResponseParametersFile,
    },
    /// A fixed answer; or, REST only, REST's mock with templates: the request template's `statusCode`
    /// selects an integration response, which answers (`docs/mapping-templates.md`).
    #[serde(rename_all = "camelCase")]
    Mock {
        #[serde(default = "default_mock_status")]
        status_code: u16,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: String,
        #[serde(default)]
        passthrough_behavior: Option<Passthrough>,
        /// Media type to request template; what it renders is JSON with the `statusCode`.
        #[serde(default)]
        request_templates: BTreeMap<String, String>,
        /// `default` or a `selectionPattern` over the status code, to the integration response it selects.
        #[serde(default)]
        responses: Option<BTreeMap<String, IntegrationResponseFile>>,
    },
}

fn default_proxy() -> bool {
    true
}
fn default_timeout() -> u64 {
    MAX_TIMEOUT_MS
}
fn default_mock_status() -> u16 {
    200
}
