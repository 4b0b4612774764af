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
    trace::{self, SpanKind},
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
        let invoked = invoke(self.invoker.as_ref(), &self.function, event, timeout, trace_header(&call), parse);
        let kind = || SpanKind::Lambda { function: self.function.clone() };
        trace::record(call.trace, &self.function, kind, |_| None, invoked).await.map_err(failure)
    }

    /// Invokes the function with `payload` as it is (a non-proxy integration's rendered template): `Ok` with its
    /// result, or `Err` with its error document when it failed (`X-Amz-Function-Error`).
    pub(super) async fn invoke_raw(
        &self,
        call: &IntegrationCall<'_>,
        payload: Vec<u8>,
    ) -> Result<Result<Vec<u8>, Vec<u8>>, GatewayError> {
        let timeout = call.timeout(self.timeout);
        let result = |reply: &[u8]| Ok(reply.to_vec());
        let invoked = invoke(self.invoker.as_ref(), &self.function, payload, timeout, trace_header(call), result);
        let kind = || SpanKind::Lambda { function: self.function.clone() };
        match trace::record(call.trace, &self.function, kind, |_| None, invoked).await {
            Ok(result) => Ok(Ok(result)),
            Err(InvokeFailure::Function { payload, .. }) => Ok(Err(payload)),
            Err(other) => Err(failure(other)),
        }
    }
}

/// The X-Ray header the invocation continues: this hop's, else the request's own.
fn trace_header<'a>(call: &IntegrationCall<'a>) -> Option<&'a str> {
    call.trace.and_then(|hop| hop.headers.xray_text()).or_else(|| call.request.header(trace::X_AMZN_TRACE_ID))
}

/// The answer for an invocation that gave no usable reply.
fn failure(failure: InvokeFailure) -> GatewayError {
    match failure {
        InvokeFailure::EventTooLarge(n) => GatewayError::RequestTooLarge(format!("Lambda event of {n} bytes")),
        InvokeFailure::Timeout(t) => GatewayError::IntegrationTimeout(t.as_millis() as u64),
        InvokeFailure::Invoke(InvokeError::Unreachable(d)) => GatewayError::IntegrationUnreachable(d),
        other => GatewayError::IntegrationFailure(other.to_string()),
    }
}
