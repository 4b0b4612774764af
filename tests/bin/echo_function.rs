//! A Lambda function for the tests, run as a real process under `tollgate serve`'s Runtime API. The last path
//! segment picks a behaviour; anything else echoes the event it received. Given a REQUEST authorizer event, it
//! answers as an authorizer; given a non-proxy integration's event, as `mapped` says.

use base64::{Engine, engine::general_purpose::STANDARD};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let trace = event.context.xray_trace_id.clone();
    let event = event.payload;
    let path = event["rawPath"].as_str().or_else(|| event["path"].as_str()).unwrap_or("/").to_owned();
    if event["type"] == "REQUEST" {
        return authorize(&event, path.rsplit('/').next().unwrap_or(""));
    }
    if is_mapped(&event) {
        return mapped(event);
    }
    Ok(match path.rsplit('/').next().unwrap_or("") {
        "fail" => return Err("the function failed on purpose".into()),
        "malformed" => json!({ "statusCode": "teapot" }),
        "infer" => json!({ "message": "inferred" }),
        "sleep" => {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            json!({ "statusCode": 200, "body": "late" })
        }
        "exit" => std::process::exit(3),
        // The X-Ray trace this invocation continues (Lambda's `Lambda-Runtime-Trace-Id`).
        "trace" => json!({ "statusCode": 200, "body": trace.unwrap_or_default() }),
        "cookies" => json!({ "statusCode": 201, "cookies": ["a=1; Path=/", "b=2"], "body": "with cookies" }),
        "binary" => json!({
            "statusCode": 200,
            "headers": { "content-type": "image/png" },
            "body": STANDARD.encode([0u8, 159, 146, 150, 255]),
            "isBase64Encoded": true,
        }),
        _ => json!({ "statusCode": 200, "headers": { "content-type": "application/json" }, "body": event.to_string() }),
    })
}

/// Whether the event is what a non-proxy integration's template made, not a proxy event.
fn is_mapped(event: &Value) -> bool {
    ["httpMethod", "routeKey", "requestContext", "type"].iter().all(|key| event.get(key).is_none())
}

/// A non-proxy integration's event: `{"fail": "message"}` fails with that `errorMessage`, `{"reply": value}`
/// returns the value, anything else is returned as it came (so the integration response shows what the function
/// received).
fn mapped(event: Value) -> Result<Value, Error> {
    if let Some(message) = event.get("fail").and_then(Value::as_str) {
        return Err(message.to_owned().into());
    }
    Ok(event.get("reply").cloned().unwrap_or(event))
}

/// As a REQUEST authorizer (1.0 or 2.0): the last path segment decides. `deny` is an explicit Deny, `broken`
/// fails, anything else is allowed, with a context.
fn authorize(event: &Value, last: &str) -> Result<Value, Error> {
    let arn = event["methodArn"].as_str().or_else(|| event["routeArn"].as_str()).unwrap_or("*");
    let effect = match last {
        "broken" => return Err("the authorizer failed on purpose".into()),
        "deny" => "Deny",
        _ => "Allow",
    };
    Ok(json!({
        "principalId": "echo-user",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{ "Action": "execute-api:Invoke", "Effect": effect, "Resource": arn }],
        },
        "context": { "tier": "gold", "n": 3 },
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
