//! Credentials: how passwords are hashed, how session and API tokens are made and
//! looked up, and the rules for sessions expiring and logins being throttled.

pub mod ldap;
mod ldap_groups;
pub mod oidc;
mod password;
mod session;
mod throttle;
mod token;

pub use ldap::{GroupMembership, Identity, Ldap, LdapConfig, LdapError, LoginConfig};
pub use ldap_groups::DirectoryMember;
pub use oidc::{LoginStart, OidcError, OidcIdentity, OidcProvider, OidcProviderConfig};
pub use password::{PasswordHasher, hash_password, verify_password};
pub use session::{SessionConfig, TOKEN_MAX_DAYS_LIMIT};
pub use throttle::{LoginThrottle, ThrottleConfig, Throttled};
pub use token::{SecretToken, hash_token, new_join_code, new_recording_id, random_password};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// Every password check slot is taken and none came free in time.
    #[error("too many password checks at once")]
    Busy,
    #[error(transparent)]
    Store(#[from] roomkeeper_store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether `host` (a name or an address, without brackets) is this machine. Parsed, not
/// prefix-matched: `127.0.0.1.example.org` is somebody else's machine.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
