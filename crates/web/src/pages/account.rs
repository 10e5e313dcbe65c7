//! The profile page: password, language, API tokens.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use roomkeeper_domain::ParseError;
use roomkeeper_domain::{ApiToken, User};
use roomkeeper_domain::{Refusal, RefusalKind};
use serde::Deserialize;

use super::{Chrome, PageForm, PagePath, render_with_status};
use crate::extract::{AnyUser, CurrentUser};
use crate::i18n::{Lang, Language};
use crate::{AppState, Error, PageError, session};
use roomkeeper_usecases::accounts::{self, PasswordChangeError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/profile", get(profile))
        .route("/profile/password", post(change_password))
        .route("/profile/email", post(set_email))
        .route("/profile/tokens", post(create_token))
        .route("/profile/tokens/{id}/revoke", post(revoke_token))
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    page: Chrome,
    user: User,
    tokens: Vec<ApiToken>,
    /// The expiries the token form offers (days), the operator's limit last.
    token_days: Vec<u32>,
    /// The one chosen at first: 90 days, or the limit when that is shorter.
    token_default: u32,
    new_token: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

/// What to show besides the page itself.
#[derive(Default)]
struct Flash {
    new_token: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

async fn profile_page(
    state: &AppState,
    lang: Lang,
    user: User,
    status: StatusCode,
    flash: Flash,
) -> Result<Response, PageError> {
    let tokens = accounts::tokens(&state.usecases, &user).await?;
    let page = Chrome::for_user(state, lang, &user, "/profile").await?;
    let longest = state.usecases.sessions.token_max_days;
    let mut token_days: Vec<u32> = [30, 90, 365].into_iter().filter(|d| *d < longest).collect();
    token_days.push(longest);
    let token_default = if longest > 90 { 90 } else { longest };
    Ok(render_with_status(
        status,
        &ProfilePage {
            page,
            user,
            tokens,
            token_days,
            token_default,
            new_token: flash.new_token,
            notice: flash.notice,
            error: flash.error,
        },
    ))
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn profile(
    State(state): State<AppState>,
    Language(lang): Language,
    AnyUser(current): AnyUser,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let t = crate::i18n::Tr::new(lang);
    // Only known notices are shown: the query string must not put text on our page.
    let notice = match query.notice.as_deref() {
        Some("password-changed") => Some(t.t("profile-password-changed")),
        Some("email-saved") => Some(t.t("profile-email-saved")),
        _ => None,
    };
    let flash = Flash {
        notice,
        ..Flash::default()
    };
    profile_page(&state, lang, current.user, StatusCode::OK, flash).await
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
    /// Ticked: the account's API tokens end with the old password.
    #[serde(default)]
    end_tokens: Option<String>,
}

async fn change_password(
    State(state): State<AppState>,
    Language(lang): Language,
    AnyUser(current): AnyUser,
    jar: CookieJar,
    PageForm(form): PageForm<PasswordForm>,
) -> Result<Response, PageError> {
    let t = crate::i18n::Tr::new(lang);
    let problem = if form.new != form.confirm {
        Some(t.t("profile-password-mismatch"))
    } else {
        let uc = &state.usecases;
        let end_tokens = form.end_tokens.is_some();
        match accounts::change_password(uc, &current.user, form.current, &form.new, end_tokens)
            .await
        {
            Ok(()) => None,
            Err(PasswordChangeError::WrongCurrent) => Some(t.t("profile-password-wrong")),
            Err(PasswordChangeError::Invalid(ParseError::PasswordTooLong { .. })) => {
                Some(t.t("profile-password-too-long"))
            }
            Err(PasswordChangeError::Invalid(_)) => Some(t.t("profile-password-too-short")),
            Err(PasswordChangeError::Other(e)) => return Err(e.into()),
        }
    };
    if let Some(error) = problem {
        let flash = Flash {
            error: Some(error),
            ..Flash::default()
        };
        return profile_page(
            &state,
            lang,
            current.user,
            StatusCode::UNPROCESSABLE_ENTITY,
            flash,
        )
        .await;
    }
    // Every session of the account ended with the change; this browser gets a new one.
    let cookie = session::start_session(&state, &current.user).await?;
    Ok((
        jar.add(cookie),
        Redirect::to("/profile?notice=password-changed"),
    )
        .into_response())
}

#[derive(Deserialize)]
struct TokenForm {
    name: String,
    /// Empty: as long as the operator allows.
    #[serde(default)]
    expires_in_days: String,
}

async fn create_token(
    State(state): State<AppState>,
    Language(lang): Language,
    current: CurrentUser,
    PageForm(form): PageForm<TokenForm>,
) -> Result<Response, PageError> {
    let t = crate::i18n::Tr::new(lang);
    let days = match form.expires_in_days.trim() {
        "" => None,
        days => Some(
            days.parse()
                .map_err(|_| Error::BadRequest(format!("{days:?} is not a number of days")))?,
        ),
    };
    let made = accounts::create_token(&state.usecases, &current.user, &form.name, days).await;
    match made {
        Ok((_, secret)) => {
            let flash = Flash {
                new_token: Some(secret),
                ..Flash::default()
            };
            profile_page(&state, lang, current.user, StatusCode::CREATED, flash).await
        }
        Err(roomkeeper_usecases::Error::Refused { refusal, .. })
            if refusal.kind() == RefusalKind::Invalid =>
        {
            let error = if refusal == Refusal::InvalidTokenExpiry {
                t.with(
                    "profile-token-expiry-invalid",
                    [("days", state.usecases.sessions.token_max_days.to_string())],
                )
            } else {
                t.t("profile-token-name-invalid")
            };
            let flash = Flash {
                error: Some(error),
                ..Flash::default()
            };
            profile_page(
                &state,
                lang,
                current.user,
                StatusCode::UNPROCESSABLE_ENTITY,
                flash,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    current: CurrentUser,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    accounts::delete_token(&state.usecases, &current.user, id).await?;
    Ok(Redirect::to("/profile").into_response())
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
}

async fn set_email(
    State(state): State<AppState>,
    Language(lang): Language,
    current: CurrentUser,
    PageForm(form): PageForm<EmailForm>,
) -> Result<Response, PageError> {
    match accounts::set_email(&state.usecases, &current.user, &form.email).await {
        Ok(()) => Ok(Redirect::to("/profile?notice=email-saved").into_response()),
        Err(roomkeeper_usecases::Error::Refused { refusal, .. })
            if refusal.kind() == RefusalKind::Invalid =>
        {
            let flash = Flash {
                error: Some(crate::i18n::Tr::new(lang).t("profile-email-invalid")),
                ..Flash::default()
            };
            profile_page(
                &state,
                lang,
                current.user,
                StatusCode::UNPROCESSABLE_ENTITY,
                flash,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
