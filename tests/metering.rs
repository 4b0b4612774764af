//! API keys, usage plans, throttles and quotas through the gateway pipeline: API Gateway's answers, exactness
//! across many instances sharing one DynamoDB (dynalite), and store outages.

use std::sync::Arc;

use tollgate_core::{
    Gateway,
    admin::{Admin, KeyPatch, NewKey, PlanInput},
    backends::Backends,
    clock::{MICROS_PER_SEC, ManualClock},
    config::Definition,
    request::GatewayResponse,
    store::{Kind, Store, embedded::EmbeddedStore},
    usage::{FailMode, KeyHash, Period, Plan, Quota, Throttle},
};
use tollgate_tests::{
    dynalite::{self, Counting, Dynalite},
    get, header, join_all,
};

/// API keys and usage plans come from REST APIs: this API answers as one (the HTTP type's words are in
/// `api_types.rs`).
const DEFINITION: &str = r#"
type: REST
stages:
  prod: {}
  dev: {}
routes:
  GET /free:
    integration: { type: mock, body: "free" }
  GET /metered:
    apiKeyRequired: true
    integration: { type: mock, body: "metered" }
"#;

/// 2026-11-23 10:00:00 UTC.
const T0: i64 = 1_795_428_000 * MICROS_PER_SEC;

fn gateway(definition: &str, stage: &str, store: Arc<dyn Store>, clock: &ManualClock) -> Gateway {
    let definition = Definition::from_yaml(definition, Some(stage)).expect("definition");
    let backends = Backends { store: Some(store), clock: Some(Arc::new(clock.clone())), ..Backends::default() };
    Gateway::new(&definition, &backends).expect("gateway")
}

async fn call(gw: &Gateway, path: &str, key: Option<&str>) -> GatewayResponse {
    let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
    gw.handle_request(get(path, &headers)).await
}

fn message(r: &GatewayResponse) -> String {
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON error body");
    body["message"].as_str().expect("message").to_owned()
}

async fn plan(store: &dyn Store, input: PlanInput) -> Plan {
    Admin::new(store, T0 / 1_000).create_plan(input).await.expect("plan")
}

async fn key(store: &dyn Store, plans: &[&str]) -> (String, String) {
    let new = NewKey {
        name: "caller".into(),
        enabled: true,
        plans: plans.iter().map(|p| (*p).to_owned()).collect(),
        ..NewKey::default()
    };
    let (key, value) = Admin::new(store, T0 / 1_000).create_key(new).await.expect("key");
    (key.id, value)
}

#[tokio::test]
async fn keys_are_checked_as_api_gateway_does() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let clock = ManualClock::at(T0);
    let gold =
        plan(store.as_ref(), PlanInput { name: "gold".into(), stages: vec!["prod".into()], ..PlanInput::default() })
            .await;
    let dev_only =
        plan(store.as_ref(), PlanInput { name: "dev".into(), stages: vec!["dev".into()], ..PlanInput::default() })
            .await;
    let (id, value) = key(store.as_ref(), &[&gold.id]).await;
    let (_, dev_value) = key(store.as_ref(), &[&dev_only.id]).await;
    let (_, no_plan_value) = key(store.as_ref(), &[]).await;
    let gw = gateway(DEFINITION, "prod", Arc::clone(&store), &clock);

    assert_eq!(call(&gw, "/free", None).await.status, 200, "routes without apiKeyRequired ignore keys");
    for (presented, why) in [
        (None, "missing"),
        (Some("not-a-real-key-value-at-all-xxxxxxxxxxxx"), "unknown"),
        (Some(dev_value.as_str()), "plan for another stage"),
        (Some(no_plan_value.as_str()), "no plan"),
        (Some(""), "empty"),
    ] {
        let r = call(&gw, "/metered", presented).await;
        assert_eq!((r.status.as_u16(), message(&r).as_str()), (403, "Forbidden"), "{why}");
        assert_eq!(header(&r, "x-amzn-errortype"), "ForbiddenException");
    }
    let ok = call(&gw, "/metered", Some(&value)).await;
    assert_eq!((ok.status.as_u16(), &ok.body[..]), (200, &b"metered"[..]));

    // Disabling takes effect once the instance's cached record ages out (apiKeys.cacheSeconds, 10 s).
    let admin = Admin::new(store.as_ref(), T0 / 1_000);
    admin.update_key(&id, KeyPatch { enabled: Some(false), ..KeyPatch::default() }).await.expect("disable");
    assert_eq!(call(&gw, "/metered", Some(&value)).await.status, 200, "cached for up to 10 s");
    clock.advance_us(10 * MICROS_PER_SEC);
    assert_eq!(call(&gw, "/metered", Some(&value)).await.status, 403);

    // Expiry.
    let expiring = NewKey {
        name: "temp".into(),
        enabled: true,
        plans: vec![gold.id.clone()],
        expires_at_ms: Some(T0 / 1_000 + 60_000),
        ..NewKey::default()
    };
    let (_, temp) = admin.create_key(expiring).await.expect("key");
    assert_eq!(call(&gw, "/metered", Some(&temp)).await.status, 200);
    clock.advance_us(61 * MICROS_PER_SEC);
    assert_eq!(call(&gw, "/metered", Some(&temp)).await.status, 403);
}

