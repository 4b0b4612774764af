//! Backends and key servers that stall, trickle, close or reset, over real sockets: each gets API Gateway's
//! answer, no integration is ever invoked twice for one request, and the gateway serves other routes meanwhile.

use std::{sync::Arc, time::Duration};

use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate_core::{
    Gateway,
    backends::Backends,
    clients::{HttpClient, SdkInvoker},
    clock::Clock as _,
    clock::MICROS_PER_SEC,
    config::Definition,
    settings::Settings,
};
use tollgate_tests::{
    client::Reply,
    faulty::{Misbehaviour, RawBackend},
    get,
    issuer::{Issuer, SigningKey},
    test_clock,
};

/// A bound on a hang, never a measurement: every answer here comes within a second or two.
const HANG: Duration = Duration::from_secs(60);

/// A gateway of `kind` whose Lambda integrations go through the AWS SDK to `lambda` (an Invoke API endpoint).
async fn sdk_gateway(kind: &str, lambda: &RawBackend, http: &RawBackend) -> Gateway {
    let yaml = format!(
        r#"
type: {kind}
routes:
  POST /fn: {{ integration: {{ type: lambda, function: orders }} }}
  POST /http: {{ integration: {{ type: http, url: "http://{}/orders" }} }}
"#,
        http.addr
    );
    let definition = Definition::from_yaml(&yaml, None).expect("definition");
    let settings = Settings { lambda_endpoint: Some(format!("http://{}", lambda.addr)), ..Settings::default() };
    let backends = Backends {
        lambda: Some(Arc::new(SdkInvoker::new(&settings).await)),
        http: Some(HttpClient::new().expect("client")),
        ..Backends::default()
    };
    Gateway::new(&definition, &backends).expect("gateway")
}

fn post(path: &str) -> tollgate_core::request::GatewayRequest {
    let mut request = get(path, &[("content-type", "application/json")]);
    request.method = http::Method::POST;
    request.body = br#"{"order":"one pizza"}"#.to_vec().into();
    request
}

