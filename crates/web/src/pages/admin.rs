//! The administrators' user list.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use roomkeeper_domain::User;
use roomkeeper_domain::{Refusal, RefusalKind};
use serde::Deserialize;

use super::{Chrome, PageForm, PagePath, render_with_status};
use roomkeeper_usecases::accounts::{self, OwnedRooms, SignInAnswer};

use crate::extract::{Admin, ClientAddr};
use crate::i18n::{Lang, Language, Tr};
use crate::{AppState, Error, PageError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users).post(create_user))
        .route("/admin/users/{id}/admin", post(set_admin))
        .route("/admin/users/{id}/disabled", post(set_disabled))
        .route("/admin/users/{id}/reset-password", post(reset_password))
        .route("/admin/users/sign-ins", post(resolve_sign_in))
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    page: Chrome,
    me_id: i64,
    users: roomkeeper_domain::Paged<User>,
    /// OpenID logins refused because their name is (or may be) someone else's.
    sign_ins: Vec<accounts::RefusedSignIn>,
    pager: super::Pager,
    query: String,
    notice: Option<String>,
    secret: Option<String>,
    error: Option<String>,
}

const USERS_PER_PAGE: u32 = 50;

#[derive(Default)]
struct Flash {
    notice: Option<String>,
    secret: Option<String>,
    error: Option<String>,
    /// The list's search and page (from the query string).
    search: Option<String>,
    page: u32,
}

async fn users_page(
    state: &AppState,
    lang: Lang,
    admin: &User,
    status: StatusCode,
    flash: Flash,
) -> Result<Response, PageError> {
    let uc = &state.usecases;
    let page = roomkeeper_domain::Page::new(flash.page, USERS_PER_PAGE);
    let users = accounts::users_page(uc, flash.search.as_deref(), page).await?;
    let sign_ins = accounts::refused_sign_ins(uc).await?;
    let pager = super::Pager::new(
        &users,
        "/admin/users",
        &[("q", flash.search.as_deref().unwrap_or(""))],
    );
    Ok(render_with_status(
        status,
        &UsersPage {
            page: Chrome::for_user(state, lang, admin, "/admin/users").await?,
            me_id: admin.id,
            query: flash.search.clone().unwrap_or_default(),
            users,
            sign_ins,
            pager,
            notice: flash.notice,
            secret: flash.secret,
            error: flash.error,
        },
    ))
}

#[derive(Deserialize)]
struct UsersQuery {
    q: Option<String>,
    page: Option<u32>,
}

async fn users(
    State(state): State<AppState>,
    Language(lang): Language,
    Admin(admin): Admin,
    axum::extract::Query(query): axum::extract::Query<UsersQuery>,
) -> Result<Response, PageError> {
    let flash = Flash {
        search: query.q,
        page: query.page.unwrap_or(1),
        ..Flash::default()
    };
    users_page(&state, lang, &admin.user, StatusCode::OK, flash).await
}

#[derive(Deserialize)]
struct NewUserForm {
    username: String,
    #[serde(default)]
    display_name: String,
    is_admin: Option<String>,
}

async fn create_user(
    State(state): State<AppState>,
    Language(lang): Language,
    Admin(admin): Admin,
    PageForm(form): PageForm<NewUserForm>,
) -> Result<Response, PageError> {
    let t = Tr::new(lang);
    let is_admin = form.is_admin.is_some();
    let display_name = Some(form.display_name.trim().to_owned());
    let (status, flash) = match accounts::create_local_user(
        &state.usecases,
        &form.username,
        display_name,
        is_admin,
    )
    .await
    .map_err(Error::from)
    {
        Ok((user, password)) => {
            tracing::info!(admin = %admin.user.username, username = %user.username, is_admin, "account created");
            let notice = t.with(
                "admin-users-created",
                &[("username", user.username.to_string())],
            );
            (
                StatusCode::CREATED,
                Flash {
                    notice: Some(notice),
                    secret: Some(password),
                    ..Flash::default()
                },
            )
        }
        Err(Error::Refused {
            refusal: Refusal::UsernameTaken,
            ..
        }) => (
            StatusCode::CONFLICT,
            Flash {
                error: Some(t.t("admin-users-exists")),
                ..Flash::default()
            },
        ),
        Err(Error::Refused { refusal, .. }) if refusal.kind() == RefusalKind::Invalid => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Flash {
                error: Some(t.t("username-invalid")),
                ..Flash::default()
            },
        ),
        Err(e) => return Err(e.into()),
    };
    users_page(&state, lang, &admin.user, status, flash).await
}

#[derive(Deserialize)]
struct SwitchForm {
    on: bool,
}

