//! A WebSocket route function for the tests, run as a real process under `tollgate serve`'s Runtime API.
//! `$connect` refuses when the query string has `deny`, fails with `fail`, answers with the forwarding headers
//! it got with `show` (a 418 whose body the client reads), and picks the `chat` subprotocol when offered. A
//! message is posted back to its sender through the `@connections` API with the AWS SDK, as a handler on
//! Lambda does; the function's own answer is the route response.

use aws_sdk_apigatewaymanagement::{Client, primitives::Blob};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let event = event.payload;
    let ctx = &event["requestContext"];
    Ok(match ctx["eventType"].as_str() {
        Some("CONNECT") if event["queryStringParameters"]["deny"].is_string() => {
            json!({ "statusCode": 403, "body": "denied by the $connect function" })
        }
        Some("CONNECT") if event["queryStringParameters"]["fail"].is_string() => {
            return Err("the $connect function failed on purpose".into());
        }
        Some("CONNECT") if event["queryStringParameters"]["show"].is_string() => {
            let headers = &event["headers"];
            let shown: serde_json::Map<String, Value> =
                ["X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Amzn-Trace-Id"]
                    .into_iter()
                    .map(|name| (name.to_owned(), headers[name].clone()))
                    .collect();
            json!({ "statusCode": 418, "body": Value::Object(shown).to_string() })
        }
        Some("CONNECT") => {
            let offered = event["headers"]["Sec-WebSocket-Protocol"].as_str().unwrap_or("");
            if offered.split(',').any(|p| p.trim() == "chat") {
                json!({ "statusCode": 200, "headers": { "Sec-WebSocket-Protocol": "chat" } })
            } else {
                json!({ "statusCode": 200 })
            }
        }
        Some("MESSAGE") => {
            // Locally the endpoint is plain HTTP; on AWS it is https://{domainName}/{stage}.
            let endpoint = format!("http://{}/{}", str_of(ctx, "domainName"), str_of(ctx, "stage"));
            let settings = tollgate_core::settings::Settings::default();
            let config = tollgate_core::clients::aws::loader(&settings, true).endpoint_url(endpoint).load().await;
            let echo = json!({
                "echo": event["body"],
                "routeKey": ctx["routeKey"],
                "authorizer": ctx["authorizer"],
                "apiKeyId": ctx["identity"]["apiKeyId"],
                "userAgent": ctx["identity"]["userAgent"],
            });
            Client::new(&config)
                .post_to_connection()
                .connection_id(str_of(ctx, "connectionId"))
                .data(Blob::new(echo.to_string()))
                .send()
                .await?;
            json!({ "statusCode": 200, "body": "route response" })
        }
        _ => json!({ "statusCode": 200 }),
    })
}

fn str_of<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or("")
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
