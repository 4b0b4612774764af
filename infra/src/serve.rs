//! `tollgate serve`: the whole gateway on one machine. Each HTTP request becomes the request the router would
//! decode from the Function URL's event (`function_url.rs`) and goes through the router's own pipeline
//! ([`Gateway::handle_request`]), in process; the answer goes back as a Function URL sends it.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::Context as _;
use axum::{extract::Request, response::Response};
use tollgate_core::{
    Gateway,
    backends::Backends,
    clients::{HttpClient, Invoker, SdkInvoker},
    clock::{SharedClock, SystemClock},
    config::Definition,
    error::GatewayError,
    logging::{LineSink, Stderr},
    pipeline::MAX_BODY_BYTES,
    settings::Settings,
    websocket::{WebSocketApi, fanout::PostError},
};

use crate::{
    function_url,
    http1::{self, Peer},
    local_lambda::{LocalFunction, LocalInvoker, function_name},
    store::StoreArgs,
    websocket::{Sockets, WsDoor, connections_path, post_error},
};

/// What `tollgate serve` was asked to run.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub config: PathBuf,
    /// 0 picks a free port.
    pub port: u16,
    pub stage: Option<String>,
    /// Keys, plans and usage: the embedded file by default.
    pub store: StoreArgs,
    /// The process's environment (`AWS_REGION`, `AWS_ENDPOINT_URL_LAMBDA`, ...).
    pub settings: Settings,
    /// The clock the gateway reads and the WebSocket limits are timed by; the system clock when `None`
    /// (tests hand in a manual one).
    pub clock: Option<SharedClock>,
    /// `config` is an OpenAPI or Swagger document (or a template holding one), imported with these options.
    pub openapi: Option<tollgate_core::openapi::ImportOptions>,
    /// Where EMF metric lines and formatted access-log lines go; stderr (the CLI's log stream) when `None`.
    pub lines: Option<Arc<dyn LineSink>>,
}

/// A running front door. Dropping it stops the server and any local functions.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    front: Arc<FrontDoor>,
}

struct FrontDoor {
    gateway: Gateway,
    clock: SharedClock,
    local: SocketAddr,
    /// `X-Forwarded-Port`, made once.
    local_port: http::HeaderValue,
    /// The WebSocket API, when the definition has one: upgrades and `@connections` on the same port.
    ws: Option<Arc<WsDoor>>,
}

impl Server {
    /// Loads the definition, starts its local functions, and listens on 127.0.0.1.
    pub async fn start(options: &ServeOptions) -> anyhow::Result<Self> {
        let definition = match &options.openapi {
            Some(import) => crate::openapi::load(&options.config, import, options.stage.as_deref())?,
            None => Definition::load(&options.config, options.stage.as_deref())?,
        };
        // Local function commands run from the definition's folder ("." for a bare file name).
        let dir = match options.config.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut backends = backends(&definition, &dir, &options.settings).await?;
        let opened = options.store.open(&options.settings).await?;
        backends.store = Some(opened.shared());
        let clock = options.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
        backends.clock = Some(Arc::clone(&clock));
        backends.lines = Some(options.lines.clone().unwrap_or_else(|| Arc::new(Stderr)));
        let gateway = Gateway::new(&definition, &backends)?;
        let ws = match &definition.websocket {
            Some(spec) => {
                let sockets = Arc::new(Sockets::new(spec.max_message_bytes));
                let poster = Arc::clone(&sockets) as Arc<dyn tollgate_core::websocket::fanout::Poster>;
                let api = WebSocketApi::new(&definition, &backends, opened.connections(), poster)?;
                let (api_id, stage) = (definition.api_name.clone(), definition.stage.clone());
                Some(Arc::new(WsDoor { api, sockets, api_id, stage, clock: Arc::clone(&clock) }))
            }
            None => None,
        };

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{}", options.port))?;
        let addr = listener.local_addr()?;
        let local_port = http::HeaderValue::from(addr.port());
        let front = Arc::new(FrontDoor { gateway, clock, local: addr, local_port, ws });
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let door = Arc::clone(&front);
        let handle = move |request, peer| front_door(Arc::clone(&door), peer, request);
        let task = tokio::spawn(http1::serve(listener, handle, async {
            let _ = stop.await;
        }));
        Ok(Self { addr, task, shutdown: Some(shutdown), front })
    }

    /// The WebSocket API, when the definition has one.
    pub fn websocket(&self) -> Option<&WebSocketApi> {
        self.front.ws.as_ref().map(|ws| &ws.api)
    }

