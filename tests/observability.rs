//! Metrics and access logs through the real pipeline and `tollgate serve`: the EMF lines are parsed back and
//! checked against the requests sent, the flush bound holds on a manual clock, every access-log format renders,
//! and sampling never drops an error or a throttle.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::Value;
use tollgate_core::{
    Gateway,
    backends::Backends,
    clients::HttpClient,
    clock::{MICROS_PER_SEC, ManualClock},
    config::Definition,
    gateway::load_definition,
    logging::Captured,
    request::GatewayRequest,
    settings::Settings,
};
use tollgate_tests::{EchoFunction, T0_SECS, get, test_clock};

const ROUTES: &str = r#"
routes:
  GET /ok:
    integration: { type: mock, statusCode: 200, body: "fine" }
  GET /broken:
    integration: { type: mock, statusCode: 503 }
  GET /echo/{id}:
    integration: { type: lambda, function: echo }
"#;

/// A gateway for `yaml` whose lines land in the returned sink, on `clock`.
fn gateway_on(yaml: &str, clock: &ManualClock) -> (Gateway, Arc<Captured>) {
    let lines = Arc::new(Captured::default());
    let definition = Definition::from_yaml(yaml, None).expect("test definition");
    let backends = Backends {
        lambda: Some(Arc::new(EchoFunction)),
        http: Some(HttpClient::new().expect("http client")),
        clock: Some(Arc::new(clock.clone())),
        lines: Some(Arc::clone(&lines) as _),
        ..Backends::default()
    };
    (Gateway::new(&definition, &backends).expect("gateway"), lines)
}

fn request(path: &str, id: &str) -> GatewayRequest {
    GatewayRequest { request_id: id.to_owned(), ..get(path, &[]) }
}

/// EMF documents among `lines`, parsed.
fn emf(lines: &[String]) -> Vec<Value> {
    lines.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|v| v.get("_aws").is_some()).collect()
}

/// Sum of metric `name` over documents, by the value of `Route` ("-" for API-and-stage-only documents).
fn sums(docs: &[Value], name: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for doc in docs {
        if let Some(sum) = doc[name]["Sum"].as_f64() {
            let route = doc["Route"].as_str().unwrap_or("-").to_owned();
            *out.entry(route).or_insert(0.0) += sum;
        }
    }
    out
}

