//! Runs Lambda functions on this machine: each function is a child process polling a Lambda Runtime API that
//! `tollgate serve` hosts on loopback, exactly as it would poll Lambda's. The same binary that is deployed
//! runs here, through the same `lambda_runtime` loop.
//!
//! Served endpoints (Lambda Runtime API 2018-06-01): `GET /runtime/invocation/next`,
//! `POST /runtime/invocation/{id}/response`, `POST /runtime/invocation/{id}/error`, `POST /runtime/init/error`.
//! The same port also answers the Lambda Invoke API for this function (`POST /2015-03-31/functions/{name}/
//! invocations`), so the AWS SDK, the AWS CLI or another gateway (`AWS_ENDPOINT_URL_LAMBDA`) can call it.
//! One invocation runs at a time per function, as in one execution environment; others wait their turn. A
//! function process that exits is restarted, and the invocation it held fails as `Runtime.ExitError`.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path as UrlPath, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tokio::sync::{mpsc, oneshot, watch};
use tollgate_core::{
    clients::{InvokeError, InvokeFuture, InvokeOutput, Invoker},
    clock::{Clock as _, SystemClock},
    settings::DEFAULT_REGION,
};

/// How long a function may take to first poll for work (a `cargo run` command compiles first).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(600);

struct Invocation {
    payload: Vec<u8>,
    /// The caller's X-Ray trace header, passed on as `Lambda-Runtime-Trace-Id`.
    trace: Option<String>,
    reply: oneshot::Sender<InvokeOutput>,
}

/// Why a local function could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalFunctionError {
    #[error("function {name}: cannot listen for its Runtime API: {source}")]
    Listen { name: String, source: std::io::Error },
    #[error("function {name}: cannot start {program:?}: {source}")]
    Spawn { name: String, program: String, source: std::io::Error },
    #[error("function {name}: did not poll for an invocation within {0:?}", STARTUP_TIMEOUT)]
    NotReady { name: String },
    #[error("function {name}: exited before it was ready{}", init_error.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    Exited {
        name: String,
        /// What the function reported to `/runtime/init/error`, if it did.
        init_error: Option<String>,
    },
}

struct RuntimeState {
    name: String,
    sender: mpsc::Sender<Invocation>,
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<InvokeOutput>>>,
    ready: watch::Sender<bool>,
    /// The last init error the function reported.
    init_error: Mutex<Option<String>>,
}

/// One function running locally. Dropping it stops the process.
pub struct LocalFunction {
    queue: mpsc::Sender<Invocation>,
    runtime_api: SocketAddr,
    _tasks: Vec<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl LocalFunction {
    /// Starts `command` (run from `dir`) under a new Runtime API and waits until it asks for work.
    pub async fn start(
        name: &str,
        command: &[String],
        env: &BTreeMap<String, String>,
        dir: &Path,
    ) -> Result<Self, LocalFunctionError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| LocalFunctionError::Listen { name: name.to_owned(), source })?;
        let runtime_api =
            listener.local_addr().map_err(|source| LocalFunctionError::Listen { name: name.to_owned(), source })?;
        let (tx, rx) = mpsc::channel(1024);
        let (ready, mut ready_rx) = watch::channel(false);
        let state = Arc::new(RuntimeState {
            name: name.to_owned(),
            sender: tx.clone(),
            queue: tokio::sync::Mutex::new(rx),
            pending: Mutex::new(HashMap::new()),
            ready,
            init_error: Mutex::new(None),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2015-03-31/functions/{name}/invocations", post(invoke_api))
            .with_state(Arc::clone(&state));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("local Runtime API stopped: {e}");
            }
        });

        let mut process = spawn(name, command, env, dir, runtime_api)?;
        // Wait for the first poll, or for the process to die trying.
        tokio::select! {
            r = tokio::time::timeout(STARTUP_TIMEOUT, ready_rx.wait_for(|r| *r)) => {
                if !matches!(r, Ok(Ok(_))) {
                    return Err(LocalFunctionError::NotReady { name: name.to_owned() });
                }
            }
            _ = process.wait() => {
                let init_error = state.init_error.lock().ok().and_then(|e| e.clone());
                return Err(LocalFunctionError::Exited { name: name.to_owned(), init_error });
            }
        }
        let supervisor = {
            let (name, command, env, dir) = (name.to_owned(), command.to_vec(), env.clone(), dir.to_owned());
            tokio::spawn(async move {
                loop {
                    let status = process.wait().await;
                    tracing::warn!(function = %name, ?status, "local function exited; restarting it");
                    fail_pending(&state, "Runtime.ExitError", "the function process exited");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    match spawn(&name, &command, &env, &dir, runtime_api) {
                        Ok(p) => process = p,
                        Err(e) => {
                            tracing::error!("{e}");
                            return;
                        }
                    }
                }
            })
        };
        // Supervisor first: dropping it kills the process before its Runtime API goes away.
        Ok(Self { queue: tx, runtime_api, _tasks: vec![AbortOnDrop(supervisor), AbortOnDrop(server)] })
    }

    /// Where this function's Runtime API listens (`AWS_LAMBDA_RUNTIME_API`).
    pub fn runtime_api(&self) -> SocketAddr {
        self.runtime_api
    }

    /// Queues one invocation and waits for its result.
    pub async fn invoke(&self, payload: Vec<u8>, trace: Option<&str>) -> Result<InvokeOutput, InvokeError> {
        queue_and_wait(&self.queue, payload, trace).await
    }
}

