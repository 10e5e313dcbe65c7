use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A fresh random secret (session cookie value or API token) and the hash we store.
/// The secret is given to its holder once and never stored.
pub struct SecretToken {
    pub secret: String,
    pub hash: String,
}

impl SecretToken {
    /// 256 random bits, URL-safe. `prefix` makes tokens recognisable to secret
    /// scanners (`rk_` for API tokens).
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = hash_token(&secret);
        Self { secret, hash }
    }
}

/// SHA-256 is enough here: the secrets have 256 bits of entropy, so no slow hash is
/// needed to resist guessing, and lookups stay a single index probe.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A random password for the first admin and for accounts an admin creates:
/// 20 characters from an alphabet without look-alikes (no 0/O, 1/l/I).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// A fresh join code ("Join as moderator") from the operating system's generator.
pub fn new_join_code() -> roomkeeper_domain::JoinCode {
    let mut bytes = [0u8; roomkeeper_domain::JoinCode::LEN];
    OsRng.fill_bytes(&mut bytes);
    roomkeeper_domain::JoinCode::from_random(bytes)
}

/// A fresh recording id: 128 bits from the operating system's generator, so ids cannot
/// be guessed from one another.
pub fn new_recording_id() -> roomkeeper_domain::RecordingId {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    roomkeeper_domain::RecordingId::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_to_what_is_stored() {
        let a = SecretToken::generate("rk_");
        let b = SecretToken::generate("rk_");
        assert!(a.secret.starts_with("rk_") && a.secret.len() == 3 + 43);
        assert_ne!(a.secret, b.secret);
        assert_eq!(hash_token(&a.secret), a.hash);
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn random_passwords_are_long_enough_for_the_password_rule() {
        let p = random_password();
        assert!(roomkeeper_domain::NewPassword::parse(&p).is_ok());
        assert_ne!(p, random_password());
    }
}
