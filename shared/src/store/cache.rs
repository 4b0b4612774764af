//! The shared tier of the response cache: entries every router instance sees, and the generation counters that
//! flush them. Both stores implement it: DynamoDB (the one table, items `CACHE#{key}` and `CACHEGEN#{stage}`,
//! expired by the table's TTL and checked on read, since TTL deletion is lazy) and the embedded store (memory for
//! entries, the store file for generations, so `tollgate cache flush` reaches a running `tollgate serve`).
//!
//! A flush never deletes entries: it moves the stage's generation (or a tag's) on, and an entry written under an
//! older generation is a miss from then on. One write flushes any number of entries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::StoreFuture;

/// Where a stage's flushes stand: its generation, and each tag's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generations {
    pub stage: u64,
    #[serde(default)]
    pub tags: BTreeMap<String, u64>,
}

impl Generations {
    pub fn tag(&self, tag: &str) -> u64 {
        self.tags.get(tag).copied().unwrap_or(0)
    }
}

/// The cache verbs. Entries are opaque bytes (the cache encodes them); every verb is safe to repeat.
pub trait CacheStore: Send + Sync {
    /// The entry stored under `key`, unless its `expires_at_ms` has passed (`now_ms`).
    fn get_entry<'a>(&'a self, key: &'a str, now_ms: i64) -> StoreFuture<'a, Option<Vec<u8>>>;
    /// Stores (or replaces) an entry, kept until `expires_at_ms`.
    fn put_entry<'a>(&'a self, key: &'a str, entry: &'a [u8], expires_at_ms: i64) -> StoreFuture<'a, ()>;
    /// Forgets an entry (a corrupt one); forgetting one that is gone is not an error.
    fn delete_entry<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
    /// The stage's generations (all zero before its first flush).
    fn generations<'a>(&'a self, stage: &'a str) -> StoreFuture<'a, Generations>;
    /// Moves the stage's generation on, or only `tag`'s; returns the generations after.
    fn flush<'a>(&'a self, stage: &'a str, tag: Option<&'a str>) -> StoreFuture<'a, Generations>;
}
