//! Live control against a real Prosody, with Jicofo and participants simulated as
//! `docs/JITSI-SETUP.md` describes. The seed story, at the protocol level.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use roomkeeper_domain::RoomName;
use roomkeeper_jitsi::{
    ChangedBy, ConnectProblem, Error, MeetingControl, MeetingWatch, RoomEvent, RoomOwnership,
    XmppSecurity, XmppShard,
};
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{
    Companion, Focus, Participant, Prosody, ProsodyVersion, SERVICE_PASSWORD, Setup,
};

/// One scenario at a time: answers are timed against promises (2 s), and several
/// Prosody servers with their simulated crowds on two cores make each other late.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn room(name: &str) -> RoomName {
    RoomName::parse(name, &[]).unwrap()
}

async fn connected(prosody: &Prosody, companion: Companion) -> XmppShard {
    let shard = XmppShard::connect(prosody.shard("main"), SERVICE_PASSWORD.into()).unwrap();
    assert!(
        shard.wait_online(Duration::from_secs(10)).await,
        "{}",
        prosody.log()
    );
    assert_eq!(
        shard.has_companion(),
        companion == Companion::Loaded,
        "companion module detected as loaded or not"
    );
    shard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lecturer_takes_back_a_room_a_student_locked() {
    seed_story(ProsodyVersion::Debian012, Companion::Loaded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lecturer_takes_back_a_room_a_student_locked_without_the_companion_module() {
    seed_story(ProsodyVersion::Debian012, Companion::Absent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lecturer_takes_back_a_room_a_student_locked_on_prosody_13() {
    seed_story(ProsodyVersion::V13, Companion::Loaded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lecturer_takes_back_a_room_a_student_locked_on_prosody_13_without_the_companion_module()
 {
    seed_story(ProsodyVersion::V13, Companion::Absent).await;
}

async fn seed_story(version: ProsodyVersion, companion: Companion) {
    let mut steps = Steps::new();
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_setup(Setup {
        version,
        companion,
        ..Setup::default()
    })
    .await
    .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = connected(&prosody, companion).await;
    let logic = room("Logic");
    // The module tells at connect; without it, the first running room does.
    let (known_at_connect, told_version) = match (companion, version) {
        (Companion::Loaded, ProsodyVersion::Debian012) => (RoomOwnership::Owner, Some("0.12")),
        (Companion::Loaded, ProsodyVersion::V13) => (RoomOwnership::Owner, Some("13.")),
        (Companion::Absent, _) => (RoomOwnership::Unknown, None),
    };
    assert_eq!(shard.room_ownership(), known_at_connect);
    let version_told = shard.prosody_version();
    match told_version {
        Some(prefix) => assert!(
            version_told
                .as_deref()
                .is_some_and(|v| v.starts_with(prefix)),
            "{version_told:?}"
        ),
        None => assert_eq!(version_told, None),
    }

    assert!(
        !shard.meeting(&logic).await.unwrap().running,
        "nobody there yet"
    );

    steps.begin("evilstudent comes first");
    // The focus makes him moderator, and he locks the room.
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
    assert_eq!(shard.room_ownership(), RoomOwnership::Owner);
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
    if companion == Companion::Loaded {
        // The module serves Roomkeeper's account only, not someone in the room.
        let ns = "urn:roomkeeper:prosody:1";
        for (to, set, payload) in [
            (
                "logic@conference.meet.test",
                false,
                format!("<room xmlns='{ns}'/>"),
            ),
            (
                "logic@conference.meet.test",
                true,
                format!("<kick xmlns='{ns}' nick='e1e1e1e1'/>"),
            ),
            (
                "conference.meet.test",
                true,
                format!("<subscribe xmlns='{ns}'/>"),
            ),
        ] {
            let answer = evil.ask(to, set, &payload).await.unwrap();
            assert_eq!(answer.err().as_deref(), Some("Forbidden"), "{payload}");
        }
    }
    let evil_seen = &meeting.participants[0];
    assert!(evil_seen.joined_at.is_some());
    match companion {
        Companion::Loaded => assert_eq!(evil_seen.display_name.as_deref(), Some("evilstudent")),
        Companion::Absent => assert_eq!(evil_seen.display_name, None, "Prosody tells no names"),
    }

    steps.begin("Revoke, remove the password");
    // The room is open again and he cannot lock it again.
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

    steps.begin("Kick and end");
    assert!(matches!(
        shard.set_moderator(&logic, "00000000", true).await,
        Err(Error::ParticipantGone)
    ));
    let meeting = shard.kick(&logic, "e1e1e1e1").await.unwrap();
    assert!(!meeting.participants.iter().any(|p| p.id == "e1e1e1e1"));
    evil.wait_until(|p| p.role() == "none").await.unwrap();
    // The web client shows 307 as "you were kicked"; a ban lifted at once is a 301.
    let expected = match companion {
        Companion::Loaded => "307",
        Companion::Absent => "301",
    };
    assert!(
        evil.exit_codes().iter().any(|c| c == expected),
        "{:?}",
        evil.exit_codes()
    );
    shard
        .end_meeting(&logic, "The lecture is over")
        .await
        .unwrap();
    assert!(!shard.meeting(&logic).await.unwrap().running);

    steps.begin("Prosody gone: actions fail at once, within the 2 s promise");
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

/// Prosody 13 without `component_admins_as_room_owners = true` (its default): the account
/// is an admin of the component but not owner of the rooms. Revoking through the module
/// still works; removing the password and ending the meeting are refused, and every
/// refusal names the line to add. Roomkeeper knows it at connect with the module, and
/// from the first room read without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prosody_13_without_the_owner_option_is_told_the_line_to_add() {
    for companion in [Companion::Loaded, Companion::Absent] {
        not_owner_on_13(companion).await;
    }
}

async fn not_owner_on_13(companion: Companion) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_setup(Setup {
        version: ProsodyVersion::V13,
        companion,
        admins_as_owners: false,
        ..Setup::default()
    })
    .await
    .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = connected(&prosody, companion).await;
    let logic = room("Logic");
    let line = "component_admins_as_room_owners = true";
    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    evil.lock("mine").await.unwrap().unwrap();
    let refused = |result: Result<(), Error>| match result {
        Err(Error::Refused(text)) => assert!(text.contains(line), "{text}"),
        other => panic!("not refused: {other:?}"),
    };
    match companion {
        Companion::Loaded => {
            assert_eq!(shard.room_ownership(), RoomOwnership::NotOwner);
            let meeting = shard.meeting(&logic).await.unwrap();
            assert!(meeting.password_protected);
            let meeting = shard
                .set_moderator(&logic, "e1e1e1e1", false)
                .await
                .unwrap();
            assert!(!meeting.participants[0].moderator, "revoking still works");
            evil.wait_until(|p| p.role() == "participant")
                .await
                .unwrap();
        }
        Companion::Absent => {
            // Not known before a room runs; then every plain MUC query is refused.
            refused(shard.meeting(&logic).await.map(drop));
            assert_eq!(shard.room_ownership(), RoomOwnership::NotOwner);
        }
    }
    refused(shard.remove_password(&logic).await.map(drop));
    refused(shard.end_meeting(&logic, "over").await);
}

/// A companion module that serves another account refuses our subscription: that is the
/// module's refusal, not Prosody's word on room ownership. Roomkeeper works without the
/// module and learns ownership from the first room it reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_for_another_account_says_nothing_about_ownership() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_setup(Setup {
        module_serves_someone_else: true,
        ..Setup::default()
    })
    .await
    .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = connected(&prosody, Companion::Absent).await;
    assert_eq!(shard.room_ownership(), RoomOwnership::Unknown);
    let _student = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "student", None)
        .await
        .unwrap();
    assert!(shard.meeting(&room("logic")).await.unwrap().running);
    assert_eq!(shard.room_ownership(), RoomOwnership::Owner);
}

/// With the lobby on (members-only), `none` would throw the person out (status 321):
/// revoking sets `member`, and they stay in the meeting without moderator rights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_in_a_lobby_room_keeps_the_person_in_it() {
    for companion in [Companion::Loaded, Companion::Absent] {
        lobby_room(companion).await;
    }
}

async fn lobby_room(companion: Companion) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_with(companion).await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = connected(&prosody, companion).await;
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
    // Pushed changes come back too: the reconnect subscribed again (the watch reads
    // rooms only once a minute here, so only a push explains a change seen at once).
    let shard = std::sync::Arc::new(shard);
    assert!(shard.wait_online(Duration::from_secs(10)).await && shard.has_companion());
    let watch = MeetingWatch::new(shard.clone(), Duration::from_secs(60));
    let feed = watch.follow(&logic);
    let mut state = feed.subscribe();
    state
        .wait_for(|s| matches!(s, Some(Ok(m)) if m.participants.len() == 1))
        .await
        .unwrap();
    let _other = Participant::join(&prosody, &focus, "logic", "f2f2f2f2", "other", None)
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(1),
        state.wait_for(|s| matches!(s, Some(Ok(m)) if m.participants.len() == 2)),
    )
    .await
    .expect("a join after the restart is pushed")
    .unwrap();
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

