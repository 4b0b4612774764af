//! Helpers shared by the integration tests: an in-process echo function, a backend HTTP server on loopback,
//! and event loading.

pub mod client;
pub mod dynalite;
pub mod fault_proxy;
pub mod faulty;
pub mod issuer;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use tollgate_core::{
    Gateway,
    backends::Backends,
    clients::{HttpClient, InvokeFuture, InvokeOutput, Invoker},
    clock::{MICROS_PER_SEC, ManualClock, SharedClock},
    config::Definition,
    request::GatewayRequest,
};

/// The instant every test clock starts at (2023-11-14T22:13:20Z): tests never read the wall clock, so token
/// lifetimes, quota periods and connection ages are all measured on one [`ManualClock`] from here.
pub const T0_SECS: i64 = 1_700_000_000;

/// A manual clock at [`T0_SECS`].
pub fn test_clock() -> ManualClock {
    ManualClock::at(T0_SECS * MICROS_PER_SEC)
}

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The text of a recorded event in `events/`.
pub fn event_text(name: &str) -> String {
    let path = repo_root().join("events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Lambda function run in process: answers every event with a 200 whose body is the event it received,
/// so a test can check the proxy event the gateway built.
pub struct EchoFunction;

impl Invoker for EchoFunction {
    fn invoke<'a>(&'a self, _function: &'a str, payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async move {
            let event = String::from_utf8(payload).unwrap_or_default();
            let reply = serde_json::json!({
                "statusCode": 200,
                "headers": { "content-type": "application/json", "x-echo": "yes" },
                "body": event,
            });
            Ok(InvokeOutput { payload: reply.to_string().into_bytes(), function_error: None })
        })
    }
}

/// A gateway for `yaml` whose Lambda integrations all reach [`EchoFunction`].
pub fn echo_gateway(yaml: &str) -> Gateway {
    let definition = Definition::from_yaml(yaml, None).expect("test definition");
    let backends = Backends {
        lambda: Some(Arc::new(EchoFunction)),
        http: Some(HttpClient::new().expect("http client")),
        ..Backends::default()
    };
    Gateway::new(&definition, &backends).expect("gateway")
}

/// `tollgate serve` for `yaml` on a free port, on the system clock. The definition and the embedded store live
/// in the returned temporary folder, which must outlive the server.
pub async fn serve(yaml: &str) -> (tollgate::serve::Server, tempfile::TempDir) {
    serve_on(yaml, None).await
}

/// [`serve`] on `clock`: what the gateway reads, and what times WebSocket idle and lifetime limits.
pub async fn serve_on(yaml: &str, clock: Option<SharedClock>) -> (tollgate::serve::Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("gateway.yaml");
    std::fs::write(&config, yaml).expect("write definition");
    let store = tollgate::store::StoreArgs { store: dir.path().join("store.json"), ..Default::default() };
    let options = tollgate::serve::ServeOptions { config, store, clock, ..Default::default() };
    let server = tollgate::serve::Server::start(&options).await.expect("serve starts");
    (server, dir)
}

/// Headless Chromium for the browser tests: `TOLLGATE_CHROMIUM`, else Debian's `/usr/bin/chromium`. Without it
/// a test says it skipped, unless `TOLLGATE_REQUIRE_BROWSER` is set (CI), when it fails.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("TOLLGATE_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("TOLLGATE_REQUIRE_BROWSER").is_none(),
        "TOLLGATE_REQUIRE_BROWSER is set but Chromium is not at {}",
        path.display()
    );
    eprintln!("skipped: no Chromium at {} (apt-get install chromium, or set TOLLGATE_CHROMIUM)", path.display());
    None
}

/// Runs headless Chromium on `url` in a fresh profile with the flags every browser test needs (no sandbox, GPU,
/// first-run screens, background network or sync) and `args`; fails the test past 120 s.
pub async fn headless(chromium: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut browser = tokio::process::Command::new(chromium);
    browser
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .args(args)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .kill_on_drop(true);
    tokio::time::timeout(std::time::Duration::from_secs(120), browser.output())
        .await
        .expect("Chromium finishes within 120 s")
        .expect("Chromium runs")
}

/// A connection record as `$connect` writes it, with no key and no authorizer.
pub fn connection(id: &str, stage: &str) -> tollgate_core::store::connections::Connection {
    tollgate_core::store::connections::Connection {
        id: id.to_owned(),
        stage: stage.to_owned(),
        connected_at_ms: 1_645_556_857_902,
        source_ip: "192.0.2.1".to_owned(),
        user_agent: None,
        key_id: None,
        key_hash: None,
        authorizer: None,
        identity_expires_at_ms: None,
        expires_at_ms: i64::MAX / 2,
    }
}

/// Starts an axum app on 127.0.0.1 with a free port; it stops when the test's runtime ends.
pub async fn spawn_http(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A GET request in the gateway's own form, with optional headers.
pub fn get(path: &str, headers: &[(&str, &str)]) -> GatewayRequest {
    let mut request = GatewayRequest::new(http::Method::GET, path);
    for (k, v) in headers {
        request.headers.append(http::HeaderName::from_bytes(k.as_bytes()).expect("name"), v.parse().expect("value"));
    }
    GatewayRequest {
        source_ip: "192.0.2.1".to_owned(),
        request_id: "test-request".to_owned(),
        time_epoch_ms: T0_SECS * 1_000,
        ..request
    }
}

/// A response's body as JSON: an error body, or the event the echo function received.
pub fn json_body(response: &tollgate_core::request::GatewayResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body).expect("a JSON body")
}

/// The first value of a response header as text ("" when absent).
pub fn header<'a>(response: &'a tollgate_core::request::GatewayResponse, name: &str) -> &'a str {
    response.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Polls every future together on this task: independent requests arriving at the same instant, without
/// spawning (they borrow the gateway).
pub async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => *slot = Some(r),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().flatten().collect()
}
