//! The JWT authorizer, in process: no Lambda invocation. Checks the signature with the issuer's key for the
//! token's `kid` (`alg` must be one that key allows: never `none`, never an HMAC), then `iss`, `aud` (or
//! `client_id` when there is no `aud`), `exp`, `nbf` and `iat` with a configurable leeway, then the route's
//! scopes. A verified token is cached until it expires, so a repeat costs a hash and a map lookup.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::jwks::KeyRing;
use crate::{
    clock::{MICROS_PER_SEC, SharedClock},
    request::Authorized,
};

/// Longer tokens are refused unread.
pub const MAX_TOKEN_BYTES: usize = 8_192;
const MAX_CACHED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("no token")]
    Missing,
    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"` and `error_description` one of the fixed
    /// phrases below (what went wrong in detail is for the log: a challenge never echoes the token's content).
    #[error("invalid token: {description} ({detail})")]
    Invalid { description: &'static str, detail: String },
    /// 403 with `error="insufficient_scope"`.
    #[error("the token has none of the route's scopes")]
    InsufficientScope,
}

/// A verified token's claims (values rendered as strings) and scopes, and when it expires.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Map<String, Value>,
    pub scopes: Vec<String>,
    exp: i64,
}

pub struct JwtAuthorizer {
    issuer: String,
    audiences: Vec<String>,
    leeway: i64,
    keys: KeyRing,
    clock: SharedClock,
    /// SHA-256 of a token → its verification.
    verified: Mutex<HashMap<[u8; 32], Arc<Verified>>>,
}

impl JwtAuthorizer {
    pub fn new(issuer: String, audiences: Vec<String>, leeway_seconds: u64, keys: KeyRing, clock: SharedClock) -> Self {
        let leeway = i64::try_from(leeway_seconds).unwrap_or(300);
        Self { issuer, audiences, leeway, keys, clock, verified: Mutex::default() }
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Verifies the identity value (a bare token or `Bearer <token>`) and checks the route's scopes.
    pub async fn authorize(&self, identity: Option<&str>, scopes: &[String]) -> Result<Authorized, JwtError> {
        let token = identity.map(strip_bearer).filter(|t| !t.is_empty()).ok_or(JwtError::Missing)?;
        let verified = self.verify(token).await?;
        if !scopes.is_empty() && !scopes.iter().any(|s| verified.scopes.contains(s)) {
            return Err(JwtError::InsufficientScope);
        }
        Ok(Authorized::Jwt { claims: verified.claims.clone(), scopes: verified.scopes.clone() })
    }

    pub async fn verify(&self, token: &str) -> Result<Arc<Verified>, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid(MALFORMED, format!("token over {MAX_TOKEN_BYTES} bytes")));
        }
        let now = self.clock.now_us() / MICROS_PER_SEC;
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut id = [0u8; 32];
        id.copy_from_slice(digest.as_ref());
        if let Some(hit) = self.verified.lock().ok().and_then(|m| m.get(&id).cloned())
            && now <= hit.exp.saturating_add(self.leeway)
        {
            return Ok(hit);
        }
        let verified = Arc::new(self.verify_uncached(token, now).await?);
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= MAX_CACHED {
                map.retain(|_, v| now <= v.exp.saturating_add(self.leeway));
                if map.len() >= MAX_CACHED {
                    map.clear();
                }
            }
            map.insert(id, Arc::clone(&verified));
        }
        Ok(verified)
    }

    async fn verify_uncached(&self, token: &str, now: i64) -> Result<Verified, JwtError> {
        // `alg: none` and unknown algorithms fail here: jsonwebtoken has no such algorithm.
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(MALFORMED, format!("bad header: {e}")))?;
        if matches!(header.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(invalid(SIGNING_METHOD, format!("{:?}: HMAC tokens are not accepted", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| invalid(UNKNOWN_KEY, "no kid in the header".to_owned()))?;
        let key = self.keys.key(&kid).await.map_err(|e| invalid(UNKNOWN_KEY, e.to_string()))?;
        if !key.algorithms.contains(&header.alg) {
            return Err(invalid(SIGNING_METHOD, format!("alg {:?} does not match the key {kid:?}", header.alg)));
        }
        // Time is checked below against the gateway's clock, not jsonwebtoken's.
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| invalid(SIGNATURE, format!("signature or encoding: {e}")))?;
        let claims = data.claims;
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(invalid(ISSUER, format!("iss {:?}", claims.get("iss"))));
        }
        // No audiences configured: any (a Cognito user pool's app clients are not in the definition).
        let audience_ok = self.audiences.is_empty()
            || match claims.get("aud") {
                Some(Value::String(a)) => self.audiences.contains(a),
                Some(Value::Array(list)) => {
                    list.iter().filter_map(Value::as_str).any(|a| self.audiences.iter().any(|x| x == a))
                }
                Some(_) => false,
                None => claims
                    .get("client_id")
                    .and_then(Value::as_str)
                    .is_some_and(|c| self.audiences.iter().any(|x| x == c)),
            };
        if !audience_ok {
            return Err(invalid(AUDIENCE, format!("aud {:?}", claims.get("aud"))));
        }
        // Times past what an i64 holds are clamped to its ends (`as`), and the leeway saturates: a far-future
        // `exp` never expires rather than overflowing.
        let number = |name: &str| claims.get(name).and_then(Value::as_f64).map(|v| v as i64);
        let exp = number("exp").ok_or_else(|| invalid(EXPIRED, "no exp".to_owned()))?;
        if now > exp.saturating_add(self.leeway) {
            return Err(invalid(EXPIRED, format!("exp {exp}, now {now}")));
        }
        if let Some(nbf) = number("nbf").filter(|nbf| now.saturating_add(self.leeway) < *nbf) {
            return Err(invalid(NOT_YET_VALID, format!("nbf {nbf}, now {now}")));
        }
        if let Some(iat) = number("iat").filter(|iat| now.saturating_add(self.leeway) < *iat) {
            return Err(invalid(ISSUED_IN_FUTURE, format!("iat {iat}, now {now}")));
        }
        let scopes = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => {
                s.split_whitespace().map(str::to_owned).collect()
            }
            (None, Some(Value::Array(list))) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        Ok(Verified {
            claims: claims.into_iter().map(|(k, v)| (k, Value::String(render_claim(&v)))).collect(),
            scopes,
            exp,
        })
    }
}

