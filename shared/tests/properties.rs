//! Property tests for the invariants the README promises: the route table agrees with a naive reference
//! matcher on API Gateway's priority rules; GCRA never admits more than `burst + rate × w` over any window;
//! quota blocks never sum above the allowance; a policy cached for one ARN never allows another unless a
//! statement matches it. Time is a [`ManualClock`] throughout: nothing sleeps and nothing reads the wall clock.
//!
//! Failure persistence is off, so a failing run writes no regression file: proptest prints the minimal input,
//! which is what a bug report (or a new unit test) needs.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::NaiveDate;
use http::{HeaderValue, Method};
use proptest::{prelude::*, sample::Index};
use serde_json::{Value, json};
use tollgate_core::{
    auth::{
        iam_policy::{Effect, IamPolicy},
        lambda::{Call, LambdaAuthError, LambdaAuthorizer},
        method_arn,
    },
    clients::{InvokeFuture, InvokeOutput, Invoker},
    clock::{Clock as _, MICROS_PER_SEC, ManualClock, Micros},
    config::{Definition, EventKind, IdentitySource, LambdaAuthorizerSpec, RouteKey, RouteSpec},
    metering::{
        Limit, Meter, Refusal,
        quota::{BLOCK_LIFETIME_US, QuotaScope, QuotaSlot, QuotaVerdict},
        throttle::cadence_of,
    },
    request::{ApiContext, Authorized, GatewayRequest, Matched},
    route_table::RouteTable,
    store::{QuotaCounter, Store, embedded::EmbeddedStore},
    usage::{FailMode, Period, Plan, Quota, Throttle},
};

/// Every clock starts here (2023-11-14T22:13:20Z, a Tuesday, under two hours before a UTC midnight).
const T0: Micros = 1_700_000_000 * MICROS_PER_SEC;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// A single-threaded runtime with a timer (Lambda invocations are wrapped in a timeout), built per case.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a current-thread runtime")
}

// ---------------------------------------------------------------------------------------------------------
// 1. Route selection
// ---------------------------------------------------------------------------------------------------------

/// Static segment texts of routes, and most segments of request paths, so that matches are frequent.
const STATICS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Static(&'static str),
    /// `{name}`
    Param,
    /// `{name+}`, always last.
    Greedy,
}

/// A generated route: `None` for `ANY`. Two routes are equal exactly when they serve the same requests.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GenRoute {
    method: Option<&'static str>,
    parts: Vec<Part>,
}

/// Position `i` of route `r` is called `r{r}p{i}`: names differ between routes, so a match that reported
/// another route's parameter names would show.
fn param_name(route: usize, position: usize) -> String {
    format!("r{route}p{position}")
}

impl GenRoute {
    fn key_text(&self, index: usize) -> String {
        let method = self.method.unwrap_or("ANY");
        if self.parts.is_empty() {
            return format!("{method} /");
        }
        let path: String = self
            .parts
            .iter()
            .enumerate()
            .map(|(i, part)| match part {
                Part::Static(text) => format!("/{text}"),
                Part::Param => format!("/{{{}}}", param_name(index, i)),
                Part::Greedy => format!("/{{{}+}}", param_name(index, i)),
            })
            .collect();
        format!("{method} {path}")
    }

    /// The path parameters if this route's path matches: a static segment by equal text, `{p}` any one
    /// non-empty segment, `{p+}` everything after its `/`, at least one character (`/pets/{proxy+}` matches
    /// neither `/pets` nor `/pets/`).
    fn matches(&self, index: usize, segments: &[&str]) -> Option<Params> {
        let mut params = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Static(text) => {
                    if segments.get(i)? != text {
                        return None;
                    }
                }
                Part::Param => {
                    let segment = segments.get(i)?;
                    if segment.is_empty() {
                        return None;
                    }
                    params.push((param_name(index, i), (*segment).to_owned()));
                }
                Part::Greedy => {
                    let rest = segments.get(i..)?.join("/");
                    if rest.is_empty() {
                        return None;
                    }
                    params.push((param_name(index, i), rest));
                    return Some(params);
                }
            }
        }
        (segments.len() == self.parts.len()).then_some(params)
    }

    /// The route's priority as a sort key, smallest first, straight from the documented rules:
    /// a full match before a greedy one; then, segment by segment from the left, static before `{param}`
    /// before `{proxy+}` (for greedy routes this is "the longest static prefix first", with ties broken the
    /// same way further right); then an explicit method before `ANY`. Two distinct routes that both match
    /// one path never tie: equal keys mean equal shapes (the static texts both equal the path's) and equal
    /// methods, a duplicate the table refuses.
    fn priority(&self) -> Priority {
        let ranks = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Static(_) => 0,
                Part::Param => 1,
                Part::Greedy => 2,
            })
            .collect();
        (self.parts.last() == Some(&Part::Greedy), ranks, self.method.is_none())
    }
}