/// Runs a role or status change and goes back to the list, or shows why it was refused.
async fn apply_change(
    state: &AppState,
    lang: Lang,
    admin: &User,
    result: Result<(), Error>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to("/admin/users").into_response()),
        Err(Error::Refused {
            refusal: Refusal::LastAdmin,
            ..
        }) => {
            let flash = Flash {
                error: Some(Tr::new(lang).t("admin-users-last-admin")),
                ..Flash::default()
            };
            users_page(state, lang, admin, StatusCode::CONFLICT, flash).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn set_admin(
    State(state): State<AppState>,
    Language(lang): Language,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<SwitchForm>,
) -> Result<Response, PageError> {
    let acting = admin.acting(address);
    let result = accounts::set_admin(&state.usecases, Some(&acting), id, form.on)
        .await
        .map_err(Error::from);
    if result.is_ok() {
        tracing::info!(admin = %admin.user.username, user_id = id, is_admin = form.on, "admin role changed");
    }
    apply_change(&state, lang, &admin.user, result).await
}

#[derive(Deserialize)]
struct DisableForm {
    on: bool,
    /// What happens to the rooms the user owns: `transfer` or `release`.
    rooms: Option<String>,
    #[serde(default)]
    transfer_to: String,
}

#[derive(Template)]
#[template(path = "admin_disable.html")]
struct DisablePage {
    page: Chrome,
    user_id: i64,
    username: roomkeeper_domain::Username,
    rooms: Vec<crate::views::RoomView>,
    error: Option<String>,
}

/// Disabling someone who owns rooms first asks what becomes of the rooms: nobody could
/// manage them otherwise. The chosen transfer or release happens before the disabling.
async fn set_disabled(
    State(state): State<AppState>,
    Language(lang): Language,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<DisableForm>,
) -> Result<Response, PageError> {
    let uc = &state.usecases;
    if !form.on {
        let result = accounts::enable(uc, id).await.map_err(Error::from);
        if result.is_ok() {
            tracing::info!(admin = %admin.user.username, user_id = id, disabled = false, "account status changed");
        }
        return apply_change(&state, lang, &admin.user, result).await;
    }
    let transfer_to = form.transfer_to.trim();
    let rooms = match form.rooms.as_deref() {
        Some("release") => OwnedRooms::Release,
        Some("transfer") => OwnedRooms::TransferTo(transfer_to),
        _ => OwnedRooms::Refuse,
    };
    let acting = admin.acting(address);
    let result = accounts::disable(uc, Some(&acting), id, rooms)
        .await
        .map_err(Error::from);
    // Someone who owns rooms: ask what becomes of them (again, when the answer did not
    // name someone else to give them to).
    let problem = match &result {
        Err(Error::Refused {
            refusal: Refusal::OwnsRooms,
            ..
        }) => Some(None),
        Err(Error::Refused { refusal, .. })
            if refusal.kind() == RefusalKind::Invalid
                && matches!(rooms, OwnedRooms::TransferTo(_)) =>
        {
            Some(Some(Tr::new(lang).t("disable-transfer-needs-user")))
        }
        _ => None,
    };
    if let Some(message) = problem {
        let user = accounts::user(uc, id).await?;
        let owned = accounts::rooms_owned_by(uc, &user.username).await?;
        let page = DisablePage {
            page: Chrome::for_user(&state, lang, &admin.user, "/admin/users").await?,
            user_id: id,
            username: user.username,
            rooms: owned
                .into_iter()
                .map(|r| crate::views::RoomView::new(&state, r))
                .collect(),
            error: message,
        };
        return Ok(render_with_status(StatusCode::CONFLICT, &page));
    }
    if result.is_ok() {
        tracing::info!(admin = %admin.user.username, user_id = id, disabled = true, "account status changed");
    }
    apply_change(&state, lang, &admin.user, result).await
}

async fn reset_password(
    State(state): State<AppState>,
    Language(lang): Language,
    Admin(admin): Admin,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    let (user, password) = accounts::reset_password(&state.usecases, id).await?;
    tracing::info!(admin = %admin.user.username, username = %user.username, "one-time password issued");
    let notice = Tr::new(lang).with(
        "admin-users-reset-done",
        &[("username", user.username.to_string())],
    );
    let flash = Flash {
        notice: Some(notice),
        secret: Some(password),
        ..Flash::default()
    };
    users_page(&state, lang, &admin.user, StatusCode::OK, flash).await
}

#[derive(Deserialize)]
struct SignInForm {
    issuer: String,
    subject: String,
    /// The account the administrator saw: what the answer is about.
    username: String,
    action: String,
    confirm: Option<String>,
}

/// An administrator's answer to a refused OpenID login: link that identity to the
/// account of its username (they checked it is the same person), or dismiss it.
async fn resolve_sign_in(
    State(state): State<AppState>,
    Language(lang): Language,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<SignInForm>,
) -> Result<Response, PageError> {
    let t = Tr::new(lang);
    let answer = match form.action.as_str() {
        "link" if form.confirm.as_deref() == Some("yes") => SignInAnswer::Link,
        "dismiss" => SignInAnswer::Dismiss,
        _ => {
            return Err(
                Error::BadRequest("choose link (with its confirmation) or dismiss".into()).into(),
            );
        }
    };
    let acting = admin.acting(address);
    let resolved = accounts::resolve_sign_in(
        &state.usecases,
        &acting,
        &form.issuer,
        &form.subject,
        &form.username,
        answer,
    )
    .await;
    let notice = match resolved {
        Ok((resolved, Some(user))) => t.with(
            "admin-sign-ins-linked",
            &[
                ("username", user.username.to_string()),
                ("provider", resolved.provider),
            ],
        ),
        Ok((_, None)) => t.t("admin-sign-ins-dismissed"),
        Err(roomkeeper_usecases::Error::NotFound) => {
            let flash = Flash {
                error: Some(t.t("admin-sign-ins-gone")),
                ..Flash::default()
            };
            return users_page(&state, lang, &admin.user, StatusCode::NOT_FOUND, flash).await;
        }
        Err(roomkeeper_usecases::Error::Refused {
            refusal: Refusal::SignInChanged,
            ..
        }) => {
            let flash = Flash {
                error: Some(t.t("admin-sign-ins-changed")),
                ..Flash::default()
            };
            return users_page(&state, lang, &admin.user, StatusCode::CONFLICT, flash).await;
        }
        Err(other) => return Err(Error::from(other).into()),
    };
    let flash = Flash {
        notice: Some(notice),
        ..Flash::default()
    };
    users_page(&state, lang, &admin.user, StatusCode::OK, flash).await
}
