//! Request validation (`docs/validation.md`) through both ways in: `tollgate serve` over real sockets, as each API
//! type, and recorded events through the router's handler. Every bad input the validate stage refuses, problem
//! details, gateway-response templates with `$context.error.validationErrorString`, `$ref`s between models,
//! formats, draft 4 against 2020-12, compressed bodies, and that a refused request is never charged to a quota.
//! The real definitions' schemas are in `validation_corpus.rs`.

use std::io::Write as _;

use serde_json::{Value, json};
use tollgate_core::{config::Definition, event::GatewayEvent, usage::Quota};
use tollgate_tests::{client::Reply, echo_gateway, event_text};

/// Models, validators and routes; `KIND` is the API type. Every integration is a mock that says `reached`.
const DEFINITION: &str = r##"
type: KIND
stages:
  test: {}
minimumCompressionSize: 0
models:
  Tag: { type: string, maxLength: 8 }
  Owner:
    type: object
    required: [email]
    properties: { email: { type: string, format: email } }
  Pet:
    $schema: "http://json-schema.org/draft-04/schema#"
    type: object
    required: [name, age]
    properties:
      name: { type: string, minLength: 1 }
      age: { type: integer, minimum: 0 }
      tag: { $ref: "https://apigateway.amazonaws.com/restapis/a1b2c3/models/Tag" }
      owner: { $ref: "#/definitions/Owner" }
      friend: { $ref: "#/components/schemas/Owner" }
  Formats:
    type: object
    properties:
      email: { format: email }
      at: { format: date-time }
      id: { format: uuid }
      ip: { format: ipv4 }
      site: { format: uri }
  Modern:
    $schema: "https://json-schema.org/draft/2020-12/schema"
    type: object
    properties:
      n: { type: number, exclusiveMaximum: 10 }
      pair: { type: array, prefixItems: [{ type: string }, { type: integer }] }
requestValidators:
  all: { validateRequestBody: true, validateRequestParameters: true }
  params-only: { validateRequestParameters: true }
  problems: { validateRequestBody: true, validateRequestParameters: true, problemDetails: true }
requestValidator: all
routes:
  POST /pets/{id}:
    requestParameters: { path.id: true, method.request.querystring.dryRun: false }
    requestModels: { application/json: Pet }
    integration: { type: mock, body: reached }
  GET /search:
    requestValidator: params-only
    requestParameters: { querystring.q: true, header.x-id: true }
    requestModels: { $default: Pet }
    integration: { type: mock, body: reached }
  POST /problems:
    requestValidator: problems
    requestParameters: { header.x-id: true }
    requestModels: { application/json: Pet }
    integration: { type: mock, body: reached }
  POST /formats:
    requestModels: { $default: Formats }
    integration: { type: mock, body: reached }
  POST /modern:
    requestModels: { application/json: Modern }
    integration: { type: mock, body: reached }
  POST /open:
    requestValidator: NONE
    requestModels: { application/json: Pet }
    integration: { type: mock, body: reached }
  POST /metered:
    apiKeyRequired: true
    requestModels: { application/json: Pet }
    integration: { type: mock, body: reached }
"##;

const JSON: &str = "application/json";

