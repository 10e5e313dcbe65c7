//! A lecturer's pages: their rooms and requests, the request form, a room's page.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use roomkeeper_domain::{NoticeKind, Refusal, RefusalKind};
use roomkeeper_domain::{Page, Paged, RoomRequest};
use roomkeeper_usecases::{guard, meetings, recordings, rooms};
use serde::Deserialize;

use super::{Chrome, PageForm, PagePath, Pager, render_with_status};
use crate::extract::{
    Access, ClientAddr, CurrentUser, ManageRoom, MaybeUser, SeeRoom, WithdrawRequest,
};
use crate::i18n::{Lang, Language, Tr};
use crate::views::{self, RequestView, RoomLineView, RoomView};
use crate::{AppState, Error, PageError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/notices/{id}/dismiss", post(dismiss_notice))
        .route("/rooms/request", get(request_form).post(request_room))
        .route("/requests", get(my_requests))
        .route("/requests/{id}/withdraw", post(withdraw))
        .route("/rooms/{id}", get(room_page))
        .route("/rooms/{id}/co-owners", post(set_co_owners))
        .route("/rooms/{id}/transfer", post(transfer))
        .route("/rooms/{id}/release", post(release))
        .route("/rooms/{id}/meeting", post(meeting_action))
        .route("/rooms/{id}/retention", post(set_retention))
        .route("/rooms/{id}/guard", post(set_guard))
        .route("/rooms/{id}/join", post(join_as_moderator))
}

/// Texts shown after a redirect, chosen by a fixed key in the query string (never
/// free text from the URL).
pub fn flash_text(t: &Tr, key: Option<&str>) -> Option<String> {
    let key = match key? {
        "submitted" => "flash-submitted",
        "withdrawn" => "flash-withdrawn",
        "co-owners" => "flash-co-owners",
        "transferred" => "flash-transferred",
        "released" => "flash-released",
        "approved" => "flash-approved",
        "rejected" => "flash-rejected",
        "decided" => "flash-decided",
        "meeting" => "flash-meeting",
        "meeting-ended" => "flash-meeting-ended",
        "guard" => "flash-guard",
        _ => return None,
    };
    Some(t.t(key))
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    pub page: Option<u32>,
    pub notice: Option<String>,
    pub q: Option<String>,
    pub status: Option<String>,
}

/// A share link that still works, for the room page's list.
pub struct LiveLinkView {
    pub recording_id: String,
    pub recording_started: i64,
    pub expires_unix: i64,
    pub link: views::ShareLinkView,
}

pub struct NoticeView {
    pub id: i64,
    pub kind: NoticeKind,
    pub room_display: String,
    pub message: String,
    /// For changes made by someone else: who made it, and (a transfer) the new owner.
    pub by: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: Chrome,
    username: roomkeeper_domain::Username,
    notices: Vec<NoticeView>,
    rooms: Paged<RoomLineView>,
    pager: Pager,
    requests: Vec<RequestView>,
}

async fn home(
    State(state): State<AppState>,
    Language(lang): Language,
    MaybeUser(current): MaybeUser,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let Some(current) = current else {
        return Ok(Redirect::to("/login").into_response());
    };
    if current.user.must_change_password {
        return Ok(Redirect::to("/profile").into_response());
    }
    let me = &current.user.username;
    let page = Page::new(query.page.unwrap_or(1), 20);
    let overview = rooms::overview(&state.usecases, &current.user, page, 5).await?;
    let pager = Pager::new(&overview.rooms, "/", &[]);
    let notices = overview
        .notices
        .into_iter()
        .map(|n| {
            let change: serde_json::Value = serde_json::from_str(&n.message).unwrap_or_default();
            let field = |key: &str| change[key].as_str().unwrap_or("?").to_owned();
            NoticeView {
                id: n.id,
                by: field("by"),
                to: field("to"),
                kind: n.kind,
                room_display: n.room_name.display(),
                message: n.message,
            }
        })
        .collect();
    Ok(render_with_status(
        StatusCode::OK,
        &HomePage {
            page: Chrome::for_user(&state, lang, &current.user, "/").await?,
            username: me.clone(),
            notices,
            rooms: overview.rooms.map(|r| RoomLineView::new(&state, r)),
            pager,
            requests: overview
                .latest_requests
                .into_iter()
                .map(|r| RequestView::new(&state, r))
                .collect(),
        },
    ))
}

