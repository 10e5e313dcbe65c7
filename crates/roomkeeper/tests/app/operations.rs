use reqwest::StatusCode;
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, both_backends};
use serde_json::Value;

use crate::PASSWORD;

async fn every_response_carries_the_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let client = app.client();
    let responses = [
        client.get(app.url("/login")).send().await.unwrap(),
        client
            .get(app.url("/static/style.css"))
            .send()
            .await
            .unwrap(),
        client.get(app.url("/api/v1/me")).send().await.unwrap(),
        client.get(app.url("/nowhere")).send().await.unwrap(),
        client.get(app.url("/healthz")).send().await.unwrap(),
        client
            .post(app.url("/logout"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap(),
    ];
    for response in responses {
        let url = response.url().clone();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"),
            "{url}: {csp}"
        );
        assert!(csp.contains("default-src 'self'"), "{url}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{url}");
        assert!(headers.contains_key("x-request-id"), "{url}");
    }
}

async fn health_readiness_and_metrics(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let health = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["checks"]["database"]["ok"], true);
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(ready["checks"]["database"]["backend"], expected);
    reqwest::get(app.url("/api/v1/me")).await.unwrap();
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("http_requests_total{")
                && l.contains("route=\"/api/v1/me\"")
                && l.contains("status=\"401\"")),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_duration_seconds_bucket{"),
        "latency is a histogram"
    );
}

/// Database errors and Prosody addresses are for operators: a request through a proxy,
/// or from outside `http.operator_networks`, gets a plain status and no metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_are_for_operators_only() {
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.http.operator_networks = vec!["192.0.2.0/24".into()];
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready, serde_json::json!({"ready": true}));
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(metrics.status(), StatusCode::FORBIDDEN);
    // Through a proxy on this machine: not an operator either.
    let default = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let proxied = reqwest::Client::new()
        .get(default.url("/readyz"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    let proxied: Value = proxied.json().await.unwrap();
    assert!(proxied.get("checks").is_none(), "{proxied}");
    let direct: Value = reqwest::get(default.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(direct["checks"]["database"]["ok"], true);
}

/// When the database goes away, /readyz says so (503, with the reason) while /healthz
/// stays up, so an orchestrator takes the instance out of rotation without killing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_is_gone() {
    if roomkeeper_testkit::skip_without_postgres(
        "operations::readiness_fails_when_the_database_is_gone",
    ) {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await.unwrap();
    let name = app.database.url.rsplit('/').next().unwrap().to_owned();
    let admin_url = std::env::var(roomkeeper_testkit::POSTGRES_URL_VAR).unwrap();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["database"]["ok"], false);
    assert!(
        !ready["checks"]["database"]["error"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        StatusCode::OK
    );
}

/// A stop does not wait for endless responses: an open event stream ends with it
/// (before, systemd would have waited its full timeout and then killed the service).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_open_event_streams() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let mut events = lecturer
        .get(app.url(&format!("/api/v1/rooms/{room}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let first = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: unavailable"));
    tokio::time::timeout(std::time::Duration::from_secs(5), app.stop())
        .await
        .expect("the stop does not wait for the stream")
        .unwrap();
    let rest = tokio::time::timeout(std::time::Duration::from_secs(5), events.chunk())
        .await
        .expect("the stream has ended");
    assert!(matches!(rest, Ok(None) | Err(_)), "{rest:?}");
}

both_backends!(
    every_response_carries_the_security_headers,
    health_readiness_and_metrics
);

/// A Prometheus on another machine scrapes `http.metrics_listen`, a second address that
/// serves health, readiness and metrics only, while the service stays on loopback behind
/// nginx. Its requests are held against `operator_networks` like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_have_an_address_of_their_own_for_a_prometheus_elsewhere() {
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    let port = roomkeeper_testkit::listening::free_port().unwrap();
    config.http.metrics_listen = Some(format!("127.0.0.1:{port}"));
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    assert!(
        roomkeeper_testkit::listening::until_this_process_listens(port)
            .await
            .unwrap()
    );
    let metrics_url = format!("http://127.0.0.1:{port}");
    let scraped = reqwest::get(format!("{metrics_url}/metrics"))
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.unwrap();
    for metric in [
        "recordings_ingest_problems 0",
        "recordings_spool_waiting 0",
        "recordings_disk_free_bytes ",
        "recordings_disk_size_bytes ",
    ] {
        assert!(text.contains(metric), "{metric} missing:\n{text}");
    }
    let ready: Value = reqwest::get(format!("{metrics_url}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["database"]["ok"], true);
    // Nothing else is served there: no pages, no API, no login.
    for path in ["/login", "/api/v1/session", "/"] {
        let other = reqwest::get(format!("{metrics_url}{path}")).await.unwrap();
        assert_eq!(other.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        reqwest::get(app.url("/login")).await.unwrap().status(),
        StatusCode::OK
    );
}

/// A metrics address outside every operator network answers 403, as the main one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_address_is_for_operator_networks_only() {
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    let port = roomkeeper_testkit::listening::free_port().unwrap();
    config.http.metrics_listen = Some(format!("127.0.0.1:{port}"));
    config.http.operator_networks = vec!["192.0.2.0/24".into()];
    let _app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    // Its socket is bound by the serving task, a moment after the app is up.
    assert!(
        roomkeeper_testkit::listening::until_this_process_listens(port)
            .await
            .unwrap()
    );
    let scraped = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::FORBIDDEN);
}
