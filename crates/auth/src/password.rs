use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{Error, Result};

/// OWASP's first Argon2id recommendation (Password Storage Cheat Sheet): 19 MiB of
/// memory, 2 iterations, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// A PHC-format hash of a password nobody has, verified against when a username does
/// not exist so that a failed login takes as long for unknown as for known users.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn argon2() -> Argon2<'static> {
    // The parameters are constants that Params::new accepts; a failure here is a bug.
    #[allow(clippy::unwrap_used)]
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Namespaced so callers read `PasswordHasher::hash`; hashing runs on the blocking
/// pool because 19 MiB and two passes would stall the async runtime's workers.
pub struct PasswordHasher;

impl PasswordHasher {
    pub async fn hash(password: String) -> Result<String> {
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| Error::Hash(e.to_string()))?
    }

    /// Verifies `password` against `hash`, or against a dummy hash when there is none
    /// (unknown user, SSO-only account) so the answer takes the same time either way.
    pub async fn verify(password: String, hash: Option<String>) -> bool {
        tokio::task::spawn_blocking(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                let dummy = DUMMY_HASH
                    .get_or_init(|| hash_password("no user has this password").unwrap_or_default());
                let _ = verify_password(&password, dummy);
                false
            }
        })
        .await
        .unwrap_or(false)
    }
}

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    use argon2::PasswordHasher as _;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Hash(e.to_string()))
}

/// Checks a password against a stored PHC string. The parameters come from the string,
/// so hashes made with older parameters keep working.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier as _;
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert_ne!(
            hash,
            hash_password("correct horse battery").unwrap(),
            "salted"
        );
    }

    #[tokio::test]
    async fn verifying_without_a_hash_is_always_false() {
        assert!(!PasswordHasher::verify("x".into(), None).await);
    }
}
