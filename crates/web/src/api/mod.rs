//! The JSON API under `/api/v1` (paths promised in `/api/v1/openapi.json`). Every route is
//! added through [`ApiRoutes`], which remembers it, so a test can hold the list against
//! `openapi.json` and fail when one is undocumented.

mod account;
mod guard;
mod meeting;
mod recordings;
#[cfg(test)]
mod reference;
mod rooms;

use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::handler::Handler;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, delete, get, post, put};

use crate::{ApiError, AppState, Error};

pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// A router that records each (method, path) it is given.
pub struct ApiRoutes {
    router: Router<AppState>,
    routes: Vec<(&'static str, &'static str)>,
}

impl ApiRoutes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        route: MethodRouter<AppState>,
    ) -> Self {
        self.routes.push((method, path));
        self.router = self.router.route(path, route);
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add("get", path, get(handler))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add("post", path, post(handler))
    }

    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add("put", path, put(handler))
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add("delete", path, delete(handler))
    }

    /// Every (lower-case method, path relative to `/api/v1`) served.
    pub fn routes(&self) -> &[(&'static str, &'static str)] {
        &self.routes
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get("/openapi.json", openapi)
        .post("/session", account::log_in)
        .delete("/session", account::log_out)
        .get("/me", account::me)
        .put("/me/password", account::change_password)
        .put("/me/email", account::set_email)
        .get("/tokens", account::list_tokens)
        .post("/tokens", account::create_token)
        .delete("/tokens/{id}", account::delete_token)
        .post("/room-requests", rooms::create_request)
        .get("/room-requests", rooms::list_requests)
        .post("/room-requests/decisions", rooms::decide_many)
        .get("/room-requests/{id}", rooms::get_request)
        .post("/room-requests/{id}/approve", rooms::approve_request)
        .post("/room-requests/{id}/reject", rooms::reject_request)
        .post("/room-requests/{id}/withdraw", rooms::withdraw_request)
        .get("/rooms", rooms::list_rooms)
        .get("/rooms/{id}", rooms::get_room)
        .delete("/rooms/{id}", rooms::release_room)
        .put("/rooms/{id}/co-owners", rooms::set_co_owners)
        .post("/rooms/{id}/transfer", rooms::transfer_room)
        .get("/rooms/{id}/meeting", meeting::get_meeting)
        .get("/rooms/{id}/events", meeting::events)
        .delete("/rooms/{id}/meeting", meeting::end_meeting)
        .delete("/rooms/{id}/meeting/password", meeting::remove_password)
        .post("/rooms/{id}/meeting/password", meeting::set_password)
        .get("/rooms/{id}/guard", guard::get_guard)
        .put("/rooms/{id}/guard", guard::set_guard)
        .post("/rooms/{id}/join-codes", guard::create_join_code)
        .put(
            "/rooms/{id}/meeting/participants/{pid}/moderator",
            meeting::grant_moderator,
        )
        .delete(
            "/rooms/{id}/meeting/participants/{pid}/moderator",
            meeting::revoke_moderator,
        )
        .post("/rooms/{id}/meeting/participants/{pid}/kick", meeting::kick)
        .get("/rooms/{id}/meeting/lobby", meeting::get_lobby)
        .post("/rooms/{id}/meeting/lobby/admit-all", meeting::admit_all)
        .post("/rooms/{id}/meeting/lobby/{kid}/admit", meeting::admit)
        .post("/rooms/{id}/meeting/lobby/{kid}/deny", meeting::deny)
        .get("/rooms/{id}/recordings", recordings::list_of_room)
        .put("/rooms/{id}/retention", recordings::set_retention)
        .add(
            "post",
            "/recordings/ingest",
            // Recordings are gigabytes; the upload streams to disk.
            post(recordings::ingest).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .post("/recordings/spool", recordings::report_spool)
        .get("/recordings/unassigned", recordings::unassigned)
        .get("/recordings/{rid}", recordings::get_recording)
        .delete("/recordings/{rid}", recordings::delete_recording)
        .add(
            "get",
            "/recordings/{rid}/content",
            // HEAD is answered by the same handler (ServeFile sends no body).
            get(recordings::content).head(recordings::content),
        )
        .post("/recordings/{rid}/assign", recordings::assign)
        .get("/recordings/{rid}/links", recordings::list_links)
        .post("/recordings/{rid}/links", recordings::create_link)
        .delete("/recordings/{rid}/links/{lid}", recordings::revoke_link)
        .get("/users/{username}/patterns", rooms::list_patterns)
        .post("/users/{username}/patterns", rooms::add_pattern)
        .delete("/users/{username}/patterns/{id}", rooms::delete_pattern)
        .get("/group-patterns", rooms::list_group_patterns)
        .post("/group-patterns", rooms::add_group_pattern)
        .delete("/group-patterns/{id}", rooms::delete_group_pattern)
        .get("/audit", rooms::audit_log)
        .get("/notices", rooms::list_notices)
        .delete("/notices/{id}", rooms::dismiss_notice)
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

/// `Json` whose rejections (bad JSON, wrong content type, missing field) answer in our
/// error format instead of axum's plain text.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError(Error::BadRequest(format!(
            "The request body is not the JSON this endpoint expects: {}",
            rejection.body_text()
        )))
    }
}

/// `Path` whose rejections answer in our error format.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError(Error::BadRequest(format!(
            "A part of the path is not valid: {}",
            rejection.body_text()
        )))
    }
}
