//! The embedded store's WebSocket connections: in memory, indexed both ways (connection → channels and
//! channel → members) so a channel's members are a range read, as on DynamoDB.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::EmbeddedStore;
use crate::store::{
    Page, StoreError, StoreFuture,
    connections::{Connection, ConnectionStore},
};

#[derive(Debug, Default)]
pub(super) struct Links {
    connections: HashMap<String, Connection>,
    /// Connection → its channels.
    channels: HashMap<String, BTreeSet<String>>,
    /// (stage, channel) → members; channel `None` holds every connection of the stage.
    members: BTreeMap<(String, Option<String>), BTreeSet<String>>,
    /// Key id → connections holding its slots.
    slots: HashMap<String, BTreeSet<String>>,
}

impl EmbeddedStore {
    fn links<T>(&self, f: impl FnOnce(&mut Links) -> T) -> Result<T, StoreError> {
        let mut links =
            self.links.lock().map_err(|_| StoreError::Failed("the embedded store's lock is poisoned".to_owned()))?;
        Ok(f(&mut links))
    }
}

impl Links {
    fn leave(&mut self, stage: &str, channel: Option<&str>, id: &str) -> bool {
        let key = (stage.to_owned(), channel.map(str::to_owned));
        let Some(set) = self.members.get_mut(&key) else { return false };
        let removed = set.remove(id);
        if set.is_empty() {
            self.members.remove(&key);
        }
        removed
    }
}

impl ConnectionStore for EmbeddedStore {
    fn put_connection<'a>(&'a self, connection: &'a Connection) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.links(|l| {
                if l.connections.contains_key(&connection.id) {
                    return Err(StoreError::Conflict(format!("connection {} exists", connection.id)));
                }
                l.connections.insert(connection.id.clone(), connection.clone());
                l.members.entry((connection.stage.clone(), None)).or_default().insert(connection.id.clone());
                Ok(())
            })?
        })
    }

    fn get_connection<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Connection>> {
        Box::pin(async move { self.links(|l| l.connections.get(id).cloned()) })
    }

    fn remove_connection<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Connection>> {
        Box::pin(async move {
            self.links(|l| {
                let connection = l.connections.remove(id)?;
                for channel in l.channels.remove(id).unwrap_or_default() {
                    l.leave(&connection.stage, Some(&channel), id);
                }
                l.leave(&connection.stage, None, id);
                Some(connection)
            })
        })
    }

    fn subscribe<'a>(&'a self, connection: &'a Connection, channel: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.links(|l| {
                if !l.connections.contains_key(&connection.id) {
                    return Err(StoreError::NotFound(format!("connection {}", connection.id)));
                }
                l.channels.entry(connection.id.clone()).or_default().insert(channel.to_owned());
                l.members
                    .entry((connection.stage.clone(), Some(channel.to_owned())))
                    .or_default()
                    .insert(connection.id.clone());
                Ok(())
            })?
        })
    }

    fn unsubscribe<'a>(&'a self, id: &'a str, channel: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.links(|l| {
                let had = l.channels.get_mut(id).is_some_and(|set| set.remove(channel));
                let stage = l.connections.get(id).map(|c| c.stage.clone());
                if let Some(stage) = stage {
                    l.leave(&stage, Some(channel), id);
                }
                had
            })
        })
    }

    fn channels<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            self.links(|l| l.channels.get(id).map(|set| set.iter().cloned().collect()).unwrap_or_default())
        })
    }

    fn members<'a>(
        &'a self,
        stage: &'a str,
        channel: Option<&'a str>,
        limit: u32,
        after: Option<&'a str>,
    ) -> StoreFuture<'a, Page<String>> {
        Box::pin(async move {
            self.links(|l| {
                let Some(set) = l.members.get(&(stage.to_owned(), channel.map(str::to_owned))) else {
                    return Page { items: Vec::new(), next: None };
                };
                let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
                let start = after.map_or(std::ops::Bound::Unbounded, |a| std::ops::Bound::Excluded(a.to_owned()));
                let mut items: Vec<String> =
                    set.range((start, std::ops::Bound::Unbounded)).take(limit + 1).cloned().collect();
                let next = (items.len() > limit).then(|| {
                    items.truncate(limit);
                    items.last().cloned().unwrap_or_default()
                });
                Page { items, next }
            })
        })
    }

    fn claim_slot<'a>(&'a self, key_id: &'a str, connection: &'a str, limit: u32) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.links(|l| {
                let held = l.slots.entry(key_id.to_owned()).or_default();
                if held.contains(connection) {
                    return true;
                }
                if held.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
                    return false;
                }
                held.insert(connection.to_owned());
                true
            })
        })
    }

    fn release_slot<'a>(&'a self, key_id: &'a str, connection: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.links(|l| {
                if let Some(held) = l.slots.get_mut(key_id) {
                    held.remove(connection);
                    if held.is_empty() {
                        l.slots.remove(key_id);
                    }
                }
            })
        })
    }

    fn slots<'a>(&'a self, key_id: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(
            async move { self.links(|l| l.slots.get(key_id).map(|s| s.iter().cloned().collect()).unwrap_or_default()) },
        )
    }
}
