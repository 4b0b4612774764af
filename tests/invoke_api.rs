//! The SDK path (what `AWS_ENDPOINT_URL_LAMBDA` selects, e.g. for `cargo lambda watch`): the router's
//! `SdkInvoker`, through aws-sdk-lambda over HTTP, against a real Lambda Invoke API endpoint on loopback (the
//! one a local function serves), both directly and as a gateway's Lambda integration.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::Value;
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

    let out = invoker.invoke("echo", event_for("/hello")).await.expect("invoke");
    assert_eq!(out.function_error, None);
    let reply: Value = serde_json::from_slice(&out.payload).expect("JSON");
    assert_eq!(reply["statusCode"], 200);

    let out = invoker.invoke("arn:aws:lambda:us-east-1:123456789012:function:echo:live", event_for("/fail")).await;
    assert_eq!(
        out.expect("invoke").function_error.as_deref(),
        Some("Unhandled"),
        "a function error is not a call error"
    );

    let err = invoker.invoke("no-such-function", event_for("/x")).await.expect_err("unknown function");
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
    let reply = serde_json::to_value(gateway.handle(event).await).expect("reply");
    assert_eq!(reply["statusCode"], 200, "{reply}");
    let echoed: Value = serde_json::from_str(reply["body"].as_str().expect("body")).expect("echoed event");
    assert_eq!(echoed["pathParameters"]["id"], "7");

    // The Invoke API answers 404 for a function it does not have: the client gets API Gateway's 502.
    let event: GatewayEvent = serde_json::from_slice(&event_for("/down")).expect("event");
    let reply = serde_json::to_value(gateway.handle(event).await).expect("reply");
    assert_eq!(reply["statusCode"], 502, "{reply}");

    // No Invoke API at all (a closed port): also 502, promptly.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let invoker = sdk_invoker(&format!("http://{closed}")).await;
    let gateway =
        Gateway::new(&definition, &Backends { lambda: Some(Arc::new(invoker)), http: None, ..Backends::default() })
            .expect("gateway");
    let event: GatewayEvent = serde_json::from_slice(&event_for("/pets/7")).expect("event");
    // A bound on a hang, not a measurement: the SDK gives up on a refused connection at once.
    let reply = tokio::time::timeout(std::time::Duration::from_secs(60), gateway.handle(event)).await.expect("answers");
    let reply = serde_json::to_value(reply).expect("reply");
    assert_eq!(reply["statusCode"], 502, "{reply}");
}
