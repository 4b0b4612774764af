//! Quota blocks: never more admitted than the allowance, nothing lost or counted twice.

use super::*;

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
