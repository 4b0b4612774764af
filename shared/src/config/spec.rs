//! The checked definition's types: what the stages are built from. Every string the file holds that a request
//! would otherwise have to interpret (identity sources, CIDR ranges, payload versions, methods, timeouts) is
//! parsed here once, at load.

use std::{collections::BTreeMap, net::IpAddr, sync::Arc, time::Duration};

use http::{HeaderMap, StatusCode};
use ipnet::IpNet;

use super::{
    access_log::AccessLogSpec,
    caching::{CacheSpec, StageCache},
    cors::CorsSpec,
    file::{ApiKeysFile, LocalFile},
    gateway_responses::GatewayResponses,
    identity::IdentitySource,
    mapping::MappingSpec,
    metrics::MetricsSpec,
    parameter_mapping::ParameterMapping,
    template::Piece,
    validation::RouteValidation,
    websocket::WebSocketSpec,
};
use crate::{
    request::{ApiContext, ApiType, MediaTypes},
    route_key::RouteKey,
    settings::AwsAccount,
    usage::Throttle,
};

/// Lambda proxy payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    V1,
    V2,
}

/// An integration, checked and with stage variables substituted.
#[derive(Debug, Clone)]
pub enum IntegrationSpec {
    /// `mapping`: a REST non-proxy integration's templates and responses; `None`: a proxy integration.
    Lambda { function: String, payload: PayloadVersion, timeout: Duration, mapping: Option<Arc<MappingSpec>> },
    /// `append_path`: a `$default` or greedy route whose URL names no path parameter sends the request's path
    /// after the URL, as API Gateway does.
    Http {
        url: Vec<Piece>,
        method: Option<http::Method>,
        timeout: Duration,
        append_path: bool,
        mapping: Option<Arc<MappingSpec>>,
    },
    /// `mapping`: REST's mock with templates, answering from its integration responses.
    Mock { status: StatusCode, headers: HeaderMap, body: bytes::Bytes, mapping: Option<Arc<MappingSpec>> },
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
    pub resource_policy: Option<IpRules>,
    /// The CORS that applies to the route: its own, else the API's.
    pub cors: Option<Arc<CorsSpec>>,
    /// How its responses are cached; `None`: they are not.
    pub cache: Option<CacheSpec>,
    /// What its request validator checks; `None`: nothing.
    pub validation: Option<Arc<RouteValidation>>,
    /// HTTP APIs: how its integration's requests and responses are changed; `None`: they are not.
    pub parameter_mapping: Option<Arc<ParameterMapping>>,
}

/// Which event a Lambda authorizer gets, and so which answer it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Payload 1.0 `TOKEN`: one header's value; answers with a policy.
    Token,
    /// Payload 1.0 `REQUEST`; answers with a policy.
    RequestV1,
    /// Payload 2.0; answers with a policy, or a simple response (`isAuthorized`).
    V2 { simple: bool },
}

/// An authorizer, checked.
#[derive(Debug, Clone)]
pub enum AuthorizerSpec {
    Jwt(JwtAuthorizerSpec),
    Lambda(LambdaAuthorizerSpec),
}

/// A JWT authorizer: verifies tokens in process against the issuer's keys.
#[derive(Debug, Clone)]
pub struct JwtAuthorizerSpec {
    pub issuer: String,
    /// Empty: any audience (`anyAudience`).
    pub audiences: Vec<String>,
    /// The key set's URL; `None`: OIDC discovery from the issuer.
    pub jwks_uri: Option<String>,
    pub identity: IdentitySource,
    pub leeway_seconds: u64,
}

/// A Lambda authorizer: invoked with the event API Gateway sends, its answers cached by identity.
#[derive(Debug, Clone)]
pub struct LambdaAuthorizerSpec {
    pub function: String,
    pub kind: EventKind,
    pub identity: Vec<IdentitySource>,
    /// 0 turns the cache off.
    pub ttl_seconds: u64,
    pub timeout: Duration,
    /// TOKEN: the whole token must match, or 401 without an invoke (`identityValidationExpression`).
    pub validation: Option<regex_lite::Regex>,
}

/// Source-IP rules (a resource policy): a deny match always refuses; with an allow list, only matches pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpRules {
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

/// A CIDR range, or one address (as a /32 or /128).
pub fn parse_range(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an IPv4 or IPv6 address or CIDR range"))
}

impl IpRules {
    pub fn parse(allow: &[String], deny: &[String]) -> Result<Self, String> {
        let ranges = |list: &[String]| list.iter().map(|c| parse_range(c)).collect::<Result<Vec<_>, _>>();
        Ok(Self { allow: ranges(allow)?, deny: ranges(deny)? })
    }
}

/// A checked definition for one stage.
#[derive(Debug, Clone)]
pub struct Definition {
    pub api_type: ApiType,
    /// REST: what travels as binary.
    pub binary_media_types: MediaTypes,
    pub api_name: String,
    pub stage: String,
    pub stage_variables: BTreeMap<String, String>,
    pub routes: Vec<RouteSpec>,
    pub api_keys: ApiKeysFile,
    pub authorizers: BTreeMap<String, AuthorizerSpec>,
    pub resource_policy: Option<IpRules>,
    /// Throttle over every request to this stage.
    pub stage_throttle: Option<Throttle>,
    /// Local function commands for `tollgate serve`.
    pub local: LocalFile,
    /// The WebSocket API, if the definition has one.
    pub websocket: Option<WebSocketSpec>,
    /// The API's CORS: what requests that match no route (and routes without their own) get.
    pub cors: Option<Arc<CorsSpec>>,
    /// Compress response bodies of at least this many bytes; `None`: compression is off.
    pub minimum_compression_size: Option<usize>,
    pub gateway_responses: GatewayResponses,
    /// The stage's response cache, when any route is cached.
    pub cache: Option<StageCache>,
    /// The path of the key holder's usage page, when it is on and the definition meters anything.
    pub usage_page: Option<String>,
    /// The stage's `tracing.enabled`: send X-Ray documents.
    pub tracing: bool,
    /// The access-log line's format and sample rate.
    pub access_log: AccessLogSpec,
    /// CloudWatch metrics; `None`: turned off.
    pub metrics: Option<MetricsSpec>,
}

impl Definition {
    /// What integrations and authorizers are told about the API, for ARNs in `account`.
    pub fn api_context(&self, account: &AwsAccount) -> ApiContext {
        ApiContext {
            api_type: self.api_type,
            api_id: self.api_name.clone(),
            stage: self.stage.clone(),
            stage_variables: self.stage_variables.clone(),
            arn_prefix: account.execute_api_arn_prefix(),
            binary_media_types: self.binary_media_types.clone(),
            deployment_id: deployment_id(&self.api_name, &self.stage),
        }
    }
}

/// A REST API's `deploymentId` for this definition and stage: six characters derived from both, so it stays the
/// same across instances and cold starts.
fn deployment_id(api: &str, stage: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("{api}/{stage}").as_bytes());
    digest.as_ref()[..6].iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}
