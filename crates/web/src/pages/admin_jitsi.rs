//! The administrators' view of the Jitsi connections: which Prosody servers Roomkeeper
//! is connected to, whether the companion module answers, how many rooms are followed.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use roomkeeper_usecases::meetings::{self, ConnectProblem, RoomOwnership, ShardStatus};

use super::{Chrome, render_with_status};
use crate::extract::Admin;
use crate::i18n::Language;
use crate::{AppState, PageError};

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/jitsi", get(jitsi))
}

#[derive(Template)]
#[template(path = "admin_jitsi.html")]
struct JitsiPage {
    page: Chrome,
    shards: Vec<ShardStatus>,
    followed: usize,
}

async fn jitsi(
    State(state): State<AppState>,
    Language(lang): Language,
    Admin(admin): Admin,
) -> Result<Response, PageError> {
    Ok(render_with_status(
        StatusCode::OK,
        &JitsiPage {
            page: Chrome::for_user(&state, lang, &admin.user, "/admin/jitsi").await?,
            shards: meetings::shards(&state.usecases),
            followed: meetings::followed(&state.usecases),
        },
    ))
}
