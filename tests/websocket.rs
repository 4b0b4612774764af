//! The WebSocket API through `tollgate serve`, with real WebSocket clients on loopback: channels, publish and
//! broadcast, the public chat sample's flow, clients that drop, stale connections, authorization on the
//! handshake (JWT from the query string, API keys and their connection limit), Lambda routes posting back
//! through `@connections` with the AWS SDK, and the bad inputs.

use std::{sync::Arc, time::Duration};

use futures_util::{SinkExt as _, StreamExt as _};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest as _, protocol::frame::coding::CloseCode},
};
use tollgate::serve::Server;
use tollgate_core::{
    admin::{Admin, NewKey, PlanInput},
    clock::{Clock as _, MICROS_PER_SEC, ManualClock},
    settings::Settings,
    store::embedded::EmbeddedStore,
    usage::{Period, Quota},
    websocket::{
        fanout::{Endpoint, PostError, Poster as _},
        management_api::ManagementApi,
    },
};
use tollgate_tests::{
    T0_SECS,
    issuer::{Issuer, SigningKey},
    join_all, test_clock,
};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A bound on a hang: how long a test waits for what must come before it fails instead of hanging.
const WAIT: Duration = Duration::from_secs(10);

/// `tollgate serve` on a manual clock: idle and lifetime limits, token expiry and connection ages move only
/// when the test moves the clock.
struct Running {
    server: Server,
    dir: tempfile::TempDir,
    clock: ManualClock,
}

impl Running {
    async fn start(yaml: &str) -> Self {
        let clock = test_clock();
        let (server, dir) = tollgate_tests::serve_on(yaml, Some(Arc::new(clock.clone()))).await;
        Self { server, dir, clock }
    }

    /// Waits until exactly `n` sockets are open (or still in `$disconnect`).
    async fn open_sockets(&self, n: usize) {
        tokio::time::timeout(WAIT, self.server.open_sockets_reach(n)).await.expect("the socket count settles");
    }

    fn url(&self, query: &str) -> String {
        format!("ws://{}/{query}", self.server.addr)
    }

    async fn connect(&self) -> Client {
        connect_async(self.url("")).await.expect("handshake").0
    }

    /// The handshake's HTTP status when it is refused.
    async fn refused(&self, query: &str) -> u16 {
        self.refusal(query).await.0
    }

    /// A refused handshake's status, headers and body.
    async fn refusal(&self, query: &str) -> (u16, http::HeaderMap, String) {
        match connect_async(self.url(query)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => (
                response.status().as_u16(),
                response.headers().clone(),
                String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned(),
            ),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("the handshake was admitted"),
        }
    }

    fn store(&self) -> EmbeddedStore {
        EmbeddedStore::open(&self.dir.path().join("store.json")).expect("the same file")
    }
}

async fn send(client: &mut Client, value: &Value) {
    client.send(Message::text(value.to_string())).await.expect("send");
}

