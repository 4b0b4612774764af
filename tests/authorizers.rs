//! Authorizers through the gateway pipeline: JWTs against a real issuer on loopback (RSA, EC and Ed25519
//! keys, and the attacks), Lambda authorizers with cached policies, resource policies, and the standalone
//! authorizer functions fed recorded events.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate_core::{
    Gateway,
    auth::{
        function::{AuthorizerRequest, api_key_decision, jwt_decision},
        jwks::KeyRing,
        jwt::JwtAuthorizer,
    },
    clock::{MICROS_PER_SEC, ManualClock, SharedClock},
    config::Definition,
    integration::{Backends, HttpClient, InvokeFuture, InvokeOutput, Invoker},
    request::GatewayResponse,
    store::{Store, embedded::EmbeddedStore},
    usage::{
        admin::{Admin, NewKey, PlanInput},
        meter::Meter,
    },
};
use tollgate_tests::{
    EchoFunction, event_text, get,
    issuer::{Issuer, SigningKey},
    join_all,
};

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

fn clock_now() -> ManualClock {
    ManualClock::at(now_s() * MICROS_PER_SEC)
}

fn rsa() -> SigningKey {
    SigningKey::load("rsa.pem", "rsa-1", Algorithm::RS256)
}

fn claims(issuer: &str) -> Value {
    json!({ "iss": issuer, "aud": "api", "sub": "user-1", "exp": now_s() + 600, "iat": now_s() - 5, "scope": "read write", "groups": ["a", "b"] })
}

fn jwt_gateway(issuer: &str, clock: &ManualClock, leeway: u64) -> Gateway {
    let yaml = format!(
        r#"
authorizers:
  users: {{ type: jwt, issuer: "{issuer}", audiences: [api, other], leewaySeconds: {leeway} }}
routes:
  GET /open: {{ integration: {{ type: mock }} }}
  GET /me:
    authorizer: users
    integration: {{ type: lambda, function: echo }}
  GET /me-v1:
    authorizer: users
    integration: {{ type: lambda, function: echo, payloadFormatVersion: "1.0" }}
  GET /admin:
    authorizer: users
    authorizationScopes: [admin]
    integration: {{ type: mock }}
"#
    );
    let definition = Definition::from_yaml(&yaml, None).expect("definition");
    let backends = Backends {
        lambda: Some(Arc::new(EchoFunction)),
        http: Some(HttpClient::new().expect("client")),
        clock: Some(Arc::new(clock.clone())),
        ..Backends::default()
    };
    Gateway::new(&definition, &backends).expect("gateway")
}

async fn with_token(gw: &Gateway, path: &str, token: &str) -> GatewayResponse {
    let bearer = format!("Bearer {token}");
    gw.handle_request(get(path, &[("authorization", &bearer)])).await
}

fn body(r: &GatewayResponse) -> Value {
    serde_json::from_slice(&r.body).expect("JSON body")
}

fn header<'a>(r: &'a GatewayResponse, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn every_supported_algorithm_verifies_and_claims_reach_the_backend() {
    let keys = [
        SigningKey::load("rsa.pem", "rs256", Algorithm::RS256),
        SigningKey::load("rsa.pem", "rs384", Algorithm::RS384),
        SigningKey::load("rsa.pem", "rs512", Algorithm::RS512),
        SigningKey::load("rsa.pem", "ps256", Algorithm::PS256),
        SigningKey::load("rsa.pem", "ps384", Algorithm::PS384),
        SigningKey::load("rsa.pem", "ps512", Algorithm::PS512),
        SigningKey::load("ec256.pem", "es256", Algorithm::ES256),
        SigningKey::load("ec384.pem", "es384", Algorithm::ES384),
        SigningKey::load("ed25519.pem", "eddsa", Algorithm::EdDSA),
    ];
    let issuer = Issuer::start(&keys.iter().collect::<Vec<_>>()).await;
    let gw = jwt_gateway(&issuer.url, &clock_now(), 0);
    for key in &keys {
        let r = with_token(&gw, "/me", &key.sign(&claims(&issuer.url))).await;
        assert_eq!(r.status, 200, "{} {:?}", key.kid, String::from_utf8_lossy(&r.body));
        let event = echoed(&r);
        let jwt = &event["requestContext"]["authorizer"]["jwt"];
        assert_eq!(jwt["claims"]["sub"], "user-1", "{}", key.kid);
        assert_eq!(jwt["claims"]["groups"], "[a b]", "claim values are strings, arrays bracketed");
        assert_eq!(jwt["claims"]["exp"].as_str().map(|s| s.parse::<i64>().is_ok()), Some(true));
        assert_eq!(jwt["scopes"], json!(["read", "write"]));
    }
    // Payload 1.0 puts them at authorizer.claims / .scopes.
    let r = with_token(&gw, "/me-v1", &keys[0].sign(&claims(&issuer.url))).await;
    let event = echoed(&r);
    assert_eq!(event["requestContext"]["authorizer"]["claims"]["sub"], "user-1");
    assert_eq!(issuer.fetches(), 1, "one JWKS fetch serves every key");
}

