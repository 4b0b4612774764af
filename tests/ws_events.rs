//! Recorded WebSocket events replayed through the handler the `ws-connect`, `ws-default` and `ws-disconnect`
//! functions run ([`WebSocketApi::handle`]), with connections in a DynamoDB table (dynalite) and posts going
//! through the AWS SDK's Management API client to a loopback `@connections` endpoint that records them.
//! `ws-connect.json`, `ws-connect-with-authorizer.json` and `ws-disconnect.json` are aws_lambda_events'
//! fixtures; the MESSAGE events follow API Gateway's documented shape for the same connection.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    routing::post,
};
use serde_json::{Value, json};
use tollgate_core::{
    admin::{Admin, NewKey, PlanInput},
    backends::Backends,
    clients::{InvokeFuture, InvokeOutput, Invoker},
    clock::ManualClock,
    config::Definition,
    settings::Settings,
    store::{connections::ConnectionStore, embedded::EmbeddedStore},
    websocket::{WebSocketApi, WsFunction, fanout::Endpoint, management_api::ManagementApi},
};
use tollgate_tests::{dynalite, event_text};

/// A minute after the recorded `$connect` fixture's `connectedAt` (2022-02-22T19:07:37.902Z): the events
/// replay at the time they were recorded, so the connection is a minute old, past its `$connect`.
const REPLAYED_AT_MS: i64 = 1_645_556_857_902 + 60_000;

fn replay_clock() -> ManualClock {
    ManualClock::at(REPLAYED_AT_MS * 1_000)
}

/// The Management API client, as the functions build it, with placeholder credentials for the loopback
/// endpoint.
async fn management_api() -> ManagementApi {
    let settings = Settings { region: Some("us-west-2".to_owned()), ..Settings::default() };
    ManagementApi::new(tollgate_core::clients::aws::loader(&settings, true).load().await)
}

/// A loopback `@connections` endpoint: records posts to the connections it knows, 410 for the others.
#[derive(Default)]
struct Recorder {
    known: Mutex<HashSet<String>>,
    posts: Mutex<Vec<(String, String)>>,
}

async fn record(
    State(rec): State<Arc<Recorder>>,
    Path((_stage, id)): Path<(String, String)>,
    body: String,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    if !rec.known.lock().expect("lock").contains(&id) {
        return (StatusCode::GONE, [("x-amzn-errortype", "GoneException")], r#"{"message":null}"#.to_owned());
    }
    rec.posts.lock().expect("lock").push((id, body));
    (StatusCode::OK, [("content-type", "application/json")], String::new())
}

/// GetConnection: 200 with the connection's info for the connections it knows, 410 for the others.
async fn info(
    State(rec): State<Arc<Recorder>>,
    Path((_stage, id)): Path<(String, String)>,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    if !rec.known.lock().expect("lock").contains(&id) {
        return (StatusCode::GONE, [("x-amzn-errortype", "GoneException")], r#"{"message":null}"#.to_owned());
    }
    let body = json!({ "connectedAt": "2022-02-22T19:07:37Z", "identity": { "sourceIp": "10.0.0.13" } });
    (StatusCode::OK, [("content-type", "application/json")], body.to_string())
}

impl Recorder {
    async fn start() -> (Arc<Self>, SocketAddr) {
        let rec = Arc::new(Self::default());
        let app =
            Router::new().route("/{stage}/@connections/{id}", post(record).get(info)).with_state(Arc::clone(&rec));
        (rec, tollgate_tests::spawn_http(app).await)
    }

    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.posts.lock().expect("lock"))
    }
}

async fn api(yaml: &str, endpoint: SocketAddr) -> (WebSocketApi, Arc<dyn ConnectionStore>) {
    api_with(yaml, endpoint, Backends::default()).await
}

/// `backends`, with an embedded usage-plan store unless they name one.
async fn api_with(yaml: &str, endpoint: SocketAddr, backends: Backends) -> (WebSocketApi, Arc<dyn ConnectionStore>) {
    let definition = Definition::from_yaml(yaml, None).expect("definition");
    let connections: Arc<dyn ConnectionStore> = Arc::new(dynalite::shared().table().await);
    let store = backends.store.clone().or_else(|| Some(Arc::new(EmbeddedStore::in_memory())));
    let clock = backends.clock.clone().or_else(|| Some(Arc::new(replay_clock())));
    let backends = Backends { store, clock, ..backends };
    let poster = Arc::new(management_api().await);
    let api = WebSocketApi::new(&definition, &backends, Arc::clone(&connections), poster)
        .expect("api")
        .with_endpoint(Endpoint(format!("http://{endpoint}/dev")));
    (api, connections)
}

