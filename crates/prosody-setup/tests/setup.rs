//! `roomkeeper-prosody-setup` on a Prosody configured as jitsi-meet's packages configure
//! it (their template with today's lines, their certificates, their plugins), on Prosody
//! 0.12 and 13: it sets the site up, Prosody starts on the result, Roomkeeper connects
//! over TLS with nothing but the address and the password file, and the seed story
//! passes; run again it changes nothing; removal leaves the files as they were.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use roomkeeper_domain::RoomName;
use roomkeeper_jitsi::{MeetingControl, RoomOwnership, XmppShard};
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{
    Focus, JitsiMeetSite, Participant, ProsodyVersion, SiteEdits, SitePaths, jitsi_meet_files,
};

/// One Prosody at a time: the story's answers wait on two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn setup(site: &SitePaths, args: &[&str]) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_roomkeeper-prosody-setup"))
        .arg("--prosody-config")
        .arg(&site.prosody_config)
        .arg("--password-file")
        .arg(site.dir.join("secrets/password"))
        .arg("--plugin-dir")
        .arg(JitsiMeetSite::plugin_dir())
        .arg("--prosodyctl")
        .arg(&site.prosodyctl)
        .arg("--no-restart")
        .args(args)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, said)
}

fn count(text: &str, piece: &str) -> usize {
    text.matches(piece).count()
}

/// The conference component's part of the site file.
fn component<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text.find(&format!("Component \"{name}\"")).unwrap();
    let rest = &text[start + 1..];
    let end = ["Component \"", "VirtualHost \""]
        .iter()
        .filter_map(|h| rest.find(h))
        .min()
        .unwrap_or(rest.len());
    &text[start..start + 1 + end]
}

