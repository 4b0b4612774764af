//! Traces followed through `tollgate serve` over real sockets: the caller's X-Ray and W3C headers continued into
//! a Lambda function (run as a real process) and an HTTP backend, each hop with a new parent; X-Ray documents
//! received by a UDP "daemon" on loopback and parsed back; malformed trace headers replaced, never a failure.
//! Times come from one manual clock, which the HTTP backend moves on while it answers.

use std::{collections::BTreeMap, net::UdpSocket, sync::Arc};

use axum::{Router, extract::State, http::HeaderMap, routing::get};
use serde_json::{Value, json};
use tollgate_core::{
    Gateway,
    backends::Backends,
    clock::{Clock as _, ManualClock},
    config::Definition,
    settings::Settings,
};
use tollgate_tests::{EchoFunction, client::Reply, spawn_http, test_clock};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const CALLER_PARENT: &str = "53995c3f42cd8ad8";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

/// A loopback socket standing in for the X-Ray daemon.
struct Daemon(UdpSocket);

impl Daemon {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_nonblocking(true).expect("non-blocking");
        Self(socket)
    }

    fn address(&self) -> String {
        self.0.local_addr().expect("addr").to_string()
    }

    /// Every document received so far, nested subsegments flattened after their parent (with the parent and
    /// trace they imply). The gateway sends before it answers, and loopback UDP is queued at once, so after a
    /// reply its documents are all here: nothing to wait for.
    fn documents(&self) -> Vec<Value> {
        self.datagrams().into_iter().flat_map(flatten).collect()
    }

    /// Every datagram received so far, as the document it carries.
    fn datagrams(&self) -> Vec<Value> {
        let mut buf = vec![0; 70 * 1024];
        let mut out = Vec::new();
        while let Ok(n) = self.0.recv(&mut buf) {
            let text = std::str::from_utf8(&buf[..n]).expect("UTF-8");
            let body = text.strip_prefix(DAEMON_HEADER).unwrap_or_else(|| panic!("the daemon's header line: {text}"));
            out.push(serde_json::from_str(body).expect("a JSON document"));
        }
        out
    }
}

fn flatten(mut doc: Value) -> Vec<Value> {
    let children = doc.as_object_mut().and_then(|d| d.remove("subsegments"));
    let mut out = vec![doc.clone()];
    for mut child in children.and_then(|c| c.as_array().cloned()).unwrap_or_default() {
        child["type"] = json!("subsegment");
        child["parent_id"] = doc["id"].clone();
        child["trace_id"] = doc["trace_id"].clone();
        out.extend(flatten(child));
    }
    out
}

/// The trace headers an HTTP backend received, as JSON; it moves the clock on 1.5 ms while answering.
async fn backend(clock: ManualClock) -> String {
    let app = Router::new().route(
        "/{*rest}",
        get(|State(clock): State<ManualClock>, headers: HeaderMap| async move {
            clock.advance_us(1_500);
            let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let seen = json!({
                "xray": text("x-amzn-trace-id"),
                "traceparent": text("traceparent"),
                "tracestate": text("tracestate"),
            });
            ([("content-type", "application/json")], seen.to_string())
        }),
    );
    spawn_http(app.with_state(clock)).await.to_string()
}

struct Served {
    server: tollgate::serve::Server,
    _dir: tempfile::TempDir,
    daemon: Daemon,
    client: reqwest::Client,
}

