//! A store that records each call a request makes (keys, plans, throttle slices, quota, the shared cache) as a
//! span of the request being traced (see `trace::timed`), for stages with tracing on. The pipeline wraps its
//! store in one at cold start; calls made outside a traced request (a spawned give-back, an untraced request)
//! only pass through. Administration verbs, which no request makes, pass through unwrapped: each wrapped verb
//! is code in the router.

use std::sync::Arc;

use chrono::NaiveDate;

use super::{
    Cadence, DayTraffic, Kind, Page, QuotaCounter, QuotaRecord, QuotaTake, Slice, Store, StoreFuture, Traffic,
    cache::{CacheStore, Generations},
};
use crate::{
    clock::{Micros, SharedClock},
    trace::{SpanKind, timed},
    usage::KeyHash,
};

pub struct Traced {
    inner: Arc<dyn Store>,
    clock: SharedClock,
}

impl Traced {
    pub fn new(inner: Arc<dyn Store>, clock: SharedClock) -> Self {
        Self { inner, clock }
    }
}

/// The inner store's call `$call`, timed as the span `$operation`.
macro_rules! traced {
    ($self:ident, $operation:literal, $call:expr) => {
        Box::pin(timed($self.clock.as_ref(), $self.inner.name(), SpanKind::Store { operation: $operation }, $call))
    };
}

impl CacheStore for Traced {
    fn get_entry<'a>(&'a self, key: &'a str, now_ms: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        traced!(self, "get_entry", self.inner.get_entry(key, now_ms))
    }

    fn put_entry<'a>(&'a self, key: &'a str, entry: &'a [u8], expires_at_ms: i64) -> StoreFuture<'a, ()> {
        traced!(self, "put_entry", self.inner.put_entry(key, entry, expires_at_ms))
    }

    fn delete_entry<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        traced!(self, "delete_entry", self.inner.delete_entry(key))
    }

    fn generations<'a>(&'a self, stage: &'a str) -> StoreFuture<'a, Generations> {
        traced!(self, "generations", self.inner.generations(stage))
    }

    fn flush<'a>(&'a self, stage: &'a str, tag: Option<&'a str>) -> StoreFuture<'a, Generations> {
        self.inner.flush(stage, tag)
    }
}

impl Store for Traced {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn insert_key_value<'a>(&'a self, hash: &'a KeyHash, key_id: &'a str) -> StoreFuture<'a, ()> {
        self.inner.insert_key_value(hash, key_id)
    }

    fn find_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, Option<(String, Option<i64>)>> {
        traced!(self, "find_key_value", self.inner.find_key_value(hash))
    }

    fn expire_key_value<'a>(&'a self, hash: &'a KeyHash, not_after_ms: i64) -> StoreFuture<'a, ()> {
        self.inner.expire_key_value(hash, not_after_ms)
    }

    fn delete_key_value<'a>(&'a self, hash: &'a KeyHash) -> StoreFuture<'a, ()> {
        self.inner.delete_key_value(hash)
    }

    fn put_record<'a>(
        &'a self,
        kind: Kind,
        id: &'a str,
        doc: &'a str,
        version: u64,
        expected: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        self.inner.put_record(kind, id, doc, version, expected)
    }

    fn get_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, Option<String>> {
        traced!(self, "get_record", self.inner.get_record(kind, id))
    }

    fn list_records<'a>(&'a self, kind: Kind, limit: u32, after: Option<&'a str>) -> StoreFuture<'a, Page<String>> {
        self.inner.list_records(kind, limit, after)
    }

    fn delete_record<'a>(&'a self, kind: Kind, id: &'a str) -> StoreFuture<'a, ()> {
        self.inner.delete_record(kind, id)
    }

    fn take_slice<'a>(
        &'a self,
        bucket: &'a str,
        cadence: Cadence,
        want: u32,
        now_us: Micros,
    ) -> StoreFuture<'a, Slice> {
        traced!(self, "take_slice", self.inner.take_slice(bucket, cadence, want, now_us))
    }

    fn take_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        want: u64,
        day: NaiveDate,
    ) -> StoreFuture<'a, QuotaTake> {
        traced!(self, "take_quota", self.inner.take_quota(counter, allowance, want, day))
    }

    fn adjust_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        n: i64,
        day: NaiveDate,
    ) -> StoreFuture<'a, ()> {
        traced!(self, "adjust_quota", self.inner.adjust_quota(counter, allowance, n, day))
    }

    fn grant_quota<'a>(
        &'a self,
        counter: QuotaCounter<'a>,
        allowance: Option<u64>,
        extra: u64,
    ) -> StoreFuture<'a, i64> {
        self.inner.grant_quota(counter, allowance, extra)
    }

    fn quota_records<'a>(
        &'a self,
        plan: &'a str,
        key: &'a str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreFuture<'a, Vec<QuotaRecord>> {
        self.inner.quota_records(plan, key, from, to)
    }

    // Written after a request's answer, outside any recorded request: nothing to time.
    fn add_traffic<'a>(&'a self, stage: &'a str, day: NaiveDate, traffic: Traffic) -> StoreFuture<'a, ()> {
        self.inner.add_traffic(stage, day, traffic)
    }

    fn traffic<'a>(&'a self, from: NaiveDate, to: NaiveDate) -> StoreFuture<'a, Vec<DayTraffic>> {
        self.inner.traffic(from, to)
    }
}