    /// Writes the metrics gathered since the last flush (HTTP and WebSocket), whatever the time.
    pub fn flush_metrics(&self) {
        let ws = self.front.ws.as_ref().and_then(|ws| ws.api.metrics());
        for metrics in self.front.gateway.metrics().into_iter().chain(ws) {
            metrics.flush();
        }
    }

    /// Adds the answers counted for the dashboard since the last minute's write to the store, whatever the time.
    pub async fn flush_traffic(&self) {
        let ws = self.front.ws.as_ref().and_then(|ws| ws.api.traffic());
        for traffic in self.front.gateway.traffic().into_iter().chain(ws) {
            traffic.flush().await;
        }
    }

    /// How many WebSocket connections are open (or in `$disconnect`).
    pub fn open_sockets(&self) -> usize {
        self.front.ws.as_ref().map_or(0, |ws| ws.sockets.len())
    }

    /// Resolves once exactly `n` WebSocket connections are open (or in `$disconnect`).
    pub async fn open_sockets_reach(&self, n: usize) {
        if let Some(ws) = &self.front.ws {
            ws.sockets.reach(n).await;
        }
    }

    /// Serves until the process gets Ctrl-C (SIGINT) or SIGTERM, then stops its local functions.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = terminate.recv() => {}
        }
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        (&mut self.task).await?;
        self.flush_metrics();
        self.flush_traffic().await;
        // Unspent quota blocks go back to the store, so a restart does not count them as used.
        let ws_meter = self.front.ws.as_ref().and_then(|ws| ws.api.meter());
        for meter in self.front.gateway.meter().into_iter().chain(ws_meter) {
            if let Err(e) = meter.release().await {
                tracing::warn!(error = %e, "could not give unspent quota back to the store");
            }
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        // What the last flush window gathered is not lost when the server stops.
        self.flush_metrics();
    }
}

/// The clients the definition needs; Lambda functions named under `local.functions` run on this machine.
async fn backends(definition: &Definition, dir: &Path, settings: &Settings) -> anyhow::Result<Backends> {
    let lambda_functions: Vec<&str> = definition.lambda_functions().collect();
    let mut functions = HashMap::new();
    for (name, spec) in &definition.local.functions {
        tracing::info!(function = %name, command = ?spec.command, "starting local function");
        let mut env = spec.env.clone();
        if let Some(region) = &settings.region {
            env.entry("AWS_REGION".to_owned()).or_insert_with(|| region.clone());
        }
        let function = LocalFunction::start(name, &spec.command, &env, dir).await?;
        tracing::info!(function = %name, endpoint = %format!("http://{}", function.runtime_api()),
            "local function ready; its Runtime API and Lambda Invoke API listen here");
        functions.insert(name.clone(), function);
    }
    let needs_remote = lambda_functions.iter().any(|f| !functions.contains_key(function_name(f)));
    // Functions that are not local go through the SDK (to `AWS_ENDPOINT_URL_LAMBDA`, e.g. `cargo lambda
    // watch`, when it is set).
    let remote = if needs_remote { Some(Arc::new(SdkInvoker::new(settings).await) as Arc<dyn Invoker>) } else { None };
    let lambda =
        (!lambda_functions.is_empty()).then(|| Arc::new(LocalInvoker { functions, remote }) as Arc<dyn Invoker>);
    let http = if definition.uses_http() { Some(HttpClient::new()?) } else { None };
    Ok(Backends {
        lambda,
        http,
        account: settings.account(),
        xray_daemon: settings.xray_daemon.clone(),
        ..Backends::default()
    })
}

async fn front_door(door: Arc<FrontDoor>, peer: Peer, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(ws) = &door.ws {
        let upgrade =
            parts.headers.get(http::header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
        if upgrade {
            return ws.upgrade(parts, peer.addr, door.local).await;
        }
        if let Some(id) = connections_path(parts.uri.path()) {
            return match axum::body::to_bytes(body, ws.api.spec().max_message_bytes).await {
                Ok(payload) => ws.connections_api(&parts.method, &id, &payload).await,
                Err(_) => post_error(&PostError::TooLarge("over the message size limit".to_owned())),
            };
        }
    }
    let now_ms = door.clock.now_ms();
    let Ok(payload) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        // The body never reached the gateway: it answers without it.
        let error = GatewayError::RequestTooLarge(format!("body over {MAX_BODY_BYTES} bytes"));
        let request = function_url::to_request(parts, axum::body::Bytes::new(), &peer.ip, &door.local_port, now_ms);
        return function_url::to_response(door.gateway.refuse(request, error));
    };
    let request = function_url::to_request(parts, payload, &peer.ip, &door.local_port, now_ms);
    function_url::to_response(door.gateway.handle_request(request).await)
}
