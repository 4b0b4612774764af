//! Lambda authorizers: the router invokes the function with the exact event API Gateway sends (TOKEN,
//! REQUEST 1.0, or 2.0 with `routeArn`), reads a simple response or an IAM policy, and caches the result by
//! identity for the configured TTL. What is cached for a policy is the policy itself, evaluated again against
//! each request's ARN, so a policy cached on one route is judged afresh on another.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use serde_json::{Map, Value};

use super::iam_policy::{Effect, IamPolicy};
use crate::{
    clients::{InvokeFailure, Invoker, invoke},
    clock::{MICROS_PER_SEC, Micros, SharedClock},
    config::{EventKind, IdentityScope, LambdaAuthorizerSpec, PayloadVersion},
    event::proxy::{self, Recipient},
    request::{ApiContext, Authorized, GatewayRequest, Matched},
    trace::X_AMZN_TRACE_ID,
};

const MAX_CACHED: usize = 10_000;

/// Why a Lambda authorizer refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LambdaAuthError {
    /// An identity source is missing (not invoked), or the function answered "Unauthorized": 401.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The policy denies the ARN: 403 with REST's words.
    #[error("denied ({})", if *explicit { "explicit" } else { "implicit" })]
    Denied { explicit: bool },
    /// A simple response said `isAuthorized: false`: 403 Forbidden.
    #[error("isAuthorized is false")]
    NotAuthorized,
    /// The function failed, timed out, or answered something unreadable: 500.
    #[error("authorizer failure: {0}")]
    Failure(String),
}

/// A function's answer, as cached.
#[derive(Debug, Clone)]
enum Answer {
    Simple {
        authorized: bool,
        context: Map<String, Value>,
    },
    Policy {
        policy: IamPolicy,
        principal_id: Option<String>,
        context: Map<String, Value>,
        usage_identifier_key: Option<String>,
    },
}

pub struct LambdaAuthorizer {
    spec: LambdaAuthorizerSpec,
    ttl_us: Micros,
    invoker: Arc<dyn Invoker>,
    clock: SharedClock,
    cache: Mutex<HashMap<String, (Arc<Answer>, Micros)>>,
}

/// The request facts an authorizer event is built from.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub request: &'a GatewayRequest,
    pub matched: &'a Matched,
    pub context: &'a ApiContext,
    pub arn: &'a str,
    /// The event when the front end already has it (WebSocket `$connect`).
    pub preset: Option<&'a PresetEvent>,
    /// The X-Ray header the invocation continues, when the pipeline made one for this hop.
    pub trace: Option<&'a str>,
}

/// An authorizer event a front end already has, as API Gateway sends it: a WebSocket `$connect` authorizer
/// gets the `$connect` event's headers, query and `requestContext` with `type: REQUEST` and `methodArn`
/// `{api}/{stage}/$connect`.
#[derive(Debug, Clone)]
pub struct PresetEvent {
    /// The whole event, serialized.
    pub event: Vec<u8>,
    pub arn: String,
}

impl LambdaAuthorizer {
    pub fn new(spec: LambdaAuthorizerSpec, invoker: Arc<dyn Invoker>, clock: SharedClock) -> Self {
        let ttl_us = i64::try_from(spec.ttl_seconds).unwrap_or(3_600) * MICROS_PER_SEC;
        Self { spec, ttl_us, invoker, clock, cache: Mutex::default() }
    }

