//! Recording pages: one recording (player, download, share links, delete), the public
//! share link, and the administrators' unassigned recordings.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use roomkeeper_domain::IngestProblem;
use serde::Deserialize;

use super::{Chrome, PageForm, render_with_status};
use crate::extract::{Access, Admin, ClientAddr, HandleRecording, WatchRecording};
use crate::i18n::{Lang, Language};
use roomkeeper_usecases::recordings;

use crate::delivery;
use crate::views::{self, RecordingView, ShareLinkView};
use crate::{AppState, PageError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recordings/{rid}", get(recording_page))
        .route("/recordings/{rid}/links", post(create_link))
        .route("/recordings/{rid}/links/{lid}/revoke", post(revoke_link))
        .route("/recordings/{rid}/delete", post(delete))
        .route("/recordings/{rid}/assign", post(assign))
        .route("/shared/{token}", get(shared).head(shared))
        .route("/admin/recordings", get(admin_recordings))
}

/// Sizes as people read them (`12.3 MB`).
pub fn size_text(bytes: impl std::borrow::Borrow<i64>) -> String {
    let bytes = *bytes.borrow();
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1:02:03` or `4:05`.
pub fn duration_text(seconds: impl std::borrow::Borrow<Option<i64>>) -> String {
    match *seconds.borrow() {
        None => "–".to_owned(),
        Some(s) if s >= 3600 => format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
        Some(s) => format!("{}:{:02}", s / 60, s % 60),
    }
}

#[derive(Template)]
#[template(path = "recording.html")]
struct RecordingPage {
    page: Chrome,
    recording: RecordingView,
    room_id: Option<i64>,
    links: Vec<ShareLinkView>,
    /// The link just made: shown once.
    new_link: Option<String>,
    max_days: i64,
    error: Option<String>,
}

async fn show(
    state: &AppState,
    lang: Lang,
    access: &Access<WatchRecording>,
    new_link: Option<String>,
    error: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let links = recordings::share_links(&state.usecases, &access.resource.recording).await?;
    let path = format!("/recordings/{}", access.resource.recording.id);
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    Ok(render_with_status(
        status,
        &RecordingPage {
            page: Chrome::for_user(state, lang, &access.current.user, &path).await?,
            recording: views::view(state, &access.resource.recording),
            room_id: access.resource.room.as_ref().map(|r| r.id),
            links: links
                .iter()
                .map(|l| views::link_view(state, l, None))
                .collect(),
            new_link,
            max_days: state.usecases.recordings.config.share_link_max_days,
            error,
        },
    ))
}

async fn recording_page(
    State(state): State<AppState>,
    Language(lang): Language,
    access: Access<WatchRecording>,
) -> Result<Response, PageError> {
    show(&state, lang, &access, None, None).await
}

#[derive(Deserialize)]
struct LinkForm {
    days: i64,
}

async fn create_link(
    State(state): State<AppState>,
    Language(lang): Language,
    access: Access<WatchRecording>,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<LinkForm>,
) -> Result<Response, PageError> {
    let seconds = form.days.saturating_mul(86_400);
    let acting = access.current.acting(address);
    match recordings::create_link(
        &state.usecases,
        &acting,
        &access.resource.recording,
        seconds,
    )
    .await
    {
        Ok((link, secret)) => {
            let url = views::new_link_view(&state, &link, &secret).url;
            show(&state, lang, &access, url, None).await
        }
        Err(error) => {
            let error = crate::Error::from(error);
            let status = error.status();
            show(
                &state,
                lang,
                &access,
                None,
                Some((status, error.to_string())),
            )
            .await
        }
    }
}

async fn revoke_link(
    State(state): State<AppState>,
    access: Access<WatchRecording>,
    ClientAddr(address): ClientAddr,
    Path((rid, link_id)): Path<(String, i64)>,
) -> Result<Response, PageError> {
    let acting = access.current.acting(address);
    // A link revoked meanwhile (another tab) is gone either way.
    match recordings::revoke_link(
        &state.usecases,
        &acting,
        &access.resource.recording,
        link_id,
    )
    .await
    {
        Ok(()) | Err(roomkeeper_usecases::Error::NotFound) => {}
        Err(other) => return Err(crate::Error::from(other).into()),
    }
    Ok(Redirect::to(&format!("/recordings/{rid}")).into_response())
}

#[derive(Deserialize)]
struct DeleteForm {
    confirm: Option<String>,
}

async fn delete(
    State(state): State<AppState>,
    access: Access<HandleRecording>,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<DeleteForm>,
) -> Result<Response, PageError> {
    if form.confirm.as_deref() != Some("yes") {
        return Err(crate::Error::BadRequest(
            "Tick the box to confirm that the recording should be deleted.".into(),
        )
        .into());
    }
    let acting = access.current.acting(address);
    // Deleted meanwhile (another tab) is deleted either way.
    match recordings::delete(&state.usecases, &acting, &access.resource.recording).await {
        Ok(()) | Err(roomkeeper_usecases::Error::NotFound) => {}
        Err(other) => return Err(crate::Error::from(other).into()),
    }
    let target = match &access.resource.room {
        Some(room) => format!("/rooms/{}", room.id),
        None => "/admin/recordings".to_owned(),
    };
    Ok(Redirect::to(&target).into_response())
}

#[derive(Deserialize)]
struct AssignForm {
    room: String,
}

async fn assign(
    State(state): State<AppState>,
    access: Access<HandleRecording>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    PageForm(form): PageForm<AssignForm>,
) -> Result<Response, PageError> {
    let acting = admin.acting(address);
    recordings::assign(
        &state.usecases,
        &acting,
        &access.resource.recording,
        &form.room,
    )
    .await?;
    Ok(Redirect::to("/admin/recordings").into_response())
}

#[derive(Deserialize)]
struct SharedQuery {
    download: Option<String>,
}

/// A share link: no login, the link is the permission while it lasts.
async fn shared(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    Path(token): Path<String>,
    axum::extract::Query(query): axum::extract::Query<SharedQuery>,
    request: Request,
) -> Result<Response, PageError> {
    let starts = delivery::starts_a_use(&request);
    let recording = recordings::shared(&state.usecases, &token, address, starts).await?;
    let download = query.download.is_some_and(|d| d != "0");
    Ok(delivery::content(&state, &recording, download, request).await?)
}

#[derive(Template)]
#[template(path = "admin_recordings.html")]
struct AdminRecordingsPage {
    page: Chrome,
    recordings: Vec<RecordingView>,
    problems: Vec<IngestProblem>,
    admins_may_watch: bool,
}

async fn admin_recordings(
    State(state): State<AppState>,
    Language(lang): Language,
    Admin(admin): Admin,
) -> Result<Response, PageError> {
    let (list, problems) = recordings::unassigned(&state.usecases).await?;
    Ok(render_with_status(
        StatusCode::OK,
        &AdminRecordingsPage {
            page: Chrome::for_user(&state, lang, &admin.user, "/admin/recordings").await?,
            recordings: list.iter().map(|r| views::view(&state, r)).collect(),
            problems,
            admins_may_watch: state.usecases.recordings.config.admins_can_view_recordings,
        },
    ))
}
