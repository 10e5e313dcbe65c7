//! Rooms, room requests, patterns, audit and notices in the JSON API.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roomkeeper_domain::Username;
use roomkeeper_store::{Page, Paged, RequestFilter, RequestStatus};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiPath};
use crate::extract::{
    Admin, ClientAddr, CurrentUser, ManageRoom, RequestAccess, RoomAccess, SeeRequest, SeeRoom,
    WithdrawRequest,
};
use crate::rooms::{self, PatternReport, RequestView, RoomView, address_text};
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
    let address = address_text(address);
    let request = rooms::request_room(
        &state,
        &current.user,
        &body.room,
        &body.reason,
        &body.co_owners,
        address.as_deref(),
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
    let sees_all = current.user.is_admin;
    let filter = RequestFilter {
        status,
        requester: (!sees_all).then(|| current.user.username.clone()),
        newest_first: !sees_all,
    };
    let list = state
        .store
        .list_requests(&filter, page(query.page, query.per_page))
        .await?;
    Ok(Json(list.map(|r| RequestView::new(&state, r))))
}

pub async fn get_request(
    State(state): State<AppState>,
    access: RequestAccess<SeeRequest>,
) -> Json<RequestView> {
    Json(RequestView::new(&state, access.request))
}

pub async fn withdraw_request(
    State(state): State<AppState>,
    access: RequestAccess<WithdrawRequest>,
    ClientAddr(address): ClientAddr,
) -> Result<Json<RequestView>, ApiError> {
    let address = address_text(address);
    let audit = rooms::audit(&state, &access.current.user, address.as_deref());
    let request = state
        .store
        .withdraw_request(access.request.id, &audit)
        .await?;
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
    let address = address_text(address);
    let decided = rooms::decide(
        &state,
        &admin.user,
        id,
        true,
        body.pattern.as_deref(),
        body.message.as_deref(),
        address.as_deref(),
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
    let address = address_text(address);
    let decided = rooms::decide(
        &state,
        &admin.user,
        id,
        false,
        None,
        Some(&body.message),
        address.as_deref(),
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
        return Err(Error::invalid("too_many", "Decide at most 500 requests at once.").into());
    }
    let address = address_text(address);
    let mut outcomes = Vec::new();
    for id in body.ids {
        let result = rooms::decide(
            &state,
            &admin.user,
            id,
            approve,
            None,
            body.message.as_deref(),
            address.as_deref(),
        )
        .await;
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
    let visible_to = (!current.user.is_admin).then(|| current.user.username.clone());
    if let Some(name) = query.name.as_deref() {
        let name = rooms::parse_room(&state, name)?;
        let room = state.store.room_by_name(&name.canonical()).await?;
        let visible = room.filter(|r| {
            visible_to
                .as_deref()
                .is_none_or(|me| r.owner == me || r.co_owners.iter().any(|c| c == me))
        });
        let items: Vec<RoomView> = visible
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
    let filter = rooms::room_filter(visible_to, query.q.as_deref());
    let list = state
        .store
        .list_rooms(&filter, page(query.page, query.per_page))
        .await?;
    Ok(Json(list.map(|r| RoomView::new(&state, r))))
}

pub async fn get_room(
    State(state): State<AppState>,
    access: RoomAccess<SeeRoom>,
) -> Json<RoomView> {
    Json(RoomView::new(&state, access.room))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoOwnersBody {
    usernames: Vec<String>,
}

pub async fn set_co_owners(
    State(state): State<AppState>,
    access: RoomAccess<ManageRoom>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<CoOwnersBody>,
) -> Result<Json<RoomView>, ApiError> {
    let usernames = rooms::parse_usernames(&body.usernames, &access.room.owner)?;
    let address = address_text(address);
    let audit = rooms::audit(&state, &access.current.user, address.as_deref());
    let room = state
        .store
        .set_co_owners(access.room.id, &usernames, &audit)
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
    access: RoomAccess<ManageRoom>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<TransferBody>,
) -> Result<Json<RoomView>, ApiError> {
    let username = Username::parse(&body.username)?;
    let address = address_text(address);
    let audit = rooms::audit(&state, &access.current.user, address.as_deref());
    let room = state
        .store
        .transfer_room(access.room.id, username.as_str(), &audit)
        .await?;
    Ok(Json(RoomView::new(&state, room)))
}

pub async fn release_room(
    State(state): State<AppState>,
    access: RoomAccess<ManageRoom>,
    ClientAddr(address): ClientAddr,
) -> Result<StatusCode, ApiError> {
    let address = address_text(address);
    let audit = rooms::audit(&state, &access.current.user, address.as_deref());
    state.store.release_room(access.room.id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_patterns(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<Vec<PatternReport>>, ApiError> {
    let username = Username::parse(&username)?;
    Ok(Json(
        rooms::pattern_reports(&state, username.as_str()).await?,
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
    let address = address_text(address);
    let created = rooms::add_pattern(
        &state,
        &admin.user,
        &username,
        &body.pattern,
        address.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn delete_pattern(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    ApiPath((username, id)): ApiPath<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let username = Username::parse(&username)?;
    let address = address_text(address);
    let audit = rooms::audit(&state, &admin.user, address.as_deref());
    if state
        .store
        .delete_pattern(username.as_str(), id, &audit)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound.into())
    }
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
) -> Result<Json<Paged<roomkeeper_store::AuditEntry>>, ApiError> {
    let (room_name, since) = match query.room_id {
        Some(id) => {
            let room = state.store.room(id).await?.ok_or(Error::NotFound)?;
            crate::extract::authorize_room::<SeeRoom>(&current, &room)?;
            (
                Some(room.name.clone()),
                crate::rooms::history_start(&current.user, &room),
            )
        }
        None => {
            crate::extract::authorize(&current, roomkeeper_domain::Action::OverseeAllRooms)?;
            (None, None)
        }
    };
    let list = state
        .store
        .audit_log_since(
            room_name.as_deref(),
            since,
            page(query.page, query.per_page),
        )
        .await?;
    Ok(Json(crate::rooms::history_for(&current.user, list)))
}

pub async fn list_notices(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Json<Vec<roomkeeper_store::Notice>>, ApiError> {
    Ok(Json(state.store.notices_of(&current.user.username).await?))
}

pub async fn dismiss_notice(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if state
        .store
        .dismiss_notice(&current.user.username, id, state.clock.now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound.into())
    }
}
