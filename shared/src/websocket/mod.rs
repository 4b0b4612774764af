//! The WebSocket API: what the `ws-connect`, `ws-disconnect` and `ws-default` functions do, and what
//! `tollgate serve` runs for each socket. One [`WebSocketApi`] answers all three events:
//!
//! | event | file | does |
//! |---|---|---|
//! | `$connect` | `connect.rs` | the HTTP pipeline's policy, authorizer, API key and meter stages; the key's connection limit; the `$connect` integration; records the connection |
//! | MESSAGE | `message.rs` | identity still valid; route selection; the key's usage plan; a Lambda integration or a built-in action (`actions.rs`) |
//! | `$disconnect` | `disconnect.rs` | removes the connection and its subscriptions; the `$disconnect` integration |
//!
//! Replies and fan-out go through a [`fanout::Poster`] (the `@connections` API), so a message's answer reaches
//! the client the same way on Lambda and locally.

mod actions;
mod connect;
mod disconnect;
pub mod event;
pub mod fanout;
mod integrate;
pub mod management_api;
mod message;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use crate::{
    backends::{Backends, BackendsError},
    clients::{Invoker, MissingClient},
    clock::SharedClock,
    config::{AuthorizerSpec, Definition, IntegrationSpec, RouteKey, RouteSpec, WebSocketSpec},
    gateway::{StartError, load_definition},
    metrics::{Metrics, WsOutcome},
    pipeline::{BuildError, Pipeline},
    request::ApiContext,
    settings::Settings,
    store::{
        connections::{Connection, ConnectionStore},
        dynamo::{DynamoOptions, DynamoStore},
    },
};

use self::{
    event::{WsEvent, error_frame},
    fanout::{Endpoint, FanOutTo, Poster},
    management_api::ManagementApi,
};
pub use event::{Peer, WsResponse};

/// The Lambda function `function`: builds the API from the settings ([`WebSocketApi::from_settings`]) once,
/// then answers each event with [`WebSocketApi::handle`]. What `ws-connect`, `ws-default` and `ws-disconnect`
/// run.
pub async fn run_on_lambda(function: WsFunction) -> Result<(), lambda_runtime::Error> {
    let api =
        Arc::new(crate::function::start(async |settings| Ok(WebSocketApi::from_settings(&settings).await?)).await?);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let api = Arc::clone(&api);
        // The invocation's X-Ray trace goes on into the route's integration.
        let trace = event.context.xray_trace_id;
        async move { Ok::<_, lambda_runtime::Error>(api.handle_traced(function, event.payload, trace).await) }
    }))
    .await
}

/// Which of the three functions an event was delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsFunction {
    Connect,
    Message,
    Disconnect,
}

/// Past this many cached connection records an instance forgets them all (they are re-read on demand).
const MAX_KNOWN: usize = 10_000;
/// A connection record outlives the longest connection by this much, so a lost `$disconnect` is cleaned up.
const RECORD_GRACE_MS: i64 = 10 * 60 * 1_000;

/// The WebSocket API of one definition and stage. Build once (cold start), answer events.
pub struct WebSocketApi {
    spec: WebSocketSpec,
    key_source: crate::config::ApiKeySource,
    /// The API and stage: what a `$connect` Lambda authorizer's ARN names and the stage variables its event
    /// carries.
    context: ApiContext,
    /// The HTTP pipeline, up to the meter, over one route standing for the handshake.
    admission: Pipeline,
    /// `$connect` has a Lambda authorizer, which gets the WebSocket authorizer event.
    lambda_authorizer: bool,
    connections: Arc<dyn ConnectionStore>,
    poster: Arc<dyn Poster>,
    lambda: Option<Arc<dyn Invoker>>,
    clock: SharedClock,
    /// Overrides the `@connections` endpoint derived from events (custom domains).
    endpoint: Option<Endpoint>,
    /// Connection records this instance has read: they do not change after `$connect`.
    known: Mutex<HashMap<String, Arc<Connection>>>,
    /// API Gateway's WebSocket metrics; `None` when the definition turns metrics off.
    metrics: Option<Arc<Metrics>>,
}

