//! The WebSocket API in process: route selection (`routeSelectionExpression`), the built-in actions and the
//! Lambda routes on any message body, and any bytes as the `$connect` / MESSAGE / `$disconnect` event. The
//! connections live in the embedded store (fresh for every input), posts go to an in-process `@connections`
//! stand-in, and functions (integrations and the `$connect` authorizer) answer what the input says.
//!
//! Input: a control byte, then NUL-separated parts: the message body (or the whole event), the Lambda
//! function's reply, the `$connect` authorizer's reply. Control bits: 0-1 the API (0: built-in actions only;
//! 1: a nested selection expression with Lambda routes; 2: API keys, a usage plan and a Lambda authorizer on
//! `$connect`; 3: the first line of the body is the selection expression itself), 2 the part is a whole event
//! (bits 5-6 pick the function it goes to: message, connect, disconnect), 3 send the body as a binary frame
//! (base64), 4 the sender's token has expired, 7 the sender is not a recorded connection.
#![no_main]

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use tollgate_core::{
    admin::{Admin, NewKey, PlanInput},
    backends::Backends,
    clients::{InvokeFuture, InvokeOutput, Invoker},
    clock::ManualClock,
    config::Definition,
    store::{
        Store,
        connections::{Connection, ConnectionStore},
        embedded::EmbeddedStore,
    },
    usage::{KeyHash, Period, Quota, Throttle},
    websocket::{
        WebSocketApi, WsFunction,
        event::{WsContext, WsEvent, WsIdentity},
        fanout::{Endpoint, OpenFuture, PostError, PostFuture, Poster},
    },
};

/// 2023-11-14T22:13:20Z: connection ages, token expiry and quota days are fixed.
const NOW_MS: i64 = 1_700_000_000_000;
const SENDER: &str = "asdfasdf=";
const KEY_VALUE: &str = "fuzz-key-value-0123456789abcdef";

const BUILTINS: &str = "websocket: {}\n";

const LAMBDA_ROUTES: &str = r#"
websocket:
  routeSelectionExpression: $request.body.msg.kind
  routes:
    $connect: { integration: { type: lambda, function: hello } }
    $disconnect: { integration: { type: lambda, function: bye } }
    join: { builtin: subscribe }
    leave: { builtin: unsubscribe }
    say: { builtin: publish }
    dm: { builtin: send }
    all: { builtin: broadcast }
    ask: { integration: { type: lambda, function: answer } }
    $default: { integration: { type: lambda, function: echo }, routeResponse: true }
"#;

const KEYS_AND_AUTHORIZER: &str = r#"
authorizers:
  gate: { type: lambda, function: gate, payloadFormatVersion: "1.0", identitySources: ["route.request.querystring.token"], resultTtlSeconds: 0 }
websocket:
  routes:
    $connect: { apiKeyRequired: true, authorizer: gate }
    echo: { builtin: broadcast }
    sub: { builtin: subscribe }
    $default: { integration: { type: lambda, function: echo }, routeResponse: true }
"#;

/// The routes of the API whose selection expression comes from the input.
const ANY_EXPRESSION_ROUTES: &str = r#"
  routes:
    hello: { builtin: subscribe }
    bye: { builtin: unsubscribe }
    shout: { builtin: publish }
    $default: { integration: { type: lambda, function: echo }, routeResponse: true }
"#;

/// What the authorizer answers when the input does not say: allow, with a context.
const ALLOW: &str = r#"{"principalId":"user-9","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"tier":"gold"}}"#;

struct Fixture {
    rt: tokio::runtime::Runtime,
    definitions: [Definition; 3],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        rt: tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"),
        definitions: [BUILTINS, LAMBDA_ROUTES, KEYS_AND_AUTHORIZER]
            .map(|yaml| Definition::from_yaml(yaml, None).expect("definition")),
    })
}

/// The `@connections` API, decided by the connection id: `gone…` is closed (410), `slow…` is throttled,
/// `down…` cannot be reached; others take anything up to API Gateway's 128 KB.
struct Connections;

