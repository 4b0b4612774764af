//! Invoking Lambda functions. Every caller (the Lambda integration, Lambda authorizers, WebSocket routes) goes
//! through [`invoke`]: one timeout, one check of the function error and the payload sizes, one parse of the
//! reply.
//!
//! The call goes through an [`Invoker`]: the AWS SDK on Lambda (or any Invoke API endpoint given by
//! `AWS_ENDPOINT_URL_LAMBDA`), or `tollgate serve`'s local Runtime API running a function binary.

use std::{future::Future, pin::Pin, time::Duration};

use aws_sdk_lambda::primitives::Blob;

use crate::settings::Settings;

/// Lambda's synchronous invocation payload limit, request and response.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// What an invocation returned.
#[derive(Debug, Clone)]
pub struct InvokeOutput {
    pub payload: Vec<u8>,
    /// Set when the function failed (Lambda's `X-Amz-Function-Error`): the payload then describes the error.
    pub function_error: Option<String>,
}

/// Why an invocation did not return.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The Invoke API could not be reached.
    #[error("cannot reach the Lambda service: {0}")]
    Unreachable(String),
    /// The Invoke API refused the call (no such function, no permission, throttled, ...).
    #[error("invoke failed: {0}")]
    Refused(String),
}

pub type InvokeFuture<'a> = Pin<Box<dyn Future<Output = Result<InvokeOutput, InvokeError>> + Send + 'a>>;

/// Something that runs a Lambda function synchronously. `trace` is the X-Ray trace header the invocation
/// continues (`X-Amzn-Trace-Id`), when the request carried one.
pub trait Invoker: Send + Sync {
    fn invoke<'a>(&'a self, function: &'a str, payload: Vec<u8>, trace: Option<&'a str>) -> InvokeFuture<'a>;
}

/// Why [`invoke`] gave no usable reply. Each caller maps these to its own answer.
#[derive(Debug, thiserror::Error)]
pub enum InvokeFailure {
    #[error("the event is {0} bytes, over Lambda's 6 MB")]
    EventTooLarge(usize),
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    /// The function failed; `payload` is its error document (`{"errorMessage", "errorType"}`).
    #[error("function error {kind}: {}", String::from_utf8_lossy(payload))]
    Function { kind: String, payload: Vec<u8> },
    #[error("the reply is {0} bytes, over Lambda's 6 MB")]
    ReplyTooLarge(usize),
    /// The reply is not what the caller can read.
    #[error("malformed reply: {0}")]
    Reply(String),
}

impl InvokeFailure {
    /// The `errorMessage` of a function error, when it has one.
    pub fn error_message(&self) -> Option<String> {
        let Self::Function { payload, .. } = self else { return None };
        let document: serde_json::Value = serde_json::from_slice(payload).ok()?;
        document.get("errorMessage")?.as_str().map(str::to_owned)
    }
}

/// Invokes `function` with `event` (continuing `trace`), waits at most `timeout`, and reads the reply with
/// `parse`.
pub async fn invoke<T>(
    invoker: &dyn Invoker,
    function: &str,
    event: Vec<u8>,
    timeout: Duration,
    trace: Option<&str>,
    parse: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<T, InvokeFailure> {
    if event.len() > MAX_PAYLOAD_BYTES {
        return Err(InvokeFailure::EventTooLarge(event.len()));
    }
    let out = tokio::time::timeout(timeout, invoker.invoke(function, event, trace))
        .await
        .map_err(|_| InvokeFailure::Timeout(timeout))??;
    if let Some(kind) = out.function_error {
        return Err(InvokeFailure::Function { kind, payload: out.payload });
    }
    if out.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(InvokeFailure::ReplyTooLarge(out.payload.len()));
    }
    parse(&out.payload).map_err(InvokeFailure::Reply)
}

/// Invokes through the AWS SDK. Honours `AWS_ENDPOINT_URL_LAMBDA` (e.g. `cargo lambda watch`).
pub struct SdkInvoker {
    client: aws_sdk_lambda::Client,
}

impl SdkInvoker {
    /// Builds the client from the settings: Lambda's own endpoint, or `AWS_ENDPOINT_URL_LAMBDA`'s. Credentials
    /// resolve lazily, at the first call.
    pub async fn new(settings: &Settings) -> Self {
        // Never retried, as API Gateway never retries an integration: the SDK's default policy re-sends a call
        // whose connection broke after the Invoke API received it, and the function would run twice.
        let mut loader = super::aws::loader(settings, settings.lambda_endpoint.is_some())
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if let Some(url) = &settings.lambda_endpoint {
            loader = loader.endpoint_url(url);
        }
        Self { client: aws_sdk_lambda::Client::new(&loader.load().await) }
    }

    pub fn from_client(client: aws_sdk_lambda::Client) -> Self {
        Self { client }
    }
}

impl Invoker for SdkInvoker {
    fn invoke<'a>(&'a self, function: &'a str, payload: Vec<u8>, trace: Option<&'a str>) -> InvokeFuture<'a> {
        let trace = trace.and_then(|t| http::HeaderValue::try_from(t).ok());
        Box::pin(async move {
            let call = self.client.invoke().function_name(function).payload(Blob::new(payload)).customize();
            // The function's invocation continues the caller's trace, as API Gateway's does.
            let out = call
                .mutate_request(move |request| {
                    if let Some(trace) = &trace {
                        request.headers_mut().insert("x-amzn-trace-id", trace.clone());
                    }
                })
                .send()
                .await;
            match out {
                Ok(out) => Ok(InvokeOutput {
                    payload: out.payload.map(Blob::into_inner).unwrap_or_default(),
                    function_error: out.function_error,
                }),
                Err(err) => {
                    use aws_sdk_lambda::error::SdkError;
                    let detail = aws_sdk_lambda::error::DisplayErrorContext(&err).to_string();
                    Err(match err {
                        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => InvokeError::Unreachable(detail),
                        _ => InvokeError::Refused(detail),
                    })
                }
            }
        })
    }
}