struct Api {
    server: tollgate::serve::Server,
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Api {
    async fn start(kind: &str) -> Self {
        let (server, dir) = tollgate_tests::serve(&DEFINITION.replace("KIND", kind)).await;
        Self { server, dir, client: reqwest::Client::new() }
    }

    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Reply {
        let method = http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("http://{}{path}", self.server.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::of(request.body(body.into())).await
    }
}

const INVALID_BODY: &str = r#"{"message":"Invalid request body"}"#;

/// A request (method, path, headers, body) and the answer's status and body.
type Row<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, String, u16, &'a str);

#[tokio::test]
async fn each_api_type_refuses_what_fails_validation_and_passes_the_rest() {
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    let huge = format!(r#"{{"name":"{}","age":1}}"#, "x".repeat(1024 * 1024));
    let rows: Vec<Row<'_>> = vec![
        ("POST", "/pets/7", vec![("content-type", JSON)], r#"{"name":"rex","age":3}"#.into(), 200, "reached"),
        ("POST", "/pets/7", vec![("content-type", "application/json; charset=utf-8")], r#"{"name":"rex","age":3}"#.into(), 200, "reached"),
        ("POST", "/pets/7", vec![("content-type", JSON)], r#"{"age":-1}"#.into(), 400, INVALID_BODY),
        ("POST", "/pets/7", vec![("content-type", JSON)], "not json".into(), 400, INVALID_BODY),
        ("POST", "/pets/7", vec![("content-type", JSON)], String::new(), 400, INVALID_BODY),
        ("POST", "/pets/7", vec![], "{}".into(), 400, INVALID_BODY),
        ("POST", "/pets/7", vec![("content-type", "text/plain")], "not json, no model".into(), 200, "reached"),
        ("POST", "/pets/7", vec![("content-type", JSON)], r#"{"name":"rex","age":3,"tag":"much too long"}"#.into(), 400, INVALID_BODY),
        ("POST", "/pets/7", vec![("content-type", JSON)], r#"{"name":"rex","age":3,"owner":{"email":"no"}}"#.into(), 400, INVALID_BODY),
        ("POST", "/pets/7", vec![("content-type", JSON)], r#"{"name":"rex","age":3,"friend":{}}"#.into(), 400, INVALID_BODY),
        ("POST", "/pets/7", vec![("content-type", JSON)], deep, 400, INVALID_BODY),
        ("POST", "/pets/7", vec![("content-type", JSON)], huge, 400, INVALID_BODY),
        ("GET", "/search", vec![], String::new(), 400, r#"{"message":"Missing required request parameters: [q, x-id]"}"#),
        ("GET", "/search?q=%20", vec![("x-id", "1")], String::new(), 400, r#"{"message":"Missing required request parameters: [q]"}"#),
        ("GET", "/search?q=cats", vec![("x-id", "1")], "params-only: not read".into(), 200, "reached"),
        ("POST", "/open", vec![("content-type", JSON)], "not json".into(), 200, "reached"),
        ("POST", "/modern", vec![("content-type", JSON)], r#"{"n":9.5,"pair":["a",1]}"#.into(), 200, "reached"),
        ("POST", "/modern", vec![("content-type", JSON)], r#"{"n":10}"#.into(), 400, INVALID_BODY),
        ("POST", "/modern", vec![("content-type", JSON)], r#"{"pair":["a","b"]}"#.into(), 400, INVALID_BODY),
        ("POST", "/formats", vec![], r#"{"email":"a@b.example","at":"2026-01-02T03:04:05Z","id":"0b7a4f8e-2f54-4c1d-9e0a-7d3c2b1a0f9e","ip":"192.0.2.1","site":"https://a.example/"}"#.into(), 200, "reached"),
    ];
    let formats =
        [("email", "nope"), ("at", "2026-13-45"), ("id", "0b7a4f8e"), ("ip", "192.0.2.300"), ("site", "not a uri")];
    for (kind, error_type) in [("HTTP", None), ("REST", Some("BadRequestException"))] {
        let api = Api::start(kind).await;
        for (method, path, headers, body, status, answer) in &rows {
            let reply = api.send(method, path, headers, body.clone()).await;
            let row = format!("{kind} {method} {path} {}", body.chars().take(60).collect::<String>());
            assert_eq!((reply.status, reply.text().as_str()), (*status, *answer), "{row}");
            if *status == 400 {
                assert_eq!(reply.header("x-amzn-errortype"), error_type, "{row}");
                assert_eq!(reply.header("content-type"), Some(JSON), "{row}");
            }
        }
        for (field, bad) in formats {
            let reply = api.send("POST", "/formats", &[], json!({ field: bad }).to_string()).await;
            assert_eq!((reply.status, reply.text().as_str()), (400, INVALID_BODY), "{kind} format of {field}");
        }
    }
}

#[tokio::test]
async fn problem_details_list_every_failing_field() {
    let api = Api::start("REST").await;
    let reply = api.send("POST", "/problems", &[("content-type", JSON)], "{}").await;
    assert_eq!((reply.status, reply.header("content-type")), (400, Some("application/problem+json")));
    assert_eq!(
        reply.json(),
        json!({"type": "tag:tollgate,2026:missing-request-parameters", "title": "Missing required request parameters",
               "status": 400, "detail": "Missing required request parameters: [x-id]",
               "errors": [{"pointer": "/header/x-id", "reason": "required header parameter is missing or blank"}]})
    );
    let body = r#"{"age":-2,"tag":"far too long","owner":{"email":"x"},"extra":[1]}"#;
    let reply = api.send("POST", "/problems", &[("content-type", JSON), ("x-id", "1")], body).await;
    assert_eq!(reply.header("x-amzn-errortype"), Some("BadRequestException"));
    assert_eq!(
        reply.json(),
        json!({"type": "tag:tollgate,2026:invalid-request-body", "title": "Invalid request body", "status": 400,
        "detail": "Request body does not match model schema for content type application/json",
        "errors": [
            {"pointer": "/name", "reason": "object has missing required properties ([\"name\"])"},
            {"pointer": "/age", "reason": "numeric instance is lower than the required minimum (minimum: 0, found: -2)"},
            {"pointer": "/owner/email", "reason": "string \"x\" is not a valid email address"},
            {"pointer": "/tag", "reason": "string \"far too long\" is too long (length: 12, maximum allowed: 8)"},
        ]})
    );
    let reply = api.send("POST", "/problems", &[("content-type", JSON), ("x-id", "1")], "[1,").await;
    let problem = reply.json();
    assert_eq!(
        (problem["detail"].as_str(), problem["errors"][0]["pointer"].as_str()),
        (Some("Request body is not JSON"), Some(""))
    );
}

#[tokio::test]
async fn compressed_bodies_are_validated_as_the_backend_gets_them() {
    let api = Api::start("REST").await;
    let gzip = |text: &str| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).expect("gzip");
        encoder.finish().expect("gzip")
    };
    let headers = [("content-type", JSON), ("content-encoding", "gzip")];
    let good = api.send("POST", "/pets/1", &headers, gzip(r#"{"name":"rex","age":1}"#)).await;
    assert_eq!((good.status, good.text().as_str()), (200, "reached"));
    let bad = api.send("POST", "/pets/1", &headers, gzip(r#"{"name":""}"#)).await;
    assert_eq!((bad.status, bad.text().as_str()), (400, INVALID_BODY));
}

#[tokio::test]
async fn a_refused_request_is_never_charged_to_the_quota() {
    let api = Api::start("REST").await;
    let quota = Quota { limit: 2, period: tollgate_core::usage::Period::Day, offset: 0 };
    let (_, key) = tollgate_tests::client::new_key(&api.dir.path().join("store.json"), "test", Some(quota)).await;
    let headers = [("content-type", JSON), ("x-api-key", key.as_str())];
    for _ in 0..5 {
        assert_eq!(api.send("POST", "/metered", &headers, "{}").await.status, 400, "validation comes before metering");
    }
    let good = r#"{"name":"rex","age":1}"#;
    for _ in 0..2 {
        assert_eq!(api.send("POST", "/metered", &headers, good).await.status, 200, "the quota is whole");
    }
    let spent = api.send("POST", "/metered", &headers, good).await;
    assert_eq!((spent.status, spent.text().as_str()), (429, r#"{"message":"Limit Exceeded"}"#));
    let unknown = api.send("POST", "/metered", &[("content-type", JSON)], "{}").await;
    assert_eq!(unknown.status, 403, "an unknown caller is refused before validation");
}

/// A recorded event with its method, path, headers and body replaced.
fn event(file: &str, method: &str, path: &str, content_type: Option<&str>, body: &str) -> GatewayEvent {
    let mut event: Value = serde_json::from_str(&event_text(file)).expect("event");
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    if event.get("version").is_some() {
        event["rawPath"] = path.into();
        event["rawQueryString"] = query.into();
        event["requestContext"]["http"]["method"] = method.into();
        event["requestContext"]["http"]["path"] = path.into();
        event["headers"].as_object_mut().expect("headers").remove("content-type");
        if let Some(t) = content_type {
            event["headers"]["content-type"] = t.into();
        }
    } else {
        event["httpMethod"] = method.into();
        event["path"] = path.into();
        for map in ["headers", "multiValueHeaders"] {
            event[map].as_object_mut().expect("headers").remove("Content-Type");
        }
        if let Some(t) = content_type {
            event["headers"]["Content-Type"] = t.into();
            event["multiValueHeaders"]["Content-Type"] = json!([t]);
        }
    }
    event["body"] = body.into();
    serde_json::from_value(event).expect("a gateway event")
}

async fn replay(yaml: &str, event: GatewayEvent) -> (i64, Value, String) {
    let reply = serde_json::to_value(echo_gateway(yaml).handle(event, None).await).expect("reply");
    let header = reply["headers"]["content-type"].as_str().or(reply["multiValueHeaders"]["content-type"][0].as_str());
    let header = header.unwrap_or_default().to_owned();
    (
        reply["statusCode"].as_i64().unwrap_or(-1),
        serde_json::from_str(reply["body"].as_str().unwrap_or("")).unwrap_or(Value::Null),
        header,
    )
}

/// Lambda routes (the echo function) and REST's gateway responses, whose templates render the validator's detail.
const EVENTS_DEFINITION: &str = r#"
type: KIND
stages: { prod: {} }
models:
  Pet: { type: object, required: [name, age], properties: { name: { type: string }, age: { type: integer } } }
requestValidators:
  all: { validateRequestBody: true, validateRequestParameters: true }
requestValidator: all
gatewayResponses:
  BAD_REQUEST_BODY:
    responseParameters: { gatewayresponse.header.Access-Control-Allow-Origin: "'*'" }
    responseTemplates:
      application/json: '{"message": $context.error.messageString, "type": "$context.error.responseType", "detail": "$context.error.validationErrorString"}'
  BAD_REQUEST_PARAMETERS:
    responseTemplates: { application/json: '{"detail": "$context.error.validationErrorString"}' }
routes:
  POST /pets/{id}:
    requestParameters: { querystring.verbose: true }
    requestModels: { application/json: Pet }
    integration: { type: lambda, function: echo }
  POST /upload:
    requestParameters: { querystring.verbose: true }
    requestModels: { application/json: Pet }
    integration: { type: lambda, function: echo }
"#;

#[tokio::test]
async fn recorded_events_are_validated_by_the_router_handler() {
    let rest = EVENTS_DEFINITION.replace("KIND", "REST");
    let http = EVENTS_DEFINITION.replace("KIND", "HTTP");
    let get_pet = "rest-api-get-pet.json";
    let good = r#"{"name":"rex","age":3}"#;
    let (status, echoed, _) = replay(&rest, event(get_pet, "POST", "/pets/42", Some(JSON), good)).await;
    assert_eq!((status, echoed["body"].as_str()), (200, Some(good)), "a valid body reaches the function");
    let (status, body, content_type) =
        replay(&rest, event(get_pet, "POST", "/pets/42", Some(JSON), r#"{"age":"x"}"#)).await;
    assert_eq!((status, content_type.as_str()), (400, JSON));
    assert_eq!(
        body,
        json!({"message": "Invalid request body", "type": "BAD_REQUEST_BODY",
               "detail": "[object has missing required properties ([\"name\"]), instance type (string) does not match any allowed primitive type (allowed: [\"integer\"])]"}),
        "the detail's quotes are escaped inside a JSON template"
    );
    // The Function URL event has no query string: the parameter check comes first.
    let url_event = "function-url-json-body.json";
    let (status, body, _) = replay(&rest, event(url_event, "POST", "/upload", Some(JSON), "not json")).await;
    assert_eq!((status, body), (400, json!({"detail": "Missing required request parameters: [verbose]"})));
    let (status, body, _) = replay(&http, event(url_event, "POST", "/upload?verbose=1", Some(JSON), "")).await;
    assert_eq!(
        (status, &body["detail"]),
        (400, &json!("[instance type (null) does not match any allowed primitive type (allowed: [\"object\"])]")),
        "an empty body is null"
    );
    let (status, echoed, _) = replay(&http, event(url_event, "POST", "/upload?verbose=1", Some(JSON), good)).await;
    assert_eq!((status, echoed["rawQueryString"].as_str()), (200, Some("verbose=1")));
}

#[test]
fn definitions_that_cannot_validate_are_refused_at_load() {
    let base = DEFINITION.replace("KIND", "HTTP");
    for (from, to, problem) in [
        (
            "{ type: string, maxLength: 8 }",
            "{ $ref: \"https://example.com/tag.json\" }",
            "points outside the definition",
        ),
        ("{ type: string, maxLength: 8 }", "{ type: strung }", "does not compile"),
        ("{ type: string, maxLength: 8 }", "{ pattern: \"[\" }", "does not compile"),
        ("requestValidator: all\n", "requestValidator: most\n", "\"most\" is not defined"),
        ("requestValidator: problems", "requestValidator: nobody", "route \"POST /problems\""),
        ("{ $default: Formats }", "{ $default: Nothing }", "model \"Nothing\" is not defined"),
        ("path.id: true", "path.nope: true", "not a path parameter"),
        ("querystring.q: true", "cookie.q: true", "must be [method.request.]path|querystring|header"),
    ] {
        assert!(base.contains(from), "{from}");
        let err = Definition::from_yaml(&base.replacen(from, to, 1), None).expect_err(problem).to_string();
        assert!(err.contains(problem), "{problem}: {err}");
    }
}
