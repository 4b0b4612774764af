//! The SDK path (what `AWS_ENDPOINT_URL_LAMBDA` selects, e.g. for `cargo lambda watch`): the router's
//! `SdkInvoker`, through aws-sdk-lambda over HTTP, against a real Lambda Invoke API endpoint on loopback (the
//! one a local function serves), both directly and as a gateway's Lambda integration.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Value, json};
use tollgate::local_lambda::LocalFunction;
use tollgate_core::{
    Gateway,
    backends::Backends,
    clients::{InvokeError, Invoker, SdkInvoker},
    config::Definition,
    event::GatewayEvent,
    settings::Settings,
};
use tollgate_tests::event_text;

/// The SDK client as `AWS_ENDPOINT_URL_LAMBDA` (and nothing else) configures it.
async fn sdk_invoker(endpoint: &str) -> SdkInvoker {
    SdkInvoker::new(&Settings { lambda_endpoint: Some(endpoint.to_owned()), ..Settings::default() }).await
}

async fn echo_function() -> LocalFunction {
    let command = [env!("CARGO_BIN_EXE_echo-function").to_owned()];
    LocalFunction::start("echo", &command, &BTreeMap::new(), &std::env::temp_dir()).await.expect("function starts")
}

fn event_for(path: &str) -> Vec<u8> {
    event_text("function-url-no-query.json").replace("/pets/7", path).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_invoker_calls_an_invoke_api_endpoint() {
    let function = echo_function().await;
    let invoker = sdk_invoker(&format!("http://{}", function.runtime_api())).await;

    let out = invoker.invoke("echo", event_for("/hello"), None).await.expect("invoke");
    assert_eq!(out.function_error, None);
    let reply: Value = serde_json::from_slice(&out.payload).expect("JSON");
    assert_eq!(reply["statusCode"], 200);

    // The caller's trace reaches the function (as `X-Amzn-Trace-Id` on the Invoke call).
    let trace = "Root=1-5f84c7a1-1234567890abcdef12345678;Sampled=1";
    let out = invoker.invoke("echo", event_for("/trace"), Some(trace)).await.expect("invoke");
    let reply: Value = serde_json::from_slice(&out.payload).expect("JSON");
    assert_eq!(reply["body"], trace);

    let out =
        invoker.invoke("arn:aws:lambda:us-east-1:123456789012:function:echo:live", event_for("/fail"), None).await;
    assert_eq!(
        out.expect("invoke").function_error.as_deref(),
        Some("Unhandled"),
        "a function error is not a call error"
    );

    let err = invoker.invoke("no-such-function", event_for("/x"), None).await.expect_err("unknown function");
    assert!(matches!(err, InvokeError::Refused(ref d) if d.contains("ResourceNotFound")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_reaches_its_functions_through_the_sdk() {
    let function = echo_function().await;
    let definition = Definition::from_yaml(
        "routes:\n  GET /pets/{id}: { integration: { type: lambda, function: echo } }\n  GET /down: { integration: { type: lambda, function: elsewhere } }\n",
        None,
    )
    .expect("definition");
    let invoker = sdk_invoker(&format!("http://{}", function.runtime_api())).await;
    let gateway =
        Gateway::new(&definition, &Backends { lambda: Some(Arc::new(invoker)), http: None, ..Backends::default() })
            .expect("gateway");

    let event: GatewayEvent = serde_json::from_slice(&event_for("/pets/7")).expect("event");
    let reply = serde_json::to_value(gateway.handle(event, None).await).expect("reply");
    assert_eq!(reply["statusCode"], 200, "{reply}");
    let echoed: Value = serde_json::from_str(reply["body"].as_str().expect("body")).expect("echoed event");
    assert_eq!(echoed["pathParameters"]["id"], "7");

    // The Invoke API answers 404 for a function it does not have: the client gets an HTTP API's 500.
    let event: GatewayEvent = serde_json::from_slice(&event_for("/down")).expect("event");
    let reply = serde_json::to_value(gateway.handle(event, None).await).expect("reply");
    assert_eq!((&reply["statusCode"], &reply["body"]), (&json!(500), &json!(r#"{"message":"Internal Server Error"}"#)));

    // No Invoke API at all (a closed port): also 500, promptly.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let invoker = sdk_invoker(&format!("http://{closed}")).await;
    let gateway =
        Gateway::new(&definition, &Backends { lambda: Some(Arc::new(invoker)), http: None, ..Backends::default() })
            .expect("gateway");
    let event: GatewayEvent = serde_json::from_slice(&event_for("/pets/7")).expect("event");
    // A bound on a hang, not a measurement: the SDK gives up on a refused connection at once.
    let reply =
        tokio::time::timeout(std::time::Duration::from_secs(60), gateway.handle(event, None)).await.expect("answers");
    let reply = serde_json::to_value(reply).expect("reply");
    assert_eq!(reply["statusCode"], 500, "{reply}");
}

/// On Lambda the router has until its invocation's deadline: an integration gets what is left of it (less a
/// margin to answer in), so a backend slower than that is answered as the API type answers a timeout, rather
/// than the router running out of time and the Function URL answering its own 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_get_only_what_is_left_of_the_invocation() {
    use tollgate_core::clock::{Clock as _, SystemClock};
    let function = echo_function().await;
    let invoker: Arc<dyn Invoker> = Arc::new(sdk_invoker(&format!("http://{}", function.runtime_api())).await);
    for (api_type, status, body) in [
        ("HTTP", 503, r#"{"message":"Service Unavailable"}"#),
        ("REST", 504, r#"{"message": "Endpoint request timed out"}"#),
    ] {
        let yaml = format!(
            "type: {api_type}\nroutes:\n  GET /pets/{{id}}: {{ integration: {{ type: lambda, function: echo }} }}\n"
        );
        let definition = Definition::from_yaml(&yaml, None).expect("definition");
        let backends = Backends { lambda: Some(Arc::clone(&invoker)), ..Backends::default() };
        let gateway = Gateway::new(&definition, &backends).expect("gateway");
        // The function sleeps 2 s; the integration's own timeout (29 s) would wait for it, the deadline does not.
        // The gateway reads the system clock (no clock was injected), so the deadline is set on it too.
        let deadline = SystemClock.now_ms() + 1_000;
        let event: GatewayEvent = serde_json::from_slice(&event_for("/pets/sleep")).expect("event");
        let reply = serde_json::to_value(gateway.handle(event, Some(deadline)).await).expect("reply");
        assert_eq!((&reply["statusCode"], reply["body"].as_str()), (&json!(status), Some(body)), "{api_type}");
        // A deadline already past: no time to call at all, the same answer.
        let event: GatewayEvent = serde_json::from_slice(&event_for("/pets/7")).expect("event");
        let reply = serde_json::to_value(gateway.handle(event, Some(deadline - 60_000)).await).expect("reply");
        assert_eq!(reply["statusCode"], json!(status), "{api_type}: {reply}");
    }
}
