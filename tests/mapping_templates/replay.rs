//! Recorded REST events replayed into the router's handler (`Gateway::handle`, what the router Lambda runs),
//! with an in-process function behind a non-proxy Lambda integration: what the request template made of each
//! event, the passthrough behaviour's 415, the 400 for a body that is not JSON, and the selection of a response
//! by the function's `errorMessage`.

use std::sync::Arc;

use serde_json::{Value, json};
use tollgate_core::{
    Gateway,
    backends::Backends,
    clients::{InvokeFuture, InvokeOutput, Invoker},
    config::Definition,
    event::GatewayEvent,
};
use tollgate_tests::event_text;

/// Returns the event it gets; fails with the event's `fail` as its `errorMessage` when it has one.
struct OrdersFunction;

impl Invoker for OrdersFunction {
    fn invoke<'a>(&'a self, _function: &'a str, payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async move {
            let event: Value = serde_json::from_slice(&payload).unwrap_or(Value::Null);
            Ok(match event.get("fail").and_then(Value::as_str) {
                Some(message) => InvokeOutput {
                    payload: json!({"errorMessage": message, "errorType": "OrderError"}).to_string().into_bytes(),
                    function_error: Some("Unhandled".to_owned()),
                },
                None => InvokeOutput { payload, function_error: None },
            })
        })
    }
}

const TEMPLATE: &str = r#"#set($body = $input.path('$'))
{"orderId": "$input.params('id')", "q": "$input.params('q')", "count": $body.items.size(),
 "agent": "$input.params('User-Agent')", "requestId": "$context.requestId", "stage": "$context.stage",
 "sourceIp": "$context.identity.sourceIp", "path": "$context.path", "region": "$stageVariables.region"FAIL}"#;

/// A REST definition whose `POST /orders/{id}` runs [`TEMPLATE`]; `fail` is put where `FAIL` is.
fn definition(fail: &str) -> String {
    let template = TEMPLATE.replace("FAIL", fail);
    let indented = template.lines().map(|l| format!("          {l}\n")).collect::<String>();
    format!(
        r#"
type: REST
stages:
  prod: {{ variables: {{ region: eu }} }}
routes:
  POST /orders/{{id}}:
    integration:
      type: lambda
      function: orders
      proxy: false
      passthroughBehavior: WHEN_NO_TEMPLATES
      requestTemplates:
        application/json: |
{indented}      responses:
        default:
          statusCode: 200
          responseTemplates: {{ application/json: '{{"received": $input.json(''$'')}}' }}
        ".*not found.*":
          statusCode: 404
          responseParameters: {{ method.response.header.X-Error-Type: integration.response.body.errorType }}
          responseTemplates: {{ application/json: '{{"message": "$input.path(''$.errorMessage'')"}}' }}
"#
    )
}

/// What the handler answered, as lambda_runtime would serialize it for API Gateway.
struct Replayed(Value);

impl Replayed {
    fn status(&self) -> i64 {
        self.0["statusCode"].as_i64().unwrap_or(-1)
    }

    fn body(&self) -> Value {
        let text = self.0["body"].as_str().unwrap_or("");
        serde_json::from_str(text).unwrap_or_else(|e| panic!("a JSON body ({e}): {text}"))
    }

    fn header(&self, name: &str) -> Option<String> {
        let (_, values) =
            self.0["multiValueHeaders"].as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?;
        values[0].as_str().map(str::to_owned)
    }
}

async fn replay(definition: &str, file: &str) -> Replayed {
    let definition = Definition::from_yaml(definition, None).expect("definition");
    let backends = Backends { lambda: Some(Arc::new(OrdersFunction)), ..Backends::default() };
    let gateway = Gateway::new(&definition, &backends).expect("gateway");
    let event: GatewayEvent = serde_json::from_str(&event_text(file)).expect("a recorded event parses");
    Replayed(serde_json::to_value(gateway.handle(event, None).await).expect("response serializes"))
}

#[tokio::test]
async fn a_json_event_is_rendered_into_the_functions_event() {
    let r = replay(&definition(""), "rest-api-post-order-json.json").await;
    assert_eq!(r.status(), 200, "{}", r.0);
    let received = &r.body()["received"];
    assert_eq!(
        *received,
        json!({"orderId": "42", "q": "fast", "count": 2, "agent": "curl/8.5.0",
            "requestId": "7a2c4e6f-1b3d-4f5a-8c9e-0d2f4b6a8c1e", "stage": "prod", "sourceIp": "198.51.100.23",
            "path": "/prod/orders/42", "region": "eu"})
    );
    assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(r.header("x-amzn-RequestId").as_deref(), Some("7a2c4e6f-1b3d-4f5a-8c9e-0d2f4b6a8c1e"));
}

#[tokio::test]
async fn an_unmapped_content_type_is_refused_under_when_no_templates() {
    let r = replay(&definition(""), "rest-api-post-order-xml.json").await;
    assert_eq!((r.status(), r.body()), (415, json!({"message": "Unsupported Media Type"})));
    assert_eq!(r.header("x-amzn-ErrorType").as_deref(), Some("UnsupportedMediaTypeException"));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_without_calling_the_function() {
    let r = replay(&definition(""), "rest-api-post-order-not-json.json").await;
    assert_eq!(r.status(), 400, "{}", r.0);
    let message = r.body()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.starts_with("Could not parse request body into json: "), "{message}");
    assert_eq!(r.header("x-amzn-ErrorType").as_deref(), Some("BadRequestException"));
}

#[tokio::test]
async fn a_function_error_selects_its_response() {
    let fail = r#", "fail": "order $input.params('id') not found""#;
    let r = replay(&definition(fail), "rest-api-post-order-json.json").await;
    assert_eq!((r.status(), r.body()), (404, json!({"message": "order 42 not found"})));
    assert_eq!(r.header("x-error-type").as_deref(), Some("OrderError"));
}