async fn set_up_and_run_the_story(version: ProsodyVersion, edits: SiteEdits) {
    let mut steps = Steps::new();
    let Some(files) = jitsi_meet_files("roomkeeper-prosody-setup on jitsi-meet's template") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let site = JitsiMeetSite::new(version, &files, edits).unwrap();
    let paths = site.paths();
    let read = |file: &Path| std::fs::read_to_string(file).unwrap();
    let original = read(&paths.site_config);
    let main_original = read(&paths.prosody_config);
    let account = "roomkeeper@auth.meet.test";

    steps.begin("--dry-run: the change as a diff, nothing touched");
    let (output, said) = setup(&paths, &["--dry-run"]);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains(&format!("+    admins = {{ \"{account}\" }}")),
        "{said}"
    );
    assert!(said.contains("--- ") && said.contains("+++ "), "{said}");
    assert_eq!(read(&paths.site_config), original);
    assert!(!paths.dir.join("secrets").exists());

    let (output, said) = setup(&paths, &[]);
    assert!(output.status.success(), "{said}");
    let text = read(&paths.site_config);
    // The module's folder beside jitsi-meet's, in the one plugin_paths there is.
    assert_eq!(count(&text, "plugin_paths"), 1, "{text}");
    assert!(text.contains(&JitsiMeetSite::plugin_dir().display().to_string()));
    for name in [
        "conference.meet.test",
        "breakout.meet.test",
        "lobby.meet.test",
    ] {
        let part = component(&text, name);
        assert_eq!(count(part, account), 1, "{name}: {part}");
        assert!(
            !name.starts_with("conference") || part.contains("\"focus@auth.meet.test\""),
            "the focus stays an admin: {part}"
        );
    }
    // Loaded wherever a display name is shown: the meetings, their lobbies and their
    // breakout rooms.
    for name in [
        "conference.meet.test",
        "lobby.meet.test",
        "breakout.meet.test",
    ] {
        assert_eq!(count(component(&text, name), "\"roomkeeper\""), 1, "{name}");
    }
    assert_eq!(count(&text, "\"roomkeeper\""), 3, "{text}");
    // Jibri passes the lobby: jitsi-meet's own whitelist, active once, on the main host
    // (the template's commented-out line stays as it was).
    let whitelist: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("muc_lobby_whitelist"))
        .collect();
    assert_eq!(
        whitelist,
        ["    muc_lobby_whitelist = { \"recorder.meet.test\" }"],
        "{text}"
    );
    // Prosody 13's line: global, once, whether the template had it or not (0.12 needs
    // none: it is added only where it was missing on 13).
    let owners_lines = count(&text, "component_admins_as_room_owners = true");
    let expected = usize::from(edits.owners_line || version == ProsodyVersion::V13);
    assert_eq!(owners_lines, expected, "{text}");
    if owners_lines == 1 {
        let first_section = text.find("VirtualHost").unwrap();
        assert!(text.find("component_admins_as_room_owners").unwrap() < first_section);
    }
    assert_eq!(read(&paths.prosody_config), main_original);
    let password_file = paths.dir.join("secrets/password");
    let mode = std::fs::metadata(&password_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the password is root's only");
    let dir_mode = std::fs::metadata(paths.dir.join("secrets"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    assert!(
        said.contains("must be restarted") && said.contains("ends the meetings"),
        "{said}"
    );
    assert!(said.contains("5222"), "the firewall port is named: {said}");
    assert!(
        !said.contains(std::fs::read_to_string(&password_file).unwrap().trim()),
        "never shown"
    );

    let after_first = text;
    let prosody = site.start().await.unwrap();
    // Again, with Prosody running (Prosody 13 registers through the running server):
    // nothing changes in the configuration, nothing restarts.
    let (output, said) = setup(&paths, &[]);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("Nothing to change"), "{said}");
    assert!(!said.contains("restart"), "{said}");
    assert!(said.contains(&format!("{account} is registered")), "{said}");
    assert_eq!(read(&paths.site_config), after_first);

    steps.begin(
        "Roomkeeper with nothing but the address, the auth certificate and the password file",
    );
    let mut config = prosody.shard("main");
    config.password = None;
    let password = std::fs::read_to_string(&password_file)
        .unwrap()
        .trim()
        .to_owned();
    let shard = XmppShard::connect(config, password).unwrap();
    assert_eq!(
        shard.wait_online_or_problem(Duration::from_secs(15)).await,
        Ok(true),
        "{}",
        prosody.log()
    );
    assert!(
        shard.has_companion(),
        "the module is loaded: {}",
        prosody.log()
    );
    assert_eq!(shard.room_ownership(), RoomOwnership::Owner);

    steps.begin("The seed story");
    // A student comes first, gets moderator and locks the room; the lecturer takes it back from
    // outside.
    let focus = Focus::start(&prosody).await.unwrap();
    let logic = RoomName::parse("logic", &[]).unwrap();
    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    evil.lock("mine").await.unwrap().unwrap();
    let meeting = shard.meeting(&logic).await.unwrap();
    assert!(meeting.running && meeting.password_protected, "{meeting:?}");
    assert_eq!(
        meeting.participants[0].display_name.as_deref(),
        Some("evilstudent")
    );
    let meeting = shard.remove_password(&logic).await.unwrap();
    assert!(!meeting.password_protected);
    let lecturer = Participant::join(&prosody, &focus, "logic", "a1a1a1a1", "Lecturer", None)
        .await
        .unwrap();
    shard.set_moderator(&logic, "a1a1a1a1", true).await.unwrap();
    let meeting = shard
        .set_moderator(&logic, "e1e1e1e1", false)
        .await
        .unwrap();
    lecturer
        .wait_until(Participant::is_moderator)
        .await
        .unwrap();
    evil.wait_until(|p| !p.is_moderator()).await.unwrap();
    assert!(
        meeting
            .participants
            .iter()
            .all(|p| p.moderator == (p.id == "a1a1a1a1")),
        "{meeting:?}"
    );
    assert!(
        evil.lock("again").await.unwrap().is_err(),
        "refused by Prosody"
    );

    steps.begin("With jitsi-meet's lobby on, the owner's client knocks with \"Name (RK-CODE)\" at the lobby room");
    // The moderators there (whoever they are) see the name, never the code.
    lecturer.enable_lobby().await.unwrap().unwrap();
    lecturer.watch_lobby().await.unwrap();
    let knocking = Participant::knock(&prosody, "logic", "b2b2b2b2", "Prof. Ada (RK-K7Q2M9XD)")
        .await
        .unwrap();
    lecturer
        .wait_until(|p| {
            p.presences_of_others()
                .iter()
                .any(|x| x.contains("lobby.meet.test/b2b2b2b2"))
        })
        .await
        .unwrap();
    let seen = lecturer.presences_of_others();
    assert!(
        seen.iter().any(|x| x.contains(">Prof. Ada<")),
        "the knocker's name is shown: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|x| !x.contains("RK-") && !x.contains("K7Q2M9XD")),
        "a moderator saw the code in the lobby: {seen:?}"
    );
    drop((knocking, evil, lecturer, focus, shard));
    // Stopped, not dropped: the site's files go with it.
    let mut prosody = prosody;
    prosody.stop();

    steps.begin("Removal takes out exactly what it added");
    // Purge also the account's secrets.
    let (output, said) = setup(&paths, &["--remove"]);
    assert!(output.status.success(), "{said}");
    assert_eq!(read(&paths.site_config), original);
    assert!(
        password_file.exists(),
        "--remove keeps the account and its password"
    );
    let (output, said) = setup(&paths, &["--purge"]);
    assert!(output.status.success(), "{said}");
    assert!(!password_file.exists());
    assert_eq!(read(&paths.site_config), original);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitsi_meets_current_template_on_prosody_012() {
    set_up_and_run_the_story(ProsodyVersion::Debian012, SiteEdits::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitsi_meets_current_template_on_prosody_13() {
    set_up_and_run_the_story(ProsodyVersion::V13, SiteEdits::default()).await;
}

/// An older site file without Prosody 13's line, which an operator had set up by hand
/// (account among the admins, module loaded): the line is added, nothing is doubled,
/// and removal leaves the operator's own lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_set_up_by_hand_without_the_prosody_13_line() {
    set_up_and_run_the_story(
        ProsodyVersion::V13,
        SiteEdits {
            owners_line: false,
            set_up_by_hand: true,
        },
    )
    .await;
}
