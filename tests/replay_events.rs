//! Replays every recorded event in `events/` through the router's handler (`Gateway::handle`, what the router
//! Lambda runs) and checks what the caller gets back, in the caller's own format. Lambda integrations reach an
//! in-process echo function, so each row can also check the proxy event the gateway built.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;
use tollgate_core::event::GatewayEvent;
use tollgate_tests::{echo_gateway, event_text, repo_root};

/// What the handler returned, as lambda_runtime would serialize it for the caller.
struct Replay {
    json: Value,
}

impl Replay {
    fn status(&self) -> i64 {
        self.json["statusCode"].as_i64().unwrap_or(-1)
    }

    /// A response header (any spelling), from `headers` (2.0) or `multiValueHeaders` (1.0).
    fn header(&self, name: &str) -> Option<String> {
        let find = |map: &Value| {
            let (_, value) = map.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?;
            value.as_str().or_else(|| value[0].as_str()).map(str::to_owned)
        };
        find(&self.json["headers"]).or_else(|| find(&self.json["multiValueHeaders"]))
    }

    fn body(&self) -> Vec<u8> {
        let text = self.json["body"].as_str().unwrap_or("");
        if self.json["isBase64Encoded"].as_bool() == Some(true) {
            STANDARD.decode(text).expect("base64 body")
        } else {
            text.as_bytes().to_vec()
        }
    }

    /// The proxy event the echo function received.
    fn echoed(&self) -> Value {
        serde_json::from_slice(&self.body()).expect("echoed event")
    }

    fn message(&self) -> String {
        let body: Value = serde_json::from_slice(&self.body()).expect("JSON error body");
        body["message"].as_str().unwrap_or_default().to_owned()
    }
}

/// Replays `file` against the definition in `tests/fixtures/{definition}`.
async fn replay(definition: &str, file: &str) -> Replay {
    let definition = std::fs::read_to_string(repo_root().join("tests/fixtures").join(definition)).expect("definition");
    let gateway = echo_gateway(&definition);
    let event: GatewayEvent = serde_json::from_str(&event_text(file)).expect("a recorded event parses");
    let response = gateway.handle(event, None).await;
    Replay { json: serde_json::to_value(&response).expect("response serializes") }
}

/// One test per row: the event replayed against `definition`, the status, the header every answer of the
/// API type names its request by, and the row's own checks.
macro_rules! replay {
    (definition: $definition:literal, request_id: $id:literal;
     $($name:ident: $file:literal => $status:literal $(, |$r:ident| $check:block)?;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let r = replay($definition, $file).await;
            assert_eq!(r.status(), $status, "{}", r.json);
            assert!(r.header($id).is_some(), "every response names its request: {}", r.json);
            $( let $r = &r; $check )?
        }
    )*};
}

