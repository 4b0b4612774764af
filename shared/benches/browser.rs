//! What CORS and compression cost, each beside a baseline from the same run:
//! - `cors/*`: a simple request to a route with CORS and a preflight, against the same request to the same
//!   route without CORS;
//! - `codec/*`: compressing a 100 KB JSON body with each coding at each level (the ratio is printed once);
//! - `reply/*`: a whole Function URL invocation answering that body, plain and gzip (base64 in the reply),
//!   with the reply's size printed.
//!
//! `scripts/bench-report.sh` prints the medians and ratios.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_core::{
    Gateway,
    backends::Backends,
    coding::{self, Coding, Level},
    config::Definition,
    event::GatewayEvent,
    request::GatewayRequest,
};

const ORIGIN: &str = "https://app.example.com";

/// About 100 KB of JSON shaped like an API's list answer.
fn json_100kb() -> String {
    let items: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            let status = ["available", "sold", "pending"][i % 3];
            serde_json::json!({
                "id": i, "name": format!("pet number {i}"), "status": status,
                "tags": [{ "id": i % 7, "name": format!("tag{}", i % 7) }], "price": (i as f64) * 1.25,
            })
        })
        .collect();
    serde_json::Value::from(items).to_string()
}

fn gateway(cors: bool, compression: bool, body: &str) -> Gateway {
    let mut yaml = String::new();
    if cors {
        yaml.push_str(&format!(
            "cors: {{ allowOrigins: [\"{ORIGIN}\"], allowMethods: [GET, PUT], allowHeaders: [content-type, x-custom], \
             exposeHeaders: [x-request-id], maxAge: 600, allowCredentials: true }}\n"
        ));
    }
    if compression {
        yaml.push_str("minimumCompressionSize: 1024\n");
    }
    yaml.push_str(&format!(
        "routes:\n  GET /items/{{id}}:\n    integration: {{ type: mock, statusCode: 200, headers: {{ content-type: \
         application/json }}, body: '{body}' }}\n"
    ));
    let def = Definition::from_yaml(&yaml, None).expect("definition");
    Gateway::new(&def, &Backends::default()).expect("gateway")
}

fn request(method: http::Method, headers: &[(&'static str, &str)]) -> GatewayRequest {
    let mut map = http::HeaderMap::new();
    for (k, v) in [("accept", "*/*"), ("user-agent", "bench/1.0"), ("host", "abc.lambda-url.us-east-1.on.aws")]
        .iter()
        .chain(headers)
    {
        map.insert(*k, v.parse().expect("header"));
    }
    GatewayRequest {
        headers: map,
        source_ip: "192.0.2.1".to_owned(),
        request_id: "bench-request".to_owned(),
        time_epoch_ms: 1_700_000_000_000,
        ..GatewayRequest::new(method, "/items/42")
    }
}

fn event_json(accept_encoding: Option<&str>) -> Vec<u8> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/function-url-get-query.json"))
        .expect("event");
    let mut event: serde_json::Value = serde_json::from_str(&text.replace("/my/path", "/items/42")).expect("JSON");
    if let Some(accept) = accept_encoding {
        event["headers"]["accept-encoding"] = accept.into();
    }
    serde_json::to_vec(&event).expect("event")
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let small = r#"{"ok":true}"#;
    let plain = gateway(false, false, small);
    let with_cors = gateway(true, false, small);
    let simple = request(http::Method::GET, &[("origin", ORIGIN)]);
    let preflight = request(
        http::Method::OPTIONS,
        &[("origin", ORIGIN), ("access-control-request-method", "PUT"), ("access-control-request-headers", "x-custom")],
    );
    let mut group = c.benchmark_group("cors");
    group.bench_function("baseline-no-cors", |b| {
        b.to_async(&rt).iter(|| plain.handle_request(black_box(simple.clone())))
    });
    group.bench_function("simple-request", |b| {
        b.to_async(&rt).iter(|| with_cors.handle_request(black_box(simple.clone())))
    });
    group.bench_function("preflight", |b| {
        b.to_async(&rt).iter(|| with_cors.handle_request(black_box(preflight.clone())))
    });
    group.finish();

    let body = json_100kb();
    let mut group = c.benchmark_group("codec");
    group.sample_size(30);
    for coding in Coding::OFFERED {
        for (level, name) in [(Level::Fastest, "fastest"), (Level::Default, "default"), (Level::Best, "best")] {
            let packed = coding::encode(*coding, body.as_bytes(), level).expect("encode");
            eprintln!(
                "ratio {}-{name}: {} of {} bytes ({:.3})",
                coding.token(),
                packed.len(),
                body.len(),
                packed.len() as f64 / body.len() as f64
            );
            group.bench_function(format!("{}-{name}", coding.token()), |b| {
                b.iter(|| coding::encode(*coding, black_box(body.as_bytes()), level).expect("encode"))
            });
        }
    }
    group.finish();

    let big = gateway(false, true, &body);
    let mut group = c.benchmark_group("reply");
    group.sample_size(30);
    for (name, accept) in [("baseline-plain", None), ("gzip", Some("gzip"))] {
        let event = event_json(accept);
        let once = rt.block_on(async {
            let ev: GatewayEvent = serde_json::from_slice(&event).expect("event");
            serde_json::to_vec(&big.handle(ev, None).await).expect("reply")
        });
        eprintln!("reply {name}: {} bytes for a {}-byte body", once.len(), body.len());
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let ev: GatewayEvent = serde_json::from_slice(black_box(&event)).expect("event");
                serde_json::to_vec(&big.handle(ev, None).await).expect("reply")
            })
        });
    }
    group.finish();
}

criterion_group!(browser, benches);
criterion_main!(browser);
