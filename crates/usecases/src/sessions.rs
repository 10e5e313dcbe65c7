//! Who a request's credential stands for: browser sessions (a random cookie value, stored
//! as its hash) and API tokens. The web layer reads the cookie or the header and asks
//! here; it never sees the rows.

use roomkeeper_auth::{SecretToken, hash_token};
use roomkeeper_store::User;

use crate::{Error, UseCases};

/// The account an API token stands for, with the token's id, while the token is live (its
/// own expiry and the operator's `token_max_days`) and the account enabled. `None` for any
/// token that does not work.
pub async fn token_holder(uc: &UseCases, token: &str) -> Result<Option<(i64, User)>, Error> {
    let now = uc.clock.now();
    let Some((api_token, user)) = uc.store.token(&hash_token(token)).await? else {
        return Ok(None);
    };
    if user.disabled
        || uc
            .sessions
            .token_ends_at(api_token.created_at, api_token.expires_at)
            <= now
    {
        return Ok(None);
    }
    // A write per request would make every script call a write; a minute is precise
    // enough for "last used".
    if api_token.last_used_at.is_none_or(|at| now - at >= 60) {
        uc.store.touch_token(api_token.id, now).await?;
    }
    Ok(Some((api_token.id, user)))
}

/// How a session is known to the store: the hash of its cookie's value (the value itself
/// is never stored).
pub fn key(cookie_value: &str) -> String {
    hash_token(cookie_value)
}

/// The account a session stands for while it lasts (idle and absolute timeouts) and the
/// account is enabled. A session found ended is deleted.
pub async fn session_holder(uc: &UseCases, token_hash: &str) -> Result<Option<User>, Error> {
    let now = uc.clock.now();
    let Some(session) = uc.store.session(token_hash).await? else {
        return Ok(None);
    };
    if !uc.sessions.is_live(&session, now) || session.user.disabled {
        uc.store.delete_session(token_hash).await?;
        return Ok(None);
    }
    if uc.sessions.needs_touch(&session, now) {
        uc.store.touch_session(token_hash, now).await?;
    }
    Ok(Some(session.user))
}

/// Is the token with this id still live for `user_id`, and the account still there?
/// For something long-lived (an event stream) that asks again.
pub async fn token_still_works(
    uc: &UseCases,
    user_id: i64,
    token_id: i64,
) -> Result<Option<User>, Error> {
    let now = uc.clock.now();
    let tokens = uc.store.tokens_of(user_id).await?;
    if !tokens
        .iter()
        .any(|t| t.id == token_id && uc.sessions.token_ends_at(t.created_at, t.expires_at) > now)
    {
        return Ok(None);
    }
    Ok(uc.store.user_by_id(user_id).await?)
}

/// A fresh session for `user`; answers the secret for the cookie. `through` remembers the
/// provider (name, ID token) a login came through, so that logging out can end the
/// provider's session too. A session is only ever made here, at a successful login, so
/// every login gets a new id and nobody can plant one beforehand (session fixation).
pub async fn start(
    uc: &UseCases,
    user: &User,
    through: Option<(&str, &str)>,
) -> Result<String, Error> {
    let now = uc.clock.now();
    // Expired rows are useless; a login is a natural, infrequent moment to drop them.
    uc.store
        .delete_expired_sessions(now - uc.sessions.idle_s(), now - uc.sessions.absolute_s())
        .await?;
    let token = SecretToken::generate("");
    uc.store.create_session(&token.hash, user.id, now).await?;
    if let Some((provider, id_token)) = through {
        uc.store
            .set_session_provider(&token.hash, provider, id_token)
            .await?;
    }
    Ok(token.secret)
}

/// Ends the session with this cookie value. Answers the provider (name, ID token) it came
/// through, if any, so the caller can end that session too.
pub async fn end(uc: &UseCases, cookie_value: &str) -> Result<Option<(String, String)>, Error> {
    let hash = hash_token(cookie_value);
    let provider = uc.store.session_provider(&hash).await?;
    uc.store.delete_session(&hash).await?;
    Ok(provider)
}
