//! Several callers at once on one connection: every IQ gets its answer.
//!
//! With tokio-xmpp's `Client` split in two, 15-40 % of these reads timed out; with it
//! whole, answers still stalled now and then under load (see `connection.rs`). Since one
//! task owns the `StanzaStream`, IQs need not wait for each other.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use roomkeeper_domain::RoomName;
use roomkeeper_jitsi::{MeetingControl, XmppShard};
use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody, SERVICE_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_all_get_answers() {
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard =
        Arc::new(XmppShard::connect(prosody.shard("main"), SERVICE_PASSWORD.into()).unwrap());
    assert!(shard.wait_online(Duration::from_secs(10)).await);
    let _someone = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "someone", None)
        .await
        .unwrap();
    let room = RoomName::parse("logic", &[]).unwrap();
    let mut callers = Vec::new();
    for _ in 0..4 {
        let shard = Arc::clone(&shard);
        let room = room.clone();
        callers.push(tokio::spawn(async move {
            let mut failures = 0;
            for _ in 0..50 {
                if shard.meeting(&room).await.is_err() {
                    failures += 1;
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for caller in callers {
        failures += caller.await.unwrap();
    }
    assert_eq!(
        failures, 0,
        "of 200 meeting reads (800 IQs), {failures} got no answer"
    );
}
