//! Authorization: resource policies (source IP), JWT authorizers verified in process, and Lambda
//! authorizers invoked with the event API Gateway sends, with their results cached as policies. The
//! standalone authorizer functions (`functions/authorizer`, `functions/jwt-authorizer`) answer authorizer
//! events with the same code (`function.rs`).

pub mod function;
pub mod iam_policy;
pub mod identity;
pub mod jwks;
pub mod jwt;
pub mod lambda;
pub mod resource_policy;

use serde_json::{Map, Value};

/// What an authorizer established about the caller; it reaches the integration in `requestContext.authorizer`.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorized {
    /// JWT claims (values as strings, as API Gateway renders them) and scopes.
    Jwt { claims: Map<String, Value>, scopes: Vec<String> },
    /// A Lambda authorizer's principal and context.
    Lambda { principal_id: Option<String>, context: Map<String, Value>, usage_identifier_key: Option<String> },
}

/// The execute-api ARN of a request: `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{VERB}/{path}`,
/// which Lambda authorizers receive as `methodArn` / `routeArn` and their policies are evaluated against.
pub fn method_arn(api: &str, stage: &str, method: &str, path: &str) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    format!("{}{api}/{stage}/{method}/{path}", arn_prefix())
}

/// The execute-api ARN of a WebSocket route: `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{route_key}`
/// (no verb), which a `$connect` authorizer receives as `methodArn`.
pub fn route_arn(api: &str, stage: &str, route_key: &str) -> String {
    format!("{}{api}/{stage}/{route_key}", arn_prefix())
}

/// `arn:aws:execute-api:{region}:{account}:`, read from the environment once. Lambda does not tell a function
/// its account, so it is `TOLLGATE_ACCOUNT_ID` or a placeholder.
fn arn_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
        let account = std::env::var("TOLLGATE_ACCOUNT_ID").unwrap_or_else(|_| "123456789012".to_owned());
        format!("arn:aws:execute-api:{region}:{account}:")
    })
}
