//! `$connect`: admits the handshake or answers the status that rejects it (401/403/429/500, or what the
//! `$connect` integration returned), then records the connection.
//!
//! Authorization is the HTTP pipeline's own (resource policy, JWT or Lambda authorizer, API key, usage plan),
//! run on the handshake: browsers cannot set headers on a WebSocket, so identity sources may name the query
//! string (`$request.querystring.token`). A key's plan may cap its open connections (`maxConnections`).

use std::sync::Arc;

use futures_util::StreamExt as _;
use serde_json::{Map, Value};

use super::{
    RECORD_GRACE_MS, WebSocketApi,
    event::{WsEvent, WsResponse},
    fanout::{self, Endpoint},
};
use crate::{
    config::ApiKeySource,
    error::GatewayError,
    pipeline::Admission,
    request::{Authorized, GatewayResponse},
    store::connections::Connection,
    usage::KeyHash,
};

/// How long after its handshake a connection is surely past `$connect` (API Gateway's integration timeout is
/// 29 s), so a 410 from `@connections` means it is gone rather than not yet open.
const CONNECT_SETTLED_MS: i64 = 30_000;

impl WebSocketApi {
    /// Answers a `$connect` event: 200 admits the connection, anything else rejects the handshake.
    pub(super) async fn connect_uncounted(&self, event: &WsEvent) -> WsResponse {
        let request = event.handshake_request();
        let api_key = request.header("x-api-key").map(str::to_owned);
        // Built only for a Lambda authorizer: the other stages never read it.
        let authorizer_event = match self.lambda_authorizer.then(|| event.authorizer_event(&self.context)) {
            None => None,
            Some(Ok(preset)) => Some(preset),
            Some(Err(e)) => return self.refuse(event, GatewayError::Internal(format!("authorizer event: {e}"))),
        };
        let admission = match self.admission.admit(request, authorizer_event).await {
            Ok(a) => a,
            Err(refusal) => return refused(&refusal),
        };
        let ctx = &event.request_context;
        let id = ctx.connection_id.as_str();
        let key_value = match (self.key_source, &admission.authorized) {
            (ApiKeySource::Authorizer, Some(Authorized::Lambda { usage_identifier_key, .. })) => {
                usage_identifier_key.clone()
            }
            _ => api_key,
        };
        let caller = admission.caller.as_ref();
        let key_id = caller.map(|c| c.key.id.clone());
        if let Some(caller) = caller
            && let Some(limit) = caller.plan.max_connections
        {
            match self.claim_slot(&caller.key.id, id, limit, &self.endpoint_of(event)).await {
                Ok(true) => {}
                Ok(false) => return self.refuse(event, GatewayError::ConnectionLimit),
                Err(e) => return self.refuse(event, GatewayError::Internal(format!("connection limit check: {e}"))),
            }
        }
        // When API Gateway ran an authorizer on the route (template: ConnectAuthorizer API_GATEWAY), keep what
        // it returned for the connection's later integrations.
        let authorizer = authorizer_context(&admission).or_else(|| ctx.authorizer.clone().filter(|a| !a.is_empty()));
        let mut reply = WsResponse::ok();
        if let Some(lambda) = &self.spec.connect.integration {
            let mut forwarded = event.clone();
            forwarded.request_context.authorizer.clone_from(&authorizer);
            forwarded.request_context.identity.api_key_id.clone_from(&key_id);
            reply = match self.invoke(lambda, &forwarded).await {
                Ok(r) => r,
                // A failed integration refuses the handshake as API Gateway does: 502.
                Err(e) => self.refuse(event, GatewayError::HandshakeFailed(e.to_string())),
            };
            if !(200..300).contains(&reply.status_code) {
                self.release(key_id.as_deref(), id).await;
                return reply;
            }
        }
        let now = self.now_ms();
        let connected_at = if ctx.connected_at > 0 { ctx.connected_at } else { now };
        let connection = Connection {
            id: id.to_owned(),
            stage: self.context.stage.clone(),
            connected_at_ms: connected_at,
            source_ip: ctx.identity.source_ip.clone(),
            user_agent: ctx.identity.user_agent.clone(),
            key_id: key_id.clone(),
            key_hash: key_id.as_ref().and(key_value.as_deref()).map(KeyHash::of),
            authorizer,
            identity_expires_at_ms: identity_expiry(admission.authorized.as_ref()),
            expires_at_ms: connected_at
                + i64::try_from(self.spec.max_connection.as_millis()).unwrap_or(i64::MAX / 2)
                + RECORD_GRACE_MS,
        };
        if let Err(e) = self.connections.put_connection(&connection).await {
            self.release(key_id.as_deref(), id).await;
            return self.refuse(event, GatewayError::Internal(format!("cannot record the connection: {e}")));
        }
        self.remember(&Arc::new(connection));
        // Only what the handshake needs (e.g. Sec-WebSocket-Protocol) goes back; the body is not sent.
        WsResponse { status_code: 200, headers: reply.headers, body: None, is_base64_encoded: false }
    }

