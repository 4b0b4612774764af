//! The embedded store's cache tier: entries in memory (they are disposable, and a `tollgate serve` process is
//! their only reader), generations in the store file (so `tollgate cache flush` in another process reaches it).

use std::collections::HashMap;

use super::EmbeddedStore;
use crate::store::{
    StoreError, StoreFuture,
    cache::{CacheStore, Generations},
};

/// Key to (entry, expires at ms).
pub(super) type Entries = HashMap<String, (Vec<u8>, i64)>;

impl EmbeddedStore {
    fn entries<T>(&self, f: impl FnOnce(&mut Entries) -> T) -> Result<T, StoreError> {
        let mut entries =
            self.cached.lock().map_err(|_| StoreError::Failed("the embedded store's lock is poisoned".to_owned()))?;
        Ok(f(&mut entries))
    }
}

impl CacheStore for EmbeddedStore {
    fn get_entry<'a>(&'a self, key: &'a str, now_ms: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            self.entries(|e| match e.get(key) {
                Some((_, expires)) if *expires <= now_ms => {
                    e.remove(key);
                    None
                }
                Some((entry, _)) => Some(entry.clone()),
                None => None,
            })
        })
    }

    fn put_entry<'a>(&'a self, key: &'a str, entry: &'a [u8], expires_at_ms: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.entries(|e| e.insert(key.to_owned(), (entry.to_vec(), expires_at_ms))).map(|_| ()) })
    }

    fn delete_entry<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.entries(|e| e.remove(key)).map(|_| ()) })
    }

    fn generations<'a>(&'a self, stage: &'a str) -> StoreFuture<'a, Generations> {
        Box::pin(async move { self.read(|d| d.cache_generations.get(stage).cloned().unwrap_or_default()) })
    }

    fn flush<'a>(&'a self, stage: &'a str, tag: Option<&'a str>) -> StoreFuture<'a, Generations> {
        Box::pin(async move {
            self.write(|d| {
                let generations = d.cache_generations.entry(stage.to_owned()).or_default();
                match tag {
                    Some(tag) => *generations.tags.entry(tag.to_owned()).or_default() += 1,
                    None => generations.stage += 1,
                }
                Ok(generations.clone())
            })
        })
    }
}
