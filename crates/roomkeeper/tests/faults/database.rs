//! PostgreSQL stopped for 30 s under a running service, then started again: every
//! request answers 503 with the reason (API, pages, /readyz), what was written before
//! is all there afterwards, nothing refused was half-written, and the service recovers
//! without a restart.

use std::time::{Duration, Instant};

use roomkeeper_testkit::Steps;
use roomkeeper_testkit::postgres::PostgresServer;
use serde_json::{Value, json};

use super::*;

const OUTAGE: Duration = Duration::from_secs(30);
/// A request waits for a database connection this long before it is answered 503
/// (`PgStore::connect`'s acquire timeout), plus room for a busy machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_seconds_without_the_database_lose_nothing() {
    let mut steps = Steps::new();
    if roomkeeper_testkit::skip_without_postgres("thirty_seconds_without_the_database") {
        return;
    }
    steps.begin("A service on PostgreSQL, with a lecturer and his room");
    let mut postgres = PostgresServer::start().await.unwrap();
    let installation = Installation::on(Some(&postgres.url()), "");
    installation.user("lecturer", false);
    installation.user("root", true);
    let served = installation.serve("database").await;
    let lecturer = api_token(&served, "lecturer").await;
    let root = api_token(&served, "root").await;
    registered_room(&served, &lecturer, &root, "lecture").await;
    let pages = logged_in(&served, "lecturer").await;

    let client = reqwest::Client::new();
    let request = |room: String| {
        client
            .post(served.url("/api/v1/room-requests"))
            .bearer_auth(&lecturer)
            .json(&json!({"room": room, "reason": "outage test"}))
            .send()
    };
    steps.begin("Five requests, acknowledged");
    let mut told = Vec::new();
    for i in 0..5 {
        let made = request(format!("before-{i}")).await.unwrap();
        assert_eq!(made.status(), StatusCode::CREATED);
        told.push(made.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }

    steps.begin("Thirty seconds without the database: refusals, never a hang");
    postgres.stop().unwrap();
    let stopped = Instant::now();
    let mut asked = 0;
    let mut slowest = Duration::ZERO;
    let mut refused_writes = 0;
    while stopped.elapsed() < OUTAGE {
        let answers = [
            (
                "the room list",
                client
                    .get(served.url("/api/v1/rooms"))
                    .bearer_auth(&lecturer),
            ),
            (
                "a new request",
                client
                    .post(served.url("/api/v1/room-requests"))
                    .bearer_auth(&lecturer)
                    .json(&json!({"room": format!("during-{asked}"), "reason": "outage"})),
            ),
            ("the home page", pages.get(served.url("/"))),
            ("/readyz", client.get(served.url("/readyz"))),
        ];
        for (what, asking) in answers {
            let started = Instant::now();
            let answer = asking.send().await.unwrap();
            let took = started.elapsed();
            slowest = slowest.max(took);
            assert!(took < ANSWER_WITHIN, "{what} took {took:?}");
            assert_eq!(
                answer.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{what} during the outage"
            );
            let text = answer.text().await.unwrap();
            assert!(
                text.contains("database") || what == "/readyz",
                "{what} says why: {text}"
            );
            if what == "a new request" {
                assert!(text.contains("\"unavailable\""), "{text}");
                refused_writes += 1;
            }
        }
        asked += 1;
    }

    steps.begin("The database is back: the service recovers by itself");
    postgres.start_again().unwrap();
    let started = Instant::now();
    loop {
        let answer = client
            .get(served.url("/api/v1/rooms"))
            .bearer_auth(&lecturer)
            .send()
            .await
            .unwrap();
        if answer.status() == StatusCode::OK {
            break;
        }
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not back 15 s after the database"
        );
    }
    let recovered = started.elapsed();
    steps.begin("Everything answered before is there; nothing refused was written");
    for id in &told {
        let request: Value = roomkeeper_testkit::json(
            client
                .get(served.url(&format!("/api/v1/room-requests/{id}")))
                .bearer_auth(&lecturer),
        )
        .await;
        assert_eq!(request["status"], "pending", "{request}");
    }
    let all: Value = roomkeeper_testkit::json(
        client
            .get(served.url("/api/v1/room-requests"))
            .bearer_auth(&root),
    )
    .await;
    assert_eq!(all["total"], told.len() + 1, "{all}");
    let page = pages.get(served.url("/")).send().await.unwrap();
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the session outlived the outage"
    );
    let after = request("after".into()).await.unwrap();
    assert_eq!(after.status(), StatusCode::CREATED);
    println!(
        "database outage: {asked} rounds of 4 requests answered 503 ({refused_writes} writes \
         refused), slowest {slowest:?}; answering again {recovered:?} after PostgreSQL started"
    );
}