fn event(name: &str) -> Value {
    serde_json::from_str(&event_text(name)).expect("event JSON")
}

async fn answer(api: &WebSocketApi, function: WsFunction, event: Value) -> Value {
    serde_json::to_value(api.handle(function, event).await).expect("answer JSON")
}

const ID: &str = "asdfasdf=";

#[tokio::test]
async fn a_connection_lives_through_its_recorded_events() {
    let (rec, addr) = Recorder::start().await;
    rec.known.lock().expect("lock").insert(ID.to_owned());
    let (api, connections) = api("websocket: {}\n", addr).await;

    assert_eq!(answer(&api, WsFunction::Connect, event("ws-connect.json")).await, json!({ "statusCode": 200 }));
    let recorded = connections.get_connection(ID).await.expect("read").expect("recorded");
    assert_eq!((recorded.source_ip.as_str(), recorded.connected_at_ms), ("10.0.0.13", 1_645_556_857_902));
    assert!(recorded.expires_at_ms > recorded.connected_at_ms + 2 * 3_600_000, "TTL past the 2-hour maximum");

    assert_eq!(
        answer(&api, WsFunction::Message, event("ws-message-subscribe.json")).await,
        json!({ "statusCode": 200 })
    );
    assert_eq!(connections.channels(ID).await.expect("channels"), ["news"]);
    assert_eq!(rec.take(), [(ID.to_owned(), r#"{"action":"subscribed","channel":"news"}"#.to_owned())]);

    for name in ["ws-message-not-json.json", "ws-message-unknown-action.json", "ws-message-binary.json"] {
        answer(&api, WsFunction::Message, event(name)).await;
        let posts = rec.take();
        assert_eq!(posts.len(), 1, "{name}");
        let error: Value = serde_json::from_str(&posts[0].1).expect("JSON");
        let request_id = event(name)["requestContext"]["requestId"].clone();
        assert_eq!(error, json!({ "message": "Forbidden", "connectionId": ID, "requestId": request_id }), "{name}");
    }

    // A broadcast reaches the live connection; the stale one (410) is removed, by a query, not a scan.
    let mut stale = recorded.clone();
    stale.id = "stale0000=".to_owned();
    connections.put_connection(&stale).await.expect("stale");
    answer(&api, WsFunction::Message, event("ws-message-broadcast.json")).await;
    assert_eq!(rec.take(), [(ID.to_owned(), r#"{"headline":"hello"}"#.to_owned())]);
    assert!(connections.get_connection("stale0000=").await.expect("read").is_none(), "410 removed it");

    // The recorded $disconnect is another connection's: nothing of ours goes, and it is not an error.
    assert_eq!(answer(&api, WsFunction::Disconnect, event("ws-disconnect.json")).await, json!({ "statusCode": 200 }));
    assert!(connections.get_connection(ID).await.expect("read").is_some());
    let mut ours = event("ws-disconnect.json");
    ours["requestContext"]["connectionId"] = json!(ID);
    for _ in 0..2 {
        assert_eq!(
            answer(&api, WsFunction::Disconnect, ours.clone()).await,
            json!({ "statusCode": 200 }),
            "twice is fine"
        );
    }
    assert!(connections.get_connection(ID).await.expect("read").is_none());
    assert!(connections.channels(ID).await.expect("read").is_empty());
}

#[tokio::test]
async fn bad_and_misdelivered_events_get_a_400() {
    let (_rec, addr) = Recorder::start().await;
    let (api, _) = api("websocket: {}\n", addr).await;
    let cases = [
        (WsFunction::Message, event("ws-connect.json"), "this function does not answer $connect events"),
        (WsFunction::Connect, event("ws-disconnect.json"), "this function does not answer $disconnect events"),
        (WsFunction::Disconnect, event("ws-message-subscribe.json"), "this function does not answer $default events"),
        (WsFunction::Connect, event("function-url-not-an-event.json"), "not a WebSocket event"),
        (WsFunction::Message, json!({ "requestContext": { "routeKey": "$default" } }), "requestContext.connectionId"),
        (WsFunction::Message, json!([1, 2]), "not a WebSocket event"),
    ];
    for (route, payload, expected) in cases {
        let answer = answer(&api, route, payload).await;
        assert_eq!(answer["statusCode"], 400, "{answer}");
        let message =
            serde_json::from_str::<Value>(answer["body"].as_str().expect("body")).expect("JSON")["message"].clone();
        assert!(message.as_str().is_some_and(|m| m.contains(expected)), "{message} should say {expected}");
    }
    // The older fixture (REST-style fields, an authorizer, messageId null) is still a $connect event.
    assert_eq!(answer(&api, WsFunction::Connect, event("ws-connect-with-authorizer.json")).await["statusCode"], 200);
}

#[tokio::test]
async fn a_handshake_without_a_known_key_is_refused_with_403() {
    let (_rec, addr) = Recorder::start().await;
    let (api, connections) = api("websocket:\n  routes:\n    $connect: { apiKeyRequired: true }\n", addr).await;
    let answer = answer(&api, WsFunction::Connect, event("ws-connect.json")).await;
    assert_eq!(answer["statusCode"], 403);
    assert_eq!(answer["body"], r#"{"message":"Forbidden"}"#);
    assert!(connections.get_connection(ID).await.expect("read").is_none(), "not recorded");
}

/// A `$connect` Lambda authorizer run in process: keeps the events it is sent and answers by `?token=`:
/// `route` allows exactly the `methodArn` it was sent, `verb` allows only HTTP-style ARNs (`…/GET/…`).
#[derive(Default)]
struct ConnectAuthorizer {
    events: Mutex<Vec<Value>>,
}

impl Invoker for ConnectAuthorizer {
    fn invoke<'a>(&'a self, _function: &'a str, payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async move {
            let event: Value = serde_json::from_slice(&payload).expect("event");
            self.events.lock().expect("lock").push(event.clone());
            let resource = match event["queryStringParameters"]["token"].as_str() {
                Some("route") => event["methodArn"].as_str().unwrap_or_default().to_owned(),
                _ => "arn:aws:execute-api:*:*:*/*/GET/*".to_owned(),
            };
            let answer = json!({
                "principalId": "user-9",
                "policyDocument": { "Version": "2012-10-17",
                    "Statement": [{ "Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource }] },
                "context": { "tier": "gold" },
            });
            Ok(InvokeOutput { payload: answer.to_string().into_bytes(), function_error: None })
        })
    }
}

/// A `$connect` authorizer gets the event API Gateway sends WebSocket authorizers (the shape of
/// aws_lambda_events' WebSocket authorizer fixture): the handshake's headers, query and `requestContext`, no
/// body, and a `methodArn` naming the route, `{api}/{stage}/$connect`, which its policy is checked against.
/// Identity sources may be written as WebSocket APIs write them (`route.request.querystring.token`).
#[tokio::test]
async fn a_connect_authorizer_gets_the_websocket_authorizer_event() {
    let (_rec, addr) = Recorder::start().await;
    let authorizer = Arc::new(ConnectAuthorizer::default());
    let backends = Backends { lambda: Some(Arc::clone(&authorizer) as Arc<dyn Invoker>), ..Backends::default() };
    let yaml = r#"
stages: { dev: { variables: { tier: free } } }
authorizers:
  gate: { type: lambda, function: ws-auth, payloadFormatVersion: "1.0", identitySources: ["route.request.querystring.token"], resultTtlSeconds: 0 }
websocket:
  routes:
    $connect: { authorizer: gate }
"#;
    let (api, connections) = api_with(yaml, addr, backends).await;
    let with_token = |token: &str| {
        let mut connect = event("ws-connect.json");
        connect["queryStringParameters"] = json!({ "token": token });
        connect["multiValueQueryStringParameters"] = json!({ "token": [token] });
        connect
    };

    // No token: 401 without invoking the authorizer.
    let answer_ = answer(&api, WsFunction::Connect, event("ws-connect.json")).await;
    assert_eq!(
        (answer_["statusCode"].clone(), answer_["body"].clone()),
        (json!(401), json!(r#"{"message":"Unauthorized"}"#))
    );
    assert!(authorizer.events.lock().expect("lock").is_empty(), "not invoked without its identity source");

    // A policy for the $connect route admits, and its context stays with the connection.
    assert_eq!(answer(&api, WsFunction::Connect, with_token("route")).await, json!({ "statusCode": 200 }));
    let sent = authorizer.events.lock().expect("lock").pop().expect("invoked");
    assert_eq!(sent["type"], "REQUEST");
    assert_eq!(sent["methodArn"].as_str().map(|a| a.ends_with(":asdfasdf/dev/$connect")), Some(true), "{sent}");
    assert_eq!(sent["requestContext"]["eventType"], "CONNECT");
    assert_eq!(sent["requestContext"]["routeKey"], "$connect");
    assert_eq!(sent["requestContext"]["connectionId"], ID);
    assert_eq!(sent["headers"]["Sec-WebSocket-Key"], "asdfasdf==");
    assert_eq!(sent["multiValueQueryStringParameters"]["token"], json!(["route"]));
    assert_eq!(sent["stageVariables"], json!({ "tier": "free" }));
    for absent in ["body", "isBase64Encoded", "httpMethod", "path", "resource"] {
        assert!(sent.get(absent).is_none(), "{absent} is not in a WebSocket authorizer event: {sent}");
    }
    let typed: aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest =
        serde_json::from_value(sent.clone()).expect("the crate reads it as an authorizer request");
    assert_eq!(typed.method_arn.as_deref(), sent["methodArn"].as_str());
    let recorded = connections.get_connection(ID).await.expect("read").expect("recorded");
    let context = recorded.authorizer.expect("authorizer result kept");
    assert_eq!((context["principalId"].clone(), context["tier"].clone()), (json!("user-9"), json!("gold")));
    connections.remove_connection(ID).await.expect("remove");

    // A policy that only grants HTTP routes does not cover $connect: 403, as API Gateway answers.
    let refused = answer(&api, WsFunction::Connect, with_token("verb")).await;
    assert_eq!(refused["statusCode"], 403, "{refused}");
    assert!(connections.get_connection(ID).await.expect("read").is_none(), "not recorded");
}

/// A key's connection limit on Lambda: a holder past its `$connect` is asked about through the Management
/// API's GetConnection (the SDK client against the loopback endpoint). While it answers, the slot stays taken
/// (429); once it answers 410 (the `$disconnect` was lost), the holder's record and slot go and the next
/// handshake is admitted.
#[tokio::test]
async fn a_lost_disconnect_frees_its_slot_once_get_connection_says_gone() {
    let (rec, addr) = Recorder::start().await;
    rec.known.lock().expect("lock").insert(ID.to_owned());
    let store = Arc::new(EmbeddedStore::in_memory());
    let admin = Admin::new(store.as_ref(), REPLAYED_AT_MS);
    let plan = PlanInput {
        name: "one".into(),
        stages: vec!["$default".into()],
        max_connections: Some(1),
        ..PlanInput::default()
    };
    let plan = admin.create_plan(plan).await.expect("plan");
    let new = NewKey { name: "k".into(), enabled: true, plans: vec![plan.id], ..NewKey::default() };
    let (key, value) = admin.create_key(new).await.expect("key");
    let backends = Backends { store: Some(store as Arc<dyn tollgate_core::store::Store>), ..Backends::default() };
    let yaml = "websocket:\n  routes:\n    $connect: { apiKeyRequired: true }\n";
    let (api, connections) = api_with(yaml, addr, backends).await;
    let connect = |id: &str| {
        let mut connect = event("ws-connect.json");
        connect["headers"]["x-api-key"] = json!(value);
        connect["multiValueHeaders"]["x-api-key"] = json!([value]);
        // Connected a minute before the replay clock's time: past its $connect, well within its lifetime.
        connect["requestContext"]["connectionId"] = json!(id);
        connect
    };

    assert_eq!(answer(&api, WsFunction::Connect, connect(ID)).await, json!({ "statusCode": 200 }));
    let over = answer(&api, WsFunction::Connect, connect("second000=")).await;
    assert_eq!(
        (over["statusCode"].clone(), over["body"].clone()),
        (json!(429), json!(r#"{"message":"Too many connections for this API key"}"#))
    );
    assert!(connections.get_connection(ID).await.expect("read").is_some(), "an open holder keeps its slot");

    rec.known.lock().expect("lock").remove(ID);
    assert_eq!(answer(&api, WsFunction::Connect, connect("second000=")).await, json!({ "statusCode": 200 }));
    assert!(connections.get_connection(ID).await.expect("read").is_none(), "the gone holder's record is removed");
    assert_eq!(connections.slots(&key.id).await.expect("slots"), ["second000="]);
}

/// What a broadcast costs in store operations: one Query per 1,000 members and nothing else, however many
/// connections there are (measured on 2,001: three pages), and no read of the sender's record on an instance
/// that has seen it (on Lambda, ws-default reads it once per warm instance).
#[tokio::test]
async fn a_broadcast_costs_one_query_per_thousand_members() {
    let (rec, addr) = Recorder::start().await;
    let table = dynalite::shared().table().await;
    let counting = dynalite::Counting::new(table);
    let definition = Definition::from_yaml("websocket: {}\n", None).expect("definition");
    let backends = Backends { clock: Some(Arc::new(replay_clock())), ..Backends::default() };
    let api = WebSocketApi::new(
        &definition,
        &backends,
        Arc::clone(&counting) as Arc<dyn ConnectionStore>,
        Arc::new(management_api().await),
    )
    .expect("api")
    .with_endpoint(Endpoint(format!("http://{addr}/dev")));
    let template = event("ws-connect.json");
    let members = 2_001;
    let ids: Vec<String> = (0..members).map(|n| format!("member{n:05}=")).collect();
    rec.known.lock().expect("lock").extend(ids.iter().cloned());
    for chunk in ids.chunks(50) {
        tollgate_tests::join_all(chunk.iter().map(|id| {
            let mut connect = template.clone();
            connect["requestContext"]["connectionId"] = json!(id);
            api.handle(WsFunction::Connect, connect)
        }))
        .await;
    }
    let mut message = event("ws-message-broadcast.json");
    message["requestContext"]["connectionId"] = json!(ids[0]);
    // This instance recorded the sender, so it knows its record.
    let before = counting.totals();
    api.handle(WsFunction::Message, message.clone()).await;
    let after = counting.totals();
    assert_eq!(rec.take().len(), members, "every member got it");
    assert_eq!((after.0 - before.0, after.1 - before.1), (3, 0), "3 member queries, no writes");
    api.handle(WsFunction::Message, message).await;
    assert_eq!(rec.take().len(), members);
    let again = counting.totals();
    assert_eq!((again.0 - after.0, again.1 - after.1), (3, 0));
    println!("broadcast to {members} connections: {} reads, {} writes", again.0 - after.0, again.1 - after.1);
}

/// Keeps the trace header and the event of every invoke; answers 200.
#[derive(Default)]
struct TraceRecorder {
    seen: Mutex<Vec<(Option<String>, Value)>>,
}

impl Invoker for TraceRecorder {
    fn invoke<'a>(&'a self, _function: &'a str, payload: Vec<u8>, trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async move {
            let event: Value = serde_json::from_slice(&payload).expect("event");
            self.seen.lock().expect("lock").push((trace.map(str::to_owned), event));
            Ok(InvokeOutput { payload: br#"{"statusCode":200}"#.to_vec(), function_error: None })
        })
    }
}

/// On Lambda a WebSocket event's integration continues the invocation's X-Ray trace (`_X_AMZN_TRACE_ID`):
/// messages carry no headers, so without it their integrations started no trace of their own. Off Lambda, a
/// handshake's integration continues its `X-Amzn-Trace-Id`.
#[tokio::test]
async fn websocket_integrations_continue_the_invocations_trace() {
    const LAMBDA_TRACE: &str = "Root=1-6748a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1";
    let (rec, addr) = Recorder::start().await;
    rec.known.lock().expect("lock").insert(ID.to_owned());
    let functions = Arc::new(TraceRecorder::default());
    let backends = Backends { lambda: Some(Arc::clone(&functions) as Arc<dyn Invoker>), ..Backends::default() };
    let yaml = "websocket:\n  routes:\n    $connect: { integration: { type: lambda, function: on-connect } }\n    \
                $default: { integration: { type: lambda, function: chat } }\n";
    let (api, _) = api_with(yaml, addr, backends).await;

    // Two handshakes (two connections: one without the invocation's trace, one with it), then two messages.
    let mut second = event("ws-connect.json");
    second["requestContext"]["connectionId"] = json!("second0=");
    let sent = [
        (WsFunction::Connect, event("ws-connect.json"), None),
        (WsFunction::Connect, second, Some(LAMBDA_TRACE)),
        (WsFunction::Message, event("ws-message-subscribe.json"), Some(LAMBDA_TRACE)),
        (WsFunction::Message, event("ws-message-subscribe.json"), None),
    ];
    for (function, event, trace) in sent {
        let answer = api.handle_traced(function, event, trace.map(str::to_owned)).await;
        assert_eq!(answer.status_code, 200, "{answer:?}");
    }
    let seen = std::mem::take(&mut *functions.seen.lock().expect("lock"));
    let traces: Vec<Option<&str>> = seen.iter().map(|(trace, _)| trace.as_deref()).collect();
    assert_eq!(traces, [Some("Root=1-asdf-asdfasdf"), Some(LAMBDA_TRACE), Some(LAMBDA_TRACE), None]);
    for (_, event) in &seen {
        assert!(event.get("lambdaTrace").is_none(), "the trace is no part of the event: {event}");
    }
}