/// The proxy event the echo function received.
fn echoed(r: &GatewayResponse) -> Value {
    serde_json::from_slice(&r.body).expect("the echoed event")
}

#[tokio::test]
async fn attacks_and_bad_tokens_are_refused_with_api_gateway_answers() {
    let key = rsa();
    let ec = SigningKey::load("ec256.pem", "ec-1", Algorithm::ES256);
    let issuer = Issuer::start(&[&key, &ec]).await;
    let clock = clock_now();
    let gw = jwt_gateway(&issuer.url, &clock, 0);
    let good = claims(&issuer.url);
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none_token = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "rsa-1"})), b64(&good));
    // RS→HS confusion: an HMAC "signed" with the RSA public key, which is public.
    let public_pem = std::fs::read(tollgate_tests::repo_root().join("tests/fixtures/keys/rsa.pub.pem")).expect("pem");
    let mut hs_header = jsonwebtoken::Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let confused =
        jsonwebtoken::encode(&hs_header, &good, &jsonwebtoken::EncodingKey::from_secret(&public_pem)).expect("hs");
    // An ES256 signature presented under the RSA key's kid.
    let mut mismatched = SigningKey::load("ec256.pem", "rsa-1", Algorithm::ES256);
    mismatched.kid = "rsa-1".into();
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().expect("object") {
            if v.is_null() {
                c.as_object_mut().expect("object").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        key.sign(&c)
    };
    let cases: Vec<(&str, String)> = vec![
        ("alg none", none_token),
        ("RS to HS confusion", confused),
        ("alg does not match the key", mismatched.sign(&good)),
        ("expired", with(json!({"exp": now_s() - 60}))),
        ("not yet valid", with(json!({"nbf": now_s() + 600}))),
        ("issued in the future", with(json!({"iat": now_s() + 600}))),
        ("wrong issuer", with(json!({"iss": "https://evil.example"}))),
        ("wrong audience", with(json!({"aud": "someone-else"}))),
        ("no exp", with(json!({"exp": null}))),
        ("two segments", "abc.def".to_owned()),
        ("four segments", format!("{}.x", key.sign(&good))),
        ("garbage", "!!!.???.***".to_owned()),
        ("oversized", format!("{}{}", key.sign(&good), "A".repeat(9_000))),
        ("bad signature", {
            let t = key.sign(&good);
            format!("{}AAAA", &t[..t.len() - 4])
        }),
    ];
    for (why, token) in cases {
        let r = with_token(&gw, "/me", &token).await;
        assert_eq!((r.status.as_u16(), body(&r)["message"].as_str()), (401, Some("Unauthorized")), "{why}");
        assert!(
            header(&r, "www-authenticate").starts_with(r#"Bearer error="invalid_token""#),
            "{why}: {}",
            header(&r, "www-authenticate")
        );
    }
    let missing = gw.handle_request(get("/me", &[])).await;
    assert_eq!((missing.status.as_u16(), header(&missing, "www-authenticate")), (401, "Bearer"));
    // `client_id` stands in for a missing `aud`; a bare token (no "Bearer ") works too.
    let client = with(json!({"aud": null, "client_id": "other"}));
    assert_eq!(gw.handle_request(get("/me", &[("authorization", &client)])).await.status, 200);
    // Scopes: 403 with insufficient_scope.
    let r = with_token(&gw, "/admin", &key.sign(&good)).await;
    assert_eq!((r.status.as_u16(), body(&r)["message"].as_str()), (403, Some("Forbidden")));
    assert_eq!(header(&r, "www-authenticate"), r#"Bearer error="insufficient_scope""#);
    let admin = with(json!({"scp": ["admin"], "scope": null}));
    assert_eq!(with_token(&gw, "/admin", &admin).await.status, 200);
    assert_eq!(gw.handle_request(get("/open", &[])).await.status, 200, "routes without an authorizer stay open");

    // An HMAC key published in the JWKS is never used.
    issuer.publish_raw(json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}));
    let mut hs = jsonwebtoken::Header::new(Algorithm::HS256);
    hs.kid = Some("hmac".into());
    let hmac = jsonwebtoken::encode(&hs, &good, &jsonwebtoken::EncodingKey::from_secret(b"secret")).expect("hs");
    clock.advance_us(11 * MICROS_PER_SEC);
    assert_eq!(with_token(&gw, "/me", &hmac).await.status, 401);
    // Leeway: a token expired 20 s ago passes with leewaySeconds 30.
    let lenient = jwt_gateway(&issuer.url, &clock, 30);
    assert_eq!(with_token(&lenient, "/me", &with(json!({"exp": now_s() - 20}))).await.status, 200);
}

