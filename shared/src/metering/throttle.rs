//! Exact throttling shared by many router instances.
//!
//! A throttle is a GCRA token bucket kept in the store as one number, its theoretical arrival time (TAT). An
//! instance does not write per request: it takes a *slice* of the bucket's timeline, `n` consecutive tokens
//! with virtual times `start + k * interval`, in one conditional update, and spends them from memory. A token
//! may be spent only while it conforms: no earlier than its virtual time minus the tolerance (true when it is
//! granted) and no later than its virtual time (after that it has expired, unused). Every admitted request
//! therefore owns a distinct interval-long slot of one global timeline within the tolerance of its arrival,
//! which is exactly a token bucket's promise: over any window of `w` seconds, at most
//! `burst + rate * w` requests, however many instances there are.
//!
//! Slice size adapts to how fast this instance spends: it doubles when a slice ran out while still valid and
//! halves when most of one expired. Refusals are remembered until a whole slice conforms, so a flood of
//! throttled requests costs no store operation, and instances contending for an overloaded bucket pay one
//! write per slice rather than one per token.

use tokio::sync::Mutex;

use crate::{
    clock::{MICROS_PER_SEC, Micros},
    store::{Cadence, Slice, Store, StoreError},
    usage::Throttle,
};

/// Tokens an instance refused by an overloaded bucket waits for before asking again. Larger saves writes;
/// smaller keeps admission closer to the bucket's own timing (measured: `docs/performance.md`, under-admission).
const OVERLOAD_SLICE: u32 = 4;
/// A slice of an idle bucket is spent or lost by `start + count * interval`; ask for at least enough tokens to
/// span this long, or a fast bucket's slices (1 µs apart at 1M/s) would expire between two requests.
const MIN_SLICE_SPAN_US: Micros = MICROS_PER_SEC;

/// What one throttle said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admitted,
    /// Refused; the next token conforms at this time.
    Throttled {
        retry_at_us: Micros,
    },
}

/// One throttle bucket as one instance sees it.
#[derive(Debug)]
pub struct ThrottleBucket {
    name: String,
    throttle: Throttle,
    cadence: Cadence,
    /// The most tokens one slice may hold: a quarter of the burst, so one instance leaves room for others.
    max_slice: u32,
    /// Tokens that span [`MIN_SLICE_SPAN_US`].
    min_by_span: u32,
    state: Mutex<SliceState>,
}

#[derive(Debug, Default)]
struct SliceState {
    /// The virtual time of the next token in hand, and the end of the slice.
    next: Micros,
    end: Micros,
    granted: u32,
    spent: u32,
    /// Tokens to ask for next time.
    want: u32,
    /// Known refused until then.
    refused_until: Micros,
}

impl ThrottleBucket {
    pub fn new(name: String, throttle: Throttle) -> Self {
        let cadence = cadence_of(throttle);
        let max_slice = (throttle.burst_limit / 4).max(1);
        let min_by_span = u32::try_from(MIN_SLICE_SPAN_US / cadence.interval_us).unwrap_or(u32::MAX).max(1);
        Self {
            name,
            throttle,
            cadence,
            max_slice,
            min_by_span,
            state: Mutex::new(SliceState { want: 1, ..SliceState::default() }),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The settings this bucket was made for.
    pub fn throttle(&self) -> Throttle {
        self.throttle
    }

    /// Admits one request at `now` if a conforming token is in hand or can be had from the store.
    pub async fn admit(&self, store: &dyn Store, now: Micros) -> Result<Verdict, StoreError> {
        let mut state = self.state.lock().await;
        if now < state.refused_until {
            return Ok(Verdict::Throttled { retry_at_us: state.refused_until });
        }
        if state.spend(now, self.cadence.interval_us) {
            return Ok(Verdict::Admitted);
        }
        state.resize(self.max_slice, self.min_by_span);
        match store.take_slice(&self.name, self.cadence, state.want, now).await? {
            Slice::Granted { start_us, count } => {
                state.next = start_us;
                state.end = start_us + i64::from(count) * self.cadence.interval_us;
                state.granted = count;
                state.spent = 0;
                if state.spend(now, self.cadence.interval_us) {
                    Ok(Verdict::Admitted)
                } else {
                    // Cannot happen for a slice granted at `now`; refuse rather than over-admit.
                    Ok(Verdict::Throttled { retry_at_us: now + self.cadence.interval_us })
                }
            }
            Slice::Refused { retry_at_us } => {
                // Overloaded: come back when a whole slice conforms, not just one token, so contending
                // instances pay one write per slice instead of one per token. Nothing is lost by waiting:
                // those tokens' virtual times are still ahead of the bucket, so they conform then.
                let wait = self.max_slice.min(OVERLOAD_SLICE);
                state.want = wait;
                state.granted = 0;
                state.refused_until = retry_at_us + i64::from(wait - 1) * self.cadence.interval_us;
                Ok(Verdict::Throttled { retry_at_us })
            }
        }
    }

    /// Returns the token of a request a later check refused, so it is not lost (only if it was the last one
    /// taken; otherwise it simply expires unused, which under-admits but never over-admits).
    pub async fn refund(&self) {
        let mut state = self.state.lock().await;
        if state.spent > 0 {
            state.spent -= 1;
            state.next -= self.cadence.interval_us;
        }
    }
}

impl SliceState {
    fn spend(&mut self, now: Micros, interval: Micros) -> bool {
        // Tokens whose virtual time has passed have expired; the next usable one is at `now` or later.
        let slot = self.next.max(now);
        if slot + interval > self.end {
            return false;
        }
        self.next = slot + interval;
        self.spent += 1;
        true
    }

    fn resize(&mut self, max: u32, min: u32) {
        if self.granted > 0 {
            if self.spent >= self.granted {
                self.want = self.want.saturating_mul(2);
            } else if self.spent * 2 < self.granted {
                self.want /= 2;
            }
        }
        self.want = self.want.max(min).clamp(1, max);
    }
}

/// A throttle's GCRA cadence in microseconds. The interval rounds up, so rounding never admits more.
pub fn cadence_of(throttle: Throttle) -> Cadence {
    #[allow(clippy::cast_possible_truncation)]
    let interval_us = ((MICROS_PER_SEC as f64) / throttle.rate_limit).ceil().max(1.0) as i64;
    Cadence { interval_us, tolerance_us: interval_us * i64::from(throttle.burst_limit.saturating_sub(1)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::EmbeddedStore;

    #[tokio::test]
    async fn admits_the_burst_then_the_rate() {
        let store = EmbeddedStore::in_memory();
        let bucket = ThrottleBucket::new("t".into(), Throttle { rate_limit: 10.0, burst_limit: 5 });
        let t0 = 1_000 * MICROS_PER_SEC;
        let mut admitted = 0;
        for _ in 0..20 {
            if bucket.admit(&store, t0).await.expect("store") == Verdict::Admitted {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5, "a burst of 5 at one instant");
        // 100 ms later one more token conforms.
        assert_eq!(bucket.admit(&store, t0 + 100_000).await.expect("store"), Verdict::Admitted);
        assert!(matches!(bucket.admit(&store, t0 + 100_000).await.expect("store"), Verdict::Throttled { .. }));
    }
}
