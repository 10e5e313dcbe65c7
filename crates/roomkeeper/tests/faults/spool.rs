//! Jibri never waits for Roomkeeper: its finalize script (deploy/jibri/finalize.sh)
//! returns at once, Roomkeeper up or down; the spool it leaves survives the uploader's
//! death and delivers once Roomkeeper is back, each session once. What cannot be
//! delivered is shown to administrators and counted in the metrics until it is.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jibri::{self, Finalize};
use serde_json::Value;

use super::*;

/// What Jibri may wait for its finalize script: the promise.
const JIBRI_WAITS_AT_MOST: Duration = Duration::from_secs(1);

/// The problems an administrator sees on `/admin/recordings` (the same list as JSON).
async fn problems(served: &Served, root: &str) -> Vec<Value> {
    let answer = roomkeeper_testkit::json(
        reqwest::Client::new()
            .get(served.url("/api/v1/recordings/unassigned"))
            .bearer_auth(root),
    )
    .await;
    answer["problems"].as_array().unwrap().clone()
}

async fn metric(served: &Served, name: &str) -> Option<String> {
    let text = reqwest::get(served.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .map(|line| line[name.len() + 1..].to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jibri_never_waits_and_nothing_is_lost_while_roomkeeper_is_down() {
    let mut steps = Steps::new();
    let installation = Installation::new("");
    installation.user("lecturer", false);
    installation.user("root", true);
    let mut served = installation.serve("spool").await;
    let lecturer = api_token(&served, "lecturer").await;
    let root = api_token(&served, "root").await;
    let room = registered_room(&served, &lecturer, &root, "logic").await;
    let recordings = |served: &Served| {
        let request = reqwest::Client::new()
            .get(served.url(&format!("/api/v1/rooms/{room}/recordings")))
            .bearer_auth(&lecturer);
        async move { roomkeeper_testkit::json(request).await }
    };
    let finalize =
        Finalize::new(&served.url(""), &installation.dir().join("ingest-token")).unwrap();
    let jibri_dir = tempfile::tempdir().unwrap();
    // Recorded after the room was registered (Jibri's file names count seconds).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 2;
    let record = |session: &str, minute: i64| {
        jibri::record(
            jibri_dir.path(),
            session,
            "logic",
            &format!("{MEET}/logic"),
            now + minute * 60,
            &[1],
        )
        .unwrap()
    };
    let mut waits = Vec::new();

    steps.begin("Roomkeeper up: Jibri's call returns at once, the upload follows");
    let before = record("before", 0);
    let (output, waited) = finalize.finalize(&before.dir).unwrap();
    assert!(output.status.success(), "{output:?}");
    waits.push(waited);
    finalize.delivered(Duration::from_secs(60)).await.unwrap();
    assert_eq!(recordings(&served).await.as_array().unwrap().len(), 1);

    steps.begin("Roomkeeper down: Jibri's call returns just as fast; the uploader retries");
    served.terminate().unwrap();
    assert!(
        served
            .exited(Duration::from_secs(30))
            .await
            .unwrap()
            .is_some()
    );
    let during = record("during", 10);
    let (output, waited) = finalize.finalize(&during.dir).unwrap();
    assert!(output.status.success(), "{output:?}");
    waits.push(waited);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !finalize.spool().join(".errors/during").exists() {
        assert!(Instant::now() < deadline, "no attempt: {}", finalize.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The uploader dies (an OOM kill, a reboot): the spool keeps the session.
    assert!(
        finalize.kill_uploader(),
        "no uploader ran: {}",
        finalize.log()
    );
    assert_eq!(finalize.spooled(), ["during"]);
    assert!(
        during.dir.join("metadata.json").exists(),
        "Jibri's files stay"
    );

    steps.begin("Roomkeeper is back; the timer's uploader delivers what waited, once");
    served.start_again().await.unwrap();
    let drained = finalize.drain(Duration::from_secs(60)).unwrap();
    assert!(drained.status.success(), "{drained:?}\n{}", finalize.log());
    assert!(finalize.spooled().is_empty());
    assert!(!during.dir.exists(), "Jibri's files go once delivered");
    let listed = recordings(&served).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    steps.begin("A session Roomkeeper refuses waits in the spool, shown to administrators");
    // Its metadata.json is broken. Administrators see it where it waits, until it is
    // delivered.
    let broken = record("broken", 20);
    std::fs::write(broken.dir.join("metadata.json"), "{ not json").unwrap();
    let (output, waited) = finalize.finalize(&broken.dir).unwrap();
    assert!(output.status.success(), "{output:?}");
    waits.push(waited);
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let shown = problems(&served, &root).await;
        if shown.iter().any(|p| p["spooled_on"] == "jibri-test") {
            break shown;
        }
        assert!(
            Instant::now() < deadline,
            "not reported: {shown:?}\n{}",
            finalize.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["session"], "broken");
    assert!(
        shown[0]["problem"]
            .as_str()
            .unwrap()
            .contains("not delivered yet"),
        "{shown:?}"
    );
    assert_eq!(
        metric(&served, "recordings_spool_waiting").await.as_deref(),
        Some("1")
    );
    // Mended on the Jibri machine: the next pass delivers it and the problem goes.
    jibri::write_metadata(&broken.dir, &format!("{MEET}/logic")).unwrap();
    finalize.delivered(Duration::from_secs(60)).await.unwrap();
    assert_eq!(problems(&served, &root).await, Vec::<Value>::new());
    assert_eq!(
        metric(&served, "recordings_spool_waiting").await.as_deref(),
        Some("0")
    );
    assert_eq!(recordings(&served).await.as_array().unwrap().len(), 3);

    for waited in &waits {
        assert!(*waited < JIBRI_WAITS_AT_MOST, "Jibri waited {waits:?}");
    }
    println!("Jibri waited for the finalize script: {waits:?} (up, down, refused)");
}
