//! The issuer's public keys: found through OIDC discovery (`{issuer}/.well-known/openid-configuration` →
//! `jwks_uri`) or a configured JWKS URL, fetched with API Gateway's limits (1 500 ms, 150 000 bytes), and
//! cached by `kid` for an hour. A token with an unknown `kid` triggers at most one refetch per
//! [`REFETCH_INTERVAL_US`], whatever the number of such tokens (single flight), and a failed refetch keeps the
//! keys already known. A known key is never waited for: once it is an hour old it is still served while one
//! refetch runs in the background, so an issuer that hangs or answers slowly stalls only tokens under keys the
//! ring has never seen.

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
    shared: Arc<Shared>,
}

/// What a background refresh needs too.
struct Shared {
    issuer: String,
    jwks_uri: Option<String>,
    client: HttpClient,
    clock: SharedClock,
    state: RwLock<State>,
    /// Held while fetching, so concurrent misses wait for one fetch instead of starting their own.
    refresh: Arc<Mutex<()>>,
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
        let shared =
            Shared { issuer, jwks_uri, client, clock, state: RwLock::default(), refresh: Arc::new(Mutex::new(())) };
        Self { shared: Arc::new(shared) }
    }

    /// How many times the keys were fetched (tests and benchmarks).
    pub async fn fetches(&self) -> u64 {
        self.shared.state.read().await.fetches
    }

    pub async fn key(&self, kid: &str) -> Result<Arc<PublicKey>, KeyError> {
        let shared = &self.shared;
        match shared.known(kid).await {
            Some((key, true)) => return Ok(key),
            Some((key, false)) => {
                // Old but known: serve it now; a refresh (if none runs and none ran lately) replaces it later.
                if let Ok(guard) = Arc::clone(&shared.refresh).try_lock_owned() {
                    let shared = Arc::clone(shared);
                    tokio::spawn(async move {
                        let _single_flight = guard;
                        // Keys are known, so this cannot fail; a failed fetch is logged and keeps them.
                        let _ = shared.refetch().await;
                    });
                }
                return Ok(key);
            }
            None => {}
        }
        let _single_flight = shared.refresh.lock().await;
        if let Some((key, _)) = shared.known(kid).await {
            return Ok(key);
        }
        shared.refetch().await?;
        let state = shared.state.read().await;
        state.keys.get(kid).cloned().ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))
    }
}

impl Shared {
    /// The key for `kid` if the ring holds it, and whether it is fresh.
    async fn known(&self, kid: &str) -> Option<(Arc<PublicKey>, bool)> {
        let state = self.state.read().await;
        let fresh = state.fetched_at.is_some_and(|at| self.clock.now_us() - at < MAX_KEY_AGE_US);
        state.keys.get(kid).map(|key| (Arc::clone(key), fresh))
    }

    /// Fetches the keys unless that was tried within [`REFETCH_INTERVAL_US`]; the caller holds `refresh`. Fails
    /// only when no key is known at all.
    async fn refetch(&self) -> Result<(), KeyError> {
        let now = self.clock.now_us();
        if self.state.read().await.attempted_at.is_some_and(|at| now - at < REFETCH_INTERVAL_US) {
            return Ok(());
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
        Ok(())
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
        signing_keys(&body).map_err(|e| format!("{uri} {e}"))
    }
}

impl KeyRing {
    /// A ring holding the keys of a JWKS `document` (read as a fetched one is) as if fetched now: fresh for
    /// [`MAX_KEY_AGE_US`], and an unknown `kid` refetches through `client` no sooner than
    /// [`REFETCH_INTERVAL_US`] from now. For driving the authorizer in process with no issuer to fetch from
    /// (the fuzz targets): on a clock that does not move, it never fetches.
    pub fn preloaded(
        issuer: String,
        jwks_uri: Option<String>,
        document: &[u8],
        client: HttpClient,
        clock: SharedClock,
    ) -> Result<Self, String> {
        let keys = signing_keys(document)?;
        let now = clock.now_us();
        let mut ring = Self::new(issuer, jwks_uri, client, clock);
        let shared = Arc::get_mut(&mut ring.shared).expect("a new ring is not shared yet");
        *shared.state.get_mut() = State { keys, fetched_at: Some(now), attempted_at: Some(now), fetches: 0 };
        Ok(ring)
    }
}

/// The usable signing keys of a JWKS document, by `kid`: keys without a `kid`, for another use than signing,
/// of an unsupported type, or that do not decode are skipped. An error when none is left.
fn signing_keys(document: &[u8]) -> Result<HashMap<String, Arc<PublicKey>>, String> {
    let set: JwkSet = serde_json::from_slice(document).map_err(|e| format!("is not a JWK set: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = &jwk.common.key_id else { continue };
        if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
            continue;
        }
        let Some(algorithms) = algorithms_for(jwk) else { continue };
        match DecodingKey::from_jwk(jwk) {
            // An Ed25519 public key is 32 bytes; jsonwebtoken panics verifying under a shorter one.
            Ok(key) if algorithms.contains(&Algorithm::EdDSA) && key.try_get_as_bytes().map(<[u8]>::len) != Ok(32) => {
                tracing::warn!(kid = %kid, "skipping an Ed25519 JWK whose x is not 32 bytes");
            }
            Ok(key) => {
                keys.insert(kid.clone(), Arc::new(PublicKey { key, algorithms }));
            }
            Err(e) => tracing::warn!(kid = %kid, error = %e, "skipping an unusable JWK"),
        }
    }
    if keys.is_empty() {
        return Err("holds no usable signing keys".to_owned());
    }
    Ok(keys)
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

#[cfg(test)]
mod tests {
    use super::signing_keys;

    /// Found by the `jwt` fuzz target: an Ed25519 JWK with a short `x` was kept, and the first EdDSA token
    /// under its `kid` panicked inside jsonwebtoken (it takes the key's first 32 bytes).
    #[test]
    fn ed25519_keys_of_another_size_than_32_bytes_are_skipped() {
        let jwks = |x: &str| format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"{x}"}}]}}"#);
        assert!(signing_keys(jwks("348").as_bytes()).is_err(), "2 bytes");
        assert!(signing_keys(jwks(&"A".repeat(44)).as_bytes()).is_err(), "33 bytes");
        let keys = signing_keys(jwks(&"A".repeat(43)).as_bytes()).expect("32 bytes is a key");
        assert!(keys.contains_key("ed"));
    }
}
