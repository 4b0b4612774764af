//! Fan-out: posting one message to many connections through the `@connections` API, a bounded number at a
//! time, page by page through a channel's members. A post answered 410 Gone means *that* connection is
//! stale: it is removed (the public chat sample removes the sender's instead).

use std::{future::Future, pin::Pin, sync::Arc};

use futures_util::StreamExt as _;

use crate::store::connections::ConnectionStore;

/// Members read per page while fanning out.
pub const PAGE: u32 = 1_000;

/// The `@connections` API's errors that a poster tells apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// 410: closed, never opened, or still in `$connect`.
    #[error("GoneException: the connection is gone")]
    Gone,
    /// 413: over the message size limit.
    #[error("PayloadTooLargeException: {0}")]
    TooLarge(String),
    /// 429.
    #[error("LimitExceededException: {0}")]
    Throttled(String),
    /// 403, network trouble, anything else.
    #[error("post failed: {0}")]
    Failed(String),
}

pub type PostFuture<'a> = Pin<Box<dyn Future<Output = Result<(), PostError>> + Send + 'a>>;
pub type OpenFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, PostError>> + Send + 'a>>;

/// Where the `@connections` API of a WebSocket stage is: `https://{domainName}/{stage}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint(pub String);

/// The `@connections` API: API Gateway's Management API on Lambda, the sockets themselves in `tollgate serve`.
pub trait Poster: Send + Sync {
    /// Sends `data` to a connection, as a text frame when it is UTF-8 and a binary frame otherwise.
    fn post<'a>(&'a self, endpoint: &'a Endpoint, connection: &'a str, data: &'a [u8]) -> PostFuture<'a>;
    /// Closes a connection.
    fn delete<'a>(&'a self, endpoint: &'a Endpoint, connection: &'a str) -> PostFuture<'a>;
    /// Whether a connection is open (GetConnection; its 410 means no).
    fn is_open<'a>(&'a self, endpoint: &'a Endpoint, connection: &'a str) -> OpenFuture<'a>;
}

/// How a fan-out went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    pub delivered: usize,
    /// Stale connections found (410) and removed.
    pub gone: usize,
    pub failed: usize,
    /// Member pages read from the store.
    pub pages: usize,
}

/// Everything a fan-out needs.
#[derive(Clone)]
pub struct FanOutTo<'a> {
    pub connections: &'a Arc<dyn ConnectionStore>,
    pub poster: &'a Arc<dyn Poster>,
    pub endpoint: &'a Endpoint,
    pub concurrency: usize,
}

impl FanOutTo<'_> {
    /// Posts `data` to every member of `channel` of `stage` (`None`: every connection of the stage).
    pub async fn send(
        &self,
        stage: &str,
        channel: Option<&str>,
        data: &[u8],
    ) -> Result<FanOut, crate::store::StoreError> {
        let mut report = FanOut::default();
        let mut after: Option<String> = None;
        loop {
            let page = self.connections.members(stage, channel, PAGE, after.as_deref()).await?;
            report.pages += 1;
            let results: Vec<(String, Result<(), PostError>)> = futures_util::stream::iter(page.items)
                .map(|id| async move {
                    let result = self.poster.post(self.endpoint, &id, data).await;
                    (id, result)
                })
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
            for (id, result) in results {
                match result {
                    Ok(()) => report.delivered += 1,
                    Err(PostError::Gone) => {
                        report.gone += 1;
                        self.forget(&id).await;
                    }
                    Err(e) => {
                        report.failed += 1;
                        tracing::warn!(connection = %id, error = %e, "fan-out post failed");
                    }
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(report),
            }
        }
    }

    /// Removes a stale connection (it answered 410).
    pub async fn forget(&self, id: &str) {
        match remove(self.connections.as_ref(), id).await {
            Ok(Some(_)) => tracing::info!(connection = %id, "removed a stale connection (410 Gone)"),
            Ok(None) => {}
            Err(e) => tracing::warn!(connection = %id, error = %e, "cannot remove a stale connection"),
        }
    }
}

/// Removes a connection with its subscriptions, and gives back its key's connection slot: what `$disconnect`
/// and a 410 both do. Returns the record if there was one.
pub(super) async fn remove(
    connections: &dyn ConnectionStore,
    id: &str,
) -> Result<Option<crate::store::connections::Connection>, crate::store::StoreError> {
    let removed = connections.remove_connection(id).await?;
    if let Some(key) = removed.as_ref().and_then(|c| c.key_id.as_deref())
        && let Err(e) = connections.release_slot(key, id).await
    {
        tracing::warn!(connection = %id, error = %e, "cannot release the key's connection slot");
    }
    Ok(removed)
}