#[tokio::test]
async fn rolled_values_work_through_their_grace_period_only() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let clock = ManualClock::at(T0);
    let gold =
        plan(store.as_ref(), PlanInput { name: "gold".into(), stages: vec!["prod".into()], ..PlanInput::default() })
            .await;
    let (id, old) = key(store.as_ref(), &[&gold.id]).await;
    let gw = gateway(DEFINITION, "prod", Arc::clone(&store), &clock);
    let (_, new) = Admin::new(store.as_ref(), T0 / 1_000).roll_key(&id, 30, None).await.expect("roll");
    assert_eq!(call(&gw, "/metered", Some(&old)).await.status, 200);
    assert_eq!(call(&gw, "/metered", Some(&new)).await.status, 200);
    clock.advance_us(31 * MICROS_PER_SEC);
    assert_eq!(call(&gw, "/metered", Some(&old)).await.status, 403);
    assert_eq!(call(&gw, "/metered", Some(&new)).await.status, 200);
}

#[tokio::test]
async fn quota_and_throttle_refusals_carry_api_gateway_bodies_and_rate_limit_headers() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let clock = ManualClock::at(T0);
    let daily = PlanInput {
        name: "daily".into(),
        stages: vec!["prod".into()],
        quota: Some(Quota { limit: 3, period: Period::Day, offset: 0 }),
        ..PlanInput::default()
    };
    let daily = plan(store.as_ref(), daily).await;
    let (id, value) = key(store.as_ref(), &[&daily.id]).await;
    let gw = gateway(DEFINITION, "prod", Arc::clone(&store), &clock);
    let first = call(&gw, "/metered", Some(&value)).await;
    assert_eq!(first.status, 200);
    assert_eq!(header(&first, "ratelimit-limit"), "3");
    assert_eq!(header(&first, "ratelimit-remaining"), "2");
    assert_eq!(header(&first, "ratelimit-reset"), (14 * 3_600).to_string(), "until UTC midnight");
    for _ in 0..2 {
        assert_eq!(call(&gw, "/metered", Some(&value)).await.status, 200);
    }
    let spent = call(&gw, "/metered", Some(&value)).await;
    assert_eq!((spent.status.as_u16(), message(&spent).as_str()), (429, "Limit Exceeded"));
    assert_eq!(header(&spent, "x-amzn-errortype"), "LimitExceededException");
    assert_eq!(header(&spent, "retry-after"), "50400");
    assert_eq!(header(&spent, "ratelimit-remaining"), "0");

    // An extra grant opens it again, the next day resets it.
    Admin::new(store.as_ref(), T0 / 1_000).grant(&daily.id, &id, 1).await.expect("grant");
    assert_eq!(call(&gw, "/metered", Some(&value)).await.status, 200);
    assert_eq!(call(&gw, "/metered", Some(&value)).await.status, 429);
    clock.advance_us(14 * 3_600 * MICROS_PER_SEC);
    assert_eq!(call(&gw, "/metered", Some(&value)).await.status, 200, "a new UTC day, a new quota");

    // Usage as API Gateway's GetUsage reports it.
    let day = |s: &str| s.parse::<chrono::NaiveDate>().expect("date");
    let report = Admin::new(store.as_ref(), T0 / 1_000)
        .usage(&daily.id, day("2026-11-23"), day("2026-11-24"), None)
        .await
        .expect("usage");
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["values"][&id], serde_json::json!([[4, 0], [1, 2]]));

    // Throttle: 1 request/s, burst 2.
    let slow = PlanInput {
        name: "slow".into(),
        stages: vec!["dev".into()],
        throttle: Some(Throttle { rate_limit: 1.0, burst_limit: 2 }),
        ..PlanInput::default()
    };
    let slow = plan(store.as_ref(), slow).await;
    let (_, slow_value) = key(store.as_ref(), &[&slow.id]).await;
    let dev = gateway(DEFINITION, "dev", Arc::clone(&store), &clock);
    assert_eq!(call(&dev, "/metered", Some(&slow_value)).await.status, 200);
    assert_eq!(call(&dev, "/metered", Some(&slow_value)).await.status, 200);
    let throttled = call(&dev, "/metered", Some(&slow_value)).await;
    assert_eq!((throttled.status.as_u16(), message(&throttled).as_str()), (429, "Too Many Requests"));
    assert_eq!(header(&throttled, "x-amzn-errortype"), "TooManyRequestsException");
    assert_eq!(header(&throttled, "retry-after"), "1");
    assert_eq!(header(&throttled, "ratelimit-limit"), "2");
    clock.advance_us(MICROS_PER_SEC);
    assert_eq!(call(&dev, "/metered", Some(&slow_value)).await.status, 200);
}

