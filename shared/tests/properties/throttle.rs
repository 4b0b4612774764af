//! GCRA: never more than `burst + rate × w` admitted over any window.

use super::*;

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