/// Path parameters, by name, in path order.
type Params = Vec<(String, String)>;

/// A route's priority: a greedy route, its segments' kinds, an `ANY` route; the smallest wins.
type Priority = (bool, Vec<u8>, bool);

/// Enumerates every route, keeps those whose method and path match, and takes the one of highest priority;
/// `$default` (`None` in the list) when none matches. Returns the route's index and its parameters.
fn reference_route(routes: &[Option<GenRoute>], method: &str, path: &str) -> Option<(usize, Params)> {
    let segments: Vec<&str> = if path == "/" { Vec::new() } else { path[1..].split('/').collect() };
    let mut best: Option<(Priority, usize, Params)> = None;
    for (index, route) in routes.iter().enumerate() {
        let Some(route) = route else { continue };
        if route.method.is_some_and(|m| m != method) {
            continue;
        }
        let Some(params) = route.matches(index, &segments) else { continue };
        let priority = route.priority();
        if best.as_ref().is_none_or(|(b, ..)| priority < *b) {
            best = Some((priority, index, params));
        }
    }
    best.map(|(_, index, params)| (index, params))
        .or_else(|| routes.iter().position(Option::is_none).map(|index| (index, Vec::new())))
}

fn gen_part() -> impl Strategy<Value = Part> {
    prop_oneof![3 => prop::sample::select(STATICS.to_vec()).prop_map(Part::Static), 2 => Just(Part::Param)]
}

fn gen_route() -> impl Strategy<Value = GenRoute> {
    let method = prop::sample::select(vec![None, Some("GET"), Some("POST"), Some("DELETE")]);
    (method, prop::collection::vec(gen_part(), 0..=3), prop::bool::weighted(0.35)).prop_map(
        |(method, mut parts, greedy)| {
            if greedy {
                parts.push(Part::Greedy);
            }
            GenRoute { method, parts }
        },
    )
}

/// 1 to 7 routes, and sometimes `$default` somewhere among them.
fn gen_routes() -> impl Strategy<Value = Vec<Option<GenRoute>>> {
    (prop::collection::vec(gen_route(), 1..=7), prop::option::weighted(0.4, any::<Index>())).prop_map(
        |(routes, default)| {
            let mut routes: Vec<Option<GenRoute>> = routes.into_iter().map(Some).collect();
            if let Some(at) = default {
                routes.insert(at.index(routes.len() + 1), None);
            }
            routes
        },
    )
}

/// Mostly the routes' own segment texts, sometimes other text, rarely an empty segment (`//`, a trailing `/`).
fn gen_path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        10 => prop::sample::select(STATICS.to_vec()).prop_map(str::to_owned),
        2 => "[a-z0-9._~-]{1,4}",
        1 => Just(String::new()),
    ];
    prop::collection::vec(segment, 0..=4).prop_map(|segments| format!("/{}", segments.join("/")))
}

/// A path made for one of the routes: its static texts, a segment for each `{param}`, one to three for a
/// `{proxy+}` (so full and greedy matches, and their contests, are common).
fn path_for(route: Option<&GenRoute>, fill: &[String], greedy_len: usize) -> String {
    let Some(route) = route else { return "/".to_owned() };
    let mut fill = fill.iter().cycle();
    let mut segments = Vec::new();
    for part in &route.parts {
        match part {
            Part::Static(text) => segments.push((*text).to_owned()),
            Part::Param => segments.extend(fill.next().cloned()),
            Part::Greedy => segments.extend(fill.by_ref().take(greedy_len).cloned()),
        }
    }
    format!("/{}", segments.join("/"))
}

