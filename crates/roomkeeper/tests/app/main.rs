//! Whole-app tests: the real server on 127.0.0.1:0 with a fresh database per test,
//! driven over HTTP. Each case runs on SQLite and on a real PostgreSQL.

// A failed step should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

mod admin;
mod api;
mod authz;
mod backup;
mod cli;
mod course_rooms;
mod database;
mod ldap;
mod login;
mod mail;
mod oidc;
mod operations;
mod pages;
mod recordings;
mod rooms;
mod sessions;
mod streams;
mod upgrade;

use reqwest::{Client, Response};
pub use roomkeeper_testkit::error_code;

pub const PASSWORD: &str = "a long test password";

pub async fn me(app: &roomkeeper_testkit::TestApp, client: &Client) -> Response {
    client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .expect("GET /me")
}

/// The value of the session cookie `response` set, if any.
pub fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| {
            c.starts_with("roomkeeper_session=") || c.starts_with("__Host-roomkeeper_session=")
        })
        .map(str::to_owned)
}
