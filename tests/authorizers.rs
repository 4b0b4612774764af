//! Authorizers through the gateway pipeline: JWTs against a real issuer on loopback (RSA, EC and Ed25519
//! keys, and the attacks), resource policies, and the standalone authorizer functions fed recorded events.
//! Lambda authorizers are in `lambda_authorizers.rs`.

use std::sync::Arc;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate_core::{
    Gateway,
    admin::{Admin, NewKey},
    auth::{
        jwks::KeyRing,
        jwt::JwtAuthorizer,
        standalone::{AuthorizerRequest, api_key_decision, jwt_decision},
    },
    backends::Backends,
    clients::HttpClient,
    clock::{Clock as _, MICROS_PER_SEC, ManualClock, SharedClock},
    config::Definition,
    metering::Meter,
    request::GatewayResponse,
    store::{Store, embedded::EmbeddedStore},
};
use tollgate_tests::{
    EchoFunction, T0_SECS, event_text, get, header,
    issuer::{Issuer, SigningKey},
    join_all, json_body, test_clock,
};

/// The test clock's time, in seconds: what token lifetimes are measured against.
fn now_s(clock: &ManualClock) -> i64 {
    clock.now_us() / MICROS_PER_SEC
}

fn rsa() -> SigningKey {
    SigningKey::load("rsa.pem", "rsa-1", Algorithm::RS256)
}

/// A token's claims, issued at the test clock's start and valid for ten minutes.
fn claims(issuer: &str) -> Value {
    json!({ "iss": issuer, "aud": "api", "sub": "user-1", "exp": T0_SECS + 600, "iat": T0_SECS - 5, "scope": "read write", "groups": ["a", "b"] })
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
    let gw = jwt_gateway(&issuer.url, &test_clock(), 0);
    for key in &keys {
        let r = with_token(&gw, "/me", &key.sign(&claims(&issuer.url))).await;
        assert_eq!(r.status, 200, "{} {:?}", key.kid, String::from_utf8_lossy(&r.body));
        let event = json_body(&r);
        let jwt = &event["requestContext"]["authorizer"]["jwt"];
        assert_eq!(jwt["claims"]["sub"], "user-1", "{}", key.kid);
        assert_eq!(jwt["claims"]["groups"], "[a b]", "claim values are strings, arrays bracketed");
        assert_eq!(jwt["claims"]["exp"].as_str().map(|s| s.parse::<i64>().is_ok()), Some(true));
        assert_eq!(jwt["scopes"], json!(["read", "write"]));
    }
    // Payload 1.0 puts them at authorizer.claims / .scopes.
    let r = with_token(&gw, "/me-v1", &keys[0].sign(&claims(&issuer.url))).await;
    let event = json_body(&r);
    assert_eq!(event["requestContext"]["authorizer"]["claims"]["sub"], "user-1");
    assert_eq!(issuer.fetches(), 1, "one JWKS fetch serves every key");
}

#[tokio::test]
async fn attacks_and_bad_tokens_are_refused_with_api_gateway_answers() {
    let key = rsa();
    let ec = SigningKey::load("ec256.pem", "ec-1", Algorithm::ES256);
    let issuer = Issuer::start(&[&key, &ec]).await;
    let clock = test_clock();
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
    // Each refusal names what is wrong in one of a few fixed phrases, never echoing the token.
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", none_token, "the token is malformed"),
        ("RS to HS confusion", confused, "the token's signing method is not accepted"),
        ("alg does not match the key", mismatched.sign(&good), "the token's signing method is not accepted"),
        ("expired", with(json!({"exp": now_s(&clock) - 60})), "the token has expired"),
        ("not yet valid", with(json!({"nbf": now_s(&clock) + 600})), "the token is not valid yet"),
        ("issued in the future", with(json!({"iat": now_s(&clock) + 600})), "the token was issued in the future"),
        ("wrong issuer", with(json!({"iss": "https://evil.example"})), "the token does not have a valid issuer"),
        ("wrong audience", with(json!({"aud": "someone-else"})), "the token does not have a valid audience"),
        ("no exp", with(json!({"exp": null})), "the token has expired"),
        ("two segments", "abc.def".to_owned(), "the token is malformed"),
        ("four segments", format!("{}.x", key.sign(&good)), "the token is malformed"),
        ("garbage", "!!!.???.***".to_owned(), "the token is malformed"),
        ("oversized", format!("{}{}", key.sign(&good), "A".repeat(9_000)), "the token is malformed"),
        (
            "bad signature",
            {
                let t = key.sign(&good);
                format!("{}AAAA", &t[..t.len() - 4])
            },
            "the token does not have a valid signature",
        ),
    ];
    for (why, token, description) in cases {
        let r = with_token(&gw, "/me", &token).await;
        assert_eq!((r.status.as_u16(), json_body(&r)["message"].as_str()), (401, Some("Unauthorized")), "{why}");
        assert_eq!(
            header(&r, "www-authenticate"),
            format!(r#"Bearer scope="" error="invalid_token" error_description="{description}""#),
            "{why}"
        );
    }
    let missing = gw.handle_request(get("/me", &[])).await;
    assert_eq!((missing.status.as_u16(), header(&missing, "www-authenticate")), (401, "Bearer"));
    // `client_id` stands in for a missing `aud`; a bare token (no "Bearer ") works too.
    let client = with(json!({"aud": null, "client_id": "other"}));
    assert_eq!(gw.handle_request(get("/me", &[("authorization", &client)])).await.status, 200);
    // Scopes: 403 with insufficient_scope.
    let r = with_token(&gw, "/admin", &key.sign(&good)).await;
    assert_eq!((r.status.as_u16(), json_body(&r)["message"].as_str()), (403, Some("Forbidden")));
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
    // Leeway: a token expired 20 s ago (on the gateway's clock) passes with leewaySeconds 30, not without.
    let lenient = jwt_gateway(&issuer.url, &clock, 30);
    let expired = with(json!({"exp": now_s(&clock) - 20}));
    assert_eq!(with_token(&lenient, "/me", &expired).await.status, 200);
    assert_eq!(with_token(&gw, "/me", &expired).await.status, 401);
}

#[tokio::test]
async fn unknown_kid_floods_do_not_hammer_the_issuer_and_rotation_is_picked_up() {
    let key = rsa();
    let issuer = Issuer::start(&[&key]).await;
    let clock = test_clock();
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
    let message = json_body(&denied)["message"].as_str().unwrap_or("").to_owned();
    assert!(
        message.starts_with(
            "User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:"
        ),
        "{message}"
    );
    assert!(message.ends_with("/$default/GET/a with an explicit deny"), "{message}");
    let outside = gw.handle_request(from("198.51.100.1", "/a")).await;
    assert!(
        json_body(&outside)["message"].as_str().is_some_and(|m| m.ends_with("/GET/a")),
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
    let clock: SharedClock = Arc::new(test_clock());
    let admin = Admin::new(store.as_ref(), clock.now_ms());
    let (key, value) =
        admin.create_key(NewKey { name: "svc".into(), enabled: true, ..NewKey::default() }).await.expect("key");
    let meter = Meter::new(Arc::clone(&store), Arc::clone(&clock), 10);
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
