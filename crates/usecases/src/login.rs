//! Logging in with a password: the throttle, then the account's own password or the
//! directory, and the rule that local passwords may be for administrators only. Every
//! failure looks the same from outside (unknown user, disabled user, wrong password);
//! only a right password earns a reason. Starting the session is `sessions::start`.

use std::net::IpAddr;
use std::sync::Arc;

use roomkeeper_auth::{Ldap, LdapError, LoginThrottle, PasswordHasher};
use roomkeeper_domain::{Refusal, Username};
use roomkeeper_store::User;

use crate::{Error, UseCases, accounts, signin};

/// How people log in here.
#[derive(Clone)]
pub struct Login {
    pub throttle: LoginThrottle,
    /// The directory people log in with, if any.
    pub ldap: Option<Arc<Ldap>>,
    /// The directory decides who is administrator (`ldap.admin_group_dn` is set).
    pub ldap_admin_group: bool,
    /// Local passwords only for administrators (`login.local_login_admins_only`).
    pub local_login_admins_only: bool,
}

/// Why a login did not happen.
#[derive(Debug)]
pub enum LoginRefusal {
    /// Unknown user, disabled user or wrong password: one answer for all.
    WrongCredentials,
    /// Too many failures for this name or address; try again in this many seconds.
    Throttled { retry_after_s: i64 },
    /// The password was right but the login is refused (`Refused`), or something
    /// failed on the way.
    Failed(Error),
}

impl<E: Into<Error>> From<E> for LoginRefusal {
    fn from(error: E) -> Self {
        LoginRefusal::Failed(error.into())
    }
}

/// The account `username` logs in to with `password`, from `address`.
pub async fn log_in(
    uc: &UseCases,
    username: &str,
    password: String,
    address: Option<IpAddr>,
) -> Result<User, LoginRefusal> {
    let login = &uc.login;
    // No username is this long: refused before it is lower-cased, counted or stored.
    if username.len() > 4 * Username::MAX_LEN {
        return Err(LoginRefusal::WrongCredentials);
    }
    let throttle_name = username.trim().to_lowercase();
    if let Err(throttled) = login
        .throttle
        .admit(&throttle_name, address, uc.clock.now())
        .await?
    {
        tracing::warn!(username = %throttle_name, ?address, "login throttled");
        return Err(LoginRefusal::Throttled {
            retry_after_s: throttled.retry_after_s,
        });
    }
    let user = match Username::parse(username) {
        Ok(name) => accounts::user_by_name(uc, &name).await?,
        Err(_) => None,
    };
    let hash = user
        .as_ref()
        .filter(|u| !u.disabled)
        .and_then(|u| u.password_hash.clone());
    // Accounts with a local password log in locally; everyone else through the directory
    // when one is configured.
    let directory = match (&login.ldap, &user, Username::parse(username)) {
        (Some(ldap), None, Ok(name)) => Some((ldap, name)),
        (Some(ldap), Some(u), Ok(name)) if u.password_hash.is_none() => Some((ldap, name)),
        _ => None,
    };
    if let Some((ldap, name)) = directory {
        let identity = match ldap.authenticate(&name, &password).await {
            Ok(identity) => identity,
            Err(error) => {
                // Different log lines for operators, one answer for the person.
                match &error {
                    LdapError::Unreachable(_) | LdapError::Timeout | LdapError::Refused(_) => {
                        tracing::error!(username = %throttle_name, %error, "LDAP login impossible");
                    }
                    _ => {
                        tracing::info!(username = %throttle_name, ?address, %error, "LDAP login failed")
                    }
                }
                return Err(LoginRefusal::WrongCredentials);
            }
        };
        let user =
            match signin::directory_account(uc, &identity, user, login.ldap_admin_group).await {
                Ok(user) => user,
                Err(signin::SignInRefusal::Failed(error)) => return Err(error.into()),
                // The directory confirmed the password, so saying why reveals nothing new.
                Err(signin::SignInRefusal::NameTaken(_)) => {
                    return Err(Error::refused(
                        Refusal::DirectoryNotLinked,
                        "An account with your username was made through another sign-in. An \
                     administrator must link it to your directory account before you can \
                     log in with it.",
                    )
                    .into());
                }
                Err(_) => return Err(LoginRefusal::WrongCredentials),
            };
        login.throttle.record_success(&name, address).await?;
        tracing::info!(username = %user.username, "logged in through LDAP");
        return Ok(user);
    }
    let verified = match PasswordHasher::verify(password, hash).await {
        Ok(verified) => verified,
        Err(busy) => {
            login.throttle.forgive(&throttle_name, address).await?;
            tracing::warn!(username = %throttle_name, ?address, "login not checked: every password check slot is busy");
            return Err(busy.into());
        }
    };
    match user {
        Some(user) if verified && login.local_login_admins_only && !user.is_admin => {
            // The password was right, so saying why reveals nothing new.
            tracing::info!(username = %user.username, "local login refused: admins only");
            Err(Error::refused(
                Refusal::LocalLoginOff,
                "Local passwords are turned off here: log in with your university account.",
            )
            .into())
        }
        Some(user) if verified => {
            login
                .throttle
                .record_success(&Username::from_stored(&user.username), address)
                .await?;
            tracing::info!(username = %user.username, "logged in");
            Ok(user)
        }
        _ => {
            tracing::info!(username = %throttle_name, ?address, "login failed");
            Err(LoginRefusal::WrongCredentials)
        }
    }
}