/// API Gateway never retries an integration. The AWS SDK's default policy would: a connection reset after the
/// Invoke API received the call is a transient error to it, and the function would run again (a second order):
/// before the Lambda client's retries were turned off, this test saw three Invoke calls per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_answer_is_lost_is_never_sent_twice() {
    for (kind, lambda_answer, http_answer) in [
        ("HTTP", (500, r#"{"message":"Internal Server Error"}"#), (500, r#"{"message":"Internal Server Error"}"#)),
        ("REST", (502, r#"{"message": "Internal server error"}"#), (502, r#"{"message": "Internal server error"}"#)),
    ] {
        let lambda = RawBackend::start(Misbehaviour::Close).await;
        let http = RawBackend::start(Misbehaviour::Close).await;
        let gateway = sdk_gateway(kind, &lambda, &http).await;
        for round in 1..=3 {
            let r = tokio::time::timeout(HANG, gateway.handle_request(post("/fn"))).await.expect("answers");
            assert_eq!((r.status.as_u16(), &*String::from_utf8_lossy(&r.body)), lambda_answer, "{kind}");
            assert_eq!(lambda.received(), round, "{kind}: one Invoke call per request, never a retry");

            let r = tokio::time::timeout(HANG, gateway.handle_request(post("/http"))).await.expect("answers");
            assert_eq!((r.status.as_u16(), &*String::from_utf8_lossy(&r.body)), http_answer, "{kind}");
            assert_eq!(http.received(), round, "{kind}: one backend request per request, never a retry");
        }
    }
}

/// `tollgate serve` in front of backends that stall, trickle and cut their answers off.
async fn serve_faulty(kind: &str, stall: &RawBackend, trickle: &RawBackend, cut: &RawBackend) -> String {
    let yaml = format!(
        r#"
type: {kind}
routes:
  GET /stall: {{ integration: {{ type: http, url: "http://{stall}/", timeoutMs: 300 }} }}
  GET /stall-long: {{ integration: {{ type: http, url: "http://{stall}/" }} }}
  GET /trickle: {{ integration: {{ type: http, url: "http://{trickle}/", timeoutMs: 300 }} }}
  GET /cut: {{ integration: {{ type: http, url: "http://{cut}/" }} }}
  GET /mock: {{ integration: {{ type: mock, statusCode: 200, body: fine }} }}
"#,
        stall = stall.addr,
        trickle = trickle.addr,
        cut = cut.addr,
    );
    let (server, dir) = tollgate_tests::serve(&yaml).await;
    let base = format!("http://{}", server.addr);
    // Both live as long as the test's runtime: the test owns neither past its last request.
    std::mem::forget((server, dir));
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalling_trickling_and_cut_off_backends_get_api_gateway_answers_while_other_routes_serve() {
    let timeout_http = (503, r#"{"message":"Service Unavailable"}"#);
    let timeout_rest = (504, r#"{"message": "Endpoint request timed out"}"#);
    let failed_http = (500, r#"{"message":"Internal Server Error"}"#);
    let failed_rest = (502, r#"{"message": "Internal server error"}"#);
    for (kind, timed_out, failed) in [("HTTP", timeout_http, failed_http), ("REST", timeout_rest, failed_rest)] {
        let stall = RawBackend::start(Misbehaviour::Stall).await;
        let trickle = RawBackend::start(Misbehaviour::Trickle(Duration::from_millis(100))).await;
        let cut = RawBackend::start(Misbehaviour::CutOff).await;
        let base = serve_faulty(kind, &stall, &trickle, &cut).await;
        let client = reqwest::Client::new();
        let fetch = |path: &str| {
            let request = client.get(format!("{base}{path}"));
            async move { tokio::time::timeout(HANG, Reply::of(request)).await.expect("answers") }
        };

        for (path, expected) in [("/stall", timed_out), ("/trickle", timed_out), ("/cut", failed)] {
            let r = fetch(path).await;
            assert_eq!((r.status, r.text().as_str()), expected, "{kind} {path}");
        }

        // Fifty requests held by a backend that never answers (the integration's default 29 s timeout)...
        let held: Vec<_> = (0..50).map(|_| tokio::spawn(fetch("/stall-long"))).collect();
        tokio::time::timeout(HANG, stall.wait_for(1 + 50)).await.expect("the backend holds all fifty");
        // ...and the gateway keeps serving everything else.
        let served = tollgate_tests::join_all((0..100).map(|_| fetch("/mock"))).await;
        assert!(served.iter().all(|r| r.status == 200 && r.text() == "fine"), "{kind}");
        let cut_off = fetch("/cut").await;
        assert_eq!((cut_off.status, cut_off.text().as_str()), failed, "{kind}");
        assert!(held.iter().all(|h| !h.is_finished()), "{kind}: the stalled requests are still waiting");
        for h in held {
            h.abort();
        }
    }
}

/// A JWT gateway on the test clock.
fn jwt_gateway(issuer: &str, clock: &tollgate_core::clock::ManualClock) -> Gateway {
    let yaml = format!(
        r#"
authorizers:
  users: {{ type: jwt, issuer: "{issuer}", audiences: [api] }}
routes:
  GET /me: {{ authorizer: users, integration: {{ type: mock, statusCode: 200, body: me }} }}
"#
    );
    let definition = Definition::from_yaml(&yaml, None).expect("definition");
    let backends = Backends {
        http: Some(HttpClient::new().expect("client")),
        clock: Some(Arc::new(clock.clone())),
        ..Backends::default()
    };
    Gateway::new(&definition, &backends).expect("gateway")
}

/// Keys are cached an hour. After that a token under a known key is still served at once while one refetch runs
/// in the background: an issuer that hangs must not hold up every request for its 1.5 s fetch timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_key_server_never_stalls_tokens_under_known_keys() {
    let key = SigningKey::load("rsa.pem", "rsa-1", Algorithm::RS256);
    let issuer = Issuer::start(&[&key]).await;
    let clock = test_clock();
    let gateway = jwt_gateway(&issuer.url, &clock);
    // Signed once: valid for a day of the test clock, so only the keys' age changes below.
    let now = clock.now_ms() / 1_000;
    let token = key.sign(&json!({"iss": issuer.url, "aud": "api", "sub": "user-1", "iat": now, "exp": now + 86_400}));
    let me = |token: String| {
        let bearer = format!("Bearer {token}");
        gateway.handle_request(get("/me", &[("authorization", &bearer)]))
    };
    assert_eq!(me(token.clone()).await.status, 200);
    assert_eq!(issuer.fetches(), 1);

    issuer.set_hanging(true);
    clock.advance_us(2 * 3_600 * MICROS_PER_SEC);
    // A token verified before stays verified (cached until it expires); a new one needs its key, now two hours
    // old. Within the fetch timeout (1.5 s), a hundred requests under it are all answered while the background
    // refetch hangs on the issuer.
    let now = clock.now_ms() / 1_000;
    let fresh = key.sign(&json!({"iss": issuer.url, "aud": "api", "sub": "user-2", "iat": now, "exp": now + 600}));
    let answers = tokio::time::timeout(
        Duration::from_millis(1_000),
        tollgate_tests::join_all((0..100).map(|_| me(fresh.clone()))),
    )
    .await
    .expect("known keys are served without waiting for the issuer");
    assert!(answers.iter().all(|r| r.status == 200));
    tokio::time::timeout(HANG, issuer.wait_for_hung(1)).await.expect("the refetch reaches the issuer");
    assert_eq!(issuer.hung(), 1, "one refetch, however many requests found the keys old");

    // A token under a key the ring has never seen does wait for the keys, and is refused when they never come.
    let stranger = SigningKey::load("ec256.pem", "ec-unknown", Algorithm::ES256);
    let now = clock.now_ms() / 1_000;
    let forged = stranger.sign(&json!({"iss": issuer.url, "aud": "api", "sub": "x", "exp": now + 60}));
    let r = tokio::time::timeout(HANG, me(forged)).await.expect("answers");
    assert_eq!(r.status, 401);
    // ...and the known key still passes.
    assert_eq!(me(token.clone()).await.status, 200);
}
