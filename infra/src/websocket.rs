//! `tollgate serve`'s WebSocket front door: accepts upgrades (RFC 6455) on the HTTP port, turns the handshake,
//! each message and the close into the exact `$connect`, MESSAGE and `$disconnect` events, and answers them
//! with [`WebSocketApi`], the `ws-*` functions' own code. The open sockets are the `@connections` API: the
//! core posts to them directly, and `POST`/`GET`/`DELETE /@connections/{id}` serve Lambda handlers that use
//! the Management API, as on AWS.
//!
//! Limits are API Gateway's (configurable under `websocket.limits`): frames over 32 KB and messages over
//! 128 KB close the connection with 1009, 10 idle minutes or 2 hours connected close it with 1001.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use axum::{
    body::Body,
    extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    response::Response,
};
use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use http::{HeaderValue, StatusCode, request::Parts};
use tokio::sync::{mpsc, watch};
use tollgate_core::{
    clock::SharedClock,
    websocket::{
        Peer, WebSocketApi, WsResponse,
        fanout::{Endpoint, OpenFuture, PostError, PostFuture, Poster},
    },
};

/// Frames queued for one socket before a poster waits; a poster waits at most this long.
const QUEUE: usize = 256;
const POST_WAIT: Duration = Duration::from_secs(1);

/// What the writer of one socket is asked to do.
#[derive(Debug)]
enum Outgoing {
    Frame(Message),
    Close(u16, &'static str),
}

/// One open socket, as the `@connections` API sees it.
#[derive(Debug)]
struct Socket {
    tx: mpsc::Sender<Outgoing>,
    connected_at_ms: i64,
    source_ip: String,
    user_agent: Option<String>,
    last_active_ms: AtomicI64,
}

/// The open sockets by connection id: the local `@connections` API.
#[derive(Debug)]
pub struct Sockets {
    open: Mutex<HashMap<String, Arc<Socket>>>,
    /// Connections not yet through `$disconnect` (a closed socket leaves `open` first, so posts get 410);
    /// watched, so a caller can wait for a count.
    live: watch::Sender<usize>,
    /// PostToConnection's payload limit (the message size limit).
    max_bytes: usize,
}

impl Sockets {
    pub fn new(max_bytes: usize) -> Self {
        Self { open: Mutex::default(), live: watch::Sender::new(0), max_bytes }
    }

    fn get(&self, id: &str) -> Option<Arc<Socket>> {
        self.open.lock().ok()?.get(id).cloned()
    }

    fn insert(&self, id: &str, socket: Arc<Socket>) {
        if let Ok(mut open) = self.open.lock() {
            open.insert(id.to_owned(), socket);
        }
    }

    fn remove(&self, id: &str) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(id);
        }
    }

    /// Connections open or still in `$disconnect`.
    pub fn len(&self) -> usize {
        *self.live.borrow()
    }

    /// Resolves once exactly `n` connections are open or in `$disconnect`.
    pub async fn reach(&self, n: usize) {
        let mut count = self.live.subscribe();
        let _ = count.wait_for(|live| *live == n).await;
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn queue(&self, connection: &str, out: Outgoing) -> Result<(), PostError> {
        let socket = self.get(connection).ok_or(PostError::Gone)?;
        match tokio::time::timeout(POST_WAIT, socket.tx.send(out)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(PostError::Gone),
            Err(_) => Err(PostError::Throttled(format!("connection {connection} is not reading"))),
        }
    }
}

impl Poster for Sockets {
    fn post<'a>(&'a self, _endpoint: &'a Endpoint, connection: &'a str, data: &'a [u8]) -> PostFuture<'a> {
        Box::pin(async move {
            if data.len() > self.max_bytes {
                return Err(PostError::TooLarge(format!("{} bytes, over {}", data.len(), self.max_bytes)));
            }
            let frame = match std::str::from_utf8(data) {
                Ok(text) => Message::text(text),
                Err(_) => Message::binary(bytes::Bytes::copy_from_slice(data)),
            };
            self.queue(connection, Outgoing::Frame(frame)).await
        })
    }

    fn delete<'a>(&'a self, _endpoint: &'a Endpoint, connection: &'a str) -> PostFuture<'a> {
        Box::pin(async move { self.queue(connection, Outgoing::Close(1000, "Connection closed by the server")).await })
    }

    fn is_open<'a>(&'a self, _endpoint: &'a Endpoint, connection: &'a str) -> OpenFuture<'a> {
        Box::pin(async move { Ok(self.get(connection).is_some()) })
    }
}

/// The WebSocket side of the front door.
pub struct WsDoor {
    pub api: WebSocketApi,
    pub sockets: Arc<Sockets>,
    pub api_id: String,
    pub stage: String,
    /// Times the idle and lifetime limits, and dates events.
    pub clock: SharedClock,
}

