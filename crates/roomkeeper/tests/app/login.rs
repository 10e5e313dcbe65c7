use reqwest::StatusCode;
use roomkeeper_testkit::{Backend, TestApp, both_backends};
use serde_json::json;

use crate::{PASSWORD, error_code, me, session_cookie};

async fn api_login_sets_a_safe_cookie_and_me_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let client = app.client();
    let response = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": " Alice ", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response).expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http has no Secure cookie: {cookie}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], "alice");
    let me: serde_json::Value = me(&app, &client).await.json().await.unwrap();
    assert_eq!(
        me,
        json!({"username": "alice", "display_name": "alice", "email": null, "is_admin": false, "must_change_password": false})
    );
}

async fn page_login_redirects_and_each_login_gets_a_new_session(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let client = app.client();
    let form = [
        ("username", "alice"),
        ("password", PASSWORD),
        ("next", "/profile"),
    ];
    let first = client
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.headers()["location"], "/profile");
    let second = client
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_ne!(
        session_cookie(&first),
        session_cookie(&second),
        "a new session id at every login"
    );
    // Somewhere else than our own site is never a place to go after login.
    let evil = [
        ("username", "alice"),
        ("password", PASSWORD),
        ("next", "//evil.example/"),
    ];
    let response = client
        .post(app.url("/login"))
        .form(&evil)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/");
    // A tab (or a backslash) that browsers drop or turn into '/' is no way out either,
    // whether the person is logged in already (GET) or logs in now (POST).
    for next in [
        "/%09/evil.example",
        "/%5C/evil.example",
        "/%0A/evil.example",
    ] {
        let response = client
            .get(app.url(&format!("/login?next={next}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["location"], "/", "{next}");
    }
    let response = client
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("next", "/\t/evil.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/");
}

async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let client = app.client();
    let mut bodies = Vec::new();
    for username in ["alice", "nobody"] {
        let response = client
            .post(app.url("/api/v1/session"))
            .json(&json!({"username": username, "password": "not the password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(session_cookie(&response).is_none());
        bodies.push(response.text().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert!(bodies[0].contains("wrong_credentials"), "{}", bodies[0]);
    assert_eq!(
        error_code(me(&app, &client).await, StatusCode::UNAUTHORIZED).await,
        "not_logged_in"
    );
    // The page says the same in words, and keeps the typed username.
    let page = client
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", "nope"), ("next", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    let html = page.text().await.unwrap();
    assert!(html.contains("Wrong username or password.") && html.contains("value=\"alice\""));
}

async fn failed_logins_are_throttled_per_username_and_per_address(backend: Backend) {
    let database = std::sync::Arc::new(
        roomkeeper_testkit::TestDatabase::new(backend)
            .await
            .unwrap(),
    );
    let mut config = database.config();
    config.login_throttle.max_failures_per_user = 3;
    config.login_throttle.max_failures_per_address = 5;
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    app.user("bob", PASSWORD, false).await.unwrap();
    let client = app.client();
    let attempt = |username: &'static str, password: &'static str| {
        client
            .post(app.url("/api/v1/session"))
            .json(&json!({"username": username, "password": password}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            attempt("alice", "wrong").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Paused now, even with the right password, and the answer says when to retry.
    let response = attempt("alice", PASSWORD).await.unwrap();
    let retry_after: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((890..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(
        error_code(response, StatusCode::TOO_MANY_REQUESTS).await,
        "throttled"
    );
    // A name that does not exist is paused just the same: the answer reveals nothing.
    for _ in 0..3 {
        attempt("ghost", "wrong").await.unwrap();
    }
    // Attempts counted for this address: alice's 4 and ghost's 3 (the address's limit of
    // 5 stopped ghost's last two). Bob, untouched by name, is now paused by address.
    let response = attempt("bob", PASSWORD).await.unwrap();
    assert_eq!(
        error_code(response, StatusCode::TOO_MANY_REQUESTS).await,
        "throttled"
    );
    // When the window has passed, the right password works again.
    app.clock().advance(15 * 60 + 1);
    assert_eq!(
        attempt("alice", PASSWORD).await.unwrap().status(),
        StatusCode::OK
    );
}

/// Sixty wrong passwords at once for one account: only the ten the limit allows are
/// checked (each Argon2 check costs 19 MiB and a core); the rest are refused at once.
async fn parallel_attempts_cannot_outrun_the_throttle(backend: Backend) {
    let database = std::sync::Arc::new(
        roomkeeper_testkit::TestDatabase::new(backend)
            .await
            .unwrap(),
    );
    let mut config = database.config();
    config.login_throttle.max_failures_per_user = 10;
    config.login_throttle.max_failures_per_address = 1000;
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let client = app.client();
    let answers = futures::future::join_all((0..60).map(|_| {
        client
            .post(app.url("/api/v1/session"))
            .json(&json!({"username": "alice", "password": "wrong"}))
            .send()
    }))
    .await;
    let statuses: Vec<StatusCode> = answers.into_iter().map(|a| a.unwrap().status()).collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let busy = statuses
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        checked <= 10,
        "{checked} wrong passwords were checked: {statuses:?}"
    );
    assert_eq!(checked + busy + throttled, 60, "{statuses:?}");
    assert!(throttled >= 50, "{statuses:?}");
    // The right password is refused too while paused.
    let right = client
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn throttled_page_login_says_so_in_words(backend: Backend) {
    let database = std::sync::Arc::new(
        roomkeeper_testkit::TestDatabase::new(backend)
            .await
            .unwrap(),
    );
    let mut config = database.config();
    config.login_throttle.max_failures_per_user = 1;
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let client = app.client();
    let form = [("username", "carol"), ("password", "wrong"), ("next", "")];
    client
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let page = client
        .post(app.url("/login"))
        .header("accept-language", "de")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Bitte warten Sie 15 Minuten")
    );
}

async fn disabled_users_cannot_log_in(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let dave = app.user("dave", PASSWORD, false).await.unwrap();
    app.store().set_disabled(dave.id, true).await.unwrap();
    let response = app
        .client()
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "dave", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::UNAUTHORIZED).await,
        "wrong_credentials"
    );
}

/// Behind an https proxy the cookie is Secure and `__Host-` prefixed, so neither plain
/// http nor a sibling subdomain can set or read it.
async fn over_https_the_cookie_is_secure_and_host_prefixed(backend: Backend) {
    let database = std::sync::Arc::new(
        roomkeeper_testkit::TestDatabase::new(backend)
            .await
            .unwrap(),
    );
    let mut config = database.config();
    config.http.public_url = Some("https://rooms.example.org".into());
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let response = app
        .client()
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&response).unwrap();
    assert!(cookie.starts_with("__Host-roomkeeper_session="), "{cookie}");
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    // With a public URL, Origin must be exactly it.
    let pair = cookie.split(';').next().unwrap().to_owned();
    let wrong_scheme = reqwest::Client::new()
        .post(app.url("/api/v1/tokens"))
        .header("cookie", &pair)
        .header("origin", "http://rooms.example.org")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(wrong_scheme, StatusCode::FORBIDDEN).await,
        "cross_site"
    );
    let right = reqwest::Client::new()
        .post(app.url("/api/v1/tokens"))
        .header("cookie", &pair)
        .header("origin", "https://rooms.example.org")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::CREATED);
}

both_backends!(
    api_login_sets_a_safe_cookie_and_me_answers,
    over_https_the_cookie_is_secure_and_host_prefixed,
    page_login_redirects_and_each_login_gets_a_new_session,
    wrong_password_and_unknown_user_look_the_same,
    failed_logins_are_throttled_per_username_and_per_address,
    throttled_page_login_says_so_in_words,
    parallel_attempts_cannot_outrun_the_throttle,
    disabled_users_cannot_log_in,
);

/// Behind a load balancer and nginx every request comes from nginx with the balancer's
/// address last in `X-Forwarded-For`: with only the last entry read, the whole campus
/// shared one address and a few students' typos locked everyone out. With both proxies
/// in `http.trusted_proxies`, each client is throttled on its own address, and what a
/// client writes into the header itself changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_several_proxies_each_client_is_throttled_on_its_own_address() {
    let database = std::sync::Arc::new(
        roomkeeper_testkit::TestDatabase::new(Backend::Sqlite)
            .await
            .unwrap(),
    );
    let mut config = database.config();
    config.login_throttle.max_failures_per_user = 100;
    config.login_throttle.max_failures_per_address = 2;
    config.http.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/24".into()];
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let client = app.client();
    let attempt = |forwarded: &'static str, password: &'static str| {
        client
            .post(app.url("/api/v1/session"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"username": "alice", "password": password}))
            .send()
    };
    // One student, whatever he puts in front of his own address.
    for forwarded in [
        "198.51.100.7, 10.0.0.5",
        "192.0.2.1, 198.51.100.7, 10.0.0.5",
    ] {
        assert_eq!(
            attempt(forwarded, "wrong").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let paused = attempt("203.0.113.50, 198.51.100.7, 10.0.0.5", PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        error_code(paused, StatusCode::TOO_MANY_REQUESTS).await,
        "throttled"
    );
    // Another client through the same balancer is not.
    assert_eq!(
        attempt("198.51.100.8, 10.0.0.5", PASSWORD)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}
