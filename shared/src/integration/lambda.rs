//! Lambda proxy integration: send the event API Gateway would send, map the reply as API Gateway does.
//!
//! The call goes through an [`Invoker`]: the AWS SDK on Lambda (or any Invoke API endpoint given by
//! `AWS_ENDPOINT_URL_LAMBDA`), or `tollgate serve`'s local Runtime API running a function binary.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use aws_sdk_lambda::primitives::Blob;

use super::{lambda_event, lambda_reply};
use crate::{
    auth::Authorized,
    config::PayloadVersion,
    error::GatewayError,
    pipeline::{IntegrationContext, Matched},
    request::{GatewayRequest, GatewayResponse},
};

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

/// Something that runs a Lambda function synchronously.
pub trait Invoker: Send + Sync {
    fn invoke<'a>(&'a self, function: &'a str, payload: Vec<u8>) -> InvokeFuture<'a>;
}

/// Invokes through the AWS SDK. Honours `AWS_ENDPOINT_URL_LAMBDA` (e.g. `cargo lambda watch`).
pub struct SdkInvoker {
    client: aws_sdk_lambda::Client,
}

/// The AWS SDK configuration loader Tollgate uses: the environment's settings, with an HTTPS client on
/// rustls + ring (the SDK's default links aws-lc-rs, which would make the router binary 40% larger).
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let https = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https)
}

impl SdkInvoker {
    /// Builds the client from the environment. Credentials resolve lazily, at the first call.
    pub async fn from_env() -> Self {
        Self { client: aws_sdk_lambda::Client::new(&sdk_config_loader().load().await) }
    }

    pub fn from_client(client: aws_sdk_lambda::Client) -> Self {
        Self { client }
    }
}

impl Invoker for SdkInvoker {
    fn invoke<'a>(&'a self, function: &'a str, payload: Vec<u8>) -> InvokeFuture<'a> {
        Box::pin(async move {
            let out = self.client.invoke().function_name(function).payload(Blob::new(payload)).send().await;
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

pub struct LambdaIntegration {
    invoker: Arc<dyn Invoker>,
    function: String,
    payload: PayloadVersion,
    timeout: Duration,
}

impl LambdaIntegration {
    pub fn new(invoker: Arc<dyn Invoker>, function: String, payload: PayloadVersion, timeout: Duration) -> Self {
        Self { invoker, function, payload, timeout }
    }

    pub async fn call(
        &self,
        request: &GatewayRequest,
        matched: &Matched,
        route_key: &str,
        context: &IntegrationContext,
        authorized: Option<&Authorized>,
    ) -> Result<GatewayResponse, GatewayError> {
        let event = lambda_event::build(self.payload, request, matched, route_key, context, authorized)
            .map_err(|e| GatewayError::Internal(format!("cannot serialize the proxy event: {e}")))?;
        if event.len() > MAX_PAYLOAD_BYTES {
            return Err(GatewayError::RequestTooLarge(format!("Lambda event of {} bytes", event.len())));
        }
        let out = tokio::time::timeout(self.timeout, self.invoker.invoke(&self.function, event))
            .await
            .map_err(|_| GatewayError::IntegrationTimeout(self.timeout.as_millis() as u64))?
            .map_err(|e| match e {
                InvokeError::Unreachable(d) => GatewayError::IntegrationUnreachable(d),
                InvokeError::Refused(d) => GatewayError::IntegrationFailure(d),
            })?;
        if let Some(kind) = out.function_error {
            let detail = String::from_utf8_lossy(&out.payload);
            return Err(GatewayError::IntegrationFailure(format!("function error {kind}: {detail}")));
        }
        if out.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(GatewayError::IntegrationFailure(format!("reply of {} bytes", out.payload.len())));
        }
        lambda_reply::map(self.payload, &out.payload).map_err(GatewayError::IntegrationFailure)
    }
}
