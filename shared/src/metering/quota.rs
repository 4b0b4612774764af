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
        let admitted = |state: &BlockState| QuotaVerdict::Admitted {
            limit: allowance,
            remaining: state.store_remaining.map(|r| u64::try_from(r).unwrap_or(0) + state.left),
            resets_at_ms,
        };
        let fresh = now_us - state.taken_at < BLOCK_LIFETIME_US;
        if state.left > 0 && fresh {
            state.left -= 1;
            return Ok(admitted(&state));
        }
        // Settle what is owed and give back a stale block, then take a new one.
        let used_up = state.left == 0;
        if state.left > 0
            && let Some(day) = state.day
        {
            let back = i64::try_from(state.left).unwrap_or(i64::MAX);
            store.adjust_quota(counter, allowance, back, day).await?;
            state.left = 0;
        }
        let today = period::day_of(now_ms);
        if state.owed > 0 {
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
        Ok(admitted(&state))
    }

    /// Counts a request served while the store was unavailable (fail open).
    pub async fn owe(&self) {
        self.state.lock().await.owed += 1;
    }

    /// Gives the unspent part of the block in hand back to the counter (on shutdown, or before a test counts).
    pub async fn release(&self, store: &dyn Store, scope: QuotaScope<'_>) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        if let (Some(period), Some(day)) = (state.period, state.day)
            && state.left > 0
        {
            let counter = QuotaCounter { plan: &scope.plan.id, key: scope.key_id, period_start: period };
            let back = i64::try_from(state.left).unwrap_or(i64::MAX);
            store.adjust_quota(counter, scope.plan.allowance(period), back, day).await?;
            state.left = 0;
        }
        Ok(())
    }
}

impl BlockState {
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