/// A tenant room (`https://DOMAIN/physics/quantum`) is addressed as
/// `quantum@conference.physics.DOMAIN`. The test deployment serves that name as its own
/// component; a real one maps it inside Prosody (mod_muc_domain_mapper, not available
/// here), so the mapping itself is not exercised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_room_is_controlled_at_its_tenant_address() {
    for companion in [Companion::Loaded, Companion::Absent] {
        let _turn = ONE_AT_A_TIME.lock().await;
        let prosody = Prosody::start_with(companion).await.unwrap();
        let focus = Focus::start(&prosody).await.unwrap();
        let shard = connected(&prosody, companion).await;
        let quantum = RoomName::parse("physics/Quantum", &[]).unwrap();
        let student = Participant::join(
            &prosody,
            &focus,
            "physics/quantum",
            "e1e1e1e1",
            "student",
            None,
        )
        .await
        .unwrap();
        student.wait_until(Participant::is_moderator).await.unwrap();
        student.lock("mine").await.unwrap().unwrap();
        assert!(
            !shard.meeting(&room("quantum")).await.unwrap().running,
            "not the same room"
        );
        let meeting = shard.meeting(&quantum).await.unwrap();
        assert!(meeting.running && meeting.password_protected, "{meeting:?}");
        let meeting = shard.remove_password(&quantum).await.unwrap();
        assert!(!meeting.password_protected);
        let meeting = shard
            .set_moderator(&quantum, "e1e1e1e1", false)
            .await
            .unwrap();
        assert!(!meeting.participants[0].moderator);
        student
            .wait_until(|p| p.role() == "participant")
            .await
            .unwrap();
    }
}