async fn dismiss_notice(
    State(state): State<AppState>,
    current: CurrentUser,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    rooms::dismiss_notice(&state.usecases, &current.user, id).await?;
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize, Default)]
struct RequestForm {
    room: String,
    reason: String,
    #[serde(default)]
    co_owners: String,
}

#[derive(Template)]
#[template(path = "request_room.html")]
struct RequestPage {
    page: Chrome,
    form: RequestForm,
    error: Option<String>,
    example_url: Option<String>,
}

async fn request_page(
    state: &AppState,
    lang: Lang,
    current: &CurrentUser,
    form: RequestForm,
    error: Option<String>,
) -> Result<Response, PageError> {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let example_url = state
        .usecases
        .meeting_bases
        .first()
        .map(|base| format!("{}/Logic", base.as_str()));
    Ok(render_with_status(
        status,
        &RequestPage {
            page: Chrome::for_user(state, lang, &current.user, "/rooms/request").await?,
            form,
            error,
            example_url,
        },
    ))
}

async fn request_form(
    State(state): State<AppState>,
    Language(lang): Language,
    current: CurrentUser,
) -> Result<Response, PageError> {
    request_page(&state, lang, &current, RequestForm::default(), None).await
}

async fn request_room(
    State(state): State<AppState>,
    Language(lang): Language,
    current: CurrentUser,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<RequestForm>,
) -> Result<Response, PageError> {
    let co_owners = [form.co_owners.clone()];
    let acting = current.acting(address);
    let result = rooms::request(
        &state.usecases,
        &acting,
        &form.room,
        &form.reason,
        &co_owners,
    )
    .await
    .map_err(Error::from);
    match result {
        Ok(RoomRequest {
            room_id: Some(room_id),
            ..
        }) => Ok(Redirect::to(&format!("/rooms/{room_id}?notice=approved")).into_response()),
        Ok(_) => Ok(Redirect::to("/requests?notice=submitted").into_response()),
        // The rule's own sentence says what to fix; the form keeps what was typed.
        Err(error @ Error::Refused { .. }) => {
            let message = localized(&Tr::new(lang), &error);
            request_page(&state, lang, &current, form, Some(message)).await
        }
        Err(other) => Err(other.into()),
    }
}

/// A refusal in the visitor's language when we have the words, else the rule's sentence.
pub fn localized(t: &Tr, error: &Error) -> String {
    let key = match error {
        Error::Refused { refusal, .. } => format!("error-{}", refusal.code()),
        _ => String::new(),
    };
    let detail = error.to_string();
    match t.get(&key) {
        // A generic sentence in the language, plus the precise reason.
        Some(text)
            if error.refusal().map(Refusal::kind) == Some(RefusalKind::Invalid)
                && !detail.is_empty() =>
        {
            format!("{text} ({detail})")
        }
        Some(text) => text,
        None => detail,
    }
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    page: Chrome,
    notice: Option<String>,
    requests: Paged<RequestView>,
    pager: Pager,
}

async fn my_requests(
    State(state): State<AppState>,
    Language(lang): Language,
    current: CurrentUser,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let page = Page::new(query.page.unwrap_or(1), 20);
    let list = rooms::own_requests(&state.usecases, &current.user, page).await?;
    let pager = Pager::new(&list, "/requests", &[]);
    let requests = list.map(|r| RequestView::new(&state, r));
    Ok(render_with_status(
        StatusCode::OK,
        &RequestsPage {
            page: Chrome::for_user(&state, lang, &current.user, "/requests").await?,
            notice: flash_text(&Tr::new(lang), query.notice.as_deref()),
            requests,
            pager,
        },
    ))
}

async fn withdraw(
    State(state): State<AppState>,
    access: Access<WithdrawRequest>,
    ClientAddr(address): ClientAddr,
) -> Result<Response, PageError> {
    let acting = access.current.acting(address);
    rooms::withdraw_request(&state.usecases, &acting, access.resource.id).await?;
    Ok(Redirect::to("/requests?notice=withdrawn").into_response())
}