fn post_result(connection: &str, size: usize) -> Result<(), PostError> {
    match connection {
        c if c.starts_with("gone") => Err(PostError::Gone),
        c if c.starts_with("slow") => Err(PostError::Throttled("slow down".into())),
        c if c.starts_with("down") => Err(PostError::Failed("unreachable".into())),
        _ if size > 128 * 1024 => Err(PostError::TooLarge(format!("{size} bytes"))),
        _ => Ok(()),
    }
}

impl Poster for Connections {
    fn post<'a>(&'a self, _endpoint: &'a Endpoint, connection: &'a str, data: &'a [u8]) -> PostFuture<'a> {
        Box::pin(async move { post_result(connection, data.len()) })
    }

    fn delete<'a>(&'a self, _endpoint: &'a Endpoint, connection: &'a str) -> PostFuture<'a> {
        Box::pin(async move { post_result(connection, 0) })
    }

    fn is_open<'a>(&'a self, _endpoint: &'a Endpoint, connection: &'a str) -> OpenFuture<'a> {
        Box::pin(async move {
            match post_result(connection, 0) {
                Ok(()) => Ok(true),
                Err(PostError::Gone) => Ok(false),
                Err(e) => Err(e),
            }
        })
    }
}

/// Every function: the authorizer `gate` answers `authorizer`, the others `reply`; a reply starting with `!`
/// is a function error.
struct Functions {
    reply: Vec<u8>,
    authorizer: Vec<u8>,
}

impl Invoker for Functions {
    fn invoke<'a>(&'a self, function: &'a str, _payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async move {
            let payload = if function == "gate" { &self.authorizer } else { &self.reply };
            let function_error = payload.starts_with(b"!").then(|| "Unhandled".to_owned());
            Ok(InvokeOutput { payload: payload.clone(), function_error })
        })
    }
}

fn connection(id: &str, key: Option<&str>) -> Connection {
    Connection {
        id: id.to_owned(),
        stage: "$default".to_owned(),
        connected_at_ms: NOW_MS - 60_000,
        source_ip: "10.0.0.13".to_owned(),
        user_agent: None,
        key_id: key.map(str::to_owned),
        key_hash: key.map(|_| KeyHash::of(KEY_VALUE)),
        authorizer: None,
        identity_expires_at_ms: None,
        expires_at_ms: NOW_MS + 3_600_000,
    }
}

/// A plan for the stage with a quota, a throttle and a connection limit, and a key in it; its id.
async fn key_in_plan(store: &EmbeddedStore) -> String {
    let admin = Admin::new(store, NOW_MS);
    let plan = PlanInput {
        id: Some("ws".into()),
        name: "ws".into(),
        stages: vec!["$default".into()],
        throttle: Some(Throttle { rate_limit: 5.0, burst_limit: 3 }),
        quota: Some(Quota { limit: 4, period: Period::Day, offset: 0 }),
        max_connections: Some(2),
        ..PlanInput::default()
    };
    admin.create_plan(plan).await.expect("plan");
    let key = NewKey { name: "k".into(), value: Some(KEY_VALUE.into()), plans: vec!["ws".into()], ..NewKey::default() };
    admin.create_key(key).await.expect("key").0.id
}

/// The sender and three members of `news` (one open, one gone, one throttled); with a key, the sender and a
/// gone connection hold both of its connection slots.
async fn populate(store: &EmbeddedStore, key: Option<&str>, expired: bool) {
    let mut sender = connection(SENDER, key);
    if expired {
        sender.identity_expires_at_ms = Some(NOW_MS - 1);
    }
    store.put_connection(&sender).await.expect("sender");
    store.subscribe(&sender, "news").await.expect("subscribe");
    for id in ["peer0001=", "gone0001=", "slow0001="] {
        let member = connection(id, key.filter(|_| id.starts_with("gone")));
        store.put_connection(&member).await.expect("member");
        store.subscribe(&member, "news").await.expect("subscribe");
    }
    if let Some(key) = key {
        store.claim_slot(key, SENDER, 2).await.expect("slot");
        store.claim_slot(key, "gone0001=", 2).await.expect("slot");
    }
}

