//! The response cache: a hit from each tier against the same mock route without a cache, in the same run, and
//! what hits and misses cost in DynamoDB operations (counted on dynalite) and dollars, beside API Gateway's
//! hourly cache price for the same traffic.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_core::{
    Gateway,
    backends::Backends,
    config::Definition,
    store::{Store, embedded::EmbeddedStore},
};
use tollgate_tests::{
    dynalite::{self, Counting},
    get,
};

/// DynamoDB on-demand prices (us-east-1, per million request units); API Gateway's smallest cache (0.5 GB).
const WRITE_USD_PER_MILLION: f64 = 0.625;
const READ_USD_PER_MILLION: f64 = 0.125;
const APIGW_CACHE_USD_PER_HOUR: f64 = 0.02;

/// `instance_bytes` 0: every hit is read from the shared tier.
fn gateway(store: Arc<dyn Store>, caching: bool, instance_bytes: usize) -> Gateway {
    let cache = if caching {
        format!("    caching: {{ enabled: true, ttlSeconds: 300, instanceBytes: {instance_bytes} }}\n")
    } else {
        String::new()
    };
    let body = format!(
        "{{\"pets\":[{}]}}",
        (0..20).map(|i| format!("{{\"id\":{i},\"name\":\"pet {i}\"}}")).collect::<Vec<_>>().join(",")
    );
    let yaml = format!(
        "stages:\n  prod:\n{cache}routes:\n  GET /pets: {{ caching: {{ shared: true }}, integration: {{ type: mock, statusCode: 200, headers: {{ content-type: application/json }}, body: '{body}' }} }}\n"
    );
    let yaml = if caching { yaml } else { yaml.replace("caching: { shared: true }, ", "") };
    let definition = Definition::from_yaml(&yaml, Some("prod")).expect("definition");
    Gateway::new(&definition, &Backends { store: Some(store), ..Backends::default() }).expect("gateway")
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let embedded: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let dynamo = rt.block_on(async { Counting::new(dynalite::shared().table().await) });
    let request = get("/pets", &[]);
    let plain = gateway(Arc::clone(&embedded), false, 0);
    let instance = gateway(Arc::clone(&embedded), true, 1 << 20);
    let shared_embedded = gateway(Arc::clone(&embedded), true, 0);
    let shared_dynamo = gateway(Arc::clone(&dynamo) as Arc<dyn Store>, true, 0);
    // Fill each tier, then check that what is measured is a hit.
    for gw in [&instance, &shared_embedded, &shared_dynamo] {
        rt.block_on(gw.handle_request(request.clone()));
        let hit = rt.block_on(gw.handle_request(request.clone()));
        assert_eq!(hit.headers.get("x-cache").and_then(|v| v.to_str().ok()), Some("Hit"));
    }

    let mut group = c.benchmark_group("cache");
    group.bench_function("baseline-mock-no-cache", |b| b.to_async(&rt).iter(|| plain.handle_request(request.clone())));
    group.bench_function("hit-instance", |b| b.to_async(&rt).iter(|| instance.handle_request(request.clone())));
    group.bench_function("hit-shared-embedded", |b| {
        b.to_async(&rt).iter(|| shared_embedded.handle_request(request.clone()))
    });
    group.sample_size(20);
    group.bench_function("hit-shared-dynamodb", |b| {
        b.to_async(&rt).iter(|| shared_dynamo.handle_request(request.clone()))
    });
    group.finish();

    // Operations per hit and per miss, on a fresh stage's keys (each path a new key).
    let ops = |paths: Vec<String>, gw: &Gateway| {
        let before = dynamo.totals();
        rt.block_on(async {
            for p in &paths {
                gw.handle_request(get(p, &[])).await;
            }
        });
        let after = dynamo.totals();
        ((after.0 - before.0) as f64 / paths.len() as f64, (after.1 - before.1) as f64 / paths.len() as f64)
    };
    let counting = gateway_paths(Arc::clone(&dynamo) as Arc<dyn Store>);
    let paths: Vec<String> = (0..200).map(|i| format!("/items/{i}")).collect();
    let (miss_reads, miss_writes) = ops(paths.clone(), &counting);
    let (hit_reads, hit_writes) = ops(paths, &counting);
    eprintln!("store operations per miss: {miss_reads:.2} reads, {miss_writes:.2} writes");
    eprintln!("store operations per shared-tier hit: {hit_reads:.2} reads, {hit_writes:.2} writes");
    // Entries under 1 KB: a write is one unit; an eventually consistent read half a unit.
    let per_million =
        |reads: f64, writes: f64| (reads * 0.5 * READ_USD_PER_MILLION + writes * WRITE_USD_PER_MILLION) * 1.0;
    eprintln!(
        "USD per million: hits (shared tier) {:.3}, misses {:.3}, hits from an instance's memory 0",
        per_million(hit_reads, hit_writes),
        per_million(miss_reads, miss_writes)
    );
    // 100 requests/s for a month, 90% hits, every hit from the shared tier (the worst case).
    let month_requests = 100.0 * 3600.0 * 24.0 * 30.0 / 1e6;
    let tollgate =
        month_requests * (0.9 * per_million(hit_reads, hit_writes) + 0.1 * per_million(miss_reads, miss_writes));
    let apigw = APIGW_CACHE_USD_PER_HOUR * 24.0 * 30.0;
    eprintln!(
        "a month at 100 requests/s, 90% hits: Tollgate {tollgate:.2} USD (shared tier), API Gateway's 0.5 GB cache {apigw:.2} USD"
    );
}

/// A shared-tier-only cache on `GET /items/{id}`, for counting operations per key.
fn gateway_paths(store: Arc<dyn Store>) -> Gateway {
    let yaml = "stages:\n  count:\n    caching: { enabled: true, ttlSeconds: 300, instanceBytes: 0 }\nroutes:\n  GET /items/{id}: { caching: { shared: true }, integration: { type: mock, statusCode: 200, body: item } }\n";
    let definition = Definition::from_yaml(yaml, Some("count")).expect("definition");
    Gateway::new(&definition, &Backends { store: Some(store), ..Backends::default() }).expect("gateway")
}

criterion_group!(cache, benches);
criterion_main!(cache);
