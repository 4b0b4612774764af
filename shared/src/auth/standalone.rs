//! What the standalone authorizer functions share: reading the authorizer events API Gateway sends (REST
//! TOKEN and REQUEST, HTTP API 1.0 and 2.0, WebSocket `$connect`) and answering in the form each expects. An
//! IAM policy grants the whole stage (`{api}/{stage}/*`), so API Gateway's cached policy does not deny the
//! caller's next route (the known pitfall of caching a policy for one method ARN).

use std::{collections::HashMap, sync::Arc};

use serde_json::{Map, Value};

use super::{
    jwks::KeyRing,
    jwt::{JwtAuthorizer, JwtError},
};
use crate::{
    clients::HttpClient,
    clock::{SharedClock, SystemClock},
    config::DEFAULT_KEY_CACHE_SECS,
    function::FunctionError,
    metering::{Meter, Refusal},
    request::Authorized,
    settings::{Settings, SettingsError},
    store::dynamo::{DynamoOptions, DynamoStore},
};

/// The parts of an authorizer event a decision needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizerRequest {
    pub kind: RequestKind,
    /// `methodArn` or `routeArn`.
    pub arn: String,
    /// TOKEN: the `authorizationToken`.
    pub token: Option<String>,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    pub query: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// REST TOKEN: answer with a policy.
    Token,
    /// REST REQUEST, HTTP API payload 1.0, WebSocket `$connect`: answer with a policy.
    Request,
    /// HTTP API payload 2.0: answer with a simple response.
    V2,
}

/// A decision to allow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grant {
    pub principal_id: String,
    /// Scalar values only: REST and WebSocket refuse nested context.
    pub context: Map<String, Value>,
    pub usage_identifier_key: Option<String>,
}

/// Why a request was not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No credential, or one that is not valid: the function fails with "Unauthorized" (API Gateway: 401).
    Unauthorized,
    /// A valid credential that may not pass: Deny / `isAuthorized: false` (403).
    Forbidden,
}

/// The error a function returns for a 401; API Gateway matches its message exactly.
pub fn unauthorized() -> FunctionError {
    FunctionError::new("Unauthorized", "Unauthorized")
}

impl AuthorizerRequest {
    pub fn parse(event: &Value) -> Result<Self, String> {
        let text = |name: &str| event.get(name).and_then(Value::as_str).map(str::to_owned);
        let map = |name: &str| -> HashMap<String, String> {
            event
                .get(name)
                .and_then(Value::as_object)
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_owned()))).collect())
                .unwrap_or_default()
        };
        let kind = match (text("type").as_deref(), text("version").as_deref()) {
            (Some("TOKEN"), _) => RequestKind::Token,
            (Some("REQUEST"), Some("2.0")) => RequestKind::V2,
            (Some("REQUEST"), _) => RequestKind::Request,
            _ => return Err("not an authorizer event: type must be TOKEN or REQUEST".to_owned()),
        };
        let arn = text(if kind == RequestKind::V2 { "routeArn" } else { "methodArn" })
            .ok_or("the event has no methodArn or routeArn")?;
        let mut query = map("queryStringParameters");
        // Query names are case-sensitive; keep them as sent.
        if let Some(m) = event.get("queryStringParameters").and_then(Value::as_object) {
            query = m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect();
        }
        Ok(Self { kind, arn, token: text("authorizationToken"), headers: map("headers"), query })
    }

    /// The answer for a decision: a policy, a simple response, or the "Unauthorized" error.
    pub fn answer(&self, decision: Result<Grant, Denial>) -> Result<Value, FunctionError> {
        let grant = match decision {
            Err(Denial::Unauthorized) => return Err(unauthorized()),
            Ok(grant) => Some(grant),
            Err(Denial::Forbidden) => None,
        };
        if self.kind == RequestKind::V2 {
            let context =
                grant.as_ref().map(|g| Value::Object(g.context.clone())).unwrap_or_else(|| Value::Object(Map::new()));
            return Ok(serde_json::json!({ "isAuthorized": grant.is_some(), "context": context }));
        }
        let effect = if grant.is_some() { "Allow" } else { "Deny" };
        let grant = grant.unwrap_or_else(|| Grant { principal_id: "anonymous".to_owned(), ..Grant::default() });
        let mut answer = serde_json::json!({
            "principalId": grant.principal_id,
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{ "Action": "execute-api:Invoke", "Effect": effect, "Resource": stage_wildcard(&self.arn) }]
            },
            "context": grant.context,
        });
        if let Some(key) = grant.usage_identifier_key {
            answer["usageIdentifierKey"] = Value::String(key);
        }
        Ok(answer)
    }
}

