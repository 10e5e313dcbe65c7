//! Logging in through an OpenID provider: the button sends the browser to the provider,
//! the provider sends it back to the callback (`usecases::oidc` does the rest). The
//! browser carries `state` in a cookie too, so a callback that a third party started
//! (login CSRF) or replayed is refused.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use serde::Deserialize;

use super::{LoginPage, PagePath, lang_cookie, render_with_status, safe_local_path};
use crate::i18n::{Lang, Language, Tr};
use roomkeeper_usecases::oidc::{self, OidcRefusal};

use crate::session;
use crate::{AppState, Error, PageError};

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
    Language(lang): Language,
    PagePath(name): PagePath<String>,
    Query(query): Query<StartQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let next = safe_local_path(query.next.as_deref().unwrap_or("/")).to_owned();
    match oidc::start(&state.usecases, &name, &next).await {
        Ok(started) => {
            let jar = jar.add(state_cookie(&state, started.state, oidc::LOGIN_WINDOW_S));
            Ok((jar, Redirect::to(&started.url)).into_response())
        }
        Err(refused) => Ok(refusal_page(&state, Tr::new(lang), jar, &name, refused)?),
    }
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
    Language(lang): Language,
    PagePath(name): PagePath<String>,
    Query(query): Query<CallbackQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let kept = jar
        .get(state_cookie_name(&state))
        .map(|c| c.value().to_owned());
    let callback = oidc::Callback {
        code: query.code,
        state: query.state,
        error: query.error,
        error_description: query.error_description,
    };
    let finished = match oidc::finish(&state.usecases, &name, callback, kept.as_deref()).await {
        Ok(finished) => finished,
        Err(refused) => return Ok(refusal_page(&state, Tr::new(lang), jar, &name, refused)?),
    };
    let user = &finished.user;
    let cookie =
        session::start_session_through(&state, user, Some((&name, &finished.id_token))).await?;
    let mut jar = jar.add(cookie).add(state_cookie(&state, String::new(), 0));
    if let Some(saved) = user.language.as_deref().and_then(Lang::parse) {
        jar = jar.add(lang_cookie(saved));
    }
    Ok((jar, Redirect::to(safe_local_path(&finished.return_to))).into_response())
}

/// The login page again, saying why a login through provider `name` did not happen.
fn refusal_page(
    state: &AppState,
    t: Tr,
    jar: CookieJar,
    name: &str,
    refused: OidcRefusal,
) -> Result<Response, Error> {
    let label = || {
        vec![(
            "provider",
            oidc::label(&state.usecases, name).unwrap_or_default(),
        )]
    };
    let (status, message) = match refused {
        OidcRefusal::UnknownProvider => return Err(Error::NotFound),
        OidcRefusal::Failed(error) => return Err(error.into()),
        OidcRefusal::StateInvalid => (StatusCode::BAD_REQUEST, t.t("oidc-state-invalid")),
        OidcRefusal::ProviderRefused(reason) => {
            let mut args = label();
            args.push(("reason", reason));
            (
                StatusCode::FORBIDDEN,
                t.with("oidc-provider-refused", &args),
            )
        }
        OidcRefusal::Unreachable => (StatusCode::BAD_GATEWAY, t.with("oidc-unreachable", label())),
        OidcRefusal::TokenRefused => (StatusCode::FORBIDDEN, t.with("oidc-token-refused", label())),
        OidcRefusal::NoUsername => (StatusCode::FORBIDDEN, t.with("oidc-no-username", label())),
        OidcRefusal::EmailUnverified => (
            StatusCode::FORBIDDEN,
            t.with("oidc-email-unverified", label()),
        ),
        OidcRefusal::NameTaken(username) => (
            StatusCode::FORBIDDEN,
            t.with("oidc-name-taken", &[("username", username)]),
        ),
        OidcRefusal::Disabled => (StatusCode::FORBIDDEN, t.t("oidc-disabled")),
    };
    Ok(refusal(state, t, jar, status, message))
}