#[tokio::test]
async fn emf_lines_count_the_requests_sent() {
    let clock = test_clock();
    let (gateway, lines) = gateway_on(&format!("name: pets\nmetrics: {{ flushSeconds: 60 }}\n{ROUTES}"), &clock);
    let sent = [("/ok", 7), ("/broken", 3), ("/echo/1", 4), ("/nowhere", 2)];
    for (path, n) in sent {
        for i in 0..n {
            gateway.handle_request(request(path, &format!("{path}-{i}"))).await;
        }
    }
    assert!(emf(&lines.take()).is_empty(), "nothing before flushSeconds have passed");
    clock.advance_us(60 * MICROS_PER_SEC);
    gateway.handle_request(request("/ok", "last")).await;
    let docs = emf(&lines.take());
    assert_eq!(docs.len(), 4, "one document per series: three routes and the unmatched requests");
    let doc = docs.iter().find(|d| d["Route"] == "GET /echo/{id}").expect("the echo route's document");
    assert_eq!((doc["ApiId"].as_str(), doc["Stage"].as_str()), (Some("pets"), Some("$default")));
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "Tollgate");
    assert_eq!(directive["Dimensions"], serde_json::json!([["ApiId", "Stage"], ["ApiId", "Stage", "Route"]]));
    assert_eq!(doc["_aws"]["Timestamp"].as_i64(), Some((T0_SECS + 60) * 1_000));
    assert_eq!(doc["IntegrationLatency"]["Count"].as_u64(), Some(4), "the Lambda route's backend was timed");
    // Every metric the directive names is a member of the document.
    for metric in directive["Metrics"].as_array().expect("metrics") {
        let values = &doc[metric["Name"].as_str().expect("name")];
        assert_eq!(values["Values"].as_array().map(Vec::len), values["Counts"].as_array().map(Vec::len));
    }
    let counts = sums(&docs, "Count");
    let expected: BTreeMap<String, f64> = [("GET /ok", 8.0), ("GET /broken", 3.0), ("GET /echo/{id}", 4.0), ("-", 2.0)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(counts, expected);
    assert_eq!(sums(&docs, "4XXError").get("-"), Some(&2.0), "404s count on API and stage only");
    assert_eq!(sums(&docs, "5XXError").get("GET /broken"), Some(&3.0));
    assert_eq!(sums(&docs, "5XXError").get("GET /ok"), Some(&0.0));
    let unmatched = docs.iter().find(|d| d.get("Route").is_none()).expect("unmatched");
    assert_eq!(unmatched["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["ApiId", "Stage"]]));
}

#[tokio::test]
async fn at_most_one_flush_per_window_and_nothing_lost_at_the_end() {
    let clock = test_clock();
    let (gateway, lines) =
        gateway_on(&format!("metrics: {{ flushSeconds: 10, namespace: Shop/Api }}\n{ROUTES}"), &clock);
    let mut all = Vec::new();
    for i in 0..300 {
        gateway.handle_request(request("/ok", &format!("r{i}"))).await;
        // 300 requests over 100 s, a third of a second apart.
        clock.advance_us(MICROS_PER_SEC / 3);
        all.extend(lines.take());
    }
    gateway.metrics().expect("metrics on").flush();
    all.extend(lines.take());
    let docs = emf(&all);
    let stamps: Vec<i64> = docs.iter().filter_map(|d| d["_aws"]["Timestamp"].as_i64()).collect();
    assert!(stamps.len() >= 10, "flushed as time went on: {stamps:?}");
    for pair in stamps[..stamps.len() - 1].windows(2) {
        assert!(pair[1] - pair[0] >= 10_000, "two flushes within 10 s: {stamps:?}");
    }
    assert!(docs.iter().all(|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shop/Api"));
    assert_eq!(sums(&docs, "Count").values().sum::<f64>(), 300.0, "every request counted once");
}

#[tokio::test]
async fn a_line_per_request_when_flush_seconds_is_zero_and_none_when_off() {
    let clock = test_clock();
    let (gateway, lines) = gateway_on(&format!("metrics: {{ flushSeconds: 0 }}\n{ROUTES}"), &clock);
    for i in 0..5 {
        gateway.handle_request(request("/ok", &format!("r{i}"))).await;
    }
    assert_eq!(emf(&lines.take()).len(), 5);
    let (gateway, lines) = gateway_on(&format!("metrics: {{ enabled: false }}\n{ROUTES}"), &clock);
    gateway.handle_request(request("/ok", "r")).await;
    assert!(gateway.metrics().is_none() && lines.take().is_empty());
}

#[test]
fn bad_metrics_settings_are_refused_at_load() {
    for (setting, problem) in [
        ("metrics: { flushSeconds: 901 }", "metrics.flushSeconds"),
        ("metrics: { namespace: \"AWS/ApiGateway\" }", "reserved"),
        ("metrics: { nameSpace: x }", "nameSpace"),
        ("accessLog: { format: \"$context.requestId $context.bogus\" }", "$context.bogus"),
        ("accessLog: { sampleRate: 2 }", "sampleRate"),
    ] {
        let err = Definition::from_yaml(&format!("{setting}\n{ROUTES}"), None).expect_err(problem).to_string();
        assert!(err.contains(problem), "{problem}: {err}");
    }
}

/// The one access-log line `format` writes for a GET of `/echo/7`.
async fn line(format: &str) -> String {
    let clock = test_clock();
    let yaml = format!("metrics: {{ enabled: false }}\naccessLog: {{ format: {format} }}\n{ROUTES}");
    let (gateway, lines) = gateway_on(&yaml, &clock);
    gateway.handle_request(request("/echo/7", "req-1")).await;
    let mut lines = lines.take();
    assert_eq!(lines.len(), 1, "{format}: {lines:?}");
    lines.remove(0)
}

#[tokio::test]
async fn every_access_log_format_renders() {
    let json: Value = serde_json::from_str(&line("json").await).expect("the json preset is JSON");
    assert_eq!(json["requestId"], "req-1");
    assert_eq!(json["routeKey"], "GET /echo/{id}");
    assert_eq!(json["status"], "200");
    assert_eq!(json["ip"], "192.0.2.1");
    assert_eq!(json["requestTime"], "14/Nov/2023:22:13:20 +0000");

    let clf = line("clf").await;
    assert!(
        clf.starts_with("192.0.2.1 - - [14/Nov/2023:22:13:20 +0000] \"GET GET /echo/{id} HTTP/1.1\" 200 "),
        "{clf}"
    );
    let tail: Vec<&str> = clf.rsplit(' ').take(2).collect();
    assert_eq!(tail[1], "req-1", "requestId then extendedRequestId: {clf}");

    let csv = line("csv").await;
    let fields: Vec<&str> = csv.split(',').collect();
    assert_eq!(fields.len(), 9, "{csv}");
    assert_eq!(
        fields[..7],
        ["192.0.2.1", "14/Nov/2023:22:13:20 +0000", "GET", "GET /echo/{id}", "HTTP/1.1", "200", fields[6]]
    );
    assert_eq!(fields[7], "req-1");

    let xml = line("xml").await;
    assert!(xml.starts_with("<request id=\"req-1\"> <ip>192.0.2.1</ip>") && xml.ends_with("</request>"), "{xml}");

    let compact: Value = serde_json::from_str(&line("compact").await).expect("compact is JSON");
    assert_eq!(
        (compact["id"].as_str(), compact["st"].as_u64(), compact["err"].as_str()),
        (Some("req-1"), Some(200), Some("-"))
    );

    let custom =
        line("\"$context.requestId $context.httpMethod $context.path $context.integrationStatus $context.stage\"")
            .await;
    assert_eq!(custom, "req-1 GET /echo/7 200 $default");
}

#[tokio::test]
async fn sampling_drops_successes_only() {
    let clock = test_clock();
    let yaml = format!("metrics: {{ enabled: false }}\naccessLog: {{ format: compact, sampleRate: 0 }}\n{ROUTES}");
    let (gateway, lines) = gateway_on(&yaml, &clock);
    for (i, path) in ["/ok", "/broken", "/nowhere", "/ok", "/echo/1"].iter().enumerate() {
        gateway.handle_request(request(path, &format!("r{i}"))).await;
    }
    let logged: Vec<Value> = lines.take().iter().map(|l| serde_json::from_str(l).expect("json")).collect();
    let statuses: Vec<u64> = logged.iter().filter_map(|l| l["st"].as_u64()).collect();
    assert_eq!(statuses, [503, 404]);

    // At 0.1, which successes are kept depends on the request id alone: the same run logs the same ids.
    let yaml = format!("metrics: {{ enabled: false }}\naccessLog: {{ format: compact, sampleRate: 0.1 }}\n{ROUTES}");
    let kept = |gateway: Gateway, lines: Arc<Captured>| async move {
        for i in 0..1_000 {
            gateway.handle_request(request("/ok", &format!("id-{i}"))).await;
        }
        lines.take()
    };
    let (g1, l1) = gateway_on(&yaml, &clock);
    let (g2, l2) = gateway_on(&yaml, &clock);
    let first = kept(g1, l1).await;
    assert!((60..140).contains(&first.len()), "{} of 1000 at 0.1", first.len());
    let ids = |lines: &[String]| -> Vec<String> {
        lines.iter().map(|l| serde_json::from_str::<Value>(l).expect("json")["id"].to_string()).collect()
    };
    assert_eq!(ids(&first), ids(&kept(g2, l2).await));
}

#[tokio::test]
async fn the_deployments_sample_rate_applies_where_the_definition_sets_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let load = |access_log: &str, rate: &str| {
        let path = dir.path().join("gateway.yaml");
        std::fs::write(&path, format!("metrics: {{ enabled: false }}\naccessLog: {access_log}\n{ROUTES}"))
            .expect("write");
        let settings = Settings::from_vars([
            ("TOLLGATE_CONFIG".to_owned(), path.display().to_string()),
            ("TOLLGATE_ACCESS_LOG_SAMPLE_RATE".to_owned(), rate.to_owned()),
        ]);
        settings.check().expect("settings");
        load_definition(&settings).expect("definition")
    };
    // What template.yaml deploys (0.1) where the definition says nothing; the definition's own rate wins.
    assert_eq!(load("{ format: compact }", "0.1").access_log.sample_rate, Some(0.1));
    assert_eq!(load("{ format: compact, sampleRate: 1 }", "0.1").access_log.sample_rate, Some(1.0));
    assert_eq!(load("{ format: compact }", "").access_log.sample_rate, None, "unset: every line");

    // At a deployed 0, a definition without a rate logs its errors only.
    let clock = test_clock();
    let lines = Arc::new(Captured::default());
    let backends = Backends {
        lambda: Some(Arc::new(EchoFunction)),
        clock: Some(Arc::new(clock)),
        lines: Some(Arc::clone(&lines) as _),
        ..Backends::default()
    };
    let gateway = Gateway::new(&load("{ format: compact }", "0"), &backends).expect("gateway");
    for (i, path) in ["/ok", "/broken", "/ok", "/nowhere"].iter().enumerate() {
        gateway.handle_request(request(path, &format!("d{i}"))).await;
    }
    let statuses: Vec<u64> =
        lines.take().iter().filter_map(|l| serde_json::from_str::<Value>(l).expect("json")["st"].as_u64()).collect();
    assert_eq!(statuses, [503, 404]);
}

/// `tollgate serve` for `yaml` on `clock`, its EMF and formatted access lines in the returned sink.
async fn serve_with_lines(
    yaml: &str,
    clock: &ManualClock,
) -> (tollgate::serve::Server, tempfile::TempDir, Arc<Captured>) {
    let lines = Arc::new(Captured::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("gateway.yaml");
    std::fs::write(&config, yaml).expect("write");
    let store = tollgate::store::StoreArgs { store: dir.path().join("store.json"), ..Default::default() };
    let options = tollgate::serve::ServeOptions {
        config,
        store,
        clock: Some(Arc::new(clock.clone())),
        lines: Some(Arc::clone(&lines) as _),
        ..Default::default()
    };
    let server = tollgate::serve::Server::start(&options).await.expect("serve starts");
    (server, dir, lines)
}

#[tokio::test]
async fn serve_publishes_emf_and_keeps_throttled_lines() {
    let clock = test_clock();
    let yaml = "name: shop\nstages:\n  prod:\n    throttle: { rateLimit: 1, burstLimit: 2 }\n\
                accessLog: { format: compact, sampleRate: 0 }\nroutes:\n  GET /ok:\n    \
                integration: { type: mock }\n";
    let (server, _dir, lines) = serve_with_lines(yaml, &clock).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = client.get(format!("http://{}/ok", server.addr)).send().await.expect("answer");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429], "a burst of 2 on a stopped clock");
    server.flush_metrics();
    let all = lines.take();
    let access: Vec<Value> =
        all.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|v| v.get("st").is_some()).collect();
    assert_eq!(access.iter().map(|l| l["st"].as_u64()).collect::<Vec<_>>(), [Some(429), Some(429)], "throttles kept");
    let docs = emf(&all);
    assert_eq!(docs.len(), 1);
    assert_eq!((docs[0]["ApiId"].as_str(), docs[0]["Stage"].as_str()), (Some("shop"), Some("prod")));
    assert_eq!(docs[0]["Count"]["Count"].as_u64(), Some(4));
    assert_eq!(docs[0]["4XXError"]["Sum"].as_f64(), Some(2.0));
}

type WsClient = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame, within a bound so a lost frame fails the test instead of hanging it.
async fn next_text(client: &mut WsClient) -> String {
    use futures_util::StreamExt as _;
    let frame = tokio::time::timeout(std::time::Duration::from_secs(10), client.next()).await.expect("a frame in time");
    frame.expect("open").expect("frame").into_text().expect("text").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connects_messages_and_client_errors_are_counted() {
    use futures_util::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let clock = test_clock();
    let yaml = "name: chat\nwebsocket:\n  routes:\n    sendmessage: { builtin: broadcast }\n";
    let (server, _dir, lines) = serve_with_lines(yaml, &clock).await;
    let url = format!("ws://{}/", server.addr);
    let mut a = tokio_tungstenite::connect_async(&url).await.expect("handshake").0;
    let mut b = tokio_tungstenite::connect_async(&url).await.expect("handshake").0;
    a.send(Message::text(r#"{"action":"sendmessage","data":"hi"}"#)).await.expect("send");
    assert_eq!(next_text(&mut a).await, "hi");
    assert_eq!(next_text(&mut b).await, "hi");
    // Not a route here: the sender is told Forbidden, a client error.
    b.send(Message::text(r#"{"action":"subscribe","channel":"x"}"#)).await.expect("send");
    assert!(next_text(&mut b).await.contains("Forbidden"));
    server.flush_metrics();
    let docs = emf(&lines.take());
    let total = |name: &str| docs.iter().filter_map(|d| d[name]["Sum"].as_f64()).sum::<f64>();
    assert_eq!((total("ConnectCount"), total("MessageCount"), total("ClientError")), (2.0, 2.0, 1.0));
    let connect = docs.iter().find(|d| d["Route"] == "$connect").expect("the $connect series");
    assert_eq!(connect["ApiId"], "chat");
    assert!(docs.iter().all(|d| d.get("Count").is_none()), "handshakes are not counted as HTTP requests");
}
