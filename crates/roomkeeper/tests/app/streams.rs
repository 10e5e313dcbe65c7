//! Connections and live views that last: a client that never finishes its headers is
//! cut off, open event streams are limited, and a stream ends when its reader loses the
//! right to see the room.

use reqwest::StatusCode;
use roomkeeper_testkit::{Backend, MeetingEvents, TestApp, TestDatabase, both_backends};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn app_with(configure: impl FnOnce(&mut roomkeeper::Config)) -> TestApp {
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    configure(&mut config);
    TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap()
}

/// A client that sends its headers a byte at a time (slowloris) and never finishes is
/// disconnected after `http.header_read_timeout_seconds`; one that finishes is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_are_cut_off() {
    let app = app_with(|c| c.http.header_read_timeout_seconds = 1).await;
    let mut slow = tokio::net::TcpStream::connect(app.address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut rest = Vec::new();
    // The server's close is the event waited for; 30 s only stops a test that fails.
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(
        matches!(closed, Ok(Ok(_))),
        "the connection was not closed: {closed:?}"
    );
    let answer = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

/// Connections that send nothing, only HTTP/2's preface, or half of it, are closed too
/// (telling HTTP/1 from HTTP/2 waited without a timer, and such a connection was held
/// for ever), and 500 of them do not keep the service from answering meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_the_service_answers_meanwhile() {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let app = app_with(|c| c.http.header_read_timeout_seconds = 1).await;
    let mut silent = Vec::new();
    for _ in 0..500 {
        silent.push(tokio::net::TcpStream::connect(app.address).await.unwrap());
    }
    for sent in [PREFACE, &PREFACE[..10]] {
        let mut connection = tokio::net::TcpStream::connect(app.address).await.unwrap();
        connection.write_all(sent).await.unwrap();
        silent.push(connection);
    }
    let answer = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    // The server's close is the event waited for (after its own HTTP/2 greeting, for
    // the preface); 30 s only stops a test that fails.
    let all_closed = async {
        for connection in &mut silent {
            let mut whatever = Vec::new();
            let _ = connection.read_to_end(&mut whatever).await;
        }
    };
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(30), all_closed)
            .await
            .is_ok(),
        "a silent connection was not closed"
    );
    let answer = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

async fn open_events(client: &reqwest::Client, app: &TestApp, room: i64) -> reqwest::Response {
    client
        .get(app.url(&format!("/api/v1/rooms/{room}/events")))
        .send()
        .await
        .unwrap()
}

/// One user cannot hold every live view of the instance: the limit per user answers
/// 429, and a closed stream gives its slot back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_event_streams_are_limited() {
    let app = app_with(|c| {
        c.http.event_streams.per_user = 2;
        c.http.event_streams.total = 3;
    })
    .await;
    app.passwordless_user("lecturer", false).await.unwrap();
    app.passwordless_user("colleague", false).await.unwrap();
    let room = app
        .registered_room("logic", "lecturer", &["colleague"])
        .await
        .unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let first = open_events(&lecturer, &app, room).await;
    let second = open_events(&lecturer, &app, room).await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let third = open_events(&lecturer, &app, room).await;
    assert_eq!(
        roomkeeper_testkit::error_code(third, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_streams"
    );
    let colleague = app.client_as("colleague").await.unwrap();
    let theirs = open_events(&colleague, &app, room).await;
    assert_eq!(theirs.status(), StatusCode::OK);
    let over = open_events(&colleague, &app, room).await;
    assert_eq!(
        over.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the instance's total"
    );
    drop(first);
    // The slot comes back when the server notices the client left: wait for that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let again = open_events(&lecturer, &app, room).await;
        if again.status() == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A live view ends when its reader may no longer see the room: a co-owner removed,
/// an account disabled, a session ended (logout elsewhere).
async fn event_streams_end_when_the_right_ends(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    for name in ["lecturer", "colleague", "assistant", "tutor"] {
        app.passwordless_user(name, false).await.unwrap();
    }
    let room = app
        .registered_room("logic", "lecturer", &["colleague", "assistant", "tutor"])
        .await
        .unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    // The owner's own stream, open through everything below.
    let mut kept = MeetingEvents::new(open_events(&lecturer, &app, room).await);

    // Removed as co-owner.
    let colleague = app.client_as("colleague").await.unwrap();
    let mut removed = MeetingEvents::new(open_events(&colleague, &app, room).await);
    let changed = lecturer
        .put(app.url(&format!("/api/v1/rooms/{room}/co-owners")))
        .json(&json!({"usernames": ["assistant", "tutor"]}))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.status());
    assert_eq!(removed.ended().await.unwrap(), "not_found");
    assert!(removed.closed().await.unwrap());

    // Disabled.
    let assistant = app.client_as("assistant").await.unwrap();
    let mut disabled = MeetingEvents::new(open_events(&assistant, &app, room).await);
    let user = app
        .store()
        .user_by_name(&roomkeeper_domain::Username::parse("assistant").unwrap())
        .await
        .unwrap()
        .unwrap();
    app.store().set_disabled(user.id, true).await.unwrap();
    assert_eq!(disabled.ended().await.unwrap(), "not_logged_in");

    // The session ended.
    let tutor = app.client_as("tutor").await.unwrap();
    let mut logged_out = MeetingEvents::new(open_events(&tutor, &app, room).await);
    let out = tutor
        .delete(app.url("/api/v1/session"))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success(), "{}", out.status());
    assert_eq!(logged_out.ended().await.unwrap(), "not_logged_in");

    // The owner's stream lived through all those checks and goes on.
    assert!(!kept.ended_by_now().await, "the owner's stream was ended");
}

both_backends!(event_streams_end_when_the_right_ends);
