//! The `websocket:` section of `gateway.yaml`: a WebSocket API beside (or instead of) the HTTP routes.
//!
//! Route keys are API Gateway's: `$connect`, `$disconnect`, `$default`, and any action name the route
//! selection expression yields. A message route goes to a Lambda function or to a built-in action.

use std::{collections::BTreeMap, time::Duration};

use serde::Deserialize;

use super::{IntegrationFile, MAX_TIMEOUT_MS, check::check_timeout, template};

/// API Gateway's WebSocket limits [DG:limits]: frames up to 32 KB, messages up to 128 KB, idle for 10 minutes,
/// connected for 2 hours.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
pub const IDLE_TIMEOUT_SECS: u64 = 600;
pub const MAX_CONNECTION_SECS: u64 = 7_200;
/// Posts in flight at once during a fan-out, per publish.
pub const DEFAULT_FAN_OUT_CONCURRENCY: usize = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebSocketFile {
    /// Where the route key is in a message; only `$request.body.<field>[.<field>...]` is supported.
    #[serde(default = "default_selection")]
    pub route_selection_expression: String,
    /// Route key to route. Without `routes`, the built-in actions answer to their own names.
    #[serde(default)]
    pub routes: Option<BTreeMap<String, WsRouteFile>>,
    #[serde(default)]
    pub limits: WsLimitsFile,
    /// Posts in flight at once while fanning a message out (1-1000).
    #[serde(default = "default_concurrency")]
    pub fan_out_concurrency: usize,
}

fn default_selection() -> String {
    "$request.body.action".to_owned()
}
fn default_concurrency() -> usize {
    DEFAULT_FAN_OUT_CONCURRENCY
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WsRouteFile {
    /// One of `subscribe`, `unsubscribe`, `publish`, `send`, `broadcast`.
    #[serde(default)]
    pub builtin: Option<Builtin>,
    /// A Lambda integration (`type: lambda`); it receives the event API Gateway sends.
    #[serde(default)]
    pub integration: Option<IntegrationFile>,
    /// Send the integration's `body` back to the sender (API Gateway's `$default` route response).
    #[serde(default)]
    pub route_response: bool,
    /// `$connect` only: an authorizer name from `authorizers`, or `NONE`; default: `defaultAuthorizer`.
    #[serde(default)]
    pub authorizer: Option<String>,
    /// `$connect` only: the handshake must carry an API key in a usage plan of the stage.
    #[serde(default)]
    pub api_key_required: bool,
}

/// The actions Tollgate answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Builtin {
    /// `{"channel": "..."}`: receive what is published to the channel.
    Subscribe,
    Unsubscribe,
    /// `{"channel": "...", "data": ...}`: `data` to every subscriber of the channel.
    Publish,
    /// `{"connectionId": "...", "data": ...}`: `data` to one connection.
    Send,
    /// `{"data": ...}`: `data` to every connection of the stage.
    Broadcast,
}

impl Builtin {
    pub const ALL: [Self; 5] = [Self::Subscribe, Self::Unsubscribe, Self::Publish, Self::Send, Self::Broadcast];

