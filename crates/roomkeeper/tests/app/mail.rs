//! Email through a real SMTP server: admins hear of requests, requesters of decisions,
//! each in their language; a mail server that is away holds up nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roomkeeper_testkit::{Backend, SmtpSink, TestApp, TestDatabase, both_backends};
use serde_json::json;

async fn people(app: &TestApp) -> (reqwest::Client, reqwest::Client) {
    let root = app.passwordless_user("root", true).await.unwrap();
    let lecturer = app.passwordless_user("lecturer", false).await.unwrap();
    app.store()
        .set_email(root.id, Some("root@example.org"))
        .await
        .unwrap();
    app.store()
        .set_language(lecturer.id, Some("de"))
        .await
        .unwrap();
    let admin = app.client_as("root").await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let set = lecturer
        .put(app.url("/api/v1/me/email"))
        .json(&json!({"email": "lecturer@uni.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let bad = lecturer
        .put(app.url("/api/v1/me/email"))
        .json(&json!({"email": "not an address"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    (admin, lecturer)
}

async fn admins_hear_of_requests_and_requesters_of_decisions(backend: Backend) {
    let smtp = SmtpSink::start().await.unwrap();
    let database = Arc::new(TestDatabase::new(backend).await.unwrap());
    let mut config = database.config();
    config.email = smtp.config();
    config.http.public_url = Some("https://rooms.example.org".into());
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let (admin, lecturer) = people(&app).await;

    let made = lecturer
        .post(app.url("/api/v1/room-requests"))
        .json(&json!({"room": "Logic", "reason": "Lecture Logic I"}))
        .send()
        .await
        .unwrap();
    let id = made.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let mail = smtp.wait_for(1).await.unwrap();
    assert!(
        mail[0].contains("To: root@example.org")
            && mail[0].contains("Room request: logic by lecturer"),
        "{}",
        mail[0]
    );
    assert!(
        mail[0].contains("Lecture Logic I")
            && mail[0].contains("https://rooms.example.org/admin/requests")
    );

    admin
        .post(app.url(&format!("/api/v1/room-requests/{id}/approve")))
        .json(&json!({"message": "Viel Erfolg"}))
        .send()
        .await
        .unwrap();
    let mail = smtp.wait_for(2).await.unwrap();
    let to_lecturer = mail
        .iter()
        .find(|m| m.contains("To: lecturer@uni.example"))
        .expect("the requester is told");
    // German, as the lecturer chose; the subject is encoded (umlauts), the body is not.
    assert!(
        to_lecturer.contains("Subject:") && to_lecturer.contains("Viel Erfolg"),
        "{to_lecturer}"
    );
    assert!(to_lecturer.contains("genehmigt"), "{to_lecturer}");
    outbox_empties(&app).await;
}

async fn a_missing_mail_server_holds_up_nothing_and_mail_follows_later(backend: Backend) {
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let database = Arc::new(TestDatabase::new(backend).await.unwrap());
    let mut config = database.config();
    config.email = roomkeeper_mail::MailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        security: roomkeeper_mail::SmtpSecurity::None,
        ..Default::default()
    };
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let (_admin, lecturer) = people(&app).await;
    let started = Instant::now();
    let made = lecturer
        .post(app.url("/api/v1/room-requests"))
        .json(&json!({"room": "Logic", "reason": "Lecture"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the request did not wait for mail"
    );
    // The job tried, failed, and keeps the message for a later attempt.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status = app.store().outbox_status().await.unwrap();
        if status.retrying == 1 {
            break status;
        }
        assert!(Instant::now() < deadline, "no attempt was made: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((status.waiting, status.given_up), (1, 0));
    assert!(status.last_error.is_some_and(|e| !e.is_empty()));
    // The operators' monitoring sees it. (The gauges are the process's: another test's
    // scrape may set its own numbers between ours being set and rendered, so read again.)
    let series = [
        "mail_outbox_waiting 1",
        "mail_outbox_retrying 1",
        "mail_outbox_given_up 0",
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = reqwest::get(app.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if series.iter().all(|s| metrics.contains(s)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{series:?} not all in:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The server comes back; once the pause is over the message goes out.
    let smtp = SmtpSink::start_on(port).await.unwrap();
    app.clock().advance(roomkeeper_mail::retry_delay_s(1) + 1);
    app.state.usecases.mail.wakeup.notify_one();
    let mail = smtp.wait_for(1).await.unwrap();
    assert!(mail[0].contains("Room request: logic by lecturer"));
    outbox_empties(&app).await;
}

/// The server has the message a moment before the job records it as sent.
async fn outbox_empties(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.store().outbox_status().await.unwrap().waiting > 0 {
        assert!(Instant::now() < deadline, "the outbox did not empty");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

both_backends!(
    admins_hear_of_requests_and_requesters_of_decisions,
    a_missing_mail_server_holds_up_nothing_and_mail_follows_later,
);
