//! The JWT authorizer in process: any bytes as the token, any bytes as the issuer's JWKS document, and tokens
//! the fuzzer writes (header and claims) but signed with the test keys, so that the claim checks after the
//! signature (`iss`, `aud`/`client_id`, `exp`, `nbf`, `iat`, scopes) see what an issuer could sign. The key
//! ring is preloaded from a JWKS document on a clock that does not move: nothing is ever fetched.
//!
//! Input: a control byte, then the rest. Bits 0-1 of the control byte: 0 the rest is the identity value (a
//! token, `Bearer` or not); 1 the rest is the JWKS document, checked with a valid token under a test key;
//! 2 the rest is the claims JSON, signed under a header naming the key; 3 the rest is the header JSON, a NUL,
//! and the claims JSON, signed as they are. Bits 2-3 pick the signing key (Ed25519; Ed25519 under the P-256
//! key's `kid`; P-256; Ed25519 under the RSA key's `kid`) or, for a JWKS document, the token checked (under
//! Ed25519, P-256, P-384, RSA); bits 4-5 the route's scopes, bit 6 a `Bearer ` prefix, bit 7 no leeway.
#![no_main]

use std::sync::{Arc, OnceLock};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tollgate_core::{
    auth::{
        jwks::KeyRing,
        jwt::{JwtAuthorizer, JwtError},
    },
    clients::HttpClient,
    clock::{MICROS_PER_SEC, ManualClock, SharedClock},
};

/// 2023-11-14T22:13:20Z, the tests' instant.
const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://issuer.example.com";

/// A test key from `tests/fixtures/keys` (they protect nothing), its `kid` and algorithm.
struct TestKey {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    client: HttpClient,
    clock: SharedClock,
    /// The issuer's JWKS: the public halves of `keys`.
    jwks: Vec<u8>,
    /// Ed25519, P-256, P-384, RSA.
    keys: Vec<TestKey>,
    /// A valid token under each key.
    tokens: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let pem = |alg, bytes: &[u8]| match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(bytes),
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(bytes),
            _ => EncodingKey::from_rsa_pem(bytes),
        };
        let keys: Vec<TestKey> = [
            ("ed", Algorithm::EdDSA, &include_bytes!("../../tests/fixtures/keys/ed25519.pem")[..]),
            ("ec256", Algorithm::ES256, &include_bytes!("../../tests/fixtures/keys/ec256.pem")[..]),
            ("ec384", Algorithm::ES384, &include_bytes!("../../tests/fixtures/keys/ec384.pem")[..]),
            ("rsa", Algorithm::RS256, &include_bytes!("../../tests/fixtures/keys/rsa.pem")[..]),
        ]
        .into_iter()
        .map(|(kid, alg, bytes)| TestKey { kid, alg, key: pem(alg, bytes).expect("a test key") })
        .collect();
        let published: Vec<Value> = keys
            .iter()
            .map(|k| {
                let mut jwk = Jwk::from_encoding_key(&k.key, k.alg).expect("jwk");
                jwk.common.key_id = Some(k.kid.to_owned());
                serde_json::to_value(jwk).expect("json")
            })
            .collect();
        let jwks = json!({ "keys": published }).to_string().into_bytes();
        let claims = json!({
            "iss": ISSUER, "aud": "api", "sub": "user-1", "exp": NOW + 600, "nbf": NOW - 10, "iat": NOW - 10,
            "scope": "pets:read pets:write",
        });
        let tokens = keys
            .iter()
            .map(|k| {
                let mut header = Header::new(k.alg);
                header.kid = Some(k.kid.to_owned());
                jsonwebtoken::encode(&header, &claims, &k.key).expect("sign")
            })
            .collect();
        Fixture {
            rt: tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"),
            client: HttpClient::new().expect("client"),
            clock: Arc::new(ManualClock::at(NOW * MICROS_PER_SEC)),
            jwks,
            keys,
            tokens,
        }
    })
}

/// A token over the header and claims as given, signed with `key` under `alg`.
fn sign(header: &[u8], claims: &[u8], key: &TestKey) -> String {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key.key, key.alg).expect("sign");
    format!("{message}.{signature}")
}

fn authorizer(fx: &Fixture, jwks: &[u8], leeway: u64) -> Option<JwtAuthorizer> {
    let clock = Arc::clone(&fx.clock);
    let ring = KeyRing::preloaded(ISSUER.to_owned(), None, jwks, fx.client.clone(), Arc::clone(&clock)).ok()?;
    Some(JwtAuthorizer::new(ISSUER.to_owned(), vec!["api".to_owned(), "web".to_owned()], leeway, ring, clock))
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let fx = fixture();
    let leeway = if control & 0x80 != 0 { 0 } else { 30 };
    let scopes: Vec<String> = match (control >> 4) & 3 {
        0 => vec![],
        1 => vec!["pets:read".into()],
        2 => vec!["admin".into()],
        _ => vec!["pets:write".into(), "admin".into()],
    };
    let bearer = if control & 0x40 != 0 { "Bearer " } else { "" };
    // The claim checks are the same under every algorithm, and Ed25519 signs and verifies fastest by far here
    // (instrumented P-384 and RSA take milliseconds): P-384 and RSA are verified on JWKS documents only.
    let (key, kid) = match (control >> 2) & 3 {
        0 => (&fx.keys[0], fx.keys[0].kid),
        1 => (&fx.keys[0], fx.keys[1].kid),
        2 => (&fx.keys[1], fx.keys[1].kid),
        _ => (&fx.keys[0], fx.keys[3].kid),
    };
    let tokens: Vec<String> = match control & 3 {
        0 => match std::str::from_utf8(rest) {
            Ok(text) => vec![text.to_owned()],
            Err(_) => return,
        },
        1 => {
            let Some(verifier) = authorizer(fx, rest, leeway) else { return };
            let token = &fx.tokens[usize::from((control >> 2) & 3)];
            check(fx.rt.block_on(verifier.authorize(Some(token), &scopes)));
            return;
        }
        2 => {
            let header = json!({ "alg": key.alg, "kid": kid, "typ": "JWT" }).to_string();
            vec![format!("{bearer}{}", sign(header.as_bytes(), rest, key))]
        }
        _ => {
            let (header, claims) = match rest.iter().position(|b| *b == 0) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &b"{}"[..]),
            };
            vec![format!("{bearer}{}", sign(header, claims, key))]
        }
    };
    let verifier = authorizer(fx, &fx.jwks, leeway).expect("the test keys");
    fx.rt.block_on(async {
        for token in &tokens {
            let first = verifier.authorize(Some(token), &scopes).await;
            if first.is_ok() {
                // A repeat is answered from the cache of verified tokens: the same answer.
                assert!(verifier.authorize(Some(token), &scopes).await.is_ok(), "the cache agrees");
            }
            check(first);
        }
    });
});

/// A refusal is one of the authorizer's answers, with a description from its fixed list.
fn check<T>(result: Result<T, JwtError>) {
    if let Err(JwtError::Invalid { description, .. }) = result {
        assert!(description.starts_with("the token"), "{description}");
    }
}
