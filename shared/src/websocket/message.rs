//! A message (`ws-default`): is the connection's identity still valid, which route does the message select,
//! does the key's usage plan admit it, then the route's Lambda integration or built-in action. Every problem
//! is told to the sender as an error frame and the connection stays open (but for an expired identity).

use std::sync::Arc;

use serde_json::Value;

use super::{
    WebSocketApi,
    event::{WsEvent, WsResponse},
    fanout::Endpoint,
};
use crate::{config::WsTarget, error::GatewayError, metering::Refusal, store::connections::Connection};

/// What a message is, once read.
pub(super) struct Incoming<'a> {
    pub event: &'a WsEvent,
    pub endpoint: Endpoint,
    pub connection: Arc<Connection>,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

impl WebSocketApi {
    /// Answers a MESSAGE event. The answer itself is always 200: what the sender should see is posted to it.
    pub(super) async fn message_uncounted(&self, event: &WsEvent) -> WsResponse {
        let endpoint = self.endpoint_of(event);
        let id = event.connection_id();
        let connection = match self.record(id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                // Not recorded by `$connect` (or already disconnected): nothing to act for.
                self.tell(event, &endpoint, "Forbidden").await;
                return WsResponse::ok();
            }
            Err(e) => {
                tracing::error!(connection = %id, error = %e, "cannot read the connection");
                self.tell(event, &endpoint, "Internal server error").await;
                return WsResponse::ok();
            }
        };
        if connection.identity_expires_at_ms.is_some_and(|exp| self.now_ms() >= exp) {
            // The token it connected with has expired: the client must connect again with a fresh one.
            self.tell(event, &endpoint, "Unauthorized").await;
            if let Err(e) = self.poster.delete(&endpoint, id).await {
                tracing::warn!(connection = %id, error = %e, "cannot close a connection whose token expired");
            }
            return WsResponse::ok();
        }
        let Some(body) = event.body_bytes() else {
            self.tell(event, &endpoint, "Bad request: the body is not valid base64").await;
            return WsResponse::ok();
        };
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        let selected = json.as_ref().and_then(|j| self.select(j)).filter(|k| self.spec.routes.contains_key(*k));
        let Some((route_key, target)) = selected
            .or_else(|| self.spec.routes.contains_key("$default").then_some("$default"))
            .and_then(|k| self.spec.routes.get_key_value(k))
        else {
            // API Gateway's answer when no route matches and there is no $default route.
            self.tell(event, &endpoint, "Forbidden").await;
            return WsResponse::ok();
        };
        if let Err(message) = self.meter_message(&connection, route_key).await {
            self.tell(event, &endpoint, message).await;
            return WsResponse::ok();
        }
        let incoming = Incoming { event, endpoint, connection, json };
        match target {
            WsTarget::Builtin(action) => return self.run_builtin(*action, &incoming).await,
            WsTarget::Lambda { lambda, route_response } => {
                let mut forwarded = event.clone();
                forwarded.request_context.route_key.clone_from(route_key);
                forwarded.request_context.authorizer.clone_from(&incoming.connection.authorizer);
                forwarded.request_context.identity.api_key_id.clone_from(&incoming.connection.key_id);
                match self.invoke(lambda, &forwarded).await {
                    Ok(reply) => {
                        if *route_response && let Some(data) = reply.body_bytes() {
                            self.reply(&incoming, &data).await;
                        }
                    }
                    Err(e) => {
                        tracing::error!(connection = %id, route = %route_key, error = %e, "integration failed");
                        self.count(event, crate::metrics::WsOutcome::IntegrationError);
                        self.post_error(event, &incoming.endpoint, "Internal server error").await;
                    }
                }
            }
        }
        WsResponse::ok()
    }

    /// The route key the selection expression picks out of a JSON message (strings only).
    fn select<'j>(&self, json: &'j Value) -> Option<&'j str> {
        self.spec.selection.iter().try_fold(json, |value, field| value.get(field))?.as_str()
    }

    /// Counts the message against the key's plan, as an HTTP request to the route would be counted: its
    /// throttle for this route, its throttle, its quota.
    async fn meter_message(&self, connection: &Connection, route_key: &str) -> Result<(), &'static str> {
        let (Some(hash), Some(meter)) = (&connection.key_hash, self.meter()) else { return Ok(()) };
        let caller = meter.identify_hash(hash, &self.context.stage).await.map_err(message_of)?;
        meter.admit(Some(&caller), route_key, &[]).await.map_err(message_of)?;
        Ok(())
    }

    /// Posts data back to the sender.
    pub(super) async fn reply(&self, incoming: &Incoming<'_>, data: &[u8]) {
        let id = incoming.event.connection_id();
        if let Err(e) = self.poster.post(&incoming.endpoint, id, data).await {
            tracing::warn!(connection = %id, error = %e, "cannot reply to the sender");
        }
    }
}

/// A WebSocket API's message for a meter refusal (`Forbidden`, `Too Many Requests`, `Limit Exceeded`, or
/// `Internal server error`, in the words WebSocket APIs share with REST APIs).
fn message_of(refusal: Refusal) -> &'static str {
    match GatewayError::from(refusal).message(crate::request::ApiType::Rest) {
        std::borrow::Cow::Borrowed(m) => m,
        std::borrow::Cow::Owned(_) => "Internal server error",
    }
}
