//! Where keys, plans and metering state live. The [`Store`] trait is named for what the gateway does (find a
//! key's value, take a slice of a throttle, take quota), not for storage mechanics, and it is narrow enough to
//! be implemented exactly on DynamoDB without transactions:
//!
//! * [`dynamo::DynamoStore`]: one DynamoDB table, for the router on Lambda (table design in
//!   `docs/keys-and-plans.md`);
//! * [`embedded::EmbeddedStore`]: in memory with a file behind it, the default for `tollgate serve`.
//!
//! Both pass the same conformance suite (`tests/store_conformance.rs`).

pub mod cache;
pub mod connections;
pub mod dynamo;
pub mod embedded;
mod gcra;
pub mod traced;

use std::{collections::BTreeMap, future::Future, pin::Pin};

use chrono::NaiveDate;
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    clock::Micros,
    usage::{ApiKey, KeyHash, Plan},
};

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the value or record already exists, or its version moved on.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The store cannot be reached, timed out, or is throttling: the meter's fail mode decides.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a corrupt record, an unreadable file, a refused request.
    #[error("store failed: {0}")]
    Failed(String),
    /// A write went out and no answer came back (a timeout, a dropped connection, a 5xx): it may or may not
    /// have been applied. Only writes a store applies at most once say so ([`Store::adjust_quota`],
    /// [`Store::grant_quota`]); any other error from those means the write was not applied.
    #[error("store outcome unknown: {0}")]
    OutcomeUnknown(String),
}

/// Which kind of record a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    Key,
    Plan,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Key => "KEY",
            Self::Plan => "PLAN",
        }
    }
}

/// One page of a listing, in id order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `after` to read the next page.
    pub next: Option<String>,
}

/// A throttle bucket's GCRA parameters: one token every `interval_us`, up to `tolerance_us` ahead of now
/// (`tolerance = (burst - 1) * interval`, so `burst` requests may arrive at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub interval_us: Micros,
    pub tolerance_us: Micros,
}

/// What a throttle bucket granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// `count` tokens with the virtual times `start_us + k * interval_us`; token `k` may be spent while
    /// `now <= start_us + k * interval_us` (and no earlier than that minus the tolerance, which holds when granted).
    Granted { start_us: Micros, count: u32 },
    /// The bucket is empty; its next token conforms at `retry_at_us`.
    Refused { retry_at_us: Micros },
}

/// One quota counter: a key under a plan, for the period starting on `period_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaCounter<'a> {
    pub plan: &'a str,
    pub key: &'a str,
    pub period_start: NaiveDate,
}

/// A quota take's result: how much was granted (0 ..= want) and what the counter has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaTake {
    pub granted: u64,
    /// What remains after the take; `None` when the plan has no quota limit.
    pub remaining: Option<i64>,
}

/// A quota counter as stored: the allowance it started with, extra granted, what remains, and per-day use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuotaRecord {
    pub period_start: Option<NaiveDate>,
    pub remaining: Option<i64>,
    pub extra: i64,
    pub used_by_day: BTreeMap<NaiveDate, i64>,
}

/// A stage's answers on one day, as the operator's dashboard shows them: every request, and those that were
/// client errors (4xx, 429 included), server errors (5xx) and throttled (429).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Traffic {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub throttled: u64,
}

impl Traffic {
    /// Counts one answer with this status.
    pub fn count(&mut self, status: u16) {
        self.requests += 1;
        self.client_errors += u64::from((400..500).contains(&status));
        self.server_errors += u64::from(status >= 500);
        self.throttled += u64::from(status == 429);
    }

    pub fn add(&mut self, other: Self) {
        self.requests = self.requests.saturating_add(other.requests);
        self.client_errors = self.client_errors.saturating_add(other.client_errors);
        self.server_errors = self.server_errors.saturating_add(other.server_errors);
        self.throttled = self.throttled.saturating_add(other.throttled);
    }
}

/// One stage's [`Traffic`] on one day, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTraffic {
    pub day: NaiveDate,
    pub stage: String,
    pub traffic: Traffic,
}

