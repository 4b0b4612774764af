//! The response cache through the gateway, on the test clock: hits, misses, TTLs and stale-while-revalidate;
//! callers kept apart; what is never stored; refreshes under each setting; flushes by stage and tag; one
//! backend call for concurrent misses; a shared tier that fails or lies; and eight instances sharing DynamoDB
//! (dynalite), with the backend's calls and the store's operations counted.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};
use tollgate_core::{
    Gateway,
    admin::{Admin, NewKey, PlanInput},
    backends::Backends,
    clients::{InvokeFuture, InvokeOutput, Invoker},
    clock::{Clock as _, MICROS_PER_SEC, ManualClock},
    config::Definition,
    request::GatewayResponse,
    store::{Store, StoreFuture, cache::CacheStore, embedded::EmbeddedStore},
};
use tollgate_tests::{dynalite, get, header, test_clock};

/// The backend: a Lambda function run in process that counts its calls, and the authorizer. The query string
/// shapes its answer: `tags=a,b`, `cookie=1`, `private=1`, `status=500`, `big=1`. With a gate, each call waits
/// for a permit (and says it started), so a test can hold a call in flight.
#[derive(Default)]
struct Backend {
    calls: AtomicUsize,
    gate: Option<(Semaphore, Notify)>,
}

impl Backend {
    fn gated() -> Arc<Self> {
        Arc::new(Self { calls: AtomicUsize::new(0), gate: Some((Semaphore::new(0), Notify::new())) })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Invoker for Backend {
    fn invoke<'a>(&'a self, function: &'a str, payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async move {
            let event: Value = serde_json::from_slice(&payload).unwrap_or_default();
            let reply = if function == "auth" {
                let user = event["headers"]["x-user"].as_str().unwrap_or("nobody").to_owned();
                json!({
                    "principalId": user,
                    "policyDocument": { "Version": "2012-10-17", "Statement": [
                        { "Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*" }] },
                    "context": { "invalidateCache": user == "admin" },
                })
            } else {
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                if let Some((permits, started)) = &self.gate {
                    started.notify_one();
                    permits.acquire().await.expect("gate").forget();
                }
                let query = event["rawQueryString"].as_str().unwrap_or("");
                let has = |p: &str| query.split('&').any(|kv| kv == p);
                let mut headers = json!({ "content-type": "application/json" });
                if let Some(tags) = query.split('&').find_map(|kv| kv.strip_prefix("tags=")) {
                    headers["x-tollgate-cache-tags"] = tags.replace("%2C", ",").into();
                }
                if has("cookie=1") {
                    headers["set-cookie"] = "session=1".into();
                }
                if has("private=1") {
                    headers["cache-control"] = "private, max-age=60".into();
                }
                let status = if has("status=500") { 500 } else { 200 };
                let body = if has("big=1") { "x".repeat(5000) } else { json!({ "call": n }).to_string() };
                json!({ "statusCode": status, "headers": headers, "body": body })
            };
            Ok(InvokeOutput { payload: reply.to_string().into_bytes(), function_error: None })
        })
    }
}

fn definition(strategy: &str) -> String {
    format!(
        r#"
stages:
  test:
    caching:
      enabled: true
      ttlSeconds: 60
      staleWhileRevalidateSeconds: 30
      maxEntryBytes: 4096
      instanceBytes: 1048576
      unauthorizedCacheControl: {strategy}
authorizers:
  users: {{ type: lambda, function: auth, identitySources: ["$request.header.x-user"], resultTtlSeconds: 0 }}
routes:
  GET /pets/{{id}}:
    authorizer: users
    caching: {{ keyQueryStrings: [lang] }}
    integration: {{ type: lambda, function: pets }}
  POST /pets/{{id}}:
    authorizer: users
    integration: {{ type: lambda, function: pets }}
  GET /public/{{id}}:
    caching: {{ shared: true }}
    integration: {{ type: lambda, function: pets }}
  GET /keyed/{{id}}:
    apiKeyRequired: true
    integration: {{ type: lambda, function: pets }}
  GET /fresh:
    caching: {{ enabled: false }}
    integration: {{ type: lambda, function: pets }}
"#
    )
}

