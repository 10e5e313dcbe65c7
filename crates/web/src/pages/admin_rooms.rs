//! The administrators' side of registration: the request queue, all rooms, patterns
//! and the whole audit log.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use roomkeeper_store::{Page, Paged, RequestFilter, RequestStatus};
use serde::Deserialize;

use super::rooms::{ListQuery, localized};
use super::{Chrome, PageForm, PagePath, Pager, render_with_status};
use crate::extract::{Admin, ClientAddr};
use crate::i18n::{Lang, Tr};
use crate::rooms::{self, PatternReport, RequestView, RoomView, address_text};
use crate::{AppState, Error, PageError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/requests", get(queue))
        .route("/admin/requests/decide", post(decide_many))
        .route("/admin/requests/{id}/approve", post(approve))
        .route("/admin/requests/{id}/reject", post(reject))
        .route("/admin/rooms", get(all_rooms))
        .route("/admin/patterns", get(patterns).post(add_pattern))
        .route("/admin/patterns/{id}/delete", post(delete_pattern))
        .route("/admin/audit", get(audit_log))
}

const QUEUE_PAGE_SIZE: u32 = 20;
const STATUSES: [RequestStatus; 4] = [
    RequestStatus::Pending,
    RequestStatus::Approved,
    RequestStatus::Rejected,
    RequestStatus::Withdrawn,
];

/// One request with what an admin who does not know the requester needs to decide.
pub struct QueueItem {
    pub request: RequestView,
    pub requester_rooms: Vec<String>,
    pub requester_room_count: i64,
    pub requester_patterns: Vec<String>,
    pub conflicts: Vec<String>,
    pub suggested_pattern: String,
    /// Recordings of this room made before anyone registered it, waiting unassigned.
    pub waiting_recordings: usize,
}

