//! Accounts: made by an admin, passwords changed and reset, admin rights, disabling
//! (with what becomes of the person's rooms), email addresses and API tokens.

use roomkeeper_auth::{PasswordHasher, SecretToken, random_password};
use roomkeeper_domain::Refusal;
use roomkeeper_domain::{NewPassword, Username};
use roomkeeper_store::{ApiToken, HandOver, NewUser, Room, User};

use crate::{Acting, Error, Stamp, UseCases};

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
                Error::refused(Refusal::WrongPassword, "The current password is not right.")
            }
            PasswordChangeError::Invalid(e) => {
                Error::refused(Refusal::InvalidPassword, e.to_string())
            }
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
/// in the same transaction (whoever else was logged in as them is out), and their API
/// tokens too with `end_tokens` (someone who fears the password was known may fear the
/// same of a token made with it). The caller starts a new session.
pub async fn change_password(
    uc: &UseCases,
    user: &User,
    current: String,
    new: &str,
    end_tokens: bool,
) -> Result<(), PasswordChangeError> {
    let new = NewPassword::parse(new).map_err(PasswordChangeError::Invalid)?;
    if !PasswordHasher::verify(current, user.password_hash.clone()).await? {
        return Err(PasswordChangeError::WrongCurrent);
    }
    let hash = PasswordHasher::hash(new.expose().to_owned()).await?;
    let revoked = uc
        .store
        .set_password_hash(user.id, &hash, false, end_tokens)
        .await?;
    tracing::info!(username = %user.username, tokens_revoked = revoked, "password changed");
    Ok(())
}

/// Sets a password chosen elsewhere (the command line); `must_change` makes it a
/// one-time password. The user's sessions end with it.
pub async fn set_password(
    uc: &UseCases,
    user: &User,
    hash: &str,
    must_change: bool,
) -> Result<(), Error> {
    uc.store
        .set_password_hash(user.id, hash, must_change, false)
        .await?;
    Ok(())
}

pub const TOKEN_NAME_MAX: usize = 100;

/// A new API token; the secret is returned once and only its hash is kept. It lasts
/// `expires_in_days`, or left out, as long as the operator allows
/// (`sessions.token_max_days`); asking for longer is refused.
pub async fn create_token(
    uc: &UseCases,
    user: &User,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<(ApiToken, String), Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > TOKEN_NAME_MAX {
        return Err(Error::refused(
            Refusal::InvalidTokenName,
            format!("Give the token a name of 1 to {TOKEN_NAME_MAX} characters."),
        ));
    }
    let longest = i64::from(uc.sessions.token_max_days);
    if expires_in_days.is_some_and(|days| !(1..=longest).contains(&days)) {
        return Err(Error::refused(
            Refusal::InvalidTokenExpiry,
            format!("A token expires after 1 to {longest} days on this server."),
        ));
    }
    let now = uc.clock.now();
    let expires_at = Some(now + expires_in_days.unwrap_or(longest) * 86_400);
    let secret = SecretToken::generate("rk_");
    let token = uc
        .store
        .create_token(user.id, name, &secret.hash, now, expires_at)
        .await?;
    tracing::info!(username = %user.username, token_id = token.id, "API token created");
    Ok((token, secret.secret))
}

/// The user's tokens, each with the moment it stops working (its own expiry or the
/// operator's limit, whichever comes first).
pub async fn tokens(uc: &UseCases, user: &User) -> Result<Vec<ApiToken>, Error> {
    let mut tokens = uc.store.tokens_of(user.id).await?;
    for token in &mut tokens {
        token.expires_at = Some(
            uc.sessions
                .token_ends_at(token.created_at, token.expires_at),
        );
    }
    Ok(tokens)
}

