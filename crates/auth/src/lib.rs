//! Credentials: how passwords are hashed, how session and API tokens are made and
//! looked up, and the rules for sessions expiring and logins being throttled.

pub mod ldap;
mod password;
mod session;
mod throttle;
mod token;

pub use ldap::{Identity, Ldap, LdapConfig, LdapError, LoginConfig};
pub use password::{PasswordHasher, hash_password, verify_password};
pub use session::SessionConfig;
pub use throttle::{LoginThrottle, ThrottleConfig, Throttled};
pub use token::{SecretToken, hash_token, new_recording_id, random_password};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] roomkeeper_store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
