//! The issuer's public keys: found through OIDC discovery (`{issuer}/.well-known/openid-configuration` →
//! `jwks_uri`) or a configured JWKS URL, fetched with API Gateway's limits (1 500 ms, 150 000 bytes), and
//! cached by `kid` for an hour. A token with an unknown `kid` triggers at most one refetch per
//! [`REFETCH_INTERVAL_US`], whatever the number of such tokens (single flight), and a failed refetch keeps the
//! keys already known.

use std::{collections::HashMap, sync::Arc, time::Duration};

use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use tokio::sync::{Mutex, RwLock};

use crate::{
    clients::HttpClient,
    clock::{MICROS_PER_SEC, Micros, SharedClock},
};

pub const FETCH_TIMEOUT: Duration = Duration::from_millis(1_500);
pub const MAX_DOCUMENT_BYTES: usize = 150_000;
/// Keys are refetched when they are this old.
pub const MAX_KEY_AGE_US: Micros = 3_600 * MICROS_PER_SEC;
/// An unknown `kid` refetches the keys at most this often.
pub const REFETCH_INTERVAL_US: Micros = 10 * MICROS_PER_SEC;

/// A verification key and the algorithms it may verify (`alg` must match the key).
pub struct PublicKey {
    pub key: DecodingKey,
    pub algorithms: Vec<Algorithm>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no key with kid {0:?}")]
    UnknownKid(String),
    #[error("cannot fetch the issuer's keys: {0}")]
    Unavailable(String),
}

pub struct KeyRing {
    issuer: String,
    jwks_uri: Option<String>,
    client: HttpClient,
    clock: SharedClock,
    state: RwLock<State>,
    /// Held while fetching, so concurrent misses wait for one fetch instead of starting their own.
    refresh: Mutex<()>,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, Arc<PublicKey>>,
    fetched_at: Option<Micros>,
    attempted_at: Option<Micros>,
    fetches: u64,
}

impl KeyRing {
    pub fn new(issuer: String, jwks_uri: Option<String>, client: HttpClient, clock: SharedClock) -> Self {
        Self { issuer, jwks_uri, client, clock, state: RwLock::default(), refresh: Mutex::new(()) }
    }

    /// How many times the keys were fetched (tests and benchmarks).
    pub async fn fetches(&self) -> u64 {
        self.state.read().await.fetches
    }

    pub async fn key(&self, kid: &str) -> Result<Arc<PublicKey>, KeyError> {
        if let Some(key) = self.fresh(kid).await {
            return Ok(key);
        }
        let _single_flight = self.refresh.lock().await;
        if let Some(key) = self.fresh(kid).await {
            return Ok(key);
        }
        let now = self.clock.now_us();
        let (known, recently_tried) = {
            let state = self.state.read().await;
            (state.keys.get(kid).cloned(), state.attempted_at.is_some_and(|at| now - at < REFETCH_INTERVAL_US))
        };
        if recently_tried {
            return known.ok_or_else(|| KeyError::UnknownKid(kid.to_owned()));
        }
        let fetched = self.fetch().await;
        let mut state = self.state.write().await;
        state.attempted_at = Some(now);
        state.fetches += 1;
        match fetched {
            Ok(keys) => {
                state.keys = keys;
                state.fetched_at = Some(now);
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "JWKS refresh failed; keeping the keys already known");
                if state.keys.is_empty() {
                    return Err(KeyError::Unavailable(e));
                }
            }
        }
        state.keys.get(kid).cloned().ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))
    }

    async fn fresh(&self, kid: &str) -> Option<Arc<PublicKey>> {
        let state = self.state.read().await;
        let fresh = state.fetched_at.is_some_and(|at| self.clock.now_us() - at < MAX_KEY_AGE_US);
        fresh.then(|| state.keys.get(kid).cloned()).flatten()
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<PublicKey>>, String> {
        let uri = match &self.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let discovery = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
                let body = self.client.fetch(&discovery, FETCH_TIMEOUT, MAX_DOCUMENT_BYTES).await?;
                let document: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| format!("{discovery} is not JSON: {e}"))?;
                document["jwks_uri"].as_str().ok_or_else(|| format!("{discovery} has no jwks_uri"))?.to_owned()
            }
        };
        let body = self.client.fetch(&uri, FETCH_TIMEOUT, MAX_DOCUMENT_BYTES).await?;
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("{uri} is not a JWK set: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = &jwk.common.key_id else { continue };
            if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
                continue;
            }
            let Some(algorithms) = algorithms_for(jwk) else { continue };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid.clone(), Arc::new(PublicKey { key, algorithms }));
                }
                Err(e) => tracing::warn!(kid = %kid, error = %e, "skipping an unusable JWK"),
            }
        }
        if keys.is_empty() {
            return Err(format!("{uri} holds no usable signing keys"));
        }
        Ok(keys)
    }
}

/// The algorithms a public key may verify. Symmetric (`oct`) keys never: a public key set must not let a
/// token be "signed" with an HMAC whose secret is public.
fn algorithms_for(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Vec<Algorithm>> {
    let all_rsa =
        [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];
    let declared = jwk.common.key_algorithm.and_then(|a| match a {
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::RS384 => Some(Algorithm::RS384),
        KeyAlgorithm::RS512 => Some(Algorithm::RS512),
        KeyAlgorithm::PS256 => Some(Algorithm::PS256),
        KeyAlgorithm::PS384 => Some(Algorithm::PS384),
        KeyAlgorithm::PS512 => Some(Algorithm::PS512),
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 => Some(Algorithm::ES384),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        _ => None,
    });
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => all_rsa.to_vec(),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
        _ => return None,
    };
    match declared {
        Some(alg) if by_type.contains(&alg) => Some(vec![alg]),
        Some(_) => None,
        None if jwk.common.key_algorithm.is_some() => None,
        None => Some(by_type),
    }
}
