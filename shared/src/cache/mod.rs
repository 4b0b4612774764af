//! The response cache: two tiers, one answer. An instance's own memory (bounded by bytes) is read first, then
//! the shared tier every instance sees (the store: DynamoDB on Lambda, the embedded store in `tollgate serve`).
//! The shared tier is a cache, never a dependency: slow (past [`SHARED_TIMEOUT`]), unavailable or corrupt is a
//! miss, never an error.
//!
//! Flushes move a generation on (`store/cache.rs`); entries remember the generations they were written under,
//! and an instance re-reads the stage's generations at most every [`GENERATIONS_REFRESH_MS`].
//! Concurrent misses for one key in one instance make one integration call: the first is the leader, the others
//! wait for its entry ([`ResponseCache::claim`]).

mod entry;
pub mod key;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::watch;

pub use entry::Entry;

use crate::{
    clock::SharedClock,
    config::caching::StageCache,
    store::cache::{CacheStore, Generations},
};

/// How long a shared-tier read or write may take before it counts as a miss (or is given up).
pub const SHARED_TIMEOUT: Duration = Duration::from_millis(150);
/// How stale an instance's view of the stage's flush generations may be.
pub const GENERATIONS_REFRESH_MS: i64 = 1_000;

/// What a lookup found.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Fresh: answer with it. `age_secs` for the `Age` header.
    Hit {
        entry: Arc<Entry>,
        age_secs: u64,
    },
    /// Past its TTL but within stale-while-revalidate.
    Stale {
        entry: Arc<Entry>,
        age_secs: u64,
    },
    Miss,
}

/// Where an entry was found, for `X-Cache` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Instance,
    Shared,
}

/// Sizes entries by what they hold.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<String, Arc<Entry>> for ByBytes {
    fn weight(&self, key: &String, entry: &Arc<Entry>) -> u64 {
        u64::try_from(key.len() + entry.size()).unwrap_or(u64::MAX)
    }
}

/// One stage's response cache in one instance.
pub struct ResponseCache {
    stage: String,
    memory: quick_cache::sync::Cache<String, Arc<Entry>, ByBytes>,
    /// The store: the stage's generations always, entries too when the shared tier is on.
    store: Option<Arc<dyn CacheStore>>,
    clock: SharedClock,
    pub settings: StageCache,
    /// The stage's generations and when they were read (ms).
    generations: Mutex<(Arc<Generations>, Option<i64>)>,
    /// Keys being filled by a leader: followers wait for the sender to go.
    inflight: Mutex<HashMap<String, watch::Receiver<()>>>,
}

/// A claim on filling a key.
pub enum Claim {
    /// Fill it; others wait until this is dropped.
    Leader(FillGuard),
    /// Another request is filling it: wait for it, then look again.
    Follower(watch::Receiver<()>),
}

/// Held by the request filling a key; dropping it releases the waiters.
pub struct FillGuard {
    cache: Arc<ResponseCache>,
    key: String,
    _done: watch::Sender<()>,
}

impl Drop for FillGuard {
    fn drop(&mut self) {
        if let Ok(mut inflight) = self.cache.inflight.lock() {
            inflight.remove(&self.key);
        }
    }
}

impl ResponseCache {
    pub fn new(stage: &str, settings: StageCache, store: Option<Arc<dyn CacheStore>>, clock: SharedClock) -> Self {
        // A tier of 0 bytes is off (`remember` keeps nothing); the cache type wants some capacity.
        let capacity = u64::try_from(settings.instance_bytes).unwrap_or(u64::MAX).max(1);
        // quick_cache sizes its tables by an item estimate: a few KB per answer is typical.
        let estimated = (settings.instance_bytes / 4096).clamp(1, 1 << 20);
        Self {
            stage: stage.to_owned(),
            memory: quick_cache::sync::Cache::with_weighter(estimated, capacity, ByBytes),
            store,
            clock,
            settings,
            generations: Mutex::new((Arc::default(), None)),
            inflight: Mutex::default(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The stage's generations, re-read from the shared tier when the instance's copy is old.
    async fn generations(&self) -> Arc<Generations> {
        let now = self.now_ms();
        let cached = self.generations.lock().ok().map(|g| (Arc::clone(&g.0), g.1));
        if let Some((generations, Some(read))) = &cached
            && now - read < GENERATIONS_REFRESH_MS
        {
            return Arc::clone(generations);
        }
        let previous = cached.map(|(g, _)| g).unwrap_or_default();
        let Some(shared) = &self.store else { return previous };
        let fresh = match tokio::time::timeout(SHARED_TIMEOUT, shared.generations(&self.stage)).await {
            Ok(Ok(fresh)) => Arc::new(fresh),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cache generations unavailable; using the last known");
                previous
            }
            Err(_) => {
                tracing::warn!("cache generations timed out; using the last known");
                previous
            }
        };
        if let Ok(mut slot) = self.generations.lock() {
            *slot = (Arc::clone(&fresh), Some(now));
        }
        fresh
    }

    /// Finds `key`: the instance's memory, then the shared tier. An entry from before a flush is a miss.
    pub async fn lookup(&self, key: &str) -> (Lookup, Option<Tier>) {
        let generations = self.generations().await;
        let now = self.now_ms();
        if let Some(entry) = self.memory.get(key).filter(|_| self.settings.instance_bytes > 0) {
            match self.judge(&entry, &generations, now) {
                Lookup::Miss => {
                    self.memory.remove(key);
                }
                found => return (found, Some(Tier::Instance)),
            }
        }
        let Some(shared) = self.shared() else { return (Lookup::Miss, None) };
        let bytes = match tokio::time::timeout(SHARED_TIMEOUT, shared.get_entry(key, now)).await {
            Ok(Ok(Some(bytes))) => bytes,
            Ok(Ok(None)) => return (Lookup::Miss, None),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "shared cache read failed: a miss");
                return (Lookup::Miss, None);
            }
            Err(_) => {
                tracing::warn!("shared cache read timed out: a miss");
                return (Lookup::Miss, None);
            }
        };
        let Some(entry) = Entry::decode(&bytes) else {
            tracing::warn!(key, "corrupt shared cache entry: a miss, and deleted");
            let _ = tokio::time::timeout(SHARED_TIMEOUT, shared.delete_entry(key)).await;
            return (Lookup::Miss, None);
        };
        let entry = Arc::new(entry);
        let found = self.judge(&entry, &generations, now);
        if !matches!(found, Lookup::Miss) {
            self.remember(key, entry);
        }
        (found, Some(Tier::Shared))
    }

