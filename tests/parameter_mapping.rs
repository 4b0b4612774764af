//! HTTP API parameter mapping (an integration's `requestParameters` and `responseParameters`) end to end: through
//! `tollgate serve` over real sockets, to a loopback backend that echoes what it received and to a real function
//! process; and a recorded HTTP API event replayed into the router's handler behind a JWT authorizer. Every action
//! on every place, every kind of value, responses mapped per status, and the definitions refused at load.

use std::sync::Arc;

use axum::{Router, extract::Request, http::StatusCode, response::IntoResponse};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate_core::{Gateway, backends::Backends, clients::HttpClient, config::Definition, event::GatewayEvent};
use tollgate_tests::{
    EchoFunction, T0_SECS,
    client::Reply,
    event_text,
    issuer::{Issuer, SigningKey},
    spawn_http, test_clock,
};

/// The backend: answers with what it received (method, path, raw query, headers with repeated lines joined by
/// " | ", body), or a 404 under `/missing`; both carry `x-backend` and `x-remove-me`.
async fn echo(request: Request) -> impl IntoResponse {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut headers = serde_json::Map::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        headers.insert(name.as_str().to_owned(), Value::from(values.join(" | ")));
    }
    let (status, answer) = if parts.uri.path().starts_with("/missing") {
        (StatusCode::NOT_FOUND, json!({ "error": "no such pet" }))
    } else {
        let received = json!({
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query().unwrap_or(""),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        });
        (StatusCode::OK, received)
    };
    let headers = [("content-type", "application/json"), ("x-backend", "pets-1"), ("x-remove-me", "1")];
    (status, headers, answer.to_string())
}

async fn backend() -> String {
    spawn_http(Router::new().fallback(echo)).await.to_string()
}

const SERVED: &str = r#"
stages:
  test:
    variables: { backend: "BACKEND", version: v2 }
authorizers:
  gate: { type: lambda, function: echo, identitySources: ["$request.header.X-Token"], resultTtlSeconds: 0 }
routes:
  POST /pets/{id}:
    authorizer: gate
    integration:
      type: http
      url: "http://${stageVariables.backend}/pets/{id}"
      requestParameters:
        append:header.x-tenant: "$context.authorizer.tier"
        overwrite:header.x-user: "$context.authorizer.principalId"
        remove:header.x-debug: "''"
        overwrite:header.host: pets.internal
        overwrite:header.x-mixed: "id=$request.path.id;q=${request.querystring.q};h=$request.header.x-in;ctx=$context.requestId;stage=$context.stage;var=$stageVariables.version;name=$request.body.pet.name"
        append:querystring.tag: "$request.body.pet.tags[0]"
        overwrite:querystring.id: "$request.path.id"
        remove:querystring.secret: "''"
        overwrite:path: "/$stageVariables.version/pets/$request.path.id"
      responseParameters:
        "200":
          append:header.x-seen: "$response.body.method"
          overwrite:header.x-backend: "mapped-$response.header.x-backend"
          remove:header.x-remove-me: "''"
  GET /gone/{id}:
    integration:
      type: http
      url: "http://${stageVariables.backend}/missing/{id}"
      responseParameters:
        404: { overwrite:statuscode: "410", append:header.x-gone: "yes", overwrite:header.x-error: "$response.body.error" }
        500: { overwrite:statuscode: "200" }
  POST /form:
    integration:
      type: http
      url: "http://${stageVariables.backend}/form"
      requestParameters:
        overwrite:header.x-name: "$request.body.name"
        append:header.x-raw: "[$request.body.name]"
  GET /lambda/{id}:
    integration:
      type: lambda
      function: echo
      requestParameters: { overwrite:header.x-id: "$request.path.id", append:querystring.from: tollgate }
      responseParameters: { "200": { overwrite:statuscode: "202", append:header.x-fn: "$response.header.content-type" } }
local:
  functions:
    echo: { command: ["ECHO"] }
"#;