// The `error_description`s a refusal may carry: API Gateway's own wording where it is known ("the token has
// expired", "the token does not have a valid audience"), the same style elsewhere.
const MALFORMED: &str = "the token is malformed";
const SIGNING_METHOD: &str = "the token's signing method is not accepted";
const UNKNOWN_KEY: &str = "the token's signing key is not known";
const SIGNATURE: &str = "the token does not have a valid signature";
const ISSUER: &str = "the token does not have a valid issuer";
const AUDIENCE: &str = "the token does not have a valid audience";
const EXPIRED: &str = "the token has expired";
const NOT_YET_VALID: &str = "the token is not valid yet";
const ISSUED_IN_FUTURE: &str = "the token was issued in the future";

fn invalid(description: &'static str, detail: String) -> JwtError {
    JwtError::Invalid { description, detail }
}

fn strip_bearer(value: &str) -> &str {
    let value = value.trim();
    match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
        _ => value,
    }
}

/// Claim values as API Gateway hands them to integrations: strings as they are, arrays as `[a b c]`.
fn render_claim(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(render_claim).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_prefix_and_claim_rendering() {
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("bearer  abc"), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
        assert_eq!(render_claim(&serde_json::json!(["a", "b", 3])), "[a b 3]");
        assert_eq!(render_claim(&serde_json::json!(42)), "42");
        assert_eq!(render_claim(&serde_json::json!({"x": 1})), r#"{"x":1}"#);
    }

    /// Found by the `jwt` fuzz target: an `exp` the leeway pushed past what an i64 holds (`1e39`, `i64::MAX`)
    /// overflowed, a panic with overflow checks and, without them, a token that never expires refused as
    /// expired (on its first use, or on its next from the cache).
    #[test]
    fn far_future_and_far_past_times_do_not_overflow() {
        use base64::Engine as _;
        use serde_json::json;

        use crate::{
            clients::HttpClient,
            clock::{MICROS_PER_SEC, ManualClock},
        };

        let pem = include_str!("../../../tests/fixtures/keys/ed25519.pem");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).expect("a PEM body");
        let key = jsonwebtoken::EncodingKey::from_ed_der(&der);
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::EdDSA).expect("a JWK");
        jwk.common.key_id = Some("ed".to_owned());
        let jwks = json!({ "keys": [jwk] }).to_string();
        let clock: SharedClock = Arc::new(ManualClock::at(1_700_000_000 * MICROS_PER_SEC));
        let client = HttpClient::new().expect("client");
        let ring = KeyRing::preloaded("iss".into(), None, jwks.as_bytes(), client, Arc::clone(&clock)).expect("keys");
        let authorizer = JwtAuthorizer::new("iss".into(), vec!["api".into()], 30, ring, clock);
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some("ed".to_owned());
        let sign = |claims: serde_json::Value| jsonwebtoken::encode(&header, &claims, &key).expect("a token");
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            for exp in [json!(1e39), json!(i64::MAX)] {
                let token = sign(json!({ "iss": "iss", "aud": "api", "exp": exp }));
                assert!(authorizer.verify(&token).await.is_ok(), "exp {exp} has not passed");
                assert!(authorizer.verify(&token).await.is_ok(), "nor has it from the cache");
            }
            let token = sign(json!({ "iss": "iss", "aud": "api", "exp": -1e39 }));
            assert!(matches!(authorizer.verify(&token).await, Err(JwtError::Invalid { description: EXPIRED, .. })));
            let token = sign(json!({ "iss": "iss", "aud": "api", "exp": 1e39, "nbf": 1e39 }));
            assert!(matches!(
                authorizer.verify(&token).await,
                Err(JwtError::Invalid { description: NOT_YET_VALID, .. })
            ));
        });
    }
}