#[derive(Template)]
#[template(path = "admin_requests.html")]
struct QueuePage {
    page: Chrome,
    tabs: Vec<(&'static str, bool)>,
    current_status: String,
    items: Vec<QueueItem>,
    pager: Pager,
    notice: Option<String>,
    error: Option<String>,
}

/// What the queue shows beside each request, for a whole page at once: the rooms each
/// requester owns, and who already owns a requested room.
struct PageContext {
    rooms_by_owner: std::collections::HashMap<String, Vec<String>>,
    owner_by_room: std::collections::HashMap<String, String>,
    patterns: Vec<roomkeeper_store::UserPattern>,
    /// Unassigned recordings per room name.
    waiting_recordings: std::collections::HashMap<String, usize>,
}

impl PageContext {
    async fn load(
        state: &AppState,
        requests: &[roomkeeper_store::RoomRequest],
    ) -> Result<Self, Error> {
        let owners: Vec<String> = requests.iter().map(|r| r.requester.clone()).collect();
        let names: Vec<String> = requests.iter().map(|r| r.room_name.clone()).collect();
        let mut rooms_by_owner: std::collections::HashMap<String, Vec<String>> = Default::default();
        let mut owner_by_room = std::collections::HashMap::new();
        for (owner, name) in state.store.rooms_owned_or_named(&owners, &names).await? {
            rooms_by_owner
                .entry(owner.clone())
                .or_default()
                .push(name.clone());
            owner_by_room.insert(name, owner);
        }
        let mut waiting_recordings = std::collections::HashMap::new();
        for recording in state.store.unassigned_recordings().await? {
            if let Some(room) = recording.meeting_room {
                *waiting_recordings.entry(room).or_default() += 1;
            }
        }
        Ok(Self {
            rooms_by_owner,
            owner_by_room,
            patterns: state.store.all_patterns().await?,
            waiting_recordings,
        })
    }
}

fn queue_item(
    state: &AppState,
    t: &Tr,
    request: roomkeeper_store::RoomRequest,
    context: &PageContext,
) -> QueueItem {
    const SHOWN_ROOMS: usize = 5;
    let their_rooms = context
        .rooms_by_owner
        .get(&request.requester)
        .map_or(&[][..], Vec::as_slice);
    let requester_patterns = context
        .patterns
        .iter()
        .filter(|p| p.username == request.requester)
        .map(|p| p.pattern.clone())
        .collect();
    let mut conflicts = Vec::new();
    if request.status == RequestStatus::Pending {
        if let Some(owner) = context.owner_by_room.get(&request.room_name) {
            conflicts.push(t.with("queue-conflict-registered", [("owner", owner.clone())]));
        }
        let name = roomkeeper_domain::RoomName::from_canonical(&request.room_name).ok();
        for other in context
            .patterns
            .iter()
            .filter(|p| p.username != request.requester)
        {
            let matches = roomkeeper_domain::Pattern::parse(&other.pattern)
                .ok()
                .zip(name.as_ref())
                .is_some_and(|(pattern, name)| pattern.matches(name));
            if matches {
                conflicts.push(t.with(
                    "queue-conflict-pattern",
                    [
                        ("user", other.username.clone()),
                        ("pattern", other.pattern.clone()),
                    ],
                ));
            }
        }
    }
    QueueItem {
        suggested_pattern: format!(
            "{}-*",
            request.requester.split('@').next().unwrap_or_default()
        ),
        requester_rooms: their_rooms
            .iter()
            .take(SHOWN_ROOMS)
            .map(|name| {
                roomkeeper_domain::RoomName::from_canonical(name)
                    .map_or_else(|_| name.clone(), |n| n.display())
            })
            .collect(),
        requester_room_count: their_rooms.len() as i64,
        requester_patterns,
        conflicts,
        waiting_recordings: context
            .waiting_recordings
            .get(&request.room_name)
            .copied()
            .unwrap_or(0),
        request: RequestView::new(state, request),
    }
}

async fn queue_page(
    state: &AppState,
    lang: Lang,
    admin: &roomkeeper_store::User,
    query: &ListQuery,
    status_code: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let t = Tr::new(lang);
    let status = query
        .status
        .as_deref()
        .and_then(RequestStatus::parse)
        .unwrap_or(RequestStatus::Pending);
    let list = state
        .store
        .list_requests(
            &RequestFilter {
                status: Some(status),
                requester: None,
                // The queue: whoever waited longest comes first. Decided ones: latest first.
                newest_first: status != RequestStatus::Pending,
            },
            Page::new(query.page.unwrap_or(1), QUEUE_PAGE_SIZE),
        )
        .await?;
    let pager = Pager::new(&list, "/admin/requests", &[("status", status.as_str())]);
    let context = PageContext::load(state, &list.items).await?;
    let items = list
        .items
        .into_iter()
        .map(|request| queue_item(state, &t, request, &context))
        .collect();
    Ok(render_with_status(
        status_code,
        &QueuePage {
            page: Chrome::for_user(state, lang, admin, "/admin/requests").await?,
            tabs: STATUSES
                .iter()
                .map(|s| (s.as_str(), *s == status))
                .collect(),
            current_status: status.as_str().to_owned(),
            items,
            pager,
            notice: super::rooms::flash_text(&t, query.notice.as_deref()),
            error,
        },
    ))
}

async fn queue(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    queue_page(&state, lang, &admin.user, &query, StatusCode::OK, None).await
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    message: String,
    #[serde(default)]
    pattern: String,
}

async fn decide_one(
    state: &AppState,
    lang: Lang,
    admin: &roomkeeper_store::User,
    address: Option<std::net::IpAddr>,
    id: i64,
    approve: bool,
    form: DecisionForm,
) -> Result<Response, PageError> {
    let address = address_text(address);
    let result = rooms::decide(
        state,
        admin,
        id,
        approve,
        Some(&form.pattern),
        Some(&form.message),
        address.as_deref(),
    )
    .await;
    match result {
        Ok(_) => {
            let notice = if approve { "approved" } else { "rejected" };
            Ok(Redirect::to(&format!("/admin/requests?notice={notice}")).into_response())
        }
        Err(error @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            let message = localized(&Tr::new(lang), &error);
            queue_page(
                state,
                lang,
                admin,
                &ListQuery::default(),
                error.status(),
                Some(message),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn approve(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<DecisionForm>,
) -> Result<Response, PageError> {
    decide_one(&state, lang, &admin.user, address, id, true, form).await
}

async fn reject(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<DecisionForm>,
) -> Result<Response, PageError> {
    if form.message.trim().is_empty() {
        let message = Tr::new(lang).t("queue-reject-needs-message");
        return queue_page(
            &state,
            lang,
            &admin.user,
            &ListQuery::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(message),
        )
        .await;
    }
    decide_one(&state, lang, &admin.user, address, id, false, form).await
}

#[derive(Deserialize)]
struct BulkForm {
    #[serde(default)]
    ids: Vec<i64>,
    decision: String,
    #[serde(default)]
    message: String,
}

/// Approve or reject the ticked requests. Those decided meanwhile by someone else are
/// skipped; the rest are decided.
async fn decide_many(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    axum_extra::extract::Form(form): axum_extra::extract::Form<BulkForm>,
) -> Result<Response, PageError> {
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => return Err(Error::BadRequest(format!("unknown decision {other:?}")).into()),
    };
    let address = address_text(address);
    for id in form.ids {
        match rooms::decide(
            &state,
            &admin.user,
            id,
            approve,
            None,
            Some(&form.message),
            address.as_deref(),
        )
        .await
        {
            Ok(_) | Err(Error::Conflict { .. } | Error::NotFound) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(Redirect::to("/admin/requests?notice=decided").into_response())
}

#[derive(Template)]
#[template(path = "admin_rooms.html")]
struct RoomsPage {
    page: Chrome,
    query: String,
    rooms: Paged<RoomView>,
    pager: Pager,
}

async fn all_rooms(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let search = query.q.clone().unwrap_or_default();
    let filter = rooms::room_filter(None, Some(&search));
    let list = state
        .store
        .list_rooms(&filter, Page::new(query.page.unwrap_or(1), 50))
        .await?;
    let pager = Pager::new(&list, "/admin/rooms", &[("q", &search)]);
    let rooms = Paged {
        items: list
            .items
            .into_iter()
            .map(|r| RoomView::new(&state, r))
            .collect(),
        total: list.total,
        page: list.page,
        per_page: list.per_page,
    };
    Ok(render_with_status(
        StatusCode::OK,
        &RoomsPage {
            page: Chrome::for_user(&state, lang, &admin.user, "/admin/rooms").await?,
            query: search,
            rooms,
            pager,
        },
    ))
}

#[derive(Template)]
#[template(path = "admin_patterns.html")]
struct PatternsPage {
    page: Chrome,
    reports: Vec<PatternReport>,
    error: Option<String>,
}

async fn patterns_page(
    state: &AppState,
    lang: Lang,
    admin: &roomkeeper_store::User,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let mut users: Vec<String> = state
        .store
        .all_patterns()
        .await?
        .into_iter()
        .map(|p| p.username)
        .collect();
    users.dedup();
    let mut reports = Vec::new();
    for user in users {
        reports.extend(rooms::pattern_reports(state, &user).await?);
    }
    Ok(render_with_status(
        status,
        &PatternsPage {
            page: Chrome::for_user(state, lang, admin, "/admin/patterns").await?,
            reports,
            error,
        },
    ))
}

async fn patterns(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
) -> Result<Response, PageError> {
    patterns_page(&state, lang, &admin.user, StatusCode::OK, None).await
}

#[derive(Deserialize)]
struct PatternForm {
    username: String,
    pattern: String,
}

async fn add_pattern(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<PatternForm>,
) -> Result<Response, PageError> {
    let address = address_text(address);
    match rooms::add_pattern(
        &state,
        &admin.user,
        &form.username,
        &form.pattern,
        address.as_deref(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/admin/patterns").into_response()),
        Err(error @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            let message = localized(&Tr::new(lang), &error);
            patterns_page(&state, lang, &admin.user, error.status(), Some(message)).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct DeletePatternForm {
    username: String,
}

async fn delete_pattern(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<DeletePatternForm>,
) -> Result<Response, PageError> {
    let username = roomkeeper_domain::Username::parse(&form.username)?;
    let address = address_text(address);
    let audit = rooms::audit(&state, &admin.user, address.as_deref());
    if !state
        .store
        .delete_pattern(username.as_str(), id, &audit)
        .await?
    {
        return Err(Error::NotFound.into());
    }
    Ok(Redirect::to("/admin/patterns").into_response())
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    page: Chrome,
    history: Paged<super::HistoryEntry>,
    pager: Pager,
}

async fn audit_log(
    State(state): State<AppState>,
    lang: Lang,
    Admin(admin): Admin,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let history = state
        .store
        .audit_log(None, Page::new(query.page.unwrap_or(1), 50))
        .await?;
    let pager = Pager::new(&history, "/admin/audit", &[]);
    Ok(render_with_status(
        StatusCode::OK,
        &AuditPage {
            page: Chrome::for_user(&state, lang, &admin.user, "/admin/audit").await?,
            history: super::HistoryEntry::page(&Tr::new(lang), history),
            pager,
        },
    ))
}