async fn queue_and_wait(
    queue: &mpsc::Sender<Invocation>,
    payload: Vec<u8>,
    trace: Option<&str>,
) -> Result<InvokeOutput, InvokeError> {
    let (reply, rx) = oneshot::channel();
    let stopped = || InvokeError::Unreachable("the local function has stopped".to_owned());
    let trace = trace.map(str::to_owned);
    queue.send(Invocation { payload, trace, reply }).await.map_err(|_| stopped())?;
    rx.await.map_err(|_| stopped())
}

fn spawn(
    name: &str,
    command: &[String],
    env: &BTreeMap<String, String>,
    dir: &Path,
    runtime_api: SocketAddr,
) -> Result<tokio::process::Child, LocalFunctionError> {
    let Some((program, args)) = command.split_first() else {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command");
        return Err(LocalFunctionError::Spawn { name: name.to_owned(), program: String::new(), source });
    };
    // A region for the function's SDK clients when `env` names none (Lambda always sets one).
    let region = env.get("AWS_REGION").map_or(DEFAULT_REGION, String::as_str);
    tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "tollgate-serve")
        .env("AWS_REGION", region)
        .env("AWS_DEFAULT_REGION", region)
        .envs(env)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| LocalFunctionError::Spawn { name: name.to_owned(), program: program.clone(), source })
}

fn fail_pending(state: &RuntimeState, kind: &str, message: &str) {
    let pending: Vec<_> = state.pending.lock().map(|mut p| p.drain().collect()).unwrap_or_default();
    for (_, reply) in pending {
        let payload = serde_json::json!({ "errorType": kind, "errorMessage": message }).to_string().into_bytes();
        let _ = reply.send(InvokeOutput { payload, function_error: Some("Unhandled".to_owned()) });
    }
}

// ===== Runtime API handlers =====

async fn next(State(state): State<Arc<RuntimeState>>) -> Response {
    state.ready.send_replace(true);
    let Some(invocation) = state.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(mut pending) = state.pending.lock() {
        pending.insert(id.clone(), invocation.reply);
    }
    // Lambda's longest timeout: the local Runtime API does not enforce one.
    let now = SystemClock.now_ms();
    let deadline = now + 900_000;
    let mut headers = HeaderMap::new();
    let arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{}", state.name);
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", arn),
        ("lambda-runtime-trace-id", invocation.trace.unwrap_or_else(|| new_trace_id(now))),
        ("content-type", "application/json".to_owned()),
    ] {
        if let Ok(v) = HeaderValue::try_from(value) {
            headers.insert(name, v);
        }
    }
    (StatusCode::OK, headers, invocation.payload).into_response()
}

