//! `tollgate serve` over real sockets: a real HTTP client in front; behind it a real function process under
//! the local Runtime API and a real HTTP server on loopback. (Backends that fail, per API type: api_types.rs.)

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    extract::{ConnectInfo, Request},
    http::{HeaderMap, StatusCode},
};
use serde_json::{Value, json};
use tollgate::serve::{ServeOptions, Server};
use tollgate_core::{
    admin::{Admin, NewKey, PlanInput},
    clock::{Clock as _, SharedClock},
    store::embedded::EmbeddedStore,
    usage::{Period, Quota},
};
use tollgate_tests::test_clock;

/// A running `tollgate serve` on a free port, with the definition written to a temporary folder.
struct Running {
    server: Server,
    _dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Running {
    async fn start(yaml: &str) -> Self {
        Self::start_on(yaml, None).await
    }

    /// Serving on `clock` (the system clock when `None`).
    async fn start_on(yaml: &str, clock: Option<SharedClock>) -> Self {
        // Each server keeps its keys and plans in its own temporary folder.
        let (server, dir) = tollgate_tests::serve_on(yaml, clock).await;
        Self { server, _dir: dir, client: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }
}

async fn json_body(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.expect("body")).expect("JSON body")
}

/// A definition whose Lambda routes run the test function binary.
fn lambda_definition(timeout_ms: u64) -> String {
    format!(
        r#"
routes:
  ANY /fn/{{proxy+}}:
    integration: {{ type: lambda, function: echo }}
  GET /v1/{{proxy+}}:
    integration: {{ type: lambda, function: "arn:aws:lambda:us-east-1:123456789012:function:echo:live", payloadFormatVersion: "1.0" }}
  GET /slow/{{proxy+}}:
    integration: {{ type: lambda, function: echo, timeoutMs: {timeout_ms} }}
local:
  functions:
    echo: {{ command: ["{}"] }}
"#,
        env!("CARGO_BIN_EXE_echo-function")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_round_trip_builds_the_event_api_gateway_sends() {
    let gw = Running::start(&lambda_definition(1000)).await;
    let response = gw
        .client
        .post(gw.url("/fn/pets/42?kind=dog&kind=cat"))
        .header("cookie", "session=abc; theme=dark")
        .header("content-type", "application/json")
        .header("x-custom", "yes")
        .body(r#"{"name":"rex"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("apigw-requestid"));
    let ev = json_body(response).await;
    assert_eq!(ev["version"], "2.0");
    assert_eq!(ev["routeKey"], "ANY /fn/{proxy+}");
    assert_eq!(ev["rawPath"], "/fn/pets/42");
    assert_eq!(ev["rawQueryString"], "kind=dog&kind=cat");
    assert_eq!(ev["queryStringParameters"]["kind"], "dog,cat");
    assert_eq!(ev["pathParameters"]["proxy"], "pets/42");
    assert_eq!(ev["cookies"], json!(["session=abc", "theme=dark"]));
    assert_eq!(ev["headers"]["x-custom"], "yes");
    assert_eq!(ev["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(ev["body"], r#"{"name":"rex"}"#);
    assert_eq!(ev["isBase64Encoded"], false);
    assert_eq!(ev["requestContext"]["http"]["method"], "POST");
    assert_eq!(ev["requestContext"]["http"]["sourceIp"], "127.0.0.1");

    // Payload 1.0 to a function named by ARN with an alias.
    let ev = json_body(gw.get("/v1/a/b?x=1&x=2").await).await;
    assert_eq!(ev["version"], "1.0");
    assert_eq!(ev["httpMethod"], "GET");
    assert_eq!(ev["multiValueQueryStringParameters"]["x"], json!(["1", "2"]));
    assert_eq!(ev["queryStringParameters"]["x"], "2");
    assert_eq!(ev["pathParameters"]["proxy"], "a/b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_replies_are_mapped_as_api_gateway_maps_them() {
    let gw = Running::start(&lambda_definition(1000)).await;

    let r = gw.get("/fn/infer").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(json_body(r).await, json!({ "message": "inferred" }));

    let r = gw.get("/fn/cookies").await;
    assert_eq!(r.status(), 201);
    let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap_or("")).collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2"]);

    let r = gw.get("/fn/binary").await;
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.expect("body").as_ref(), [0u8, 159, 146, 150, 255]);
    // Failed and malformed replies: per API type, in api_types.rs.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_timeout_is_answered_and_a_crashed_function_restarts() {
    let gw = Running::start(&lambda_definition(300)).await;
    // The function answers 200 after 2 s: an HTTP API's 503 is the gateway's own answer at its 300 ms timeout.
    let r = gw.get("/slow/sleep").await;
    assert_eq!(r.status(), 503);
    assert_eq!(json_body(r).await, json!({ "message": "Service Unavailable" }));

    let r = gw.get("/fn/exit").await;
    assert_eq!(r.status(), 500, "the invocation held by a process that exits fails");
    // The function is restarted; later requests are served again (after the sleeping one finishes).
    let r = gw.get("/fn/after-restart").await;
    assert_eq!(r.status(), 200);
}

/// What the echo backend saw, plus the peers it saw it from (to count connections).
#[derive(Default)]
struct Seen {
    peers: Mutex<HashSet<SocketAddr>>,
}

async fn http_backends() -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let seen_in = Arc::clone(&seen);
    let echo = Router::new().fallback(move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
        let seen = Arc::clone(&seen_in);
        async move {
            seen.peers.lock().expect("lock").insert(peer);
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            let headers: serde_json::Map<String, Value> =
                parts.headers.iter().map(|(k, v)| (k.to_string(), Value::from(v.to_str().unwrap_or("")))).collect();
            let mut out = HeaderMap::new();
            out.insert("x-backend", "echo".parse().expect("value"));
            out.insert("keep-alive", "timeout=5".parse().expect("value"));
            let seen = json!({
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "query": parts.uri.query(),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            (StatusCode::IM_A_TEAPOT, out, seen.to_string())
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let echo_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, echo.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    (echo_addr, seen)
}

fn http_definition(echo: SocketAddr) -> String {
    format!(
        r#"
stages:
  test:
    variables: {{ echo: "{echo}" }}
routes:
  ANY /items/{{id}}:
    integration: {{ type: http, url: "http://${{stageVariables.echo}}/backend/items/{{id}}?from=tollgate" }}
  GET /files/{{proxy+}}:
    integration: {{ type: http, url: "http://${{stageVariables.echo}}/store/{{proxy}}" }}
  ANY /shop/{{proxy+}}:
    integration: {{ type: http, url: "http://${{stageVariables.echo}}?via=greedy" }}
  GET /mock:
    integration: {{ type: mock, statusCode: 200, body: ok }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_integration_forwards_and_relays() {
    let (echo, seen) = http_backends().await;
    let gw = Running::start(&http_definition(echo)).await;
    let r = gw
        .client
        .put(gw.url("/items/a%20b?q=1"))
        .header("x-custom", "kept")
        .header("connection", "x-hop")
        .header("x-hop", "dropped")
        .header("x-forwarded-for", "203.0.113.9")
        .body("payload")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 418, "the backend's status is relayed");
    assert_eq!(r.headers()["x-backend"], "echo");
    assert!(r.headers().get("keep-alive").is_none(), "hop-by-hop headers are not relayed");
    let saw = json_body(r).await;
    assert_eq!(saw["method"], "PUT");
    assert_eq!(saw["path"], "/backend/items/a%20b", "path parameters are re-encoded into the URL");
    assert_eq!(saw["query"], "from=tollgate&q=1");
    assert_eq!(saw["body"], "payload");
    assert_eq!(saw["headers"]["x-custom"], "kept");
    assert!(saw["headers"].get("x-hop").is_none(), "headers named by Connection are hop-by-hop");
    assert_eq!(saw["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(saw["headers"]["x-forwarded-proto"], "http");
    assert_eq!(saw["headers"]["x-forwarded-port"], gw.server.addr.port().to_string());
    assert_eq!(saw["headers"]["host"], echo.to_string());

    let saw = json_body(gw.get("/files/docs/read%20me.txt").await).await;
    assert_eq!(saw["path"], "/store/docs/read%20me.txt", "a greedy parameter keeps its slashes");
    // A greedy route whose URL names no parameter appends the request's path, before the URL's own query.
    let saw = json_body(gw.get("/shop/store/check%20out?q=1").await).await;
    assert_eq!(
        (saw["path"].as_str(), saw["query"].as_str()),
        (Some("/shop/store/check%20out"), Some("via=greedy&q=1"))
    );

    // Connections to the backend are pooled across requests.
    seen.peers.lock().expect("lock").clear();
    for _ in 0..20 {
        assert_eq!(gw.get("/items/1").await.status(), 418);
    }
    let connections = seen.peers.lock().expect("lock").len();
    assert!(connections <= 2, "20 sequential requests used {connections} backend connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_api_gateway_answers() {
    let (echo, _) = http_backends().await;
    let gw = Running::start(&http_definition(echo)).await;

    let r = gw.get("/nowhere").await;
    assert_eq!(r.status(), 404);
    assert_eq!(json_body(r).await, json!({ "message": "Not Found" }));

    let r = gw.get("/items/%zz").await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_body(r).await, json!({ "message": "Bad Request" }));

    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    let r = gw.client.post(gw.url("/items/1")).body(big).send().await.expect("request");
    assert_eq!(r.status(), 413);
    assert_eq!(json_body(r).await, json!({ "message": "Request Too Long" }));

    let r = gw.client.get(gw.url("/mock")).header("x-big", "a".repeat(11 * 1024)).send().await.expect("request");
    assert_eq!(r.status(), 413);

    // Non-UTF-8 bytes in a body are carried, not rejected.
    let r = gw.client.post(gw.url("/items/1")).body(vec![0xff, 0xfe, 0x00]).send().await.expect("request");
    assert_eq!(r.status(), 418);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_all_answered() {
    let (echo, _) = http_backends().await;
    let gw = Arc::new(Running::start(&http_definition(echo)).await);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let gw = Arc::clone(&gw);
            tokio::spawn(async move { gw.get(if i % 2 == 0 { "/mock" } else { "/items/7" }).await.status() })
        })
        .collect();
    for task in tasks {
        let status = task.await.expect("task");
        assert!(status == 200 || status == 418, "{status}");
    }
}

/// `--config gateway.yaml` (no folder): local functions run from the current directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_config_file_name_runs_local_functions() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("gateway.yaml"), lambda_definition(1000)).expect("write");
    // The test's working directory is the crate's; copy the definition there under a unique name.
    let name = format!("bare-{}.yaml", std::process::id());
    std::fs::copy(dir.path().join("gateway.yaml"), &name).expect("copy");
    let started = Server::start(&ServeOptions { config: name.clone().into(), ..ServeOptions::default() }).await;
    let _ = std::fs::remove_file(&name);
    let server = started.expect("serve starts with a bare file name");
    let r = reqwest::get(format!("http://{}/fn/echo", server.addr)).await.expect("request");
    assert_eq!(r.status(), 200);
}

#[test]
fn every_example_definition_loads() {
    let examples = tollgate_tests::repo_root().join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(examples).expect("examples/") {
        let path = entry.expect("entry").path().join("gateway.yaml");
        if path.exists() {
            let def = tollgate_core::config::Definition::load(&path, None)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            tollgate_core::route_table::RouteTable::new(&def.routes).expect("routes");
            count += 1;
        }
    }
    assert!(count >= 1);
}

/// Keys created in the embedded store file (as `tollgate keys create` does, from another process) open
/// `apiKeyRequired` routes of a running `tollgate serve`; a missing key is API Gateway's 403.
#[tokio::test]
async fn api_keys_over_real_sockets_from_the_shared_store_file() {
    let clock = test_clock();
    let yaml = "routes:\n  GET /paid:\n    apiKeyRequired: true\n    integration: { type: mock, body: paid }\n";
    let running = Running::start_on(yaml, Some(Arc::new(clock.clone()))).await;
    let store = EmbeddedStore::open(&running._dir.path().join("store.json")).expect("the same file");
    let admin = Admin::new(&store, clock.now_ms());
    let plan = PlanInput {
        name: "p".into(),
        stages: vec!["$default".into()],
        quota: Some(Quota { limit: 2, period: Period::Day, offset: 0 }),
        ..Default::default()
    };
    let plan = admin.create_plan(plan).await.expect("plan");
    let new = NewKey { name: "k".into(), enabled: true, plans: vec![plan.id], ..Default::default() };
    let (_, value) = admin.create_key(new).await.expect("key");

    let refused = running.get("/paid").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(json_body(refused).await["message"], "Forbidden");
    let send = || running.client.get(running.url("/paid")).header("x-api-key", &value).send();
    let ok = send().await.expect("request");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["ratelimit-remaining"], "1");
    assert_eq!(send().await.expect("request").status(), 200);
    let spent = send().await.expect("request");
    assert_eq!(spent.status(), 429);
    assert!(spent.headers().contains_key("retry-after"));
    assert_eq!(json_body(spent).await["message"], "Limit Exceeded");
}
