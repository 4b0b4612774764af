//! Authorization: resource policies (source IP), JWT authorizers verified in process, and Lambda
//! authorizers invoked with the event API Gateway sends, with their results cached as policies. The
//! standalone authorizer functions (`functions/authorizer`, `functions/jwt-authorizer`) answer authorizer
//! events with the same code (`standalone.rs`).

pub mod iam_policy;
pub mod jwks;
pub mod jwt;
pub mod lambda;
pub mod resource_policy;
pub mod standalone;

/// The execute-api ARN of a request: `{prefix}{api}/{stage}/{VERB}/{path}`, which Lambda authorizers receive as
/// `methodArn` / `routeArn` and their policies are evaluated against.
pub fn method_arn(prefix: &str, api: &str, stage: &str, method: &str, path: &str) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    format!("{prefix}{api}/{stage}/{method}/{path}")
}

/// The execute-api ARN of a WebSocket route: `{prefix}{api}/{stage}/{route_key}` (no verb), which a `$connect`
/// authorizer receives as `methodArn`.
pub fn route_arn(prefix: &str, api: &str, stage: &str, route_key: &str) -> String {
    format!("{prefix}{api}/{stage}/{route_key}")
}
