//! Lambda proxy integration: send the event API Gateway would send, map the reply as API Gateway does.

use std::{sync::Arc, time::Duration};

use super::lambda_reply;
use crate::{
    clients::{InvokeError, InvokeFailure, Invoker, invoke},
    config::PayloadVersion,
    error::GatewayError,
    event::proxy::{self, Recipient},
    request::{ApiContext, Authorized, GatewayRequest, GatewayResponse, Matched},
};

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
        context: &ApiContext,
        authorized: Option<&Authorized>,
    ) -> Result<GatewayResponse, GatewayError> {
        let event = proxy::build(self.payload, request, matched, context, Recipient::Integration { authorized })
            .map_err(|e| GatewayError::Internal(format!("cannot serialize the proxy event: {e}")))?;
        let version = self.payload;
        let parse = |reply: &[u8]| lambda_reply::map(version, reply);
        invoke(self.invoker.as_ref(), &self.function, event, self.timeout, parse).await.map_err(|failure| match failure
        {
            InvokeFailure::EventTooLarge(n) => GatewayError::RequestTooLarge(format!("Lambda event of {n} bytes")),
            InvokeFailure::Timeout(t) => GatewayError::IntegrationTimeout(t.as_millis() as u64),
            InvokeFailure::Invoke(InvokeError::Unreachable(d)) => GatewayError::IntegrationUnreachable(d),
            other => GatewayError::IntegrationFailure(other.to_string()),
        })
    }
}