#[derive(Template)]
#[template(path = "room.html")]
struct RoomPage {
    page: Chrome,
    room: RoomView,
    can_manage: bool,
    /// Groups can be named: there is a directory or a sign-in provider.
    groups_possible: bool,
    /// For those who may control it, when Jitsi is configured: the meeting, or why
    /// it cannot be shown.
    meeting: Option<Result<roomkeeper_domain::Meeting, String>>,
    moderators: usize,
    /// Changes are pushed by the companion module (otherwise polled, without names).
    live_pushed: bool,
    notice: Option<String>,
    error: Option<String>,
    history: Paged<super::HistoryEntry>,
    pager: Pager,
    /// For those who may watch them.
    recordings: Option<Vec<views::RecordingView>>,
    /// Share links of the room's recordings that still work, with their makers.
    live_links: Vec<LiveLinkView>,
    /// Admins set how long this room's recordings are kept.
    retention: Option<RetentionView>,
    /// For those who may control the meeting, when Jitsi is configured.
    guard: Option<roomkeeper_domain::GuardSettings>,
}

struct RetentionView {
    days: Option<i64>,
    default_days: i64,
}

async fn room_page_with(
    state: &AppState,
    lang: Lang,
    current: &CurrentUser,
    room: roomkeeper_domain::Room,
    history_page: u32,
    notice: Option<String>,
    error: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let can_manage = crate::extract::may::<ManageRoom>(state, current, &room);
    let can_control = crate::extract::may::<crate::extract::ControlMeeting>(state, current, &room);
    let meeting = if can_control && roomkeeper_usecases::meetings::configured(&state.usecases) {
        Some(
            meetings::meeting(&state.usecases, &room)
                .await
                .map_err(|e| crate::Error::from(e).to_string()),
        )
    } else {
        None
    };
    let moderators = meeting
        .as_ref()
        .and_then(|m| m.as_ref().ok())
        .map_or(0, |m| m.participants.iter().filter(|p| p.moderator).count());
    let uc = &state.usecases;
    let history =
        rooms::history(uc, &current.user, Some(&room), Page::new(history_page, 20)).await?;
    let mut live_links = Vec::new();
    let recordings = if crate::extract::may_watch_recordings(state, current, &room) {
        let list = recordings::of_room(uc, &room).await?;
        for link in recordings::live_share_links(uc, &room).await? {
            if let Some(recording) = list.iter().find(|r| r.id == link.recording_id) {
                live_links.push(LiveLinkView {
                    recording_started: recording.started_at,
                    recording_id: link.recording_id.clone(),
                    link: views::link_view(state, &link, None),
                    expires_unix: link.expires_at,
                });
            }
        }
        Some(list.iter().map(|r| views::view(state, r)).collect())
    } else {
        None
    };
    let guard = if can_control && roomkeeper_usecases::meetings::configured(&state.usecases) {
        Some(guard::settings(uc, &room).await?)
    } else {
        None
    };
    // Offered exactly to whoever may set it (not to an administrator in his own room).
    let retention = if crate::extract::may::<crate::extract::SetRetention>(state, current, &room) {
        Some(RetentionView {
            days: recordings::retention(uc, &room).await?,
            default_days: state.usecases.recordings.config.retention_days,
        })
    } else {
        None
    };
    let path = format!("/rooms/{}", room.id);
    let pager = Pager::new(&history, &path, &[]);
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    // "Join as moderator" redirects to the meeting server, which the page's policy must allow.
    let join_target = guard
        .is_some()
        .then(|| {
            state
                .usecases
                .meeting_bases
                .first()
                .map(|base| base.origin())
        })
        .flatten();
    let mut response = render_with_status(
        status,
        &RoomPage {
            page: Chrome::for_user(state, lang, &current.user, &path).await?,
            room: RoomView::new(state, room),
            can_manage,
            groups_possible: roomkeeper_usecases::groups::possible(&state.usecases),
            meeting,
            moderators,
            live_pushed: roomkeeper_usecases::meetings::pushes_changes(&state.usecases),
            notice,
            error,
            history: super::HistoryEntry::page(&Tr::new(lang), history),
            pager,
            recordings,
            live_links,
            retention,
            guard,
        },
    );
    if let Some(policy) = join_target.and_then(|o| crate::middleware::policy_with_form_target(&o)) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
    }
    Ok(response)
}

