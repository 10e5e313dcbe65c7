//! Logging in through an OpenID provider, from the button to the account: the secrets in
//! between (state, nonce, PKCE verifier) are kept by the hash of `state` and taken once.
//! The web layer carries `state` in a cookie as well and hands both copies back here, so
//! a callback a third party started (login CSRF) or replayed is refused.

use std::sync::Arc;

use roomkeeper_auth::{OidcError, OidcProvider, hash_token};
use roomkeeper_domain::{OidcLogin, User};

use crate::signin::{self, SignInRefusal};
use crate::{Error, UseCases};

/// How long a person may take at the provider's login page.
pub const LOGIN_WINDOW_S: i64 = 600;

/// The providers people can log in with, in button order: (name, label).
pub fn providers(uc: &UseCases) -> Vec<(String, String)> {
    uc.oidc
        .iter()
        .map(|p| (p.name().to_owned(), p.label().to_owned()))
        .collect()
}

fn provider(uc: &UseCases, name: &str) -> Option<Arc<OidcProvider>> {
    uc.oidc.iter().find(|p| p.name() == name).cloned()
}

/// The provider's button label (`None`: no such provider).
pub fn label(uc: &UseCases, name: &str) -> Option<String> {
    provider(uc, name).map(|p| p.label().to_owned())
}

/// Where to send the browser, and the state it must bring back (and keep meanwhile).
pub struct Started {
    pub url: String,
    pub state: String,
}

/// Why a login through a provider did not happen.
#[derive(Debug)]
pub enum OidcRefusal {
    /// No provider of that name is configured.
    UnknownProvider,
    /// The callback's state is not this browser's, is used, or is too old.
    StateInvalid,
    /// The provider ended the login itself (its reason).
    ProviderRefused(String),
    Unreachable,
    /// The provider's answer or ID token was refused (logged as a warning).
    TokenRefused,
    NoUsername,
    EmailUnverified,
    /// The username belongs to an account not linked to this identity (waits for an
    /// administrator on /admin/users).
    NameTaken(String),
    Disabled,
    Failed(Error),
}

impl<E: Into<Error>> From<E> for OidcRefusal {
    fn from(err: E) -> Self {
        OidcRefusal::Failed(err.into())
    }
}

/// A login that leaves for the provider `name`, to come back to `return_to`.
pub async fn start(uc: &UseCases, name: &str, return_to: &str) -> Result<Started, OidcRefusal> {
    let provider = provider(uc, name).ok_or(OidcRefusal::UnknownProvider)?;
    let login = provider.start().await.map_err(|error| {
        tracing::error!(provider = %name, %error, "OpenID login cannot start");
        OidcRefusal::Unreachable
    })?;
    let now = uc.clock.now();
    uc.store
        .create_oidc_login(
            &OidcLogin {
                state_hash: hash_token(&login.state),
                provider: name.to_owned(),
                nonce: login.nonce,
                pkce_verifier: login.pkce_verifier,
                return_to: return_to.to_owned(),
                created_at: now,
            },
            now - LOGIN_WINDOW_S,
        )
        .await?;
    Ok(Started {
        url: login.url,
        state: login.state,
    })
}

/// What the provider sent the browser back with.
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A finished login: the account, where to go, and the ID token for logging out at the
/// provider later.
pub struct Finished {
    pub user: User,
    pub return_to: String,
    pub id_token: String,
}

/// The callback of provider `name`; `kept_state` is the state the browser kept.
pub async fn finish(
    uc: &UseCases,
    name: &str,
    callback: Callback,
    kept_state: Option<&str>,
) -> Result<Finished, OidcRefusal> {
    let provider = provider(uc, name).ok_or(OidcRefusal::UnknownProvider)?;
    // The state must be this browser's and not yet used; only then is anything else in
    // the answer (even an error from the provider) taken seriously.
    let pending = match (&callback.state, kept_state) {
        (Some(sent), Some(kept)) if sent == kept => {
            uc.store.take_oidc_login(&hash_token(sent)).await?
        }
        (sent, kept) => {
            tracing::warn!(provider = %name, state_sent = sent.is_some(), state_cookie = kept.is_some(), "OpenID callback with a state this browser did not start");
            None
        }
    };
    let now = uc.clock.now();
    let Some(pending) =
        pending.filter(|p| p.provider == name && now - p.created_at <= LOGIN_WINDOW_S)
    else {
        tracing::warn!(provider = %name, "OpenID callback with an unknown, used or expired state");
        return Err(OidcRefusal::StateInvalid);
    };
    if let Some(error) = &callback.error {
        let reason = callback
            .error_description
            .clone()
            .unwrap_or_else(|| error.clone());
        tracing::info!(provider = %name, %error, %reason, "the provider ended the login");
        return Err(OidcRefusal::ProviderRefused(reason));
    }
    let code = callback.code.ok_or(OidcRefusal::StateInvalid)?;
    let identity = provider
        .finish(code, &pending.nonce, pending.pkce_verifier)
        .await
        .map_err(|error| {
            match &error {
                OidcError::BadToken(_) => {
                    tracing::warn!(provider = %name, %error, "OpenID login refused")
                }
                _ => tracing::error!(provider = %name, %error, "OpenID login failed"),
            }
            match error {
                OidcError::Unreachable(_) => OidcRefusal::Unreachable,
                OidcError::Refused(_) | OidcError::BadToken(_) => OidcRefusal::TokenRefused,
                OidcError::MissingClaim(_) | OidcError::BadUsername { .. } => {
                    OidcRefusal::NoUsername
                }
                OidcError::UnverifiedEmail => OidcRefusal::EmailUnverified,
            }
        })?;
    let directory = uc.login.ldap.as_deref();
    let user = match signin::oidc_account(uc, &provider, &identity, directory).await {
        Ok(user) => user,
        Err(SignInRefusal::Failed(error)) => return Err(OidcRefusal::Failed(error)),
        Err(SignInRefusal::NameTaken(username)) => {
            tracing::warn!(provider = %name, %username, issuer = %identity.issuer, subject = %identity.subject, "OpenID login refused: the username belongs to an account not linked to this identity, or to the directory; waiting for an administrator on /admin/users");
            return Err(OidcRefusal::NameTaken(username));
        }
        Err(SignInRefusal::Disabled) => {
            tracing::info!(provider = %name, username = %identity.username, "OpenID login of a disabled account");
            return Err(OidcRefusal::Disabled);
        }
    };
    crate::groups::provider_sign_in(uc, &user, name, &identity.groups)
        .await
        .map_err(OidcRefusal::Failed)?;
    tracing::info!(username = %user.username, provider = %name, "logged in through OpenID Connect");
    Ok(Finished {
        user,
        return_to: pending.return_to,
        id_token: identity.id_token,
    })
}

/// Where to send the browser to end its session at provider `name` too (when the
/// provider supports it), coming back to `come_back_to`.
pub async fn logout_url(
    uc: &UseCases,
    name: &str,
    id_token: &str,
    come_back_to: &str,
) -> Option<String> {
    provider(uc, name)?.logout_url(id_token, come_back_to).await
}
