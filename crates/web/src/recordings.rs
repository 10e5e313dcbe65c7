//! Recordings as pages and API share them: how one is shown, how its file is handed out
//! (served with Range support from local disk, or a redirect to a presigned S3 URL),
//! share links, and the upload path of the finalize script.

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use http_body_util::BodyExt;
use roomkeeper_auth::{SecretToken, hash_token};
use roomkeeper_domain::RoomName;
use roomkeeper_recordings::{Delivery, content_disposition, content_type, download_name};
use roomkeeper_store::{Audit, Recording, RecordingState, ShareLink};
use serde::Serialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::rooms::address_text;
use crate::{AppState, Error};

#[derive(Debug, Serialize)]
pub struct RecordingView {
    pub id: String,
    /// The registered room (display form), `None` while unassigned.
    pub room: Option<String>,
    pub meeting_url: String,
    pub started_at: String,
    pub duration_s: Option<i64>,
    pub size_bytes: i64,
    pub file_name: String,
    pub participants: Vec<String>,
    /// When retention deletes it.
    pub deleted_at: String,
    #[serde(skip)]
    pub started_unix: i64,
    #[serde(skip)]
    pub deleted_unix: i64,
}

pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub fn view(state: &AppState, recording: &Recording) -> RecordingView {
    let deleted_unix = state.recordings.deleted_at(recording);
    RecordingView {
        id: recording.id.clone(),
        room: recording.room_name.as_deref().map(|name| {
            RoomName::from_canonical(name).map_or_else(|_| name.to_owned(), |n| n.display())
        }),
        meeting_url: recording.meeting_url.clone(),
        started_at: rfc3339(recording.started_at),
        duration_s: recording.duration_ms.map(|ms| (ms + 500) / 1000),
        size_bytes: recording.size_bytes,
        file_name: download_name(recording),
        participants: recording.participants.clone(),
        deleted_at: rfc3339(deleted_unix),
        started_unix: recording.started_at,
        deleted_unix,
    }
}

/// The file itself. From local disk: Range, HEAD and If-Modified-Since work, because
/// tower-http's `ServeFile` answers them. From S3: a redirect to a presigned URL that
/// expires after `recordings.presigned_url_seconds` (the access check happened here).
pub async fn content(
    state: &AppState,
    recording: &Recording,
    download: bool,
    request: Request,
) -> Result<Response, Error> {
    let valid_for = Duration::from_secs(state.recordings.config.presigned_url_seconds);
    match state
        .recordings
        .blobs
        .delivery(&recording.id, valid_for)
        .await?
    {
        Delivery::Redirect(url) => Ok(Redirect::to(&url).into_response()),
        Delivery::File(path) => serve_file(&path, recording, download, request).await,
    }
}

/// Downloads this instance is serving right now; each new one sizes its reads by it.
static DOWNLOADS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// What the read sizes of all downloads on one instance add up to at most (about). Reads
/// are the speed/memory trade: tower-http's 64 KiB default reached 0.62x nginx's
/// throughput, 512 KiB 1.01x, but each download holds about three reads in memory
/// (bench/src/recordings.rs). So a download alone reads 1 MiB at a time, and when many
/// run they share this budget, down to 64 KiB each.
const READ_BUDGET: usize = 4 * 1024 * 1024;

fn read_size(in_flight: usize) -> usize {
    (READ_BUDGET / in_flight.max(1)).clamp(64 * 1024, 1024 * 1024)
}

/// Counts a download from its start until its body is dropped (sent, or the client left).
struct InFlight;

impl InFlight {
    fn enter() -> (Self, usize) {
        (
            InFlight,
            DOWNLOADS_IN_FLIGHT.fetch_add(1, Ordering::Relaxed) + 1,
        )
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        DOWNLOADS_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Players ask for one range at a time; tower-http would parse and sort every range of a
/// header first (20,000 ranges cost ~0.4 s of CPU, from anyone with a share link). A
/// header with more than this many, or longer than [`MAX_RANGE_HEADER_BYTES`], is ignored
/// (RFC 9110 lets a server ignore Range) and the whole file is sent, as to a plain GET.
const MAX_RANGES: usize = 4;
const MAX_RANGE_HEADER_BYTES: usize = 200;

fn ignore_excessive_range(request: &mut Request) {
    let excessive = request.headers().get(header::RANGE).is_some_and(|range| {
        range.len() > MAX_RANGE_HEADER_BYTES
            || range.as_bytes().iter().filter(|b| **b == b',').count() >= MAX_RANGES
    });
    if excessive {
        request.headers_mut().remove(header::RANGE);
    }
}

async fn serve_file(
    path: &Path,
    recording: &Recording,
    download: bool,
    mut request: Request,
) -> Result<Response, Error> {
    ignore_excessive_range(&mut request);
    let (in_flight, downloads) = InFlight::enter();
    let response = ServeFile::new(path)
        .with_buf_chunk_size(read_size(downloads))
        .oneshot(request)
        .await
        .map_err(|e| Error::Internal(format!("serving {}: {e}", path.display())))?;
    if response.status() == StatusCode::NOT_FOUND {
        // The row says ready but the file is gone: an operator removed it by hand.
        return Err(Error::Internal(format!(
            "recording {} has no file at {}",
            recording.id,
            path.display()
        )));
    }
    let (mut parts, body) = response.into_parts();
    if parts.status.is_success() {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(recording)),
        );
    }
    parts.headers.insert(
        header::CONTENT_DISPOSITION,
        disposition(download, &download_name(recording)),
    );
    // Private: no shared cache may keep it, but the browser may revalidate for seeking.
    parts.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    // The body owns the counter: it counts until the last byte is sent or the client goes.
    let body = body.map_frame(move |frame| {
        let _counted = &in_flight;
        frame
    });
    Ok(Response::from_parts(parts, Body::new(body)))
}