async fn room_page(
    State(state): State<AppState>,
    Language(lang): Language,
    access: Access<SeeRoom>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let notice = flash_text(&Tr::new(lang), query.notice.as_deref());
    room_page_with(
        &state,
        lang,
        &access.current,
        access.resource,
        query.page.unwrap_or(1),
        notice,
        None,
    )
    .await
}

/// After a change: back to the room page with a notice, or the page again with the
/// refusal in words.
async fn after_change(
    state: &AppState,
    lang: Lang,
    current: &CurrentUser,
    room: roomkeeper_domain::Room,
    result: Result<&str, Error>,
) -> Result<Response, PageError> {
    match result {
        Ok(notice) => {
            Ok(Redirect::to(&format!("/rooms/{}?notice={notice}", room.id)).into_response())
        }
        Err(error @ Error::Refused { .. }) => {
            let message = localized(&Tr::new(lang), &error);
            room_page_with(
                state,
                lang,
                current,
                room,
                1,
                None,
                Some((error.status(), message)),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct CoOwnersForm {
    #[serde(default)]
    usernames: String,
    /// One group per line; a form without the field keeps the room's groups.
    groups: Option<String>,
}

async fn set_co_owners(
    State(state): State<AppState>,
    Language(lang): Language,
    access: Access<ManageRoom>,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<CoOwnersForm>,
) -> Result<Response, PageError> {
    let acting = access.current.acting(address);
    let groups = form.groups.map(|groups| [groups]);
    let result = rooms::set_co_owners(
        &state.usecases,
        &acting,
        &access.resource,
        &[form.usernames],
        groups.as_ref().map(|g| &g[..]),
    )
    .await
    .map(|_| "co-owners")
    .map_err(Error::from);
    after_change(&state, lang, &access.current, access.resource, result).await
}

#[derive(Deserialize)]
struct TransferForm {
    username: String,
}

async fn transfer(
    State(state): State<AppState>,
    Language(lang): Language,
    access: Access<ManageRoom>,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<TransferForm>,
) -> Result<Response, PageError> {
    let acting = access.current.acting(address);
    let result = rooms::transfer(&state.usecases, &acting, &access.resource, &form.username)
        .await
        .map(|_| "transferred")
        .map_err(Error::from);
    // The previous owner may not see the room any more: go home rather than to a 404.
    match result {
        Ok(notice) if !access.current.user.is_admin => {
            Ok(Redirect::to(&format!("/requests?notice={notice}")).into_response())
        }
        other => after_change(&state, lang, &access.current, access.resource, other).await,
    }
}

#[derive(Deserialize)]
struct ReleaseForm {
    confirm: Option<String>,
}

async fn release(
    State(state): State<AppState>,
    access: Access<ManageRoom>,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<ReleaseForm>,
) -> Result<Response, PageError> {
    if form.confirm.as_deref() != Some("yes") {
        return Err(Error::BadRequest(
            "Tick the box to confirm that the room should be released.".into(),
        )
        .into());
    }
    let acting = access.current.acting(address);
    rooms::release(&state.usecases, &acting, &access.resource).await?;
    let target = if access.current.user.is_admin {
        "/admin/rooms"
    } else {
        "/requests"
    };
    Ok(Redirect::to(&format!("{target}?notice=released")).into_response())
}

#[derive(Deserialize)]
struct MeetingForm {
    action: String,
    #[serde(default)]
    participant: String,
    #[serde(default)]
    then_grant: String,
    confirm: Option<String>,
}

/// The buttons of the meeting section: act, then show the room again with the result
/// (or the refusal in words).
async fn meeting_action(
    State(state): State<AppState>,
    Language(lang): Language,
    access: Access<crate::extract::ControlMeeting>,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<MeetingForm>,
) -> Result<Response, PageError> {
    use meetings::MeetingAction as Action;
    let participant = form.participant.as_str();
    let action = match form.action.as_str() {
        "grant" => Action::Grant(participant),
        "revoke" => Action::Revoke {
            participant,
            then_grant: Some(form.then_grant.as_str()).filter(|s| !s.is_empty()),
        },
        "remove_password" => Action::RemovePassword,
        "kick" => Action::Kick(participant),
        "admit" => Action::Admit(participant),
        "deny" => Action::Deny(participant),
        "admit_all" => Action::AdmitAll,
        "end" if form.confirm.as_deref() == Some("yes") => Action::End,
        other => return Err(Error::BadRequest(format!("unknown meeting action {other:?}")).into()),
    };
    let notice = if matches!(action, Action::End) {
        "meeting-ended"
    } else {
        "meeting"
    };
    let acting = access.current.acting(address);
    match meetings::act(&state.usecases, &acting, &access.resource, action)
        .await
        .map_err(Error::from)
    {
        Ok(_) => Ok(
            Redirect::to(&format!("/rooms/{}?notice={notice}", access.resource.id)).into_response(),
        ),
        Err(error)
            if error.refusal().map(Refusal::kind) == Some(RefusalKind::Conflict)
                || matches!(
                    error,
                    Error::ProsodyRefused(_)
                        | Error::Unavailable(_)
                        | Error::DatabaseUnreachable(_)
                ) =>
        {
            let message = error.to_string();
            room_page_with(
                &state,
                lang,
                &access.current,
                access.resource,
                1,
                None,
                Some((error.status(), message)),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct RetentionForm {
    /// Empty: the default.
    #[serde(default)]
    days: String,
}

async fn set_retention(
    State(state): State<AppState>,
    access: Access<crate::extract::SetRetention>,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<RetentionForm>,
) -> Result<Response, PageError> {
    let days = match form.days.trim() {
        "" => None,
        // The range is the use case's rule; here only "is it a number".
        text => Some(text.parse::<i64>().map_err(|_| {
            Error::refused(Refusal::BadRetention, "Keep recordings 1 to 36,500 days.")
        })?),
    };
    let acting = access.current.acting(address);
    recordings::set_retention(&state.usecases, &acting, &access.resource, days).await?;
    Ok(Redirect::to(&format!("/rooms/{}", access.resource.id)).into_response())
}

#[derive(Deserialize)]
struct GuardForm {
    /// A checkbox: present when ticked.
    #[serde(default)]
    password_guard: Option<String>,
    moderator_guard: String,
    /// Empty: no alert.
    #[serde(default)]
    in_use_alert_minutes: String,
    /// Absent (a form from a page before the lobby): stays as it is.
    lobby: Option<String>,
}

async fn set_guard(
    State(state): State<AppState>,
    access: Access<crate::extract::ControlMeeting>,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<GuardForm>,
) -> Result<Response, PageError> {
    let moderator_guard = roomkeeper_domain::ModeratorGuard::parse(&form.moderator_guard)
        .map_err(|e| Error::refused(Refusal::InvalidGuard, e.to_string()))?;
    let in_use_alert_minutes = match form.in_use_alert_minutes.trim() {
        "" => None,
        // The range is the domain's rule; here only "is it a number".
        text => Some(text.parse::<u32>().map_err(|_| {
            Error::refused(
                Refusal::InvalidGuard,
                roomkeeper_domain::GuardError::AlertMinutes.to_string(),
            )
        })?),
    };
    let lobby = match form.lobby.as_deref() {
        Some(text) => roomkeeper_domain::LobbyMode::parse(text)
            .map_err(|e| Error::refused(Refusal::InvalidGuard, e.to_string()))?,
        None => {
            guard::settings(&state.usecases, &access.resource)
                .await?
                .lobby
        }
    };
    let settings = roomkeeper_domain::GuardSettings {
        password_guard: form.password_guard.is_some(),
        moderator_guard,
        in_use_alert_minutes,
        lobby,
    };
    let acting = access.current.acting(address);
    guard::set_settings(&state.usecases, &acting, &access.resource, settings).await?;
    Ok(Redirect::to(&format!("/rooms/{}?notice=guard", access.resource.id)).into_response())
}

/// "Join as moderator": a fresh code, and straight into the meeting with it.
async fn join_as_moderator(
    State(state): State<AppState>,
    access: Access<crate::extract::ControlMeeting>,
    ClientAddr(address): ClientAddr,
) -> Result<Response, PageError> {
    let acting = access.current.acting(address);
    let code = guard::create_join_code(&state.usecases, &acting, &access.resource).await?;
    Ok(Redirect::to(&code.join_url).into_response())
}
