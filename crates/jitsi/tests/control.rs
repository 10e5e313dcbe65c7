//! Live control against a real Prosody, with Jicofo and participants simulated as
//! `shared/JITSI.md` describes. The seed story, at the protocol level.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use roomkeeper_domain::RoomName;
use roomkeeper_jitsi::{Error, MeetingControl, XmppShard};
use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody, SERVICE_PASSWORD};

/// One scenario at a time: answers are timed against promises (2 s), and several
/// Prosody servers with their simulated crowds on two cores make each other late.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn room(name: &str) -> RoomName {
    RoomName::parse(name, &[]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lecturer_takes_back_a_room_a_student_locked() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = XmppShard::connect(prosody.shard("main"), SERVICE_PASSWORD.into()).unwrap();
    assert!(
        shard.wait_online(Duration::from_secs(10)).await,
        "{}",
        prosody.log()
    );
    let logic = room("Logic");

    assert!(
        !shard.meeting(&logic).await.unwrap().running,
        "nobody there yet"
    );

    // evilstudent comes first: the focus makes him moderator, and he locks the room.
    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    evil.lock("mine").await.unwrap().unwrap();
    let refused = Participant::join(&prosody, &focus, "logic", "c3c3c3c3", "Third", None).await;
    let refusal = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refusal.contains("not-authorized"), "{refusal}");

    let meeting = shard.meeting(&logic).await.unwrap();
    assert!(meeting.running && meeting.password_protected && !meeting.members_only);
    assert_eq!(
        meeting.participants.len(),
        1,
        "the focus and Roomkeeper are not people: {meeting:?}"
    );
    assert_eq!(
        (
            meeting.participants[0].id.as_str(),
            meeting.participants[0].moderator
        ),
        ("e1e1e1e1", true)
    );

    // Revoke, remove the password: the room is open again and he cannot lock it again.
    let meeting = shard
        .set_moderator(&logic, "e1e1e1e1", false)
        .await
        .unwrap();
    assert!(!meeting.participants[0].moderator);
    evil.wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    let meeting = shard.remove_password(&logic).await.unwrap();
    assert!(!meeting.password_protected);
    let third = Participant::join(&prosody, &focus, "logic", "c3c3c3c3", "Third", None)
        .await
        .unwrap();
    let lecturer = Participant::join(&prosody, &focus, "logic", "1ec70e70", "Lecturer", None)
        .await
        .unwrap();
    // Jicofo remembers evilstudent as its owner and does not elect anyone else.
    assert!(!lecturer.is_moderator() && !third.is_moderator());
    let meeting = shard.set_moderator(&logic, "1ec70e70", true).await.unwrap();
    assert!(
        meeting
            .participants
            .iter()
            .any(|p| p.id == "1ec70e70" && p.moderator)
    );
    lecturer
        .wait_until(Participant::is_moderator)
        .await
        .unwrap();
    assert!(
        evil.lock("again").await.unwrap().is_err(),
        "Prosody refuses a lock from a non-owner"
    );

    // Kick and end.
    assert!(matches!(
        shard.set_moderator(&logic, "00000000", true).await,
        Err(Error::ParticipantGone)
    ));
    let meeting = shard.kick(&logic, "e1e1e1e1").await.unwrap();
    assert!(!meeting.participants.iter().any(|p| p.id == "e1e1e1e1"));
    evil.wait_until(|p| p.role() == "none").await.unwrap();
    shard
        .end_meeting(&logic, "The lecture is over")
        .await
        .unwrap();
    assert!(!shard.meeting(&logic).await.unwrap().running);

    // Prosody gone: actions fail at once, within the 2 s promise.
    drop((third, lecturer, focus));
    drop(prosody);
    let started = Instant::now();
    let answer = loop {
        match shard.meeting(&logic).await {
            Err(error @ Error::Unreachable(_)) => break error,
            _ if started.elapsed() > Duration::from_secs(10) => panic!("still reachable"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert!(answer.to_string().contains("not reachable"));
    let started = Instant::now();
    assert!(shard.meeting(&logic).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// With the lobby on (members-only), `none` would throw the person out (status 321):
/// revoking sets `member`, and they stay in the meeting without moderator rights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_in_a_lobby_room_keeps_the_person_in_it() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = XmppShard::connect(prosody.shard("main"), SERVICE_PASSWORD.into()).unwrap();
    assert!(shard.wait_online(Duration::from_secs(10)).await);
    let seminar = room("seminar");
    let host = Participant::join(&prosody, &focus, "seminar", "a0a0a0a0", "Host", None)
        .await
        .unwrap();
    host.wait_until(Participant::is_moderator).await.unwrap();
    host.enable_lobby().await.unwrap().unwrap();
    assert!(shard.meeting(&seminar).await.unwrap().members_only);

    let meeting = shard
        .set_moderator(&seminar, "a0a0a0a0", false)
        .await
        .unwrap();
    assert!(
        meeting
            .participants
            .iter()
            .any(|p| p.id == "a0a0a0a0" && !p.moderator),
        "{meeting:?}"
    );
    host.wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    // Still there a moment later: not thrown out of the members-only room.
    assert_eq!(shard.meeting(&seminar).await.unwrap().participants.len(), 1);
    drop(focus);
}

/// Prosody restarts: actions fail while it is away and work again once it is back,
/// without restarting Roomkeeper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_comes_back_after_prosody_restarts() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut prosody = Prosody::start().await.unwrap();
    let shard = XmppShard::connect(prosody.shard("main"), SERVICE_PASSWORD.into()).unwrap();
    assert!(shard.wait_online(Duration::from_secs(10)).await);
    let logic = room("logic");
    assert!(!shard.meeting(&logic).await.unwrap().running);
    prosody.restart().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let _someone = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "someone", None)
        .await
        .unwrap();
    let started = Instant::now();
    let meeting = loop {
        match shard.meeting(&logic).await {
            Ok(meeting) if meeting.running => break meeting,
            other => {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "not back after 60 s: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(meeting.participants[0].id, "e1e1e1e1");
    eprintln!(
        "control came back {:?} after the restart",
        started.elapsed()
    );
}

/// Two Jitsi shards: a room is found on whichever runs its meeting, and actions go there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_on_the_second_shard_is_found_and_controlled() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let first = Prosody::start().await.unwrap();
    let second = Prosody::start().await.unwrap();
    let focus = Focus::start(&second).await.unwrap();
    let connect = |prosody: &Prosody, name: &str| {
        std::sync::Arc::new(
            XmppShard::connect(prosody.shard(name), SERVICE_PASSWORD.into()).unwrap(),
        )
    };
    let (a, b) = (connect(&first, "first"), connect(&second, "second"));
    assert!(
        a.wait_online(Duration::from_secs(10)).await
            && b.wait_online(Duration::from_secs(10)).await
    );
    let shards = roomkeeper_jitsi::Shards::new(vec![a, b]);
    let physics = room("physics");
    assert!(!shards.meeting(&physics).await.unwrap().running);

    let student = Participant::join(&second, &focus, "physics", "e1e1e1e1", "student", None)
        .await
        .unwrap();
    student.wait_until(Participant::is_moderator).await.unwrap();
    student.lock("mine").await.unwrap().unwrap();
    let meeting = shards.meeting(&physics).await.unwrap();
    assert!(meeting.running && meeting.password_protected);
    let meeting = shards.remove_password(&physics).await.unwrap();
    assert!(!meeting.password_protected);
    let meeting = shards
        .set_moderator(&physics, "e1e1e1e1", false)
        .await
        .unwrap();
    assert!(!meeting.participants[0].moderator);
    assert!(matches!(
        shards.kick(&room("elsewhere"), "x").await,
        Err(Error::NoMeeting)
    ));
    let status = shards.status();
    assert_eq!(
        status.iter().map(|s| s.online).collect::<Vec<_>>(),
        [true, true]
    );
}