#[tokio::test]
async fn unknown_kid_floods_do_not_hammer_the_issuer_and_rotation_is_picked_up() {
    let key = rsa();
    let issuer = Issuer::start(&[&key]).await;
    let clock = clock_now();
    let gw = jwt_gateway(&issuer.url, &clock, 0);
    assert_eq!(with_token(&gw, "/me", &key.sign(&claims(&issuer.url))).await.status, 200);
    assert_eq!(issuer.fetches(), 1);
    // 200 tokens with random kids, 50 at a time concurrently.
    for round in 0..4 {
        let calls = (0..50).map(|i| {
            // EC signing is fast even unoptimized; the kid is what matters here.
            let mut forged = SigningKey::load("ec256.pem", "x", Algorithm::ES256);
            forged.kid = format!("random-{round}-{i}");
            let token = forged.sign(&claims(&issuer.url));
            let gw = &gw;
            async move { with_token(gw, "/me", &token).await.status }
        });
        for status in join_all(calls).await {
            assert_eq!(status, 401);
        }
    }
    assert!(issuer.fetches() <= 2, "at most one refetch per interval, single flight: {}", issuer.fetches());

    // Rotation mid-run: a token under a new key passes once the issuer publishes it and the interval passed.
    let rotated = SigningKey::load("rsa-rotated.pem", "rsa-2", Algorithm::RS256);
    issuer.publish(&rotated);
    clock.advance_us(11 * MICROS_PER_SEC);
    let r = with_token(&gw, "/me", &rotated.sign(&claims(&issuer.url))).await;
    assert_eq!(r.status, 200, "{}", header(&r, "www-authenticate"));
    assert_eq!(with_token(&gw, "/me", &key.sign(&claims(&issuer.url))).await.status, 200, "old key still published");

    // The issuer goes down: known keys keep working, including for new tokens; unknown kids are refused.
    issuer.set_down(true);
    clock.advance_us(11 * MICROS_PER_SEC);
    let mut fresh = claims(&issuer.url);
    fresh["jti"] = json!("new");
    assert_eq!(with_token(&gw, "/me", &key.sign(&fresh)).await.status, 200);
    let mut unknown = rsa();
    unknown.kid = "rsa-3".into();
    assert_eq!(with_token(&gw, "/me", &unknown.sign(&claims(&issuer.url))).await.status, 401);
    // A gateway that never reached the issuer refuses with 401, not a 5xx.
    let cold = jwt_gateway(&issuer.url, &clock, 0);
    assert_eq!(with_token(&cold, "/me", &key.sign(&claims(&issuer.url))).await.status, 401);
}

/// A Lambda authorizer run in process: decides by the identity it is sent, counts invocations and keeps the
/// last event.
#[derive(Default)]
struct Authorizer {
    calls: AtomicUsize,
    last: Mutex<Value>,
}

