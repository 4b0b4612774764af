//! API key values: generation, import rules, and the hash that is all Tollgate ever stores of them.

use base64::Engine as _;
use ring::rand::SecureRandom as _;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

/// Bytes of randomness in a generated key: 256 bits, 43 URL-safe characters.
const GENERATED_BYTES: usize = 32;
/// API Gateway's bounds for an imported key value.
pub const MIN_IMPORTED_LEN: usize = 20;
pub const MAX_IMPORTED_LEN: usize = 128;

/// `n` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS generator only fails if the kernel has none; nothing secure can be done then.
    ring::rand::SystemRandom::new().fill(&mut out).expect("the operating system's random generator failed");
    out
}

/// A new key value: 256 random bits as 43 URL-safe base64 characters.
pub fn generate() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<GENERATED_BYTES>())
}

/// Checks a value a user brings (an import): 20-128 URL-safe characters (letters, digits, `-`, `_`).
pub fn check_imported(value: &str) -> Result<(), String> {
    let len = value.len();
    if !(MIN_IMPORTED_LEN..=MAX_IMPORTED_LEN).contains(&len) {
        return Err(format!("an API key value is {MIN_IMPORTED_LEN}-{MAX_IMPORTED_LEN} characters, not {len}"));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("an API key value may hold only letters, digits, '-' and '_'".to_owned());
    }
    Ok(())
}

/// SHA-256 of a key value, in hex. Keys carry at least 20 characters chosen by a CSPRNG or a user who was told
/// so; a fast hash is enough for values with that much entropy, and it keeps the hot path at one lookup.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of(value: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest.as_ref() {
            use std::fmt::Write as _;
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex)
    }

    /// A stored hash, as read back from a store.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, so response timing says nothing about how close a guess was.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

// Never print a hash in full (logs, panics): the first 8 characters identify it well enough.
impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyHash({}…)", self.0.get(..8).unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_long_url_safe_and_distinct() {
        let a = generate();
        let b = generate();
        assert!(a.len() >= 40, "{a}");
        assert!(check_imported(&a).is_ok());
        assert_ne!(a, b);
    }

    #[test]
    fn imported_values_follow_api_gateway_bounds() {
        assert!(check_imported(&"a".repeat(19)).is_err());
        assert!(check_imported(&"a".repeat(20)).is_ok());
        assert!(check_imported(&"a".repeat(128)).is_ok());
        assert!(check_imported(&"a".repeat(129)).is_err());
        assert!(check_imported("abcdefghijklmnopqrst uvw").is_err());
        assert!(check_imported("abcdefghijklmnopqrst\u{e9}").is_err());
    }

    #[test]
    fn hash_is_sha256_hex_and_compares() {
        let h = KeyHash::of("abc");
        assert_eq!(h.as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(h.matches(&KeyHash::of("abc")));
        assert!(!h.matches(&KeyHash::of("abd")));
        assert!(!format!("{h:?}").contains("ba7816bf8f01"));
    }
}
