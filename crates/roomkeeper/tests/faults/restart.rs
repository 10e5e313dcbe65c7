//! A student locks a guarded room while Roomkeeper is down: after a restart the lock is
//! gone within seconds, whether Roomkeeper was stopped cleanly (SIGTERM, as systemd
//! does) or killed (kill -9). The restarted process used to find its own leases of the
//! live rooms taken by "another instance" (its predecessor) and leave the lock alone.

use std::time::{Duration, Instant};

use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody};
use serde_json::{Value, json};

use super::*;

/// How soon after the restart the lock must be gone: within seconds, not a lease's term.
const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_set_while_roomkeeper_was_down_goes_after_the_restart() {
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let installation = Installation::new(&prosody.shard_toml("main"));
    installation.user("lecturer", false);
    installation.user("root", true);
    let mut served = installation.serve("restart").await;
    let lecturer = api_token(&served, "lecturer").await;
    let root = api_token(&served, "root").await;
    let room = registered_room(&served, &lecturer, &root, "lecture").await;
    let client = reqwest::Client::new();
    let url = |served: &Served, path: &str| served.url(&format!("/api/v1/rooms/{room}{path}"));
    let guarded = client
        .put(url(&served, "/guard"))
        .bearer_auth(&lecturer)
        .json(&json!({"password_guard": true, "moderator_guard": "off", "in_use_alert_minutes": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(guarded.status(), StatusCode::OK);
    // The meeting as Roomkeeper reads it, once it reads meetings at all.
    let meeting = |served: &Served| {
        let request = client.get(url(served, "/meeting")).bearer_auth(&lecturer);
        async move {
            let answer = request.send().await.unwrap();
            (answer.status() == StatusCode::OK).then_some(())?;
            Some(answer.json::<Value>().await.unwrap())
        }
    };

    // Three students, in this order: Jicofo picks the first, and when its pick leaves,
    // the next.
    let first = Participant::join(&prosody, &focus, "lecture", "e1e1e1e1", "first", None)
        .await
        .unwrap();
    first.wait_until(Participant::is_moderator).await.unwrap();
    let second = Participant::join(&prosody, &focus, "lecture", "e2e2e2e2", "second", None)
        .await
        .unwrap();
    let third = Participant::join(&prosody, &focus, "lecture", "e3e3e3e3", "third", None)
        .await
        .unwrap();
    // While Roomkeeper runs, a lock goes at once (and the room's lease is this instance's).
    first.lock("mine").await.unwrap().unwrap();
    first
        .wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    let mut figures = Vec::new();
    for (how, leaving, locking) in [("SIGTERM", &first, &second), ("kill -9", &second, &third)] {
        if how == "SIGTERM" {
            served.terminate().unwrap();
            assert!(
                served
                    .exited(Duration::from_secs(30))
                    .await
                    .unwrap()
                    .is_some(),
                "still running 30 s after SIGTERM"
            );
        } else {
            served.kill().unwrap();
        }
        // Jicofo's pick leaves, its next pick locks the room: nobody is watching.
        leaving.leave().await.unwrap();
        locking.wait_until(Participant::is_moderator).await.unwrap();
        locking.lock("while-you-were-away").await.unwrap().unwrap();

        served.start_again().await.unwrap();
        let back = Instant::now();
        loop {
            let now = meeting(&served).await;
            if now
                .as_ref()
                .is_some_and(|now| now["password_protected"] == false)
            {
                break;
            }
            assert!(
                back.elapsed() < WITHIN,
                "after {how} and a restart the lock stayed: {now:?}\n{}",
                served.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        locking
            .wait_until(|p| p.role() == "participant")
            .await
            .unwrap();
        figures.push(format!(
            "{how}: gone {:?} after the restart",
            back.elapsed()
        ));
    }
    println!(
        "a lock set while Roomkeeper was down: {}",
        figures.join("; ")
    );
    drop((first, second, third, focus));
}
