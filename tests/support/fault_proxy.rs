//! A DynamoDB that misbehaves on purpose: an HTTP/1.1 proxy on loopback between a store's SDK client and
//! dynalite. Its [`Faults`] plan, which a test changes while it runs, adds latency and answers chosen requests
//! the way DynamoDB fails: throttling errors and 500s in DynamoDB's own shape, connections closed without an
//! answer (before forwarding, or after DynamoDB applied the request), and requests never answered.
//!
//! Which requests fail is counted, never drawn at random: a rule picks every n-th request it matches, so a test
//! meets the same faults in the same proportions on every run. The proxy counts requests per DynamoDB operation
//! (the `X-Amz-Target` header) and faults applied, for tests to assert on.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;

/// What the proxy does to a request a rule picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// HTTP 400 `ProvisionedThroughputExceededException`; not forwarded.
    ProvisionedThroughputExceeded,
    /// HTTP 400 `ThrottlingException`; not forwarded.
    Throttling,
    /// HTTP 500 `InternalServerError`; not forwarded.
    InternalServerError,
    /// The connection closes without an answer; not forwarded.
    Reset,
    /// Forwarded, so DynamoDB applies it; then the connection closes instead of relaying the answer.
    LoseResponse,
    /// Never answered: the connection stays open and silent.
    Stall,
}

/// A request as rules see it.
#[derive(Debug)]
pub struct Seen<'a> {
    /// The DynamoDB operation: `GetItem`, `UpdateItem`, ...
    pub operation: &'a str,
    /// The request's JSON.
    pub body: &'a str,
}

type Matcher = Box<dyn Fn(&Seen<'_>) -> bool + Send + Sync>;

/// One fault, applied to every `every`-th request the rule matches (the `every`-th, the `2 × every`-th, ...),
/// at most `times` times.
pub struct Rule {
    fault: Fault,
    every: u64,
    times: u64,
    operation: Option<&'static str>,
    when: Option<Matcher>,
    matched: u64,
    fired: u64,
}

impl Rule {
    /// `fault` on every `every`-th request (1: all of them).
    pub fn every(every: u64, fault: Fault) -> Self {
        assert!(every > 0, "every n-th request, n >= 1");
        Self { fault, every, times: u64::MAX, operation: None, when: None, matched: 0, fired: 0 }
    }

    /// Counts only requests for this DynamoDB operation.
    pub fn on(self, operation: &'static str) -> Self {
        Self { operation: Some(operation), ..self }
    }

    /// Counts only requests `f` picks.
    pub fn when(self, f: impl Fn(&Seen<'_>) -> bool + Send + Sync + 'static) -> Self {
        Self { when: Some(Box::new(f)), ..self }
    }

    /// Fires at most `n` times.
    pub fn times(self, n: u64) -> Self {
        Self { times: n, ..self }
    }

    /// Counts `request` if it matches; says whether this one is to fail.
    fn fires(&mut self, request: &Seen<'_>) -> bool {
        let matches =
            self.operation.is_none_or(|op| op == request.operation) && self.when.as_ref().is_none_or(|f| f(request));
        if !matches {
            return false;
        }
        self.matched += 1;
        let fires = self.matched.is_multiple_of(self.every) && self.fired < self.times;
        if fires {
            self.fired += 1;
        }
        fires
    }
}

/// The proxy's plan: a delay before every answer, and rules tried in order (the first that fires applies).
#[derive(Default)]
pub struct Faults {
    pub latency: Duration,
    pub rules: Vec<Rule>,
}

impl Faults {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn latency(self, latency: Duration) -> Self {
        Self { latency, ..self }
    }

    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
}

#[derive(Default)]
struct State {
    faults: Faults,
    requests: BTreeMap<String, u64>,
    applied: BTreeMap<Fault, u64>,
}

/// What the proxy counted so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests received, per DynamoDB operation.
    pub requests: BTreeMap<String, u64>,
    /// Faults applied.
    pub applied: BTreeMap<Fault, u64>,
}

impl Counts {
    pub fn requests(&self, operation: &str) -> u64 {
        self.requests.get(operation).copied().unwrap_or(0)
    }

    pub fn applied(&self, fault: Fault) -> u64 {
        self.applied.get(&fault).copied().unwrap_or(0)
    }

    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    pub fn total_applied(&self) -> u64 {
        self.applied.values().sum()
    }
}

/// The proxy. It serves until the test's runtime ends.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Starts a proxy to `target` (an endpoint URL such as dynalite's), with no faults yet.
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State::default()));
        let upstream = Upstream { client: reqwest::Client::new(), target: target.trim_end_matches('/').to_owned() };
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, upstream) = (Arc::clone(&shared), upstream.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(request, Arc::clone(&state), upstream.clone()));
                    // A fault ends the connection with an error: that is the point.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state }
    }

    /// The URL a store's client is given as its endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the plan (its rules start counting afresh; the proxy's counts go on).
    pub fn set(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// No faults from now on.
    pub fn clear(&self) {
        self.set(Faults::none());
    }

    pub fn counts(&self) -> Counts {
        let state = self.lock();
        Counts { requests: state.requests.clone(), applied: state.applied.clone() }
    }

    /// How many requests the current plan's rule `index` matched so far.
    pub fn matched(&self, index: usize) -> u64 {
        self.lock().faults.rules.get(index).map_or(0, |r| r.matched)
    }

    /// How many times the current plan's rule `index` fired so far.
    pub fn fired(&self, index: usize) -> u64 {
        self.lock().faults.rules.get(index).map_or(0, |r| r.fired)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Clone)]
