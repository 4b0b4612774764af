//! Lambda authorizers through the gateway pipeline: the events API Gateway sends them (TOKEN, REQUEST 1.0,
//! 2.0), their answers (policies and simple responses), policies cached per identity and judged per ARN, and
//! `usageIdentifierKey` feeding usage plans.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use serde_json::{Value, json};
use tollgate_core::{
    Gateway,
    admin::{Admin, NewKey, PlanInput},
    backends::Backends,
    clients::{InvokeFuture, InvokeOutput, Invoker},
    config::Definition,
    request::GatewayResponse,
    store::{Store, embedded::EmbeddedStore},
};
use tollgate_tests::{EchoFunction, T0_SECS, get, json_body};

/// A Lambda authorizer run in process: decides by the identity it is sent, counts invocations and keeps the
/// last event.
#[derive(Default)]
struct Authorizer {
    calls: AtomicUsize,
    last: Mutex<Value>,
}

impl Invoker for Authorizer {
    fn invoke<'a>(&'a self, function: &'a str, payload: Vec<u8>, trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async move {
            if function == "echo" {
                return EchoFunction.invoke(function, payload, trace).await;
            }
            self.calls.fetch_add(1, Ordering::SeqCst);
            let event: Value = serde_json::from_slice(&payload).expect("event");
            *self.last.lock().expect("lock") = event.clone();
            let identity = event["authorizationToken"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| event["identitySource"][0].as_str().map(str::to_owned))
                .unwrap_or_default();
            let policy = |effect: &str, resource: &str| {
                json!({
                    "principalId": "user-7",
                    "policyDocument": {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
                    "context": {"tier": "gold", "n": 3},
                    "usageIdentifierKey": identity.strip_prefix("key:").unwrap_or(""),
                })
            };
            let arn = event["methodArn"].as_str().or(event["routeArn"].as_str()).unwrap_or("").to_owned();
            let (reply, error) = match identity.split(':').next().unwrap_or("") {
                "allow-all" | "key" => (policy("Allow", "arn:aws:execute-api:*:*:*/*/*/*"), None),
                "allow-this" => (policy("Allow", &arn), None),
                "deny" => (policy("Deny", "*"), None),
                "simple-yes" => (json!({"isAuthorized": true, "context": {"list": [1, 2]}}), None),
                "simple-no" => (json!({"isAuthorized": false}), None),
                "unauthorized" => {
                    (json!({"errorMessage": "Unauthorized", "errorType": "Error"}), Some("Unhandled".to_owned()))
                }
                "crash" => (json!({"errorMessage": "boom", "errorType": "Error"}), Some("Unhandled".to_owned())),
                _ => (json!({"nonsense": true}), None),
            };
            Ok(InvokeOutput { payload: reply.to_string().into_bytes(), function_error: error })
        })
    }
}

/// A gateway whose routes use a payload 1.0 Lambda authorizer (`eventType` REQUEST or TOKEN).
fn lambda_gateway(event_type: &str, ttl: u64, authorizer: &Arc<Authorizer>) -> Gateway {
    let yaml = format!(
        r#"
authorizers:
  custom:
    type: lambda
    function: authorizer-fn
    payloadFormatVersion: "1.0"
    eventType: {event_type}
    identitySources: ["$request.header.X-Token"]
    resultTtlSeconds: {ttl}
defaultAuthorizer: custom
routes:
  GET /pets/{{id}}:
    integration: {{ type: lambda, function: echo }}
  GET /open:
    authorizer: NONE
    integration: {{ type: mock }}
"#
    );
    let definition = Definition::from_yaml(&yaml, None).expect("definition");
    let backends = Backends { lambda: Some(Arc::clone(authorizer) as Arc<dyn Invoker>), ..Backends::default() };
    Gateway::new(&definition, &backends).expect("gateway")
}

async fn token(gw: &Gateway, path: &str, token: &str) -> GatewayResponse {
    gw.handle_request(get(path, &[("x-token", token)])).await
}

