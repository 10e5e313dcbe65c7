//! Whole-app tests: the real server on 127.0.0.1:0 with a fresh database per test,
//! driven over HTTP. Each case runs on SQLite and on a real PostgreSQL.

// A failed step should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

mod admin;
mod api;
mod authz;
mod cli;
mod login;
mod mail;
mod operations;
mod pages;
mod rooms;
mod sessions;

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

pub const PASSWORD: &str = "a long test password";

/// The JSON error code of an API answer, asserting the status on the way.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "unexpected status");
    let body: Value = response.json().await.expect("a JSON error body");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without a message: {body}");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

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
