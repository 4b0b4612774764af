//! REST non-proxy integrations (`proxy: false`) with mapping templates, over real sockets: a real HTTP client in
//! front of `tollgate serve`, the echo function as a real process behind a Lambda integration (it returns what
//! a template sent it, or fails with the `errorMessage` it is told), and a real HTTP backend on loopback. Then
//! the same through recorded REST events replayed into the router's handler, definitions refused at load, and
//! the corpus's real definition (`corpus.rs`).

#[path = "mapping_templates/corpus.rs"]
mod corpus;
#[path = "mapping_templates/replay.rs"]
mod replay;

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, StatusCode},
    response::AppendHeaders,
    routing::{get, post},
};
use serde_json::{Value, json};
use tollgate::serve::Server;
use tollgate_core::config::Definition;
use tollgate_tests::client::Reply;

/// An HTTP backend: `GET /status/{code}` answers that status with `X-Backend` and a JSON body; `POST /echo`
/// answers what it was sent (body, `Content-Type`, the header a template added, the query).
async fn backend() -> std::net::SocketAddr {
    let status = |Path(code): Path<u16>| async move {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
        let headers = AppendHeaders([("x-backend", "b1"), ("x-multi", "m1"), ("x-multi", "m2")]);
        (status, headers, format!(r#"{{"status": {code}}}"#))
    };
    let echo = |query: axum::extract::RawQuery, headers: HeaderMap, body: String| async move {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let reply = json!({"body": body, "added": header("x-added"), "query": query.0, "type": header("content-type")});
        ([("content-type", "application/json")], reply.to_string())
    };
    tollgate_tests::spawn_http(Router::new().route("/status/{code}", get(status)).route("/echo", post(echo))).await
}

/// The served definition: Lambda and HTTP routes behind templates.
fn definition(backend: std::net::SocketAddr) -> String {
    format!(
        r#"
type: REST
stages:
  test:
    variables: {{ backend: "{backend}", color: blue }}
routes:
  POST /orders/{{id}}:
    integration:
      type: lambda
      function: echo
      proxy: false
      passthroughBehavior: WHEN_NO_TEMPLATES
      requestTemplates:
        application/json: |
          {{"id": "$input.params('id')", "q": "$input.params('q')", "body": $input.json('$'),
           "stage": "$context.stage", "requestId": "$context.requestId", "sourceIp": "$context.identity.sourceIp",
           "method": "$context.httpMethod", "resourcePath": "$context.resourcePath", "color": "$stageVariables.color"}}
      responses:
        default: {{ statusCode: 200, responseParameters: {{ method.response.header.X-Mapped: "'yes'" }} }}
  POST /never:
    integration:
      type: lambda
      function: echo
      proxy: false
      passthroughBehavior: NEVER
      requestTemplates: {{ application/json: '{{"templated": true}}' }}
  POST /passthrough:
    integration: {{ type: lambda, function: echo, proxy: false }}
  POST /fail:
    integration:
      type: lambda
      function: echo
      proxy: false
      requestTemplates: {{ application/json: '{{"fail": "$util.escapeJavaScript($input.params(''message''))"}}' }}
      responses:
        default: {{ statusCode: 200 }}
        "Bad.*":
          statusCode: "400"
          responseTemplates: {{ application/json: '{{"bad": "$input.path(''$.errorMessage'')"}}' }}
        ".*not found.*":
          statusCode: 404
          responseParameters:
            method.response.header.X-Reason: "'missing'"
            method.response.header.X-Error-Type: integration.response.body.errorType
            method.response.header.X-Request: context.requestId
          responseTemplates:
            application/json: '{{"error": "$input.path(''$.errorMessage'')"}}'
            text/plain: 'not found: $input.path(''$.errorMessage'')'
  POST /override:
    integration:
      type: lambda
      function: echo
      proxy: false
      requestTemplates: {{ application/json: '{{"reply": {{"state": "$input.path(''$.state'')"}}}}' }}
      responses:
        default:
          statusCode: 200
          responseTemplates:
            application/json: |
              #set($state = $input.path('$.state'))
              #if($state == "created")
              #set($context.responseOverride.status = 201)
              #set($context.responseOverride.header.Location = "/orders/1")
              #end
              {{"state": "$state"}}
  POST /broken:
    integration:
      type: lambda
      function: echo
      proxy: false
      responses:
        default:
          statusCode: 200
          responseTemplates:
            application/json: |
              ## SECRET-TEMPLATE-TEXT: the client must never see this
              #foreach($i in [1..20000])x#end
  GET /http/{{code}}:
    integration:
      type: http
      url: "http://${{stageVariables.backend}}/status/{{code}}"
      proxy: false
      responses:
        default: {{ statusCode: 200 }}
        "4\\d{{2}}":
          statusCode: 400
          responseParameters:
            method.response.header.X-Upstream: integration.response.header.X-Backend
            method.response.header.X-All: integration.response.multivalueheader.X-Multi
            method.response.header.X-Status: integration.response.body.status
          responseTemplates: {{ application/json: '{{"upstream": $input.json(''$'')}}' }}
        "5\\d{{2}}": {{ statusCode: 503 }}
  POST /http-body:
    integration:
      type: http
      url: "http://${{stageVariables.backend}}/echo"
      proxy: false
      requestTemplates:
        application/json: |
          #set($context.requestOverride.header.X-Added = "by-template")
          #set($context.requestOverride.querystring.page = "2")
          {{"wrapped": $input.json('$')}}
local:
  functions:
    echo: {{ command: ["{}"] }}
"#,
        env!("CARGO_BIN_EXE_echo-function"),
    )
}

struct Api {
    server: Server,
    _dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Api {
    async fn start() -> Self {
        let (server, dir) = tollgate_tests::serve(&definition(backend().await)).await;
        Self { server, _dir: dir, client: reqwest::Client::new() }
    }

    async fn post(&self, path: &str, content_type: Option<&str>, body: &str) -> Reply {
        let mut request = self.client.post(format!("http://{}{path}", self.server.addr)).body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        Reply::of(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Reply::of(request).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_template_is_the_event_the_function_receives() {
    let api = Api::start().await;
    let r = api.post("/orders/7?q=fast", JSON, r#"{"items": [1, 2]}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // No response template: the function's result is the body, the mapped header the only header it adds.
    let event = r.json();
    assert_eq!((event["id"].as_str(), event["q"].as_str()), (Some("7"), Some("fast")));
    assert_eq!(event["body"], json!({"items": [1, 2]}));
    assert_eq!((event["stage"].as_str(), event["method"].as_str()), (Some("test"), Some("POST")));
    assert_eq!((event["resourcePath"].as_str(), event["color"].as_str()), (Some("/orders/{id}"), Some("blue")));
    assert_eq!(event["sourceIp"], "127.0.0.1");
    assert_eq!(r.header("x-amzn-requestid"), event["requestId"].as_str(), "$context.requestId is the request's id");
    assert_eq!(r.header("x-mapped"), Some("yes"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    // No Content-Type reads as application/json.
    assert_eq!(api.post("/orders/8", None, "{}").await.json()["id"], "8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_behaviours() {
    let api = Api::start().await;
    let unsupported = |r: &Reply| {
        assert_eq!((r.status, r.text().as_str()), (415, r#"{"message":"Unsupported Media Type"}"#));
        assert_eq!(r.header("x-amzn-errortype"), Some("UnsupportedMediaTypeException"));
    };
    // WHEN_NO_TEMPLATES with a template: an unmapped type is refused.
    unsupported(&api.post("/orders/7", Some("application/xml"), "<a/>").await);
    // NEVER: refused unless mapped; a mapped type is rendered.
    unsupported(&api.post("/never", Some("text/plain"), "hi").await);
    assert_eq!(
        api.post("/never", Some("application/json; charset=utf-8"), "{}").await.json(),
        json!({"templated": true})
    );
    // WHEN_NO_MATCH (the default) without templates: the body itself is the event.
    assert_eq!(api.post("/passthrough", Some("text/plain"), r#"{"raw": 1}"#).await.json(), json!({"raw": 1}));
    // ... and a body that is not JSON cannot be a Lambda event.
    let r = api.post("/passthrough", Some("application/xml"), "<a/>").await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["message"].as_str().is_some_and(|m| m.starts_with("Could not parse request body into json: ")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_errors_select_responses_by_their_message() {
    let api = Api::start().await;
    let fail = |message: &str| format!("/fail?message={}", message.replace(' ', "%20"));
    let r = api.post(&fail("order 42 not found"), JSON, "{}").await;
    assert_eq!((r.status, r.json()), (404, json!({"error": "order 42 not found"})));
    assert_eq!(r.header("x-reason"), Some("missing"));
    assert!(r.header("x-error-type").is_some_and(|t| !t.is_empty()), "the error document's errorType");
    assert_eq!(r.header("x-request"), r.header("x-amzn-requestid"), "context.requestId");
    // The response template for the first accepted type.
    let plain = api.client.post(api.url(&fail("order 9 not found"))).header("accept", "text/plain").body("{}");
    let r = api.send(plain).await;
    assert_eq!((r.status, r.text().as_str()), (404, "not found: order 9 not found"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let r = api.post(&fail("Bad input"), JSON, "{}").await;
    assert_eq!((r.status, r.json()), (400, json!({"bad": "Bad input"})));
    // A pattern matches the whole message, as Java's matches() does: this one selects nothing, so the default
    // answers, with the error document as its body (API Gateway's 200 for an unmapped Lambda error).
    let r = api.post(&fail("not Bad"), JSON, "{}").await;
    assert_eq!((r.status, r.json()["errorMessage"].as_str()), (200, Some("not Bad")), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_statuses_select_responses_and_headers_are_mapped() {
    let api = Api::start().await;
    let r = api.send(api.client.get(api.url("/http/404"))).await;
    assert_eq!((r.status, r.json()), (400, json!({"upstream": {"status": 404}})));
    assert_eq!(
        (r.header("x-upstream"), r.header("x-all"), r.header("x-status")),
        (Some("b1"), Some("m1,m2"), Some("404"))
    );
    assert_eq!(r.header("x-backend"), None, "only mapped headers reach the client");
    assert_eq!(api.send(api.client.get(api.url("/http/503"))).await.status, 503);
    let r = api.send(api.client.get(api.url("/http/201"))).await;
    assert_eq!((r.status, r.json()), (200, json!({"status": 201})), "no pattern matches: the default");
    // The rendered template is the backend's body; requestOverride sets its header and query.
    let r = api.post("/http-body?page=1", JSON, r#"{"a": 1}"#).await;
    let sent = r.json();
    assert_eq!(
        serde_json::from_str::<Value>(sent["body"].as_str().unwrap_or("")).ok(),
        Some(json!({"wrapped": {"a": 1}}))
    );
    assert_eq!((sent["added"].as_str(), sent["query"].as_str()), (Some("by-template"), Some("page=2")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_overrides_and_runtime_failures() {
    let api = Api::start().await;
    let r = api.post("/override", JSON, r#"{"state": "created"}"#).await;
    assert_eq!((r.status, r.header("location")), (201, Some("/orders/1")), "{}", r.text());
    assert_eq!(r.json(), json!({"state": "created"}));
    let r = api.post("/override", JSON, r#"{"state": "kept"}"#).await;
    assert_eq!((r.status, r.header("location")), (200, None));
    // A template that fails at run time: API Gateway's 500, the template's text nowhere in the answer.
    let r = api.post("/broken", JSON, "{}").await;
    assert_eq!((r.status, r.text().as_str()), (500, r#"{"message": "Internal server error"}"#));
    assert_eq!(r.header("x-amzn-errortype"), Some("InternalServerErrorException"));
    // A template reading a body that is not JSON as JSON.
    let r = api.post("/orders/7", JSON, "{not json").await;
    assert_eq!(r.status, 400, "{}", r.text());
    let message = r.json()["message"].as_str().unwrap_or("").to_owned();
    assert!(message.starts_with("Could not parse request body into json: "), "{message}");
    assert!(!message.contains("$input"), "the template stays out of the answer: {message}");
}

/// Definitions that cannot run are refused at load, naming the route and the problem.
#[test]
fn definitions_outside_the_subset_are_refused_at_load() {
    let route = |kind: &str, integration: &str| {
        format!("type: {kind}\nroutes:\n  POST /orders:\n    integration:\n{integration}")
    };
    let lambda = "      type: lambda\n      function: orders\n";
    let cases = [
        (
            route(
                "REST",
                &format!(
                    "{lambda}      proxy: false\n      requestTemplates:\n        application/json: |\n          \
                     {{\n          #macro(m)x#end\n          }}\n"
                ),
            ),
            "route \"POST /orders\": requestTemplates[\"application/json\"]: mapping template line 2: #macro",
        ),
        (
            route(
                "REST",
                &format!(
                    "{lambda}      proxy: false\n      responses:\n        default:\n          statusCode: 200\n          \
                     responseTemplates: {{ application/json: \"$util.toJson($x)\" }}\n"
                ),
            ),
            "route \"POST /orders\": responses[\"default\"]: responseTemplates[\"application/json\"]: mapping template \
             line 1",
        ),
        (
            route("HTTP", &format!("{lambda}      proxy: false\n")),
            "route \"POST /orders\": proxy: false (mapping templates) is a REST API setting",
        ),
        (
            route("REST", &format!("{lambda}      requestTemplates: {{ application/json: x }}\n")),
            "requestTemplates needs a non-proxy integration",
        ),
        (
            route("REST", &format!("{lambda}      proxy: false\n      passthroughBehavior: SOMETIMES\n")),
            "unknown variant `SOMETIMES`",
        ),
        (
            route(
                "REST",
                &format!("{lambda}      proxy: false\n      responses: {{ \"a(\": {{ statusCode: 400 }} }}\n"),
            ),
            "selectionPattern \"a(\"",
        ),
        (
            route("REST", &format!("{lambda}      proxy: false\n      payloadFormatVersion: \"1.0\"\n")),
            "payloadFormatVersion",
        ),
    ];
    let websocket = "websocket:\n  routes:\n    say:\n      integration: { type: lambda, function: f, proxy: false }\n";
    let cases = cases.into_iter().chain([(websocket.to_owned(), "mapping templates are not supported")]);
    for (yaml, problem) in cases {
        let err = Definition::from_yaml(&yaml, None).expect_err(problem).to_string();
        assert!(err.contains(problem), "{problem}\n{err}");
    }
}
