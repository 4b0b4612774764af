//! Throttle buckets (`BUCKET#{name}`): one number, the bucket's theoretical arrival time (`tat`), moved by
//! conditional updates. A slice is taken in up to three phases, each one conditional write at most:
//!
//! 1. `idle`: the bucket is behind now, so the slice starts now (the common case at low load);
//! 2. `extend_congested`: the bucket runs ahead of now, and all the tokens asked for still conform;
//! 3. `what_conforms`: neither fit, so read the bucket and take exactly what conforms (GCRA), or learn
//!    when the next token will.
//!
//! A phase that loses a race (its condition fails) hands over to the next; the round repeats a few times, then
//! the caller is told to retry one interval later. Which phase to start with is remembered per bucket.

use std::collections::HashMap;

use super::{DynamoStore, Lost, ONLY, Update, n, num, values};
use crate::{
    clock::Micros,
    store::{Cadence, Slice, StoreError, gcra, gcra_retry_limit},
};

/// How long an idle throttle bucket is kept past its last token.
const BUCKET_KEEP_SECS: i64 = 3_600;

/// One slice request against one bucket.
struct Take<'a> {
    store: &'a DynamoStore,
    pk: String,
    cadence: Cadence,
    want: u32,
    now_us: Micros,
    ttl: i64,
}

/// What a phase found.
enum Phase {
    Done(Slice),
    /// The bucket was idle after all (or emptied): start again from phase 1.
    Idle,
    /// The bucket runs ahead of now: go on to (or stay in) the congested phases.
    Congested,
}

pub(super) async fn take_slice(
    store: &DynamoStore,
    bucket: &str,
    cadence: Cadence,
    want: u32,
    now_us: Micros,
) -> Result<Slice, StoreError> {
    // No slice holds more than a burst: every token must conform when granted.
    let burst = u32::try_from(cadence.tolerance_us / cadence.interval_us + 1).unwrap_or(u32::MAX);
    let take = Take {
        store,
        pk: format!("BUCKET#{bucket}"),
        cadence,
        want: want.clamp(1, burst.max(1)),
        now_us,
        ttl: now_us / 1_000_000 + cadence.tolerance_us / 1_000_000 + BUCKET_KEEP_SECS,
    };
    let mut congested = store.congested.lock().map(|set| set.contains(bucket)).unwrap_or(false);
    for _ in 0..gcra_retry_limit() {
        // Not idle after all when it finds nothing: on to the congested phases.
        if !congested && let Some(slice) = take.idle().await? {
            store.remember_congestion(bucket, false);
            return Ok(slice);
        }
        if let Some(slice) = take.extend_congested().await? {
            store.remember_congestion(bucket, true);
            return Ok(slice);
        }
        match take.what_conforms().await? {
            Phase::Done(slice) => {
                store.remember_congestion(bucket, true);
                return Ok(slice);
            }
            Phase::Idle => congested = false,
            Phase::Congested => congested = true,
        }
    }
    // Lost every race: others are taking this bucket's tokens right now. Try again one interval later.
    Ok(Slice::Refused { retry_at_us: now_us + cadence.interval_us })
}

impl Take<'_> {
    fn names() -> HashMap<String, String> {
        HashMap::from([("#ttl".to_owned(), "ttl".to_owned())])
    }

    fn span(&self) -> i64 {
        i64::from(self.want) * self.cadence.interval_us
    }

    /// Phase 1: the bucket's arrival time is behind now, so the slice starts now.
    async fn idle(&self) -> Result<Option<Slice>, StoreError> {
        let done = self
            .store
            .update(Update {
                pk: &self.pk,
                sk: ONLY,
                expression: "SET tat = :end, #ttl = :ttl",
                condition: Some("attribute_not_exists(tat) OR tat <= :now"),
                names: Self::names(),
                values: values([
                    (":end", n(self.now_us + self.span())),
                    (":now", n(self.now_us)),
                    (":ttl", n(self.ttl)),
                ]),
            })
            .await;
        match done {
            Ok(_) => Ok(Some(Slice::Granted { start_us: self.now_us, count: self.want })),
            Err(Lost::Condition) => Ok(None),
            Err(Lost::Error(e)) => Err(e),
        }
    }

    /// Phase 2: the bucket runs ahead of now; extend it if all `want` tokens still
    /// conform.
    async fn extend_congested(&self) -> Result<Option<Slice>, StoreError> {
        let step = self.cadence.interval_us;
        let limit = self.now_us + self.cadence.tolerance_us - i64::from(self.want.saturating_sub(1)) * step;
        let done = self
            .store
            .update(Update {
                pk: &self.pk,
                sk: ONLY,
                expression: "SET tat = tat + :span, #ttl = :ttl",
                condition: Some("tat > :now AND tat <= :limit"),
                names: Self::names(),
                values: values([
                    (":span", n(self.span())),
                    (":now", n(self.now_us)),
                    (":limit", n(limit)),
                    (":ttl", n(self.ttl)),
                ]),
            })
            .await;
        match done {
            Ok(Some(item)) => {
                let end = num(&item, "tat").ok_or_else(|| StoreError::Failed("bucket without tat".into()))?;
                Ok(Some(Slice::Granted { start_us: end - self.span(), count: self.want }))
            }
            Ok(None) => Err(StoreError::Failed("update returned no attributes".to_owned())),
            Err(Lost::Condition) => Ok(None),
            Err(Lost::Error(e)) => Err(e),
        }
    }

    /// Phase 3: read the bucket and take exactly the tokens that conform now (fewer
    /// than asked), or learn when the next one will.
    async fn what_conforms(&self) -> Result<Phase, StoreError> {
        let item = self.store.get(&self.pk, ONLY).await?;
        let seen = item.as_ref().and_then(|i| num(i, "tat"));
        let Some(seen) = seen.filter(|t| *t > self.now_us) else { return Ok(Phase::Idle) };
        let (slice, new_tat) = gcra::take(Some(seen), self.cadence, self.want, self.now_us);
        let (Slice::Granted { .. }, Some(new_tat)) = (slice, new_tat) else { return Ok(Phase::Done(slice)) };
        let done = self
            .store
            .update(Update {
                pk: &self.pk,
                sk: ONLY,
                expression: "SET tat = :new, #ttl = :ttl",
                condition: Some("tat = :seen"),
                names: Self::names(),
                values: values([(":new", n(new_tat)), (":seen", n(seen)), (":ttl", n(self.ttl))]),
            })
            .await;
        match done {
            Ok(_) => Ok(Phase::Done(slice)),
            Err(Lost::Condition) => Ok(Phase::Congested),
            Err(Lost::Error(e)) => Err(e),
        }
    }
}
