//! How a recording's file is handed out: served with Range support from local disk, or
//! a redirect to a presigned S3 URL (who may have it was decided before).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use http_body_util::BodyExt;
use roomkeeper_domain::Recording;
use roomkeeper_usecases::recordings::{Delivery, content_disposition, content_type, download_name};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::{AppState, Error};

/// The file itself. From local disk: Range, HEAD and If-Modified-Since work, because
/// tower-http's `ServeFile` answers them, or nginx does when
/// `recordings.x_accel_redirect_location` hands the sending to it. From S3: a redirect to
/// a presigned URL that expires after `recordings.presigned_url_seconds` (the access
/// check happened here).
pub async fn content(
    state: &AppState,
    recording: &Recording,
    download: bool,
    request: Request,
) -> Result<Response, Error> {
    match roomkeeper_usecases::recordings::delivery(&state.usecases, recording).await? {
        Delivery::Redirect(url) => Ok(Redirect::to(&url).into_response()),
        Delivery::File(path) => {
            let location = &state.usecases.recordings.config.x_accel_redirect_location;
            if location.is_empty() {
                serve_file(&path, recording, download, request).await
            } else {
                hand_to_proxy(location, &path, recording, download).await
            }
        }
    }
}

/// An empty answer that tells nginx which file to send from its internal location
/// (checked at start-up to be a plain path prefix). nginx answers Range, HEAD and
/// conditional requests itself and keeps this answer's Content-Type, Content-Disposition
/// and Cache-Control.
async fn hand_to_proxy(
    location: &str,
    path: &Path,
    recording: &Recording,
    download: bool,
) -> Result<Response, Error> {
    if tokio::fs::metadata(path).await.is_err() {
        return Err(missing_file(recording, path));
    }
    let target = HeaderValue::from_str(&format!("{location}{}", recording.id))
        .map_err(|e| Error::Internal(format!("X-Accel-Redirect for {}: {e}", recording.id)))?;
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert("x-accel-redirect", target);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(recording)),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        disposition(download, &download_name(recording)),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}

/// The row says ready but the file is gone: an operator removed it by hand.
fn missing_file(recording: &Recording, path: &Path) -> Error {
    Error::Internal(format!(
        "recording {} has no file at {}",
        recording.id,
        path.display()
    ))
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
        return Err(missing_file(recording, path));
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

/// Whether a request starts playing or downloading (see `roomkeeper_usecases::recordings::shared`).
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
