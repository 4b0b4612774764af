//! Exact quotas shared by many router instances.
//!
//! A quota counter in the store holds what remains of the period's allowance. An instance takes a block of
//! requests with one conditional decrement (never below zero, so the sum of all blocks never exceeds the
//! allowance) and admits from memory until the block is spent. Block size follows this instance's demand and
//! shrinks as the counter nears zero, so little sits unused in other instances' hands at the end of a period.
//! A block older than [`BLOCK_LIFETIME_US`] is given back before a new one is taken.
//!
//! When the store cannot be reached and the plan fails open, requests are served and counted as owed; the
//! debt is charged to the counter (it may go below zero) the next time the store answers.
//!
//! Give-backs and debt charges are unconditional adds, which the store applies at most once and which may fail
//! without saying whether they were applied ([`StoreError::OutcomeUnknown`]). Each is settled in the direction
//! that never over-admits: a give-back leaves the hand before it is sent and is never sent again once it may
//! have reached the store (the block is written off: under-admission by at most that block); a debt stays owed
//! until a charge is known to be applied, so it may be charged twice (under-admission) but never not at all.

use chrono::NaiveDate;
use tokio::sync::Mutex;

use crate::{
    clock::{MICROS_PER_SEC, Micros},
    store::{QuotaCounter, Store, StoreError},
    usage::{Plan, period},
};

/// How long a block may be held before its unspent part goes back to the counter.
pub const BLOCK_LIFETIME_US: Micros = 10 * MICROS_PER_SEC;
/// The largest block one instance takes.
const MAX_BLOCK: u64 = 1_000;

/// What the quota said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaVerdict {
    /// Admitted. `remaining` is what this instance knows remains (the store's count plus its own block).
    Admitted {
        limit: Option<u64>,
        remaining: Option<u64>,
        resets_at_ms: i64,
    },
    Exceeded {
        limit: u64,
        resets_at_ms: i64,
    },
}

/// One key's quota under one plan, as this instance sees it.
#[derive(Debug, Default)]
pub struct QuotaSlot {
    state: Mutex<BlockState>,
}

#[derive(Debug, Default)]
struct BlockState {
    period: Option<NaiveDate>,
    /// Requests left in the block in hand, the day it was taken (use is counted on that day), and when.
    left: u64,
    day: Option<NaiveDate>,
    taken_at: Micros,
    granted: u64,
    want: u64,
    /// The counter's remaining as last seen.
    store_remaining: Option<i64>,
    /// Requests served without the store (fail open), to charge when it answers again.
    owed: i64,
}

/// What a quota needs to know about the request's plan and key.
#[derive(Debug, Clone, Copy)]
pub struct QuotaScope<'a> {
    pub plan: &'a Plan,
    pub key_id: &'a str,
}

impl QuotaSlot {
    /// Admits one request at `now_us`, or says the quota is spent.
    pub async fn admit(
        &self,
        store: &dyn Store,
        scope: QuotaScope<'_>,
        now_us: Micros,
    ) -> Result<QuotaVerdict, StoreError> {
        let now_ms = now_us / 1_000;
        let period = scope.plan.quota.map_or(period::Period::Month, |q| q.period);
        let (start, resets_at_ms) = period.bounds(now_ms);
        let allowance = scope.plan.allowance(start);
        let counter = QuotaCounter { plan: &scope.plan.id, key: scope.key_id, period_start: start };
        let mut state = self.state.lock().await;
        if state.period != Some(start) {
            // A new period: whatever was held for the old one lapses with it.
            *state = BlockState { period: Some(start), want: 1, owed: state.owed, ..BlockState::default() };
        }
        if let Some(verdict) = state.spend(now_us, allowance, resets_at_ms) {
            return Ok(verdict);
        }
        // Settle what is owed and give back a stale block, then take a new one.
        let used_up = state.left == 0;
        state.give_back(store, counter, allowance).await?;
        let today = period::day_of(now_ms);
        if state.owed > 0 {
            // Cleared only once the charge is known to be applied; one whose outcome is unknown (or whose future
            // is dropped midway) is sent again next time: charged twice at worst, which under-admits.
            store.adjust_quota(counter, allowance, -state.owed, today).await?;
            state.owed = 0;
        }
        let want = state.next_block(used_up);
        let take = store.take_quota(counter, allowance, want, today).await?;
        state.store_remaining = take.remaining;
        state.granted = take.granted;
        state.taken_at = now_us;
        state.day = Some(today);
        if take.granted == 0 {
            return Ok(QuotaVerdict::Exceeded { limit: allowance.unwrap_or(0), resets_at_ms });
        }
        state.left = take.granted - 1;
        Ok(state.admitted(allowance, resets_at_ms))
    }

