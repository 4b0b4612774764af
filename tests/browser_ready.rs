//! CORS, compression and gateway responses over real sockets: `tollgate serve` for each API type, a real HTTP
//! client, the echo function as a real process, a real HTTP backend with its own CORS headers, and a real JWT
//! issuer on loopback. (The browser's own view of the same rules is `tests/browser.rs`.)

use std::io::{Read as _, Write as _};

use axum::{Router, routing::get};
use serde_json::Value;
use tollgate::serve::Server;
use tollgate_core::usage::{Period, Quota};
use tollgate_tests::{
    client::{Reply, new_key},
    issuer::{Issuer, SigningKey},
};

const APP: &str = "http://app.test:8080";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Type {
    Http,
    Rest,
}

struct Api {
    server: Server,
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

/// A JSON body of about 8 KB, over the compression threshold.
fn big_json() -> String {
    let items: Vec<Value> =
        (0..100).map(|i| serde_json::json!({ "id": i, "name": format!("pet {i}"), "tags": ["a", "b"] })).collect();
    Value::from(items).to_string()
}

impl Api {
    async fn start(api: Type, issuer: &str) -> Self {
        let backend = tollgate_tests::spawn_http(Router::new().route(
            "/",
            get(|| async {
                (
                    [
                        ("access-control-allow-origin", "*"),
                        ("access-control-allow-methods", "DELETE"),
                        ("vary", "Accept-Encoding"),
                        ("content-type", "application/json"),
                    ],
                    big_json(),
                )
            }),
        ))
        .await;
        let kind = if api == Type::Rest { "REST" } else { "HTTP" };
        let yaml = format!(
            r#"
type: {kind}
stages:
  test: {{ variables: {{ team: pets }} }}
minimumCompressionSize: 1024
cors:
  allowOrigins: ["{APP}", "https://*.example.com"]
  allowMethods: [GET, PUT, POST]
  allowHeaders: [content-type, x-custom]
  exposeHeaders: [x-echo, ratelimit-remaining]
  maxAge: 600
  allowCredentials: true
authorizers:
  users: {{ type: jwt, issuer: "{issuer}", audiences: [api] }}
gatewayResponses:
  UNAUTHORIZED:
    responseParameters:
      gatewayresponse.header.X-Asked-For: method.request.header.x-custom
      gatewayresponse.header.X-Team: stageVariables.team
    responseTemplates:
      application/json: '{{"error":$context.error.messageString,"type":"$context.error.responseType","id":"$context.requestId","stage":"$context.stage","resource":"$context.resourcePath","method":"$context.httpMethod"}}'
  DEFAULT_4XX:
    responseParameters:
      gatewayresponse.header.X-Gateway: "'tollgate'"
  QUOTA_EXCEEDED:
    statusCode: "429"
    responseTemplates:
      application/json: '{{"message":"quota spent","type":"$context.error.responseType"}}'
  UNSUPPORTED_MEDIA_TYPE:
    responseTemplates:
      application/json: '{{"message": $context.error.message}}'
routes:
  PUT /items/{{id}}:
    integration: {{ type: lambda, function: echo }}
  GET /me:
    authorizer: users
    integration: {{ type: mock, statusCode: 200, body: "me" }}
  GET /paid:
    apiKeyRequired: true
    integration: {{ type: mock, statusCode: 200, body: "paid" }}
  GET /private:
    cors: {{ allowOrigins: ["https://other.example"], allowMethods: [GET] }}
    integration: {{ type: mock, statusCode: 200, body: "private" }}
  GET /backend:
    integration: {{ type: http, url: "http://{backend}/" }}
  GET /down:
    integration: {{ type: http, url: "http://127.0.0.1:1/", timeoutMs: 1000 }}
  GET /big:
    integration: {{ type: mock, statusCode: 200, headers: {{ content-type: application/json }}, body: '{big}' }}
  GET /big/no-transform:
    integration: {{ type: mock, statusCode: 200, headers: {{ content-type: application/json, cache-control: no-transform }}, body: '{big}' }}
  GET /big/png:
    integration: {{ type: mock, statusCode: 200, headers: {{ content-type: image/png }}, body: '{big}' }}
  GET /small:
    integration: {{ type: mock, statusCode: 200, headers: {{ content-type: application/json }}, body: '{{"small":true}}' }}
local:
  functions:
    echo: {{ command: ["{echo}"] }}
"#,
            big = big_json(),
            echo = env!("CARGO_BIN_EXE_echo-function"),
        );
        let (server, dir) = tollgate_tests::serve_on(&yaml, None).await;
        Self { server, dir, client: reqwest::Client::new() }
    }

    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("http://{}{path}", self.server.addr)).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::of(request).await
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", path, headers, Vec::new()).await
    }

    async fn preflight(&self, path: &str, origin: &str, method: &str, headers: Option<&str>) -> Reply {
        let mut list = vec![("origin", origin), ("access-control-request-method", method)];
        if let Some(h) = headers {
            list.push(("access-control-request-headers", h));
        }
        self.send("OPTIONS", path, &list, Vec::new()).await
    }

    /// A key whose plan allows one request a day: its value.
    async fn key_with_quota_of_one(&self) -> String {
        let quota = Some(Quota { limit: 1, period: Period::Day, offset: 0 });
        new_key(&self.dir.path().join("store.json"), "test", quota).await.1
    }
}

