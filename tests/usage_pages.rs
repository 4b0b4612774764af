//! The usage pages against what the store holds: the key holder's `/_usage` (JSON and HTML) through `tollgate
//! serve`, the meter function's `GET /dashboard`, and `tollgate dashboard`'s page in headless Chromium at phone
//! and desktop widths. Requests go through the real gateway on one manual clock, over two days; the dashboard is
//! also read from a DynamoDB table (dynalite).
//!
//! Chromium is looked for at `TOLLGATE_CHROMIUM`, else `/usr/bin/chromium`; without it the browser test says so
//! and passes, unless `TOLLGATE_REQUIRE_BROWSER` is set.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use chrono::NaiveDate;
use http::Method;
use tollgate_core::{
    admin::{Admin, NewKey, PlanInput, api::AdminApi},
    clock::{Clock as _, MICROS_PER_SEC, ManualClock, SharedClock},
    request::GatewayRequest,
    store::{QuotaCounter, Store, Traffic, embedded::EmbeddedStore},
    usage::{Period, Quota, period::day_of},
};
use tollgate_tests::{
    chromium,
    client::{Reply, new_key_at},
    serve_on, test_clock,
};

const YAML: &str = r#"
stages:
  test: {}
routes:
  GET /paid:
    apiKeyRequired: true
    integration: { type: mock, statusCode: 200, body: "paid" }
  GET /broken:
    integration: { type: mock, statusCode: 503 }
"#;

/// A key made in the served store.
struct Key {
    id: String,
    value: String,
    plan: String,
}

impl Key {
    async fn new(file: &std::path::Path, limit: u64, name: &str, now_ms: i64) -> Self {
        let quota = Some(Quota { limit, period: Period::Day, offset: 0 });
        let (id, value) = new_key_at(file, "test", quota, name, now_ms).await;
        let store = EmbeddedStore::open(file).expect("the served store");
        let record = Admin::new(&store, now_ms).key(&id).await.expect("the key");
        Self { id, value, plan: record.plans[0].clone() }
    }
}

/// A served gateway with two keys that made requests on two days (the manual clock's first and second).
struct Rig {
    server: tollgate::serve::Server,
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    http: reqwest::Client,
    /// A key with room left, and one near its quota.
    roomy: Key,
    tight: Key,
    /// Every answer the test got through the gateway, by day: what the dashboard's traffic must show.
    sent: Mutex<BTreeMap<NaiveDate, Traffic>>,
}