/// The next text frame.
async fn recv(client: &mut Client) -> String {
    loop {
        let message = tokio::time::timeout(WAIT, client.next()).await.expect("a frame in time");
        match message.expect("open").expect("a frame") {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn recv_json(client: &mut Client) -> Value {
    serde_json::from_str(&recv(client).await).expect("a JSON frame")
}

/// Nothing was sent to the client: once whatever could have sent it is known to be done (the caller's duty),
/// the client's own next request is answered before anything else reaches it. Frames to one connection keep
/// their order, so anything sent earlier would arrive first.
async fn nothing_came(client: &mut Client) {
    client.send(Message::text("anything for me?")).await.expect("send");
    let next = recv_json(client).await;
    assert_eq!(next["message"], "Forbidden", "the probe's answer came first, nothing else: {next}");
}

/// The close frame's code, once the server closes.
async fn closed_with(client: &mut Client) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(WAIT, client.next()).await.expect("a close in time") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// A connection learns its own id the API Gateway way: from the error frame of a message with no route, which
/// is written exactly as API Gateway writes it.
async fn own_id(client: &mut Client) -> String {
    client.send(Message::text("who am I?")).await.expect("send");
    let text = recv(client).await;
    let error: Value = serde_json::from_str(&text).expect("a JSON frame");
    let (id, request) = (error["connectionId"].as_str().expect("id"), error["requestId"].as_str().expect("request"));
    assert_eq!(text, format!(r#"{{"message": "Forbidden", "connectionId":"{id}", "requestId":"{request}"}}"#));
    id.to_owned()
}

async fn subscribe(client: &mut Client, channel: &str) {
    send(client, &json!({ "action": "subscribe", "channel": channel })).await;
    assert_eq!(recv_json(client).await, json!({ "action": "subscribed", "channel": channel }));
}

const BUILTINS: &str = "websocket: {}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_publish_broadcast_and_dropped_clients() {
    let gw = Running::start(BUILTINS).await;
    let mut clients = join_all((0..6).map(|_| gw.connect())).await;
    for client in &mut clients[..3] {
        subscribe(client, "room").await;
    }
    send(&mut clients[5], &json!({ "action": "publish", "channel": "room", "data": "hello room" })).await;
    for client in &mut clients[..3] {
        assert_eq!(recv(client).await, "hello room");
    }
    // The publisher's next message is answered once its publish is done, so the fan-out is over.
    subscribe(&mut clients[5], "sync").await;
    for client in &mut clients[3..] {
        nothing_came(client).await;
    }
    // JSON data arrives as its JSON text.
    send(&mut clients[0], &json!({ "action": "broadcast", "data": { "n": 1 } })).await;
    for client in &mut clients {
        assert_eq!(recv_json(client).await, json!({ "n": 1 }));
    }
    send(&mut clients[1], &json!({ "action": "unsubscribe", "channel": "room" })).await;
    assert_eq!(recv_json(&mut clients[1]).await, json!({ "action": "unsubscribed", "channel": "room" }));

    // One client drops without a close frame: $disconnect still runs and its subscriptions go.
    let dropped = clients.remove(2);
    drop(dropped);
    let api = gw.server.websocket().expect("websocket");
    gw.open_sockets(5).await;
    let members = api.connections().members("$default", Some("room"), 100, None).await.expect("members");
    assert_eq!(members.items.len(), 1, "only client 0 is still in the room: {members:?}");
    send(&mut clients[0], &json!({ "action": "publish", "channel": "room", "data": "still here?" })).await;
    assert_eq!(recv(&mut clients[0]).await, "still here?");
    subscribe(&mut clients[0], "sync").await;
    nothing_came(&mut clients[1]).await;

    // A stale entry (its $disconnect was lost) is removed by the 410 its first post gets.
    let stale = tollgate_tests::connection("stale-connection=", "$default");
    api.connections().put_connection(&stale).await.expect("stale record");
    api.connections().subscribe(&stale, "room").await.expect("stale subscription");
    send(&mut clients[0], &json!({ "action": "broadcast", "data": "everyone" })).await;
    for client in &mut clients {
        assert_eq!(recv(client).await, "everyone");
    }
    // The sender's next message is answered once the broadcast is done with, 410 clean-up included.
    subscribe(&mut clients[0], "sync").await;
    assert!(api.connections().get_connection(&stale.id).await.expect("read").is_none(), "stale record removed");
    assert!(api.connections().channels(&stale.id).await.expect("read").is_empty(), "and its subscriptions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_sample_flow_reaches_every_client() {
    let gw = Running::start("websocket:\n  routes:\n    sendmessage: { builtin: broadcast }\n").await;
    let mut clients = join_all((0..4).map(|_| gw.connect())).await;
    send(&mut clients[0], &json!({ "action": "sendmessage", "data": "hello everyone" })).await;
    for client in &mut clients {
        assert_eq!(recv(client).await, "hello everyone");
    }
    // Built-ins not routed are unknown actions here.
    send(&mut clients[1], &json!({ "action": "subscribe", "channel": "x" })).await;
    assert_eq!(recv_json(&mut clients[1]).await["message"], "Forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_an_error_frame_and_the_connection_stays_open() {
    let gw = Running::start(BUILTINS).await;
    let mut client = gw.connect().await;
    let mut other = gw.connect().await;
    let id = own_id(&mut client).await;
    let other_id = own_id(&mut other).await;
    assert_ne!(id, other_id);

    send(&mut client, &json!({ "action": "dance" })).await;
    let error = recv_json(&mut client).await;
    assert_eq!((error["message"].as_str(), error["connectionId"].as_str()), (Some("Forbidden"), Some(id.as_str())));
    assert!(error["requestId"].as_str().is_some_and(|r| !r.is_empty()));
    for (message, expected) in [
        (json!({ "action": "subscribe" }), "Bad request: subscribe needs a \"channel\" (1-128 characters)"),
        (
            json!({ "action": "subscribe", "channel": "x".repeat(129) }),
            "Bad request: a channel is 1-128 printable characters",
        ),
        (json!({ "action": "publish", "channel": "c" }), "Bad request: publish needs \"data\""),
        (json!({ "action": "send", "data": "x" }), "Bad request: send needs a \"connectionId\""),
        (json!({ "action": 42 }), "Forbidden"),
    ] {
        send(&mut client, &message).await;
        assert_eq!(recv_json(&mut client).await["message"], expected, "{message}");
    }
    // Binary frames that are not JSON select no route either.
    client.send(Message::binary(vec![0u8, 159, 255])).await.expect("send");
    assert_eq!(recv_json(&mut client).await["message"], "Forbidden");

    // send: to one connection; to a gone one, an error.
    send(&mut client, &json!({ "action": "send", "connectionId": other_id, "data": "psst" })).await;
    assert_eq!(recv(&mut other).await, "psst");
    other.close(None).await.expect("close");
    gw.open_sockets(1).await;
    send(&mut client, &json!({ "action": "send", "connectionId": other_id, "data": "hello?" })).await;
    assert_eq!(recv_json(&mut client).await["message"], format!("Gone: connection {other_id} is not connected"));

    // Still open after all that.
    subscribe(&mut client, "still-open").await;

    // A frame over 32 KB closes the connection with 1009, as API Gateway does.
    client.send(Message::text("x".repeat(33 * 1024))).await.expect("send");
    assert_eq!(closed_with(&mut client).await, Some(CloseCode::Size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_api_answers_as_the_management_api() {
    let gw = Running::start(BUILTINS).await;
    let mut client = gw.connect().await;
    let id = own_id(&mut client).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}/$default/@connections", gw.server.addr);
    let url = format!("{base}/{}", id.replace('=', "%3D"));

    let info: Value = http.get(&url).send().await.expect("get").json().await.expect("JSON");
    assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");
    assert!(info["connectedAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{info}");
    assert!(info["lastActiveAt"].is_string());

    let posted = http.post(&url).body("from the API").send().await.expect("post");
    assert_eq!(posted.status(), 200);
    assert_eq!(recv(&mut client).await, "from the API");
    let too_big = http.post(&url).body(vec![b'x'; 128 * 1024 + 1]).send().await.expect("post");
    assert_eq!(too_big.status(), 413);
    assert_eq!(too_big.headers()["x-amzn-errortype"], "PayloadTooLargeException");

    // The AWS SDK's own client, against the local endpoint: post, 410 on an unknown id, delete.
    let config = tollgate_core::clients::aws::loader(&Settings::default(), true).load().await;
    let sdk = ManagementApi::new(config);
    let endpoint = Endpoint(format!("http://{}/$default", gw.server.addr));
    sdk.post(&endpoint, &id, b"through the SDK").await.expect("SDK post");
    assert_eq!(recv(&mut client).await, "through the SDK");
    assert_eq!(sdk.post(&endpoint, "no-such-connection=", b"x").await, Err(PostError::Gone));
    sdk.delete(&endpoint, &id).await.expect("SDK delete");
    assert_eq!(closed_with(&mut client).await, Some(CloseCode::Normal));
    gw.open_sockets(0).await;
    let after = http.get(&url).send().await.expect("get");
    assert_eq!(after.status(), 410);
    assert_eq!(after.headers()["x-amzn-errortype"], "GoneException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_routes_get_api_gateways_events_and_post_back() {
    let yaml = format!(
        r#"
websocket:
  routes:
    $connect: {{ integration: {{ type: lambda, function: ws }} }}
    echo: {{ integration: {{ type: lambda, function: ws }}, routeResponse: true }}
    quiet: {{ integration: {{ type: lambda, function: ws }} }}
    subscribe: {{ builtin: subscribe }}
local:
  functions:
    ws: {{ command: ["{}"] }}
"#,
        env!("CARGO_BIN_EXE_ws-function")
    );
    let gw = Running::start(&yaml).await;
    // The $connect function refuses: the handshake gets its status. A function that fails is a 502.
    assert_eq!(gw.refused("?deny=1").await, 403);
    assert_eq!(gw.refused("?fail=1").await, 502);
    // The $connect event carries what API Gateway's front door adds: X-Forwarded-* and a trace.
    let shown = match connect_async(gw.url("?show=1")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 418);
            serde_json::from_slice::<Value>(response.body().as_deref().expect("a body")).expect("JSON")
        }
        other => panic!("the function's answer, not {:?}", other.map(|_| ())),
    };
    assert_eq!(shown["X-Forwarded-For"], "127.0.0.1", "{shown}");
    assert_eq!(shown["X-Forwarded-Port"], gw.server.addr.port().to_string(), "{shown}");
    assert_eq!(shown["X-Forwarded-Proto"], "http", "{shown}");
    assert!(shown["X-Amzn-Trace-Id"].as_str().is_some_and(|t| t.starts_with("Root=1-")), "{shown}");
    // It picks a subprotocol: the handshake carries it.
    let mut request = gw.url("").into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", "chat, superchat".parse().expect("header"));
    request.headers_mut().insert("user-agent", "tollgate-test".parse().expect("header"));
    let (mut client, response) = connect_async(request).await.expect("handshake");
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");

    send(&mut client, &json!({ "action": "echo", "n": 7 })).await;
    // First what the function posted through @connections with the SDK, then its route response.
    let posted = recv_json(&mut client).await;
    assert_eq!(posted["routeKey"], "echo");
    assert_eq!(posted["userAgent"], "tollgate-test", "MESSAGE events carry the connection's user agent");
    assert_eq!(serde_json::from_str::<Value>(posted["echo"].as_str().expect("body")).expect("JSON")["n"], 7);
    assert_eq!(recv(&mut client).await, "route response");
    // Without routeResponse the function's answer is not sent: the next message's answer comes next.
    send(&mut client, &json!({ "action": "quiet" })).await;
    assert_eq!(recv_json(&mut client).await["routeKey"], "quiet");
    nothing_came(&mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_is_authorized_and_the_token_rechecked() {
    let key = SigningKey::load("rsa.pem", "rsa-1", Algorithm::RS256);
    let issuer = Issuer::start(&[&key]).await;
    let yaml = format!(
        r#"
authorizers:
  users: {{ type: jwt, issuer: "{}", audiences: [api], identitySource: "$request.querystring.token" }}
websocket:
  routes:
    $connect: {{ authorizer: users }}
    echo: {{ builtin: broadcast }}
"#,
        issuer.url
    );
    let gw = Running::start(&yaml).await;
    let now = T0_SECS;
    let token = |exp: i64| key.sign(&json!({ "iss": issuer.url, "aud": "api", "sub": "u1", "exp": exp, "iat": now }));
    assert_eq!(gw.refused("").await, 401, "no token");
    assert_eq!(gw.refused("?token=not.a.jwt").await, 401, "garbage");
    assert_eq!(gw.refused(&format!("?token={}", token(now - 10))).await, 401, "expired");
    let (mut client, _) = connect_async(gw.url(&format!("?token={}", token(now + 600)))).await.expect("valid token");
    send(&mut client, &json!({ "action": "echo", "data": "in" })).await;
    assert_eq!(recv(&mut client).await, "in");

    // Connected with a token that expires in 2 s: messages after that are refused and the connection closed.
    let (mut short, _) = connect_async(gw.url(&format!("?token={}", token(now + 2)))).await.expect("short token");
    send(&mut short, &json!({ "action": "echo", "data": "early" })).await;
    assert_eq!(recv(&mut short).await, "early");
    assert_eq!(recv(&mut client).await, "early", "a broadcast");
    gw.clock.advance_us(3 * MICROS_PER_SEC);
    send(&mut short, &json!({ "action": "echo", "data": "late" })).await;
    assert_eq!(recv_json(&mut short).await["message"], "Unauthorized");
    assert_eq!(closed_with(&mut short).await, Some(CloseCode::Normal));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_on_the_handshake_with_a_connection_limit_and_metered_messages() {
    // Handshake refusals are the gateway's answers too: gateway responses apply.
    let yaml = r#"
gatewayResponses:
  INVALID_API_KEY:
    responseParameters: { gatewayresponse.header.X-Why: "'key'" }
  THROTTLED:
    responseTemplates: { application/json: '{"message":$context.error.messageString,"type":"$context.error.responseType"}' }
websocket:
  routes:
    $connect: { apiKeyRequired: true }
    echo: { builtin: broadcast }
"#;
    let gw = Running::start(yaml).await;
    let store = gw.store();
    let admin = Admin::new(&store, gw.clock.now_ms());
    let plan = admin
        .create_plan(PlanInput {
            name: "ws".into(),
            stages: vec!["$default".into()],
            max_connections: Some(2),
            quota: Some(Quota { limit: 5, period: Period::Day, offset: 0 }),
            ..PlanInput::default()
        })
        .await
        .expect("plan");
    let new = NewKey { name: "k".into(), enabled: true, plans: vec![plan.id], ..NewKey::default() };
    let (key, value) = admin.create_key(new).await.expect("key");

    let (status, headers, body) = gw.refusal("").await;
    assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#), "no key");
    assert_eq!(headers.get("x-why").and_then(|v| v.to_str().ok()), Some("key"));
    assert_eq!(gw.refused("?apiKey=wrong-key-value-that-is-long").await, 403, "unknown key");
    // From the header (server clients) or the query string (browsers).
    let mut request = gw.url("").into_client_request().expect("request");
    request.headers_mut().insert("x-api-key", value.parse().expect("header"));
    let (mut first, _) = connect_async(request).await.expect("key in the header");
    let (second, _) = connect_async(gw.url(&format!("?apiKey={value}"))).await.expect("key in the query");
    let (status, _, body) = gw.refusal(&format!("?apiKey={value}")).await;
    assert_eq!(
        (status, body.as_str()),
        (429, r#"{"message":"Too many connections for this API key","type":"THROTTLED"}"#),
        "a third connection is over the limit"
    );
    drop(second);
    gw.open_sockets(1).await;
    // The freed slot goes to a connection whose $disconnect is then lost: its record lives on, a minute old.
    let connections = gw.server.websocket().expect("websocket").connections();
    let mut ghost = tollgate_tests::connection("ghost0000000=", "$default");
    ghost.key_id = Some(key.id.clone());
    ghost.connected_at_ms = gw.clock.now_ms() - 60_000;
    connections.put_connection(&ghost).await.expect("ghost record");
    assert!(connections.claim_slot(&key.id, &ghost.id, 2).await.expect("claim"), "the dropped socket freed a slot");
    // Both slots held; @connections does not know the ghost, so its slot and record go and the handshake passes.
    let (mut third, _) = connect_async(gw.url(&format!("?apiKey={value}"))).await.expect("the ghost's slot is freed");
    assert!(connections.get_connection(&ghost.id).await.expect("read").is_none(), "the ghost's record is removed");
    assert!(!connections.slots(&key.id).await.expect("slots").contains(&ghost.id));

    // The quota of 5 counted 4 handshakes (the one over the connection limit too): one message is left.
    send(&mut first, &json!({ "action": "echo", "data": "x" })).await;
    assert_eq!(recv(&mut first).await, "x");
    assert_eq!(recv(&mut third).await, "x");
    send(&mut first, &json!({ "action": "echo", "data": "y" })).await;
    assert_eq!(recv_json(&mut first).await["message"], "Limit Exceeded");
    // Refused before any broadcast: the first connection's answer came after the message was done with.
    nothing_came(&mut third).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_too_old_connections_are_closed_with_1001() {
    let gw = Running::start("websocket:\n  limits: { idleTimeoutSeconds: 1, maxConnectionSeconds: 3 }\n").await;
    let http = reqwest::Client::new();
    let is_open = async |id: &str| {
        let url = format!("http://{}/@connections/{}", gw.server.addr, id.replace('=', "%3D"));
        http.get(url).send().await.expect("get").status() == 200
    };
    // Its last frame (asking its own id) came at T0: it may idle until T0 + 1 s, and not a moment longer.
    let mut idle = gw.connect().await;
    let id = own_id(&mut idle).await;
    gw.clock.advance_us(MICROS_PER_SEC - 1);
    assert!(is_open(&id).await, "open a microsecond before the idle timeout");
    gw.clock.advance_us(1);
    assert_eq!(closed_with(&mut idle).await, Some(CloseCode::Away));

    // Busy, a frame every half second, but past its 3 s lifetime: closed all the same.
    let mut busy = gw.connect().await;
    let connected = gw.clock.now_us();
    while gw.clock.now_us() - connected < 3 * MICROS_PER_SEC - MICROS_PER_SEC / 2 {
        gw.clock.advance_us(MICROS_PER_SEC / 2);
        own_id(&mut busy).await;
    }
    gw.clock.advance_us(MICROS_PER_SEC / 2);
    assert_eq!(closed_with(&mut busy).await, Some(CloseCode::Away));
}