trait CorsHeaders {
    /// The CORS headers of the answer, as (name, value), sorted.
    fn cors(&self) -> Vec<(String, String)>;
}

impl CorsHeaders for Reply {
    fn cors(&self) -> Vec<(String, String)> {
        let mut out: Vec<_> = self
            .headers
            .iter()
            .filter(|(n, _)| n.as_str().starts_with("access-control-"))
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        out.sort();
        out
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    out.sort();
    out
}

async fn both() -> (Issuer, Vec<(Type, Api)>) {
    let key = SigningKey::load("rsa.pem", "rsa-1", jsonwebtoken::Algorithm::RS256);
    let issuer = Issuer::start(&[&key]).await;
    let mut apis = Vec::new();
    for api in [Type::Http, Type::Rest] {
        apis.push((api, Api::start(api, &issuer.url).await));
    }
    (issuer, apis)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_are_answered_by_the_gateway_before_anything_can_refuse_or_count_them() {
    let (_issuer, apis) = both().await;
    for (api, gw) in &apis {
        let allowed = pairs(&[
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "GET,PUT,POST"),
            ("access-control-allow-headers", "content-type,x-custom"),
            ("access-control-max-age", "600"),
        ]);
        let r = gw.preflight("/items/7", APP, "PUT", Some("Content-Type, X-Custom")).await;
        assert_eq!((r.status, r.cors(), r.header("vary")), (204, allowed.clone(), Some("Origin")), "{api:?}");
        assert!(r.body.is_empty());
        // Guarded, keyed, and unknown routes alike: no authorizer, key or 404 stands before a preflight.
        for path in ["/me", "/paid", "/nowhere"] {
            let r = gw.preflight(path, "https://a.b.example.com", "GET", None).await;
            assert_eq!(r.status, 204, "{api:?} {path}");
            assert_eq!(r.header("access-control-allow-origin"), Some("https://a.b.example.com"), "{api:?} {path}");
        }
        // What is not allowed gets the 204 without allow headers: the browser stops there.
        for (origin, method, headers) in [
            ("https://evil.test", "PUT", None),
            (APP, "DELETE", None),
            (APP, "PUT", Some("x-other")),
            ("https://example.com", "GET", None),
        ] {
            let r = gw.preflight("/items/7", origin, method, headers).await;
            assert_eq!((r.status, r.cors()), (204, vec![]), "{api:?} {origin} {method} {headers:?}");
            assert_eq!(r.header("vary"), Some("Origin"));
        }
        // A route's own CORS replaces the API's, for its preflights too.
        assert_eq!(gw.preflight("/private", APP, "GET", None).await.cors(), vec![], "{api:?}");
        let r = gw.preflight("/private", "https://other.example", "GET", None).await;
        assert_eq!(
            r.cors(),
            pairs(&[("access-control-allow-methods", "GET"), ("access-control-allow-origin", "https://other.example")])
        );
        // An OPTIONS without Access-Control-Request-Method is no preflight: routed as any request.
        let r = gw.send("OPTIONS", "/items/7", &[("origin", APP)], Vec::new()).await;
        assert_eq!(r.status, if *api == Type::Rest { 403 } else { 404 }, "{api:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_to_an_allowed_origin_carries_cors_headers_errors_included() {
    let (_issuer, apis) = both().await;
    for (api, gw) in &apis {
        let simple = pairs(&[
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-origin", APP),
            ("access-control-expose-headers", "x-echo,ratelimit-remaining"),
        ]);
        let origin = [("origin", APP)];
        // 401 from the JWT authorizer, 403 or 404 for no route, 403 without a key.
        for (path, status) in
            [("/me", 401), ("/nowhere", if *api == Type::Rest { 403 } else { 404 }), ("/paid", 403), ("/small", 200)]
        {
            let r = gw.get(path, &origin).await;
            assert_eq!(
                (r.status, r.cors(), r.header("vary")),
                (status, simple.clone(), Some("Origin")),
                "{api:?} {path}"
            );
        }
        // 413 for a body over the limit, and the integration's failure (HTTP 500, REST 502).
        let r = gw.send("PUT", "/items/1", &origin, vec![b'x'; 10 * 1024 * 1024 + 1]).await;
        assert_eq!((r.status, r.cors()), (413, simple.clone()), "{api:?}");
        let r = gw.get("/down", &origin).await;
        assert_eq!((r.status, r.cors()), (if *api == Type::Rest { 502 } else { 500 }, simple.clone()), "{api:?}");
        // 429 once the key's quota is spent; preflights before it never counted.
        let key = gw.key_with_quota_of_one().await;
        for _ in 0..3 {
            assert_eq!(gw.preflight("/paid", APP, "GET", Some("x-api-key")).await.status, 204);
        }
        let keyed = [("origin", APP), ("x-api-key", key.as_str())];
        assert_eq!(gw.get("/paid", &keyed).await.status, 200, "{api:?}: preflights were counted");
        let r = gw.get("/paid", &keyed).await;
        assert_eq!((r.status, r.cors()), (429, simple.clone()), "{api:?}");
        // The backend's own CORS headers are replaced; its Vary is kept, with Origin added.
        let r = gw.get("/backend", &origin).await;
        assert_eq!((r.status, r.cors()), (200, simple.clone()), "{api:?}");
        assert_eq!(r.all("vary"), "Accept-Encoding, Origin");
        // And dropped for an origin that is not allowed.
        let r = gw.get("/backend", &[("origin", "https://evil.test")]).await;
        assert_eq!((r.status, r.cors()), (200, vec![]), "{api:?}");
        // A route with its own CORS answers only its origins.
        assert_eq!(gw.get("/private", &origin).await.cors(), vec![]);
        let r = gw.get("/private", &[("origin", "https://other.example")]).await;
        assert_eq!(r.cors(), pairs(&[("access-control-allow-origin", "https://other.example")]));
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut out).expect("gzip");
    out
}

fn inflate(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::ZlibDecoder::new(bytes).read_to_string(&mut out).expect("deflate");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("write");
    e.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_threshold_are_compressed_as_the_client_accepts() {
    let (_issuer, apis) = both().await;
    let big = big_json();
    for (api, gw) in &apis {
        let r = gw.get("/big", &[("accept-encoding", "gzip, deflate, br")]).await;
        assert_eq!((r.status, r.header("content-encoding")), (200, Some("gzip")), "{api:?}");
        assert!(r.body.len() * 5 < big.len(), "{api:?}: {} of {}", r.body.len(), big.len());
        assert_eq!(gunzip(&r.body), big);
        // CORS is configured: every answer varies by Origin too.
        assert_eq!(r.all("vary"), "Origin, Accept-Encoding");
        let r = gw.get("/big", &[("accept-encoding", "gzip;q=0.2, deflate;q=0.9")]).await;
        assert_eq!(r.header("content-encoding"), Some("deflate"), "{api:?}");
        assert_eq!(inflate(&r.body), big);
        // A backend's body, with its Vary kept.
        let r = gw.get("/backend", &[("accept-encoding", "gzip")]).await;
        assert_eq!((r.header("content-encoding"), gunzip(&r.body)), (Some("gzip"), big.clone()), "{api:?}");
        assert_eq!(r.all("vary"), "Accept-Encoding, Origin");
        // Not asked for, malformed, not wanted, small, marked or compressed by nature: sent as it is.
        for (path, accept) in [
            ("/big", None),
            ("/big", Some("identity")),
            ("/big", Some("gzip;q=0")),
            ("/big", Some("gzip;q=x")),
            ("/big", Some("gzip;;q=1;")),
            ("/small", Some("gzip")),
            ("/big/no-transform", Some("gzip")),
            ("/big/png", Some("gzip")),
        ] {
            let headers: Vec<_> = accept.map(|a| ("accept-encoding", a)).into_iter().collect();
            let r = gw.get(path, &headers).await;
            assert_eq!((r.status, r.header("content-encoding")), (200, None), "{api:?} {path} {accept:?}");
            assert!(r.text().starts_with(if path == "/small" { "{\"small\"" } else { "[{\"id\":0" }));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_request_bodies_are_read_before_the_integration_with_a_cap() {
    let (_issuer, apis) = both().await;
    for (api, gw) in &apis {
        let json = br#"{"name":"rex","kind":"dog"}"#;
        let r = gw
            .send("PUT", "/items/1", &[("content-type", "application/json"), ("content-encoding", "gzip")], gzip(json))
            .await;
        assert_eq!(r.status, 200, "{api:?}: {}", r.text());
        let event: Value = serde_json::from_slice(&r.body).expect("echoed event");
        assert_eq!(event["body"], std::str::from_utf8(json).expect("utf-8"), "{api:?}");
        let headers = &event["headers"];
        assert!(
            headers.as_object().expect("headers").keys().all(|k| !k.eq_ignore_ascii_case("content-encoding")),
            "{api:?}: {headers}"
        );
        // Eleven megabytes of zeros in eleven kilobytes: refused at the 10 MB cap, not decompressed whole.
        let bomb = gzip(&vec![0u8; 11 << 20]);
        assert!(bomb.len() < 64 * 1024);
        let r = gw.send("PUT", "/items/1", &[("content-encoding", "gzip")], bomb).await;
        assert_eq!(r.status, 413, "{api:?}");
        let r = gw.send("PUT", "/items/1", &[("content-encoding", "gzip")], b"not gzip at all".to_vec()).await;
        assert_eq!((r.status, r.text().as_str()), (400, r#"{"message":"Invalid request body"}"#), "{api:?}");
        let r = gw.send("PUT", "/items/1", &[("content-encoding", "zstd")], b"x".to_vec()).await;
        // The definition's template for 415 renders `$context.error.message` unquoted: not JSON, so the default
        // body is sent instead.
        assert_eq!((r.status, r.text().as_str()), (415, r#"{"message":"Unsupported Media Type"}"#), "{api:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_responses_customise_the_answers_of_both_types() {
    let (_issuer, apis) = both().await;
    for (api, gw) in &apis {
        let r = gw.get("/me", &[("x-custom", "hello")]).await;
        assert_eq!(r.status, 401);
        let body: Value = serde_json::from_slice(&r.body).expect("JSON");
        let id = body["id"].as_str().expect("request id").to_owned();
        assert_eq!(
            body,
            serde_json::json!({
                "error": "Unauthorized", "type": "UNAUTHORIZED", "id": id, "stage": "test",
                "resource": "/me", "method": "GET",
            }),
            "{api:?}"
        );
        let id_header = if *api == Type::Rest { "x-amzn-requestid" } else { "apigw-requestid" };
        assert_eq!(r.header(id_header), Some(id.as_str()));
        assert_eq!((r.header("x-asked-for"), r.header("x-team")), (Some("hello"), Some("pets")), "{api:?}");
        // The type's own settings, not DEFAULT_4XX's.
        assert_eq!(r.header("x-gateway"), None);
        assert!(r.header("www-authenticate").is_some(), "{api:?}: the challenge stays");
        // DEFAULT_4XX's header on a type without settings of its own; the default body stays.
        let r = gw.get("/paid", &[]).await;
        assert_eq!(
            (r.status, r.header("x-gateway"), r.text().as_str()),
            (403, Some("tollgate"), r#"{"message":"Forbidden"}"#)
        );
        // Never on a success, nor on a 5xx (no DEFAULT_5XX here).
        assert_eq!(gw.get("/small", &[]).await.header("x-gateway"), None);
        let key = gw.key_with_quota_of_one().await;
        assert_eq!(gw.get("/paid", &[("x-api-key", key.as_str())]).await.status, 200);
        let r = gw.get("/paid", &[("x-api-key", key.as_str())]).await;
        assert_eq!((r.status, r.text().as_str()), (429, r#"{"message":"quota spent","type":"QUOTA_EXCEEDED"}"#));
        assert!(r.header("retry-after").is_some());
    }
}

/// The same rules through the router's own handler, on recorded events: a Function URL event (HTTP type)
/// and a REST event, each changed only in what the test is about.
#[tokio::test]
async fn on_lambda_compressed_bodies_leave_as_base64_and_preflights_never_reach_the_backend() {
    use base64::Engine as _;
    let yaml = |kind: &str| {
        format!(
            r#"
type: {kind}
minimumCompressionSize: 0
cors: {{ allowOrigins: ["{APP}"], allowMethods: [GET], allowHeaders: [x-custom] }}
routes:
  GET /my/path:
    integration: {{ type: lambda, function: echo }}
  GET /pets/{{id}}:
    integration: {{ type: lambda, function: echo }}
"#
        )
    };
    let cases =
        [("HTTP", "function-url-get-query.json", "headers"), ("REST", "rest-api-get-pet.json", "multiValueHeaders")];
    for (kind, file, header_field) in cases {
        let gateway = tollgate_tests::echo_gateway(&yaml(kind));
        let mut event: Value = serde_json::from_str(&tollgate_tests::event_text(file)).expect("recorded event");
        let add = |event: &mut Value, name: &str, value: &str| {
            event["headers"][name] = Value::from(value);
            if event.get("multiValueHeaders").is_some() {
                event["multiValueHeaders"][name] = serde_json::json!([value]);
            }
        };
        add(&mut event, "accept-encoding", "gzip");
        add(&mut event, "origin", APP);
        let reply = gateway.handle_json(&event.to_string(), None).await.expect("an answer");
        let reply = serde_json::to_value(&reply).expect("reply JSON");
        assert_eq!(reply["statusCode"], 200, "{kind}: {reply}");
        assert_eq!(reply["isBase64Encoded"], true, "{kind}");
        let packed =
            base64::engine::general_purpose::STANDARD.decode(reply["body"].as_str().expect("body")).expect("b64");
        let echoed: Value = serde_json::from_str(&gunzip(&packed)).expect("the echoed event");
        assert!(echoed["requestContext"].is_object(), "{kind}");
        let headers = &reply[header_field];
        let first = |name: &str| {
            let v = &headers[name];
            v.as_str().or_else(|| v[0].as_str()).map(str::to_owned)
        };
        assert_eq!(first("content-encoding").as_deref(), Some("gzip"), "{kind}: {reply}");
        assert_eq!(first("access-control-allow-origin").as_deref(), Some(APP), "{kind}: {reply}");
        // A preflight: answered by the gateway, so the echo function never sees it.
        let mut preflight = event.clone();
        match kind {
            "REST" => preflight["httpMethod"] = Value::from("OPTIONS"),
            _ => preflight["requestContext"]["http"]["method"] = Value::from("OPTIONS"),
        }
        add(&mut preflight, "access-control-request-method", "GET");
        add(&mut preflight, "access-control-request-headers", "X-Custom");
        let reply = gateway.handle_json(&preflight.to_string(), None).await.expect("an answer");
        let reply = serde_json::to_value(&reply).expect("reply JSON");
        assert_eq!(reply["statusCode"], 204, "{kind}: {reply}");
        let headers = &reply[header_field];
        let first = |name: &str| {
            let v = &headers[name];
            v.as_str().or_else(|| v[0].as_str()).map(str::to_owned)
        };
        assert_eq!(first("access-control-allow-headers").as_deref(), Some("x-custom"), "{kind}: {reply}");
        assert!(reply["body"].as_str().unwrap_or("").is_empty(), "{kind}: {reply}");
    }
}