    /// Admits one request from a fresh block in hand, without the store; `None` when that would need the store
    /// (for a request that already found the store failing).
    pub async fn admit_in_hand(&self, scope: QuotaScope<'_>, now_us: Micros) -> Option<QuotaVerdict> {
        let period = scope.plan.quota.map_or(period::Period::Month, |q| q.period);
        let (start, resets_at_ms) = period.bounds(now_us / 1_000);
        let mut state = self.state.lock().await;
        if state.period != Some(start) {
            return None;
        }
        state.spend(now_us, scope.plan.allowance(start), resets_at_ms)
    }

    /// Counts a request served while the store was unavailable (fail open).
    pub async fn owe(&self) {
        self.state.lock().await.owed += 1;
    }

    /// Gives the unspent part of the block in hand back to the counter (on shutdown, or before a test counts).
    pub async fn release(&self, store: &dyn Store, scope: QuotaScope<'_>) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        if let Some(period) = state.period {
            let counter = QuotaCounter { plan: &scope.plan.id, key: scope.key_id, period_start: period };
            state.give_back(store, counter, scope.plan.allowance(period)).await?;
        }
        Ok(())
    }
}

impl BlockState {
    /// Spends one request of a fresh block in hand.
    fn spend(&mut self, now_us: Micros, allowance: Option<u64>, resets_at_ms: i64) -> Option<QuotaVerdict> {
        let fresh = now_us - self.taken_at < BLOCK_LIFETIME_US;
        if self.left == 0 || !fresh {
            return None;
        }
        self.left -= 1;
        Some(self.admitted(allowance, resets_at_ms))
    }

    fn admitted(&self, allowance: Option<u64>, resets_at_ms: i64) -> QuotaVerdict {
        QuotaVerdict::Admitted {
            limit: allowance,
            remaining: self.store_remaining.map(|r| u64::try_from(r).unwrap_or(0) + self.left),
            resets_at_ms,
        }
    }

    /// Gives the unspent block back to the counter (use is uncounted on the day it was taken), at most once: the
    /// block leaves the hand before the write is sent, and comes back only if the store says it was not applied,
    /// to be given back later. A give-back that may have been applied (its outcome unknown, or its future
    /// dropped midway) is never sent again: sent twice, it would admit more than the quota.
    async fn give_back(
        &mut self,
        store: &dyn Store,
        counter: QuotaCounter<'_>,
        allowance: Option<u64>,
    ) -> Result<(), StoreError> {
        let Some(day) = self.day else { return Ok(()) };
        let left = std::mem::take(&mut self.left);
        if left == 0 {
            return Ok(());
        }
        match store.adjust_quota(counter, allowance, i64::try_from(left).unwrap_or(i64::MAX), day).await {
            Ok(()) => Ok(()),
            Err(unknown @ StoreError::OutcomeUnknown(_)) => {
                tracing::warn!(written_off = left, error = %unknown, "a quota give-back may not have been applied; not sending it again");
                Err(unknown)
            }
            Err(refused) => {
                self.left = left;
                Err(refused)
            }
        }
    }

    /// Doubles while blocks are used up, and never asks for more than an eighth of what the counter has left,
    /// so blocks shrink as the quota runs out.
    fn next_block(&mut self, used_up: bool) -> u64 {
        if self.granted > 0 && used_up {
            self.want = self.want.saturating_mul(2);
        } else if self.granted > 0 {
            self.want /= 2;
        }
        let mut want = self.want.clamp(1, MAX_BLOCK);
        if let Some(remaining) = self.store_remaining {
            want = want.min(u64::try_from(remaining / 8).unwrap_or(0).max(1));
        }
        self.want = want;
        want
    }
}
