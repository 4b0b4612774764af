//! Metering: the engine one gateway instance runs per request. It finds who is calling (API key → plan,
//! cached) and whether their throttles and quota admit the request. It holds only per-instance state (caches
//! and token slices); everything shared between instances is in the store. HTTP requests (the pipeline's
//! limits stage) and WebSocket messages both go through [`Meter::admit`], so they name the same buckets in the
//! same order.
//!
//! A request waits on a failing store once at most: after one store call failed (each is bounded by the
//! store client's operation timeout, retries included), the rest of the request (the plan after the key, the
//! quota after a throttle) does not ask the store again but applies the plan's `onStoreError` at once, from what
//! this instance holds: cached records, a quota block in hand (throttles are not asked: open serves
//! unthrottled, closed refuses).
//!
//! (Not to be confused with the `meter` Lambda function, which serves the admin API in `admin`.)

pub mod limits;
pub mod quota;
pub mod throttle;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use quota::{QuotaScope, QuotaSlot, QuotaVerdict};
use throttle::{ThrottleBucket, Verdict};

pub use limits::Limit;

use crate::{
    clock::{MICROS_PER_SEC, Micros, SharedClock},
    error::{GatewayError, RateLimit},
    store::{Store, StoreError},
    usage::{ApiKey, FailMode, KeyHash, Plan},
};

/// Past this many entries a per-instance map is emptied rather than grown (many cold keys); emptying only
/// loses cached lookups and unspent tokens, which under-admits for a moment but never over-admits.
const MAX_ENTRIES: usize = 50_000;
/// When the store is down, a cached key record this old may still be trusted.
const STALE_KEY_GRACE_US: Micros = 300 * MICROS_PER_SEC;

/// An identified caller: the key and the plan that applies to this stage.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: ApiKey,
    pub plan: Arc<Plan>,
    /// The store failed while this caller was identified (from cached records): metering this request does not
    /// wait on it again.
    store_failed: bool,
}

/// Why the meter refused a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Missing, unknown, disabled or expired key, or no plan for this stage (the reason is for the log only).
    Forbidden(&'static str),
    /// A throttle is empty; a token conforms again in `retry_after_secs`.
    Throttled { retry_after_secs: u64, burst: u32 },
    /// The quota is spent until its period ends in `resets_in_secs`.
    QuotaExceeded { limit: u64, resets_in_secs: u64 },
    /// The store failed and the plan fails closed.
    StoreDown(String),
}

/// API Gateway's answer for each refusal: 403, 429 (with the `Retry-After` and `RateLimit-*` facts), or 500.
impl From<Refusal> for GatewayError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Forbidden(why) => Self::Forbidden(why),
            Refusal::Throttled { retry_after_secs, burst } => {
                Self::Throttled(RateLimit { limit: u64::from(burst), remaining: 0, reset_secs: retry_after_secs })
            }
            Refusal::QuotaExceeded { limit, resets_in_secs } => {
                Self::QuotaExceeded(RateLimit { limit, remaining: 0, reset_secs: resets_in_secs })
            }
            Refusal::StoreDown(detail) => Self::Internal(format!("usage plan store: {detail}")),
        }
    }
}

/// A key record and when the value that found it stops working; `None`: no such value.
type KnownKey = Option<(ApiKey, Option<i64>)>;

struct Cached<T> {
    value: T,
    at_us: Micros,
}

pub struct Meter {
    store: Arc<dyn Store>,
    clock: SharedClock,
    cache_us: Micros,
    /// Key value hash → (key, the value's not-after) or None for an unknown value.
    keys: Mutex<HashMap<KeyHash, Cached<KnownKey>>>,
    plans: Mutex<HashMap<String, Cached<Option<Arc<Plan>>>>>,
    buckets: Mutex<HashMap<String, Arc<ThrottleBucket>>>,
    quotas: Mutex<HashMap<(String, String), Arc<QuotaSlot>>>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter").field("cache_us", &self.cache_us).finish_non_exhaustive()
    }
}

impl Meter {
    /// `cache_secs`: how long a key or plan record is trusted before it is read again (so how long a revoked
    /// key may still pass on an instance that saw it).
    pub fn new(store: Arc<dyn Store>, clock: SharedClock, cache_secs: u32) -> Self {
        Self {
            store,
            clock,
            cache_us: i64::from(cache_secs) * MICROS_PER_SEC,
            keys: Mutex::default(),
            plans: Mutex::default(),
            buckets: Mutex::default(),
            quotas: Mutex::default(),
        }
    }