struct Upstream {
    client: reqwest::Client,
    target: String,
}

/// The connection is closed without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

type Answer = Result<Response<Full<Bytes>>, Dropped>;

async fn handle(request: Request<Incoming>, state: Arc<Mutex<State>>, upstream: Upstream) -> Answer {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
    let (latency, fault) = {
        let mut state = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *state.requests.entry(operation.clone()).or_default() += 1;
        let seen = Seen { operation: &operation, body: std::str::from_utf8(&body).unwrap_or("") };
        let fault = state.faults.rules.iter_mut().find_map(|rule| rule.fires(&seen).then_some(rule.fault));
        if let Some(fault) = fault {
            *state.applied.entry(fault).or_default() += 1;
        }
        (state.faults.latency, fault)
    };
    if !latency.is_zero() {
        // The fault itself: a slow store.
        tokio::time::sleep(latency).await;
    }
    match fault {
        None => forward(&upstream, parts, body).await,
        Some(Fault::ProvisionedThroughputExceeded) => Ok(dynamodb_error(
            StatusCode::BAD_REQUEST,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your \
             provisioning level with the UpdateTable API.",
        )),
        Some(Fault::Throttling) => Ok(dynamodb_error(
            StatusCode::BAD_REQUEST,
            "com.amazon.coral.availability#ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        )),
        Some(Fault::InternalServerError) => Ok(dynamodb_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "Internal server error",
        )),
        Some(Fault::Reset) => Err(Dropped),
        Some(Fault::LoseResponse) => {
            forward(&upstream, parts, body).await?;
            Err(Dropped)
        }
        Some(Fault::Stall) => std::future::pending().await,
    }
}

/// DynamoDB's error answer: the type in the body's `__type` and (without its namespace) in `x-amzn-ErrorType`.
fn dynamodb_error(status: StatusCode, qualified_type: &str, message: &str) -> Response<Full<Bytes>> {
    let short = qualified_type.rsplit('#').next().unwrap_or(qualified_type);
    let body = serde_json::json!({ "__type": qualified_type, "message": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert("content-type", http::HeaderValue::from_static("application/x-amz-json-1.0"));
    headers.insert("x-amzn-requestid", http::HeaderValue::from_static("fault-proxy"));
    if let Ok(value) = http::HeaderValue::from_str(short) {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

/// Sends the request on to the target and relays its answer (framing headers are the proxy's own).
async fn forward(upstream: &Upstream, parts: http::request::Parts, body: Bytes) -> Answer {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers;
    for hop in ["host", "content-length", "connection", "transfer-encoding"] {
        headers.remove(hop);
    }
    let reply = upstream
        .client
        .request(parts.method, format!("{}{path}", upstream.target))
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|_| Dropped)?;
    let status = reply.status();
    let mut headers = reply.headers().clone();
    for hop in ["content-length", "connection", "transfer-encoding"] {
        headers.remove(hop);
    }
    let body = reply.bytes().await.map_err(|_| Dropped)?;
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}