async fn response(State(state): State<Arc<RuntimeState>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    finish(&state, &id, InvokeOutput { payload: body.to_vec(), function_error: None })
}

async fn error(State(state): State<Arc<RuntimeState>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    finish(&state, &id, InvokeOutput { payload: body.to_vec(), function_error: Some("Unhandled".to_owned()) })
}

async fn init_error(State(state): State<Arc<RuntimeState>>, body: Bytes) -> Response {
    let error = String::from_utf8_lossy(&body).into_owned();
    tracing::error!(function = %state.name, error = %error, "local function failed to initialise");
    if let Ok(mut last) = state.init_error.lock() {
        *last = Some(error);
    }
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

/// Lambda's `Invoke` for this function: `RequestResponse` (the default) and `DryRun` invocation types.
async fn invoke_api(
    State(state): State<Arc<RuntimeState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error = |status: StatusCode, kind: &'static str, message: String| {
        let body = serde_json::json!({ "Type": "User", "message": message }).to_string();
        (status, [("x-amzn-errortype", kind), ("content-type", "application/json")], body).into_response()
    };
    if function_name(&name) != state.name {
        return error(StatusCode::NOT_FOUND, "ResourceNotFoundException", format!("Function not found: {name}"));
    }
    match headers.get("x-amz-invocation-type").map(HeaderValue::as_bytes) {
        None | Some(b"RequestResponse") => {}
        Some(b"DryRun") => return StatusCode::NO_CONTENT.into_response(),
        Some(_) => {
            let message = "only RequestResponse and DryRun invocations are served locally".to_owned();
            return error(StatusCode::BAD_REQUEST, "InvalidParameterValueException", message);
        }
    }
    let trace = headers.get("x-amzn-trace-id").and_then(|v| v.to_str().ok());
    match queue_and_wait(&state.sender, body.to_vec(), trace).await {
        Ok(out) => {
            let mut response = (StatusCode::OK, out.payload).into_response();
            response.headers_mut().insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
            if let Some(kind) = out.function_error.and_then(|k| HeaderValue::try_from(k).ok()) {
                response.headers_mut().insert("x-amz-function-error", kind);
            }
            response
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "ServiceException", e.to_string()),
    }
}

fn finish(state: &RuntimeState, id: &str, output: InvokeOutput) -> Response {
    let reply = state.pending.lock().ok().and_then(|mut p| p.remove(id));
    match reply {
        Some(reply) => {
            let _ = reply.send(output);
            (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"unknown or already answered request id","errorType":"InvalidRequestID"}"#,
        )
            .into_response(),
    }
}

/// The invoker `tollgate serve` gives the gateway: local functions by name, anything else to the SDK.
pub struct LocalInvoker {
    pub functions: HashMap<String, LocalFunction>,
    pub remote: Option<Arc<dyn Invoker>>,
}

impl Invoker for LocalInvoker {
    fn invoke<'a>(&'a self, function: &'a str, payload: Vec<u8>, trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async move {
            match (self.functions.get(function_name(function)), &self.remote) {
                (Some(local), _) => local.invoke(payload, trace).await,
                (None, Some(remote)) => remote.invoke(function, payload, trace).await,
                (None, None) => Err(InvokeError::Refused(format!("no local function named {function:?}"))),
            }
        })
    }
}

/// A trace header for an invocation that continues none: `Root=1-{epoch seconds, hex}-{96 random bits}`.
fn new_trace_id(now_ms: i64) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{:08x}-{}", now_ms / 1000, &random[..24])
}

/// `arn:aws:lambda:r:acct:function:NAME[:alias]` or `NAME[:alias]` → `NAME`.
pub fn function_name(reference: &str) -> &str {
    let name = reference.split_once(":function:").map_or(reference, |(_, rest)| rest);
    name.split(':').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn function_names_from_references() {
        assert_eq!(super::function_name("hello"), "hello");
        assert_eq!(super::function_name("hello:live"), "hello");
        assert_eq!(super::function_name("arn:aws:lambda:us-east-1:123456789012:function:hello:live"), "hello");
    }
}
