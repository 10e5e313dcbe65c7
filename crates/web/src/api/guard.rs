//! The room guard and "Join as moderator" (owner, co-owners, admins), as JSON.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use roomkeeper_domain::Refusal;
use roomkeeper_domain::{GuardSettings, LobbyMode, ModeratorGuard};
use roomkeeper_usecases::guard::{self, NewJoinCode};
use serde::Deserialize;

use super::ApiJson;
use crate::extract::{Access, ClientAddr, ControlMeeting};
use crate::{ApiError, AppState, Error};

pub async fn get_guard(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
) -> Result<Json<GuardSettings>, ApiError> {
    Ok(Json(
        guard::settings(&state.usecases, &access.resource).await?,
    ))
}

/// Every field is required, so a script cannot turn a guard off by leaving it out; only
/// `lobby`, newer than the scripts written against this API, may be left out, and then
/// stays as it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardBody {
    password_guard: bool,
    moderator_guard: String,
    in_use_alert_minutes: Option<u32>,
    #[serde(default)]
    lobby: Option<String>,
}

pub async fn set_guard(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<GuardBody>,
) -> Result<Json<GuardSettings>, ApiError> {
    let moderator_guard = ModeratorGuard::parse(&body.moderator_guard)
        .map_err(|e| Error::refused(Refusal::InvalidGuard, e.to_string()))?;
    let lobby = match body.lobby.as_deref() {
        Some(text) => LobbyMode::parse(text)
            .map_err(|e| Error::refused(Refusal::InvalidGuard, e.to_string()))?,
        None => {
            guard::settings(&state.usecases, &access.resource)
                .await?
                .lobby
        }
    };
    let settings = GuardSettings {
        password_guard: body.password_guard,
        moderator_guard,
        in_use_alert_minutes: body.in_use_alert_minutes,
        lobby,
    };
    let acting = access.current.acting(address);
    Ok(Json(
        guard::set_settings(&state.usecases, &acting, &access.resource, settings).await?,
    ))
}

pub async fn create_join_code(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
) -> Result<(StatusCode, Json<NewJoinCode>), ApiError> {
    let acting = access.current.acting(address);
    let code = guard::create_join_code(&state.usecases, &acting, &access.resource).await?;
    Ok((StatusCode::CREATED, Json(code)))
}
