//! A real OIDC issuer on loopback for the JWT tests: it serves a discovery document and a JWKS with the
//! public halves of the test keys in `fixtures/keys`, signs tokens with their private halves, counts how
//! often its keys are fetched, and can be taken down, made to hang, or have its keys rotated mid-run.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum::{Router, extract::State, http::StatusCode, routing::get};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde_json::{Value, json};

use crate::repo_root;

/// A signing key: its `kid`, private key and algorithm.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub key: EncodingKey,
}

impl SigningKey {
    /// A key from `fixtures/keys/<file>`.
    pub fn load(file: &str, kid: &str, alg: Algorithm) -> Self {
        let pem = std::fs::read(repo_root().join("tests/fixtures/keys").join(file)).expect("test key");
        let key = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
            _ => EncodingKey::from_rsa_pem(&pem),
        }
        .expect("a PEM private key");
        Self { kid: kid.to_owned(), alg, key }
    }

    /// The public JWK the issuer publishes for this key.
    pub fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).expect("jwk");
        jwk.common.key_id = Some(self.kid.clone());
        serde_json::to_value(jwk).expect("json")
    }

    /// A token with these claims.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }
}

#[derive(Default)]
struct IssuerState {
    keys: Mutex<Vec<Value>>,
    fetches: AtomicUsize,
    down: AtomicBool,
    hanging: AtomicBool,
    /// Requests held by a hanging issuer, and a signal for each.
    hung: AtomicUsize,
    hung_signal: tokio::sync::Notify,
    base: Mutex<String>,
}

pub struct Issuer {
    pub url: String,
    state: Arc<IssuerState>,
}

impl Issuer {
    /// Starts serving `keys` on a free loopback port.
    pub async fn start(keys: &[&SigningKey]) -> Self {
        let state = Arc::new(IssuerState::default());
        state.keys.lock().expect("lock").extend(keys.iter().map(|k| k.jwk()));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(Arc::clone(&state));
        let addr: SocketAddr = crate::spawn_http(app).await;
        let url = format!("http://{addr}");
        *state.base.lock().expect("lock") = url.clone();
        Self { url, state }
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// A hanging issuer accepts requests for its documents and never answers them.
    pub fn set_hanging(&self, hanging: bool) {
        self.state.hanging.store(hanging, Ordering::SeqCst);
    }

    /// How many requests a hanging issuer has held.
    pub fn hung(&self) -> usize {
        self.state.hung.load(Ordering::SeqCst)
    }

    /// Waits until a hanging issuer has held at least `n` requests.
    pub async fn wait_for_hung(&self, n: usize) {
        loop {
            let signal = self.state.hung_signal.notified();
            if self.hung() >= n {
                return;
            }
            signal.await;
        }
    }

    /// Publishes another key (a rotation: the old ones stay until removed).
    pub fn publish(&self, key: &SigningKey) {
        self.state.keys.lock().expect("lock").push(key.jwk());
    }

    /// Publishes raw JWK JSON (for keys an attacker would like to see accepted).
    pub fn publish_raw(&self, jwk: Value) {
        self.state.keys.lock().expect("lock").push(jwk);
    }
}

/// Never returns while the issuer hangs.
async fn hang_if_asked(state: &IssuerState) {
    if state.hanging.load(Ordering::SeqCst) {
        state.hung.fetch_add(1, Ordering::SeqCst);
        state.hung_signal.notify_waiters();
        std::future::pending::<()>().await;
    }
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Result<Json, StatusCode> {
    hang_if_asked(&state).await;
    if state.down.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    let base = state.base.lock().expect("lock").clone();
    Ok(json_body(&json!({ "issuer": base, "jwks_uri": format!("{base}/jwks") })))
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Result<Json, StatusCode> {
    hang_if_asked(&state).await;
    if state.down.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    state.fetches.fetch_add(1, Ordering::SeqCst);
    Ok(json_body(&json!({ "keys": state.keys.lock().expect("lock").clone() })))
}

type Json = ([(axum::http::HeaderName, &'static str); 1], String);

fn json_body(value: &Value) -> Json {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], value.to_string())
}