#[tokio::test]
async fn served_requests_and_responses_are_mapped() {
    let yaml = SERVED.replace("BACKEND", &backend().await).replace("ECHO", env!("CARGO_BIN_EXE_echo-function"));
    let (server, _dir) = tollgate_tests::serve(&yaml).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{}{path}", server.addr);

    // Every action on headers, the query string and the path, with every kind of value.
    let reply = Reply::of(
        client
            .post(url("/pets/7?q=hello%20world&secret=s&id=old"))
            .header("x-token", "t")
            .header("x-tenant", "acme")
            .header("x-user", "admin")
            .header("x-debug", "1")
            .header("x-in", "inbound")
            .header("content-type", "application/json")
            .body(r#"{"pet":{"name":"rex","tags":["dog","good"]}}"#),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let received = reply.json();
    assert_eq!(received["method"], "POST");
    assert_eq!(received["path"], "/v2/pets/7", "overwrite:path replaces the URL's path");
    assert_eq!(received["query"], "q=hello%20world&id=7&tag=dog", "untouched pairs stay as the client wrote them");
    let headers = &received["headers"];
    assert_eq!(headers["x-tenant"], "acme,gold", "append joins with a comma");
    assert_eq!(headers["x-user"], "echo-user", "overwrite replaces what the client claimed");
    assert!(headers.get("x-debug").is_none(), "removed");
    assert_eq!(headers["host"], "pets.internal");
    let id = reply.header("apigw-requestid").expect("request id");
    assert_eq!(headers["x-mixed"], format!("id=7;q=hello world;h=inbound;ctx={id};stage=test;var=v2;name=rex"));
    assert_eq!(headers["x-token"], "t", "headers no rule names pass as they came");
    assert_eq!(reply.header("x-seen"), Some("POST"), "$response.body reads the backend's answer");
    assert_eq!(reply.header("x-backend"), Some("mapped-pets-1"));
    assert_eq!(reply.header("x-remove-me"), None);

    // Responses are mapped per status: the 404 becomes a 410; no 500 came, so its rule did nothing.
    let gone = Reply::of(client.get(url("/gone/7"))).await;
    assert_eq!(gone.status, 410, "{}", gone.text());
    assert_eq!((gone.header("x-gone"), gone.header("x-error")), (Some("yes"), Some("no such pet")));
    assert_eq!(gone.json(), json!({ "error": "no such pet" }), "the body is the backend's");
    assert_eq!(gone.header("x-remove-me"), Some("1"), "the 200's rules are not the 404's");

    // A body that is not JSON, and a JSON body over 100 KB (API Gateway truncates it first), select nothing.
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "name=rex".to_owned()),
        ("application/json", format!(r#"{{"name":"rex","pad":"{}"}}"#, "x".repeat(110 * 1024))),
    ] {
        let request = client.post(url("/form")).header("x-name", "spoof").header("content-type", content_type);
        let reply = Reply::of(request.body(body)).await;
        let headers = &reply.json()["headers"];
        assert!(headers.get("x-name").is_none(), "overwritten with nothing: removed ({content_type})");
        assert_eq!(headers["x-raw"], "[]", "{content_type}");
    }
    let small = Reply::of(client.post(url("/form")).body(r#"{"name":"rex"}"#)).await;
    assert_eq!(
        (small.json()["headers"]["x-name"].clone(), small.json()["headers"]["x-raw"].clone()),
        (json!("rex"), json!("[rex]"))
    );

    // A Lambda function gets the mapped headers and query in its event; its reply is mapped too.
    let reply = Reply::of(client.get(url("/lambda/7?x=1"))).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(reply.header("x-fn"), Some("application/json"));
    let event = reply.json();
    assert_eq!(event["headers"]["x-id"], "7");
    assert_eq!(event["rawQueryString"], "x=1&from=tollgate");
    assert_eq!(event["queryStringParameters"], json!({ "x": "1", "from": "tollgate" }));
    assert_eq!(event["rawPath"], "/test/lambda/7", "the event's path is the request's");
}

/// A cached answer is kept as the integration gave it and mapped again for each request: a hit carries its own
/// request's id, not the first one's, and a statuscode overwrite does not decide what is stored.
#[tokio::test]
async fn cached_answers_are_mapped_for_each_request() {
    let yaml = r#"
stages:
  test:
    variables: { backend: "BACKEND" }
    caching: { enabled: true, ttlSeconds: 60 }
routes:
  GET /cached:
    integration:
      type: http
      url: "http://${stageVariables.backend}/cached"
      responseParameters:
        "200": { overwrite:statuscode: "203", overwrite:header.x-for: "$context.requestId" }
"#
    .replace("BACKEND", &backend().await);
    let (server, _dir) = tollgate_tests::serve(&yaml).await;
    let url = format!("http://{}/cached", server.addr);
    let client = reqwest::Client::new();
    let first = Reply::of(client.get(&url)).await;
    let second = Reply::of(client.get(&url)).await;
    assert_eq!((first.status, second.status), (203, 203));
    assert_eq!((first.header("x-cache"), second.header("x-cache")), (Some("Miss"), Some("Hit")));
    for reply in [&first, &second] {
        assert_eq!(reply.header("x-for"), reply.header("apigw-requestid"), "mapped for its own request");
    }
    assert_ne!(first.header("x-for"), second.header("x-for"));
}

/// The recorded HTTP API event (`events/http-api-parameter-mapping.json`) through `Gateway::handle`, what the
/// router Lambda runs, with its bearer token replaced by one the loopback issuer signed.
#[tokio::test]
async fn a_recorded_http_api_event_is_mapped_for_its_backend() {
    let key = SigningKey::load("rsa.pem", "rsa-1", Algorithm::RS256);
    let issuer = Issuer::start(&[&key]).await;
    let yaml = format!(
        r#"
stages:
  prod: {{ variables: {{ backend: "{backend}" }} }}
authorizers:
  users: {{ type: jwt, issuer: "{issuer}", audiences: [api] }}
routes:
  POST /orders/{{id}}:
    authorizer: users
    integration:
      type: http
      url: "http://${{stageVariables.backend}}/orders/{{id}}"
      requestParameters:
        overwrite:header.x-client-tenant: "$context.authorizer.claims.tenant"
        append:header.x-customer: "$request.body.order.customer"
        overwrite:header.x-first-line: "${{request.body.order.lines[0].sku}}x${{request.body.order.lines[0].qty}}"
        overwrite:header.x-route: "$context.routeKey $context.httpMethod $context.identity.sourceIp $context.domainPrefix"
        overwrite:querystring.expand: "$request.querystring.expand"
        remove:querystring.debug: "''"
        remove:header.x-debug: "''"
        overwrite:path: "/internal$request.path"
      responseParameters:
        "200": {{ overwrite:statuscode: "201", overwrite:header.x-order-for: "$response.body.headers.x-customer" }}
"#,
        backend = backend().await,
        issuer = issuer.url,
    );
    let definition = Definition::from_yaml(&yaml, Some("prod")).expect("definition");
    let backends = Backends {
        lambda: Some(Arc::new(EchoFunction)),
        http: Some(HttpClient::new().expect("client")),
        clock: Some(Arc::new(test_clock())),
        ..Backends::default()
    };
    let gateway = Gateway::new(&definition, &backends).expect("gateway");
    let claims = json!({ "iss": issuer.url, "aud": "api", "sub": "ada", "tenant": "acme", "exp": T0_SECS + 600 });
    let text = event_text("http-api-parameter-mapping.json").replace("REPLACED-BY-THE-TEST", &key.sign(&claims));
    let event: GatewayEvent = serde_json::from_str(&text).expect("a recorded event parses");
    let reply = serde_json::to_value(gateway.handle(event, None).await).expect("reply serializes");

    assert_eq!(reply["statusCode"], 201, "{reply}");
    assert_eq!(reply["headers"]["x-order-for"], "ada");
    let received: Value = serde_json::from_str(reply["body"].as_str().expect("body")).expect("the backend's echo");
    assert_eq!(received["path"], "/internal/orders/42", "$request.path has no stage");
    assert_eq!(received["query"], "expand=items%2Cnotes", "repeated values joined, then encoded");
    let headers = &received["headers"];
    assert_eq!(headers["x-client-tenant"], "acme", "the token's claim, not the client's header");
    assert_eq!(headers["x-customer"], "ada");
    assert_eq!(headers["x-first-line"], "A-1x2");
    assert_eq!(headers["x-route"], "POST /orders/{id} POST 203.0.113.9 r4nd0m1d");
    assert!(headers.get("x-debug").is_none());
    assert_eq!(received["body"], r#"{"order":{"customer":"ada","lines":[{"sku":"A-1","qty":2}]}}"#);
}

/// Each definition is refused when it is loaded, and the error names the route and what is wrong.
#[test]
fn bad_mappings_are_refused_at_load() {
    let route = |integration: &str| format!("routes:\n  GET /pets/{{id}}:\n    integration: {integration}\n");
    let http = |mapping: &str| route(&format!("{{ type: http, url: \"http://backend/\", {mapping} }}"));
    let cases = [
        (http("requestParameters: { overwrite:header.X-Forwarded-For: x }"), "X-Forwarded-For is a reserved header"),
        (http("requestParameters: { remove:header.Authorization: \"''\" }"), "Authorization is a reserved header"),
        (http("requestParameters: { append:header.x-copy: $request.header.X-Amz-Date }"), "X-Amz-Date is a reserved"),
        (
            http("responseParameters: { \"200\": { append:header.Content-Length: \"1\" } }"),
            "responseParameters.200: append:header.Content-Length: Content-Length is a reserved header",
        ),
        (http("requestParameters: { overwrite:header.x: $request.cookie.a }"), "$request.cookie.a is not a value"),
        (http("requestParameters: { overwrite:header.x: \"${request.header.a\" }"), "unclosed \"${\""),
        (http("requestParameters: { overwrite:header.x: $request.path.nope }"), "not a path parameter"),
        (http("requestParameters: { overwrite:header.x: $context.nope }"), "$context.nope is not a context variable"),
        (http("responseParameters: { 404: { overwrite:statuscode: gone } }"), "\"gone\" is not a status code"),
        (
            http("responseParameters: { 404: { overwrite:statuscode: \"99\" } }"),
            "\"99\" is not a status code (200-599)",
        ),
        (http("responseParameters: { 404: { overwrite:statuscode: \"600\" } }"), "not a status code (200-599)"),
        (http("responseParameters: { 700: { overwrite:statuscode: \"200\" } }"), "\"700\" is not a status code"),
        (http("responseParameters: { 404: { overwrite:querystring.a: b } }"), "not a mapping key"),
        (
            route("{ type: lambda, function: f, requestParameters: { overwrite:path: /x } }"),
            "overwrite:path applies to HTTP integrations",
        ),
        (route("{ type: mock, requestParameters: { overwrite:header.x: y } }"), "unknown field `requestParameters`"),
        (
            format!("type: REST\n{}", http("requestParameters: { overwrite:header.x: y }")),
            "are HTTP API parameter mapping; a REST API maps with",
        ),
    ];
    for (yaml, problem) in cases {
        let err = Definition::from_yaml(&yaml, None).expect_err(problem).to_string();
        assert!(err.contains(problem), "{problem}: {err}");
        if !problem.starts_with("unknown field") {
            assert!(err.contains("route \"GET /pets/{id}\""), "names the route: {err}");
        }
    }
    let ws = "websocket:\n  routes:\n    $default:\n      integration: { type: lambda, function: f, \
              requestParameters: { overwrite:header.x: y } }\n";
    let err = Definition::from_yaml(ws, None).expect_err("websocket").to_string();
    assert!(err.contains("$default") && err.contains("not for WebSocket routes"), "{err}");
    // Every stage is checked, not only the one served.
    let staged = format!(
        "stages:\n  a: {{ variables: {{ v: x }} }}\n  b: {{}}\n{}",
        http("requestParameters: { overwrite:header.x: $stageVariables.v }")
    );
    assert!(Definition::from_yaml(&staged, Some("a")).expect_err("b").to_string().contains("in stage \"b\""));
}

/// `tollgate serve` refuses to start on such a definition, naming the header.
#[tokio::test]
async fn serve_refuses_a_reserved_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("gateway.yaml");
    let yaml = "routes:\n  GET /x:\n    integration: { type: http, url: \"http://backend/\", \
                responseParameters: { \"200\": { overwrite:header.Apigw-Requestid: x } } }\n";
    std::fs::write(&config, yaml).expect("write");
    let store = tollgate::store::StoreArgs { store: dir.path().join("store.json"), ..Default::default() };
    let options = tollgate::serve::ServeOptions { config, store, ..Default::default() };
    let err = tollgate::serve::Server::start(&options).await.err().expect("refused");
    assert!(format!("{err:#}").contains("Apigw-Requestid is a reserved header"), "{err:#}");
}