/// With the companion module, changes reach a room's followers as Prosody makes them:
/// the watch here reads rooms only once a minute, so only pushed events can explain
/// what it sees within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_changes_reach_followers_within_a_second() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = std::sync::Arc::new(connected(&prosody, Companion::Loaded).await);
    let watch = MeetingWatch::new(shard.clone(), Duration::from_secs(60));
    let logic = room("logic");
    let feed = watch.follow(&logic);
    let mut state = feed.subscribe();
    let mut wait_for = async |what: &str, test: &dyn Fn(&roomkeeper_jitsi::Meeting) -> bool| {
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                if let Some(Ok(meeting)) = &*state.borrow_and_update() {
                    if test(meeting) {
                        return;
                    }
                }
                state.changed().await.unwrap();
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what}: not seen within 1 s"));
        eprintln!("{what}: seen after {:?}", started.elapsed());
    };
    wait_for("no meeting yet", &|m| !m.running).await;

    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    wait_for("a join", &|m| {
        m.participants
            .iter()
            .any(|p| p.display_name.as_deref() == Some("evilstudent"))
    })
    .await;
    evil.wait_until(Participant::is_moderator).await.unwrap();
    wait_for("a new moderator", &|m| {
        m.participants.iter().any(|p| p.moderator)
    })
    .await;
    // Anyone on the server can message Roomkeeper's connection: a forged event is
    // ignored (only the MUC component speaks for its rooms).
    let forged = "<occupant xmlns='urn:roomkeeper:prosody:1' room='logic@conference.meet.test' \
                  nick='0badf00d' jid='ghost@meet.test' role='moderator' name='Ghost'/>";
    evil.send_message(&shard.bound_jid().unwrap(), forged)
        .await
        .unwrap();
    evil.lock("mine").await.unwrap().unwrap();
    wait_for("a password", &|m| m.password_protected).await;
    let ghost = |m: &roomkeeper_jitsi::Meeting| m.participants.iter().any(|p| p.id == "0badf00d");
    assert!(
        matches!(&*feed.subscribe().borrow(), Some(Ok(m)) if !ghost(m)),
        "a forged event changed the room"
    );
    let other = Participant::join(&prosody, &focus, "logic", "c3c3c3c3", "Other", Some("mine"))
        .await
        .unwrap();
    wait_for("a second join", &|m| m.participants.len() == 2).await;
    drop(other);
    wait_for("a leave", &|m| m.participants.len() == 1).await;
    shard.end_meeting(&logic, "over").await.unwrap();
    wait_for("the end", &|m| !m.running).await;
    drop(focus);
}