// An HTTP API (the default type) answers every event, in the event's own format.
replay! {
    definition: "replay.yaml", request_id: "apigw-requestid";
    function_url_get_query: "function-url-get-query.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["version"], "2.0");
        assert_eq!(ev["routeKey"], "GET /my/path");
        assert_eq!(ev["rawQueryString"], "parameter1=value1&parameter1=value2&parameter2=value");
        assert_eq!(ev["queryStringParameters"]["parameter1"], "value1,value2");
        assert_eq!(ev["cookies"], serde_json::json!(["test=hi"]));
        assert_eq!(ev["requestContext"]["http"]["sourceIp"], "65.78.31.245");
        assert_eq!(ev["requestContext"]["requestId"], "MIZRNhJtIAMEMDw=");
        assert_eq!(ev["requestContext"]["timeEpoch"], 1673437534837_i64);
        assert!(ev.get("pathParameters").is_none(), "no parameters, no key");
        assert_eq!(r.header("apigw-requestid").as_deref(), Some("MIZRNhJtIAMEMDw="), "the front door's id is kept");
        assert_eq!(r.header("x-echo").as_deref(), Some("yes"));
    };
    function_url_no_query: "function-url-no-query.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["rawQueryString"], "");
        assert!(ev.get("queryStringParameters").is_none());
        assert_eq!(ev["pathParameters"]["id"], "7");
        assert_eq!(ev["routeKey"], "GET /pets/{id}");
        assert_eq!(ev["requestContext"]["stage"], "$default");
        assert_eq!(ev["rawPath"], "/pets/7", "no stage segment for $default");
    };
    function_url_encoded_path: "function-url-encoded-path.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["pathParameters"]["id"], "café au lait", "parameters are decoded");
        assert_eq!(ev["rawPath"], "/pets/caf%C3%A9%20au%20lait", "the raw path is not");
    };
    function_url_greedy_encoded_slash: "function-url-greedy-encoded-slash.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["routeKey"], "GET /files/{proxy+}");
        assert_eq!(ev["pathParameters"]["proxy"], "a/b/c.txt");
    };
    function_url_binary_body: "function-url-binary-body.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["isBase64Encoded"], true);
        let sent = STANDARD.decode(ev["body"].as_str().expect("body")).expect("base64");
        assert_eq!(sent, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0xff, 0xfe]);
    };
    function_url_json_body: "function-url-json-body.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!((ev["isBase64Encoded"].clone(), ev["body"].clone()), (Value::Bool(false), Value::from(r#"{"name":"rex"}"#)));
    };
    function_url_duplicate_headers: "function-url-duplicate-headers.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["headers"]["x-multi"], "v1,v2");
        assert_eq!(ev["headers"]["accept"], "text/html,application/json");
    };
    function_url_cookies: "function-url-cookies.json" => 200, |r| {
        assert_eq!(r.echoed()["cookies"], serde_json::json!(["session=abc", "theme=dark"]));
    };
    function_url_unknown_method_reaches_any: "function-url-unknown-method.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["version"], "1.0");
        assert_eq!(ev["httpMethod"], "PROPFIND");
        assert_eq!(ev["resource"], "/pets/{id}");
        assert_eq!(ev["pathParameters"]["id"], "7");
    };
    function_url_bad_base64_body: "function-url-bad-base64-body.json" => 400, |r| {
        assert_eq!(r.message(), "Bad Request");
        assert_eq!(r.header("x-amzn-errortype"), None, "an HTTP API names no error type");
    };
    function_url_invalid_percent_encoding: "function-url-invalid-percent-encoding.json" => 400, |r| {
        assert_eq!(r.message(), "Bad Request");
    };
    function_url_invalid_utf8_parameter: "function-url-invalid-utf8-parameter.json" => 400, |r| {
        assert_eq!(r.message(), "Bad Request");
    };
    function_url_oversized_headers: "function-url-oversized-headers.json" => 413, |r| {
        assert_eq!(r.message(), "Request Too Long");
    };
    function_url_no_route: "function-url-no-route.json" => 404, |r| {
        assert_eq!(r.message(), "Not Found");
        assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
    };
    http_api_root: "http-api-root.json" => 200, |r| {
        assert_eq!(r.body(), b"root");
        assert_eq!(r.json["isBase64Encoded"], false, "text/plain stays text");
    };
    http_api_minimal: "http-api-minimal.json" => 200;
    http_api_stage_in_path: "http-api-stage-in-path.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["path"], "/my/path", "the caller's stage segment is not part of the route path");
        // No Content-Type: API Gateway sends the body as base64 (behaviour reference §1.2).
        assert_eq!(ev["isBase64Encoded"], true);
        assert_eq!(STANDARD.decode(ev["body"].as_str().expect("body")).expect("base64"), b"Hello from Lambda");
    };
    http_api_multi_value: "http-api-multi-value.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["queryStringParameters"]["Parameter1"], "value1,value2");
        assert_eq!(ev["cookies"], serde_json::json!(["cookie1", "cookie2"]));
    };
    http_api_path_with_space: "http-api-path-with-space.json" => 404;
    // An HTTP API delivers `rawPath` decoded: a `%` in it is a character, not an escape to decode again.
    http_api_decoded_path: "http-api-decoded-path.json" => 200, |r| {
        assert_eq!(r.echoed()["pathParameters"]["id"], "50% off");
    };
    rest_api_proxy_answers_in_rest_shape: "rest-api-proxy.json" => 200, |r| {
        assert!(r.json.get("multiValueHeaders").is_some() && r.json.get("cookies").is_none(), "{}", r.json);
        let ev = r.echoed();
        assert_eq!(ev["httpMethod"], "POST");
        assert_eq!(ev["pathParameters"]["proxy"], "world");
        assert_eq!(ev["resource"], "/hello/{proxy+}");
    };
    rest_api_multi_value: "rest-api-multi-value.json" => 200, |r| {
        let ev = r.echoed();
        assert!(ev["multiValueQueryStringParameters"].is_object(), "{ev}");
        assert!(ev["multiValueHeaders"]["accept"].is_array(), "{ev}");
    };
    http_api_sam_generated: "http-api-sam-generated.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["queryStringParameters"]["foo"], "bar");
        assert!(ev.get("body").is_none(), "an empty body is no body: {ev}");
    };
    rest_api_sam_generated: "rest-api-sam-generated.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!((ev["httpMethod"].as_str(), ev["path"].as_str()), (Some("GET"), Some("/test")));
        assert!(r.json.get("multiValueHeaders").is_some(), "answered in the REST shape");
    };
    rest_api_no_host: "rest-api-no-host.json" => 200, |r| {
        assert_eq!(r.echoed()["queryStringParameters"]["name"], "me");
    };
}