/// The store's verbs. Every write that can race is conditional; none needs a transaction.
pub trait Store: cache::CacheStore + Send + Sync {
    /// What trace documents call it: the service the calls reach.
    fn name(&self) -> &'static str {
        "store"
    }

    // ---- key values (the hash of each value a key can be opened with) ----

    /// Records that `hash` opens key `key_id`. Conflict if the value is already taken (values are unique).
    fn insert_key_value<'a>(&'a self, hash: &'a KeyHash, key_id: &'a str) -> StoreFuture<'a, ()>;
    /// Which key a value opens, and until when (set once the value was rolled away).
    fn find_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, Option<(String, Option<i64>)>>;
    /// Sets when a value stops working (ms since the epoch).
    fn expire_key_value<'a>(&'a self, hash: &'a KeyHash, not_after_ms: i64) -> StoreFuture<'a, ()>;
    /// Forgets a value; forgetting one that is gone is not an error.
    fn delete_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, ()>;

    // ---- records (keys and plans, as JSON documents with a version) ----

    /// Writes a document. `expected` `None` means it must not exist yet; `Some(v)` that its stored version is
    /// `v`. Conflict otherwise. The document's own version field is the caller's business.
    fn put_record<'a>(
        &'a self,
        kind: Kind,
        id: &'a str,
        doc: &'a str,
        version: u64,
        expected: Option<u64>,
    ) -> StoreFuture<'a, ()>;
    fn get_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, Option<String>>;
    /// Up to `limit` documents with ids after `after`, in id order.
    fn list_records<'a>(&'a self, kind: Kind, limit: u32, after: Option<&'a str>) -> StoreFuture<'a, Page<String>>;
    /// Deletes a document; NotFound if there is none.
    fn delete_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, ()>;

    // ---- metering ----

    /// Takes up to `want` tokens from a throttle bucket (GCRA), all conforming at `now_us`.
    fn take_slice<'a>(&'a self, bucket: &'a str, cadence: Cadence, want: u32, now_us: Micros)
    -> StoreFuture<'a, Slice>;
    /// Takes up to `want` requests from a quota counter that starts with `allowance` (None: unlimited, count
    /// only), and counts them as used on `day`.
    fn take_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        want: u64,
        day: NaiveDate,
    ) -> StoreFuture<'a, QuotaTake>;
    /// Adds `n` to a counter's remaining, and subtracts it from `day`'s use: unspent requests given back
    /// (`n` > 0) or requests served while the store was down, charged late (`n` < 0, may go below zero).
    /// Not idempotent, so applied at most once: the store never sends it again after an attempt that may have
    /// reached it, and says [`StoreError::OutcomeUnknown`] when it cannot tell whether it was applied.
    fn adjust_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        n: i64,
        day: NaiveDate,
    ) -> StoreFuture<'a, ()>;
    /// Grants `extra` requests on top of the allowance for this period (API Gateway's UpdateUsage). Applied at
    /// most once, like [`Store::adjust_quota`].
    fn grant_quota<'a>(&'a self, counter: QuotaCounter<'a>, allowance: Option<u64>, extra: u64)
    -> StoreFuture<'a, i64>;
    /// The counters of one key under one plan whose periods start between `from` and `to`, inclusive.
    fn quota_records<'a>(
        &'a self,
        plan: &'a str,
        key: &'a str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreFuture<'a, Vec<QuotaRecord>>;

    // ---- traffic (the dashboard's answers per day) ----

    /// Adds what one instance answered for `stage` on `day`. Applied at most once, like
    /// [`Store::adjust_quota`]: counted twice would be wrong, so an unknown outcome is the caller's to drop.
    fn add_traffic<'a>(&'a self, stage: &'a str, day: NaiveDate, traffic: Traffic) -> StoreFuture<'a, ()>;
    /// Every stage's counts per day from `from` to `to`, inclusive, by day then stage.
    fn traffic<'a>(&'a self, from: NaiveDate, to: NaiveDate) -> StoreFuture<'a, Vec<DayTraffic>>;
}

/// Typed access to the records, the same for every store.
impl dyn Store + '_ {
    pub async fn get_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        decode_opt(self.get_record(Kind::Key, id).await?)
    }

    pub async fn get_plan(&self, id: &str) -> Result<Option<Plan>, StoreError> {
        decode_opt(self.get_record(Kind::Plan, id).await?)
    }
}

pub(crate) fn decode_opt<T: DeserializeOwned>(doc: Option<String>) -> Result<Option<T>, StoreError> {
    doc.map(|d| decode(&d)).transpose()
}

pub(crate) fn decode<T: DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Failed(format!("corrupt record: {e}")))
}

pub(crate) fn encode<T: Serialize>(record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Failed(e.to_string()))
}

/// The day attribute name a quota counter counts one day's use under.
pub(crate) fn day_label(day: NaiveDate) -> String {
    day.format("d%Y%m%d").to_string()
}

pub(crate) fn parse_day_label(label: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(label.strip_prefix('d')?, "%Y%m%d").ok()
}

/// The first sort key past every `{day}#{stage}` of days up to `to`: `$` follows `#` in ASCII, and `{to}$` comes
/// before the next day's `{to+1}` (a date's digits differ before position 10).
pub(crate) fn traffic_until(to: NaiveDate) -> String {
    format!("{to}$")
}

/// How many rounds a store tries a contended conditional update before giving up for now.
pub(crate) const fn gcra_retry_limit() -> usize {
    8
}