    /// Whether `entry` answers now: fresh, stale within its grace, or not at all (expired or flushed).
    fn judge(&self, entry: &Arc<Entry>, generations: &Generations, now: i64) -> Lookup {
        let flushed = entry.generation != generations.stage
            || entry.tags.iter().any(|(tag, written_under)| *written_under != generations.tag(tag));
        if flushed {
            return Lookup::Miss;
        }
        let age_secs = u64::try_from((now - entry.stored_at_ms).max(0) / 1_000).unwrap_or(0);
        if now < entry.fresh_until_ms {
            Lookup::Hit { entry: Arc::clone(entry), age_secs }
        } else if now < entry.stale_until_ms {
            Lookup::Stale { entry: Arc::clone(entry), age_secs }
        } else {
            Lookup::Miss
        }
    }

    /// Stores an answer under `key` for `ttl` (plus the stage's stale-while-revalidate grace), tagged.
    pub async fn store(&self, key: &str, mut entry: Entry, ttl: Duration, tags: Vec<String>) {
        let generations = self.generations().await;
        let now = self.now_ms();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4);
        let grace_ms = i64::try_from(self.settings.stale_while_revalidate.as_millis()).unwrap_or(0);
        entry.stored_at_ms = now;
        entry.fresh_until_ms = now + ttl_ms;
        entry.stale_until_ms = now + ttl_ms + grace_ms;
        entry.generation = generations.stage;
        entry.tags = tags
            .into_iter()
            .map(|t| {
                let written_under = generations.tag(&t);
                (t, written_under)
            })
            .collect();
        if let Some(shared) = self.shared() {
            let bytes = entry.encode();
            let put = shared.put_entry(key, &bytes, entry.stale_until_ms);
            match tokio::time::timeout(SHARED_TIMEOUT, put).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "shared cache write failed"),
                Err(_) => tracing::warn!("shared cache write timed out"),
            }
        }
        self.remember(key, Arc::new(entry));
    }

    /// The shared tier, when it is on.
    fn shared(&self) -> Option<&Arc<dyn CacheStore>> {
        self.store.as_ref().filter(|_| self.settings.shared_tier)
    }

    /// Keeps an entry in the instance's tier, when it has one.
    fn remember(&self, key: &str, entry: Arc<Entry>) {
        if self.settings.instance_bytes > 0 {
            self.memory.insert(key.to_owned(), entry);
        }
    }

    /// Claims the filling of `key`: the first caller leads; the others get a receiver that wakes when the
    /// leader is done (its guard dropped), whatever it found.
    pub fn claim(self: &Arc<Self>, key: &str) -> Claim {
        let Ok(mut inflight) = self.inflight.lock() else {
            let (done, _) = watch::channel(());
            return Claim::Leader(FillGuard { cache: Arc::clone(self), key: key.to_owned(), _done: done });
        };
        if let Some(waiting) = inflight.get(key) {
            return Claim::Follower(waiting.clone());
        }
        let (done, waiting) = watch::channel(());
        inflight.insert(key.to_owned(), waiting);
        Claim::Leader(FillGuard { cache: Arc::clone(self), key: key.to_owned(), _done: done })
    }

    /// Forgets what this instance holds (its own flush; other instances see the generation move).
    pub fn clear_instance(&self) {
        self.memory.clear();
        if let Ok(mut g) = self.generations.lock() {
            g.1 = None;
        }
    }
}
