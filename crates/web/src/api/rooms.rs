//! Rooms, room requests, patterns, audit and notices in the JSON API.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roomkeeper_domain::Refusal;
use roomkeeper_domain::{Page, Paged, RequestStatus};
use roomkeeper_usecases::groups;
use roomkeeper_usecases::rooms::{self, PatternReport};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiPath};
use crate::extract::{
    Access, Admin, ClientAddr, CurrentUser, ManageRoom, SeeRequest, SeeRoom, WithdrawRequest,
};
use crate::views::{RequestView, RoomView};
use crate::{ApiError, AppState, Error};

pub const DEFAULT_PER_PAGE: u32 = 50;

fn page(number: Option<u32>, per_page: Option<u32>) -> Page {
    Page::new(number.unwrap_or(1), per_page.unwrap_or(DEFAULT_PER_PAGE))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    room: String,
    reason: String,
    #[serde(default)]
    co_owners: Vec<String>,
}

pub async fn create_request(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<NewRequestBody>,
) -> Result<impl IntoResponse, ApiError> {
    let acting = current.acting(address);
    let request = rooms::request(
        &state.usecases,
        &acting,
        &body.room,
        &body.reason,
        &body.co_owners,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(RequestView::new(&state, request))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestListQuery {
    status: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Your requests, newest first; for admins every request, oldest first (the queue).
pub async fn list_requests(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<RequestListQuery>,
) -> Result<Json<Paged<RequestView>>, ApiError> {
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(RequestStatus::parse(text).ok_or_else(|| {
            Error::BadRequest(format!(
                "status {text:?} is not one of pending, approved, rejected, withdrawn"
            ))
        })?),
    };
    let page = page(query.page, query.per_page);
    let list = rooms::requests(&state.usecases, &current.user, status, page).await?;
    Ok(Json(list.map(|r| RequestView::new(&state, r))))
}

pub async fn get_request(
    State(state): State<AppState>,
    access: Access<SeeRequest>,
) -> Json<RequestView> {
    Json(RequestView::new(&state, access.resource))
}

pub async fn withdraw_request(
    State(state): State<AppState>,
    access: Access<WithdrawRequest>,
    ClientAddr(address): ClientAddr,
) -> Result<Json<RequestView>, ApiError> {
    let acting = access.current.acting(address);
    let request = rooms::withdraw_request(&state.usecases, &acting, access.resource.id).await?;
    Ok(Json(RequestView::new(&state, request)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    message: Option<String>,
    pattern: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    message: String,
}

pub async fn approve_request(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Result<Json<RequestView>, ApiError> {
    // The body is optional: approving needs no message.
    let body: ApproveBody = if body.iter().all(u8::is_ascii_whitespace) {
        ApproveBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Error::BadRequest(format!(
                "The request body is not the JSON this endpoint expects: {e}"
            ))
        })?
    };
    let acting = admin.acting(address);
    let decided = rooms::decide_request(
        &state.usecases,
        &acting,
        id,
        true,
        body.pattern.as_deref(),
        body.message.as_deref(),
    )
    .await?;
    Ok(Json(RequestView::new(&state, decided)))
}

pub async fn reject_request(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<RequestView>, ApiError> {
    let acting = admin.acting(address);
    let decided = rooms::decide_request(
        &state.usecases,
        &acting,
        id,
        false,
        None,
        Some(&body.message),
    )
    .await?;
    Ok(Json(RequestView::new(&state, decided)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsBody {
    ids: Vec<i64>,
    decision: String,
    message: Option<String>,
}

#[derive(Serialize)]
pub struct DecisionOutcome {
    id: i64,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<RequestView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<serde_json::Value>,
}

/// Many requests at once. Each is decided on its own: one that was decided meanwhile
/// does not stop the others, and the answer lists each outcome.
pub async fn decide_many(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<DecisionsBody>,
) -> Result<Json<Vec<DecisionOutcome>>, ApiError> {
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(
                Error::BadRequest(format!("decision {other:?} is not approve or reject")).into(),
            );
        }
    };
    if body.ids.len() > 500 {
        return Err(
            Error::refused(Refusal::TooMany, "Decide at most 500 requests at once.").into(),
        );
    }
    let acting = admin.acting(address);
    let mut outcomes = Vec::new();
    for id in body.ids {
        let result = rooms::decide_request(
            &state.usecases,
            &acting,
            id,
            approve,
            None,
            body.message.as_deref(),
        )
        .await
        .map_err(Error::from);
        outcomes.push(match result {
            Ok(request) => DecisionOutcome {
                id,
                ok: true,
                request: Some(RequestView::new(&state, request)),
                error: None,
            },
            Err(error) => DecisionOutcome {
                id,
                ok: false,
                request: None,
                error: Some(
                    serde_json::json!({"code": error.code(), "message": error.to_string()}),
                ),
            },
        });
    }
    Ok(Json(outcomes))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomListQuery {
    /// Any accepted spelling of one room's name.
    name: Option<String>,
    /// Part of a room name or owner.
    q: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Rooms you own or co-own; every room for admins.
pub async fn list_rooms(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<RoomListQuery>,
) -> Result<Json<Paged<RoomView>>, ApiError> {
    let uc = &state.usecases;
    if let Some(name) = query.name.as_deref() {
        let items: Vec<RoomView> = rooms::find(uc, &current.user, name)
            .await?
            .into_iter()
            .map(|r| RoomView::new(&state, r))
            .collect();
        return Ok(Json(Paged {
            total: items.len() as i64,
            items,
            page: 1,
            per_page: 1,
        }));
    }
    let page = page(query.page, query.per_page);
    let list = rooms::list_for(uc, &current.user, query.q.as_deref(), page).await?;
    Ok(Json(list.map(|r| RoomView::new(&state, r))))
}

pub async fn get_room(State(state): State<AppState>, access: Access<SeeRoom>) -> Json<RoomView> {
    Json(RoomView::new(&state, access.resource))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoOwnersBody {
    usernames: Vec<String>,
    /// Left out: the room's groups stay as they are.
    groups: Option<Vec<String>>,
}

pub async fn set_co_owners(
    State(state): State<AppState>,
    access: Access<ManageRoom>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<CoOwnersBody>,
) -> Result<Json<RoomView>, ApiError> {
    let acting = access.current.acting(address);
    let room = rooms::set_co_owners(
        &state.usecases,
        &acting,
        &access.resource,
        &body.usernames,
        body.groups.as_deref(),
    )
    .await?;
    Ok(Json(RoomView::new(&state, room)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    username: String,
}

pub async fn transfer_room(
    State(state): State<AppState>,
    access: Access<ManageRoom>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<TransferBody>,
) -> Result<Json<RoomView>, ApiError> {
    let acting = access.current.acting(address);
    let room = rooms::transfer(&state.usecases, &acting, &access.resource, &body.username).await?;
    Ok(Json(RoomView::new(&state, room)))
}

pub async fn release_room(
    State(state): State<AppState>,
    access: Access<ManageRoom>,
    ClientAddr(address): ClientAddr,
) -> Result<StatusCode, ApiError> {
    let acting = access.current.acting(address);
    rooms::release(&state.usecases, &acting, &access.resource).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_patterns(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<Vec<PatternReport>>, ApiError> {
    Ok(Json(
        rooms::pattern_reports(&state.usecases, &username).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternBody {
    pattern: String,
}

pub async fn add_pattern(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<PatternBody>,
) -> Result<impl IntoResponse, ApiError> {
    let acting = admin.acting(address);
    let created = rooms::add_pattern(&state.usecases, &acting, &username, &body.pattern).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn delete_pattern(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    ApiPath((username, id)): ApiPath<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let acting = admin.acting(address);
    rooms::delete_pattern(&state.usecases, &acting, &username, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    room_id: Option<i64>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// One room's history for those who may see the room; everything for admins.
pub async fn audit_log(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Paged<roomkeeper_domain::AuditEntry>>, ApiError> {
    let uc = &state.usecases;
    let room = match query.room_id {
        Some(id) => {
            let room = rooms::room(uc, id).await?;
            crate::extract::authorize(&current, roomkeeper_domain::Action::ViewRoom(room.facts()))?;
            Some(room)
        }
        None => {
            crate::extract::authorize(&current, roomkeeper_domain::Action::OverseeAllRooms)?;
            None
        }
    };
    let page = page(query.page, query.per_page);
    Ok(Json(
        rooms::history(uc, &current.user, room.as_ref(), page).await?,
    ))
}

pub async fn list_notices(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Json<Vec<roomkeeper_domain::Notice>>, ApiError> {
    Ok(Json(rooms::notices(&state.usecases, &current.user).await?))
}

pub async fn dismiss_notice(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    rooms::dismiss_notice(&state.usecases, &current.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_group_patterns(
    State(state): State<AppState>,
    Admin(_admin): Admin,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(groups::group_patterns(&state.usecases).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPatternBody {
    group: String,
    pattern: String,
}

pub async fn add_group_pattern(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<GroupPatternBody>,
) -> Result<impl IntoResponse, ApiError> {
    let acting = admin.acting(address);
    let created =
        groups::add_group_pattern(&state.usecases, &acting, &body.group, &body.pattern).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn delete_group_pattern(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let acting = admin.acting(address);
    groups::delete_group_pattern(&state.usecases, &acting, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
