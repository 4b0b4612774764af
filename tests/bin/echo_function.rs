//! A Lambda function for the tests, run as a real process under `tollgate serve`'s Runtime API. The last path
//! segment picks a behaviour; anything else echoes the event it received.

use base64::{Engine, engine::general_purpose::STANDARD};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let event = event.payload;
    let path = event["rawPath"].as_str().or_else(|| event["path"].as_str()).unwrap_or("/").to_owned();
    Ok(match path.rsplit('/').next().unwrap_or("") {
        "fail" => return Err("the function failed on purpose".into()),
        "malformed" => json!({ "statusCode": "teapot" }),
        "infer" => json!({ "message": "inferred" }),
        "sleep" => {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            json!({ "statusCode": 200, "body": "late" })
        }
        "exit" => std::process::exit(3),
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

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