impl Invoker for Authorizer {
    fn invoke<'a>(&'a self, function: &'a str, payload: Vec<u8>) -> InvokeFuture<'a> {
        Box::pin(async move {
            if function == "echo" {
                return EchoFunction.invoke(function, payload).await;
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
    assert_eq!((missing.status.as_u16(), body(&missing)["message"].as_str()), (401, Some("Unauthorized")));
    assert_eq!(fun.calls.load(Ordering::SeqCst), 0, "no identity, no invocation");
    assert_eq!(gw.handle_request(get("/open", &[])).await.status, 200);

    let r = token(&gw, "/pets/1", "allow-all").await;
    assert_eq!(r.status, 200);
    let event = echoed(&r);
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
    // A policy for one ARN, cached, is judged again on another route: allowed there, denied here.
    assert_eq!(token(&gw, "/pets/1", "allow-this").await.status, 200);
    let other = token(&gw, "/pets/2", "allow-this").await;
    assert_eq!(
        (other.status.as_u16(), body(&other)["message"].as_str()),
        (403, Some("User is not authorized to access this resource"))
    );
    assert_eq!(fun.calls.load(Ordering::SeqCst), 2, "the second route used the cached policy");
    let deny = token(&gw, "/pets/1", "deny").await;
    assert_eq!(
        (deny.status.as_u16(), body(&deny)["message"].as_str()),
        (403, Some("User is not authorized to access this resource with an explicit deny"))
    );
    let unauthorized = token(&gw, "/pets/1", "unauthorized").await;
    assert_eq!(unauthorized.status, 401);
    for bad in ["crash", "garbage"] {
        let r = token(&gw, "/pets/1", bad).await;
        assert_eq!(
            (r.status.as_u16(), header(&r, "x-amzn-errortype")),
            (500, "AuthorizerConfigurationException"),
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
    assert_eq!(echoed(&r)["requestContext"]["authorizer"]["lambda"]["list"], json!([1, 2]));
    let sent = fun.last.lock().expect("lock").clone();
    assert_eq!((sent["version"].as_str(), sent["type"].as_str()), (Some("2.0"), Some("REQUEST")));
    assert_eq!(sent["identitySource"], json!(["simple-yes", "t1"]));
    assert!(sent["routeArn"].as_str().is_some_and(|a| a.contains(":tollgate/$default/GET/x")));
    assert_eq!(gw.handle_request(get("/x", &[("x-token", "simple-yes")])).await.status, 401, "query identity missing");
    let mut no = get("/x", &[("x-token", "simple-no")]);
    no.raw_query = "tenant=t1".into();
    let r = gw.handle_request(no).await;
    assert_eq!((r.status.as_u16(), body(&r)["message"].as_str()), (403, Some("Forbidden")));

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
    let admin2 = Admin::new(store2.as_ref(), chrono::Utc::now().timestamp_millis());
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
    assert_eq!((wrong.status.as_u16(), body(&wrong)["message"].as_str()), (403, Some("Forbidden")), "an unknown key");
}

#[tokio::test]
async fn resource_policies_refuse_by_source_ip() {
    let yaml = r#"
resourcePolicy: { allow: ["192.0.2.0/24", "2001:db8::/32"], deny: ["192.0.2.66"] }
routes:
  GET /a: { integration: { type: mock } }
  GET /b:
    resourcePolicy: { allow: ["192.0.2.10/32"] }
    integration: { type: mock }
"#;
    let definition = Definition::from_yaml(yaml, None).expect("definition");
    let gw = Gateway::new(&definition, &Backends::default()).expect("gateway");
    let from = |ip: &str, path: &str| {
        let mut r = get(path, &[]);
        r.source_ip = ip.to_owned();
        r
    };
    assert_eq!(gw.handle_request(from("192.0.2.1", "/a")).await.status, 200);
    assert_eq!(gw.handle_request(from("2001:db8::7", "/a")).await.status, 200);
    let denied = gw.handle_request(from("192.0.2.66", "/a")).await;
    assert_eq!(denied.status, 403);
    let message = body(&denied)["message"].as_str().unwrap_or("").to_owned();
    assert!(
        message.starts_with(
            "User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:"
        ),
        "{message}"
    );
    assert!(message.ends_with("/$default/GET/a with an explicit deny"), "{message}");
    let outside = gw.handle_request(from("198.51.100.1", "/a")).await;
    assert!(
        body(&outside)["message"].as_str().is_some_and(|m| m.ends_with("/GET/a")),
        "implicit deny names no explicit deny"
    );
    assert_eq!(gw.handle_request(from("192.0.2.1", "/b")).await.status, 403, "the route's own list applies too");
    assert_eq!(gw.handle_request(from("192.0.2.10", "/b")).await.status, 200);
    let bad = "resourcePolicy: { deny: [\"10.0.0.0/33\"] }\nroutes:\n  GET /a: { integration: { type: mock } }\n";
    assert!(Definition::from_yaml(bad, None).is_err());
}

#[tokio::test]
async fn standalone_authorizers_answer_recorded_events() {
    // API keys from the store.
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let admin = Admin::new(store.as_ref(), chrono::Utc::now().timestamp_millis());
    let (key, value) =
        admin.create_key(NewKey { name: "svc".into(), enabled: true, ..NewKey::default() }).await.expect("key");
    let meter = Meter::new(Arc::clone(&store), Arc::new(tollgate_core::clock::SystemClock), 10);
    let mut token_event: Value = serde_json::from_str(&event_text("authorizer-token-request.json")).expect("json");
    let request = AuthorizerRequest::parse(&token_event).expect("parse");
    let answer = request.answer(api_key_decision(&meter, &request).await.expect("store")).expect("a policy");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Deny", "the recorded token is no key of ours");
    token_event["authorizationToken"] = json!(value);
    let request = AuthorizerRequest::parse(&token_event).expect("parse");
    let answer = request.answer(api_key_decision(&meter, &request).await.expect("store")).expect("a policy");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(answer["principalId"], key.id.as_str());
    assert_eq!(answer["usageIdentifierKey"], value.as_str());
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/*"
    );
    // WebSocket $connect: browsers pass the key in the query string; no key at all is a 401.
    let mut ws: Value = serde_json::from_str(&event_text("authorizer-websocket-connect.json")).expect("json");
    let request = AuthorizerRequest::parse(&ws).expect("parse");
    assert!(request.answer(api_key_decision(&meter, &request).await.expect("store")).is_err(), "Unauthorized");
    ws["queryStringParameters"] = json!({ "apiKey": value });
    let request = AuthorizerRequest::parse(&ws).expect("parse");
    let answer = request.answer(api_key_decision(&meter, &request).await.expect("store")).expect("policy");
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
    // HTTP API 2.0: a simple response.
    let mut v2: Value = serde_json::from_str(&event_text("authorizer-v2-request.json")).expect("json");
    v2["headers"]["x-api-key"] = json!(value);
    let request = AuthorizerRequest::parse(&v2).expect("parse");
    let answer = request.answer(api_key_decision(&meter, &request).await.expect("store")).expect("simple");
    assert_eq!(answer["isAuthorized"], true);
    assert_eq!(answer["context"]["keyName"], "svc");

    // JWTs, against the loopback issuer.
    let key = rsa();
    let issuer = Issuer::start(&[&key]).await;
    let clock: SharedClock = Arc::new(tollgate_core::clock::SystemClock);
    let ring = KeyRing::new(issuer.url.clone(), None, HttpClient::new().expect("client"), Arc::clone(&clock));
    let verifier = JwtAuthorizer::new(issuer.url.clone(), vec!["api".into()], 0, ring, clock);
    let mut rest: Value = serde_json::from_str(&event_text("authorizer-request-v1.json")).expect("json");
    rest["headers"]["Authorization"] = json!(format!("Bearer {}", key.sign(&claims(&issuer.url))));
    let request = AuthorizerRequest::parse(&rest).expect("parse");
    let answer = request.answer(jwt_decision(&verifier, &[], &request).await).expect("policy");
    assert_eq!(answer["principalId"], "user-1");
    assert_eq!(answer["context"]["groups"], "[a b]");
    let need_admin = jwt_decision(&verifier, &["admin".to_owned()], &request).await;
    assert_eq!(request.answer(need_admin).expect("deny")["policyDocument"]["Statement"][0]["Effect"], "Deny");
    rest["headers"]["Authorization"] = json!("Bearer not.a.token");
    let request = AuthorizerRequest::parse(&rest).expect("parse");
    assert!(request.answer(jwt_decision(&verifier, &[], &request).await).is_err(), "invalid token: Unauthorized");
}
