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
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let path = path.strip_prefix('/').unwrap_or(path);
    format!("arn:aws:execute-api:{region}:{}:{api}/{stage}/{method}/{path}", account())
}

/// The account the gateway runs in, when Lambda tells it (it does not by default); otherwise API Gateway's
/// placeholder for an unknown caller.
fn account() -> String {
    std::env::var("TOLLGATE_ACCOUNT_ID").unwrap_or_else(|_| "123456789012".to_owned())
}