#[tokio::test]
async fn route_and_stage_throttles_apply_to_every_caller() {
    let definition = r#"
stages:
  prod:
    throttle: { rateLimit: 100, burstLimit: 3 }
routes:
  GET /a:
    throttle: { rateLimit: 1, burstLimit: 1 }
    integration: { type: mock }
  GET /b:
    integration: { type: mock }
"#;
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let clock = ManualClock::at(T0);
    let gw = gateway(definition, "prod", store, &clock);
    assert_eq!(call(&gw, "/a", None).await.status, 200);
    assert_eq!(call(&gw, "/a", None).await.status, 429, "route limit: burst 1");
    assert_eq!(call(&gw, "/b", None).await.status, 200);
    assert_eq!(call(&gw, "/b", None).await.status, 200);
    assert_eq!(call(&gw, "/b", None).await.status, 429, "stage limit: burst 3 over all routes");
}

/// `n` router instances with their own pipelines and memory, each with its own client to one dynalite table.
async fn instances(
    server: &Dynalite,
    n: usize,
    definition: &str,
    clock: &ManualClock,
) -> (Arc<dyn Store>, Vec<Gateway>, Vec<Arc<Counting<tollgate_core::store::dynamo::DynamoStore>>>) {
    let admin_store = server.table().await;
    let table = admin_store.table().to_owned();
    let mut gateways = Vec::new();
    let mut counters = Vec::new();
    for _ in 0..n {
        let counted = Counting::new(server.client(&table).await);
        counters.push(Arc::clone(&counted));
        gateways.push(gateway(definition, "prod", counted, clock));
    }
    (Arc::new(admin_store), gateways, counters)
}