    pub async fn authorize(&self, call: Call<'_>) -> Result<Authorized, LambdaAuthError> {
        let scope = IdentityScope {
            route_key: &call.matched.key,
            stage: &call.context.stage,
            stage_variables: &call.context.stage_variables,
        };
        let values: Vec<String> = self
            .spec
            .identity
            .iter()
            .map(|s| s.resolve(call.request, scope))
            .collect::<Option<_>>()
            .ok_or(LambdaAuthError::Unauthorized("an identity source is missing"))?;
        if let (Some(pattern), Some(token)) = (&self.spec.validation, values.first())
            && !pattern.is_match(token)
        {
            return Err(LambdaAuthError::Unauthorized("the token does not match identityValidationExpression"));
        }
        let now = self.clock.now_us();
        let cache_key = values.join("\u{0}");
        let cached = (self.ttl_us > 0)
            .then(|| self.cache.lock().ok().and_then(|m| m.get(&cache_key).cloned()))
            .flatten()
            .filter(|(_, at)| now - at < self.ttl_us)
            .map(|(answer, _)| answer);
        let (answer, latency_ms) = match cached {
            Some(answer) => (answer, 0),
            None => {
                let started = tokio::time::Instant::now();
                let answer = Arc::new(self.invoke(call, &values).await?);
                let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                if self.ttl_us > 0
                    && let Ok(mut map) = self.cache.lock()
                {
                    if map.len() >= MAX_CACHED {
                        map.retain(|_, (_, at)| now - *at < self.ttl_us);
                        if map.len() >= MAX_CACHED {
                            map.clear();
                        }
                    }
                    map.insert(cache_key, (Arc::clone(&answer), now));
                }
                (answer, latency_ms)
            }
        };
        match answer.as_ref() {
            Answer::Simple { authorized: true, context } => Ok(Authorized::Lambda {
                principal_id: None,
                context: context.clone(),
                usage_identifier_key: None,
                latency_ms,
            }),
            Answer::Simple { authorized: false, .. } => Err(LambdaAuthError::NotAuthorized),
            Answer::Policy { policy, principal_id, context, usage_identifier_key } => match policy.evaluate(call.arn) {
                Effect::Allow => Ok(Authorized::Lambda {
                    principal_id: principal_id.clone(),
                    context: context.clone(),
                    usage_identifier_key: usage_identifier_key.clone(),
                    latency_ms,
                }),
                Effect::ExplicitDeny => Err(LambdaAuthError::Denied { explicit: true }),
                Effect::ImplicitDeny => Err(LambdaAuthError::Denied { explicit: false }),
            },
        }
    }

    async fn invoke(&self, call: Call<'_>, values: &[String]) -> Result<Answer, LambdaAuthError> {
        let event = self.event(call, values)?;
        let kind = self.spec.kind;
        let parse = |payload: &[u8]| {
            let reply: Value = serde_json::from_slice(payload).map_err(|e| format!("the reply is not JSON: {e}"))?;
            parse_answer(kind, &reply)
        };
        // The authorizer gets what is left of the invocation, at most its own timeout.
        let timeout =
            call.request.time_left(|| self.clock.now_ms()).map_or(self.spec.timeout, |t| t.min(self.spec.timeout));
        let trace = call.trace.or_else(|| call.request.header(X_AMZN_TRACE_ID));
        invoke(self.invoker.as_ref(), &self.spec.function, event, timeout, trace, parse).await.map_err(|failure| {
            // API Gateway's convention: a function that fails with exactly "Unauthorized" means 401.
            if failure.error_message().as_deref() == Some("Unauthorized") {
                return LambdaAuthError::Unauthorized("the authorizer said Unauthorized");
            }
            match failure {
                InvokeFailure::Reply(why) => LambdaAuthError::Failure(why),
                other => LambdaAuthError::Failure(other.to_string()),
            }
        })
    }

