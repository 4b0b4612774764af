//! Where WebSocket connections and their channel subscriptions live. Like [`super::Store`], the trait is
//! named for what the WebSocket API does (record a connection, subscribe it, list a channel's members page by
//! page) and both stores implement it: DynamoDB (the connections table, see `docs/websocket.md`) and the embedded
//! store (memory only: connections do not outlive the `tollgate serve` process that holds their sockets).
//!
//! Reaching a channel's members is always a query on an index, never a scan: `members` pages through them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Page, StoreFuture};
use crate::usage::KeyHash;

/// A channel name: 1-128 printable characters. `None` channel means "every connection of the stage".
pub const MAX_CHANNEL_CHARS: usize = 128;

pub fn check_channel(channel: &str) -> Result<(), &'static str> {
    let len = channel.chars().count();
    if len == 0 || len > MAX_CHANNEL_CHARS || channel.chars().any(char::is_control) {
        return Err("a channel is 1-128 printable characters");
    }
    Ok(())
}

/// One open connection, as recorded by `$connect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: String,
    pub stage: String,
    pub connected_at_ms: i64,
    pub source_ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The API key the connection opened with (its id, and the hash that finds it again for metering).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hash: Option<KeyHash>,
    /// What the authorizer established; integrations receive it as `requestContext.authorizer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<Map<String, Value>>,
    /// When the identity stops being valid (a JWT's `exp`), in ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_expires_at_ms: Option<i64>,
    /// Past this the record is stale: the connection cannot be open any more (its TTL).
    pub expires_at_ms: i64,
}

/// The connection verbs. Every one is safe to repeat and to run out of order with the others.
pub trait ConnectionStore: Send + Sync {
    /// Records a new connection (and makes it a member of its stage). Conflict if the id is taken.
    fn put_connection<'a>(&'a self, connection: &'a Connection) -> StoreFuture<'a, ()>;
    fn get_connection<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Connection>>;
    /// Removes a connection and all its subscriptions; returns the record if there was one.
    fn remove_connection<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Connection>>;
    /// Subscribes a connection to a channel of its stage (again is not an error). NotFound if the connection
    /// is gone, even when it goes while this runs.
    fn subscribe<'a>(&'a self, connection: &'a Connection, channel: &'a str) -> StoreFuture<'a, ()>;
    /// Whether the connection was subscribed.
    fn unsubscribe<'a>(&'a self, id: &'a str, channel: &'a str) -> StoreFuture<'a, bool>;
    /// The channels a connection is subscribed to.
    fn channels<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<String>>;
    /// Up to `limit` connection ids subscribed to `channel` of `stage` (`None`: every connection of the
    /// stage), in id order, after `after`.
    fn members<'a>(
        &'a self,
        stage: &'a str,
        channel: Option<&'a str>,
        limit: u32,
        after: Option<&'a str>,
    ) -> StoreFuture<'a, Page<String>>;
    /// Counts a connection against its key's limit: false (and nothing changed) when `limit` are held already.
    fn claim_slot<'a>(&'a self, key_id: &'a str, connection: &'a str, limit: u32) -> StoreFuture<'a, bool>;
    fn release_slot<'a>(&'a self, key_id: &'a str, connection: &'a str) -> StoreFuture<'a, ()>;
    /// The connections holding a key's slots.
    fn slots<'a>(&'a self, key_id: &'a str) -> StoreFuture<'a, Vec<String>>;
}