/// The API key authorizer (`functions/authorizer`): the key comes from the TOKEN, the `x-api-key` header, or
/// (for browsers opening a WebSocket) the `apiKey` query parameter. A usable key is granted with its value as
/// `usageIdentifierKey`, so usage plans meter it; a missing one is 401, an unknown or disabled one 403.
pub async fn api_key_decision(meter: &Meter, request: &AuthorizerRequest) -> Result<Result<Grant, Denial>, String> {
    let value = request
        .token
        .clone()
        .or_else(|| request.headers.get("x-api-key").cloned())
        .or_else(|| request.query.get("apiKey").cloned())
        .filter(|v| !v.is_empty());
    let Some(value) = value else { return Ok(Err(Denial::Unauthorized)) };
    match meter.key_for(&value).await {
        Ok(key) => {
            let mut context = Map::new();
            context.insert("keyId".into(), key.id.clone().into());
            context.insert("keyName".into(), key.name.into());
            Ok(Ok(Grant { principal_id: key.id, context, usage_identifier_key: Some(value) }))
        }
        Err(Refusal::StoreDown(e)) => Err(e),
        Err(_) => Ok(Err(Denial::Forbidden)),
    }
}

/// The JWT authorizer (`functions/jwt-authorizer`): the token comes from the TOKEN, the `Authorization` header,
/// or (for browsers opening a WebSocket) the `access_token` query parameter. Claims become the context
/// (strings), `sub` the principal.
pub async fn jwt_decision(
    verifier: &JwtAuthorizer,
    scopes: &[String],
    request: &AuthorizerRequest,
) -> Result<Grant, Denial> {
    let token = request
        .token
        .clone()
        .or_else(|| request.headers.get("authorization").cloned())
        .or_else(|| request.query.get("access_token").cloned());
    match verifier.authorize(token.as_deref(), scopes).await {
        Ok(Authorized::Jwt { claims, scopes }) => {
            let principal_id = claims.get("sub").and_then(Value::as_str).unwrap_or("anonymous").to_owned();
            let mut context = claims;
            context.insert("scope".into(), scopes.join(" ").into());
            Ok(Grant { principal_id, context, usage_identifier_key: None })
        }
        Ok(Authorized::Lambda { .. }) | Err(JwtError::Missing | JwtError::Invalid { .. }) => Err(Denial::Unauthorized),
        Err(JwtError::InsufficientScope) => Err(Denial::Forbidden),
    }
}

/// The API key authorizer function (`functions/authorizer`): keys from the table `TOLLGATE_TABLE`.
pub struct ApiKeyFunction {
    meter: Meter,
}

impl ApiKeyFunction {
    pub async fn from_settings(settings: &Settings) -> Result<Self, FunctionError> {
        let options = DynamoOptions { table: settings.require_table()?.to_owned(), endpoint: None };
        let store = Arc::new(DynamoStore::connect(&options, settings).await);
        Ok(Self { meter: Meter::new(store, Arc::new(SystemClock), DEFAULT_KEY_CACHE_SECS) })
    }

    /// Answers one authorizer event.
    pub async fn answer(&self, event: &Value) -> Result<Value, FunctionError> {
        let request = AuthorizerRequest::parse(event).map_err(|e| FunctionError::new("InvalidEvent", e))?;
        let decision = api_key_decision(&self.meter, &request)
            .await
            .map_err(|e| FunctionError::new("StoreUnavailable", format!("cannot read API keys: {e}")))?;
        request.answer(decision)
    }
}

/// The JWT authorizer function (`functions/jwt-authorizer`), configured by `TOLLGATE_JWT_*`.
pub struct JwtFunction {
    verifier: JwtAuthorizer,
    scopes: Vec<String>,
}

