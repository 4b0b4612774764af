//! Lambda proxy integration: send the event the API type would send, map the reply as it does.

use std::{sync::Arc, time::Duration};

use super::{
    IntegrationCall,
    lambda_reply::{self, ReplyRules},
};
use crate::{
    clients::{InvokeError, InvokeFailure, Invoker, invoke},
    config::PayloadVersion,
    error::GatewayError,
    event::proxy::{self, Recipient},
    request::GatewayResponse,
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

    pub async fn call(&self, call: IntegrationCall<'_>) -> Result<GatewayResponse, GatewayError> {
        let recipient = Recipient::Integration { authorized: call.authorized, api_key: call.api_key };
        let event = proxy::build(self.payload, call.request, call.matched, call.context, recipient)
            .map_err(|e| GatewayError::Internal(format!("cannot serialize the proxy event: {e}")))?;
        let rules = ReplyRules {
            version: self.payload,
            api: call.context.api_type,
            binary_media_types: &call.context.binary_media_types,
            accept: call.request.header("accept"),
        };
        let parse = |reply: &[u8]| lambda_reply::map(rules, reply);
        let timeout = call.timeout(self.timeout);
        let trace = call.request.header("x-amzn-trace-id");
        invoke(self.invoker.as_ref(), &self.function, event, timeout, trace, parse).await.map_err(|failure| {
            match failure {
                InvokeFailure::EventTooLarge(n) => GatewayError::RequestTooLarge(format!("Lambda event of {n} bytes")),
                InvokeFailure::Timeout(t) => GatewayError::IntegrationTimeout(t.as_millis() as u64),
                InvokeFailure::Invoke(InvokeError::Unreachable(d)) => GatewayError::IntegrationUnreachable(d),
                other => GatewayError::IntegrationFailure(other.to_string()),
            }
        })
    }
}