struct Rig {
    gateway: Gateway,
    backend: Arc<Backend>,
    clock: ManualClock,
    store: Arc<dyn Store>,
}

impl Rig {
    fn new(strategy: &str, backend: Arc<Backend>, store: Arc<dyn Store>, clock: ManualClock) -> Self {
        let definition = Definition::from_yaml(&definition(strategy), Some("test")).expect("definition");
        let backends = Backends {
            lambda: Some(Arc::clone(&backend) as Arc<dyn Invoker>),
            store: Some(Arc::clone(&store)),
            clock: Some(Arc::new(clock.clone())),
            ..Backends::default()
        };
        Self { gateway: Gateway::new(&definition, &backends).expect("gateway"), backend, clock, store }
    }

    fn embedded(strategy: &str) -> Self {
        Self::new(strategy, Arc::new(Backend::default()), Arc::new(EmbeddedStore::in_memory()), test_clock())
    }

    async fn send(&self, method: http::Method, path: &str, headers: &[(&str, &str)]) -> GatewayResponse {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut request = get(path, headers);
        request.method = method;
        request.raw_query = query.to_owned();
        request.time_epoch_ms = self.clock.now_ms();
        self.gateway.handle_request(request).await
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> GatewayResponse {
        self.send(http::Method::GET, path, headers).await
    }

    fn advance(&self, secs: i64) {
        self.clock.advance_us(secs * MICROS_PER_SEC);
    }
}

/// (status, X-Cache, the backend call that made the body).
fn seen(r: &GatewayResponse) -> (u16, String, i64) {
    let call = serde_json::from_slice::<Value>(&r.body).ok().and_then(|b| b["call"].as_i64()).unwrap_or(-1);
    (r.status.as_u16(), header(r, "x-cache").to_owned(), call)
}

const ANN: [(&str, &str); 1] = [("x-user", "ann")];

#[tokio::test]
async fn hits_misses_ttl_and_stale_while_revalidate() {
    let rig = Rig::embedded("IGNORE");
    let first = rig.get("/pets/1", &ANN).await;
    assert_eq!(seen(&first), (200, "Miss".into(), 1));
    let hit = rig.get("/pets/1", &ANN).await;
    assert_eq!((seen(&hit), header(&hit, "age")), ((200, "Hit".into(), 1), "0"));
    rig.advance(59);
    assert_eq!(header(&rig.get("/pets/1", &ANN).await, "age"), "59");
    // Named query strings are part of the key; others are not.
    assert_eq!(seen(&rig.get("/pets/1?lang=fr", &ANN).await), (200, "Miss".into(), 2));
    assert_eq!(seen(&rig.get("/pets/1?lang=fr&x=1", &ANN).await), (200, "Hit".into(), 2));
    // Past the TTL, within stale-while-revalidate: this one request refreshes (nobody else is waiting).
    rig.advance(2);
    assert_eq!(seen(&rig.get("/pets/1", &ANN).await), (200, "Miss".into(), 3));
    assert_eq!(seen(&rig.get("/pets/1", &ANN).await), (200, "Hit".into(), 3));
    // Past both: gone.
    rig.advance(95);
    assert_eq!(seen(&rig.get("/pets/1", &ANN).await), (200, "Miss".into(), 4));
    // Not cached: another method, a route that opts out.
    assert_eq!(seen(&rig.send(http::Method::POST, "/pets/1", &ANN).await), (200, "Bypass".into(), 5));
    assert_eq!(seen(&rig.get("/fresh", &[]).await), (200, "Bypass".into(), 6));
    assert_eq!(seen(&rig.get("/fresh", &[]).await), (200, "Bypass".into(), 7));
}

#[tokio::test]
async fn callers_never_see_each_others_entries_unless_the_route_is_shared() {
    let rig = Rig::embedded("IGNORE");
    assert_eq!(seen(&rig.get("/pets/1", &ANN).await).2, 1);
    assert_eq!(seen(&rig.get("/pets/1", &[("x-user", "bob")]).await), (200, "Miss".into(), 2));
    // A header a client controls cannot pose as another caller.
    assert_eq!(seen(&rig.get("/pets/1", &[("x-user", "bob"), ("x-api-key", "ann")]).await).2, 2);
    let admin = Admin::new(rig.store.as_ref(), rig.clock.now_ms());
    let plan = PlanInput { name: "p".into(), stages: vec!["test".into()], ..Default::default() };
    let plan = admin.create_plan(plan).await.expect("plan");
    let key =
        |name: &str| NewKey { name: name.into(), enabled: true, plans: vec![plan.id.clone()], ..Default::default() };
    let (_, one) = admin.create_key(key("one")).await.expect("key");
    let (_, two) = admin.create_key(key("two")).await.expect("key");
    assert_eq!(seen(&rig.get("/keyed/1", &[("x-api-key", &one)]).await), (200, "Miss".into(), 3));
    assert_eq!(seen(&rig.get("/keyed/1", &[("x-api-key", &two)]).await), (200, "Miss".into(), 4));
    assert_eq!(seen(&rig.get("/keyed/1", &[("x-api-key", &one)]).await), (200, "Hit".into(), 3));
    // A refused caller never reads the cache.
    assert_eq!(rig.get("/keyed/1", &[]).await.status, 403);
    // Shared: one entry for everyone.
    assert_eq!(seen(&rig.get("/public/1", &ANN).await), (200, "Miss".into(), 5));
    assert_eq!(seen(&rig.get("/public/1", &[]).await), (200, "Hit".into(), 5));
}

#[tokio::test]
async fn private_failed_and_large_answers_are_never_stored() {
    let rig = Rig::embedded("IGNORE");
    for (query, status) in [("cookie=1", 200), ("private=1", 200), ("status=500", 500), ("big=1", 200)] {
        let path = format!("/public/1?{query}");
        let before = rig.backend.calls();
        assert_eq!(rig.get(&path, &[]).await.status.as_u16(), status, "{query}");
        assert_eq!(rig.get(&path, &[]).await.status.as_u16(), status, "{query}");
        assert_eq!(rig.backend.calls(), before + 2, "{query} was stored");
    }
}

#[tokio::test]
async fn refreshing_needs_authorization_under_each_setting() {
    let refresh = |user: &'static str| [("x-user", user), ("cache-control", "max-age=0")];
    for (strategy, ann_status, warning) in
        [("FAIL_WITH_403", 403, false), ("IGNORE_WITH_WARNING", 200, true), ("IGNORE", 200, false)]
    {
        let rig = Rig::embedded(strategy);
        assert_eq!(seen(&rig.get("/pets/1", &[("x-user", "admin")]).await).2, 1);
        // The admin (its authorizer says invalidateCache) refreshes its entry.
        assert_eq!(seen(&rig.get("/pets/1", &refresh("admin")).await), (200, "Miss".into(), 2), "{strategy}");
        assert_eq!(seen(&rig.get("/pets/1", &[("x-user", "admin")]).await), (200, "Hit".into(), 2));
        // Ann may not: refused, or served from the cache (with a warning where set).
        assert_eq!(seen(&rig.get("/pets/1", &ANN).await).2, 3);
        let r = rig.get("/pets/1", &refresh("ann")).await;
        assert_eq!(r.status.as_u16(), ann_status, "{strategy}");
        if ann_status == 200 {
            assert_eq!(seen(&r), (200, "Hit".into(), 3), "{strategy}");
        }
        assert_eq!(header(&r, "warning").contains("Cache-Control ignored"), warning, "{strategy}");
    }
}

#[tokio::test]
async fn flushes_by_stage_and_by_tag_reach_every_instance_within_a_second() {
    let rig = Rig::embedded("IGNORE");
    assert_eq!(seen(&rig.get("/public/1?tags=pets", &[]).await).2, 1);
    assert_eq!(seen(&rig.get("/public/2?tags=owners", &[]).await).2, 2);
    assert_eq!(seen(&rig.get("/public/1?tags=pets", &[]).await).2, 1);
    assert_eq!(header(&rig.get("/public/1?tags=pets", &[]).await, "x-tollgate-cache-tags"), "", "tags stay inside");
    rig.store.flush("test", Some("pets")).await.expect("flush a tag");
    rig.advance(1);
    assert_eq!(seen(&rig.get("/public/1?tags=pets", &[]).await), (200, "Miss".into(), 3));
    assert_eq!(seen(&rig.get("/public/2?tags=owners", &[]).await), (200, "Hit".into(), 2));
    // Through the admin API, as the meter function serves it.
    let mut flush = get("/stages/test/cache/flush", &[]);
    flush.method = http::Method::POST;
    let answer =
        tollgate_core::admin::api::AdminApi::new().handle(rig.store.as_ref(), &flush, rig.clock.now_ms()).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    rig.advance(1);
    assert_eq!(seen(&rig.get("/public/2?tags=owners", &[]).await), (200, "Miss".into(), 4));
    assert_eq!(seen(&rig.get("/public/1?tags=pets", &[]).await), (200, "Miss".into(), 5));
}

#[tokio::test]
async fn concurrent_misses_make_one_call_and_a_stale_entry_is_served_while_one_request_refreshes() {
    let rig = Rig::new("IGNORE", Backend::gated(), Arc::new(EmbeddedStore::in_memory()), test_clock());
    let (permits, started) = rig.backend.gate.as_ref().expect("gated");
    let requests = tollgate_tests::join_all((0..5).map(|_| rig.get("/public/1", &[])));
    let release = async {
        started.notified().await;
        permits.add_permits(1);
    };
    let (answers, ()) = tokio::join!(requests, release);
    assert_eq!(rig.backend.calls(), 1, "one call for five concurrent misses");
    assert!(answers.iter().all(|r| seen(r).2 == 1));
    // Stale: the first request refreshes (held at the gate) while the next is answered from the stale entry.
    rig.advance(70);
    let refreshing = rig.get("/public/1", &[]);
    let meanwhile = async {
        started.notified().await;
        let stale = rig.get("/public/1", &[]).await;
        permits.add_permits(1);
        stale
    };
    let (refreshed, stale) = tokio::join!(refreshing, meanwhile);
    assert_eq!(seen(&stale), (200, "Hit".into(), 1));
    assert!(header(&stale, "warning").contains("110"), "the stale answer says so");
    assert_eq!(seen(&refreshed), (200, "Miss".into(), 2));
    assert_eq!(seen(&rig.get("/public/1", &[]).await), (200, "Hit".into(), 2));
}

/// A shared tier that never answers, or answers garbage.
struct Broken {
    hang: bool,
    deleted: AtomicUsize,
}

impl CacheStore for Broken {
    fn get_entry<'a>(&'a self, _key: &'a str, _now_ms: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            if self.hang {
                std::future::pending::<()>().await;
            }
            Ok(Some(b"\x00\x00\x00\x05garbage".to_vec()))
        })
    }
    fn put_entry<'a>(&'a self, _key: &'a str, _entry: &'a [u8], _expires: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if self.hang {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
    fn delete_entry<'a>(&'a self, _key: &'a str) -> StoreFuture<'a, ()> {
        self.deleted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
    fn generations<'a>(&'a self, _stage: &'a str) -> StoreFuture<'a, tollgate_core::store::cache::Generations> {
        Box::pin(async move {
            if self.hang {
                std::future::pending::<()>().await;
            }
            Ok(Default::default())
        })
    }
    fn flush<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
    ) -> StoreFuture<'a, tollgate_core::store::cache::Generations> {
        Box::pin(async { Ok(Default::default()) })
    }
}

