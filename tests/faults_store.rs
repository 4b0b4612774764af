//! A slow, throttling and failing DynamoDB between the gateway and dynalite: the fault proxy
//! (`support/fault_proxy.rs`) throttles, answers 500s, drops connections, loses answers after DynamoDB applied
//! the write, and stalls. Metering must honour each plan's `onStoreError` within the request's time budget,
//! never admit more than a quota, and say how much it under-admits.

use std::{sync::Arc, time::Duration};

use tollgate_core::{
    Gateway,
    admin::{Admin, NewKey, PlanInput},
    backends::Backends,
    clock::{Clock as _, MICROS_PER_SEC, ManualClock},
    config::Definition,
    request::GatewayResponse,
    settings::Settings,
    store::{
        QuotaCounter, Store, StoreError,
        dynamo::{DynamoOptions, DynamoStore},
    },
    usage::{FailMode, Period, Plan, Quota, Throttle},
};
use tollgate_tests::{
    T0_SECS, dynalite,
    fault_proxy::{Counts, Fault, FaultProxy, Faults, Rule, Seen},
    get, join_all, test_clock,
};

const DEFINITION: &str = r#"
type: REST
stages:
  prod: {}
routes:
  GET /metered:
    apiKeyRequired: true
    integration: { type: mock, body: "metered" }
"#;

/// The store client's operation timeout (`DynamoStore::connect`): no store call, retries included, lasts longer.
const OPERATION_TIMEOUT: Duration = Duration::from_millis(2_500);
/// What a request may take on top of it: the gateway's own work on a loaded test machine.
const MARGIN: Duration = Duration::from_millis(1_000);
/// How long a block may be held before it is given back (`metering::quota::BLOCK_LIFETIME_US`), and a bit.
const STALE_US: i64 = 11 * MICROS_PER_SEC;

/// One table on the shared dynalite, a fault proxy in front of it, and a clock for every instance.
struct Rig {
    proxy: FaultProxy,
    /// Straight to dynalite: set-up, and reading the counters back.
    direct: Arc<dyn Store>,
    table: String,
    clock: ManualClock,
}

impl Rig {
    async fn new() -> Self {
        let server = dynalite::shared();
        let direct = server.table().await;
        let table = direct.table().to_owned();
        let proxy = FaultProxy::start(&server.endpoint()).await;
        Self { proxy, direct: Arc::new(direct), table, clock: test_clock() }
    }

    /// A store client of its own, through the proxy.
    async fn store(&self) -> DynamoStore {
        let options = DynamoOptions { table: self.table.clone(), endpoint: Some(self.proxy.endpoint()) };
        DynamoStore::connect(&options, &Settings::default()).await
    }

    /// A router instance of its own (pipeline, memory, SDK client) whose store calls go through the proxy.
    async fn instance(&self) -> Gateway {
        let store: Arc<dyn Store> = Arc::new(self.store().await);
        let definition = Definition::from_yaml(DEFINITION, Some("prod")).expect("definition");
        let backends =
            Backends { store: Some(store), clock: Some(Arc::new(self.clock.clone())), ..Backends::default() };
        Gateway::new(&definition, &backends).expect("gateway")
    }

    async fn instances(&self, n: usize) -> Vec<Gateway> {
        let mut gateways = Vec::with_capacity(n);
        for _ in 0..n {
            gateways.push(self.instance().await);
        }
        gateways
    }