// A REST API answers REST events as API Gateway's REST APIs do.
replay! {
    definition: "replay-rest.yaml", request_id: "x-amzn-RequestId";
    rest_type_get_pet: "rest-api-get-pet.json" => 200, |r| {
        // The ids of the event: the request id, the extended id, the trace.
        assert_eq!(r.header("x-amzn-RequestId").as_deref(), Some("5d1f3b2a-8c4e-4f6a-9b7d-2e0c1a3f5b68"));
        assert_eq!(r.header("x-amz-apigw-id").as_deref(), Some("Pq7RzEWjFiAEb3w="));
        assert_eq!(r.header("X-Amzn-Trace-Id").as_deref(), Some("Root=1-6568f0a2-4c1d7e2b9a3f5061d8e4b7c2"));
        assert_eq!(r.header("apigw-requestid"), None);
        let ev = r.echoed();
        assert!(ev.get("version").is_none(), "REST events carry no version: {ev}");
        assert_eq!((ev["resource"].as_str(), ev["path"].as_str()), (Some("/pets/{id}"), Some("/pets/42")));
        assert_eq!(ev["pathParameters"]["id"], "42");
        assert_eq!(ev["multiValueQueryStringParameters"]["verbose"], serde_json::json!(["true"]));
        // Header names as the client spelled them.
        assert_eq!(ev["headers"]["User-Agent"], "curl/8.5.0");
        assert_eq!(ev["multiValueHeaders"]["X-Forwarded-Proto"], serde_json::json!(["https"]));
        let ctx = &ev["requestContext"];
        assert_eq!(ctx["requestId"], "5d1f3b2a-8c4e-4f6a-9b7d-2e0c1a3f5b68");
        assert_eq!(ctx["extendedRequestId"], "Pq7RzEWjFiAEb3w=");
        assert_eq!((ctx["stage"].as_str(), ctx["path"].as_str()), (Some("prod"), Some("/prod/pets/42")));
        assert!(ctx["deploymentId"].as_str().is_some_and(|d| !d.is_empty()), "{ctx}");
        // No key on this route: REST sends the identity's key fields as null.
        assert!(ctx["identity"]["apiKey"].is_null() && ctx["identity"].get("apiKeyId").is_some(), "{ctx}");
    };
    rest_type_unknown_resource: "rest-api-unknown-resource.json" => 403, |r| {
        assert_eq!(String::from_utf8_lossy(&r.body()), r#"{"message":"Missing Authentication Token"}"#);
        assert_eq!(r.header("x-amzn-ErrorType").as_deref(), Some("MissingAuthenticationTokenException"));
        assert_eq!(r.header("x-amz-apigw-id").as_deref(), Some("Pq7Sb3ZxFiAEHnQ="));
    };
    rest_type_proxy_event: "rest-api-proxy.json" => 200, |r| {
        let ev = r.echoed();
        assert_eq!(ev["pathParameters"]["proxy"], "world");
        // application/json is not among the binary media types: the body stays text.
        assert_eq!((ev["isBase64Encoded"].as_bool(), ev["body"].as_str()), (Some(false), Some("{\r\n\t\"a\": 1\r\n}")));
        // An event without an extended id gets one made from the request id, as every REST answer has one.
        assert!(r.header("x-amz-apigw-id").is_some_and(|id| id.len() == 16 && id.ends_with('=')), "{}", r.json);
    };
    rest_type_sam_generated: "rest-api-sam-generated.json" => 200, |r| {
        assert_eq!(r.echoed()["httpMethod"], "GET");
    };
}

/// Events the handler cannot even read are refused by deserialization, never by a panic. On Lambda the
/// runtime reports them as an invocation error, and the front door answers 502.
#[test]
fn unreadable_events_are_refused_with_a_reason() {
    for file in ["function-url-not-an-event.json", "function-url-malformed-method.json"] {
        let err = serde_json::from_str::<GatewayEvent>(&event_text(file)).expect_err(file);
        assert!(!err.to_string().is_empty(), "{file}");
    }
    for text in ["", "null", "[]", "42", "{\"version\":\"2.0\"}", "{\"requestContext\":{}}"] {
        assert!(serde_json::from_str::<GatewayEvent>(text).is_err(), "{text:?}");
    }
}

/// Every recorded event round-trips through its aws_lambda_events type (parse, serialize, reparse).
#[test]
fn recorded_events_round_trip() {
    let dir = repo_root().join("events");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("events/") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let Ok(event) = serde_json::from_str::<GatewayEvent>(&text) else { continue };
        let (a, b) = match event {
            GatewayEvent::Http(ev) => {
                let again: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
                    serde_json::from_value(serde_json::to_value(&ev).expect("ser")).expect("reparse");
                (serde_json::to_value(&ev).expect("ser"), serde_json::to_value(&again).expect("ser"))
            }
            GatewayEvent::Rest(rest) => {
                let ev = rest.event;
                let again: aws_lambda_events::apigw::ApiGatewayProxyRequest =
                    serde_json::from_value(serde_json::to_value(&ev).expect("ser")).expect("reparse");
                (serde_json::to_value(&ev).expect("ser"), serde_json::to_value(&again).expect("ser"))
            }
        };
        assert_eq!(a, b, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} events parsed");
}
