//! `$disconnect`: forgets the connection, its subscriptions and its key's connection slot, then runs the
//! `$disconnect` integration. API Gateway sends it best-effort and possibly late, so every step is safe to
//! repeat and finding nothing is not an error.

use super::{WebSocketApi, event::WsEvent, event::WsResponse};

impl WebSocketApi {
    pub async fn disconnect(&self, event: &WsEvent) -> WsResponse {
        let id = event.connection_id();
        self.forget(id);
        let removed = match super::fanout::remove(self.connections.as_ref(), id).await {
            Ok(removed) => removed,
            Err(e) => {
                // The records' TTL and the fan-out's 410 handling clean up what this could not.
                tracing::error!(connection = %id, error = %e, "cannot remove the connection");
                None
            }
        };
        if let Some(lambda) = &self.spec.disconnect {
            let mut forwarded = event.clone();
            if let Some(connection) = &removed {
                forwarded.request_context.authorizer.clone_from(&connection.authorizer);
                forwarded.request_context.identity.api_key_id.clone_from(&connection.key_id);
            }
            if let Err(e) = self.invoke(lambda, &forwarded).await {
                tracing::error!(connection = %id, error = %e, "$disconnect integration failed");
            }
        }
        WsResponse::ok()
    }
}