fn disposition(download: bool, name: &str) -> HeaderValue {
    HeaderValue::from_str(&content_disposition(download, name))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[derive(Debug, Serialize)]
pub struct ShareLinkView {
    pub id: i64,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub active: bool,
    /// Only in the answer that created it: the secret is not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

pub fn link_view(state: &AppState, link: &ShareLink, url: Option<String>) -> ShareLinkView {
    ShareLinkView {
        id: link.id,
        created_by: link.created_by.clone(),
        created_at: rfc3339(link.created_at),
        expires_at: rfc3339(link.expires_at),
        active: link.revoked_at.is_none() && link.expires_at > state.clock.now(),
        url,
    }
}

/// Makes a share link valid for `seconds` (at most `recordings.share_link_max_days`).
pub async fn create_link(
    state: &AppState,
    recording: &Recording,
    actor: &roomkeeper_store::User,
    address: Option<IpAddr>,
    seconds: i64,
) -> Result<ShareLinkView, Error> {
    let max_days = state.recordings.config.share_link_max_days;
    if !(60..=max_days * 86_400).contains(&seconds) {
        return Err(Error::invalid(
            "bad_lifetime",
            format!("A share link lives between one minute and {max_days} days."),
        ));
    }
    let token = SecretToken::generate("rks_");
    let address = address_text(address);
    let audit = crate::rooms::audit(state, actor, address.as_deref());
    let link = state
        .store
        .create_share_link(&recording.id, &token.hash, audit.now + seconds, &audit)
        .await?;
    let url = format!("{}/shared/{}", state.http.base_url(), token.secret);
    Ok(link_view(state, &link, Some(url)))
}

/// The recording behind a share link that still works (not revoked, not expired, its
/// maker still allowed to watch), or 404. Every use that starts
/// playing or downloading (a request without Range, or for the first byte) is audited;
/// the many Range requests a player makes while seeking are not.
pub async fn shared(
    state: &AppState,
    secret: &str,
    address: Option<IpAddr>,
    starts_a_use: bool,
) -> Result<Recording, Error> {
    let link = state
        .store
        .share_link(&hash_token(secret))
        .await?
        .filter(|l| l.revoked_at.is_none() && l.expires_at > state.clock.now())
        .ok_or(Error::NotFound)?;
    let recording = state
        .store
        .recording(&link.recording_id)
        .await?
        .filter(|r| r.state == RecordingState::Ready)
        .ok_or(Error::NotFound)?;
    // A link is its maker's right lent out: when they lose it (co-owner removed, room
    // transferred or released, account disabled), their links stop working too.
    if !crate::extract::may_still_watch(state, &link.created_by, &recording).await? {
        return Err(Error::NotFound);
    }
    if starts_a_use {
        let address = address_text(address);
        let audit = Audit {
            actor: None,
            address: address.as_deref(),
            now: state.clock.now(),
        };
        state
            .store
            .record_audit(
                &audit,
                "share_link_used",
                recording.room_name.as_deref(),
                Some(&link.created_by),
                &format!("recording {}, link {}", recording.id, link.id),
            )
            .await?;
    }
    Ok(recording)
}

/// Whether a request starts playing or downloading (see [`shared`]).
pub fn starts_a_use(request: &Request) -> bool {
    match request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    {
        None => request.method() != axum::http::Method::HEAD,
        Some(range) => range.trim().starts_with("bytes=0-"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_download_reads_big_many_share_the_budget() {
        use super::read_size;
        assert_eq!(read_size(0), 1024 * 1024);
        assert_eq!(read_size(1), 1024 * 1024);
        assert_eq!(read_size(4), 1024 * 1024);
        assert_eq!(read_size(16), 256 * 1024);
        assert_eq!(read_size(100), 64 * 1024);
        // A hundred started at once hold about 16 MiB of reads between them.
        let total: usize = (1..=100).map(read_size).sum();
        assert!(total < 18 * 1024 * 1024, "{total}");
    }
}