/// A Prosody whose certificate comes from an internal CA: trusted with the shard's
/// `ca_file`, refused with the system's roots alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_trusts_the_operators_ca_file() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_internal_ca().await.unwrap();
    let mut config = prosody.shard("tls");
    assert_eq!(config.ca_file, Some(prosody.ca_file()));
    let trusted = XmppShard::connect(config.clone(), SERVICE_PASSWORD.into()).unwrap();
    assert!(
        trusted.wait_online(Duration::from_secs(10)).await,
        "{}",
        prosody.log()
    );
    assert!(trusted.has_companion());
    assert!(!trusted.meeting(&room("logic")).await.unwrap().running);

    config.ca_file = None;
    let untrusted = XmppShard::connect(config, SERVICE_PASSWORD.into()).unwrap();
    let refused = untrusted
        .wait_online_or_problem(Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ConnectProblem::Certificate(text)
            if text.contains("issued by \"CN=Roomkeeper test CA\"")),
        "a certificate from an unknown CA must be refused: {refused}"
    );
}

/// As jitsi-meet's packages leave Prosody: the auth host presents the self-signed
/// `CA:TRUE` certificate `prosodyctl cert generate` made. Trusted when the operator
/// trusts it (`ca_file`), on both Prosody versions; refused with words that name it and
/// the line that fixes it when nothing does; every action then says so (not "no
/// connection"), and a wrong password is a refused login, not an unreachable server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_jitsi_meet_certificate_is_trusted_when_the_operator_trusts_it() {
    let _turn = ONE_AT_A_TIME.lock().await;
    for version in [ProsodyVersion::Debian012, ProsodyVersion::V13] {
        let prosody = Prosody::start_setup(Setup {
            version,
            ..Setup::default()
        })
        .await
        .unwrap();
        let certificate = std::fs::read_to_string(prosody.auth_certificate()).unwrap();
        assert!(certificate.contains("BEGIN CERTIFICATE"));
        let mut config = prosody.shard("jitsi");
        assert_eq!(config.security, XmppSecurity::Starttls);
        assert_eq!(config.ca_file, Some(prosody.auth_certificate()));
        let trusted = XmppShard::connect(config.clone(), SERVICE_PASSWORD.into()).unwrap();
        assert_eq!(
            trusted
                .wait_online_or_problem(Duration::from_secs(10))
                .await,
            Ok(true),
            "{version:?}: {}",
            prosody.log()
        );
        assert!(trusted.has_companion());

        config.ca_file = None;
        let untrusted = XmppShard::connect(config.clone(), SERVICE_PASSWORD.into()).unwrap();
        let refused = untrusted
            .wait_online_or_problem(Duration::from_secs(10))
            .await
            .unwrap_err();
        let ConnectProblem::Certificate(text) = &refused else {
            panic!("{version:?}: {refused:?}");
        };
        assert!(
            text.contains("self-signed")
                && text.contains("CN=auth.meet.test")
                && text.contains("ca_file = \"/etc/prosody/certs/auth.meet.test.crt\""),
            "{text}"
        );
        let action = untrusted.remove_password(&room("logic")).await.unwrap_err();
        assert!(
            matches!(action, Error::NotConnected(ConnectProblem::Certificate(_)))
                && action.to_string().starts_with("Roomkeeper does not trust"),
            "{action}"
        );

        // Another Prosody's certificate in ca_file is no trust in this one.
        let elsewhere = Prosody::start_setup(Setup {
            version,
            ..Setup::default()
        })
        .await
        .unwrap();
        config.ca_file = Some(elsewhere.auth_certificate());
        let wrong_file = XmppShard::connect(config.clone(), SERVICE_PASSWORD.into()).unwrap();
        assert!(matches!(
            wrong_file
                .wait_online_or_problem(Duration::from_secs(10))
                .await,
            Err(ConnectProblem::Certificate(_))
        ));
        drop(elsewhere);

        config.ca_file = Some(prosody.auth_certificate());
        let wrong_password = XmppShard::connect(config, "not-the-password".into()).unwrap();
        let refused = wrong_password
            .wait_online_or_problem(Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, ConnectProblem::Login(text) if text.contains("roomkeeper@auth.meet.test")),
            "{version:?}: {refused:?}"
        );
        let action = wrong_password.meeting(&room("logic")).await.unwrap_err();
        assert!(
            action
                .to_string()
                .starts_with("Prosody refuses Roomkeeper's login"),
            "{action}"
        );
    }
}