impl JwtFunction {
    pub fn from_settings(settings: &Settings) -> Result<Self, FunctionError> {
        let jwt = &settings.jwt;
        let issuer = jwt.issuer.clone().ok_or(SettingsError::Missing {
            name: "TOLLGATE_JWT_ISSUER",
            why: "the issuer whose tokens are accepted",
        })?;
        if jwt.audiences.is_empty() {
            Err(SettingsError::Missing {
                name: "TOLLGATE_JWT_AUDIENCES",
                why: "the accepted audiences, comma-separated",
            })?;
        }
        let http = HttpClient::new().map_err(|e| FunctionError::new("ClientSetupFailed", e.to_string()))?;
        let clock: SharedClock = Arc::new(SystemClock);
        let keys = KeyRing::new(issuer.clone(), jwt.jwks_uri.clone(), http, Arc::clone(&clock));
        let verifier = JwtAuthorizer::new(issuer, jwt.audiences.clone(), jwt.leeway_seconds, keys, clock);
        Ok(Self { verifier, scopes: jwt.scopes.clone() })
    }

    /// Answers one authorizer event.
    pub async fn answer(&self, event: &Value) -> Result<Value, FunctionError> {
        let request = AuthorizerRequest::parse(event).map_err(|e| FunctionError::new("InvalidEvent", e))?;
        request.answer(jwt_decision(&self.verifier, &self.scopes, &request).await)
    }
}

/// `arn:...:{api}/{stage}/GET/pets` → `arn:...:{api}/{stage}/*`.
pub fn stage_wildcard(arn: &str) -> String {
    let Some((prefix, path)) = arn.split_once(":execute-api:").and_then(|(p, rest)| {
        let (account_part, path) = rest.rsplit_once(':')?;
        Some((format!("{p}:execute-api:{account_part}"), path))
    }) else {
        return arn.to_owned();
    };
    let mut parts = path.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) => format!("{prefix}:{api}/{stage}/*"),
        _ => arn.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::fixture;

    #[test]
    fn reads_every_recorded_authorizer_event() {
        let token = AuthorizerRequest::parse(&fixture("authorizer-token-request.json")).expect("token");
        assert_eq!((token.kind, token.token.as_deref()), (RequestKind::Token, Some("allow")));
        let rest = AuthorizerRequest::parse(&fixture("authorizer-request-v1.json")).expect("request");
        assert_eq!(rest.kind, RequestKind::Request);
        assert_eq!(rest.headers.get("headerauth1").map(String::as_str), Some("headerValue1"));
        let v2 = AuthorizerRequest::parse(&fixture("authorizer-v2-request.json")).expect("v2");
        assert_eq!(v2.kind, RequestKind::V2);
        let ws = AuthorizerRequest::parse(&fixture("authorizer-websocket-connect.json")).expect("ws");
        assert!(ws.arn.ends_with("/test/$connect"));
        assert!(AuthorizerRequest::parse(&serde_json::json!({"hello": 1})).is_err());
        assert!(AuthorizerRequest::parse(&serde_json::json!({"type": "TOKEN"})).is_err());
    }

    #[test]
    fn answers_in_each_form_with_a_stage_wide_policy() {
        let rest = AuthorizerRequest::parse(&fixture("authorizer-request-v1.json")).expect("request");
        let grant = Grant { principal_id: "k1".into(), usage_identifier_key: Some("v".into()), ..Grant::default() };
        let allow = rest.answer(Ok(grant)).expect("allow");
        assert_eq!(allow["policyDocument"]["Statement"][0]["Effect"], "Allow");
        assert_eq!(
            allow["policyDocument"]["Statement"][0]["Resource"],
            "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/*"
        );
        assert_eq!(allow["usageIdentifierKey"], "v");
        assert_eq!(
            rest.answer(Err(Denial::Forbidden)).expect("deny")["policyDocument"]["Statement"][0]["Effect"],
            "Deny"
        );
        assert!(rest.answer(Err(Denial::Unauthorized)).is_err());
        let v2 = AuthorizerRequest::parse(&fixture("authorizer-v2-request.json")).expect("v2");
        assert_eq!(v2.answer(Err(Denial::Forbidden)).expect("simple")["isAuthorized"], false);
        assert_eq!(
            stage_wildcard("arn:aws:execute-api:eu-west-1:123456789012:abcdef123/test/$connect"),
            "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/test/*"
        );
    }
}
