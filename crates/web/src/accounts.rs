//! Account changes shared by the pages and the API, so both enforce the same rules.

use roomkeeper_auth::{PasswordHasher, SecretToken, random_password};
use roomkeeper_domain::{NewPassword, Username};
use roomkeeper_store::{ApiToken, NewUser, User};

use crate::{AppState, Error};

/// Why a password change was refused, for the page to say in the visitor's language.
#[derive(Debug)]
pub enum PasswordChangeError {
    WrongCurrent,
    Invalid(roomkeeper_domain::ParseError),
    Other(Error),
}

impl From<PasswordChangeError> for Error {
    fn from(err: PasswordChangeError) -> Self {
        match err {
            PasswordChangeError::WrongCurrent => {
                Error::invalid("wrong_password", "The current password is not right.")
            }
            PasswordChangeError::Invalid(e) => Error::invalid("invalid_password", e.to_string()),
            PasswordChangeError::Other(e) => e,
        }
    }
}

impl From<Error> for PasswordChangeError {
    fn from(err: Error) -> Self {
        PasswordChangeError::Other(err)
    }
}

impl From<roomkeeper_store::Error> for PasswordChangeError {
    fn from(err: roomkeeper_store::Error) -> Self {
        PasswordChangeError::Other(err.into())
    }
}

impl From<roomkeeper_auth::Error> for PasswordChangeError {
    fn from(err: roomkeeper_auth::Error) -> Self {
        PasswordChangeError::Other(err.into())
    }
}

/// Checks the current password, stores the new one and ends every session of the user
/// (whoever else was logged in as them is out). The caller starts a new session.
pub async fn change_password(
    state: &AppState,
    user: &User,
    current: String,
    new: &str,
) -> Result<(), PasswordChangeError> {
    let new = NewPassword::parse(new).map_err(PasswordChangeError::Invalid)?;
    if !PasswordHasher::verify(current, user.password_hash.clone())
        .await
        .map_err(Error::from)?
    {
        return Err(PasswordChangeError::WrongCurrent);
    }
    let hash = PasswordHasher::hash(new.expose().to_owned()).await?;
    state.store.set_password_hash(user.id, &hash, false).await?;
    state.store.delete_sessions_of(user.id).await?;
    tracing::info!(username = %user.username, "password changed");
    Ok(())
}

pub const TOKEN_NAME_MAX: usize = 100;

/// A new API token; the secret is returned once and only its hash is kept.
/// The longest a token may be made to last when it expires at all (a token that never
/// expires is chosen by leaving the expiry out).
pub const TOKEN_DAYS_MAX: i64 = 3660;

pub async fn create_token(
    state: &AppState,
    user: &User,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<(ApiToken, String), Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > TOKEN_NAME_MAX {
        return Err(Error::invalid(
            "invalid_token_name",
            format!("Give the token a name of 1 to {TOKEN_NAME_MAX} characters."),
        ));
    }
    if expires_in_days.is_some_and(|days| !(1..=TOKEN_DAYS_MAX).contains(&days)) {
        return Err(Error::invalid(
            "invalid_token_expiry",
            format!("A token expires after 1 to {TOKEN_DAYS_MAX} days, or never."),
        ));
    }
    let now = state.clock.now();
    let expires_at = expires_in_days.map(|days| now + days * 86_400);
    let secret = SecretToken::generate("rk_");
    let token = state
        .store
        .create_token(user.id, name, &secret.hash, now, expires_at)
        .await?;
    tracing::info!(username = %user.username, token_id = token.id, "API token created");
    Ok((token, secret.secret))
}

/// A local account with a one-time password the admin hands over; it must be changed
/// at first login. Returns the account and that password.
pub async fn create_local_user(
    state: &AppState,
    username: &str,
    display_name: Option<String>,
    is_admin: bool,
) -> Result<(User, String), Error> {
    let username = Username::parse(username)?;
    let password = random_password();
    let hash = PasswordHasher::hash(password.clone()).await?;
    let user = state
        .store
        .create_user(
            &NewUser {
                username,
                display_name: display_name.filter(|d| !d.trim().is_empty()),
                password_hash: Some(hash),
                is_admin,
                must_change_password: true,
            },
            state.clock.now(),
        )
        .await?;
    Ok((user, password))
}

/// A new one-time password for an existing local account; its sessions end.
pub async fn reset_password(state: &AppState, user_id: i64) -> Result<(User, String), Error> {
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(Error::NotFound)?;
    let password = random_password();
    let hash = PasswordHasher::hash(password.clone()).await?;
    state.store.set_password_hash(user.id, &hash, true).await?;
    state.store.delete_sessions_of(user.id).await?;
    // Whoever may have learned the old password may have made tokens with it.
    let revoked = state.store.delete_tokens_of(user.id).await?;
    if revoked > 0 {
        tracing::info!(username = %user.username, revoked, "API tokens revoked with the password reset");
    }
    Ok((user, password))
}

/// Someone must always be able to administer: the last active admin keeps the role.
pub async fn refuse_losing_last_admin(state: &AppState, user_id: i64) -> Result<User, Error> {
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(Error::NotFound)?;
    if user.is_admin && !user.disabled && state.store.count_active_admins().await? <= 1 {
        return Err(Error::Conflict {
            code: "last_admin",
            message: "The last active administrator cannot lose that role or be disabled.".into(),
        });
    }
    Ok(user)
}

pub async fn set_admin(state: &AppState, user_id: i64, is_admin: bool) -> Result<(), Error> {
    if !is_admin {
        refuse_losing_last_admin(state, user_id).await?;
    }
    state.store.set_admin(user_id, is_admin).await?;
    Ok(())
}

pub async fn set_disabled(state: &AppState, user_id: i64, disabled: bool) -> Result<(), Error> {
    if disabled {
        refuse_losing_last_admin(state, user_id).await?;
    }
    state.store.set_disabled(user_id, disabled).await?;
    Ok(())
}

/// Every room `username` owns (not co-owns).
pub async fn rooms_owned_by(
    state: &AppState,
    username: &str,
) -> Result<Vec<roomkeeper_store::Room>, Error> {
    let mut owned = Vec::new();
    for (id, _, owner) in state.store.room_names().await? {
        if owner == username {
            owned.extend(state.store.room(id).await?);
        }
    }
    Ok(owned)
}

/// An address to write to, or none. Checked for shape only (one @, something either
/// side, no spaces); whether mail arrives only the mail server knows.
pub async fn set_email(state: &AppState, user: &User, email: &str) -> Result<(), Error> {
    let email = email.trim();
    if email.is_empty() {
        state.store.set_email(user.id, None).await?;
        return Ok(());
    }
    let shaped = email.len() <= 254
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',');
    if !shaped {
        return Err(Error::invalid(
            "invalid_email",
            format!("{email:?} is not an email address."),
        ));
    }
    state.store.set_email(user.id, Some(email)).await?;
    Ok(())
}