    fn admin(&self) -> Admin<'_> {
        Admin::new(self.direct.as_ref(), self.clock.now_ms())
    }

    /// A plan with a daily quota of `limit`, failing `fail` when the store does; `throttled` adds a throttle
    /// generous enough never to refuse here, so that its bucket is one more store call a request may need.
    async fn plan(&self, id: &str, fail: FailMode, limit: u64, throttled: bool) -> Plan {
        let input = PlanInput {
            id: Some(id.to_owned()),
            name: id.to_owned(),
            stages: vec!["prod".into()],
            quota: Some(Quota { limit, period: Period::Day, offset: 0 }),
            throttle: throttled.then_some(Throttle { rate_limit: 10_000.0, burst_limit: 10_000 }),
            on_store_error: fail,
            ..PlanInput::default()
        };
        self.admin().create_plan(input).await.expect("plan")
    }

    /// A key on `plan`: its id and value.
    async fn key(&self, plan: &str) -> (String, String) {
        let new = NewKey { name: "caller".into(), enabled: true, plans: vec![plan.to_owned()], ..NewKey::default() };
        let (key, value) = self.admin().create_key(new).await.expect("key");
        (key.id, value)
    }

    /// What the store says remains of a key's quota today, and how much it counts as used.
    async fn counter(&self, plan: &str, key: &str) -> (i64, i64) {
        let records = self.direct.quota_records(plan, key, today(), today()).await.expect("counter");
        let record = records.first().expect("a counter for today");
        (record.remaining.expect("a limited quota"), record.used_by_day.values().sum())
    }
}

/// The test clock's day (a daily quota's period).
fn today() -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(T0_SECS, 0).expect("T0").date_naive()
}

async fn call(gw: &Gateway, value: &str) -> GatewayResponse {
    gw.handle_request(get("/metered", &[("x-api-key", value)])).await
}

