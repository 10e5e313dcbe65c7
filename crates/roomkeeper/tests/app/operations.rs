use reqwest::StatusCode;
use roomkeeper_testkit::{Backend, TestApp, both_backends};
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

/// When the database goes away, /readyz says so (503, with the reason) while /healthz
/// stays up, so an orchestrator takes the instance out of rotation without killing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_is_gone() {
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