    pub fn now_us(&self) -> Micros {
        self.clock.now_us()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Finds the caller a key value belongs to, for `stage`.
    pub async fn identify(&self, value: &str, stage: &str) -> Result<Caller, Refusal> {
        self.identify_hash(&KeyHash::of(value), stage).await
    }

    /// [`Meter::identify`] by the value's hash (what a WebSocket connection keeps instead of the value).
    pub async fn identify_hash(&self, hash: &KeyHash, stage: &str) -> Result<Caller, Refusal> {
        let mut store_failed = false;
        let key = self.key_for_hash(hash, &mut store_failed).await?;
        let now = self.now_us();
        for plan_id in &key.plans {
            if let Some(plan) = self.plan(plan_id, now, &mut store_failed).await?
                && plan.stages.iter().any(|s| s == stage)
            {
                return Ok(Caller { key, plan, store_failed });
            }
        }
        Err(Refusal::Forbidden("API key has no usage plan for this stage"))
    }

    /// The key a value opens, if it is usable now (enabled, not expired, value not rolled past its grace).
    pub async fn key_for(&self, value: &str) -> Result<ApiKey, Refusal> {
        self.key_for_hash(&KeyHash::of(value), &mut false).await
    }

    async fn key_for_hash(&self, hash: &KeyHash, store_failed: &mut bool) -> Result<ApiKey, Refusal> {
        let now = self.now_us();
        let Some((key, not_after)) = self.key(hash, now, store_failed).await? else {
            return Err(Refusal::Forbidden("unknown API key"));
        };
        let now_ms = now / 1_000;
        if !key.usable_at(now_ms) {
            return Err(Refusal::Forbidden("API key disabled or expired"));
        }
        if not_after.is_some_and(|at| now_ms >= at) || !key.values.iter().any(|v| v.hash.matches(hash)) {
            return Err(Refusal::Forbidden("API key value rolled and past its grace period"));
        }
        Ok(key)
    }

    /// Meters one request (an HTTP request or a WebSocket message) on `route_key`: the caller's throttles (its
    /// plan's limit for the route, then its plan's limit), then `shared` (the route's and the stage's, over
    /// all callers), then the caller's quota. Returns the quota's state for the `RateLimit-*` headers.
    pub async fn admit(
        &self,
        caller: Option<&Caller>,
        route_key: &str,
        shared: &[Limit],
    ) -> Result<Option<RateLimit>, Refusal> {
        let mut limits = caller.map(|c| limits::of_caller(c, route_key)).unwrap_or_default();
        limits.extend_from_slice(shared);
        if limits.is_empty() && caller.is_none() {
            return Ok(None);
        }
        let fail = caller.map_or(FailMode::Open, |c| c.plan.on_store_error);
        let mut store_failed = caller.is_some_and(|c| c.store_failed);
        self.throttle(&limits, fail, &mut store_failed).await?;
        match caller {
            Some(caller) => self.quota(caller, store_failed).await,
            None => Ok(None),
        }
    }

    /// Applies each throttle in order; a refusal gives back the tokens the earlier ones took. Once the store
    /// failed in this request, the remaining throttles are not asked: open serves unthrottled, closed refuses.
    async fn throttle(&self, limits: &[Limit], fail: FailMode, store_failed: &mut bool) -> Result<(), Refusal> {
        let now = self.now_us();
        let mut taken: Vec<Arc<ThrottleBucket>> = Vec::with_capacity(limits.len());
        for limit in limits {
            let bucket = self.bucket(limit);
            let admitted = if *store_failed {
                Err(StoreError::Unavailable("failed earlier in this request; not waited on again".to_owned()))
            } else {
                bucket.admit(self.store.as_ref(), now).await
            };
            let verdict = match admitted {
                Ok(v) => v,
                Err(e) => {
                    *store_failed = true;
                    match fail {
                        FailMode::Open => {
                            tracing::warn!(bucket = bucket.name(), error = %e, "Usage Plan check failed due to an internal error; serving unthrottled");
                            continue;
                        }
                        FailMode::Closed => Err(Refusal::StoreDown(e.to_string()))?,
                    }
                }
            };
            if let Verdict::Throttled { retry_at_us } = verdict {
                for earlier in taken {
                    earlier.refund().await;
                }
                let retry_after_secs = secs_until(retry_at_us, now);
                return Err(Refusal::Throttled { retry_after_secs, burst: limit.throttle.burst_limit });
            }
            taken.push(bucket);
        }
        Ok(())
    }

    /// Counts the request against the caller's quota (or just counts it, for a plan without one). Once the store
    /// failed in this request, only a block in hand can admit without the fail mode.
    async fn quota(&self, caller: &Caller, store_failed: bool) -> Result<Option<RateLimit>, Refusal> {
        let slot = self.quota_slot(caller);
        let scope = QuotaScope { plan: &caller.plan, key_id: &caller.key.id };
        let now = self.now_us();
        let verdict = if store_failed {
            let in_hand = slot.admit_in_hand(scope, now).await;
            in_hand.ok_or_else(|| StoreError::Unavailable("failed earlier in this request; not waited on again".into()))
        } else {
            slot.admit(self.store.as_ref(), scope, now).await
        };
        match verdict {
            Ok(QuotaVerdict::Exceeded { limit, resets_at_ms }) => {
                Err(Refusal::QuotaExceeded { limit, resets_in_secs: secs_until(resets_at_ms * 1_000, now) })
            }
            Ok(QuotaVerdict::Admitted { limit: Some(limit), remaining, resets_at_ms }) => Ok(Some(RateLimit {
                limit,
                remaining: remaining.unwrap_or(0),
                // Whole seconds left, rounded down, as the headers have always said.
                reset_secs: u64::try_from((resets_at_ms * 1_000 - now).max(0) / MICROS_PER_SEC).unwrap_or(0),
            })),
            Ok(QuotaVerdict::Admitted { limit: None, .. }) => Ok(None),
            Err(e) => match caller.plan.on_store_error {
                FailMode::Open => {
                    tracing::warn!(plan = %caller.plan.id, key = %caller.key.id, error = %e, "Usage Plan check failed due to an internal error; serving and counting later");
                    slot.owe().await;
                    Ok(None)
                }
                FailMode::Closed => Err(Refusal::StoreDown(e.to_string())),
            },
        }
    }

    /// Gives every unspent quota block back to the store.
    pub async fn release(&self) -> Result<(), StoreError> {
        let slots: Vec<((String, String), Arc<QuotaSlot>)> = match self.quotas.lock() {
            Ok(map) => map.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect(),
            Err(_) => return Ok(()),
        };
        for ((plan_id, key_id), slot) in slots {
            if let Some(plan) = self.plan(&plan_id, self.now_us(), &mut false).await.ok().flatten() {
                slot.release(self.store.as_ref(), QuotaScope { plan: &plan, key_id: &key_id }).await?;
            }
        }
        Ok(())
    }

    async fn key(&self, hash: &KeyHash, now: Micros, store_failed: &mut bool) -> Result<KnownKey, Refusal> {
        let cached = self.keys.lock().ok().and_then(|map| map.get(hash).map(|c| (c.value.clone(), c.at_us)));
        if let Some((value, at)) = &cached
            && now - at < self.cache_us
        {
            return Ok(value.clone());
        }
        let fetched = async {
            let Some((key_id, not_after)) = self.store.find_key_value(hash).await? else { return Ok(None) };
            Ok::<_, StoreError>(self.store.get_key(&key_id).await?.map(|key| (key, not_after)))
        }
        .await;
        *store_failed |= fetched.is_err();
        match fetched {
            Ok(value) => {
                insert_bounded(&self.keys, hash.clone(), Cached { value: value.clone(), at_us: now });
                Ok(value)
            }
            // The store is down: trust what this instance saw recently rather than refuse every caller.
            Err(e) => match cached {
                Some((value, at)) if now - at < STALE_KEY_GRACE_US => {
                    tracing::warn!(error = %e, "key lookup failed; using the cached record");
                    Ok(value)
                }
                _ => Err(Refusal::StoreDown(e.to_string())),
            },
        }
    }

    async fn plan(&self, id: &str, now: Micros, store_failed: &mut bool) -> Result<Option<Arc<Plan>>, Refusal> {
        let cached = self.plans.lock().ok().and_then(|map| map.get(id).map(|c| (c.value.clone(), c.at_us)));
        if let Some((value, at)) = &cached
            && now - at < self.cache_us
        {
            return Ok(value.clone());
        }
        let fetched = if *store_failed {
            Err(StoreError::Unavailable("failed earlier in this request; not waited on again".to_owned()))
        } else {
            self.store.get_plan(id).await
        };
        *store_failed |= fetched.is_err();
        match fetched {
            Ok(plan) => {
                let plan = plan.map(Arc::new);
                insert_bounded(&self.plans, id.to_owned(), Cached { value: plan.clone(), at_us: now });
                Ok(plan)
            }
            Err(e) => match cached {
                Some((value, at)) if now - at < STALE_KEY_GRACE_US => Ok(value),
                _ => Err(Refusal::StoreDown(e.to_string())),
            },
        }
    }

    fn bucket(&self, limit: &Limit) -> Arc<ThrottleBucket> {
        let fresh = || Arc::new(ThrottleBucket::new(limit.bucket.clone(), limit.throttle));
        let Ok(mut map) = self.buckets.lock() else { return fresh() };
        // A changed plan takes effect with a fresh local slice.
        if let Some(bucket) = map.get(&limit.bucket).filter(|b| b.throttle() == limit.throttle) {
            return Arc::clone(bucket);
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        let bucket = fresh();
        map.insert(limit.bucket.clone(), Arc::clone(&bucket));
        bucket
    }

    fn quota_slot(&self, caller: &Caller) -> Arc<QuotaSlot> {
        let id = (caller.plan.id.clone(), caller.key.id.clone());
        let Ok(mut map) = self.quotas.lock() else { return Arc::new(QuotaSlot::default()) };
        if map.len() >= MAX_ENTRIES && !map.contains_key(&id) {
            map.clear();
        }
        Arc::clone(map.entry(id).or_default())
    }
}

fn insert_bounded<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, V>>, key: K, value: V) {
    if let Ok(mut map) = map.lock() {
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, value);
    }
}

/// Whole seconds from `now` until `at` (microseconds), rounded up.
fn secs_until(at: Micros, now: Micros) -> u64 {
    u64::try_from((at - now).max(0)).unwrap_or(0).div_ceil(MICROS_PER_SEC.unsigned_abs())
}
