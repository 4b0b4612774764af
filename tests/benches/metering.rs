//! Usage-plan metering: the pipeline's cost with an API key, throttle and quota, on the embedded store and on
//! DynamoDB (dynalite on loopback), against the same pipeline without metering in the same run; and what a
//! request costs in store operations, for one hot key, for many cold ones, and for the dashboard's daily
//! traffic rows alone (an unmetered route). `free_route_counted` against `free_route_without_store` is what
//! counting the dashboard's answers per day costs a request.

use std::{sync::Arc, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_core::{
    Gateway,
    admin::{Admin, NewKey, PlanInput},
    backends::Backends,
    clock::{Clock as _, ManualClock, SystemClock},
    config::Definition,
    store::{Store, embedded::EmbeddedStore},
    usage::{Period, Quota, Throttle},
};
use tollgate_tests::{
    dynalite::{self, Counting},
    get,
};

const DEFINITION: &str = r#"
stages: { prod: {} }
routes:
  GET /free: { integration: { type: mock } }
  GET /metered: { apiKeyRequired: true, integration: { type: mock } }
"#;

/// DynamoDB on-demand prices (us-east-1, per million request units), for the cost figure.
const WRITE_USD_PER_MILLION: f64 = 0.625;
const READ_USD_PER_MILLION: f64 = 0.125;

fn gateway(store: Arc<dyn Store>) -> Gateway {
    let definition = Definition::from_yaml(DEFINITION, Some("prod")).expect("definition");
    Gateway::new(&definition, &Backends { store: Some(store), ..Backends::default() }).expect("gateway")
}

/// A plan that never refuses in a benchmark (so every request does the full work), and `n` keys in it.
async fn keys(store: &dyn Store, n: usize) -> Vec<String> {
    let admin = Admin::new(store, SystemClock.now_ms());
    let plan = PlanInput {
        name: "bench".into(),
        stages: vec!["prod".into()],
        throttle: Some(Throttle { rate_limit: 1_000_000.0, burst_limit: 1_000_000 }),
        quota: Some(Quota { limit: 1_000_000_000, period: Period::Month, offset: 0 }),
        ..PlanInput::default()
    };
    let plan = admin.create_plan(plan).await.expect("plan");
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let new = NewKey { name: format!("k{i}"), enabled: true, plans: vec![plan.id.clone()], ..NewKey::default() };
        values.push(admin.create_key(new).await.expect("key").1);
    }
    values
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let embedded: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let server = dynalite::shared();
    let dynamo = rt.block_on(server.table());
    let table = dynamo.table().to_owned();
    let dynamo: Arc<dyn Store> = Arc::new(dynamo);
    let hot_embedded = rt.block_on(keys(embedded.as_ref(), 1)).remove(0);
    let hot_dynamo = rt.block_on(keys(dynamo.as_ref(), 1)).remove(0);
    let on_embedded = gateway(Arc::clone(&embedded));
    let on_dynamo = gateway(Arc::clone(&dynamo));
    // The same unmetered route with a store (answers counted for the dashboard) and without one (nothing to
    // count for): what the traffic stage costs a request.
    let free = Definition::from_yaml("routes:\n  GET /free: { integration: { type: mock } }\n", None).expect("free");
    let counted = Backends { store: Some(Arc::clone(&embedded)), ..Backends::default() };
    let counted = Gateway::new(&free, &counted).expect("gateway");
    let storeless = Gateway::new(&free, &Backends::default()).expect("gateway");

    let mut group = c.benchmark_group("metering");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("unmetered", |b| b.to_async(&rt).iter(|| on_embedded.handle_request(get("/free", &[]))));
    group.bench_function("free_route_counted", |b| b.to_async(&rt).iter(|| counted.handle_request(get("/free", &[]))));
    group.bench_function("free_route_without_store", |b| {
        b.to_async(&rt).iter(|| storeless.handle_request(get("/free", &[])))
    });
    group.bench_function("key_throttle_quota_embedded", |b| {
        b.to_async(&rt).iter(|| on_embedded.handle_request(get("/metered", &[("x-api-key", &hot_embedded)])))
    });
    group.bench_function("key_throttle_quota_dynalite", |b| {
        b.to_async(&rt).iter(|| on_dynamo.handle_request(get("/metered", &[("x-api-key", &hot_dynamo)])))
    });
    group.finish();

    // Store operations per 1,000 requests, on a fresh instance (cold caches), counted at the store.
    rt.block_on(async {
        let hot = Counting::new(server.client(&table).await);
        let gw = gateway(Arc::clone(&hot) as Arc<dyn Store>);
        for _ in 0..1_000 {
            assert_eq!(gw.handle_request(get("/metered", &[("x-api-key", &hot_dynamo)])).await.status, 200);
        }
        report("hot key (1 key, 1,000 requests)", hot.totals());

        let cold_values = keys(dynamo.as_ref(), 1_000).await;
        let cold = Counting::new(server.client(&table).await);
        let gw = gateway(Arc::clone(&cold) as Arc<dyn Store>);
        for value in &cold_values {
            assert_eq!(gw.handle_request(get("/metered", &[("x-api-key", value)])).await.status, 200);
        }
        report("cold keys (1,000 keys, 1 request each)", cold.totals());

        // The dashboard's traffic rows: an unmetered route at 10 requests a second per instance for 10 minutes
        // on a manual clock (the rows are written once a minute), reported per 1,000 requests.
        let traffic = Counting::new(server.client(&table).await);
        let clock = ManualClock::at(SystemClock.now_us());
        let definition = Definition::from_yaml(DEFINITION, Some("prod")).expect("definition");
        let backends = Backends {
            store: Some(Arc::clone(&traffic) as Arc<dyn Store>),
            clock: Some(Arc::new(clock.clone())),
            ..Backends::default()
        };
        let gw = Gateway::new(&definition, &backends).expect("gateway");
        for _ in 0..6_000 {
            assert_eq!(gw.handle_request(get("/free", &[])).await.status, 200);
            clock.advance_us(100_000);
        }
        let (reads, writes) = traffic.totals();
        let usd = (reads as f64 * READ_USD_PER_MILLION + writes as f64 * WRITE_USD_PER_MILLION) / 6_000.0;
        println!(
            "store operations per 6,000 requests over 10 minutes, unmetered route, traffic rows only (10 requests/s \
             per instance): {reads} reads, {writes} writes; ${usd:.4} per million requests"
        );
    });
}

fn report(what: &str, (reads, writes): (usize, usize)) {
    let usd = (reads as f64 * READ_USD_PER_MILLION + writes as f64 * WRITE_USD_PER_MILLION) / 1_000.0;
    println!(
        "store operations per 1,000 requests, {what}: {reads} reads, {writes} writes; ${usd:.3} per million requests"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