impl WsDoor {
    /// Answers a handshake: runs `$connect`, and upgrades only when it admits the connection.
    pub async fn upgrade(self: &Arc<Self>, mut parts: Parts, peer: SocketAddr, local: SocketAddr) -> Response {
        let upgrade = match <WebSocketUpgrade as axum::extract::FromRequestParts<()>>::from_request_parts(
            &mut parts,
            &(),
        )
        .await
        {
            Ok(u) => u,
            Err(rejection) => return axum::response::IntoResponse::into_response(rejection),
        };
        let now = self.clock.now_ms();
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let who = Peer {
            connection_id: new_connection_id(),
            connected_at: now,
            domain_name: header("host").unwrap_or_else(|| local.to_string()),
            stage: self.stage.clone(),
            api_id: self.api_id.clone(),
            source_ip: peer.ip().to_string(),
            user_agent: header("user-agent"),
        };
        // The handshake's headers as API Gateway passes them on: with X-Forwarded-* and a trace.
        let mut headers = parts.headers.clone();
        let port = http::HeaderValue::from(local.port());
        crate::function_url::add_forwarding(&mut headers, &who.source_ip, &port, now, &uuid::Uuid::new_v4());
        let event = who.connect_event(&headers, parts.uri.query().unwrap_or(""), now);
        let answer = self.api.connect(&event).await;
        if answer.status_code != 200 {
            return refused(&answer);
        }
        let spec = self.api.spec();
        let mut upgrade = upgrade.max_frame_size(spec.max_frame_bytes).max_message_size(spec.max_message_bytes);
        let protocol = answer.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol"));
        if let Some((_, chosen)) = protocol {
            upgrade = upgrade.protocols([chosen.clone()]);
        }
        // Postable from the moment `$connect` admitted it, as on API Gateway: what is posted before the
        // upgrade completes waits in the queue (a 410 here would make fan-out remove a live connection).
        let (tx, rx) = mpsc::channel::<Outgoing>(QUEUE);
        let handle = Arc::new(Socket {
            tx,
            connected_at_ms: who.connected_at,
            source_ip: who.source_ip.clone(),
            user_agent: who.user_agent.clone(),
            last_active_ms: AtomicI64::new(who.connected_at),
        });
        self.sockets.insert(&who.connection_id, Arc::clone(&handle));
        self.sockets.live.send_modify(|n| *n += 1);
        let door = Arc::clone(self);
        let failed = Arc::clone(self);
        let lost = who.clone();
        upgrade
            .on_failed_upgrade(move |e| {
                tracing::warn!(error = %e, "WebSocket upgrade failed after $connect");
                failed.sockets.remove(&lost.connection_id);
                let event = lost.disconnect_event(Some(1006), "Upgrade failed", failed.clock.now_ms());
                tokio::spawn(async move {
                    failed.api.disconnect(&event).await;
                    failed.sockets.live.send_modify(|n| *n -= 1);
                });
            })
            .on_upgrade(move |socket| async move { door.run(socket, who, handle, rx).await })
    }