/// A followed room answers reads from its live state, and that state includes the
/// result of every action answered before the read, however close behind it comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_room_shows_each_action_to_the_next_read() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = std::sync::Arc::new(connected(&prosody, Companion::Loaded).await);
    let watch = MeetingWatch::new(shard.clone(), Duration::from_secs(60));
    let logic = room("logic");
    assert_eq!(watch.current(&logic).await, None, "nobody follows it yet");
    let student = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "student", None)
        .await
        .unwrap();
    // Jicofo's pick, made before the lecturer acts.
    student.wait_until(Participant::is_moderator).await.unwrap();
    let feed = watch.follow(&logic);
    feed.subscribe()
        .wait_for(|s| matches!(s, Some(Ok(m)) if m.participants.len() == 1))
        .await
        .unwrap();
    for turn in 0..100 {
        let grant = turn % 2 == 1;
        let answered = shard
            .set_moderator(&logic, "e1e1e1e1", grant)
            .await
            .unwrap();
        assert_eq!(
            answered.participants[0].moderator, grant,
            "turn {turn}: {answered:?}"
        );
        let now = watch
            .current(&logic)
            .await
            .expect("read from the live state");
        assert_eq!(now.participants[0].moderator, grant, "turn {turn}");
    }
}

/// The simulated Jicofo follows AutoOwnerRoleManager: it elects only when its own pick
/// leaves; then it adopts someone who already has owner rights, and grants only when
/// nobody has them. A revoke from outside starts no fight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_focus_adopts_an_owner_before_it_grants() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_with(Companion::Loaded).await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = connected(&prosody, Companion::Loaded).await;
    let logic = room("logic");

    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    assert_eq!(focus.grants_sent(), 1, "the first one in is elected");
    let lecturer = Participant::join(&prosody, &focus, "logic", "1ec70e70", "Lecturer", None)
        .await
        .unwrap();
    let third = Participant::join(&prosody, &focus, "logic", "c3c3c3c3", "Third", None)
        .await
        .unwrap();

    // Revoked from outside: the focus keeps its pick and grants nobody.
    shard.set_moderator(&logic, "1ec70e70", true).await.unwrap();
    shard
        .set_moderator(&logic, "e1e1e1e1", false)
        .await
        .unwrap();
    evil.wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    let fourth = Participant::join(&prosody, &focus, "logic", "d4d4d4d4", "Fourth", None)
        .await
        .unwrap();
    focus
        .wait_until_seen("logic", "d4d4d4d4", true)
        .await
        .unwrap();
    assert_eq!(focus.grants_sent(), 1);

    // Its pick leaves: the lecturer already has owner rights and is adopted, not granted.
    evil.leave().await.unwrap();
    focus
        .wait_until_seen("logic", "e1e1e1e1", false)
        .await
        .unwrap();
    assert_eq!(focus.grants_sent(), 1, "an owner in the room is adopted");

    // The adopted owner leaves and nobody else has owner rights: the first participant
    // still there (not Jibri, not a visitor) is granted.
    lecturer.leave().await.unwrap();
    third.wait_until(Participant::is_moderator).await.unwrap();
    assert_eq!(focus.grants_sent(), 2);
    assert!(!fourth.is_moderator());
}

