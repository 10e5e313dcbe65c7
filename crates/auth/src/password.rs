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

/// How many Argon2 computations run at once, in this process. Each holds 19 MiB and a
/// core for tens of milliseconds: a flood of logins must not queue hundreds of them (a
/// few hundred MiB, and every answer late). Two per core keeps the cores busy.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::sync::Semaphore::new(2 * cores)
    })
}

/// How long a login waits for a free slot before it is told to try again.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Namespaced so callers read `PasswordHasher::hash`; hashing runs on the blocking
/// pool because 19 MiB and two passes would stall the async runtime's workers.
pub struct PasswordHasher;

impl PasswordHasher {
    /// Waits for a slot however long it takes: hashing follows a deliberate act (a new
    /// password, an account made), not something a stranger can repeat at will.
    pub async fn hash(password: String) -> Result<String> {
        let _slot = hashing_slots()
            .acquire()
            .await
            .map_err(|e| Error::Hash(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| Error::Hash(e.to_string()))?
    }

    /// Verifies `password` against `hash`, or against a dummy hash when there is none
    /// (unknown user, SSO-only account) so the answer takes the same time either way.
    /// [`Error::Busy`] when no slot comes free within half a second.
    pub async fn verify(password: String, hash: Option<String>) -> Result<bool> {
        let Ok(Ok(_slot)) = tokio::time::timeout(SLOT_WAIT, hashing_slots().acquire()).await else {
            return Err(Error::Busy);
        };
        Ok(tokio::task::spawn_blocking(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                let dummy = DUMMY_HASH
                    .get_or_init(|| hash_password("no user has this password").unwrap_or_default());
                let _ = verify_password(&password, dummy);
                false
            }
        })
        .await
        .unwrap_or(false))
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
        assert!(!PasswordHasher::verify("x".into(), None).await.unwrap());
    }

    /// A flood waits at most half a second for a slot, then hears "busy", instead of
    /// queueing hundreds of 19 MiB hashes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_checks_is_answered_busy() {
        let slots = hashing_slots();
        let all = slots.available_permits() as u32;
        let held = slots.acquire_many(all).await.unwrap();
        assert!(matches!(
            PasswordHasher::verify("x".into(), None).await,
            Err(Error::Busy)
        ));
        drop(held);
        assert!(!PasswordHasher::verify("x".into(), None).await.unwrap());
    }
}
