//! Lambda authorizers: the router invokes the function with the exact event API Gateway sends (TOKEN,
//! REQUEST 1.0, or 2.0 with `routeArn`), reads a simple response or an IAM policy, and caches the result by
//! identity for the configured TTL. What is cached for a policy is the policy itself, evaluated again against
//! each request's ARN, so a policy cached on one route is judged afresh on another.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Map, Value};

use super::{
    Authorized,
    iam_policy::{Effect, Policy},
    identity::{IdentityScope, IdentitySource},
};
use crate::{
    clock::{MICROS_PER_SEC, Micros, SharedClock},
    config::PayloadVersion,
    integration::{Invoker, lambda_event},
    pipeline::{IntegrationContext, Matched},
    request::GatewayRequest,
};

const MAX_CACHED: usize = 10_000;

/// Which event the function gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Token,
    RequestV1,
    V2 { simple: bool },
}

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
        policy: Policy,
        principal_id: Option<String>,
        context: Map<String, Value>,
        usage_identifier_key: Option<String>,
    },
}

pub struct LambdaAuthorizer {
    function: String,
    kind: EventKind,
    identity: Vec<IdentitySource>,
    ttl_us: Micros,
    timeout: Duration,
    invoker: Arc<dyn Invoker>,
    clock: SharedClock,
    cache: Mutex<HashMap<String, (Arc<Answer>, Micros)>>,
}

/// The request facts an authorizer event is built from.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub request: &'a GatewayRequest,
    pub matched: &'a Matched,
    pub route_key: &'a str,
    pub context: &'a IntegrationContext,
    pub arn: &'a str,
    /// The event's fields when the front end already has them (WebSocket `$connect`).
    pub preset: Option<&'a PresetEvent>,
}

/// An authorizer event a front end already has, as API Gateway sends it: a WebSocket `$connect` authorizer
/// gets the `$connect` event's headers, query and `requestContext`, and `methodArn` `{api}/{stage}/$connect`.
#[derive(Debug, Clone)]
pub struct PresetEvent {
    /// Every field but `type` and `methodArn`.
    pub fields: Map<String, Value>,
    pub arn: String,
}

impl LambdaAuthorizer {
    pub fn new(
        function: String,
        kind: EventKind,
        identity: Vec<IdentitySource>,
        ttl_seconds: u64,
        timeout: Duration,
        invoker: Arc<dyn Invoker>,
        clock: SharedClock,
    ) -> Self {
        let ttl_us = i64::try_from(ttl_seconds).unwrap_or(3_600) * MICROS_PER_SEC;
        Self { function, kind, identity, ttl_us, timeout, invoker, clock, cache: Mutex::default() }
    }

    pub async fn authorize(&self, call: Call<'_>) -> Result<Authorized, LambdaAuthError> {
        let scope = IdentityScope {
            route_key: call.route_key,
            stage: &call.context.stage,
            stage_variables: &call.context.stage_variables,
        };
        let values: Vec<String> = self
            .identity
            .iter()
            .map(|s| s.resolve(call.request, scope))
            .collect::<Option<_>>()
            .ok_or(LambdaAuthError::Unauthorized("an identity source is missing"))?;
        let now = self.clock.now_us();
        let cache_key = values.join("\u{0}");
        let cached = (self.ttl_us > 0)
            .then(|| self.cache.lock().ok().and_then(|m| m.get(&cache_key).cloned()))
            .flatten()
            .filter(|(_, at)| now - at < self.ttl_us)
            .map(|(answer, _)| answer);
        let answer = match cached {
            Some(answer) => answer,
            None => {
                let answer = Arc::new(self.invoke(call, &values).await?);
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
                answer
            }
        };
        match answer.as_ref() {
            Answer::Simple { authorized: true, context } => {
                Ok(Authorized::Lambda { principal_id: None, context: context.clone(), usage_identifier_key: None })
            }
            Answer::Simple { authorized: false, .. } => Err(LambdaAuthError::NotAuthorized),
            Answer::Policy { policy, principal_id, context, usage_identifier_key } => match policy.evaluate(call.arn) {
                Effect::Allow => Ok(Authorized::Lambda {
                    principal_id: principal_id.clone(),
                    context: context.clone(),
                    usage_identifier_key: usage_identifier_key.clone(),
                }),
                Effect::ExplicitDeny => Err(LambdaAuthError::Denied { explicit: true }),
                Effect::ImplicitDeny => Err(LambdaAuthError::Denied { explicit: false }),
            },
        }
    }