/// "Join as moderator": a code at the end of a display name goes to Roomkeeper once the
/// person is in, and no other occupant ever sees it, not even in the first presence.
/// Configuration changes say who made them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_code_reaches_the_service_and_nobody_else() {
    for version in [ProsodyVersion::Debian012, ProsodyVersion::V13] {
        join_code(version).await;
    }
}

async fn join_code(version: ProsodyVersion) {
    let mut steps = Steps::new();
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_setup(Setup {
        version,
        companion: Companion::Loaded,
        ..Setup::default()
    })
    .await
    .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let shard = connected(&prosody, Companion::Loaded).await;
    let mut events = shard.events();
    let logic = room("logic");
    let observer = Participant::join(&prosody, &focus, "logic", "0b0b0b0b", "Observer", None)
        .await
        .unwrap();
    let lecturer = Participant::join(
        &prosody,
        &focus,
        "logic",
        "1ec70e70",
        "Prof. Ada (RK-K7Q2M9XD)",
        None,
    )
    .await
    .unwrap();

    let told = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let RoomEvent::JoinCode {
                room,
                participant,
                code,
                session,
                in_lobby: false,
            } = events.recv().await.unwrap()
            {
                break (room, participant, code, session);
            }
        }
    })
    .await
    .expect("the code is told within 5 s");
    let (told, session) = ((told.0, told.1, told.2), told.3);
    assert_eq!(told, ("logic".into(), "1ec70e70".into(), "K7Q2M9XD".into()));

    observer
        .wait_until(|p| {
            p.presences_of_others()
                .iter()
                .any(|x| x.contains("1ec70e70"))
        })
        .await
        .unwrap();
    let seen = observer.presences_of_others();
    assert!(
        seen.iter()
            .all(|x| !x.contains("RK-") && !x.contains("K7Q2M9XD")),
        "another occupant saw the code: {seen:?}"
    );
    assert!(seen.iter().any(|x| x.contains(">Prof. Ada<")), "{seen:?}");
    let meeting = shard.meeting(&logic).await.unwrap();
    let named = meeting.participants.iter().find(|p| p.id == "1ec70e70");
    assert_eq!(
        named.and_then(|p| p.display_name.as_deref()),
        Some("Prof. Ada")
    );
    // The code belongs to the connection that joined with it, as the room shows it.
    assert!(session.contains("@meet.test/"), "{session}");
    assert_eq!(named.map(|p| p.session.as_str()), Some(session.as_str()));

    steps.begin("Who changed the configuration: an occupant, then Roomkeeper's account");
    observer
        .wait_until(Participant::is_moderator)
        .await
        .unwrap();
    observer.lock("mine").await.unwrap().unwrap();
    shard.remove_password(&logic).await.unwrap();
    let mut changers = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while changers.len() < 2 {
            if let RoomEvent::Config {
                by,
                password_protected,
                ..
            } = events.recv().await.unwrap()
            {
                changers.push((by, password_protected));
            }
        }
    })
    .await
    .expect("both changes told within 5 s");
    assert_eq!(
        changers,
        [
            (ChangedBy::Participant("0b0b0b0b".into()), true),
            (ChangedBy::Service, false)
        ]
    );

    steps.begin("The client keeps the code in its name, so every presence update carries it");
    // Told once. A client making up codes is told about three in all, no more.
    lecturer.rename("Prof. Ada (RK-K7Q2M9XD)").await.unwrap();
    for i in 0..10 {
        lecturer
            .rename(&format!("Prof. Ada (RK-FL00D{i:03})"))
            .await
            .unwrap();
    }
    lecturer.rename("Prof. Ada, done").await.unwrap();
    let mut codes = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.recv().await.unwrap() {
                RoomEvent::JoinCode { code, .. } => codes.push(code),
                // Sent last, on the same connection: everything before it has been told.
                RoomEvent::Occupant { participant, .. }
                    if participant.display_name.as_deref() == Some("Prof. Ada, done") =>
                {
                    break;
                }
                _ => {}
            }
        }
    })
    .await
    .expect("the renames told within 5 s");
    assert_eq!(codes, ["FL00D000", "FL00D001"]);
    drop((lecturer, observer, focus));
}