    pub fn name(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::Publish => "publish",
            Self::Send => "send",
            Self::Broadcast => "broadcast",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WsLimitsFile {
    #[serde(default = "default_frame")]
    pub max_frame_bytes: usize,
    #[serde(default = "default_message")]
    pub max_message_bytes: usize,
    #[serde(default = "default_idle")]
    pub idle_timeout_seconds: u64,
    #[serde(default = "default_lifetime")]
    pub max_connection_seconds: u64,
}

impl Default for WsLimitsFile {
    fn default() -> Self {
        Self {
            max_frame_bytes: MAX_FRAME_BYTES,
            max_message_bytes: MAX_MESSAGE_BYTES,
            idle_timeout_seconds: IDLE_TIMEOUT_SECS,
            max_connection_seconds: MAX_CONNECTION_SECS,
        }
    }
}

fn default_frame() -> usize {
    MAX_FRAME_BYTES
}
fn default_message() -> usize {
    MAX_MESSAGE_BYTES
}
fn default_idle() -> u64 {
    IDLE_TIMEOUT_SECS
}
fn default_lifetime() -> u64 {
    MAX_CONNECTION_SECS
}

// ===== checked =====

/// A Lambda function a WebSocket route invokes.
#[derive(Debug, Clone)]
pub struct WsLambda {
    pub function: String,
    pub timeout: Duration,
}

/// Where a message route goes.
#[derive(Debug, Clone)]
pub enum WsTarget {
    Builtin(Builtin),
    Lambda { lambda: WsLambda, route_response: bool },
}

/// The `$connect` route: who may connect, and the function that may still refuse.
#[derive(Debug, Clone, Default)]
pub struct ConnectSpec {
    pub authorizer: Option<String>,
    pub api_key_required: bool,
    pub integration: Option<WsLambda>,
}

/// A checked WebSocket API for one stage.
#[derive(Debug, Clone)]
pub struct WebSocketSpec {
    /// The JSON path of the route key in a message body (`["action"]` for `$request.body.action`).
    pub selection: Vec<String>,
    pub selection_text: String,
    pub connect: ConnectSpec,
    pub disconnect: Option<WsLambda>,
    /// Message routes by key, `$default` included.
    pub routes: BTreeMap<String, WsTarget>,
    pub max_frame_bytes: usize,
    pub max_message_bytes: usize,
    pub idle_timeout: Duration,
    pub max_connection: Duration,
    pub fan_out_concurrency: usize,
}

impl WebSocketSpec {
    /// The Lambda functions the WebSocket routes invoke.
    pub fn lambda_functions(&self) -> impl Iterator<Item = &str> {
        let routes = self.routes.values().filter_map(|t| match t {
            WsTarget::Lambda { lambda, .. } => Some(lambda.function.as_str()),
            WsTarget::Builtin(_) => None,
        });
        self.connect.integration.iter().chain(&self.disconnect).map(|l| l.function.as_str()).chain(routes)
    }
}

/// Checks the section; `authorizer_exists` says whether an authorizer name is defined. Errors name the route.
pub(super) fn compile(
    file: &WebSocketFile,
    default_authorizer: Option<&str>,
    authorizer_exists: &dyn Fn(&str) -> bool,
    vars: &BTreeMap<String, String>,
) -> Result<WebSocketSpec, (String, String)> {
    let top = |problem: String| ("websocket".to_owned(), problem);
    let selection = parse_selection(&file.route_selection_expression).map_err(top)?;
    let limits = file.limits;
    if !(1..=MAX_FRAME_BYTES * 32).contains(&limits.max_frame_bytes)
        || !(limits.max_frame_bytes..=16 * 1024 * 1024).contains(&limits.max_message_bytes)
    {
        return Err(top("limits: maxFrameBytes 1-1048576 and maxMessageBytes from maxFrameBytes to 16 MiB".to_owned()));
    }
    if !(1..=MAX_CONNECTION_SECS * 12).contains(&limits.idle_timeout_seconds)
        || !(1..=MAX_CONNECTION_SECS * 12).contains(&limits.max_connection_seconds)
    {
        return Err(top("limits: idleTimeoutSeconds and maxConnectionSeconds must be 1-86400".to_owned()));
    }
    if !(1..=1_000).contains(&file.fan_out_concurrency) {
        return Err(top("fanOutConcurrency must be 1-1000".to_owned()));
    }
    let defaults: BTreeMap<String, WsRouteFile> = Builtin::ALL
        .iter()
        .map(|b| (b.name().to_owned(), WsRouteFile { builtin: Some(*b), ..WsRouteFile::default() }))
        .collect();
    let routes_file = file.routes.as_ref().unwrap_or(&defaults);
    let mut spec = WebSocketSpec {
        selection,
        selection_text: file.route_selection_expression.clone(),
        connect: ConnectSpec::default(),
        disconnect: None,
        routes: BTreeMap::new(),
        max_frame_bytes: limits.max_frame_bytes,
        max_message_bytes: limits.max_message_bytes,
        idle_timeout: Duration::from_secs(limits.idle_timeout_seconds),
        max_connection: Duration::from_secs(limits.max_connection_seconds),
        fan_out_concurrency: file.fan_out_concurrency,
    };
    let mut connect_authorizer = default_authorizer.map(str::to_owned);
    for (key, route) in routes_file {
        let fail = |problem: String| (key.clone(), problem);
        if key.is_empty() || key.len() > 128 || key.chars().any(char::is_control) {
            return Err(fail("a route key is 1-128 printable characters".to_owned()));
        }
        let lambda = route.integration.as_ref().map(|i| lambda_of(i, vars)).transpose().map_err(fail)?;
        let connect_only = route.authorizer.is_some() || route.api_key_required;
        if connect_only && key != "$connect" {
            return Err(fail("authorizer and apiKeyRequired apply to $connect only".to_owned()));
        }
        match key.as_str() {
            "$connect" | "$disconnect" if route.builtin.is_some() || route.route_response => {
                return Err(fail("takes an integration only (no builtin, no routeResponse)".to_owned()));
            }
            "$connect" => {
                if route.authorizer.is_some() {
                    connect_authorizer.clone_from(&route.authorizer);
                }
                spec.connect.api_key_required = route.api_key_required;
                spec.connect.integration = lambda;
            }
            "$disconnect" => spec.disconnect = lambda,
            _ => {
                let target = match (route.builtin, lambda) {
                    (Some(b), None) if !route.route_response => WsTarget::Builtin(b),
                    (None, Some(lambda)) => WsTarget::Lambda { lambda, route_response: route.route_response },
                    (Some(_), None) => return Err(fail("routeResponse applies to integrations".to_owned())),
                    _ => return Err(fail("set exactly one of builtin and integration".to_owned())),
                };
                spec.routes.insert(key.clone(), target);
            }
        }
    }
    spec.connect.authorizer = match connect_authorizer.as_deref() {
        None | Some("NONE") => None,
        Some(name) if authorizer_exists(name) => Some(name.to_owned()),
        Some(name) => {
            return Err(("$connect".to_owned(), format!("authorizer {name:?} is not defined under authorizers")));
        }
    };
    if spec.routes.len() > 300 {
        return Err(top("at most 300 routes".to_owned()));
    }
    Ok(spec)
}

fn lambda_of(integration: &IntegrationFile, vars: &BTreeMap<String, String>) -> Result<WsLambda, String> {
    let IntegrationFile::Lambda { function, timeout_ms, request_parameters, response_parameters, .. } = integration
    else {
        return Err("WebSocket routes take lambda integrations (or a builtin action)".to_owned());
    };
    if !request_parameters.is_empty() || !response_parameters.is_empty() {
        return Err("requestParameters and responseParameters are HTTP API parameter mapping, not for WebSocket \
                    routes"
            .to_owned());
    }
    if integration.mapping().is_some_and(|m| m.is_set()) {
        return Err("WebSocket routes take proxy integrations: mapping templates are not supported".to_owned());
    }
    let function = template::substitute_stage_variables(function, vars)?;
    if function.is_empty() {
        return Err("lambda integration needs a function name or ARN".to_owned());
    }
    // API Gateway's WebSocket integration timeout is 29 s at most.
    let timeout = check_timeout((*timeout_ms).min(MAX_TIMEOUT_MS - 1_000))?;
    Ok(WsLambda { function, timeout })
}

/// `$request.body.action` → `["action"]`.
fn parse_selection(text: &str) -> Result<Vec<String>, String> {
    let path = text.strip_prefix("$request.body.").ok_or_else(|| {
        format!("routeSelectionExpression {text:?}: only $request.body.<field> expressions are supported")
    })?;
    let fields: Vec<String> = path.split('.').map(str::to_owned).collect();
    if fields.iter().any(|f| f.is_empty() || !f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        return Err(format!("routeSelectionExpression {text:?}: fields are letters, digits, '_' or '-'"));
    }
    Ok(fields)
}