fn ops(counters: &[Arc<Counting<tollgate_core::store::dynamo::DynamoStore>>]) -> (usize, usize) {
    counters.iter().map(|c| c.totals()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Sends `per_instance` concurrent requests to every instance at once; returns how many were admitted.
async fn round(gateways: &[Gateway], per_instance: usize, value: &str) -> usize {
    let calls = gateways.iter().flat_map(|gw| (0..per_instance).map(move |_| call(gw, "/metered", Some(value))));
    join_all(calls).await.iter().filter(|r| r.status == 200).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_is_exact_across_eight_instances() {
    let server = dynalite::shared();
    let clock = ManualClock::at(T0);
    let (store, gateways, counters) = instances(server, 8, DEFINITION, &clock).await;
    let limit = 500;
    let input = PlanInput {
        name: "q".into(),
        stages: vec!["prod".into()],
        quota: Some(Quota { limit, period: Period::Day, offset: 0 }),
        ..PlanInput::default()
    };
    let p = plan(store.as_ref(), input).await;
    let (_, value) = key(store.as_ref(), &[&p.id]).await;
    let mut admitted = 0;
    let mut rounds = 0;
    // Offer far more than the quota until every instance refuses in the same round (bounded).
    while rounds < 200 {
        rounds += 1;
        let got = round(&gateways, 4, &value).await;
        admitted += got;
        if got == 0 {
            break;
        }
    }
    assert_eq!(admitted, usize::try_from(limit).expect("fits"), "exactly the quota, no overshoot, none lost");
    let (reads, writes) = ops(&counters);
    eprintln!("quota across 8 instances: {admitted} admitted in {rounds} rounds; {reads} reads, {writes} writes");
    assert!(writes * 2 < admitted, "far fewer writes than requests: {writes} for {admitted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_is_exact_across_eight_instances() {
    let server = dynalite::shared();
    let clock = ManualClock::at(T0);
    let (store, gateways, counters) = instances(server, 8, DEFINITION, &clock).await;
    let (rate, burst) = (50.0, 100);
    let input = PlanInput {
        name: "t".into(),
        stages: vec!["prod".into()],
        throttle: Some(Throttle { rate_limit: rate, burst_limit: burst }),
        ..PlanInput::default()
    };
    let p = plan(store.as_ref(), input).await;
    let (_, value) = key(store.as_ref(), &[&p.id]).await;
    // 10 s in 10 ms steps; 16 requests per step is 1,600 requests/s offered against 50/s.
    let step_us = 10_000;
    let steps = 1_000;
    let mut per_step = Vec::with_capacity(steps);
    for _ in 0..steps {
        per_step.push(round(&gateways, 2, &value).await);
        clock.advance_us(step_us);
    }
    // A token bucket's promise, checked over every window: at most burst + rate * width (integer µs, so
    // float rounding cannot hide or invent a violation).
    let rate_per_s = 50_i64;
    for i in 0..steps {
        let mut sum = 0_i64;
        for (j, n) in per_step.iter().enumerate().skip(i) {
            sum += i64::try_from(*n).expect("fits");
            let width_us = i64::try_from(j - i).expect("fits") * step_us;
            let allowance_e6 = i64::from(burst) * MICROS_PER_SEC + rate_per_s * width_us;
            assert!(
                sum * MICROS_PER_SEC <= allowance_e6,
                "steps {i}..={j}: {sum} admitted, allowance {}",
                allowance_e6 as f64 / 1e6
            );
        }
    }
    let total: usize = per_step.iter().sum();
    let allowance = f64::from(burst) + rate * ((steps - 1) as f64) * (step_us as f64) / 1e6;
    let under = 1.0 - total as f64 / allowance.floor();
    let (reads, writes) = ops(&counters);
    eprintln!(
        "throttle across 8 instances: {total} admitted of {allowance} allowed (under-admission {:.2}%); {reads} reads, {writes} writes",
        under * 100.0
    );
    assert!(under <= 0.01, "under-admission {under}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_fails_open_or_closed_as_each_plan_chooses() {
    let mut server = Dynalite::start();
    let port = server.port;
    let clock = ManualClock::at(T0);
    let store = Arc::new(server.table().await);
    let table = store.table().to_owned();
    let open = PlanInput {
        id: Some("open".into()),
        name: "open".into(),
        stages: vec!["prod".into()],
        quota: Some(Quota { limit: 1_000, period: Period::Day, offset: 0 }),
        on_store_error: FailMode::Open,
        ..PlanInput::default()
    };
    let closed = PlanInput {
        id: Some("closed".into()),
        name: "closed".into(),
        on_store_error: FailMode::Closed,
        stages: vec!["dev".into()],
        ..open.clone()
    };
    plan(store.as_ref(), open).await;
    plan(store.as_ref(), closed).await;
    let (open_key, open_value) = key(store.as_ref(), &["open"]).await;
    let (_, closed_value) = key(store.as_ref(), &["closed"]).await;
    let prod = gateway(DEFINITION, "prod", Arc::new(server.client(&table).await), &clock);
    let dev = gateway(DEFINITION, "dev", Arc::new(server.client(&table).await), &clock);
    assert_eq!(call(&prod, "/metered", Some(&open_value)).await.status, 200);
    assert_eq!(call(&dev, "/metered", Some(&closed_value)).await.status, 200);

    // What a restore from backup would bring back: the records, not the counters.
    let key_doc = store.get_record(Kind::Key, &open_key).await.expect("read").expect("key");
    let plan_doc = store.get_record(Kind::Plan, "open").await.expect("read").expect("plan");
    server.stop();
    // Blocks in hand go stale after 10 s; then every request needs the store.
    clock.advance_us(11 * MICROS_PER_SEC);
    for _ in 0..5 {
        assert_eq!(call(&prod, "/metered", Some(&open_value)).await.status, 200, "fails open: served");
        let refused = call(&dev, "/metered", Some(&closed_value)).await;
        assert_eq!(
            (refused.status.as_u16(), message(&refused).as_str()),
            (500, "Internal server error"),
            "fails closed"
        );
    }

    // The store comes back (empty: dynalite keeps nothing); the requests served meanwhile are charged.
    let restarted = Dynalite::start_on(Some(port));
    let back = Arc::new(restarted.client(&table).await);
    back.create_table().await.expect("table again");
    back.put_record(Kind::Key, &open_key, &key_doc, 1, None).await.expect("restore key");
    back.put_record(Kind::Plan, "open", &plan_doc, 1, None).await.expect("restore plan");
    back.insert_key_value(&KeyHash::of(&open_value), &open_key).await.expect("restore value");
    assert_eq!(call(&prod, "/metered", Some(&open_value)).await.status, 200, "cached key, store answering");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("day");
    let records = back.quota_records("open", &open_key, day, day).await.expect("records");
    let used: i64 = records.iter().flat_map(|r| r.used_by_day.values()).sum();
    assert!(used >= 6, "5 served while down, plus the one that settled them: {used}");
}