impl WebSocketApi {
    /// `connections`: where connections live; `poster`: the `@connections` API.
    pub fn new(
        definition: &Definition,
        backends: &Backends,
        connections: Arc<dyn ConnectionStore>,
        poster: Arc<dyn Poster>,
    ) -> Result<Self, StartError> {
        let spec = definition
            .websocket
            .clone()
            .ok_or_else(|| StartError::Config(crate::config::ConfigError::Parse("no websocket section".to_owned())))?;
        let mut handshake = definition.clone();
        handshake.routes = vec![RouteSpec {
            key_text: "$connect".to_owned(),
            key: RouteKey::Default,
            integration: IntegrationSpec::Mock {
                status: http::StatusCode::OK,
                headers: http::HeaderMap::new(),
                body: bytes::Bytes::new(),
                mapping: None,
            },
            api_key_required: spec.connect.api_key_required,
            throttle: None,
            authorizer: spec.connect.authorizer.clone(),
            authorization_scopes: Vec::new(),
            resource_policy: None,
            cors: None,
            cache: None,
            validation: None,
            parameter_mapping: None,
        }];
        // The stage throttle limits HTTP requests; WebSocket messages are metered per key. Browsers apply no
        // CORS to a WebSocket, and refusals are too small to compress.
        handshake.stage_throttle = None;
        handshake.cors = None;
        handshake.minimum_compression_size = None;
        // The WebSocket API counts its own metrics (ConnectCount...), not the handshake's as HTTP requests.
        handshake.metrics = None;
        let admission = Pipeline::new(&handshake, backends).map_err(StartError::Build)?;
        if spec.lambda_functions().next().is_some() && backends.lambda.is_none() {
            return Err(StartError::Build(BuildError::Client(MissingClient {
                needed_by: "websocket".to_owned(),
                kind: "Lambda",
            })));
        }
        let lambda_authorizer = spec
            .connect
            .authorizer
            .as_ref()
            .and_then(|name| definition.authorizers.get(name))
            .is_some_and(|a| matches!(a, AuthorizerSpec::Lambda(_)));
        let context = definition.api_context(&backends.account);
        let metrics = definition.metrics.clone().map(|spec| {
            let (clock, sink) = (backends.clock(), backends.lines());
            let (api, stage) = (&definition.api_name, &definition.stage);
            Arc::new(Metrics::new(spec, definition.api_type, api, stage, true, clock, sink))
        });
        Ok(Self {
            metrics,
            key_source: definition.api_keys.source,
            context,
            admission,
            lambda_authorizer,
            connections,
            poster,
            lambda: backends.lambda.clone(),
            clock: backends.clock(),
            endpoint: None,
            known: Mutex::default(),
            spec,
        })
    }

    /// For the functions on Lambda: the definition the settings name (as the router's), connections in the
    /// DynamoDB table `TOLLGATE_CONNECTIONS_TABLE`, and API Gateway's Management API to post through (at
    /// `TOLLGATE_WS_ENDPOINT` when set, for custom domains).
    pub async fn from_settings(settings: &Settings) -> Result<Self, StartError> {
        let definition = load_definition(settings)?;
        let backends = Backends::for_definition(&definition, settings).await?;
        let table = settings.require_connections_table().map_err(BackendsError::from)?.to_owned();
        let store = DynamoStore::connect(&DynamoOptions { table, endpoint: None }, settings).await;
        let poster = ManagementApi::new(crate::clients::aws::loader(settings, false).load().await);
        let api = Self::new(&definition, &backends, Arc::new(store), Arc::new(poster))?;
        Ok(match &settings.ws_endpoint {
            Some(endpoint) => api.with_endpoint(Endpoint(endpoint.clone())),
            None => api,
        })
    }

    /// Answers one event as Lambda delivers it to the function for `route`. An event that is not one (or
    /// not for this function) gets a 400 in API Gateway's shape, never a panic.
    pub async fn handle(&self, function: WsFunction, payload: serde_json::Value) -> WsResponse {
        self.handle_traced(function, payload, None).await
    }

    /// [`WebSocketApi::handle`] for an event delivered by a Lambda invocation with this X-Ray trace
    /// (`_X_AMZN_TRACE_ID`), which the route's integration continues.
    pub async fn handle_traced(
        &self,
        function: WsFunction,
        payload: serde_json::Value,
        lambda_trace: Option<String>,
    ) -> WsResponse {
        let mut event = match WsEvent::parse(payload) {
            Ok(event) => event,
            Err(e) => return WsResponse::error(400, &format!("Bad request: {e}")),
        };
        event.lambda_trace = lambda_trace;
        let route_key = event.request_context.route_key.as_str();
        match function {
            WsFunction::Connect if route_key == "$connect" => self.connect(&event).await,
            WsFunction::Disconnect if route_key == "$disconnect" => self.disconnect(&event).await,
            WsFunction::Message if route_key != "$connect" && route_key != "$disconnect" => self.message(&event).await,
            _ => WsResponse::error(400, &format!("Bad request: this function does not answer {route_key} events")),
        }
    }