    async fn invoke(&self, call: Call<'_>, values: &[String]) -> Result<Answer, LambdaAuthError> {
        let event = self.event(call, values)?;
        let out = tokio::time::timeout(self.timeout, self.invoker.invoke(&self.function, event))
            .await
            .map_err(|_| LambdaAuthError::Failure(format!("no answer within {} ms", self.timeout.as_millis())))?
            .map_err(|e| LambdaAuthError::Failure(e.to_string()))?;
        let reply: Value = serde_json::from_slice(&out.payload)
            .map_err(|e| LambdaAuthError::Failure(format!("the reply is not JSON: {e}")))?;
        if out.function_error.is_some() {
            // API Gateway's convention: a function that fails with exactly "Unauthorized" means 401.
            if reply.get("errorMessage").and_then(Value::as_str) == Some("Unauthorized") {
                return Err(LambdaAuthError::Unauthorized("the authorizer said Unauthorized"));
            }
            return Err(LambdaAuthError::Failure(format!("function error: {reply}")));
        }
        parse_answer(self.kind, &reply).map_err(LambdaAuthError::Failure)
    }

    fn event(&self, call: Call<'_>, values: &[String]) -> Result<Vec<u8>, LambdaAuthError> {
        let fail = |e: serde_json::Error| LambdaAuthError::Failure(format!("cannot build the event: {e}"));
        if self.kind == EventKind::Token {
            let event = serde_json::json!({
                "type": "TOKEN",
                "authorizationToken": values.first().cloned().unwrap_or_default(),
                "methodArn": call.arn,
            });
            return serde_json::to_vec(&event).map_err(fail);
        }
        if let Some(preset) = call.preset {
            let mut event = preset.fields.clone();
            event.insert("type".into(), "REQUEST".into());
            event.insert("methodArn".into(), call.arn.into());
            let stage_variables = call.context.stage_variables.iter().map(|(k, v)| (k.clone(), v.clone().into()));
            event.entry("stageVariables").or_insert_with(|| Value::Object(stage_variables.collect()));
            return serde_json::to_vec(&event).map_err(fail);
        }
        let version = if self.kind == EventKind::RequestV1 { PayloadVersion::V1 } else { PayloadVersion::V2 };
        // The proxy event the integration would get, less the body, plus what authorizers are told.
        let proxy = lambda_event::build(version, call.request, call.matched, call.route_key, call.context, None)
            .map_err(fail)?;
        let mut event: Map<String, Value> = serde_json::from_slice(&proxy).map_err(fail)?;
        event.remove("body");
        event.remove("isBase64Encoded");
        event.insert("type".into(), "REQUEST".into());
        if version == PayloadVersion::V1 {
            event.insert("methodArn".into(), call.arn.into());
            event.insert("identitySource".into(), values.join(",").into());
            event.insert("authorizationToken".into(), values.join(",").into());
        } else {
            event.insert("routeArn".into(), call.arn.into());
            event.insert("identitySource".into(), values.iter().cloned().map(Value::String).collect());
        }
        serde_json::to_vec(&event).map_err(fail)
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
    let policy = Policy::parse(reply.get("policyDocument").ok_or("the answer has no policyDocument")?)?;
    let principal_id = match reply.get("principalId") {
        Some(Value::String(p)) => Some(p.clone()),
        None | Some(Value::Null) if kind == (EventKind::V2 { simple: false }) => None,
        _ => return Err("principalId must be a string".to_owned()),
    };
    let usage_identifier_key = reply.get("usageIdentifierKey").and_then(Value::as_str).map(str::to_owned);
    Ok(Answer::Policy { policy, principal_id, context, usage_identifier_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json")
    }

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
    }
}
