//! A small Lambda function written the usual way (lambda_http), for the examples to route to.
//! It echoes what API Gateway told it, so a caller can see the event Tollgate built.

use lambda_http::{Body, Error, Request, RequestExt, Response, run, service_fn};

async fn hello(request: Request) -> Result<Response<Body>, Error> {
    let name = request.path_parameters_ref().and_then(|p| p.first("name")).unwrap_or("world").to_owned();
    let body = serde_json::json!({
        "message": format!("hello, {name}"),
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "query": request.uri().query(),
    });
    Ok(Response::builder().status(200).header("content-type", "application/json").body(body.to_string().into())?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