impl Rig {
    async fn start(yaml: &str) -> Self {
        let clock = Arc::new(test_clock());
        let (server, dir) = serve_on(yaml, Some(Arc::clone(&clock) as SharedClock)).await;
        let file = dir.path().join("store.json");
        let roomy = Key::new(&file, 100, "roomy", clock.now_ms()).await;
        let tight = Key::new(&file, 5, "tight", clock.now_ms()).await;
        let rig = Self { server, dir, clock, http: reqwest::Client::new(), roomy, tight, sent: Mutex::default() };
        rig.paid(&rig.roomy, 2).await;
        rig.clock.advance_us(86_400 * MICROS_PER_SEC);
        rig.paid(&rig.roomy, 3).await;
        rig.paid(&rig.tight, 4).await;
        rig
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    async fn paid(&self, key: &Key, times: usize) {
        for _ in 0..times {
            let reply = self.get("/paid", &[("x-api-key", &key.value)]).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let reply = Reply::of(request).await;
        self.sent.lock().expect("sent").entry(self.today()).or_default().count(reply.status);
        reply
    }

    fn sent(&self, day: NaiveDate) -> Traffic {
        self.sent.lock().expect("sent").get(&day).copied().unwrap_or_default()
    }

    fn store(&self) -> EmbeddedStore {
        EmbeddedStore::open(&self.dir.path().join("store.json")).expect("the served store")
    }

    fn today(&self) -> NaiveDate {
        day_of(self.clock.now_ms())
    }

    /// The store's GetUsage for one key over yesterday and today: `[(used, remaining)]`.
    async fn recorded(&self, key: &Key) -> Vec<(i64, Option<i64>)> {
        let store = self.store();
        let admin = Admin::new(&store, self.clock.now_ms());
        let yesterday = self.today().pred_opt().expect("a day before");
        let mut report = admin.usage(&key.plan, yesterday, self.today(), Some(&key.id)).await.expect("usage");
        report.values.remove(&key.id).expect("the key's days")
    }
}

async fn rig() -> Rig {
    Rig::start(YAML).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_holder_reads_their_own_usage_as_json() {
    let rig = rig().await;
    let recorded = rig.recorded(&rig.roomy).await;
    let reply = rig.get("/_usage", &[("x-api-key", &rig.roomy.value)]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("private, no-store"));
    let body = reply.json();
    assert_eq!(body["keyId"], rig.roomy.id.as_str());
    assert_eq!(body["keyName"], "roomy");
    assert_eq!(body["quota"], serde_json::json!({ "limit": 100, "period": "DAY" }));
    // A daily quota: this period is today.
    assert_eq!(body["used"], recorded[1].0);
    assert_eq!(body["remaining"], recorded[1].1.expect("a quota"));
    let days = body["days"].as_array().expect("days");
    assert_eq!(days.len(), 14, "two weeks, today last");
    assert_eq!(days[13], serde_json::json!({ "date": rig.today(), "used": recorded[1].0 }));
    assert_eq!(days[12], serde_json::json!({ "date": rig.today().pred_opt(), "used": recorded[0].0 }));
    assert!(recorded[0].0 >= 2 && recorded[1].0 >= 3, "the store counted at least what was served: {recorded:?}");

    // Reading the page is no metered request.
    assert_eq!(rig.recorded(&rig.roomy).await, recorded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_holder_never_sees_another_keys_usage() {
    let rig = rig().await;
    let forbidden = r#"{"message":"Forbidden"}"#;
    for headers in [&[][..], &[("x-api-key", "not-a-key-of-this-gateway")][..], &[("x-api-key", "")][..]] {
        let reply = rig.get("/_usage", headers).await;
        assert_eq!((reply.status, reply.text().as_str()), (403, forbidden), "{headers:?}");
    }
    let (roomy, tight) = (&rig.roomy, &rig.tight);
    // Naming the other key, as a query or a path, changes nothing: the caller's own key is the only input.
    for path in [format!("/_usage?keyId={}", roomy.id), format!("/_usage?format=html&keyId={}", roomy.id)] {
        let reply = rig.get(&path, &[("x-api-key", &tight.value)]).await;
        assert_eq!(reply.status, 200);
        let text = reply.text();
        assert!(text.contains(&tight.id), "{text}");
        assert!(!text.contains(&roomy.id) && !text.contains("roomy") && !text.contains(&roomy.plan), "{text}");
    }
    let reply = rig.get(&format!("/_usage/{}", roomy.id), &[("x-api-key", &tight.value)]).await;
    assert_eq!(reply.status, 404, "only the page's own path is reserved");
    let html = rig.get("/_usage", &[("x-api-key", &roomy.value), ("accept", "text/html,*/*")]).await;
    assert_eq!(html.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(html.text().contains(&roomy.id) && !html.text().contains(&tight.id) && !html.text().contains("tight"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_definition_moves_or_turns_off_the_page() {
    let moved = YAML.replace("stages:", "usagePage: { path: /account/usage }\nstages:");
    let rig = Rig::start(&moved).await;
    assert_eq!(rig.get("/account/usage", &[("x-api-key", &rig.roomy.value)]).await.status, 200);
    assert_eq!(rig.get("/_usage", &[("x-api-key", &rig.roomy.value)]).await.status, 404);
    let off = YAML.replace("stages:", "usagePage: { enabled: false }\nstages:");
    let rig = Rig::start(&off).await;
    let reply = rig.get("/_usage", &[("x-api-key", &rig.roomy.value)]).await;
    assert_eq!((reply.status, reply.text().as_str()), (404, r#"{"message":"Not Found"}"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meter_function_serves_the_dashboard_read_only() {
    let rig = rig().await;
    let store = rig.store();
    let before = rig.recorded(&rig.tight).await;
    let request = GatewayRequest::new(Method::GET, "/dashboard");
    let reply = AdminApi::new().handle(&store, &request, rig.clock.now_ms()).await;
    assert_eq!(reply.status, 200);
    let html = String::from_utf8_lossy(&reply.body).into_owned();
    assert!(html.contains("<meta name=\"viewport\""), "{html}");
    let tight = row(&html, "near-quota", &rig.tight.id);
    assert_eq!(cell(&tight, "used"), before[1].0.to_string());
    assert_eq!(rig.recorded(&rig.tight).await, before, "the page wrote nothing");
    let post = GatewayRequest::new(Method::POST, "/dashboard");
    assert_eq!(AdminApi::new().handle(&store, &post, rig.clock.now_ms()).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_render_in_a_browser_at_phone_and_desktop_widths() {
    let Some(chromium) = chromium() else { return };
    let rig = rig().await;
    let shots = tempfile::tempdir().expect("screenshots");
    // Answers of every kind today: no key (403), no route (404), a failing backend (503), the tight key's
    // last request and one past its quota (429).
    for (path, key) in [("/paid", None), ("/nowhere", None), ("/broken", None), ("/paid", Some(&rig.tight))] {
        let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k.value.as_str())).into_iter().collect();
        rig.get(path, &headers).await;
    }
    let last = rig.get("/paid", &[("x-api-key", &rig.tight.value)]).await;
    assert_eq!(last.status, 429, "{}", last.text());
    let (roomy, tight) = (rig.recorded(&rig.roomy).await, rig.recorded(&rig.tight).await);

    // The key holder's page: fetched with the key (a browser cannot add the header to a navigation), then
    // opened from a file.
    let page = rig.get("/_usage?format=html", &[("x-api-key", &rig.tight.value)]).await;
    let file = shots.path().join("usage.html");
    std::fs::write(&file, page.body).expect("write page");
    let url = format!("file://{}", file.display());
    let dom = browse(&chromium, &url, &shots.path().join("usage")).await;
    assert_eq!(text_of(&dom, "used"), tight[1].0.to_string(), "{dom}");
    assert_eq!(text_of(&dom, "remaining"), tight[1].1.expect("a quota").to_string());
    assert_eq!(text_of(&dom, "limit"), "5 per day");
    assert!(dom.contains(&format!("<title>{}: {}</title>", rig.today(), tight[1].0)), "today's bar: {dom}");
    assert!(!dom.contains(&rig.roomy.id) && !dom.contains("roomy"));

    // What the instance counted since its last minute's write reaches the store.
    rig.server.flush_traffic().await;
    let (yesterday, today) = (rig.today().pred_opt().expect("a day before"), rig.sent(rig.today()));
    assert_eq!((today.client_errors, today.server_errors, today.throttled), (3, 1, 1), "{today:?}");

    // `tollgate dashboard`, served on loopback from the same store at the same time.
    let store: Arc<dyn Store> = Arc::new(rig.store());
    let clock = Arc::clone(&rig.clock) as SharedClock;
    let dashboard = tollgate::dashboard::DashboardServer::start(store, clock, 0).await.expect("dashboard");
    let dom = browse(&chromium, &format!("http://{}/", dashboard.addr), &shots.path().join("dashboard")).await;
    for (key, recorded) in [(&rig.roomy, &roomy), (&rig.tight, &tight)] {
        let row = row(&dom, "all", &key.id);
        assert_eq!(cell(&row, "used"), recorded[1].0.to_string(), "{row}");
        assert_eq!(cell(&row, "remaining"), recorded[1].1.expect("a quota").to_string(), "{row}");
    }
    // Answers by status, as the client saw them, in the cards (today) and the table (both days).
    assert_eq!(text_of(&dom, "answered"), today.requests.to_string());
    assert_eq!(text_of(&dom, "client-errors"), today.client_errors.to_string());
    assert_eq!(text_of(&dom, "server-errors"), today.server_errors.to_string());
    assert_eq!(text_of(&dom, "throttled"), today.throttled.to_string());
    for day in [yesterday, rig.today()] {
        let row = day_row(&dom, day);
        let sent = rig.sent(day);
        let shown = ["requests", "client", "server", "throttled"].map(|class| cell(&row, class));
        let expected = [sent.requests, sent.client_errors, sent.server_errors, sent.throttled].map(|n| n.to_string());
        assert_eq!(shown, expected, "{day}: {row}");
    }
    assert!(dom.contains(&format!("<title>{} 5xx: 1</title>", rig.today())), "today's 5xx segment: {dom}");
    let totals = |day: usize| roomy[day].0 + tight[day].0;
    assert_eq!(text_of(&dom, "today"), totals(1).to_string());
    assert_eq!(text_of(&dom, "window"), (totals(0) + totals(1)).to_string());
    assert!(dom.contains(&format!("<title>{}: {}</title>", rig.today(), totals(1))), "{dom}");
    // The busiest key heads the top keys; only the tight one is near its quota.
    let top = section(&dom, "top");
    let first = top.find(&rig.roomy.id).min(top.find(&rig.tight.id)).expect("both keys");
    // Most used first, ties by key id.
    let busiest = [(&rig.roomy.id, roomy[1].0), (&rig.tight.id, tight[1].0)]
        .into_iter()
        .min_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)))
        .map(|(id, _)| id)
        .expect("two keys");
    assert_eq!(top.find(busiest.as_str()), Some(first));
    let near = section(&dom, "near-quota");
    assert!(near.contains(&rig.tight.id) && !near.contains(&rig.roomy.id), "{near}");
}

/// Runs headless Chromium on `url` with `args` and returns its standard output.
async fn chromium_run(chromium: &std::path::Path, url: &str, args: &[&str]) -> String {
    let output = tollgate_tests::headless(chromium, url, args).await;
    assert!(output.status.success(), "Chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The page's DOM as Chromium built it, after screenshots at a phone's and a desktop's width (`{stem}-390.png`,
/// `{stem}-1280.png`), each checked to be a PNG with something drawn in it.
async fn browse(chromium: &std::path::Path, url: &str, stem: &std::path::Path) -> String {
    for (width, height) in [(390, 844), (1280, 800)] {
        let shot = PathBuf::from(format!("{}-{width}.png", stem.display()));
        let (screenshot, size) =
            (format!("--screenshot={}", shot.display()), format!("--window-size={width},{height}"));
        chromium_run(chromium, url, &[&screenshot, &size]).await;
        let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot {}: {e}", shot.display()));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is a PNG", shot.display());
        // A blank page of that size compresses to a few hundred bytes; text and bars take kilobytes.
        assert!(png.len() > 8_000, "{} has content ({} bytes)", shot.display(), png.len());
    }
    chromium_run(chromium, url, &["--dump-dom"]).await
}

/// The text of the element with `id` (a card's number).
fn text_of(dom: &str, id: &str) -> String {
    let start = dom.find(&format!("id=\"{id}\">")).unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let rest = &dom[start + id.len() + 6..];
    rest[..rest.find('<').expect("the element ends")].to_owned()
}

/// The HTML of the table (or note) with `id`.
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let rest = &dom[start..];
    &rest[..rest.find("</table>").or_else(|| rest.find("</p>")).expect("the section ends")]
}

/// The row of `key` in table `id`.
fn row(dom: &str, id: &str, key: &str) -> String {
    let table = section(dom, id);
    let start = table.find(&format!("data-key=\"{key}\"")).unwrap_or_else(|| panic!("no {key} in #{id}: {table}"));
    let rest = &table[start..];
    rest[..rest.find("</tr>").expect("the row ends")].to_owned()
}

/// The row of `day` in the traffic table.
fn day_row(dom: &str, day: NaiveDate) -> String {
    let table = section(dom, "traffic");
    let start = table.find(&format!("data-day=\"{day}\"")).unwrap_or_else(|| panic!("no {day} in #traffic: {table}"));
    let rest = &table[start..];
    rest[..rest.find("</tr>").expect("the row ends")].to_owned()
}

/// The number in the row's cell of class `class`.
fn cell(row: &str, class: &str) -> String {
    let marker = format!("class=\"n {class}\">");
    let start = row.find(&marker).unwrap_or_else(|| panic!("no {class} in {row}")) + marker.len();
    row[start..start + row[start..].find('<').expect("the cell ends")].to_owned()
}

/// `tollgate dashboard` works on either store: the same counters, written to the embedded store and to a
/// DynamoDB table (dynalite), give the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_reads_either_store() {
    let clock: SharedClock = Arc::new(test_clock());
    let today = day_of(clock.now_ms());
    let table: Arc<dyn Store> = Arc::new(tollgate_tests::dynalite::shared().table().await);
    let embedded: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    for store in [embedded, table] {
        let admin = Admin::new(store.as_ref(), clock.now_ms());
        let quota = Some(Quota { limit: 10, period: Period::Day, offset: 0 });
        let plan = PlanInput { id: Some("gold".into()), name: "Gold".into(), quota, ..PlanInput::default() };
        admin.create_plan(plan).await.expect("plan");
        let new = NewKey { name: "alice".into(), plans: vec!["gold".into()], ..NewKey::default() };
        let (key, _) = admin.create_key(new).await.expect("key");
        let counter = QuotaCounter { plan: "gold", key: &key.id, period_start: today };
        store.take_quota(counter, Some(10), 3, today).await.expect("a block of 3");
        let html = tollgate::dashboard::render(store.as_ref(), &clock).await.expect("the page");
        let row = row(&html, "all", &key.id);
        assert_eq!((cell(&row, "used"), cell(&row, "remaining")), ("3".to_owned(), "7".to_owned()), "{row}");
        assert_eq!(text_of(&html, "today"), "3");
        // Two instances' minutes and another stage add up on the day's row.
        let t = |requests, client_errors, server_errors, throttled| Traffic {
            requests,
            client_errors,
            server_errors,
            throttled,
        };
        store.add_traffic("test", today, t(6, 2, 1, 1)).await.expect("add");
        store.add_traffic("test", today, t(4, 1, 0, 0)).await.expect("add");
        store.add_traffic("prod", today, t(5, 0, 2, 0)).await.expect("add");
        let html = tollgate::dashboard::render(store.as_ref(), &clock).await.expect("the page");
        let row = day_row(&html, today);
        let shown = ["requests", "client", "server", "throttled"].map(|class| cell(&row, class));
        assert_eq!(shown, ["15", "3", "3", "1"], "{row}");
        assert_eq!(text_of(&html, "answered"), "15");
    }
}
