//! The owner's lobby at the protocol level, on a real Prosody with jitsi-meet's own lobby
//! plugin (`muc_lobby_rooms`) and the companion module on both the conference and the
//! lobby component: on from the room's creation, knocks seen from outside, admit, deny,
//! a join code from the lobby, recorders passing, and off again.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use roomkeeper_domain::RoomName;
use roomkeeper_jitsi::{Error, MeetingControl, RoomEvent, XmppShard};
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{
    Arrival, Focus, Participant, Prosody, ProsodyVersion, SERVICE_PASSWORD, Setup, Whereabouts,
    jitsi_meet_files,
};

fn room(name: &str) -> RoomName {
    RoomName::parse(name, &[]).unwrap()
}

/// The next pushed event that `wanted` picks, within 5 s.
async fn next_event<T>(
    events: &mut tokio::sync::broadcast::Receiver<RoomEvent>,
    wanted: impl Fn(RoomEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(found) = wanted(events.recv().await.unwrap()) {
                return found;
            }
        }
    })
    .await
    .expect("the event is pushed within 5 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lobby_room_holds_everyone_from_its_creation_and_lets_in_whom_the_service_admits() {
    lobby_story(ProsodyVersion::Debian012).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lobby_room_holds_everyone_from_its_creation_on_prosody_13() {
    lobby_story(ProsodyVersion::V13).await;
}

async fn lobby_story(version: ProsodyVersion) {
    let mut steps = Steps::new();
    let Some(_) = jitsi_meet_files("the owner's lobby") else {
        return;
    };
    let prosody = Prosody::start_setup(Setup {
        version,
        jitsi_lobby: true,
        ..Setup::default()
    })
    .await
    .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = XmppShard::connect(prosody.shard("main"), SERVICE_PASSWORD.into()).unwrap();
    assert!(
        shard.wait_online(Duration::from_secs(10)).await,
        "{}",
        prosody.log()
    );
    let lecture = room("lecture");
    shard
        .set_lobby_rooms(std::slice::from_ref(&lecture))
        .await
        .unwrap();
    let mut events = shard.events();

    steps.begin("The student arrives first");
    // The focus creates the room and the lobby is already on, so he is asked to wait: never
    // inside, never moderator.
    let student = Arrival::start(&prosody, &focus, "lecture", "e1e1e1e1", "Evil Student")
        .await
        .unwrap();
    if let Err(e) = student.wait_until(|w| *w == Whereabouts::Knocking).await {
        panic!("{e}\n{}", prosody.log());
    }
    let knock = next_event(&mut events, |e| match e {
        RoomEvent::Knock { room, knocker } if room == "lecture" => Some(knocker),
        _ => None,
    })
    .await;
    assert_eq!(knock.id, "e1e1e1e1");
    assert_eq!(knock.display_name.as_deref(), Some("Evil Student"));
    let meeting = shard.meeting(&lecture).await.unwrap();
    assert!(meeting.lobby && meeting.members_only, "{meeting:?}");
    assert!(meeting.participants.is_empty(), "{meeting:?}");
    let knocking: Vec<_> = meeting.knocking.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(knocking, ["e1e1e1e1"]);
    assert!(meeting.knocking[0].knocking_since.is_some());

    steps.begin("Jibri is never held: the recorder joins straight in");
    let recorder = Participant::join_as_recorder(&prosody, &focus, "lecture", "jibri001")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prosody.log()));
    assert_ne!(recorder.role(), "");

    steps.begin(
        "A join code from someone knocking reaches the service alone, marked as from the lobby",
    );
    // The others knocking and watching see the name without it.
    let owner = Arrival::start(
        &prosody,
        &focus,
        "lecture",
        "c4c4c4c4",
        "Prof (RK-ABCD1234)",
    )
    .await
    .unwrap();
    let (nick, code) = next_event(&mut events, |e| match e {
        RoomEvent::JoinCode {
            room,
            participant,
            code,
            in_lobby: true,
            ..
        } if room == "lecture" => Some((participant, code)),
        _ => None,
    })
    .await;
    assert_eq!((nick.as_str(), code.as_str()), ("c4c4c4c4", "ABCD1234"));
    owner
        .wait_until(|w| *w == Whereabouts::Knocking)
        .await
        .unwrap();
    let meeting = shard.meeting(&lecture).await.unwrap();
    let prof = meeting
        .knocking
        .iter()
        .find(|k| k.id == "c4c4c4c4")
        .unwrap();
    assert_eq!(prof.display_name.as_deref(), Some("Prof"));

    steps.begin("Deny sends a knocker away with Jitsi's \"denied\"");
    let meeting = shard.deny(&lecture, "c4c4c4c4").await.unwrap();
    assert!(
        meeting.knocking.iter().all(|k| k.id != "c4c4c4c4"),
        "{meeting:?}"
    );
    owner
        .wait_until(|w| *w == Whereabouts::Denied)
        .await
        .unwrap();
    assert!(matches!(
        shard.deny(&lecture, "c4c4c4c4").await,
        Err(Error::ParticipantGone)
    ));

    steps.begin("Admit lets the student in, as a moderator's \"admit\" does");
    shard.admit(&lecture, "e1e1e1e1").await.unwrap();
    student
        .wait_until(|w| matches!(w, Whereabouts::Inside { .. }))
        .await
        .unwrap();
    // Pushed as any join is, so a followed meeting shows him too.
    next_event(&mut events, |e| match e {
        RoomEvent::Occupant { room, participant }
            if room == "lecture" && participant.id == "e1e1e1e1" =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    let meeting = shard.meeting(&lecture).await.unwrap();
    assert!(
        meeting.participants.iter().any(|p| p.id == "e1e1e1e1"),
        "{meeting:?}"
    );
    assert!(meeting.knocking.is_empty(), "{meeting:?}");

    steps.begin("The lobby turned off");
    // The next one walks straight in, and whoever is inside stays.
    let meeting = shard.set_lobby(&lecture, false).await.unwrap();
    assert!(!meeting.lobby && !meeting.members_only, "{meeting:?}");
    let late = Arrival::start(&prosody, &focus, "lecture", "f3f3f3f3", "Late")
        .await
        .unwrap();
    late.wait_until(|w| matches!(w, Whereabouts::Inside { .. }))
        .await
        .unwrap();
    let meeting = shard.set_lobby(&lecture, true).await.unwrap();
    assert!(meeting.lobby, "{meeting:?}");
    assert_eq!(meeting.participants.len(), 2, "{meeting:?}");

    steps.begin("A room the service did not name has no lobby");
    let open = Arrival::start(&prosody, &focus, "open", "a5a5a5a5", "Anyone")
        .await
        .unwrap();
    open.wait_until(|w| matches!(w, Whereabouts::Inside { .. }))
        .await
        .unwrap();
    drop(focus);
}
