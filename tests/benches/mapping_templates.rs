//! A REST non-proxy route rendering a typical request template (parameters, `$context`, the body as JSON),
//! against the same route as a Lambda proxy integration, in the same run, through the whole pipeline with an
//! in-process function that answers at once; and the template's render alone.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_core::{
    Gateway,
    backends::Backends,
    clients::{InvokeFuture, InvokeOutput, Invoker},
    config::Definition,
    event::proxy::{Recipient, template_params},
    request::{ApiContext, ApiType, GatewayRequest, Matched},
    velocity::{RenderInput, Template},
};

/// What an order service's non-proxy route typically sends its function.
const TEMPLATE: &str = r#"#set($body = $input.path('$'))
{
  "orderId": "$input.params('id')",
  "expand": "$util.escapeJavaScript($input.params('expand'))",
  "customer": "$util.escapeJavaScript($body.customer)",
  "items": $input.json('$.items'),
  "requestId": "$context.requestId",
  "sourceIp": "$context.identity.sourceIp",
  "stage": "$context.stage"
}"#;

const BODY: &str = r#"{"customer": "Ada", "items": [{"sku": "a-1", "qty": 2}, {"sku": "b-7", "qty": 1}]}"#;

/// Answers every invocation at once: a structured reply, which also passes through a non-proxy route as JSON.
struct Instant;

impl Invoker for Instant {
    fn invoke<'a>(&'a self, _function: &'a str, _payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async {
            Ok(InvokeOutput { payload: br#"{"statusCode":200,"body":"{\"ok\":true}"}"#.to_vec(), function_error: None })
        })
    }
}

fn gateway(non_proxy: bool) -> Gateway {
    let mapping = if non_proxy {
        let indented: String = TEMPLATE.lines().map(|l| format!("          {l}\n")).collect();
        format!("      proxy: false\n      requestTemplates:\n        application/json: |\n{indented}")
    } else {
        String::new()
    };
    let route = "  POST /orders/{id}:\n    integration:\n      type: lambda\n      function: orders\n";
    let yaml = format!("type: REST\nroutes:\n{route}{mapping}");
    let definition = Definition::from_yaml(&yaml, None).expect("definition");
    Gateway::new(&definition, &Backends { lambda: Some(Arc::new(Instant)), ..Backends::default() }).expect("gateway")
}

fn request() -> GatewayRequest {
    let mut request = tollgate_tests::get("/orders/42", &[("content-type", "application/json")]);
    request.method = http::Method::POST;
    request.raw_query = "expand=items".to_owned();
    request.body = Bytes::from_static(BODY.as_bytes());
    request
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let (proxy, mapped) = (gateway(false), gateway(true));
    for gw in [&proxy, &mapped] {
        let response = rt.block_on(gw.handle_request(request()));
        assert_eq!(response.status, http::StatusCode::OK, "{}", String::from_utf8_lossy(&response.body));
    }
    let template = Template::parse(TEMPLATE).expect("template");
    let params = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let (path, query): (Vec<_>, Vec<_>) = (params(&[("id", "42")]), params(&[("expand", "items")]));
    let context = serde_json::json!({"requestId": "r-1", "stage": "prod", "identity": {"sourceIp": "192.0.2.1"}});
    let input =
        RenderInput { body: BODY, path: &path, querystring: &query, context: Some(&context), ..Default::default() };

    let mut group = c.benchmark_group("mapping-templates");
    group.bench_function("baseline-lambda-proxy", |b| b.to_async(&rt).iter(|| proxy.handle_request(request())));
    group.bench_function("lambda-non-proxy-template", |b| b.to_async(&rt).iter(|| mapped.handle_request(request())));
    group.bench_function("render-only", |b| b.iter(|| template.render(&input).expect("renders")));
    // What the route builds per request besides rendering: `$input.params()` and `$context`.
    let (request, context) =
        (request(), ApiContext { api_type: ApiType::Rest, stage: "prod".into(), ..Default::default() });
    let matched =
        Matched { route: 0, key: "POST /orders/{id}".into(), params: path.clone(), raw_params: vec!["42".into()] };
    let recipient = Recipient::Integration { authorized: None, api_key: None };
    group.bench_function("params-and-context-only", |b| {
        b.iter(|| template_params(&request, &matched, &context, recipient).expect("params"))
    });
    group.finish();
}

criterion_group!(mapping_templates, benches);
criterion_main!(mapping_templates);