/// One request: its status, its error message if any, and how long it took (on tokio's clock, the one the SDK's
/// timeouts run on).
async fn timed(gw: &Gateway, value: &str) -> (u16, String, Duration) {
    let started = tokio::time::Instant::now();
    let response = call(gw, value).await;
    let took = started.elapsed();
    let message = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|body| body["message"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (response.status.as_u16(), message, took)
}

/// The answer of a plan that fails closed when the store fails (`metering::Refusal::StoreDown`).
const CLOSED: (u16, &str) = (500, "Internal server error");

/// `per_instance` concurrent requests on every instance at once: how many were admitted (200), refused by the
/// quota (429) and refused because the store failed (500).
async fn round(gateways: &[Gateway], per_instance: usize, value: &str) -> [usize; 3] {
    let calls = gateways.iter().flat_map(|gw| (0..per_instance).map(move |_| call(gw, value)));
    let mut tally = [0; 3];
    for response in join_all(calls).await {
        match response.status.as_u16() {
            200 => tally[0] += 1,
            429 => tally[1] += 1,
            500 => tally[2] += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    tally
}

/// Rounds until every instance is refused by the quota in the same round (bounded): what was admitted.
async fn drain(gateways: &[Gateway], value: &str) -> usize {
    let mut admitted = 0;
    for _ in 0..200 {
        let [ok, spent, failed] = round(gateways, 2, value).await;
        assert_eq!(failed, 0, "no faults any more");
        admitted += ok;
        if ok == 0 && spent > 0 {
            return admitted;
        }
    }
    panic!("the quota never ran out");
}

/// Gives back every instance's blocks (no faults by now).
async fn release(gateways: &[Gateway]) {
    for gw in gateways {
        gw.meter().expect("metered").release().await.expect("release");
    }
}

/// Store requests per gateway request, as the proxy saw them: all operations, and `UpdateItem`s (the metering
/// writes) alone.
fn per_request(before: &Counts, after: &Counts, requests: usize) -> String {
    let n = requests as f64;
    format!(
        "{:.2} store requests ({:.2} UpdateItem) per request",
        (after.total_requests() - before.total_requests()) as f64 / n,
        (after.requests("UpdateItem") - before.requests("UpdateItem")) as f64 / n
    )
}

/// A take: an `UpdateItem` subtracting from what remains of a quota.
fn is_take(seen: &Seen<'_>) -> bool {
    seen.operation == "UpdateItem" && seen.body.contains("if_not_exists(remaining, :allow) - :n")
}

/// An `UpdateItem` adding to what remains of a quota (`adjust_quota`; a take subtracts).
fn is_adjust(seen: &Seen<'_>) -> bool {
    seen.operation == "UpdateItem" && seen.body.contains("if_not_exists(remaining, :allow) + :n")
}

/// A give-back: an adjust by a positive count.
fn is_give_back(seen: &Seen<'_>) -> bool {
    is_adjust(seen) && !seen.body.contains(r#"":n":{"N":"-"#)
}

/// A debt charge: an adjust by a negative count.
fn is_debt_charge(seen: &Seen<'_>) -> bool {
    is_adjust(seen) && seen.body.contains(r#"":n":{"N":"-"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_modes_hold_while_the_store_throttles_or_slows_and_requests_keep_to_the_time_budget() {
    let rig = Rig::new().await;
    rig.plan("open", FailMode::Open, 100_000, true).await;
    rig.plan("closed", FailMode::Closed, 100_000, true).await;
    let (open_key, open) = rig.key("open").await;
    let (_, closed) = rig.key("closed").await;
    let gw = rig.instance().await;
    // Key and plan records cached, first blocks and slices taken.
    assert_eq!(call(&gw, &open).await.status, 200);
    assert_eq!(call(&gw, &closed).await.status, 200);

    let phases = [
        (
            "writes throttled at a rate, every call 50 ms slower",
            Faults::none()
                .latency(Duration::from_millis(50))
                .rule(Rule::every(2, Fault::ProvisionedThroughputExceeded).on("UpdateItem"))
                .rule(Rule::every(3, Fault::Throttling).on("UpdateItem"))
                .rule(Rule::every(5, Fault::InternalServerError)),
            12,
            false,
        ),
        (
            "writes always throttled",
            Faults::none().rule(Rule::every(1, Fault::ProvisionedThroughputExceeded).on("UpdateItem")),
            6,
            true,
        ),
        ("every call slower than the attempt timeout", Faults::none().latency(Duration::from_millis(1_200)), 3, true),
    ];
    let mut served_open = 2;
    for (name, faults, requests, store_lost) in phases {
        // Key records, blocks and slices go stale: every request of the phase needs the store.
        rig.clock.advance_us(STALE_US);
        rig.proxy.set(faults);
        let before = rig.proxy.counts();
        let (mut closed_served, mut slowest) = (0, Duration::ZERO);
        for _ in 0..requests {
            let ((open_status, _, open_took), (closed_status, closed_message, closed_took)) =
                tokio::join!(timed(&gw, &open), timed(&gw, &closed));
            assert_eq!(open_status, 200, "{name}: open serves");
            served_open += 1;
            if closed_status == 200 {
                assert!(!store_lost, "{name}: closed served without the store");
                closed_served += 1;
            } else {
                assert_eq!((closed_status, closed_message.as_str()), CLOSED, "{name}: closed refuses");
            }
            slowest = slowest.max(open_took).max(closed_took);
        }
        let after = rig.proxy.counts();
        eprintln!(
            "{name}: open served {requests} of {requests}, closed {closed_served}; slowest request {slowest:?}; {}",
            per_request(&before, &after, requests * 2)
        );
        assert!(slowest < OPERATION_TIMEOUT + MARGIN, "{name}: a request took {slowest:?}");
    }
    eprintln!("faults applied: {:?}", rig.proxy.counts().applied);

    // The store answers again: the open plan's requests served meanwhile are charged (at least once).
    rig.proxy.clear();
    rig.clock.advance_us(STALE_US);
    assert_eq!(call(&gw, &open).await.status, 200);
    served_open += 1;
    assert_eq!(call(&gw, &closed).await.status, 200);
    let (_, used) = rig.counter("open", &open_key).await;
    eprintln!("open plan: {served_open} served, {used} counted as used (blocks in hand count as used)");
    assert!(used >= served_open, "every request served while the store failed is charged: {used} < {served_open}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_is_never_over_admitted_through_throttles_errors_resets_and_lost_responses() {
    let rig = Rig::new().await;
    let limit = 400;
    rig.plan("exact", FailMode::Closed, limit, false).await;
    let (key, value) = rig.key("exact").await;
    let gateways = rig.instances(4).await;
    let mut admitted = 0;
    for gw in &gateways {
        assert_eq!(call(gw, &value).await.status, 200, "key records cached");
        admitted += 1;
    }
    rig.proxy.set(
        Faults::none()
            .rule(Rule::every(10, Fault::LoseResponse).when(is_take))
            .rule(Rule::every(3, Fault::LoseResponse).when(is_adjust))
            .rule(Rule::every(8, Fault::ProvisionedThroughputExceeded).on("UpdateItem"))
            .rule(Rule::every(20, Fault::InternalServerError))
            .rule(Rule::every(25, Fault::Reset))
            .rule(Rule::every(30, Fault::Throttling)),
    );
    let before = rig.proxy.counts();
    let (mut offered, mut refused) = (0, 0);
    for r in 0..30 {
        if r % 5 == 4 {
            // Blocks in hand go stale: the next request on each instance gives its block back.
            rig.clock.advance_us(STALE_US);
        }
        let [ok, spent, store_down] = round(&gateways, 4, &value).await;
        offered += ok + spent + store_down;
        admitted += ok;
        refused += store_down;
    }
    let during = rig.proxy.counts();
    let (lost_takes, lost_adjusts, adjusts) = (rig.proxy.fired(0), rig.proxy.fired(1), rig.proxy.matched(1));
    rig.proxy.clear();
    release(&gateways).await;
    admitted += drain(&gateways, &value).await;
    let admitted = u64::try_from(admitted).expect("fits");
    let under = limit.saturating_sub(admitted);
    let (remaining, used) = rig.counter("exact", &key).await;
    eprintln!(
        "quota {limit} on 4 instances through faults: {admitted} admitted, under-admission {under} ({:.1}%); {refused} \
         of {offered} requests refused (closed) while faulty; {}; answers lost: {lost_takes} takes, {lost_adjusts} \
         of {adjusts} give-backs; faults {:?}; counter {remaining} remaining, {used} used",
        under as f64 * 100.0 / limit as f64,
        per_request(&before, &during, offered),
        during.applied
    );
    assert!(admitted <= limit, "over-admitted: {admitted} of {limit}");
    assert!(under * 3 <= limit, "under-admission stays within a third: {under} of {limit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_give_back_whose_response_is_lost_is_not_applied_twice() {
    let rig = Rig::new().await;
    let limit = 100;
    rig.plan("give-back", FailMode::Closed, limit, false).await;
    let (key, value) = rig.key("give-back").await;
    let gw = rig.instance().await;
    // Blocks double while used up: 1, 2, then 4, of which this leaves 3 in hand.
    for _ in 0..4 {
        assert_eq!(call(&gw, &value).await.status, 200);
    }
    rig.clock.advance_us(STALE_US);
    // The stale block's give-back reaches DynamoDB, which applies it; its answer is lost.
    rig.proxy.set(Faults::none().rule(Rule::every(1, Fault::LoseResponse).when(is_give_back).times(1)));
    let (status, message, _) = timed(&gw, &value).await;
    let give_backs_sent = rig.proxy.matched(0);
    assert_eq!(rig.proxy.counts().applied(Fault::LoseResponse), 1);
    rig.proxy.clear();
    release(std::slice::from_ref(&gw)).await;
    let admitted =
        4 + u64::from(status == 200) + u64::try_from(drain(std::slice::from_ref(&gw), &value).await).expect("fits");
    let (remaining, used) = rig.counter("give-back", &key).await;
    eprintln!(
        "lost give-back: that request answered {status}; the give-back was sent {give_backs_sent} time(s); \
         {admitted} of {limit} admitted in all; counter {remaining} remaining, {used} used"
    );
    assert!(admitted <= limit, "over-admitted: {admitted} of {limit} (the give-back was applied twice)");
    assert_eq!(give_backs_sent, 1, "not retried");
    assert_eq!((status, message.as_str()), CLOSED, "whether it was applied is unknown: the store failed");
    assert_eq!(admitted, limit, "it was applied, once: nothing lost either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_whose_response_is_lost_is_not_taken_twice() {
    let rig = Rig::new().await;
    let limit = 100;
    rig.plan("take", FailMode::Closed, limit, false).await;
    let (key, value) = rig.key("take").await;
    let gw = rig.instance().await;
    // Blocks double while used up: 1, 2, then 4, whose take DynamoDB applies and whose answer is lost; the SDK
    // sends that take again.
    rig.proxy.set(Faults::none().rule(Rule::every(3, Fault::LoseResponse).when(is_take).times(1)));
    for _ in 0..4 {
        assert_eq!(call(&gw, &value).await.status, 200);
    }
    let takes_sent = rig.proxy.matched(0);
    assert_eq!(rig.proxy.counts().applied(Fault::LoseResponse), 1);
    rig.proxy.clear();
    release(std::slice::from_ref(&gw)).await;
    let admitted = 4 + u64::try_from(drain(std::slice::from_ref(&gw), &value).await).expect("fits");
    let (remaining, used) = rig.counter("take", &key).await;
    eprintln!(
        "lost take: 3 takes sent {takes_sent} times; {admitted} of {limit} admitted in all (under-admission {}); \
         counter {remaining} remaining, {used} used",
        limit.saturating_sub(admitted)
    );
    assert_eq!(takes_sent, 4, "the SDK retried the take whose answer was lost");
    assert!(admitted <= limit, "over-admitted: {admitted} of {limit}");
    assert_eq!(admitted, limit, "the retry found its take applied and did not take again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debt_charge_whose_response_is_lost_never_over_admits() {
    let rig = Rig::new().await;
    let limit = 60;
    rig.plan("debt", FailMode::Open, limit, false).await;
    let (key, value) = rig.key("debt").await;
    let gw = rig.instance().await;
    assert_eq!(call(&gw, &value).await.status, 200);
    // Every write throttled: the open plan serves, and owes.
    rig.proxy.set(Faults::none().rule(Rule::every(1, Fault::ProvisionedThroughputExceeded).on("UpdateItem")));
    let owed = 5;
    let before = rig.proxy.counts();
    for _ in 0..owed {
        assert_eq!(call(&gw, &value).await.status, 200, "fails open");
    }
    let writes = rig.proxy.counts().requests("UpdateItem") - before.requests("UpdateItem");
    assert_eq!(
        writes,
        2 * u64::try_from(owed).expect("fits"),
        "a take, then debt charges: each throttled, retried once"
    );
    // The store answers again, but the answer to the debt charge is lost after DynamoDB applied it.
    rig.proxy.set(Faults::none().rule(Rule::every(1, Fault::LoseResponse).when(is_debt_charge).times(1)));
    assert_eq!(call(&gw, &value).await.status, 200, "fails open");
    let charges_sent = rig.proxy.matched(0);
    rig.proxy.clear();
    let mut served = 1 + owed + 1;
    served += drain(std::slice::from_ref(&gw), &value).await;
    let served = u64::try_from(served).expect("fits");
    let under = limit.saturating_sub(served);
    let (remaining, used) = rig.counter("debt", &key).await;
    eprintln!(
        "lost debt charge: {owed} owed, the charge sent {charges_sent} time(s) before its answer was lost; {served} of \
         {limit} served in all, under-admission {under}; counter {remaining} remaining, {used} used"
    );
    assert_eq!(charges_sent, 1, "not retried by the SDK");
    assert!(served <= limit, "over-admitted: {served} of {limit}");
    assert!(under <= u64::try_from(owed).expect("fits"), "charged twice at most: under-admission {under}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_holds_no_request_beyond_the_time_budget() {
    let rig = Rig::new().await;
    rig.plan("open", FailMode::Open, 100_000, true).await;
    rig.plan("closed", FailMode::Closed, 100_000, true).await;
    let (_, open) = rig.key("open").await;
    let (_, closed) = rig.key("closed").await;
    let (_, unseen) = rig.key("open").await;
    let gw = rig.instance().await;
    assert_eq!(call(&gw, &open).await.status, 200);
    assert_eq!(call(&gw, &closed).await.status, 200);
    // Key records, blocks and slices stale: each request needs the store for its key, plan, throttle and quota.
    rig.clock.advance_us(STALE_US);
    rig.proxy.set(Faults::none().rule(Rule::every(1, Fault::Stall)));
    let before = rig.proxy.counts();
    let ((open_status, _, open_took), (closed_status, closed_message, closed_took), (unseen_status, _, unseen_took)) =
        tokio::join!(timed(&gw, &open), timed(&gw, &closed), timed(&gw, &unseen));
    let after = rig.proxy.counts();
    eprintln!(
        "stalled store: open answered {open_status} in {open_took:?}, closed {closed_status} in {closed_took:?}, a key \
         never read {unseen_status} in {unseen_took:?}; {}",
        per_request(&before, &after, 3)
    );
    assert_eq!(open_status, 200, "fails open");
    assert_eq!((closed_status, closed_message.as_str()), CLOSED, "fails closed");
    assert_eq!(unseen_status, 500, "a key never read cannot be trusted");
    for took in [open_took, closed_took, unseen_took] {
        assert!(took < OPERATION_TIMEOUT + MARGIN, "a request took {took:?}");
    }
    rig.proxy.clear();
    assert_eq!(call(&gw, &open).await.status, 200, "the store answers again");
    assert_eq!(call(&gw, &closed).await.status, 200, "the store answers again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adjust_is_retried_only_when_refused_and_says_when_it_may_have_been_applied() {
    let rig = Rig::new().await;
    let store = rig.store().await;
    let counter = QuotaCounter { plan: "p", key: "k", period_start: today() };
    let writes = || rig.proxy.counts().requests("UpdateItem");
    // Refused with a 4xx: nothing applied, so the SDK may retry it (once), and it is known not to be applied.
    rig.proxy.set(Faults::none().rule(Rule::every(1, Fault::ProvisionedThroughputExceeded)));
    let before = writes();
    let refused = store.adjust_quota(counter, Some(10), 1, today()).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
    assert_eq!(writes() - before, 2, "retried");
    // No answer: maybe applied (the lost answer's write was), so sent once and reported as unknown.
    for fault in [Fault::Reset, Fault::InternalServerError, Fault::LoseResponse] {
        rig.proxy.set(Faults::none().rule(Rule::every(1, fault)));
        let before = writes();
        let unknown = store.adjust_quota(counter, Some(10), 1, today()).await;
        assert!(matches!(unknown, Err(StoreError::OutcomeUnknown(_))), "{fault:?}: {unknown:?}");
        assert_eq!(writes() - before, 1, "{fault:?}: not retried");
    }
    rig.proxy.clear();
    let records = rig.direct.quota_records("p", "k", today(), today()).await.expect("counter");
    assert_eq!(records[0].remaining, Some(11), "only the write whose answer was lost was applied, once");
    // Nothing listening: the request never left, so it is known not to be applied.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port");
    let options = DynamoOptions { table: rig.table.clone(), endpoint: Some(format!("http://{closed}")) };
    let nowhere = DynamoStore::connect(&options, &Settings::default()).await;
    let refused = nowhere.adjust_quota(counter, Some(10), 1, today()).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
}
