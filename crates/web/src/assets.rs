//! The stylesheet, the one small script and the icon, compiled into the binary so the pages need no other host and no
//! files beside the binary.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

const STYLE_CSS: &str = include_str!("../static/style.css");
const LIVE_JS: &str = include_str!("../static/live.js");
/// A door, 32 px (a PNG inside an ICO). Browsers ask for `/favicon.ico` on their own;
/// without it every first visit logs a 404 in the console.
const FAVICON: &[u8] = include_bytes!("../static/favicon.ico");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/style.css", get(style))
        .route("/static/live.js", get(live))
        .route("/favicon.ico", get(favicon))
}

async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/x-icon"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}

async fn live() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        LIVE_JS,
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            // Short on purpose: there is no fingerprint in the name to bust a long cache.
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE_CSS,
    )
}