// Paused time: the shared tier's timeout passes as soon as nothing else can run, without waiting for it.
#[tokio::test(start_paused = true)]
async fn a_shared_tier_that_hangs_or_lies_is_a_miss_never_an_error() {
    use tollgate_core::cache::{Lookup, ResponseCache};
    let settings = tollgate_core::config::caching::StageCache::compile(
        &serde_yaml_ng::from_str("enabled: true").expect("settings"),
    )
    .expect("settings");
    for hang in [true, false] {
        let broken = Arc::new(Broken { hang, deleted: AtomicUsize::new(0) });
        let clock = Arc::new(test_clock());
        let cache =
            ResponseCache::new("test", settings.clone(), Some(Arc::clone(&broken) as Arc<dyn CacheStore>), clock);
        let (found, _) = cache.lookup("some-key").await;
        assert!(matches!(found, Lookup::Miss), "hang={hang}");
        assert_eq!(broken.deleted.load(Ordering::SeqCst), usize::from(!hang), "a corrupt entry is deleted");
        // Storing into a tier that hangs gives up, and the instance still has it.
        cache.store("some-key", tollgate_core::cache::Entry::default(), Duration::from_secs(60), vec![]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_instances_on_dynamodb_call_the_backend_once_per_key_per_ttl() {
    let table = dynalite::shared().table().await;
    let counting = dynalite::Counting::new(table);
    let backend = Arc::new(Backend::default());
    let clock = test_clock();
    let rigs: Vec<Rig> = (0..8)
        .map(|_| Rig::new("IGNORE", Arc::clone(&backend), Arc::clone(&counting) as Arc<dyn Store>, clock.clone()))
        .collect();
    let keys = 20;
    for round in 0..2 {
        for i in 0..keys {
            for rig in &rigs {
                let r = rig.get(&format!("/public/{i}"), &[]).await;
                assert_eq!(r.status, 200);
            }
        }
        assert_eq!(backend.calls(), keys * (round + 1), "round {round}");
        // Past TTL and stale-while-revalidate: every key is fetched once more, by one instance.
        clock.advance_us(100 * MICROS_PER_SEC);
    }
    let (reads, writes) = counting.totals();
    eprintln!("8 instances, {keys} keys, 2 rounds: {reads} store reads, {writes} writes for {} requests", 2 * keys * 8);
    // Per request at most: a shared read (instance misses) and the generations re-read each second.
    let traffic = counting.traffic_writes.load(Ordering::SeqCst);
    assert!(writes - traffic <= 2 * keys, "one write per stored entry: {writes}, {traffic} of them traffic rows");
    // Each instance adds its answers per day to the store once the clock passed a minute, never per request.
    assert!(traffic <= rigs.len(), "traffic rows: {traffic}");
}

/// `tollgate serve` over real sockets: the echo function as a real process behind a cached route (its answer,
/// the event it received, names the request, so a fresh answer differs from a cached one), and
/// `tollgate cache flush` from the CLI's own code, on the server's store file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_caches_over_real_sockets_and_the_cli_flushes_it() {
    use tollgate::{admin::CacheCommand, store::StoreArgs};
    use tollgate_tests::client::Reply;
    let yaml = format!(
        r#"
stages:
  test: {{ caching: {{ enabled: true, ttlSeconds: 300 }} }}
routes:
  GET /pets/{{id}}:
    caching: {{ shared: true }}
    integration: {{ type: lambda, function: echo }}
local:
  functions:
    echo: {{ command: ["{}"] }}
"#,
        env!("CARGO_BIN_EXE_echo-function")
    );
    let clock = test_clock();
    let (server, dir) = tollgate_tests::serve_on(&yaml, Some(Arc::new(clock.clone()))).await;
    let client = reqwest::Client::new();
    let get = || Reply::of(client.get(format!("http://{}/pets/7", server.addr)));
    let miss = get().await;
    assert_eq!((miss.status, miss.header("x-cache")), (200, Some("Miss")), "{}", miss.text());
    clock.advance_us(12 * MICROS_PER_SEC);
    let hit = get().await;
    assert_eq!((hit.header("x-cache"), hit.header("age")), (Some("Hit"), Some("12")));
    assert_eq!(hit.body, miss.body, "the cached answer, byte for byte");
    let store = StoreArgs { store: dir.path().join("store.json"), ..StoreArgs::default() };
    let flush = CacheCommand::Flush { stage: "test".into(), tag: None };
    tollgate::admin::cache(flush, &store, &tollgate_core::settings::Settings::default()).await.expect("flush");
    clock.advance_us(MICROS_PER_SEC);
    let fresh = get().await;
    assert_eq!(fresh.header("x-cache"), Some("Miss"));
    assert_ne!(fresh.body, miss.body, "a new answer from the function");
}
