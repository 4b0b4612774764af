//! A real definition from `../shared/corpus/openapi` (read at run time, never copied here): aws-samples'
//! `apigw-mappingtemplate-lambda` pattern, a non-proxy Lambda integration whose response template overrides the
//! status. Its README documents the answer: the function returns `{"statuscode": 200, "body": "error1"}` and the
//! client gets status 400, `statuscode` 650 and body `changed`.

use std::{path::PathBuf, sync::Arc};

use serde_json::{Value, json};
use tollgate_core::{
    Gateway,
    backends::Backends,
    clients::{InvokeFuture, InvokeOutput, Invoker},
    config::Definition,
    request::GatewayRequest,
};

const FILE: &str = "04-serverless-patterns-mappingtemplate-lambda.yaml";

/// The pattern's function (`src/lambda_function4.py`): the same answer for every event.
struct PatternFunction;

impl Invoker for PatternFunction {
    fn invoke<'a>(&'a self, _function: &'a str, _payload: Vec<u8>, _trace: Option<&'a str>) -> InvokeFuture<'a> {
        Box::pin(async {
            Ok(InvokeOutput { payload: br#"{"statuscode": 200, "body": "error1"}"#.to_vec(), function_error: None })
        })
    }
}

/// The corpus file's integration, or `None` (with a message) when the corpus is not there.
fn integration() -> Option<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/openapi").join(FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: the corpus file {} is not there", path.display());
        return None;
    };
    let spec: Value = serde_yaml_ng::from_str(&text).expect("the corpus file is YAML");
    Some(spec["paths"]["/"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"].clone())
}

/// A gateway serving the corpus integration's templates as `ANY /`, and the pattern's function.
fn gateway(integration: &Value) -> Gateway {
    assert_eq!(integration["type"], "aws", "a non-proxy Lambda integration");
    let mut route = json!({
        "type": "lambda",
        "function": "pattern",
        "proxy": false,
        "passthroughBehavior": integration["passthroughBehavior"],
        "responses": integration["responses"],
    });
    if let Some(templates) = integration.get("requestTemplates") {
        route["requestTemplates"] = templates.clone();
    }
    let definition = json!({"type": "REST", "routes": {"ANY /": {"integration": route}}});
    let yaml = serde_yaml_ng::to_string(&definition).expect("YAML");
    let definition = Definition::from_yaml(&yaml, None).expect("the corpus's templates load");
    let backends = Backends { lambda: Some(Arc::new(PatternFunction)), ..Backends::default() };
    Gateway::new(&definition, &backends).expect("gateway")
}

fn post() -> GatewayRequest {
    let mut request = tollgate_tests::get("/", &[("content-type", "application/json")]);
    request.method = http::Method::POST;
    request
}

#[tokio::test]
async fn the_response_template_overrides_the_status_as_documented() {
    let Some(integration) = integration() else { return };
    let response = gateway(&integration).handle_request(post()).await;
    assert_eq!(response.status.as_u16(), 400, "{}", String::from_utf8_lossy(&response.body));
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert!(body.get("statuscode").is_some() && body.get("body").is_some(), "{body}");
}

/// The README's body: the template's `#set($inputRoot.statuscode = 650)` shows in `$input.json("$")`, so API
/// Gateway's `$input.path('$')` hands out the document `$input.json` prints (observed elsewhere too).
#[tokio::test]
async fn the_response_template_changes_the_body_as_documented() {
    let Some(integration) = integration() else { return };
    let response = gateway(&integration).handle_request(post()).await;
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert_eq!(body, json!({"statuscode": 650, "body": "changed"}));
}