impl Served {
    async fn start(tracing: bool) -> Self {
        let clock = test_clock();
        let daemon = Daemon::start();
        let yaml = format!(
            r#"
stages:
  test:
    variables: {{ backend: "{backend}" }}
    throttle: {{ rateLimit: 1000, burstLimit: 1000 }}
    tracing: {{ enabled: {tracing} }}
authorizers:
  gate: {{ type: lambda, function: echo, identitySources: ["$request.header.X-Token"], resultTtlSeconds: 0 }}
routes:
  GET /fn/{{proxy+}}:
    integration: {{ type: lambda, function: echo }}
  GET /http/{{proxy+}}:
    integration: {{ type: http, url: "http://${{stageVariables.backend}}/{{proxy}}" }}
  GET /guarded/{{proxy+}}:
    authorizer: gate
    integration: {{ type: http, url: "http://${{stageVariables.backend}}/{{proxy}}" }}
local:
  functions:
    echo: {{ command: ["{echo}"] }}
"#,
            backend = backend(clock.clone()).await,
            echo = env!("CARGO_BIN_EXE_echo-function"),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("gateway.yaml");
        std::fs::write(&config, yaml).expect("write definition");
        let options = tollgate::serve::ServeOptions {
            config,
            store: tollgate::store::StoreArgs { store: dir.path().join("store.json"), ..Default::default() },
            settings: Settings::from_vars([("AWS_XRAY_DAEMON_ADDRESS".to_owned(), daemon.address())]),
            clock: Some(Arc::new(clock)),
            ..Default::default()
        };
        let server = tollgate::serve::Server::start(&options).await.expect("serve starts");
        Self { server, _dir: dir, daemon, client: reqwest::Client::new() }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(format!("http://{}{path}", self.server.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::of(request).await
    }
}

/// `Root=…;Parent=…;Sampled=…` as a map.
fn fields(header: &str) -> BTreeMap<&str, &str> {
    header.split(';').filter_map(|f| f.split_once('=')).collect()
}

fn caller_headers() -> Vec<(&'static str, String)> {
    vec![
        ("x-amzn-trace-id", format!("Root={ROOT};Parent={CALLER_PARENT};Sampled=1")),
        ("traceparent", TRACEPARENT.to_owned()),
        ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".to_owned()),
    ]
}

fn pairs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The one document with `id`.
fn by_id<'a>(docs: &'a [Value], id: &str) -> &'a Value {
    docs.iter().find(|d| d["id"] == id).unwrap_or_else(|| panic!("no document {id} in {docs:#?}"))
}

#[tokio::test]
async fn an_http_backend_continues_the_callers_trace_from_the_gateways_subsegment() {
    let served = Served::start(true).await;
    let headers = caller_headers();
    let r = served.get("/http/a", &pairs(&headers)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    let xray = seen["xray"].as_str().expect("X-Amzn-Trace-Id reached the backend");
    let xray = fields(xray);
    assert_eq!((xray["Root"], xray["Sampled"]), (ROOT, "1"), "{xray:?}");
    let hop = xray["Parent"];
    assert_ne!(hop, CALLER_PARENT, "a new parent: the gateway's subsegment");
    // W3C: the caller's trace id, a new span id (the same hop), its flags; tracestate unchanged.
    let traceparent = seen["traceparent"].as_str().expect("traceparent");
    assert_eq!(traceparent, format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{hop}-01"));
    assert_eq!(seen["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");

    let docs = served.daemon.documents();
    let segment = docs.iter().find(|d| d.get("type").is_none()).expect("the gateway's segment");
    assert_eq!((segment["trace_id"].as_str(), segment["parent_id"].as_str()), (Some(ROOT), Some(CALLER_PARENT)));
    assert_eq!(segment["name"], "tollgate/test");
    assert_eq!(segment["http"]["response"]["status"], 200);
    let integration = by_id(&docs, hop);
    assert_eq!(integration["type"], "subsegment");
    assert_eq!(
        (integration["parent_id"].as_str(), integration["trace_id"].as_str()),
        (segment["id"].as_str(), Some(ROOT))
    );
    assert_eq!(integration["namespace"], "remote");
    assert_eq!(integration["http"]["response"]["status"], 200);
    assert!(integration["http"]["request"]["url"].as_str().is_some_and(|u| u.ends_with("/a")), "{integration}");
    let (start, end) =
        (integration["start_time"].as_f64().expect("start"), integration["end_time"].as_f64().expect("end"));
    assert!((end - start - 0.0015).abs() < 1e-6, "the backend's 1.5 ms on the manual clock: {start} {end}");
    assert!(segment["start_time"].as_f64() <= Some(start) && segment["end_time"].as_f64() >= Some(end));
    // The stage throttle's slice came from the store: a subsegment of its own.
    let store = docs.iter().find(|d| d["name"] == "store").expect("a store subsegment");
    assert_eq!(
        (store["parent_id"].clone(), store["annotations"]["operation"].clone()),
        (segment["id"].clone(), json!("take_slice"))
    );
    for doc in &docs {
        assert!(doc["start_time"].as_f64() <= doc["end_time"].as_f64(), "{doc}");
    }
}

#[tokio::test]
async fn a_lambda_invocation_and_an_authorizer_continue_the_trace() {
    let served = Served::start(true).await;
    let headers = caller_headers();
    // The echo function answers with the trace its invocation carried (`Lambda-Runtime-Trace-Id`).
    let r = served.get("/fn/trace", &pairs(&headers)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let invoked = r.text();
    let invoked = fields(&invoked);
    assert_eq!((invoked["Root"], invoked["Sampled"]), (ROOT, "1"), "{invoked:?}");
    assert_ne!(invoked["Parent"], CALLER_PARENT);
    let docs = served.daemon.documents();
    let lambda = by_id(&docs, invoked["Parent"]);
    assert_eq!((lambda["name"].as_str(), lambda["namespace"].as_str()), (Some("echo"), Some("aws")));
    assert_eq!(lambda["aws"]["operation"], "Invoke");

    // An authorizer is a subsegment too, beside the integration it let through.
    let mut headers = caller_headers();
    headers.push(("x-token", "t".to_owned()));
    let r = served.get("/guarded/b", &pairs(&headers)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let docs = served.daemon.documents();
    let segment = docs.iter().find(|d| d.get("type").is_none()).expect("segment");
    let authorizer = docs.iter().find(|d| d["name"] == "gate").expect("the authorizer's subsegment");
    assert_eq!(authorizer["parent_id"], segment["id"]);
    let hop = fields(r.json()["xray"].as_str().expect("xray")).get("Parent").map(|p| (*p).to_owned());
    assert_ne!(hop.as_deref(), authorizer["id"].as_str(), "each hop its own span");
}

#[tokio::test]
async fn without_trace_headers_one_is_started_and_with_tracing_off_nothing_is_sent() {
    let served = Served::start(true).await;
    let r = served.get("/http/a", &[]).await;
    let seen = r.json();
    let xray = fields(seen["xray"].as_str().expect("xray"));
    let root = xray["Root"];
    // Started on the manual clock's time (serve's front door starts it, as a Function URL does).
    assert!(root.starts_with(&format!("1-{:08x}-", test_clock().now_us() / 1_000_000)), "{root}");
    let traceparent = seen["traceparent"].as_str().expect("a traceparent is started");
    assert_eq!(traceparent, format!("00-{}-{}-01", root.replacen("1-", "", 1).replace('-', ""), xray["Parent"]));
    assert_eq!(seen["tracestate"], Value::Null);
    assert!(!served.daemon.documents().is_empty(), "sampled: documents sent");

    // A caller that decided not to sample: headers pass on as they came, no documents.
    let unsampled = format!("Root={ROOT};Parent={CALLER_PARENT};Sampled=0");
    let r = served.get("/http/a", &[("x-amzn-trace-id", &unsampled)]).await;
    assert_eq!(r.json()["xray"], unsampled.as_str());
    assert!(served.daemon.documents().is_empty(), "not sampled: nothing sent");

    let off = Served::start(false).await;
    let r = off.get("/http/a", &pairs(&caller_headers())).await;
    let seen = r.json();
    assert_eq!(seen["xray"], format!("Root={ROOT};Parent={CALLER_PARENT};Sampled=1"), "continued as it came");
    assert!(seen["traceparent"].as_str().is_some_and(|t| t.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")));
    assert_ne!(seen["traceparent"], TRACEPARENT, "a new span id per hop, traced or not");
    assert!(off.daemon.documents().is_empty(), "tracing off: no documents");
}

#[tokio::test]
async fn malformed_trace_headers_are_replaced() {
    let served = Served::start(true).await;
    for (xray, traceparent) in [
        ("Root=1-zzzzzzzz-bd862e3fe1be46a994272793", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"),
        ("Root=1-5759e988-bd86;Parent=;Sampled=2", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("Root=1-;;;;==", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ("Root=1-5759e988-bd862e3fe1be46a994272793x", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"),
    ] {
        let r = served
            .get("/http/a", &[("x-amzn-trace-id", xray), ("traceparent", traceparent), ("tracestate", "a=b")])
            .await;
        assert_eq!(r.status, 200, "{xray}: {}", r.text());
        let seen = r.json();
        let sent = fields(seen["xray"].as_str().expect("xray"));
        assert!(sent["Root"].len() == 35 && sent["Root"] != "1-5759e988-bd862e3fe1be46a994272793", "{xray}: {sent:?}");
        let started = sent["Root"].replacen("1-", "", 1).replace('-', "");
        assert!(seen["traceparent"].as_str().is_some_and(|t| t.starts_with(&format!("00-{started}-"))), "{seen}");
        assert_eq!(seen["tracestate"], Value::Null, "a tracestate without a valid traceparent is dropped");
        let docs = served.daemon.documents();
        assert!(docs.iter().all(|d| d["trace_id"] == sent["Root"]), "{docs:#?}");
    }
}

#[tokio::test]
async fn on_lambda_only_subsegments_are_sent_under_the_functions_segment() {
    let daemon = Daemon::start();
    let yaml = "stages:\n  prod:\n    tracing: { enabled: true }\nroutes:\n  ANY /{proxy+}:\n    integration: { type: lambda, function: backend }\n";
    let definition = Definition::from_yaml(yaml, None).expect("definition");
    let backends = Backends {
        lambda: Some(Arc::new(EchoFunction)),
        clock: Some(Arc::new(test_clock())),
        xray_daemon: Some(daemon.address()),
        ..Backends::default()
    };
    let gateway = Gateway::new(&definition, &backends).expect("gateway");
    let event = tollgate_tests::event_text("function-url-get-query.json");
    let lambda = "Root=1-6568f0a2-4c1d7e2b9a3f5061d8e4b7c2;Parent=2222222222222222;Sampled=1";
    let reply = gateway.handle_invocation(&event, None, Some(lambda)).await.expect("an answer");
    assert_eq!(serde_json::to_value(reply).expect("reply")["statusCode"], 200);
    let docs = daemon.datagrams();
    assert_eq!(docs.len(), 1, "one datagram, no segment of the gateway's own: {docs:#?}");
    let sent = &docs[0];
    assert_eq!((sent["type"].as_str(), sent["parent_id"].as_str()), (Some("subsegment"), Some("2222222222222222")));
    assert_eq!(sent["trace_id"], "1-6568f0a2-4c1d7e2b9a3f5061d8e4b7c2");
    assert_eq!(sent["name"], "tollgate/prod");
    let integration = &sent["subsegments"][0];
    assert_eq!((integration["name"].as_str(), integration["namespace"].as_str()), (Some("backend"), Some("aws")));

    // Lambda did not sample the invocation: nothing is sent.
    let unsampled = lambda.replace("Sampled=1", "Sampled=0");
    gateway.handle_invocation(&event, None, Some(&unsampled)).await.expect("an answer");
    assert!(daemon.documents().is_empty());
}