/// A MESSAGE event from `sender` carrying `body`.
fn message(sender: &str, body: &[u8], binary: bool) -> WsEvent {
    let (body, binary) = match std::str::from_utf8(body) {
        Ok(text) if !binary => (text.to_owned(), false),
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    WsEvent {
        request_context: WsContext {
            route_key: "$default".to_owned(),
            event_type: "MESSAGE".to_owned(),
            connection_id: sender.to_owned(),
            connected_at: NOW_MS - 60_000,
            domain_name: "abc123.execute-api.us-east-1.amazonaws.com".to_owned(),
            stage: "$default".to_owned(),
            api_id: "abc123".to_owned(),
            request_id: "req-1".to_owned(),
            request_time_epoch: NOW_MS,
            message_direction: "IN".to_owned(),
            identity: WsIdentity { source_ip: "10.0.0.13".to_owned(), ..WsIdentity::default() },
            ..WsContext::default()
        },
        body: Some(body),
        is_base64_encoded: binary,
        ..WsEvent::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let mut parts = rest.splitn(3, |b| *b == 0);
    let mut payload = parts.next().unwrap_or_default();
    let reply = parts.next().map_or_else(|| br#"{"statusCode":200,"body":"ok"}"#.to_vec(), <[u8]>::to_vec);
    let authorizer = parts.next().map_or_else(|| ALLOW.as_bytes().to_vec(), <[u8]>::to_vec);
    let fx = fixture();
    let chosen;
    let definition = match control & 3 {
        3 => {
            // The expression is the first line; the message the rest.
            let (line, body) = match payload.iter().position(|b| *b == b'\n') {
                Some(at) => (&payload[..at], &payload[at + 1..]),
                None => (payload, &b""[..]),
            };
            let Ok(expression) = std::str::from_utf8(line) else { return };
            let Ok(quoted) = serde_json::to_string(expression) else { return };
            let yaml = format!("websocket:\n  routeSelectionExpression: {quoted}{ANY_EXPRESSION_ROUTES}");
            let Ok(definition) = Definition::from_yaml(&yaml, None) else { return };
            payload = body;
            chosen = definition;
            &chosen
        }
        n => &fx.definitions[usize::from(n)],
    };
    let with_keys = control & 3 == 2;
    let store = Arc::new(EmbeddedStore::in_memory());
    let clock = Arc::new(ManualClock::at(NOW_MS * 1_000));
    let backends = Backends {
        lambda: Some(Arc::new(Functions { reply, authorizer })),
        store: Some(Arc::clone(&store) as Arc<dyn Store>),
        clock: Some(clock),
        ..Backends::default()
    };
    fx.rt.block_on(async {
        let key = if with_keys { Some(key_in_plan(&store).await) } else { None };
        populate(&store, key.as_deref(), control & 0x10 != 0).await;
        let connections = Arc::clone(&store) as Arc<dyn ConnectionStore>;
        let api = WebSocketApi::new(definition, &backends, connections, Arc::new(Connections))
            .expect("api")
            .with_endpoint(Endpoint("https://abc123.execute-api.us-east-1.amazonaws.com/$default".to_owned()));
        if control & 4 != 0 {
            let Ok(event) = serde_json::from_slice::<serde_json::Value>(payload) else { return };
            let function = match (control >> 5) & 3 {
                1 => WsFunction::Connect,
                2 => WsFunction::Disconnect,
                _ => WsFunction::Message,
            };
            let answer = api.handle(function, event).await;
            assert!((100..600).contains(&answer.status_code), "an HTTP status: {}", answer.status_code);
        } else {
            let sender = if control & 0x80 != 0 { "stranger=" } else { SENDER };
            let answer = api.message(&message(sender, payload, control & 8 != 0)).await;
            assert_eq!(answer.status_code, 200, "a message is always answered 200");
        }
    });
});
