use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use roomkeeper_domain::{ApiToken, User};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiPath};
use crate::extract::{AnyUser, ClientAddr, Credential, CurrentUser};
use roomkeeper_usecases::accounts;

use crate::{ApiError, AppState, Error, session};
use axum::extract::State;

#[derive(Serialize)]
pub struct Me {
    username: roomkeeper_domain::Username,
    display_name: String,
    email: Option<String>,
    is_admin: bool,
    must_change_password: bool,
}

impl From<&User> for Me {
    fn from(user: &User) -> Self {
        Me {
            username: user.username.clone(),
            display_name: user.display_name().to_owned(),
            email: user.email.clone(),
            is_admin: user.is_admin,
            must_change_password: user.must_change_password,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

pub async fn log_in(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    jar: CookieJar,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<impl IntoResponse, ApiError> {
    let (user, cookie) = session::log_in(&state, &body.username, body.password, address).await?;
    Ok((
        jar.add(cookie),
        Json(serde_json::json!({ "user": Me::from(&user) })),
    ))
}

pub async fn log_out(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<impl IntoResponse, ApiError> {
    let value = jar
        .get(session::cookie_name(&state.http))
        .map(|c| c.value().to_owned());
    let (removal, _provider_logout) = session::log_out(&state, value.as_deref()).await?;
    Ok((jar.add(removal), StatusCode::NO_CONTENT))
}

pub async fn me(AnyUser(current): AnyUser) -> Json<Me> {
    Json(Me::from(&current.user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
    /// Also revoke the account's API tokens (the one making this request included).
    #[serde(default)]
    revoke_tokens: bool,
}

/// Ends every session of the user; a browser that asked gets a fresh one, a script with
/// a token keeps using its token.
pub async fn change_password(
    State(state): State<AppState>,
    AnyUser(current): AnyUser,
    jar: CookieJar,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<impl IntoResponse, ApiError> {
    accounts::change_password(
        &state.usecases,
        &current.user,
        body.current_password,
        &body.new_password,
        body.revoke_tokens,
    )
    .await
    .map_err(Error::from)?;
    let jar = match current.credential {
        Credential::Session { .. } => jar.add(session::start_session(&state, &current.user).await?),
        Credential::ApiToken { .. } => jar,
    };
    Ok((jar, StatusCode::NO_CONTENT))
}

pub async fn list_tokens(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(
        accounts::tokens(&state.usecases, &current.user).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    name: String,
    /// Days until the token stops working; left out: as long as the operator allows.
    #[serde(default)]
    expires_in_days: Option<i64>,
}

pub async fn create_token(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<impl IntoResponse, ApiError> {
    let (token, secret) = accounts::create_token(
        &state.usecases,
        &current.user,
        &body.name,
        body.expires_in_days,
    )
    .await?;
    let body = serde_json::json!({
        "id": token.id,
        "name": token.name,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "token": secret,
    });
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn delete_token(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    // Someone else's token id is "not found", not "forbidden": ids reveal nothing.
    accounts::delete_token(&state.usecases, &current.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    email: Option<String>,
}

pub async fn set_email(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Json<Me>, ApiError> {
    accounts::set_email(
        &state.usecases,
        &current.user,
        body.email.as_deref().unwrap_or_default(),
    )
    .await?;
    let user = accounts::user(&state.usecases, current.user.id).await?;
    Ok(Json(Me::from(&user)))
}
