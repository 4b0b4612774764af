//! One definition, served as each API type (`type: HTTP`, the default, and `type: REST`), over real sockets:
//! a real HTTP client in front of `tollgate serve`, a real function process (the echo function, also the Lambda
//! authorizer) under the local Runtime API, and real HTTP backends that fail. Each row is a request and the
//! answer each API type gives it, byte for byte; then the events and replies that differ between the types.

use serde_json::{Value, json};
use tollgate::serve::Server;
use tollgate_tests::{
    client::{Reply, new_key},
    faulty::FaultyBackends,
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Type {
    Http,
    Rest,
}

/// `tollgate serve` with the definition as one API type, its folder (keys live in its store file) and a client.
struct Api {
    server: Server,
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Api {
    async fn start(api: Type, faulty: &FaultyBackends) -> Self {
        let (kind, binary) = match api {
            Type::Http => ("HTTP", ""),
            // Binary media types are a REST API's setting; an HTTP API refuses it.
            Type::Rest => ("REST", "binaryMediaTypes: [image/png]\n"),
        };
        let yaml = format!(
            r#"
type: {kind}
{binary}stages:
  test:
    variables: {{ {faulty} }}
authorizers:
  gate:
    type: lambda
    function: echo
    identitySources: ["$request.header.X-Token"]
    resultTtlSeconds: 0
routes:
  ANY /fn/{{proxy+}}:
    integration: {{ type: lambda, function: echo }}
  GET /slow/{{proxy+}}:
    integration: {{ type: lambda, function: echo, timeoutMs: 300 }}
  GET /guarded/{{x}}:
    authorizer: gate
    integration: {{ type: lambda, function: echo }}
  GET /paid/{{x}}:
    apiKeyRequired: true
    integration: {{ type: lambda, function: echo }}
  GET /hang:
    integration: {{ type: http, url: "http://${{stageVariables.hang}}/", timeoutMs: 300 }}
  GET /garbage:
    integration: {{ type: http, url: "http://${{stageVariables.garbage}}/" }}
  GET /closed:
    integration: {{ type: http, url: "http://${{stageVariables.closed}}/" }}
  GET /exact:
    integration: {{ type: mock, statusCode: 200, headers: {{ content-type: text/plain }}, body: exact }}
  GET /bare:
    integration: {{ type: mock, statusCode: 200, body: bare }}
  GET /users/@me:
    integration: {{ type: mock, statusCode: 200, headers: {{ content-type: text/plain }}, body: me }}
  GET /huge:
    integration: {{ type: http, url: "http://${{stageVariables.huge}}/" }}
local:
  functions:
    echo: {{ command: ["{}"] }}
"#,
            env!("CARGO_BIN_EXE_echo-function"),
            faulty = faulty.variables(),
        );
        let (server, dir) = tollgate_tests::serve_on(&yaml, None).await;
        Self { server, dir, client: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Reply::of(request).await
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// A key for the stage's plan: (id, value).
    async fn key(&self) -> (String, String) {
        new_key(&self.dir.path().join("store.json"), "test", None).await
    }
}

/// What one API type answers: status, body (byte for byte), and `x-amzn-ErrorType` (REST APIs only).
#[derive(Debug, PartialEq, Eq)]
struct Answer<'a> {
    status: u16,
    body: &'a str,
    error_type: Option<&'a str>,
}

const fn answer<'a>(status: u16, body: &'a str, error_type: Option<&'a str>) -> Answer<'a> {
    Answer { status, body, error_type }
}

/// One request and the answer each type gives it.
struct Row {
    what: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    http: Answer<'static>,
    rest: Answer<'static>,
}

const HTTP_404: Answer<'static> = answer(404, r#"{"message":"Not Found"}"#, None);
const REST_403: Answer<'static> =
    answer(403, r#"{"message":"Missing Authentication Token"}"#, Some("MissingAuthenticationTokenException"));
const HTTP_500: Answer<'static> = answer(500, r#"{"message":"Internal Server Error"}"#, None);
const REST_502: Answer<'static> =
    answer(502, r#"{"message": "Internal server error"}"#, Some("InternalServerErrorException"));

const ROWS: &[Row] = &[
    Row { what: "no route matches", path: "/nowhere", headers: &[], http: HTTP_404, rest: REST_403 },
    Row {
        what: "a trailing slash (REST APIs ignore it)",
        path: "/exact/",
        headers: &[],
        http: HTTP_404,
        rest: answer(200, "exact", None),
    },
    Row {
        what: "a percent-encoded static segment",
        path: "/users/%40me",
        headers: &[],
        http: answer(200, "me", None),
        rest: answer(200, "me", None),
    },
    Row {
        what: "a path is decoded once, never twice",
        path: "/users/%2540me",
        headers: &[],
        http: HTTP_404,
        rest: REST_403,
    },
    Row {
        what: "broken percent-encoding",
        path: "/fn/%zz",
        headers: &[],
        http: answer(400, r#"{"message":"Bad Request"}"#, None),
        rest: answer(400, r#"{"message":"Bad Request"}"#, Some("BadRequestException")),
    },
    Row { what: "the function fails", path: "/fn/fail", headers: &[], http: HTTP_500, rest: REST_502 },
    Row {
        what: "the function's reply is malformed",
        path: "/fn/malformed",
        headers: &[],
        http: HTTP_500,
        rest: REST_502,
    },
    Row {
        what: "a reply without statusCode (payload 2.0 infers one; 1.0 cannot)",
        path: "/fn/infer",
        headers: &[],
        http: answer(200, r#"{"message":"inferred"}"#, None),
        rest: REST_502,
    },
    Row { what: "the HTTP backend refuses connections", path: "/closed", headers: &[], http: HTTP_500, rest: REST_502 },
    Row { what: "the HTTP backend answers garbage", path: "/garbage", headers: &[], http: HTTP_500, rest: REST_502 },
    Row {
        what: "an answer too big for the router's Lambda reply (6 MB)",
        path: "/huge",
        headers: &[],
        http: HTTP_500,
        rest: REST_502,
    },
    Row {
        what: "the HTTP backend never answers",
        path: "/hang",
        headers: &[],
        http: answer(503, r#"{"message":"Service Unavailable"}"#, None),
        rest: answer(504, r#"{"message": "Endpoint request timed out"}"#, Some("InternalServerErrorException")),
    },
    Row {
        what: "no API key",
        path: "/paid/x",
        headers: &[],
        http: answer(403, r#"{"message":"Forbidden"}"#, None),
        rest: answer(403, r#"{"message":"Forbidden"}"#, Some("ForbiddenException")),
    },
    Row {
        what: "an unknown API key",
        path: "/paid/x",
        headers: &[("x-api-key", "no-such-key-value-at-all")],
        http: answer(403, r#"{"message":"Forbidden"}"#, None),
        rest: answer(403, r#"{"message":"Forbidden"}"#, Some("ForbiddenException")),
    },
    Row {
        what: "no identity for the Lambda authorizer",
        path: "/guarded/ok",
        headers: &[],
        http: answer(401, r#"{"message":"Unauthorized"}"#, None),
        rest: answer(401, r#"{"message":"Unauthorized"}"#, Some("UnauthorizedException")),
    },
    Row {
        what: "the Lambda authorizer denies",
        path: "/guarded/deny",
        headers: &[("x-token", "t")],
        http: answer(403, r#"{"message":"Forbidden"}"#, None),
        rest: answer(
            403,
            r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
            Some("AccessDeniedException"),
        ),
    },
    Row {
        what: "the Lambda authorizer fails",
        path: "/guarded/broken",
        headers: &[("x-token", "t")],
        http: HTTP_500,
        rest: answer(500, r#"{"message":null}"#, Some("AuthorizerConfigurationException")),
    },
    // Last: the function sleeps on after the timeout, and the next invocation waits for it.
    Row {
        what: "the function outlives the integration timeout",
        path: "/slow/sleep",
        headers: &[],
        http: answer(503, r#"{"message":"Service Unavailable"}"#, None),
        rest: answer(504, r#"{"message": "Endpoint request timed out"}"#, Some("InternalServerErrorException")),
    },
];

/// The headers every answer of the type carries (errors included) name the request; no other type's do.
fn check_ids(api: Type, r: &Reply, what: &str) {
    match api {
        Type::Http => {
            assert!(r.header("apigw-requestid").is_some_and(|id| !id.is_empty()), "{what}");
            for absent in ["x-amzn-requestid", "x-amz-apigw-id", "x-amzn-errortype"] {
                assert_eq!(r.header(absent), None, "{what}: an HTTP API sends no {absent}");
            }
        }
        Type::Rest => {
            assert!(r.header("x-amzn-requestid").is_some_and(|id| id.len() == 36), "{what}: a UUID");
            let extended = r.header("x-amz-apigw-id").unwrap_or("");
            assert!(extended.len() == 16 && extended.ends_with('='), "{what}: x-amz-apigw-id {extended:?}");
            assert_eq!(r.header("apigw-requestid"), None, "{what}");
            assert!(r.header("x-amzn-trace-id").is_some_and(|t| t.starts_with("Root=1-")), "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_api_type_answers_in_its_own_words() {
    let faulty = FaultyBackends::start().await;
    for api in [Type::Http, Type::Rest] {
        let served = Api::start(api, &faulty).await;
        for row in ROWS {
            let r = served.get(row.path, row.headers).await;
            let expected = if api == Type::Http { &row.http } else { &row.rest };
            let text = r.text();
            assert_eq!(answer(r.status, &text, r.header("x-amzn-errortype")), *expected, "{api:?}: {}", row.what);
            check_ids(api, &r, row.what);
        }
        // A body over API Gateway's 10 MB, refused before it reaches the gateway, is answered all the same.
        let big = vec![b'x'; 10 * 1024 * 1024 + 1];
        let r = served.send(served.client.post(served.url("/fn/echo")).body(big)).await;
        let error_type = (api == Type::Rest).then_some("RequestEntityTooLargeException");
        assert_eq!(
            (r.status, r.text().as_str(), r.header("x-amzn-errortype")),
            (413, r#"{"message":"Request Too Long"}"#, error_type),
            "{api:?}"
        );
        check_ids(api, &r, "a body over 10 MB");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_api_type_sends_its_own_events_and_maps_replies_its_own_way() {
    let faulty = FaultyBackends::start().await;
    for api in [Type::Http, Type::Rest] {
        let served = Api::start(api, &faulty).await;
        let rest = api == Type::Rest;

        // The proxy event: REST sends 1.0 without a version, with its deployment and the caller's trace back.
        let trace = "Root=1-6568f0a2-4c1d7e2b9a3f5061d8e4b7c2;Sampled=1";
        let reserved = [("content-md5", "Q2hlY2sgSW50ZWdyaXR5IQ=="), ("max-forwards", "3")];
        let r =
            served.get("/fn/pets/7?kind=dog&kind=cat", &[("x-amzn-trace-id", trace), reserved[0], reserved[1]]).await;
        assert_eq!(r.status, 200, "{api:?}: {}", r.text());
        check_ids(api, &r, "an echoed event");
        let event = r.json();
        let headers = event["headers"].as_object().expect("headers");
        for (name, _) in reserved {
            assert!(!headers.keys().any(|k| k.eq_ignore_ascii_case(name)), "{api:?}: {name} is not passed on");
        }
        if rest {
            assert!(event.get("version").is_none(), "{event}");
            // Over HTTP/1 the front door does not keep the caller's spelling: names are Title-Case.
            assert_eq!(headers.get("X-Amzn-Trace-Id").and_then(Value::as_str), Some(trace), "{headers:?}");
            assert!(headers.contains_key("Host"), "{headers:?}");
            assert_eq!(event["queryStringParameters"]["kind"], "cat", "the last value");
            assert_eq!(
                (event["resource"].as_str(), event["path"].as_str()),
                (Some("/fn/{proxy+}"), Some("/fn/pets/7"))
            );
            let ctx = &event["requestContext"];
            assert_eq!((ctx["stage"].as_str(), ctx["path"].as_str()), (Some("test"), Some("/test/fn/pets/7")));
            assert!(ctx["deploymentId"].as_str().is_some_and(|d| !d.is_empty()), "{ctx}");
            assert_eq!(ctx["requestId"].as_str(), r.header("x-amzn-requestid"));
            assert_eq!(ctx["extendedRequestId"].as_str(), r.header("x-amz-apigw-id"));
            assert_eq!(r.header("x-amzn-trace-id"), Some(trace), "the caller's trace comes back");
            assert!(ctx["identity"]["apiKey"].is_null(), "{ctx}");
        } else {
            assert_eq!(event["version"], "2.0");
            assert_eq!(event["queryStringParameters"]["kind"], "dog,cat");
            assert_eq!(event["requestContext"]["requestId"].as_str(), r.header("apigw-requestid"));
            assert_eq!(event["headers"]["x-amzn-trace-id"], trace, "the function's event continues the trace");
        }

        // The function's invocation continues the caller's trace (its `Lambda-Runtime-Trace-Id`).
        let r = served.get("/fn/trace", &[("x-amzn-trace-id", trace)]).await;
        assert_eq!(r.text(), trace, "{api:?}");

        // REST sends path and path parameters as the client encoded them; an HTTP API decodes parameters.
        let event = served.get("/fn/caf%C3%A9%20au%20lait", &[]).await.json();
        if rest {
            let encoded = "caf%C3%A9%20au%20lait";
            assert_eq!(event["path"].as_str(), Some(format!("/fn/{encoded}").as_str()));
            assert_eq!(event["pathParameters"]["proxy"].as_str(), Some(encoded));
        } else {
            assert_eq!(event["pathParameters"]["proxy"], "café au lait");
        }

        // A key's value and id reach REST integrations in `identity`; payload 2.0 has no identity.
        let (key_id, value) = served.key().await;
        let r = served.get("/paid/x", &[("x-api-key", &value)]).await;
        assert_eq!(r.status, 200, "{api:?}: {}", r.text());
        let identity = &r.json()["requestContext"]["identity"];
        if rest {
            assert_eq!((identity["apiKey"].as_str(), identity["apiKeyId"].as_str()), (Some(&*value), Some(&*key_id)));
        } else {
            assert!(identity.is_null(), "{identity}");
        }

        // What the Lambda authorizer returned: REST flattens it beside principalId, with its latency.
        let r = served.get("/guarded/ok", &[("x-token", "t")]).await;
        assert_eq!(r.status, 200, "{api:?}: {}", r.text());
        let authorizer = &r.json()["requestContext"]["authorizer"];
        if rest {
            assert_eq!(
                (authorizer["principalId"].as_str(), authorizer["tier"].as_str()),
                (Some("echo-user"), Some("gold"))
            );
            assert_eq!(authorizer["n"], "3", "context values as strings: {authorizer}");
            assert!(authorizer["integrationLatency"].is_u64(), "{authorizer}");
        } else {
            let lambda = &authorizer["lambda"];
            assert_eq!((&lambda["tier"], &lambda["n"]), (&json!("gold"), &json!(3)), "{authorizer}");
        }

        // `cookies` is a 2.0 reply field: a REST API calls a reply with it malformed.
        let r = served.get("/fn/cookies", &[]).await;
        let cookies: Vec<_> = r.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
        if rest {
            assert_eq!((r.status, cookies.len()), (502, 0));
        } else {
            assert_eq!((r.status, cookies.as_slice()), (201, ["a=1; Path=/", "b=2"].as_slice()));
        }
        // A REST API names JSON when the answer names no type.
        let r = served.get("/bare", &[]).await;
        assert_eq!((r.status, r.text().as_str()), (200, "bare"));
        assert_eq!(r.header("content-type"), rest.then_some("application/json"), "{api:?}");

        // A base64 reply is decoded for an HTTP API; a REST API decodes it only for an Accept it lists as binary.
        let png = [0u8, 159, 146, 150, 255];
        let r = served.get("/fn/binary", &[("accept", "image/png")]).await;
        assert_eq!((r.header("content-type"), r.body.as_slice()), (Some("image/png"), png.as_slice()), "{api:?}");
        let r = served.get("/fn/binary", &[("accept", "application/json")]).await;
        if rest {
            assert_eq!(r.text(), "AJ+Slv8=", "left as base64 text");
        } else {
            assert_eq!(r.body, png);
        }

        // Request bodies: an HTTP API sends any non-text body as base64; a REST API only its binary media types.
        for (content_type, body, rest_base64) in
            [("application/octet-stream", b"plain bytes".to_vec(), false), ("image/png", png.to_vec(), true)]
        {
            let request = served.client.post(served.url("/fn/upload")).header("content-type", content_type);
            let r = served.send(request.body(body.clone())).await;
            let event = r.json();
            let base64 = event["isBase64Encoded"].as_bool().expect("isBase64Encoded");
            assert_eq!(base64, !rest || rest_base64, "{api:?} {content_type}");
            let sent = event["body"].as_str().expect("body");
            let decoded = if base64 {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(sent).expect("base64")
            } else {
                sent.as_bytes().to_vec()
            };
            assert_eq!(decoded, body, "{api:?} {content_type}");
        }
    }
}

/// A definition's choices that only one type has are refused at load, naming the field.
#[test]
fn settings_of_the_other_type_are_refused() {
    use tollgate_core::config::{Definition, IntegrationSpec, PayloadVersion};
    let route = "routes:\n  GET /a: { integration: { type: lambda, function: f";
    for (yaml, complaint) in [
        (format!("binaryMediaTypes: [image/png]\n{route} }} }}\n"), "binaryMediaTypes"),
        (format!("type: REST\n{route}, payloadFormatVersion: \"2.0\" }} }}\n"), "payloadFormatVersion"),
        (format!("type: SOAP\n{route} }} }}\n"), "type"),
        (format!("type: REST\nbinaryMediaTypes: [png]\n{route} }} }}\n"), "binaryMediaTypes"),
    ] {
        let error = Definition::from_yaml(&yaml, None).expect_err(&yaml).to_string();
        assert!(error.contains(complaint), "{yaml}: {error}");
    }
    // Each type's default payload: 2.0 for HTTP, 1.0 for REST.
    for (kind, version) in [("HTTP", PayloadVersion::V2), ("REST", PayloadVersion::V1)] {
        let definition = Definition::from_yaml(&format!("type: {kind}\n{route} }} }}\n"), None).expect("loads");
        let IntegrationSpec::Lambda { payload, .. } = &definition.routes[0].integration else { panic!("lambda") };
        assert_eq!(*payload, version, "{kind}");
    }
}