pub async fn delete_token(uc: &UseCases, user: &User, id: i64) -> Result<(), Error> {
    if uc.store.delete_token(user.id, id).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// A local account with a one-time password the admin hands over; it must be changed
/// at first login. Returns the account and that password.
pub async fn create_local_user(
    uc: &UseCases,
    username: &str,
    display_name: Option<String>,
    is_admin: bool,
) -> Result<(User, String), Error> {
    let username = Username::parse(username)?;
    let password = random_password();
    let hash = PasswordHasher::hash(password.clone()).await?;
    let user = uc
        .store
        .create_user(
            &NewUser {
                username,
                display_name: display_name.filter(|d| !d.trim().is_empty()),
                password_hash: Some(hash),
                is_admin,
                must_change_password: true,
            },
            uc.clock.now(),
        )
        .await?;
    Ok((user, password))
}

pub async fn user(uc: &UseCases, id: i64) -> Result<User, Error> {
    uc.store.user_by_id(id).await?.ok_or(Error::NotFound)
}

/// The account with this username, if there is one.
pub async fn user_by_name(uc: &UseCases, name: &Username) -> Result<Option<User>, Error> {
    Ok(uc.store.user_by_name(name).await?)
}

/// A new one-time password for an existing local account; in the same transaction its
/// sessions end and its API tokens are revoked (whoever may have learned the old
/// password may have made tokens with it).
pub async fn reset_password(uc: &UseCases, user_id: i64) -> Result<(User, String), Error> {
    let user = user(uc, user_id).await?;
    let password = random_password();
    let hash = PasswordHasher::hash(password.clone()).await?;
    let revoked = uc
        .store
        .set_password_hash(user.id, &hash, true, true)
        .await?;
    if revoked > 0 {
        tracing::info!(username = %user.username, revoked, "API tokens revoked with the password reset");
    }
    Ok((user, password))
}

/// Lets the directory (LDAP) log in to this account: an administrator's decision, for an
/// account another sign-in made that belongs to the directory's person of that name.
/// `false` when it could already.
pub async fn link_directory(uc: &UseCases, user_id: i64) -> Result<bool, Error> {
    let user = user(uc, user_id).await?;
    if user.password_hash.is_some() {
        return Err(Error::refused(
            Refusal::LocalPassword,
            format!(
                "{} has a local password and logs in with it, never through the directory.",
                user.username
            ),
        ));
    }
    let linked = uc.store.link_directory(user.id, uc.clock.now()).await?;
    tracing::info!(username = %user.username, linked, "the directory may log in to this account");
    Ok(linked)
}

/// Someone must always be able to administer: the last active admin keeps the role.
pub async fn refuse_losing_last_admin(uc: &UseCases, user_id: i64) -> Result<User, Error> {
    let user = user(uc, user_id).await?;
    if user.is_admin && !user.disabled && uc.store.count_active_admins().await? <= 1 {
        return Err(Error::refused(
            Refusal::LastAdmin,
            "The last active administrator cannot lose that role or be disabled.",
        ));
    }
    Ok(user)
}

/// Gives or takes the admin role. `acting: None` is the system (the command line): the
/// last-admin rule guards the pages, where nobody could undo it; the operator at the
/// command line can always add an administrator again.
pub async fn set_admin(
    uc: &UseCases,
    acting: Option<&Acting<'_>>,
    user_id: i64,
    is_admin: bool,
) -> Result<(), Error> {
    if !is_admin && acting.is_some() {
        refuse_losing_last_admin(uc, user_id).await?;
    }
    uc.store.set_admin(user_id, is_admin).await?;
    Ok(())
}

/// What becomes of the rooms of someone who is disabled: nobody could manage them
/// otherwise.
#[derive(Debug, Clone, Copy)]
pub enum OwnedRooms<'a> {
    /// Refuse (`owns_rooms`) when there are any.
    Refuse,
    TransferTo(&'a str),
    Release,
}

/// Disables an account and moves its rooms as asked, in one transaction (its sessions
/// end and its API tokens go). `acting: None` is the system (the command line, see
/// [`set_admin`] for why the last-admin rule does not apply there); otherwise refused
/// before anything moves when it is the last active admin.
pub async fn disable(
    uc: &UseCases,
    acting: Option<&Acting<'_>>,
    user_id: i64,
    rooms: OwnedRooms<'_>,
) -> Result<(), Error> {
    let user = match acting {
        Some(_) => refuse_losing_last_admin(uc, user_id).await?,
        None => user(uc, user_id).await?,
    };
    let owned = rooms_owned_by(uc, &user.username).await?;
    let parsed_to;
    let hand_over = match rooms {
        _ if owned.is_empty() => HandOver::Keep,
        OwnedRooms::Refuse => {
            return Err(Error::refused(
                Refusal::OwnsRooms,
                format!(
                    "{} owns {} rooms ({}): transfer them to someone or release them first.",
                    user.username,
                    owned.len(),
                    owned
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        OwnedRooms::TransferTo(to) => {
            parsed_to = Username::parse(to)?;
            if parsed_to == user.username {
                return Err(Error::refused(
                    Refusal::TransferToSelf,
                    "The rooms must go to someone else.",
                ));
            }
            HandOver::TransferTo(parsed_to.as_str())
        }
        OwnedRooms::Release => HandOver::Release,
    };
    let stamp = match acting {
        Some(acting) => Stamp::new(uc, acting),
        None => Stamp::system(uc),
    };
    let owned = uc
        .store
        .disable_user(user.id, hand_over, &stamp.audit())
        .await?;
    tracing::info!(username = %user.username, rooms = owned.len(), "account disabled");
    Ok(())
}

pub async fn enable(uc: &UseCases, user_id: i64) -> Result<(), Error> {
    uc.store.set_disabled(user_id, false).await?;
    Ok(())
}

/// Every room `username` owns (not co-owns).
pub async fn rooms_owned_by(uc: &UseCases, username: &str) -> Result<Vec<Room>, Error> {
    let mut owned = Vec::new();
    for (id, _, owner) in uc.store.room_names().await? {
        if owner == username {
            owned.extend(uc.store.room(id).await?);
        }
    }
    Ok(owned)
}

/// An address to write to, or none. Checked for shape only (one @, something either
/// side, no spaces); whether mail arrives only the mail server knows.
pub async fn set_email(uc: &UseCases, user: &User, email: &str) -> Result<(), Error> {
    let email = email.trim();
    if email.is_empty() {
        uc.store.set_email(user.id, None).await?;
        return Ok(());
    }
    let shaped = email.len() <= 254
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',');
    if !shaped {
        return Err(Error::refused(
            Refusal::InvalidEmail,
            format!("{email:?} is not an email address."),
        ));
    }
    uc.store.set_email(user.id, Some(email)).await?;
    Ok(())
}

/// One page of accounts, optionally searched by name.
pub async fn users_page(
    uc: &UseCases,
    search: Option<&str>,
    page: roomkeeper_store::Page,
) -> Result<roomkeeper_store::Paged<User>, Error> {
    let search = search.map(str::trim).filter(|q| !q.is_empty());
    Ok(uc.store.users_page(search, page).await?)
}

/// A refused OpenID login waiting for an administrator, and whether an account of its
/// name exists (if not, the name is one the directory has or may have).
#[derive(Debug, Clone)]
pub struct RefusedSignIn {
    pub entry: roomkeeper_store::OidcCollision,
    pub account_exists: bool,
}

/// OpenID logins refused because their username belongs to another account (or to the
/// directory), waiting for an administrator.
pub async fn refused_sign_ins(uc: &UseCases) -> Result<Vec<RefusedSignIn>, Error> {
    let mut refused = Vec::new();
    for entry in uc.store.oidc_collisions().await? {
        let account_exists = match Username::parse(&entry.username) {
            Ok(name) => uc.store.user_by_name(&name).await?.is_some(),
            Err(_) => false,
        };
        refused.push(RefusedSignIn {
            entry,
            account_exists,
        });
    }
    Ok(refused)
}

/// An administrator's answer to a refused OpenID login: link that identity to the
/// account of its username (they checked it is the same person), or dismiss it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInAnswer {
    Link,
    Dismiss,
}

/// Resolves a refused login and writes the answer into the audit log. Answers what was
/// resolved and, when linked, the account it now logs in to. `NotFound` when nothing
/// waits for (issuer, subject) any more, or the account to link to is gone.
/// `Conflict` (`sign_in_changed`) when the entry no longer asks for `shown_username`,
/// the account the administrator saw and decided about: every new refused login of
/// that identity overwrites it, so without this a click could link another account.
pub async fn resolve_sign_in(
    uc: &UseCases,
    acting: &Acting<'_>,
    issuer: &str,
    subject: &str,
    shown_username: &str,
    answer: SignInAnswer,
) -> Result<(roomkeeper_store::OidcCollision, Option<User>), Error> {
    let waiting = uc.store.oidc_collisions().await?;
    let entry = waiting
        .iter()
        .find(|c| c.issuer == issuer && c.subject == subject)
        .ok_or(Error::NotFound)?;
    if entry.username != shown_username {
        return Err(Error::Refused {
            refusal: Refusal::SignInChanged,
            message: format!(
                "This sign-in changed since it was shown: it now asks for the account {:?}. \
                 Look at it again before answering.",
                entry.username
            ),
        });
    }
    let link_to = match answer {
        SignInAnswer::Link => {
            let name = Username::parse(&entry.username).map_err(|_| Error::NotFound)?;
            match uc.store.user_by_name(&name).await? {
                Some(user) => Some(user),
                // A name no account has (the directory has, or may have, it): the
                // administrator who knows who this is makes it theirs.
                None => Some(
                    uc.store
                        .create_user(
                            &NewUser {
                                username: name,
                                display_name: None,
                                password_hash: None,
                                is_admin: false,
                                must_change_password: false,
                            },
                            uc.clock.now(),
                        )
                        .await?,
                ),
            }
        }
        SignInAnswer::Dismiss => None,
    };
    let stamp = Stamp::new(uc, acting);
    let resolved = uc
        .store
        .resolve_oidc_collision(
            &entry.issuer,
            &entry.subject,
            &entry.username,
            link_to.as_ref().map(|u| u.id),
            &stamp.audit(),
        )
        .await?;
    let action = if link_to.is_some() {
        "linked"
    } else {
        "dismissed"
    };
    tracing::info!(admin = %acting.user.username, username = %resolved.username, issuer = %resolved.issuer, subject = %resolved.subject, action, "refused OpenID login resolved");
    Ok((resolved, link_to))
}

/// The language someone chose, remembered for the account (it follows them to other
/// devices).
pub async fn set_language(uc: &UseCases, user: &User, tag: &str) -> Result<(), Error> {
    uc.store.set_language(user.id, Some(tag)).await?;
    Ok(())
}
