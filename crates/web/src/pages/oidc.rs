//! Logging in through an OpenID provider: the button sends the browser to the provider,
//! the provider sends it back to the callback. The secrets in between (state, nonce,
//! PKCE verifier) live in the database, keyed by the hash of `state` and taken once; the
//! browser also carries `state` in a cookie, so a callback that a third party started
//! (login CSRF) or replayed is refused.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use roomkeeper_auth::{OidcError, hash_token};
use serde::Deserialize;

use super::{LoginPage, PagePath, lang_cookie, render_with_status, safe_local_path};
use crate::i18n::{Lang, Tr};
use roomkeeper_usecases::signin::{self, SignInRefusal};

use crate::session;
use crate::{AppState, Error, PageError};

/// How long a person may take at the provider's login page.
const LOGIN_WINDOW_S: i64 = 600;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/oidc/{provider}", get(start))
        .route("/login/oidc/{provider}/callback", get(callback))
}

fn state_cookie_name(state: &AppState) -> &'static str {
    if state.http.is_https() {
        "__Host-roomkeeper_oidc"
    } else {
        "roomkeeper_oidc"
    }
}

fn state_cookie(state: &AppState, value: String, max_age_s: i64) -> Cookie<'static> {
    session::private_cookie(&state.http, state_cookie_name(state), value, max_age_s)
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

async fn start(
    State(state): State<AppState>,
    lang: Lang,
    PagePath(name): PagePath<String>,
    Query(query): Query<StartQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let provider = state.oidc_provider(&name).ok_or(Error::NotFound)?.clone();
    let next = safe_local_path(query.next.as_deref().unwrap_or("/")).to_owned();
    let login = match provider.start().await {
        Ok(login) => login,
        Err(error) => {
            tracing::error!(provider = %name, %error, "OpenID login cannot start");
            let t = Tr::new(lang);
            let message = t.with("oidc-unreachable", &[("provider", provider.label().into())]);
            return Ok(refusal(&state, t, jar, StatusCode::BAD_GATEWAY, message));
        }
    };
    let now = state.usecases.clock.now();
    roomkeeper_usecases::signin::remember_oidc_login(
        &state.usecases,
        &roomkeeper_domain::OidcLogin {
            state_hash: hash_token(&login.state),
            provider: name,
            nonce: login.nonce,
            pkce_verifier: login.pkce_verifier,
            return_to: next,
            created_at: now,
        },
        now - LOGIN_WINDOW_S,
    )
    .await?;
    let jar = jar.add(state_cookie(&state, login.state, LOGIN_WINDOW_S));
    Ok((jar, Redirect::to(&login.url)).into_response())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The login page again, with why the login failed; the state cookie is cleared.
fn refusal(
    state: &AppState,
    t: Tr,
    jar: CookieJar,
    status: StatusCode,
    message: String,
) -> Response {
    let page = LoginPage::new(state, t, String::new(), String::new(), Some(message));
    let jar = jar.add(state_cookie(state, String::new(), 0));
    (jar, render_with_status(status, &page)).into_response()
}

async fn callback(
    State(state): State<AppState>,
    lang: Lang,
    PagePath(name): PagePath<String>,
    Query(query): Query<CallbackQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let provider = state.oidc_provider(&name).ok_or(Error::NotFound)?.clone();
    let t = Tr::new(lang);
    let label = || vec![("provider", provider.label().to_owned())];
    let from_browser = jar
        .get(state_cookie_name(&state))
        .map(|c| c.value().to_owned());
    // The state must be this browser's and not yet used; only then is anything else in
    // the answer (even an error from the provider) taken seriously.
    let pending = match (&query.state, from_browser) {
        (Some(sent), Some(kept)) if *sent == kept => {
            roomkeeper_usecases::signin::take_oidc_login(&state.usecases, &hash_token(sent)).await?
        }
        (sent, kept) => {
            tracing::warn!(provider = %name, state_sent = sent.is_some(), state_cookie = kept.is_some(), "OpenID callback with a state this browser did not start");
            None
        }
    };
    let now = state.usecases.clock.now();
    let Some(pending) =
        pending.filter(|p| p.provider == name && now - p.created_at <= LOGIN_WINDOW_S)
    else {
        tracing::warn!(provider = %name, "OpenID callback with an unknown, used or expired state");
        let message = t.t("oidc-state-invalid");
        return Ok(refusal(&state, t, jar, StatusCode::BAD_REQUEST, message));
    };
    if let Some(error) = &query.error {
        let reason = query
            .error_description
            .clone()
            .unwrap_or_else(|| error.clone());
        tracing::info!(provider = %name, %error, %reason, "the provider ended the login");
        let mut args = label();
        args.push(("reason", reason));
        let message = t.with("oidc-provider-refused", &args);
        return Ok(refusal(&state, t, jar, StatusCode::FORBIDDEN, message));
    }
    let Some(code) = query.code else {
        let message = t.t("oidc-state-invalid");
        return Ok(refusal(&state, t, jar, StatusCode::BAD_REQUEST, message));
    };
    let identity = match provider
        .finish(code, &pending.nonce, pending.pkce_verifier)
        .await
    {
        Ok(identity) => identity,
        Err(error) => {
            let (status, key) = match &error {
                OidcError::Unreachable(_) => (StatusCode::BAD_GATEWAY, "oidc-unreachable"),
                OidcError::Refused(_) | OidcError::BadToken(_) => {
                    (StatusCode::FORBIDDEN, "oidc-token-refused")
                }
                OidcError::MissingClaim(_) | OidcError::BadUsername { .. } => {
                    (StatusCode::FORBIDDEN, "oidc-no-username")
                }
                OidcError::UnverifiedEmail => (StatusCode::FORBIDDEN, "oidc-email-unverified"),
            };
            match &error {
                OidcError::BadToken(_) => {
                    tracing::warn!(provider = %name, %error, "OpenID login refused")
                }
                _ => tracing::error!(provider = %name, %error, "OpenID login failed"),
            }
            let message = t.with(key, label());
            return Ok(refusal(&state, t, jar, status, message));
        }
    };
    let directory = state.usecases.login.ldap.as_deref();
    let user = match signin::oidc_account(&state.usecases, &provider, &identity, directory).await {
        Ok(user) => user,
        Err(SignInRefusal::Failed(error)) => return Err(Error::from(error).into()),
        Err(refusal_reason) => {
            let message = match refusal_reason {
                SignInRefusal::NameTaken(username) => {
                    tracing::warn!(provider = %name, %username, issuer = %identity.issuer, subject = %identity.subject, "OpenID login refused: the username belongs to an account not linked to this identity, or to the directory; waiting for an administrator on /admin/users");
                    t.with("oidc-name-taken", &[("username", username)])
                }
                _ => {
                    tracing::info!(provider = %name, username = %identity.username, "OpenID login of a disabled account");
                    t.t("oidc-disabled")
                }
            };
            return Ok(refusal(&state, t, jar, StatusCode::FORBIDDEN, message));
        }
    };
    let cookie =
        session::start_session_through(&state, &user, Some((&name, &identity.id_token))).await?;
    tracing::info!(username = %user.username, provider = %name, "logged in through OpenID Connect");
    let mut jar = jar.add(cookie).add(state_cookie(&state, String::new(), 0));
    if let Some(saved) = user.language.as_deref().and_then(Lang::parse) {
        jar = jar.add(lang_cookie(saved));
    }
    Ok((jar, Redirect::to(safe_local_path(&pending.return_to))).into_response())
}
