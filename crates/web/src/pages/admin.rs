//! The administrators' user list.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use roomkeeper_store::User;
use serde::Deserialize;

use super::{Chrome, PageForm, PagePath, render_with_status};
use crate::accounts;
use crate::extract::{Admin, ClientAddr};
use crate::i18n::{Lang, Tr};
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
    users: roomkeeper_store::Paged<User>,
    /// OpenID logins refused because their name belongs to another account.
    sign_ins: Vec<roomkeeper_store::OidcCollision>,
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
    let users = state
        .store
        .users_page(
            flash
                .search
                .as_deref()
                .filter(|q| !q.trim().is_empty())
                .map(str::trim),
            roomkeeper_store::Page::new(flash.page, USERS_PER_PAGE),
        )
        .await?;
    let sign_ins = state.store.oidc_collisions().await?;
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
    lang: Lang,
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
    lang: Lang,
    Admin(admin): Admin,
    PageForm(form): PageForm<NewUserForm>,
) -> Result<Response, PageError> {
    let t = Tr::new(lang);
    let is_admin = form.is_admin.is_some();
    let display_name = Some(form.display_name.trim().to_owned());
    let (status, flash) = match accounts::create_local_user(
        &state,
        &form.username,
        display_name,
        is_admin,
    )
    .await
    {
        Ok((user, password)) => {
            tracing::info!(admin = %admin.user.username, username = %user.username, is_admin, "account created");
            let notice = t.with("admin-users-created", &[("username", user.username)]);
            (
                StatusCode::CREATED,
                Flash {
                    notice: Some(notice),
                    secret: Some(password),
                    ..Flash::default()
                },
            )
        }
        Err(Error::Conflict {
            code: "username_taken",
            ..
        }) => (
            StatusCode::CONFLICT,
            Flash {
                error: Some(t.t("admin-users-exists")),
                ..Flash::default()
            },
        ),
        Err(Error::Invalid { .. }) => (
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
        Err(Error::Conflict {
            code: "last_admin", ..
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
    lang: Lang,
    Admin(admin): Admin,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<SwitchForm>,
) -> Result<Response, PageError> {
    let result = accounts::set_admin(&state, id, form.on).await;
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
    username: String,
    rooms: Vec<crate::rooms::RoomView>,
    error: Option<String>,
}

/// Disabling someone who owns rooms first asks what becomes of the rooms: nobody could
/// manage them otherwise. The chosen transfer or release happens before the disabling.
async fn set_disabled(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<DisableForm>,
) -> Result<Response, PageError> {
    if form.on {
        // Refuse before anything else moves: a refused disabling must change nothing.
        if let Err(error) = accounts::refuse_losing_last_admin(&state, id).await {
            return apply_change(&state, lang, &admin.user, Err(error)).await;
        }
        let user = state.store.user_by_id(id).await?.ok_or(Error::NotFound)?;
        let owned = accounts::rooms_owned_by(&state, &user.username).await?;
        if !owned.is_empty() {
            let address = crate::rooms::address_text(address);
            let audit = crate::rooms::audit(&state, &admin.user, address.as_deref());
            let problem = match form.rooms.as_deref() {
                Some("release") => {
                    for room in &owned {
                        state.store.release_room(room.id, &audit).await?;
                    }
                    None
                }
                Some("transfer") => match roomkeeper_domain::Username::parse(&form.transfer_to) {
                    Ok(to) if to.as_str() != user.username => {
                        for room in &owned {
                            state
                                .store
                                .transfer_room(room.id, to.as_str(), &audit)
                                .await?;
                        }
                        None
                    }
                    _ => Some(Tr::new(lang).t("disable-transfer-needs-user")),
                },
                _ => Some(String::new()),
            };
            if let Some(message) = problem {
                let page = DisablePage {
                    page: Chrome::for_user(&state, lang, &admin.user, "/admin/users").await?,
                    user_id: id,
                    username: user.username,
                    rooms: owned
                        .into_iter()
                        .map(|r| crate::rooms::RoomView::new(&state, r))
                        .collect(),
                    error: (!message.is_empty()).then_some(message),
                };
                return Ok(render_with_status(StatusCode::CONFLICT, &page));
            }
        }
    }
    let result = accounts::set_disabled(&state, id, form.on).await;
    if result.is_ok() {
        tracing::info!(admin = %admin.user.username, user_id = id, disabled = form.on, "account status changed");
    }
    apply_change(&state, lang, &admin.user, result).await
}

async fn reset_password(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    let (user, password) = accounts::reset_password(&state, id).await?;
    tracing::info!(admin = %admin.user.username, username = %user.username, "one-time password issued");
    let notice = Tr::new(lang).with("admin-users-reset-done", &[("username", user.username)]);
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
    action: String,
    confirm: Option<String>,
}

/// An administrator's answer to a refused OpenID login: link that identity to the
/// account of its username (they checked it is the same person), or dismiss it.
async fn resolve_sign_in(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<SignInForm>,
) -> Result<Response, PageError> {
    let t = Tr::new(lang);
    let waiting = state.store.oidc_collisions().await?;
    let Some(entry) = waiting
        .iter()
        .find(|c| c.issuer == form.issuer && c.subject == form.subject)
    else {
        let flash = Flash {
            error: Some(t.t("admin-sign-ins-gone")),
            ..Flash::default()
        };
        return users_page(&state, lang, &admin.user, StatusCode::NOT_FOUND, flash).await;
    };
    let link_to = match form.action.as_str() {
        "link" if form.confirm.as_deref() == Some("yes") => {
            match roomkeeper_domain::Username::parse(&entry.username) {
                Ok(name) => state.store.user_by_name(&name).await?,
                Err(_) => None,
            }
        }
        "dismiss" => None,
        _ => {
            return Err(
                Error::BadRequest("choose link (with its confirmation) or dismiss".into()).into(),
            );
        }
    };
    if form.action == "link" && link_to.is_none() {
        let flash = Flash {
            error: Some(t.t("admin-sign-ins-gone")),
            ..Flash::default()
        };
        return users_page(&state, lang, &admin.user, StatusCode::NOT_FOUND, flash).await;
    }
    let now = state.clock.now();
    let resolved = state
        .store
        .resolve_oidc_collision(
            &entry.issuer,
            &entry.subject,
            link_to.as_ref().map(|u| u.id),
            now,
        )
        .await?;
    let address = crate::rooms::address_text(address);
    let audit = crate::rooms::audit(&state, &admin.user, address.as_deref());
    let (action, notice) = match &link_to {
        Some(user) => (
            "sign_in_linked",
            t.with(
                "admin-sign-ins-linked",
                &[
                    ("username", user.username.clone()),
                    ("provider", resolved.provider.clone()),
                ],
            ),
        ),
        None => ("sign_in_dismissed", t.t("admin-sign-ins-dismissed")),
    };
    state
        .store
        .record_audit(
            &audit,
            action,
            None,
            Some(&resolved.username),
            &format!(
                "{} subject {} at {}",
                resolved.provider, resolved.subject, resolved.issuer
            ),
        )
        .await?;
    tracing::info!(admin = %admin.user.username, username = %resolved.username, issuer = %resolved.issuer, subject = %resolved.subject, action, "refused OpenID login resolved");
    let flash = Flash {
        notice: Some(notice),
        ..Flash::default()
    };
    users_page(&state, lang, &admin.user, StatusCode::OK, flash).await
}
