//! The administrators' side of registration: the request queue, all rooms, patterns
//! and the whole audit log.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use roomkeeper_domain::RefusalKind;
use roomkeeper_domain::{Page, Paged, RequestStatus};
use roomkeeper_usecases::groups;
use roomkeeper_usecases::rooms::{self, PatternReport, QueueFacts};
use serde::Deserialize;

use super::rooms::{ListQuery, localized};
use super::{Chrome, PageForm, PagePath, Pager, render_with_status};
use crate::extract::{Admin, ClientAddr};
use crate::i18n::{Lang, Language, Tr};
use crate::views::{RequestView, RoomView};
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
        .route("/admin/group-patterns", post(add_group_pattern))
        .route(
            "/admin/group-patterns/{id}/delete",
            post(delete_group_pattern),
        )
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

fn queue_item(
    state: &AppState,
    t: &Tr,
    request: roomkeeper_domain::RoomRequest,
    context: &QueueFacts,
) -> QueueItem {
    const SHOWN_ROOMS: usize = 5;
    let their_rooms = context
        .rooms_by_owner
        .get(request.requester.as_str())
        .map_or(&[][..], Vec::as_slice);
    let requester_patterns = context
        .patterns
        .iter()
        .filter(|p| request.requester == p.username)
        .map(|p| p.pattern.clone())
        .collect();
    let mut conflicts = Vec::new();
    if request.status == RequestStatus::Pending {
        if let Some(owner) = context.owner_by_room.get(request.room_name.as_str()) {
            conflicts.push(t.with("queue-conflict-registered", [("owner", owner.clone())]));
        }
        for other in context
            .patterns
            .iter()
            .filter(|p| request.requester != p.username)
        {
            let matches = roomkeeper_domain::Pattern::parse(&other.pattern)
                .is_ok_and(|pattern| pattern.matches(&request.room_name));
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
            request
                .requester
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
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
            .get(request.room_name.as_str())
            .copied()
            .unwrap_or(0),
        request: RequestView::new(state, request),
    }
}

async fn queue_page(
    state: &AppState,
    lang: Lang,
    admin: &roomkeeper_domain::User,
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
    let uc = &state.usecases;
    let page = Page::new(query.page.unwrap_or(1), QUEUE_PAGE_SIZE);
    let list = rooms::queue(uc, status, page).await?;
    let pager = Pager::new(&list, "/admin/requests", &[("status", status.as_str())]);
    let context = rooms::queue_facts(uc, &list.items).await?;
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
    Language(lang): Language,
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
    admin: &crate::extract::CurrentUser,
    address: Option<std::net::IpAddr>,
    id: i64,
    approve: bool,
    form: DecisionForm,
) -> Result<Response, PageError> {
    let acting = admin.acting(address);
    let result = rooms::decide_request(
        &state.usecases,
        &acting,
        id,
        approve,
        Some(&form.pattern),
        Some(&form.message),
    )
    .await
    .map_err(Error::from);
    let admin = &admin.user;
    match result {
        Ok(_) => {
            let notice = if approve { "approved" } else { "rejected" };
            Ok(Redirect::to(&format!("/admin/requests?notice={notice}")).into_response())
        }
        Err(error @ Error::Refused { .. }) => {
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
    Language(lang): Language,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<DecisionForm>,
) -> Result<Response, PageError> {
    decide_one(&state, lang, &admin, address, id, true, form).await
}

async fn reject(
    State(state): State<AppState>,
    Language(lang): Language,
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
    decide_one(&state, lang, &admin, address, id, false, form).await
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
    let acting = admin.acting(address);
    for id in form.ids {
        let decided = rooms::decide_request(
            &state.usecases,
            &acting,
            id,
            approve,
            None,
            Some(&form.message),
        )
        .await
        .map_err(Error::from);
        match decided {
            Ok(_) | Err(Error::NotFound) => {}
            Err(Error::Refused { refusal, .. }) if refusal.kind() == RefusalKind::Conflict => {}
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
    Language(lang): Language,
    Admin(admin): Admin,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let search = query.q.clone().unwrap_or_default();
    let page = Page::new(query.page.unwrap_or(1), 50);
    let list = rooms::list(&state.usecases, None, Some(&search), page).await?;
    let pager = Pager::new(&list, "/admin/rooms", &[("q", &search)]);
    let rooms = list.map(|r| RoomView::new(&state, r));
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
    /// Groups can be given patterns: there is a directory or a sign-in provider.
    groups_possible: bool,
    group_patterns: Vec<roomkeeper_usecases::groups::GroupPattern>,
    error: Option<String>,
}

async fn patterns_page(
    state: &AppState,
    lang: Lang,
    admin: &roomkeeper_domain::User,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let reports = rooms::all_pattern_reports(&state.usecases).await?;
    Ok(render_with_status(
        status,
        &PatternsPage {
            page: Chrome::for_user(state, lang, admin, "/admin/patterns").await?,
            reports,
            groups_possible: groups::possible(&state.usecases),
            group_patterns: groups::group_patterns(&state.usecases).await?,
            error,
        },
    ))
}

async fn patterns(
    State(state): State<AppState>,
    Language(lang): Language,
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
    Language(lang): Language,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<PatternForm>,
) -> Result<Response, PageError> {
    let acting = admin.acting(address);
    let added = rooms::add_pattern(&state.usecases, &acting, &form.username, &form.pattern)
        .await
        .map(drop);
    after_pattern_added(&state, lang, &admin, added).await
}

/// Back to the patterns page; a refusal is shown on it, with the form to try again.
async fn after_pattern_added(
    state: &AppState,
    lang: Lang,
    admin: &crate::extract::CurrentUser,
    added: Result<(), roomkeeper_usecases::Error>,
) -> Result<Response, PageError> {
    match added.map_err(Error::from) {
        Ok(()) => Ok(Redirect::to("/admin/patterns").into_response()),
        Err(error @ Error::Refused { .. }) => {
            let message = localized(&Tr::new(lang), &error);
            patterns_page(state, lang, &admin.user, error.status(), Some(message)).await
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
    let acting = admin.acting(address);
    rooms::delete_pattern(&state.usecases, &acting, &form.username, id).await?;
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
    Language(lang): Language,
    Admin(admin): Admin,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let page = Page::new(query.page.unwrap_or(1), 50);
    let history = rooms::history(&state.usecases, &admin.user, None, page).await?;
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

#[derive(Deserialize)]
struct GroupPatternForm {
    group: String,
    pattern: String,
}

async fn add_group_pattern(
    State(state): State<AppState>,
    Language(lang): Language,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<GroupPatternForm>,
) -> Result<Response, PageError> {
    let acting = admin.acting(address);
    let added = groups::add_group_pattern(&state.usecases, &acting, &form.group, &form.pattern)
        .await
        .map(drop);
    after_pattern_added(&state, lang, &admin, added).await
}

async fn delete_group_pattern(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    let acting = admin.acting(address);
    groups::delete_group_pattern(&state.usecases, &acting, id).await?;
    Ok(Redirect::to("/admin/patterns").into_response())
}
