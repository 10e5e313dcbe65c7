use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::{Backend, TestApp, both_backends};
use serde_json::{Value, json};

use crate::{PASSWORD, error_code, me};

async fn tokens_are_shown_once_stored_hashed_and_revocable(backend: Backend) {
    let mut steps = Steps::new();
    let app = TestApp::spawn(backend).await.unwrap();
    let alice = app.user("alice", PASSWORD, false).await.unwrap();
    let browser = app.client();
    app.log_in(&browser, "alice", PASSWORD).await.unwrap();
    steps.begin("A token made in the browser is shown once");
    let created = browser
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"name": "course portal"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("rk_"));
    steps.begin("Stored as a hash: the secret itself finds nothing in the database");
    assert!(app.store().token(&secret).await.unwrap().is_none());
    let listed: Value = browser
        .get(app.url("/api/v1/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "course portal");
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is never listed again"
    );

    steps.begin("A script uses it");
    let script = reqwest::Client::new();
    let with_token = || {
        script
            .get(app.url("/api/v1/me"))
            .bearer_auth(&secret)
            .send()
    };
    let body: Value = with_token().await.unwrap().json().await.unwrap();
    assert_eq!(body["username"], "alice");
    steps.begin("A token is no cookie");
    // It is not refused as cross-site, it needs no Origin.
    let made_by_script = script
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&secret)
        .header("origin", "https://elsewhere.example")
        .json(&json!({"name": "second"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made_by_script.status(), StatusCode::CREATED);

    steps.begin("Only its owner revokes it");
    let id = created["id"].as_i64().unwrap();
    let bob = app.user("bob", PASSWORD, false).await.unwrap();
    let bob_client = app.client();
    app.log_in(&bob_client, "bob", PASSWORD).await.unwrap();
    let not_bobs = bob_client
        .delete(app.url(&format!("/api/v1/tokens/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(not_bobs, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    assert_eq!(app.store().tokens_of(bob.id).await.unwrap().len(), 0);

    let revoked = browser
        .delete(app.url(&format!("/api/v1/tokens/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        error_code(with_token().await.unwrap(), StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    assert_eq!(
        app.store().tokens_of(alice.id).await.unwrap().len(),
        1,
        "only the second is left"
    );
    steps.begin("A token may expire");
    // Its expiry is shown when it is made, and after it, it fails.
    let expiring: Value = browser
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"name": "for a day", "expires_in_days": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expires_at = expiring["expires_at"].as_i64().unwrap();
    assert_eq!(
        expires_at,
        expiring["created_at"].as_i64().unwrap() + 86_400
    );
    let short = expiring["token"].as_str().unwrap().to_owned();
    let me_with = |token: String| script.get(app.url("/api/v1/me")).bearer_auth(token).send();
    assert_eq!(
        me_with(short.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    let too_long = browser
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"name": "forever and a day", "expires_in_days": 100_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(too_long, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_token_expiry"
    );
    app.clock().advance(expires_at - app.clock().now());
    assert_eq!(
        error_code(me_with(short).await.unwrap(), StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    browser
        .delete(app.url(&format!("/api/v1/tokens/{}", expiring["id"])))
        .send()
        .await
        .unwrap();
    steps.begin("A disabled user's tokens stop working too");
    let second = app.store().tokens_of(alice.id).await.unwrap();
    assert_eq!(second[0].name, "second");
    app.store().set_disabled(alice.id, true).await.unwrap();
    let garbage = script
        .get(app.url("/api/v1/me"))
        .bearer_auth("rk_garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(garbage, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
}

async fn cross_site_posts_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let alice = app.user("alice", PASSWORD, false).await.unwrap();
    let browser = app.client();
    app.log_in(&browser, "alice", PASSWORD).await.unwrap();
    let forged = browser
        .post(app.url("/api/v1/tokens"))
        .header("origin", "https://evil.example")
        .json(&json!({"name": "forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(forged, StatusCode::FORBIDDEN).await,
        "cross_site"
    );
    // Credentials a browser remembers and sends by itself (a proxy's Basic login) are no
    // proof of a script: only a well-formed bearer token exempts a request.
    let forged = browser
        .post(app.url("/login"))
        .header("sec-fetch-site", "cross-site")
        .header("authorization", "Basic YWxpY2U6cHc=")
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.text().await.unwrap().contains("another website"));
    let forged = browser
        .post(app.url("/profile/tokens"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.text().await.unwrap().contains("another website"));
    let forged_logout = browser
        .post(app.url("/logout"))
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .unwrap();
    assert_eq!(forged_logout.status(), StatusCode::FORBIDDEN);
    assert!(app.store().tokens_of(alice.id).await.unwrap().is_empty());
    assert_eq!(
        me(&app, &browser).await.status(),
        StatusCode::OK,
        "still logged in"
    );
    // The same requests from our own pages work.
    let own = browser
        .post(app.url("/profile/tokens"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", app.base_url.clone())
        .form(&[("name", "mine")])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::CREATED);
    assert_eq!(app.store().tokens_of(alice.id).await.unwrap().len(), 1);
}

async fn bad_input_gets_a_clear_json_error(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let client = app.client();
    let not_json = client
        .post(app.url("/api/v1/session"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(not_json, StatusCode::BAD_REQUEST).await,
        "bad_request"
    );
    app.log_in(&client, "alice", PASSWORD).await.unwrap();
    let empty_name = client
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"name": "  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(empty_name, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_token_name"
    );
    let bad_id = client
        .delete(app.url("/api/v1/tokens/abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(bad_id, StatusCode::BAD_REQUEST).await,
        "bad_request"
    );
    let unknown = client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(unknown, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    let anonymous = reqwest::get(app.url("/api/v1/tokens")).await.unwrap();
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        error_code(anonymous, StatusCode::UNAUTHORIZED).await,
        "not_logged_in"
    );
}

/// Backend-independent: checks the routes the app serves against what it documents.
#[tokio::test]
async fn openapi_describes_every_route() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let spec: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = spec["paths"].as_object().unwrap();
    let served = roomkeeper_web::api::router();
    for (method, path) in served.routes() {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{} {path} is served but missing from openapi.json",
            method.to_uppercase()
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        served.routes().len(),
        "openapi.json documents a route that is not served"
    );
}

/// The operator caps how long a token works (`sessions.token_max_days`, a year unless
/// set): a token made without an expiry gets the cap, a longer one is refused, and a
/// token from before the cap (stored with no expiry) stops at it. A password change ends
/// the account's sessions and, when asked, its tokens.
async fn tokens_end_at_the_operators_limit_and_with_the_password_when_asked(backend: Backend) {
    let mut steps = Steps::new();
    let database = std::sync::Arc::new(
        roomkeeper_testkit::TestDatabase::new(backend)
            .await
            .unwrap(),
    );
    let mut config = database.config();
    config.sessions.token_max_days = 30;
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let alice = app.user("alice", PASSWORD, false).await.unwrap();
    let browser = app.client();
    app.log_in(&browser, "alice", PASSWORD).await.unwrap();
    steps.begin("A new token ends at the operator's limit");
    let make = |body: Value| browser.post(app.url("/api/v1/tokens")).json(&body).send();
    let made: Value = make(json!({"name": "no expiry asked"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        made["expires_at"].as_i64().unwrap(),
        made["created_at"].as_i64().unwrap() + 30 * 86_400,
        "{made}"
    );
    let too_long = make(json!({"name": "a year", "expires_in_days": 31}))
        .await
        .unwrap();
    assert_eq!(
        error_code(too_long, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_token_expiry"
    );
    steps.begin("A token made before the operator's limit, with no expiry of its own");
    let now = app.clock().now();
    let old = roomkeeper_auth::SecretToken::generate("rk_");
    app.store()
        .create_token(alice.id, "from before", &old.hash, now - 29 * 86_400, None)
        .await
        .unwrap();
    let script = reqwest::Client::new();
    let me_with = |token: &str| script.get(app.url("/api/v1/me")).bearer_auth(token).send();
    assert_eq!(me_with(&old.secret).await.unwrap().status(), StatusCode::OK);
    let listed: Value = browser
        .get(app.url("/api/v1/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let from_before = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "from before")
        .unwrap();
    assert_eq!(
        from_before["expires_at"].as_i64().unwrap(),
        now + 86_400,
        "listed with the limit as its end"
    );
    app.clock().advance(86_400);
    assert_eq!(
        error_code(
            me_with(&old.secret).await.unwrap(),
            StatusCode::UNAUTHORIZED
        )
        .await,
        "invalid_token"
    );

    steps.begin("A password change: the tokens stay unless the person asks");
    let secret = made["token"].as_str().unwrap().to_owned();
    let change = |new: &str, revoke: Option<bool>| {
        let current = if new == "a second long password" {
            PASSWORD
        } else {
            "a second long password"
        };
        let mut body = json!({"current_password": current, "new_password": new});
        if let Some(revoke) = revoke {
            body["revoke_tokens"] = revoke.into();
        }
        script
            .put(app.url("/api/v1/me/password"))
            .bearer_auth(&secret)
            .json(&body)
            .send()
    };
    let changed = change("a second long password", None).await.unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_with(&secret).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        error_code(me(&app, &browser).await, StatusCode::UNAUTHORIZED).await,
        "not_logged_in",
        "the browser's session ended with the password"
    );
    let changed = change("a third long password!", Some(true)).await.unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        error_code(me_with(&secret).await.unwrap(), StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    assert!(app.store().tokens_of(alice.id).await.unwrap().is_empty());
}

both_backends!(
    tokens_end_at_the_operators_limit_and_with_the_password_when_asked,
    tokens_are_shown_once_stored_hashed_and_revocable,
    cross_site_posts_are_refused_and_change_nothing,
    bad_input_gets_a_clear_json_error,
);