    /// The event the function gets: `TOKEN` with the one identity value, the front end's own event, or the
    /// request's `REQUEST` event in the authorizer's payload version.
    fn event(&self, call: Call<'_>, values: &[String]) -> Result<Vec<u8>, LambdaAuthError> {
        let fail = |e: serde_json::Error| LambdaAuthError::Failure(format!("cannot build the event: {e}"));
        match (self.spec.kind, call.preset) {
            (EventKind::Token, _) => {
                let event = serde_json::json!({
                    "type": "TOKEN",
                    "authorizationToken": values.first().cloned().unwrap_or_default(),
                    "methodArn": call.arn,
                });
                serde_json::to_vec(&event).map_err(fail)
            }
            (_, Some(preset)) => Ok(preset.event.clone()),
            (kind, None) => {
                let version = if kind == EventKind::RequestV1 { PayloadVersion::V1 } else { PayloadVersion::V2 };
                let recipient = Recipient::Authorizer { arn: call.arn, values };
                proxy::build(version, call.request, call.matched, call.context, recipient).map_err(fail)
            }
        }
    }
}

/// Reads a simple response (`{"isAuthorized", "context"}`) or an IAM policy answer
/// (`{"principalId", "policyDocument", "context", "usageIdentifierKey"}`).
fn parse_answer(kind: EventKind, reply: &Value) -> Result<Answer, String> {
    let context = match reply.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err("context must be an object".to_owned()),
    };
    if kind == (EventKind::V2 { simple: true }) {
        let authorized =
            reply.get("isAuthorized").and_then(Value::as_bool).ok_or("a simple response needs isAuthorized")?;
        return Ok(Answer::Simple { authorized, context });
    }
    if kind != (EventKind::V2 { simple: false }) && context.values().any(|v| v.is_object() || v.is_array()) {
        return Err("context values must be strings, numbers or booleans".to_owned());
    }
    let policy = IamPolicy::parse(reply.get("policyDocument").ok_or("the answer has no policyDocument")?)?;
    // A policy without a principal is judged on its statements all the same.
    let principal_id = match reply.get("principalId") {
        Some(Value::String(p)) => Some(p.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err("principalId must be a string".to_owned()),
    };
    let usage_identifier_key = reply.get("usageIdentifierKey").and_then(Value::as_str).map(str::to_owned);
    Ok(Answer::Policy { policy, principal_id, context, usage_identifier_key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::fixture;

    #[test]
    fn reads_recorded_authorizer_answers() {
        let answer = parse_answer(EventKind::Token, &fixture("authorizer-response-iam-policy.json")).expect("policy");
        let Answer::Policy { policy, principal_id, usage_identifier_key, context } = answer else { panic!("a policy") };
        assert_eq!(principal_id.as_deref(), Some("yyyyyyyy"));
        assert_eq!(usage_identifier_key.as_deref(), Some("{api-key}"));
        assert_eq!(context["numberKey"], "1");
        // The fixture's Resource is a documentation placeholder: it matches no real ARN.
        assert_eq!(
            policy.evaluate("arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/test/GET/"),
            Effect::ImplicitDeny
        );
        assert!(parse_answer(EventKind::Token, &fixture("authorizer-response-single-values.json")).is_ok());
        assert!(parse_answer(EventKind::V2 { simple: true }, &serde_json::json!({"context": {}})).is_err());
        assert!(
            parse_answer(EventKind::Token, &serde_json::json!({"principalId": "u", "policyDocument": {}})).is_err()
        );
        assert!(
            parse_answer(
                EventKind::RequestV1,
                &serde_json::json!({"principalId": 1, "policyDocument": {"Statement": []}})
            )
            .is_err()
        );
        let nested =
            serde_json::json!({"principalId": "u", "policyDocument": {"Statement": []}, "context": {"a": {"b": 1}}});
        assert!(parse_answer(EventKind::RequestV1, &nested).is_err(), "REST context values are scalars");
        // No principalId is no error: the policy is judged on its statements.
        let allow = serde_json::json!({"policyDocument": {"Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:*"}
        ]}});
        let Ok(Answer::Policy { policy, principal_id: None, .. }) = parse_answer(EventKind::RequestV1, &allow) else {
            panic!("a policy without principalId")
        };
        assert_eq!(policy.evaluate("arn:aws:execute-api:us-east-1:1:a/s/GET/x"), Effect::Allow);
    }
}
