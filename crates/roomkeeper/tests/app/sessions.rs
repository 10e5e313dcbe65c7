use std::sync::Arc;

use reqwest::StatusCode;
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, both_backends};

use crate::{PASSWORD, error_code, me};

/// Logs in with a cookie-less client and returns the raw `name=value` cookie pair, so a
/// test can replay it wherever it wants (after logout, on another instance).
async fn raw_session(app: &TestApp, username: &str) -> String {
    let login = reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .json(&serde_json::json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let raw = crate::session_cookie(&login).expect("a session cookie");
    raw.split(';').next().unwrap().to_owned()
}

async fn me_with(app: &TestApp, cookie: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn logout_ends_the_session_for_good(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let client = app.client();
    app.log_in(&client, "alice", PASSWORD).await.unwrap();
    let stolen = raw_session(&app, "alice").await;
    assert_eq!(me_with(&app, &stolen).await.status(), StatusCode::OK);
    let response = reqwest::Client::new()
        .delete(app.url("/api/v1/session"))
        .header("cookie", &stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let replayed = me_with(&app, &stolen).await;
    assert_eq!(
        error_code(replayed, StatusCode::UNAUTHORIZED).await,
        "not_logged_in"
    );
    // The other session is untouched; the logout button of the pages ends it.
    assert_eq!(me(&app, &client).await.status(), StatusCode::OK);
    let response = client.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&app, &client).await.status(), StatusCode::UNAUTHORIZED);
}

async fn sessions_end_when_idle_and_at_the_absolute_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let idle = i64::from(app.config.sessions.idle_timeout_minutes) * 60;
    let absolute = i64::from(app.config.sessions.absolute_timeout_hours) * 3600;

    let client = app.client();
    app.log_in(&client, "alice", PASSWORD).await.unwrap();
    app.clock().advance(idle - 5);
    assert_eq!(
        me(&app, &client).await.status(),
        StatusCode::OK,
        "used in time: still live"
    );
    app.clock().advance(idle + 1);
    assert_eq!(
        me(&app, &client).await.status(),
        StatusCode::UNAUTHORIZED,
        "idle too long"
    );

    let client = app.client();
    app.log_in(&client, "alice", PASSWORD).await.unwrap();
    let mut elapsed = 0;
    while elapsed + idle / 2 < absolute {
        app.clock().advance(idle / 2);
        elapsed += idle / 2;
        assert_eq!(
            me(&app, &client).await.status(),
            StatusCode::OK,
            "busy session at {elapsed} s"
        );
    }
    app.clock().advance(absolute - elapsed + 1);
    assert_eq!(
        me(&app, &client).await.status(),
        StatusCode::UNAUTHORIZED,
        "past the absolute limit"
    );
}

async fn a_restart_keeps_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let cookie = raw_session(&app, "alice").await;
    let (database, config) = (Arc::clone(&app.database), app.config.clone());
    let old_me = app.url("/api/v1/me");
    app.stop().await.unwrap();
    assert!(
        reqwest::get(old_me).await.is_err(),
        "the first server is gone"
    );
    // A new process on the same database (a restart, or a second instance behind a
    // load balancer) knows the session.
    let again = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let response = me_with(&again, &cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["username"], "alice");
}

async fn disabling_a_user_ends_their_sessions_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("root", PASSWORD, true).await.unwrap();
    let bob = app.user("bob", PASSWORD, false).await.unwrap();
    let (admin, bob_browser, bob_phone) = (app.client(), app.client(), app.client());
    app.log_in(&admin, "root", PASSWORD).await.unwrap();
    app.log_in(&bob_browser, "bob", PASSWORD).await.unwrap();
    app.log_in(&bob_phone, "bob", PASSWORD).await.unwrap();
    let response = admin
        .post(app.url(&format!("/admin/users/{}/disabled", bob.id)))
        .form(&[("on", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        me(&app, &bob_browser).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&app, &bob_phone).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me(&app, &admin).await.status(), StatusCode::OK);
}

async fn fresh_database_gets_an_admin_who_must_change_the_password(backend: Backend) {
    let database = Arc::new(TestDatabase::new(backend).await.unwrap());
    let config = database.config();
    let initial = config.initial_admin_password.clone().unwrap();
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let client = app.client();
    app.log_in(&client, "admin", &initial).await.unwrap();
    let me_body: serde_json::Value = me(&app, &client).await.json().await.unwrap();
    assert_eq!(me_body["is_admin"], true);
    assert_eq!(me_body["must_change_password"], true);
    // Nothing else until the password is changed: pages send to the profile, the API says why.
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.headers()["location"], "/profile");
    let users = client.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(users.headers()["location"], "/profile");
    let tokens = client.get(app.url("/api/v1/tokens")).send().await.unwrap();
    assert_eq!(
        error_code(tokens, StatusCode::FORBIDDEN).await,
        "password_change_required"
    );
    let change = client
        .put(app.url("/api/v1/me/password"))
        .json(&serde_json::json!({"current_password": initial, "new_password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(change, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_password"
    );
    let change = client
        .put(app.url("/api/v1/me/password"))
        .json(&serde_json::json!({"current_password": "wrong", "new_password": "a brand new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(change, StatusCode::UNPROCESSABLE_ENTITY).await,
        "wrong_password"
    );
    let change = client
        .put(app.url("/api/v1/me/password"))
        .json(&serde_json::json!({"current_password": initial, "new_password": "a brand new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        client
            .get(app.url("/admin/users"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // A restart does not make a second admin, and the new password is the one that works.
    let (database, config) = (Arc::clone(&app.database), app.config.clone());
    app.stop().await.unwrap();
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    assert_eq!(app.store().count_active_admins().await.unwrap(), 1);
    app.log_in(&app.client(), "admin", "a brand new password")
        .await
        .unwrap();
}

both_backends!(
    logout_ends_the_session_for_good,
    sessions_end_when_idle_and_at_the_absolute_limit,
    a_restart_keeps_sessions,
    disabling_a_user_ends_their_sessions_at_once,
    fresh_database_gets_an_admin_who_must_change_the_password,
);
