//! In-process cost of the gateway, each figure beside a baseline measured in the same run:
//! - `pipeline/*`: admit → route → mock integration → respond → access log, for 1 and 500 routes;
//! - `event/*`: a whole Function URL invocation as Lambda delivers it (JSON in, JSON out) through the gateway,
//!   against the JSON work any Rust HTTP function pays anyway (parse the same event, write a response);
//! - `tracing/*`: one Lambda-integrated route behind a stage throttle (an in-process function and the embedded
//!   store in memory), the stage's tracing off against on (every request recorded: the segment, the store's
//!   subsegment and the integration's, sent to a UDP socket on loopback).
//!
//! `scripts/bench-report` prints the medians and ratios.

use std::hint::black_box;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;

use tollgate_core::{
    Gateway,
    backends::Backends,
    clients::{InvokeFuture, InvokeOutput, Invoker},
    config::Definition,
    event::GatewayEvent,
    request::GatewayRequest,
    store::{Store, embedded::EmbeddedStore},
};

/// 500 routes of the shapes real APIs have: static, parameter, nested parameter, greedy, several methods.
fn definition(routes: usize) -> String {
    let mut yaml = String::from("routes:\n");
    let mock = "{ integration: { type: mock, statusCode: 200, headers: { content-type: application/json }, body: '{\"ok\":true}' } }";
    for i in 0..routes {
        let key = match i % 5 {
            0 => format!("GET /svc{i}/items"),
            1 => format!("GET /svc{i}/items/{{id}}"),
            2 => format!("POST /svc{i}/items/{{id}}/tags/{{tag}}"),
            3 => format!("ANY /svc{i}/files/{{proxy+}}"),
            _ => format!("DELETE /svc{i}/items/{{id}}"),
        };
        yaml.push_str(&format!("  \"{key}\": {mock}\n"));
    }
    yaml
}

fn gateway(routes: usize) -> Gateway {
    let def = Definition::from_yaml(&definition(routes), None).expect("definition");
    Gateway::new(&def, &Backends::default()).expect("gateway")
}

fn request(path: &str) -> GatewayRequest {
    let mut headers = http::HeaderMap::new();
    for (k, v) in [("accept", "*/*"), ("user-agent", "bench/1.0"), ("host", "abc.lambda-url.us-east-1.on.aws")] {
        headers.insert(k, v.parse().expect("header"));
    }
    GatewayRequest {
        raw_query: "a=1&b=2".to_owned(),
        headers,
        source_ip: "192.0.2.1".to_owned(),
        user_agent: Some("bench/1.0".to_owned()),
        request_id: "bench-request".to_owned(),
        time_epoch_ms: 1_700_000_000_000,
        ..GatewayRequest::new(http::Method::GET, path)
    }
}

/// A function that answers at once, so the figure is the gateway's own work.
struct Instant200;

impl Invoker for Instant200 {
    fn invoke<'a>(&'a self, _function: &'a str, _payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        let reply = br#"{"statusCode":200,"headers":{"content-type":"application/json"},"body":"{\"ok\":true}"}"#;
        Box::pin(async move { Ok(InvokeOutput { payload: reply.to_vec(), function_error: None }) })
    }
}

/// The traced route, with tracing on or off, sending to `daemon`.
fn traced_gateway(on: bool, daemon: &str) -> Gateway {
    let yaml = format!(
        "stages:\n  prod:\n    throttle: {{ rateLimit: 1000000, burstLimit: 1000000 }}\n    tracing: {{ enabled: {on} }}\nroutes:\n  GET /svc/items/{{id}}:\n    integration: {{ type: lambda, function: f }}\n"
    );
    let def = Definition::from_yaml(&yaml, None).expect("definition");
    let backends = Backends {
        lambda: Some(Arc::new(Instant200)),
        store: Some(Arc::new(EmbeddedStore::in_memory()) as Arc<dyn Store>),
        xray_daemon: Some(daemon.to_owned()),
        ..Backends::default()
    };
    Gateway::new(&def, &backends).expect("gateway")
}

fn event_json(path: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/function-url-get-query.json"))
        .expect("event");
    text.replace("/my/path", path).into_bytes()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let one = gateway(1);
    let many = gateway(500);
    // Route 251 is `GET /svc251/items/{id}`: mid-table, with a parameter to decode.
    let hit_one = request("/svc0/items");
    let hit_many = request("/svc251/items/42");

    let mut group = c.benchmark_group("pipeline");
    group.bench_function("1-route", |b| b.to_async(&rt).iter(|| one.handle_request(black_box(hit_one.clone()))));
    group.bench_function("500-routes", |b| b.to_async(&rt).iter(|| many.handle_request(black_box(hit_many.clone()))));
    group.finish();

    let event = event_json("/svc251/items/42");
    let mut group = c.benchmark_group("event");
    group.bench_function("baseline-json-only", |b| {
        b.iter(|| {
            let ev: ApiGatewayV2httpRequest = serde_json::from_slice(black_box(&event)).expect("event");
            let mut response = ApiGatewayV2httpResponse::default();
            response.status_code = 200;
            response.body = Some(aws_lambda_events::encodings::Body::Text(r#"{"ok":true}"#.to_owned()));
            black_box(ev);
            serde_json::to_vec(&response).expect("response")
        })
    });
    group.bench_function("gateway-500-routes", |b| {
        b.to_async(&rt).iter(|| async {
            let ev: GatewayEvent = serde_json::from_slice(black_box(&event)).expect("event");
            let response = many.handle(ev, None).await;
            serde_json::to_vec(&response).expect("response")
        })
    });
    group.finish();

    // The X-Ray daemon: a loopback socket drained on its own thread, as the real one reads its datagrams.
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let address = daemon.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        let mut buf = vec![0; 65_536];
        while daemon.recv(&mut buf).is_ok() {}
    });
    let (off, on) = (traced_gateway(false, &address), traced_gateway(true, &address));
    let mut hit = request("/svc/items/42");
    hit.headers.insert("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".parse().expect("v"));
    let mut group = c.benchmark_group("tracing");
    group.bench_function("off", |b| b.to_async(&rt).iter(|| off.handle_request(black_box(hit.clone()))));
    group.bench_function("on", |b| b.to_async(&rt).iter(|| on.handle_request(black_box(hit.clone()))));
    group.finish();
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