    /// One connection's life: a writer task drains what is posted to it; this task reads frames in order.
    async fn run(self: Arc<Self>, socket: WebSocket, who: Peer, handle: Arc<Socket>, mut rx: mpsc::Receiver<Outgoing>) {
        let id = who.connection_id.clone();
        let (mut sink, mut stream) = socket.split();
        let tx = handle.tx.clone();
        // When the server closes (DELETE @connections), the reader stops without waiting for the client.
        let (closed_tx, mut closed_rx) = tokio::sync::oneshot::channel::<(u16, &'static str)>();
        let writer = tokio::spawn(async move {
            let mut closed_tx = Some(closed_tx);
            while let Some(out) = rx.recv().await {
                let (message, closing) = match out {
                    Outgoing::Frame(m) => (m, None),
                    Outgoing::Close(code, reason) => {
                        (Message::Close(Some(CloseFrame { code, reason: reason.into() })), Some((code, reason)))
                    }
                };
                if sink.send(message).await.is_err() {
                    break;
                }
                if let Some(close) = closing {
                    if let Some(tx) = closed_tx.take() {
                        let _ = tx.send(close);
                    }
                    break;
                }
            }
            let _ = sink.close().await;
        });

        let spec = self.api.spec();
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2);
        let mut lifetime = self.clock.sleep_until(who.connected_at * 1_000 + micros(spec.max_connection));
        // Idle is measured from the last frame's arrival (the handshake's, at first), not from when this loop
        // gets round to waiting again.
        let mut last_frame_us = who.connected_at * 1_000;
        let (code, reason): (Option<u16>, String) = loop {
            let idle = self.clock.sleep_until(last_frame_us + micros(spec.idle_timeout));
            let next = tokio::select! {
                next = stream.next() => next,
                Ok((code, reason)) = &mut closed_rx => break (Some(code), reason.to_owned()),
                () = &mut lifetime => {
                    let _ = tx.send(Outgoing::Close(1001, "Going away")).await;
                    break (Some(1001), "Going away".to_owned());
                }
                () = idle => {
                    let _ = tx.send(Outgoing::Close(1001, "Going away")).await;
                    break (Some(1001), "Going away".to_owned());
                }
            };
            let message = match next {
                None => break (Some(1006), "Connection closed abnormally".to_owned()),
                Some(Err(e)) => {
                    if is_too_big(e) {
                        let _ = tx.send(Outgoing::Close(1009, "Message too big")).await;
                        break (Some(1009), "Message too big".to_owned());
                    }
                    break (Some(1006), "Connection closed abnormally".to_owned());
                }
                Some(Ok(m)) => m,
            };
            last_frame_us = self.clock.now_us();
            handle.last_active_ms.store(last_frame_us / 1_000, Ordering::Relaxed);
            let (data, binary) = match message {
                Message::Text(text) => (bytes::Bytes::from(text), false),
                Message::Binary(data) => (data, true),
                Message::Close(frame) => {
                    break match frame {
                        Some(f) => (Some(f.code), f.reason.to_string()),
                        None => (None, String::new()),
                    };
                }
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            // Through Tollgate's template every message reaches ws-default on the `$default` route.
            let event = who.message_event("$default", &data, binary, self.clock.now_ms());
            self.api.message(&event).await;
        };
        self.sockets.remove(&id);
        // The writer ends once every sender is gone (a poster may still hold one for a moment).
        drop((tx, handle));
        if tokio::time::timeout(Duration::from_secs(1), writer).await.is_err() {
            tracing::warn!(connection = %id, "socket writer did not finish");
        }
        self.api.disconnect(&who.disconnect_event(code, &reason, self.clock.now_ms())).await;
        self.sockets.live.send_modify(|n| *n -= 1);
    }

    /// The local `@connections` API: `POST` (data), `GET` (connection info), `DELETE` (close).
    pub async fn connections_api(&self, method: &http::Method, id: &str, body: &[u8]) -> Response {
        let endpoint = Endpoint(String::new());
        match *method {
            http::Method::POST => match self.sockets.post(&endpoint, id, body).await {
                Ok(()) => status_only(StatusCode::OK),
                Err(e) => post_error(&e),
            },
            http::Method::DELETE => match self.sockets.delete(&endpoint, id).await {
                Ok(()) => status_only(StatusCode::NO_CONTENT),
                Err(e) => post_error(&e),
            },
            http::Method::GET => match self.sockets.get(id) {
                Some(s) => {
                    let mut identity = serde_json::json!({ "sourceIp": s.source_ip });
                    if let Some(ua) = &s.user_agent {
                        identity["userAgent"] = ua.clone().into();
                    }
                    let body = serde_json::json!({
                        "connectedAt": iso(s.connected_at_ms),
                        "identity": identity,
                        "lastActiveAt": iso(s.last_active_ms.load(Ordering::Relaxed)),
                    });
                    json_response(StatusCode::OK, None, &body)
                }
                None => post_error(&PostError::Gone),
            },
            _ => json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                &serde_json::json!({ "message": "Use POST, GET or DELETE on @connections" }),
            ),
        }
    }
}

/// Whether a read failed because a frame or message was over the limit.
fn is_too_big(e: axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    e.into_inner().downcast_ref::<Error>().is_some_and(|e| matches!(e, Error::Capacity(_)))
}

/// A refused handshake: the status and body `$connect` answered, no upgrade.
fn refused(answer: &WsResponse) -> Response {
    let mut response = Response::new(Body::from(answer.body.clone().unwrap_or_default()));
    *response.status_mut() = StatusCode::from_u16(answer.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &answer.headers {
        if let (Ok(n), Ok(v)) = (http::HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

/// The Management API's error answer: the status, the error type header the AWS SDKs read, a message.
pub fn post_error(e: &PostError) -> Response {
    let (status, kind) = match e {
        PostError::Gone => (StatusCode::GONE, "GoneException"),
        PostError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeException"),
        PostError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "LimitExceededException"),
        PostError::Failed(_) => (StatusCode::FORBIDDEN, "ForbiddenException"),
    };
    json_response(status, Some(kind), &serde_json::json!({ "message": e.to_string() }))
}

fn json_response(status: StatusCode, error_type: Option<&'static str>, body: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(kind) = error_type {
        response.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(kind));
    }
    response
}

fn status_only(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Connection ids look like API Gateway's: 16 characters of base64 (URL-safe here, so they need no
/// escaping in `@connections` paths), ending in `=`.
fn new_connection_id() -> String {
    let bytes: [u8; 11] = *uuid::Uuid::new_v4().as_bytes().first_chunk().unwrap_or(&[0; 11]);
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `/@connections/{id}` or `/{stage}/@connections/{id}`: the connection id, percent-decoded.
pub fn connections_path(path: &str) -> Option<String> {
    let (stage, rest) = path.split_once("/@connections/")?;
    let stage_ok = stage.is_empty() || stage.strip_prefix('/').is_some_and(|s| !s.is_empty() && !s.contains('/'));
    if rest.is_empty() || rest.contains('/') || !stage_ok {
        return None;
    }
    percent_encoding::percent_decode_str(rest).decode_utf8().ok().map(|s| s.into_owned())
}