#[tokio::test]
async fn lambda_authorizer_answers_and_caches_policies_per_arn() {
    let fun = Arc::new(Authorizer::default());
    let gw = lambda_gateway("REQUEST", 300, &fun);
    let missing = gw.handle_request(get("/pets/1", &[])).await;
    assert_eq!((missing.status.as_u16(), json_body(&missing)["message"].as_str()), (401, Some("Unauthorized")));
    assert_eq!(fun.calls.load(Ordering::SeqCst), 0, "no identity, no invocation");
    assert_eq!(gw.handle_request(get("/open", &[])).await.status, 200);

    let r = token(&gw, "/pets/1", "allow-all").await;
    assert_eq!(r.status, 200);
    let event = json_body(&r);
    // Payload 2.0 integrations get the authorizer's context under `lambda`.
    assert_eq!(event["requestContext"]["authorizer"]["lambda"]["tier"], "gold");
    assert_eq!(event["requestContext"]["authorizer"]["lambda"]["n"], 3);
    let sent = fun.last.lock().expect("lock").clone();
    assert_eq!(sent["type"], "REQUEST");
    assert!(sent["methodArn"].as_str().is_some_and(|a| a.ends_with("/$default/GET/pets/1")), "{}", sent["methodArn"]);
    assert_eq!(sent["identitySource"], "allow-all");
    assert!(sent.get("body").is_none());

    // Cached: no second invocation, for this route or another.
    assert_eq!(token(&gw, "/pets/2", "allow-all").await.status, 200);
    assert_eq!(fun.calls.load(Ordering::SeqCst), 1);
    // A policy for one ARN, cached, is judged again on another route: allowed there, denied here. (An HTTP
    // API says only "Forbidden"; a REST API's words are in api_types.rs.)
    assert_eq!(token(&gw, "/pets/1", "allow-this").await.status, 200);
    let other = token(&gw, "/pets/2", "allow-this").await;
    assert_eq!((other.status.as_u16(), json_body(&other)["message"].as_str()), (403, Some("Forbidden")));
    assert_eq!(fun.calls.load(Ordering::SeqCst), 2, "the second route used the cached policy");
    let deny = token(&gw, "/pets/1", "deny").await;
    assert_eq!((deny.status.as_u16(), json_body(&deny)["message"].as_str()), (403, Some("Forbidden")));
    let unauthorized = token(&gw, "/pets/1", "unauthorized").await;
    assert_eq!(unauthorized.status, 401);
    for bad in ["crash", "garbage"] {
        let r = token(&gw, "/pets/1", bad).await;
        assert_eq!(
            (r.status.as_u16(), json_body(&r)["message"].as_str()),
            (500, Some("Internal Server Error")),
            "{bad}"
        );
    }
    // TTL 0: every request invokes.
    let uncached = Arc::new(Authorizer::default());
    let gw0 = lambda_gateway("REQUEST", 0, &uncached);
    for _ in 0..3 {
        assert_eq!(token(&gw0, "/pets/1", "allow-all").await.status, 200);
    }
    assert_eq!(uncached.calls.load(Ordering::SeqCst), 3);
    // TOKEN: the event API Gateway sends for REST TOKEN authorizers.
    let tokens = Arc::new(Authorizer::default());
    let gwt = lambda_gateway("TOKEN", 300, &tokens);
    assert_eq!(token(&gwt, "/pets/9", "allow-all").await.status, 200);
    let sent = tokens.last.lock().expect("lock").clone();
    assert_eq!(sent.as_object().map(|o| o.len()), Some(3), "{sent}");
    assert_eq!((sent["type"].as_str(), sent["authorizationToken"].as_str()), (Some("TOKEN"), Some("allow-all")));
}

#[tokio::test]
async fn lambda_authorizer_v2_simple_responses_and_usage_identifier_keys() {
    let fun = Arc::new(Authorizer::default());
    let gw = {
        let yaml = r#"
authorizers:
  simple: { type: lambda, function: authorizer-fn, identitySources: ["$request.header.X-Token", "$request.querystring.tenant"], simpleResponses: true }
routes:
  GET /x:
    authorizer: simple
    integration: { type: lambda, function: echo }
"#;
        let definition = Definition::from_yaml(yaml, None).expect("definition");
        Gateway::new(
            &definition,
            &Backends { lambda: Some(Arc::clone(&fun) as Arc<dyn Invoker>), ..Backends::default() },
        )
        .expect("gw")
    };
    let mut request = get("/x", &[("x-token", "simple-yes")]);
    request.raw_query = "tenant=t1".into();
    let r = gw.handle_request(request).await;
    assert_eq!(r.status, 200);
    assert_eq!(json_body(&r)["requestContext"]["authorizer"]["lambda"]["list"], json!([1, 2]));
    let sent = fun.last.lock().expect("lock").clone();
    assert_eq!((sent["version"].as_str(), sent["type"].as_str()), (Some("2.0"), Some("REQUEST")));
    assert_eq!(sent["identitySource"], json!(["simple-yes", "t1"]));
    assert!(sent["routeArn"].as_str().is_some_and(|a| a.contains(":tollgate/$default/GET/x")));
    assert_eq!(gw.handle_request(get("/x", &[("x-token", "simple-yes")])).await.status, 401, "query identity missing");
    let mut no = get("/x", &[("x-token", "simple-no")]);
    no.raw_query = "tenant=t1".into();
    let r = gw.handle_request(no).await;
    assert_eq!((r.status.as_u16(), json_body(&r)["message"].as_str()), (403, Some("Forbidden")));

    // usageIdentifierKey feeds the usage plan when apiKeys.source is AUTHORIZER.
    let yaml = r#"
apiKeys: { source: AUTHORIZER }
authorizers:
  custom: { type: lambda, function: authorizer-fn, identitySources: ["$request.header.X-Token"] }
routes:
  GET /paid:
    authorizer: custom
    apiKeyRequired: true
    integration: { type: mock }
"#;
    let definition = Definition::from_yaml(yaml, None).expect("definition");
    let store2: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let admin2 = Admin::new(store2.as_ref(), T0_SECS * 1_000);
    let plan2 = admin2
        .create_plan(PlanInput { name: "p".into(), stages: vec!["$default".into()], ..PlanInput::default() })
        .await
        .expect("plan");
    let (_, value2) = admin2
        .create_key(NewKey { name: "k".into(), enabled: true, plans: vec![plan2.id], ..NewKey::default() })
        .await
        .expect("key");
    let backends =
        Backends { lambda: Some(Arc::clone(&fun) as Arc<dyn Invoker>), store: Some(store2), ..Backends::default() };
    let paid = Gateway::new(&definition, &backends).expect("gateway");
    assert_eq!(token(&paid, "/paid", &format!("key:{value2}")).await.status, 200);
    let wrong = token(&paid, "/paid", "key:not-a-key-of-this-store-at-all").await;
    assert_eq!(
        (wrong.status.as_u16(), json_body(&wrong)["message"].as_str()),
        (403, Some("Forbidden")),
        "an unknown key"
    );
}