    /// Answers a `$connect` event (`connect.rs`), counted in the API's metrics: `ConnectCount`, and a refusal
    /// as a `ClientError` (4xx) or an `ExecutionError` (5xx).
    pub async fn connect(&self, event: &WsEvent) -> WsResponse {
        self.count(event, WsOutcome::Connect);
        let response = self.connect_uncounted(event).await;
        match response.status_code {
            400..=499 => self.count(event, WsOutcome::ClientError),
            500.. => self.count(event, WsOutcome::ExecutionError),
            _ => {}
        }
        response
    }

    /// Answers a MESSAGE event (`message.rs`), counted in `MessageCount`; what goes wrong is counted where it
    /// is told to the sender.
    pub async fn message(&self, event: &WsEvent) -> WsResponse {
        self.count(event, WsOutcome::Message);
        self.message_uncounted(event).await
    }

    /// This instance's WebSocket metrics, unless the definition turns them off (flushed on shutdown).
    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
    }

    /// Counts an outcome under the event's route key.
    fn count(&self, event: &WsEvent, outcome: WsOutcome) {
        if let Some(metrics) = &self.metrics {
            let key_id = event.request_context.identity.api_key_id.as_deref();
            metrics.record_ws(&event.request_context.route_key, key_id, outcome);
        }
    }

    /// Posts through this endpoint instead of the one each event names (custom domains; tests).
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    pub fn spec(&self) -> &WebSocketSpec {
        &self.spec
    }

    pub fn connections(&self) -> &Arc<dyn ConnectionStore> {
        &self.connections
    }

    /// This instance's counts of handshakes per day for the dashboard, when it has a store.
    pub fn traffic(&self) -> Option<&Arc<crate::metrics::traffic::TrafficTally>> {
        self.admission.traffic()
    }

    /// This instance's usage-plan meter, if the WebSocket API meters anything.
    pub fn meter(&self) -> Option<&Arc<crate::metering::Meter>> {
        self.admission.meter()
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_us() / 1_000
    }

    /// The `@connections` endpoint of the stage an event came through.
    fn endpoint_of(&self, event: &WsEvent) -> Endpoint {
        self.endpoint.clone().unwrap_or_else(|| {
            let ctx = &event.request_context;
            Endpoint(format!("https://{}/{}", ctx.domain_name, ctx.stage))
        })
    }

    fn fan_out<'a>(&'a self, endpoint: &'a Endpoint) -> FanOutTo<'a> {
        FanOutTo {
            connections: &self.connections,
            poster: &self.poster,
            endpoint,
            concurrency: self.spec.fan_out_concurrency,
        }
    }

    /// Sends the sender an error frame as API Gateway writes it, spacing and key order included:
    /// `{"message": "Forbidden", "connectionId":"…", "requestId":"…"}`.
    async fn tell(&self, event: &WsEvent, endpoint: &Endpoint, message: &str) {
        // The gateway's own failures are execution errors; everything else was the client's doing.
        let outcome =
            if message == "Internal server error" { WsOutcome::ExecutionError } else { WsOutcome::ClientError };
        self.count(event, outcome);
        self.post_error(event, endpoint, message).await;
    }

    /// [`Self::tell`] without counting it (the caller counted it as something more precise).
    async fn post_error(&self, event: &WsEvent, endpoint: &Endpoint, message: &str) {
        let ctx = &event.request_context;
        let frame = error_frame(message, &ctx.connection_id, &ctx.request_id);
        if let Err(e) = self.poster.post(endpoint, &ctx.connection_id, frame.as_bytes()).await {
            tracing::warn!(connection = %ctx.connection_id, error = %e, "cannot send an error frame");
        }
    }

    /// The connection's record: this instance's copy, or the store's.
    async fn record(&self, id: &str) -> Result<Option<Arc<Connection>>, crate::store::StoreError> {
        if let Some(known) = self.known.lock().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(Some(known));
        }
        let Some(found) = self.connections.get_connection(id).await? else { return Ok(None) };
        let found = Arc::new(found);
        self.remember(&found);
        Ok(Some(found))
    }

    fn remember(&self, connection: &Arc<Connection>) {
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= MAX_KNOWN {
                known.clear();
            }
            known.insert(connection.id.clone(), Arc::clone(connection));
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut known) = self.known.lock() {
            known.remove(id);
        }
    }
}