    /// Refuses the handshake with `error`'s answer, as any refusal of the pipeline's: gateway responses, ids
    /// and the access-log line (which carries the detail) included.
    fn refuse(&self, event: &WsEvent, error: GatewayError) -> WsResponse {
        refused(&self.admission.refuse(event.handshake_request(), error))
    }

    /// Claims one of the key's connection slots; when they are all held, frees those of connections that are
    /// gone (their `$disconnect` was lost) and tries once more.
    async fn claim_slot(
        &self,
        key: &str,
        id: &str,
        limit: u32,
        endpoint: &Endpoint,
    ) -> Result<bool, crate::store::StoreError> {
        if self.connections.claim_slot(key, id, limit).await? {
            return Ok(true);
        }
        // Holders are checked a bounded number at a time, as fan-out posts: a cap may be thousands.
        let holders = self.connections.slots(key).await?;
        let checks: Vec<_> = futures_util::stream::iter(holders)
            .map(|holder| async move { self.free_if_gone(key, &holder, endpoint).await })
            .buffer_unordered(self.spec.fan_out_concurrency.max(1))
            .collect()
            .await;
        let mut freed = false;
        for check in checks {
            freed |= check?;
        }
        if !freed {
            return Ok(false);
        }
        self.connections.claim_slot(key, id, limit).await
    }

    /// Frees a holder's slot when its connection is gone; whether it did.
    async fn free_if_gone(
        &self,
        key: &str,
        holder: &str,
        endpoint: &Endpoint,
    ) -> Result<bool, crate::store::StoreError> {
        match self.connections.get_connection(holder).await? {
            Some(record) if self.still_open(&record, endpoint).await => Ok(false),
            Some(_) => fanout::remove(self.connections.as_ref(), holder).await.map(|_| true),
            None => self.connections.release_slot(key, holder).await.map(|()| true),
        }
    }

    /// Whether a slot holder's connection is open: its record has not expired and, once it is past its own
    /// `$connect` (API Gateway answers 410 until then), `@connections` still knows it. Connections on other
    /// stages (another endpoint) and an `@connections` that cannot answer count as open: a slot is never
    /// taken from a live connection.
    async fn still_open(&self, record: &Connection, endpoint: &Endpoint) -> bool {
        let now = self.now_ms();
        if record.expires_at_ms <= now {
            return false;
        }
        if record.stage != self.context.stage || now - record.connected_at_ms < CONNECT_SETTLED_MS {
            return true;
        }
        match self.poster.is_open(endpoint, &record.id).await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!(connection = %record.id, error = %e, "cannot ask @connections about a slot holder");
                true
            }
        }
    }

    pub(super) async fn release(&self, key: Option<&str>, id: &str) {
        if let Some(key) = key
            && let Err(e) = self.connections.release_slot(key, id).await
        {
            tracing::warn!(connection = %id, error = %e, "cannot release the key's connection slot");
        }
    }
}

/// The handshake's refusal as the function's answer: same status, body and challenge.
fn refused(response: &GatewayResponse) -> WsResponse {
    let headers = response
        .headers
        .iter()
        // What the gateway answered, ids and gateway-response headers included; the front door sets the length.
        .filter(|(name, _)| *name != http::header::CONTENT_LENGTH)
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    WsResponse {
        status_code: response.status.as_u16(),
        headers,
        body: Some(String::from_utf8_lossy(&response.body).into_owned()),
        is_base64_encoded: false,
    }
}

/// `requestContext.authorizer` for the integrations of this connection (API Gateway's 1.0 shape).
fn authorizer_context(admission: &Admission) -> Option<Map<String, Value>> {
    match crate::event::proxy::authorizer_v1(admission.authorized.as_ref()?, crate::request::ApiType::Http) {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// When a JWT identity expires (`exp`, which the authorizer renders as text).
fn identity_expiry(authorized: Option<&Authorized>) -> Option<i64> {
    let Some(Authorized::Jwt { claims, .. }) = authorized else { return None };
    let exp = claims.get("exp")?;
    let secs = exp.as_i64().or_else(|| exp.as_str()?.parse::<f64>().ok().map(|f| f as i64))?;
    secs.checked_mul(1_000)
}
