//! Recordings as JSON: a room's list, one recording, its file, deletion, share links,
//! the finalize script's upload, and the admin's unassigned recordings.

use axum::Json;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use roomkeeper_domain::IngestProblem;
use roomkeeper_domain::Refusal;
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiPath};
use crate::extract::{
    Access, Admin, ClientAddr, HandleRecording, SeeRoom, SetRetention, WatchRecording,
    may_watch_recordings,
};
use roomkeeper_usecases::recordings;
use roomkeeper_usecases::upload::Upload;

use crate::delivery;
use crate::views::{self, RecordingView, ShareLinkView};
use crate::{ApiError, AppState, Error};

pub async fn list_of_room(
    State(state): State<AppState>,
    access: Access<SeeRoom>,
) -> Result<Json<Vec<RecordingView>>, ApiError> {
    if !may_watch_recordings(&state, &access.current, &access.resource) {
        return Err(Error::NotFound.into());
    }
    let list = recordings::of_room(&state.usecases, &access.resource).await?;
    Ok(Json(list.iter().map(|r| views::view(&state, r)).collect()))
}

pub async fn get_recording(
    State(state): State<AppState>,
    access: Access<HandleRecording>,
) -> Json<RecordingView> {
    Json(views::view(&state, &access.resource.recording))
}

#[derive(Deserialize)]
pub struct ContentQuery {
    #[serde(default)]
    download: Option<String>,
}

pub async fn content(
    State(state): State<AppState>,
    access: Access<WatchRecording>,
    Query(query): Query<ContentQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let download = query.download.is_some_and(|d| d != "0");
    Ok(delivery::content(&state, &access.resource.recording, download, request).await?)
}

pub async fn delete_recording(
    State(state): State<AppState>,
    access: Access<HandleRecording>,
    ClientAddr(address): ClientAddr,
) -> Result<StatusCode, ApiError> {
    let acting = access.current.acting(address);
    recordings::delete(&state.usecases, &acting, &access.resource.recording).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    expires_in_s: i64,
}

pub async fn create_link(
    State(state): State<AppState>,
    access: Access<WatchRecording>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<NewLink>,
) -> Result<(StatusCode, Json<ShareLinkView>), ApiError> {
    let acting = access.current.acting(address);
    let (link, secret) = recordings::create_link(
        &state.usecases,
        &acting,
        &access.resource.recording,
        body.expires_in_s,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::new_link_view(&state, &link, &secret)),
    ))
}

pub async fn list_links(
    State(state): State<AppState>,
    access: Access<WatchRecording>,
) -> Result<Json<Vec<ShareLinkView>>, ApiError> {
    let links = recordings::share_links(&state.usecases, &access.resource.recording).await?;
    Ok(Json(
        links
            .iter()
            .map(|l| views::link_view(&state, l, None))
            .collect(),
    ))
}

pub async fn revoke_link(
    State(state): State<AppState>,
    access: Access<WatchRecording>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, link_id)): ApiPath<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let acting = access.current.acting(address);
    recordings::revoke_link(
        &state.usecases,
        &acting,
        &access.resource.recording,
        link_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct Unassigned {
    recordings: Vec<RecordingView>,
    problems: Vec<IngestProblem>,
}

/// Admins: recordings no room claims, and session directories that could not be read.
pub async fn unassigned(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Unassigned>, ApiError> {
    let (list, problems) = recordings::unassigned(&state.usecases).await?;
    Ok(Json(Unassigned {
        recordings: list.iter().map(|r| views::view(&state, r)).collect(),
        problems,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    room: String,
}

/// Admins: give an unassigned recording to a registered room.
pub async fn assign(
    State(state): State<AppState>,
    access: Access<HandleRecording>,
    Admin(admin): Admin,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<Assignment>,
) -> Result<Json<RecordingView>, ApiError> {
    let acting = admin.acting(address);
    let recording = recordings::assign(
        &state.usecases,
        &acting,
        &access.resource.recording,
        &body.room,
    )
    .await?;
    Ok(Json(views::view(&state, &recording)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    days: Option<i64>,
}

/// Admins: how long this room's recordings are kept (`null`: the default).
pub async fn set_retention(
    State(state): State<AppState>,
    access: Access<SetRetention>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<Retention>,
) -> Result<StatusCode, ApiError> {
    let acting = access.current.acting(address);
    recordings::set_retention(&state.usecases, &acting, &access.resource, body.days).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct Ingested {
    recordings: Vec<String>,
}

/// The finalize script's upload (`deploy/jibri/finalize.sh`): multipart fields `session`
/// (the directory's name), `metadata` (metadata.json) and one `video` per file. Video
/// parts are streamed to a staging directory, never held in memory; the staged session
/// is then ingested like a local one. Sending the same session again gives the same
/// recordings, so the script may retry until it gets a 200.
pub async fn ingest(
    State(state): State<AppState>,
    _jibri: Jibri,
    request: Request,
) -> Result<Json<Ingested>, ApiError> {
    // Read only once the token is right: nobody else gets their upload parsed.
    let multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|e| Error::refused(Refusal::BadUpload, e.body_text()))?;
    Ok(Json(ingest_upload(&state, multipart).await?))
}

/// A caller with the ingest token: a Jibri machine's finalize script.
pub struct Jibri;

impl axum::extract::FromRequestParts<AppState> for Jibri {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Without a token configured uploads are off (403), whatever was presented.
        let given = crate::extract::bearer_token(&parts.headers).unwrap_or_default();
        match recordings::check_ingest_token(&state.usecases, given) {
            recordings::IngestToken::Accepted => Ok(Jibri),
            recordings::IngestToken::NotConfigured => Err(Error::Forbidden.into()),
            recordings::IngestToken::Wrong => Err(Error::BadToken.into()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolReport {
    host: String,
    waiting: Vec<recordings::SpoolEntry>,
}

/// A Jibri machine's uploader tells what its spool still holds after a pass (an empty
/// list once everything was delivered).
pub async fn report_spool(
    State(state): State<AppState>,
    _jibri: Jibri,
    ApiJson(report): ApiJson<SpoolReport>,
) -> Result<StatusCode, ApiError> {
    recordings::report_spool(&state.usecases, &report.host, &report.waiting).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn ingest_upload(state: &AppState, mut multipart: Multipart) -> Result<Ingested, Error> {
    let bad = |message: String| Error::refused(Refusal::BadUpload, message);
    let mut upload = Upload::begin(&state.usecases).await?;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("the upload is not valid multipart: {e}")))?
    {
        match field.name() {
            Some("session") => {
                upload.session(field.text().await.map_err(|e| bad(e.to_string()))?)?;
            }
            Some("metadata") => {
                let bytes = field.bytes().await.map_err(|e| bad(e.to_string()))?;
                upload.metadata(bytes.to_vec())?;
            }
            Some("video") => {
                let file_name = field.file_name().map(str::to_owned);
                let mut video = upload.video(file_name.as_deref()).await?;
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| bad(format!("the upload broke off: {e}")))?
                {
                    video.write(&chunk).await?;
                }
                upload.video_done(video).await?;
            }
            _ => {}
        }
    }
    Ok(Ingested {
        recordings: upload.finish(&state.usecases).await?,
    })
}