/// Requests for a route set: a method (some no route names), and a path made for one of the routes or any
/// path at all.
fn gen_requests(routes: Vec<Option<GenRoute>>) -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let method = prop::sample::select(vec!["GET", "POST", "DELETE", "PUT", "PROPFIND"]);
    let fill = prop::collection::vec(
        prop_oneof![4 => prop::sample::select(STATICS.to_vec()).prop_map(str::to_owned), 1 => "[a-z0-9]{1,3}"],
        4,
    );
    let made = (any::<Index>(), fill, 1usize..=3)
        .prop_map(move |(at, fill, greedy_len)| path_for(at.get(&routes).as_ref(), &fill, greedy_len));
    prop::collection::vec((method, prop_oneof![made, gen_path()]), 1..=12)
}

/// A route set and requests to route.
fn gen_routing() -> impl Strategy<Value = (Vec<Option<GenRoute>>, Vec<(&'static str, String)>)> {
    gen_routes().prop_flat_map(|routes| (Just(routes.clone()), gen_requests(routes)))
}

/// A route as the table gets it, copied from one the definition loader made so it stays valid if routes gain
/// fields.
fn route_spec(template: &RouteSpec, key_text: String) -> RouteSpec {
    let key = RouteKey::parse(&key_text).unwrap_or_else(|e| panic!("generated key {key_text:?}: {e}"));
    RouteSpec { key_text, key, ..template.clone() }
}

proptest! {
    #![proptest_config(config(256))]

    /// **The route table picks the route a naive reference picks.** The table compiles routes into matchit
    /// trees (one per method, `ANY` routes merged in) and relies on matchit's ranking and backtracking; the
    /// reference (`reference_route`) just tries every route and sorts by the documented order (a full match,
    /// static before `{param}`; then greedy, longest static prefix first; then `$default`; an explicit method
    /// before `ANY`). A `{param}` is one segment, never an empty one: the table already treats a trailing `/`
    /// that way (`/a/` does not match `/a/{id}`), and the reference holds it to that everywhere (`//x`).
    /// They must agree on the route and its parameters, or both find nothing: a disagreement is a request
    /// served by the wrong integration. The table must also refuse a route set exactly when two routes serve
    /// the same requests (same method, same shape), and for that reason only: any other refusal is a valid
    /// definition that fails its cold start.
    #[test]
    fn route_table_agrees_with_a_naive_reference((routes, requests) in gen_routing()) {
        let template = Definition::from_yaml("routes:\n  GET /x: { integration: { type: mock } }\n", None)
            .expect("template definition")
            .routes
            .remove(0);
        let keys: Vec<String> = routes
            .iter()
            .enumerate()
            .map(|(i, r)| r.as_ref().map_or_else(|| "$default".to_owned(), |r| r.key_text(i)))
            .collect();
        let specs: Vec<RouteSpec> = keys.iter().map(|k| route_spec(&template, k.clone())).collect();
        let paths: Vec<&GenRoute> = routes.iter().flatten().collect();
        let duplicated = paths.iter().enumerate().any(|(i, r)| paths[i + 1..].contains(r));
        let table = match RouteTable::new(&specs) {
            Ok(table) => table,
            Err(e) => {
                prop_assert!(duplicated, "refused {:?}, where no two routes serve the same requests: {}", keys, e);
                prop_assert!(e.problem.contains("matches exactly the same requests"), "refused for: {}", e);
                return Ok(());
            }
        };
        prop_assert!(!duplicated, "accepted {:?}, where two routes serve the same requests", keys);
        for (method, path) in &requests {
            let want = reference_route(&routes, method, path);
            let got = table.find(&Method::from_bytes(method.as_bytes()).expect("method"), path).map(|m| {
                let params = m.params.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
                (m.route, params)
            });
            let name = |m: &Option<(usize, Params)>| m.as_ref().map(|(i, _)| keys[*i].clone());
            prop_assert_eq!(
                &got, &want,
                "{} {} over {:?}: table chose {:?}, reference {:?}", method, path, keys, name(&got), name(&want)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// 2. Throttling (GCRA)
// ---------------------------------------------------------------------------------------------------------

/// One request: which instance serves it, and how long after the previous one it arrives, in thousandths of
/// the throttle's interval (so the gaps suit any rate): often at once, mostly faster than the rate (so the
/// bucket runs dry), sometimes after a long idle spell.
fn gen_arrival() -> impl Strategy<Value = (usize, i64)> {
    (0usize..3, prop_oneof![6 => Just(0i64), 12 => 0i64..1_000, 1 => 0i64..10_000, 1 => 0i64..100_000])
}

proptest! {
    #![proptest_config(config(256))]

    /// **No window admits more than `burst + rate × w`.** That is a token bucket's whole promise (API Gateway's
    /// throttles are token buckets), and Tollgate promises it across instances: one to three [`Meter`]s
    /// (router instances) share one store, each taking slices of the bucket's timeline. For every window
    /// `[t, t + w]` between two admitted requests, `admitted ≤ burst + rate × w` with `w` in seconds, checked
    /// in exact integer arithmetic (rates are `n / d` with `d` in {1, 2, 4}, exact in `f64`). No `+1` is
    /// needed: each admitted request owns a distinct interval-long slot of the timeline starting no earlier
    /// than its arrival and at most `(burst - 1)` intervals after it, and the interval is rounded up.
    ///
    /// Not vacuous: a request after an idle spell of `burst + 4` intervals (the bucket is full again after
    /// `burst`; an instance refused earlier waits up to 4 more tokens before asking again) must be admitted,
    /// the very first request included.
    #[test]
    fn throttle_admits_at_most_burst_plus_rate_times_window(
        rate_num in 1u32..=2_000,
        rate_den in prop::sample::select(vec![1u32, 2, 4]),
        burst in 1u32..=30,
        instances in 1usize..=3,
        arrivals in prop::collection::vec(gen_arrival(), 1..=200),
    ) {
        let throttle = Throttle { rate_limit: f64::from(rate_num) / f64::from(rate_den), burst_limit: burst };
        let interval = cadence_of(throttle).interval_us;
        let clock = ManualClock::at(T0);
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
        let meters: Vec<Meter> =
            (0..instances).map(|_| Meter::new(Arc::clone(&store), Arc::new(clock.clone()), 60)).collect();
        let limits = [Limit::stage("api", "prod", throttle)];
        let rt = runtime();
        let mut admitted: Vec<Micros> = Vec::new();
        let mut previous: Option<Micros> = None;
        for (instance, gap) in arrivals {
            clock.advance_us(interval * gap / 1_000);
            let now = clock.now_us();
            let verdict = rt.block_on(meters[instance % instances].admit(None, "GET /x", &limits));
            match verdict {
                Ok(_) => admitted.push(now),
                Err(Refusal::Throttled { .. }) => {
                    let idle = previous.is_none_or(|p| now - p >= (i64::from(burst) + 4) * interval);
                    prop_assert!(!idle, "refused at +{} µs after an idle spell (interval {} µs)", now - T0, interval);
                }
                Err(other) => prop_assert!(false, "unexpected refusal {:?}", other),
            }
            previous = Some(now);
        }
        let (num, den, burst) = (i128::from(rate_num), i128::from(rate_den), i128::from(burst));
        let per_sec = i128::from(MICROS_PER_SEC);
        for (i, start) in admitted.iter().enumerate() {
            for (j, end) in admitted.iter().enumerate().skip(i) {
                let count = i128::try_from(j - i + 1).expect("small");
                let window = i128::from(end - start);
                // count ≤ burst + (num / den) × window / 10⁶, multiplied out.
                prop_assert!(
                    count * den * per_sec <= burst * den * per_sec + num * window,
                    "{} admitted within {} µs at {}/{} per second, burst {}", count, window, num, den, burst
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// 3. Quotas
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum QuotaStep {
    /// A request reaches this instance.
    Admit(usize),
    Advance(Micros),
    /// The clock jumps to the next period's first instant.
    NextPeriod,
    /// The instance gives back its block (shutdown).
    Release(usize),
    /// The admin grants extra requests for the current period (API Gateway's UpdateUsage).
    Grant(u64),
}

fn gen_quota_step() -> impl Strategy<Value = QuotaStep> {
    prop_oneof![
        12 => (0usize..4).prop_map(QuotaStep::Admit),
        3 => (1..3 * MICROS_PER_SEC).prop_map(QuotaStep::Advance),
        1 => (BLOCK_LIFETIME_US..3 * BLOCK_LIFETIME_US).prop_map(QuotaStep::Advance),
        1 => Just(QuotaStep::NextPeriod),
        1 => (0usize..4).prop_map(QuotaStep::Release),
        1 => (1u64..=10).prop_map(QuotaStep::Grant),
    ]
}

/// What the test saw of one period.
#[derive(Debug, Default)]
struct Seen {
    admitted: u64,
    extra: u64,
}

proptest! {
    #![proptest_config(config(256))]

    /// **Quota blocks never sum above the allowance, and none is lost or counted twice.** One to four
    /// [`QuotaSlot`]s (one per router instance) share an embedded store and one plan (a generated limit, offset
    /// and period); a generated interleaving of requests, clock moves (within a block's lifetime, past it, into
    /// the next period), releases and extra grants runs against them. In every period the requests admitted
    /// stay within the allowance (the limit, less the offset in the plan's first period) plus what was granted:
    /// otherwise a key gets more than its plan sells. After every instance releases its block, the store
    /// balances (remaining + used = allowance + extra) in every period, and in the current period, where no
    /// block lapsed with a period change, what it counts as used is exactly what was admitted and the rest
    /// remains: a block given back on release or staleness is neither lost nor counted twice. So one more
    /// request is admitted exactly when the period's allowance is not spent.
    #[test]
    fn quota_blocks_never_exceed_the_allowance(
        (limit, offset) in (1u64..=40).prop_flat_map(|limit| (Just(limit), 0..limit)),
        period in prop::sample::select(vec![Period::Day, Period::Week, Period::Month]),
        instances in 1usize..=4,
        steps in prop::collection::vec(gen_quota_step(), 1..=80),
    ) {
        let plan = Plan {
            id: "plan".to_owned(),
            name: "plan".to_owned(),
            description: String::new(),
            stages: vec!["prod".to_owned()],
            throttle: None,
            route_throttles: BTreeMap::new(),
            quota: Some(Quota { limit, period, offset }),
            max_connections: None,
            on_store_error: FailMode::Closed,
            created_at_ms: T0 / 1_000,
            version: 1,
        };
        let scope = QuotaScope { plan: &plan, key_id: "key" };
        let first = period.bounds(T0 / 1_000).0;
        let allowance = |start: NaiveDate| if start == first { limit - offset } else { limit };
        let clock = ManualClock::at(T0);
        let store = EmbeddedStore::in_memory();
        let slots: Vec<QuotaSlot> = (0..instances).map(|_| QuotaSlot::default()).collect();
        let mut seen: BTreeMap<NaiveDate, Seen> = BTreeMap::new();
        let rt = runtime();
        let start_now = |clock: &ManualClock| period.bounds(clock.now_ms()).0;
        for step in steps {
            match step {
                QuotaStep::Admit(i) => {
                    let now = clock.now_us();
                    let start = start_now(&clock);
                    let verdict = rt.block_on(slots[i % instances].admit(&store, scope, now)).expect("store");
                    let period_seen = seen.entry(start).or_default();
                    let fresh = period_seen.admitted == 0;
                    match verdict {
                        QuotaVerdict::Admitted { .. } => {
                            period_seen.admitted += 1;
                            prop_assert!(
                                period_seen.admitted <= allowance(start) + period_seen.extra,
                                "period {}: admitted {} of {} (+{} extra)",
                                start, period_seen.admitted, allowance(start), period_seen.extra
                            );
                        }
                        QuotaVerdict::Exceeded { limit: said, .. } => {
                            prop_assert!(!fresh, "period {}: the first request was refused", start);
                            prop_assert_eq!(said, allowance(start));
                        }
                    }
                }
                QuotaStep::Advance(by) => clock.advance_us(by),
                QuotaStep::NextPeriod => clock.set_us(period.bounds(clock.now_ms()).1 * 1_000),
                QuotaStep::Release(i) => rt.block_on(slots[i % instances].release(&store, scope)).expect("store"),
                QuotaStep::Grant(extra) => {
                    let start = start_now(&clock);
                    let counter = QuotaCounter { plan: "plan", key: "key", period_start: start };
                    rt.block_on(store.grant_quota(counter, Some(allowance(start)), extra)).expect("store");
                    seen.entry(start).or_default().extra += extra;
                }
            }
        }
        for slot in &slots {
            rt.block_on(slot.release(&store, scope)).expect("store");
        }
        let current = start_now(&clock);
        let records = rt.block_on(store.quota_records("plan", "key", first, current)).expect("store");
        for record in &records {
            let start = record.period_start.expect("a period");
            let period_seen = seen.get(&start);
            let (admitted, extra) = period_seen.map_or((0, 0), |s| (s.admitted, s.extra));
            let total = i64::try_from(allowance(start) + extra).expect("small");
            let admitted = i64::try_from(admitted).expect("small");
            let remaining = record.remaining.expect("a limited quota");
            let used: i64 = record.used_by_day.values().sum();
            prop_assert_eq!(record.extra, i64::try_from(extra).expect("small"), "period {}", start);
            prop_assert_eq!(remaining + used, total, "period {}: the store does not balance", start);
            prop_assert!(remaining >= 0 && used >= admitted, "period {}: {:?}, admitted {}", start, record, admitted);
            if start == current {
                prop_assert_eq!(used, admitted, "period {}: released blocks still counted as used", start);
            }
        }
        let admitted = seen.get(&current).map_or(0, |s| s.admitted);
        let total = allowance(current) + seen.get(&current).map_or(0, |s| s.extra);
        let verdict = rt.block_on(slots[0].admit(&store, scope, clock.now_us())).expect("store");
        prop_assert_eq!(
            matches!(verdict, QuotaVerdict::Admitted { .. }),
            admitted < total,
            "after releasing every block, with {} of {} admitted: {:?}", admitted, total, verdict
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// 4. Lambda authorizer policy cache
// ---------------------------------------------------------------------------------------------------------

const ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:";

/// A Lambda authorizer run in process: answers every event with the same policy, and counts its invocations.
struct PolicyFunction {
    reply: Vec<u8>,
    calls: AtomicUsize,
}

impl Invoker for PolicyFunction {
    fn invoke<'a>(&'a self, _function: &'a str, _payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let payload = self.reply.clone();
        Box::pin(async move { Ok(InvokeOutput { payload, function_error: None }) })
    }
}

/// A request target: method and path segments.
type Target = (&'static str, Vec<&'static str>);

fn gen_target() -> impl Strategy<Value = Target> {
    (prop::sample::select(vec!["GET", "POST"]), prop::collection::vec(prop::sample::select(STATICS.to_vec()), 0..=3))
}

fn path_of(target: &Target) -> String {
    format!("/{}", target.1.join("/"))
}

fn arn_of(target: &Target) -> String {
    method_arn(ARN_PREFIX, "api", "prod", target.0, &path_of(target))
}

/// Two targets, often neighbours (the same path with another method, or the same method on another path),
/// where a policy written for one is most likely to be wrongly stretched to the other.
fn gen_targets() -> impl Strategy<Value = (Target, Target)> {
    (gen_target(), gen_target(), 0u8..3).prop_map(|(a, b, how)| match how {
        0 => (a, b),
        1 => ((a.0, b.1.clone()), b),
        _ => ((b.0, a.1.clone()), b),
    })
}

/// Resource patterns: `*`, an exact ARN, an ARN with one character turned into `?` or `*` or cut short by
/// `*`, or one assembled from wildcard pieces. `near` are the ARNs the test will ask about: patterns are
/// often made from them, so statements match them often, exactly or nearly.
fn gen_resource(near: &[String]) -> impl Strategy<Value = String> + use<> {
    let arn = prop_oneof![gen_target().prop_map(|t| arn_of(&t)), prop::sample::select(near.to_vec())];
    let mutated = (arn.clone(), any::<Index>(), prop::bool::weighted(0.75), 0u8..3).prop_map(|(arn, at, tail, how)| {
        // Mostly in the method and path, where ARNs of one API differ.
        let i = if tail { arn.len() - 1 - at.index(arn.len().min(12)) } else { at.index(arn.len()) };
        match how {
            0 => format!("{}?{}", &arn[..i], &arn[i + 1..]),
            1 => format!("{}*{}", &arn[..i], &arn[i + 1..]),
            _ => format!("{}*", &arn[..i]),
        }
    });
    let assembled = (
        prop::sample::select(vec![
            ARN_PREFIX,
            "arn:aws:execute-api:*:*:",
            "arn:aws:execute-api:us-east-1:*:",
            "arn:aws:execute-api:eu-west-1:123456789012:",
        ]),
        prop::sample::select(vec!["api/prod/", "api/*/", "*/prod/", "other/prod/"]),
        prop::sample::select(vec!["GET", "POST", "*", "?ET", "P*"]),
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*", "?"]), 0..=3),
    )
        .prop_map(|(prefix, stage, method, path)| format!("{prefix}{stage}{method}/{}", path.join("/")));
    prop_oneof![
        1 => Just("*".to_owned()),
        3 => arn,
        4 => mutated,
        3 => assembled,
    ]
}

#[derive(Debug, Clone)]
struct GenStatement {
    allow: bool,
    actions: Vec<&'static str>,
    resources: Vec<String>,
    /// Has a `Condition`, which Tollgate does not evaluate: an Allow with one never applies, a Deny always.
    conditional: bool,
}

fn gen_statement(near: &[String]) -> impl Strategy<Value = GenStatement> + use<> {
    let action = prop::sample::select(vec![
        "execute-api:Invoke",
        "execute-api:*",
        "*",
        "execute-api:Inv?ke",
        "execute-api:ManageConnections",
        "s3:GetObject",
    ]);
    (
        prop::bool::weighted(0.7),
        prop::collection::vec(action, 1..=2),
        prop::collection::vec(gen_resource(near), 1..=3),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(allow, actions, resources, conditional)| GenStatement {
            allow,
            actions,
            resources,
            conditional,
        })
}

impl GenStatement {
    fn to_json(&self) -> Value {
        // One value is written as a string, several as a list: authorizers send both.
        let one_or_many = |items: Vec<Value>| if items.len() == 1 { items[0].clone() } else { Value::Array(items) };
        let mut statement = json!({
            "Effect": if self.allow { "Allow" } else { "Deny" },
            "Action": one_or_many(self.actions.iter().map(|a| json!(a)).collect()),
            "Resource": one_or_many(self.resources.iter().map(|r| json!(r)).collect()),
        });
        if self.conditional {
            statement["Condition"] = json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}});
        }
        statement
    }
}

/// IAM's wildcard match, written independently of the gateway's: `*` any run of characters, `?` any one.
fn glob_reference(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // matched[j]: the pattern so far matches the first j characters of the text.
    let mut matched = vec![false; t.len() + 1];
    matched[0] = true;
    for &c in p {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match c {
                b'*' => matched[j] || (j > 0 && next[j - 1]),
                _ => j > 0 && matched[j - 1] && (c == b'?' || c == t[j - 1]),
            };
        }
        matched = next;
    }
    matched[t.len()]
}

/// API Gateway's evaluation of `execute-api:Invoke` on `arn`: an explicit Deny wins, then any Allow, else an
/// implicit deny (with Tollgate's documented treatment of conditions).
fn reference_effect(statements: &[GenStatement], arn: &str) -> Effect {
    let applies = |s: &GenStatement| {
        s.actions.iter().any(|a| glob_reference(a, "execute-api:Invoke"))
            && s.resources.iter().any(|r| glob_reference(r, arn))
    };
    if statements.iter().any(|s| !s.allow && applies(s)) {
        Effect::ExplicitDeny
    } else if statements.iter().any(|s| s.allow && !s.conditional && applies(s)) {
        Effect::Allow
    } else {
        Effect::ImplicitDeny
    }
}

/// The effect an authorizer's answer stands for; `None` for anything else (a failure).
fn effect_of(result: &Result<Authorized, LambdaAuthError>) -> Option<Effect> {
    match result {
        Ok(Authorized::Lambda { .. }) => Some(Effect::Allow),
        Err(LambdaAuthError::Denied { explicit: true }) => Some(Effect::ExplicitDeny),
        Err(LambdaAuthError::Denied { explicit: false }) => Some(Effect::ImplicitDeny),
        _ => None,
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// **A policy cached for one ARN never allows another unless a statement matches it.** A Lambda authorizer
    /// (TOKEN, REQUEST 1.0 or 2.0 with a policy answer) with a cache TTL answers one caller with a generated
    /// IAM policy (Allow and Deny statements, actions and resources with `*` and `?`, some conditional). The
    /// caller is authorized for ARN A, then, within the TTL, for ARN B with the same identity. The function
    /// must run once (the cache is used), and each decision must be the policy's evaluation for that ARN,
    /// both as `IamPolicy::evaluate` says and as an independent reference says: caching the policy rather
    /// than A's decision is what keeps an Allow for one route from opening another. Past the TTL the function
    /// runs again.
    #[test]
    fn cached_policy_is_judged_afresh_for_each_arn(
        (a, b, statements) in gen_targets().prop_flat_map(|(a, b)| {
            let near = [arn_of(&a), arn_of(&b)];
            (Just(a), Just(b), prop::collection::vec(gen_statement(&near), 0..=4))
        }),
        kind in prop::sample::select(vec![EventKind::Token, EventKind::RequestV1, EventKind::V2 { simple: false }]),
        ttl_seconds in 1u64..=3_600,
        within in any::<Index>(),
        after in 0..MICROS_PER_SEC,
    ) {
        let document = json!({
            "Version": "2012-10-17",
            "Statement": statements.iter().map(GenStatement::to_json).collect::<Vec<_>>(),
        });
        let reply = json!({"principalId": "user", "policyDocument": document});
        let policy = IamPolicy::parse(&document).expect("a generated policy parses");
        let function = Arc::new(PolicyFunction { reply: reply.to_string().into_bytes(), calls: AtomicUsize::new(0) });
        let clock = ManualClock::at(T0);
        let spec = LambdaAuthorizerSpec {
            function: "authorizer".to_owned(),
            kind,
            identity: vec![IdentitySource::Header("authorization".to_owned())],
            ttl_seconds,
            timeout: Duration::from_secs(5),
        };
        let invoker = Arc::clone(&function) as Arc<dyn Invoker>;
        let authorizer = LambdaAuthorizer::new(spec, invoker, Arc::new(clock.clone()));
        let context = ApiContext {
            api_id: "api".to_owned(),
            stage: "prod".to_owned(),
            arn_prefix: ARN_PREFIX.to_owned(),
            ..ApiContext::default()
        };
        let rt = runtime();
        let authorize = |target: &Target| {
            let method = Method::from_bytes(target.0.as_bytes()).expect("method");
            let mut request = GatewayRequest::new(method, path_of(target));
            request.headers.insert("authorization", HeaderValue::from_static("Bearer one-caller"));
            let key = format!("{} {}", target.0, path_of(target));
            let matched =
                Matched { route: 0, key: Arc::from(key.as_str()), params: Vec::new(), raw_params: Vec::new() };
            let arn = arn_of(target);
            let call = Call { request: &request, matched: &matched, context: &context, arn: &arn, preset: None };
            rt.block_on(authorizer.authorize(call))
        };
        let ttl_us = i64::try_from(ttl_seconds).expect("small") * MICROS_PER_SEC;

        let (arn_a, arn_b) = (arn_of(&a), arn_of(&b));
        let first = authorize(&a);
        prop_assert_eq!(effect_of(&first), Some(policy.evaluate(&arn_a)), "A {}: {:?}", arn_a, first);
        prop_assert_eq!(policy.evaluate(&arn_a), reference_effect(&statements, &arn_a), "A {}", arn_a);
        prop_assert_eq!(function.calls.load(Ordering::SeqCst), 1);

        clock.advance_us(i64::try_from(within.index(usize::try_from(ttl_us).expect("small"))).expect("small"));
        let second = authorize(&b);
        prop_assert_eq!(function.calls.load(Ordering::SeqCst), 1, "the cached answer was not used");
        let expected = reference_effect(&statements, &arn_b);
        prop_assert_eq!(policy.evaluate(&arn_b), expected, "B {}", arn_b);
        prop_assert_eq!(effect_of(&second), Some(expected), "B {} after A {}: {:?}", arn_b, arn_a, second);
        if second.is_ok() {
            let matching = statements.iter().any(|s| {
                s.allow && !s.conditional && reference_effect(std::slice::from_ref(s), &arn_b) == Effect::Allow
            });
            prop_assert!(matching, "B {} allowed although no Allow statement matches it", arn_b);
        }

        clock.set_us(T0 + ttl_us + after);
        let third = authorize(&b);
        prop_assert_eq!(function.calls.load(Ordering::SeqCst), 2, "the answer outlived its TTL");
        prop_assert_eq!(effect_of(&third), Some(expected), "B {} after the TTL: {:?}", arn_b, third);
    }
}
