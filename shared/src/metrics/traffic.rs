//! The dashboard's answers per day ([`Traffic`]: requests, 4xx, 5xx, 429), counted in the instance and added to
//! the store at most once a minute: at the end of a request once the minute has passed, before its answer is
//! returned (on Lambda the last moment an instance is sure to run; that one request waits for the write) and
//! on shutdown ([`TrafficTally::flush`]). Never per request: a store
//! write per request would cost more than the invoke fee (README, cost table). An instance that stops without
//! a flush loses its last minute's counts, as its EMF metrics lose theirs.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
};

use chrono::NaiveDate;

use crate::{
    clock::{MICROS_PER_SEC, Micros, SharedClock},
    store::{Store, StoreError, Traffic},
    usage::period::day_of,
};

/// How often an instance adds its counts to the store, at most.
pub const FLUSH_SECONDS: i64 = 60;

#[derive(Debug, Default)]
struct Pending {
    days: BTreeMap<NaiveDate, Traffic>,
    /// When the counts were last taken for the store.
    since_us: Micros,
    /// A write is on its way: a second request past the minute leaves it alone.
    writing: bool,
}

/// One instance's counts of one stage's answers, by UTC day.
pub struct TrafficTally {
    stage: String,
    store: Arc<dyn Store>,
    clock: SharedClock,
    pending: Mutex<Pending>,
}

impl std::fmt::Debug for TrafficTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrafficTally").field("stage", &self.stage).finish_non_exhaustive()
    }
}

impl TrafficTally {
    pub fn new(stage: &str, store: Arc<dyn Store>, clock: SharedClock) -> Self {
        let since_us = clock.now_us();
        Self { stage: stage.to_owned(), store, clock, pending: Mutex::new(Pending { since_us, ..Pending::default() }) }
    }

    /// Counts one answer on today's (UTC) row. Never waits.
    pub fn record(&self, status: u16) {
        let day = day_of(self.clock.now_ms());
        self.lock().days.entry(day).or_default().count(status);
    }

    /// Adds the counts to the store when a minute has passed since they were last taken.
    pub async fn settle(&self) {
        let now = self.clock.now_us();
        let taken = {
            let mut pending = self.lock();
            let due = now - pending.since_us >= FLUSH_SECONDS * MICROS_PER_SEC;
            if !due || pending.writing || pending.days.is_empty() {
                return;
            }
            pending.writing = true;
            pending.since_us = now;
            std::mem::take(&mut pending.days)
        };
        self.write(taken).await;
    }

    /// Adds whatever is counted now (shutdown, tests).
    pub async fn flush(&self) {
        let taken = {
            let mut pending = self.lock();
            pending.writing = true;
            pending.since_us = self.clock.now_us();
            std::mem::take(&mut pending.days)
        };
        self.write(taken).await;
    }

    async fn write(&self, days: BTreeMap<NaiveDate, Traffic>) {
        let mut kept = BTreeMap::new();
        for (day, traffic) in days {
            match self.store.add_traffic(&self.stage, day, traffic).await {
                Ok(()) => {}
                // It may have been counted: sending it again could count it twice, so it is dropped.
                Err(StoreError::OutcomeUnknown(e)) => {
                    tracing::warn!(%day, requests = traffic.requests, error = %e, "daily traffic counts may not have been stored; not sending them again");
                }
                // Not applied: kept for the next minute.
                Err(e) => {
                    tracing::warn!(%day, error = %e, "daily traffic counts not stored; trying again in a minute");
                    kept.insert(day, traffic);
                }
            }
        }
        let mut pending = self.lock();
        pending.writing = false;
        for (day, traffic) in kept {
            pending.days.entry(day).or_default().add(traffic);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{clock::ManualClock, store::embedded::EmbeddedStore};

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).expect("a date")
    }

    #[tokio::test]
    async fn counts_reach_the_store_once_a_minute_and_by_day() {
        let clock = ManualClock::at(crate::usage::period::midnight_ms(day(29)) * 1_000 + 86_399 * MICROS_PER_SEC);
        let store = Arc::new(EmbeddedStore::in_memory());
        let tally = TrafficTally::new("prod", Arc::clone(&store) as _, Arc::new(clock.clone()));
        for status in [200, 404, 429, 503] {
            tally.record(status);
            tally.settle().await;
        }
        assert!(store.traffic(day(29), day(30)).await.expect("read").is_empty(), "nothing before the minute");
        clock.advance_us(60 * MICROS_PER_SEC);
        tally.record(200);
        tally.settle().await;
        let stored = store.traffic(day(29), day(30)).await.expect("read");
        let counts: Vec<_> = stored.iter().map(|d| (d.day, d.stage.as_str(), d.traffic)).collect();
        let traffic = |requests, client_errors, server_errors, throttled| Traffic {
            requests,
            client_errors,
            server_errors,
            throttled,
        };
        assert_eq!(counts, [(day(29), "prod", traffic(4, 2, 1, 1)), (day(30), "prod", traffic(1, 0, 0, 0))]);
        tally.record(500);
        tally.flush().await;
        let today = store.traffic(day(30), day(30)).await.expect("read");
        assert_eq!(today[0].traffic, traffic(2, 0, 1, 0));
    }
}
