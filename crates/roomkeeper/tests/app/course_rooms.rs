//! Course rooms: a room's co-owners named as a directory group (Debian's slapd, nested
//! groups) or a sign-in provider's group (a real OpenID provider), and the directory or
//! the provider alone deciding who is in them, while sessions and live views are open.

use reqwest::StatusCode;
use roomkeeper_testkit::ldap::{LOGIC_TEACHERS, LOGIC_TUTORS, PASSWORD_SUFFIX, PEOPLE, Slapd};
use roomkeeper_testkit::oidc::OidcServer;
use roomkeeper_testkit::{
    Backend, MeetingEvents, Steps, TestApp, TestDatabase, both_backends, error_code, json,
};
use serde_json::{Value, json};

async fn app_with(backend: Backend, configure: impl FnOnce(&mut roomkeeper::Config)) -> TestApp {
    let database = std::sync::Arc::new(TestDatabase::new(backend).await.unwrap());
    let mut config = database.config();
    configure(&mut config);
    TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap()
}

fn put_co_owners(
    client: &reqwest::Client,
    app: &TestApp,
    room: i64,
    body: &Value,
) -> reqwest::RequestBuilder {
    client
        .put(app.url(&format!("/api/v1/rooms/{room}/co-owners")))
        .json(body)
}

async fn status_of(client: &reqwest::Client, app: &TestApp, path: &str) -> StatusCode {
    client.get(app.url(path)).send().await.unwrap().status()
}

/// How many `co_owner_groups` entries the room's history has.
async fn group_changes(client: &reqwest::Client, app: &TestApp, room: i64) -> usize {
    let history = json(client.get(app.url(&format!("/api/v1/audit?room_id={room}")))).await;
    history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "co_owner_groups")
        .count()
}

/// The lecturer and his registered room `logic`: its id and his client.
async fn lecturers_room(app: &TestApp) -> (i64, reqwest::Client) {
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    (room, app.client_as("lecturer").await.unwrap())
}

/// The lecturer names `groups` as the room's co-owners (nobody by name): the room's
/// answer.
async fn name_groups(
    lecturer: &reqwest::Client,
    app: &TestApp,
    room: i64,
    groups: &[&str],
) -> Value {
    let named = put_co_owners(
        lecturer,
        app,
        room,
        &json!({"usernames": [], "groups": groups}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(named.status(), StatusCode::OK);
    named.json().await.unwrap()
}

fn members(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_owned())
        .collect()
}

/// A lecturer names the course's teachers' group once. Everyone the directory lists in
/// it, through the tutors' group inside it too, co-owns the room, including dan, who has
/// never signed in; who leaves the group at the directory loses the room at the next
/// refresh, their open live view too, and who is added has it from their next sign-in.
async fn a_directory_group_co_owns_a_course_room(backend: Backend) {
    let mut steps = Steps::new();
    let slapd = Slapd::start().await.unwrap();
    let app = app_with(backend, |c| {
        c.ldap = slapd.group_config();
        // The frozen directory below is given up on after this (times the refresh's six).
        c.ldap.timeout_seconds = 2;
        c.rooms.meeting_urls = vec![crate::recordings::MEET.into()];
    })
    .await;
    let (room, lecturer) = lecturers_room(&app).await;

    steps.begin("Bad group names are refused and change nothing");
    for (typed, code) in [
        ("no-such-group", "unknown_group"),
        (
            "cn=physics-teachers,ou=groups,dc=example,dc=org",
            "unknown_group",
        ),
        ("elsewhere:staff", "invalid_group"),
        ("cn=", "invalid_group"),
    ] {
        let refused = put_co_owners(
            &lecturer,
            &app,
            room,
            &json!({"usernames": [], "groups": [typed]}),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(
            error_code(refused, StatusCode::UNPROCESSABLE_ENTITY).await,
            code,
            "{typed}"
        );
    }
    let unchanged = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}")))).await;
    assert_eq!(unchanged["co_owner_groups"], json!([]));

    steps.begin("A group larger than the operator allows is refused");
    let mut smaller = slapd.group_config();
    smaller.group_max_members = 2;
    let limited_app = app_with(Backend::Sqlite, |c| c.ldap = smaller).await;
    let (limited_room, limited_lecturer) = lecturers_room(&limited_app).await;
    let too_large = put_co_owners(
        &limited_lecturer,
        &limited_app,
        limited_room,
        &json!({"usernames": [], "groups": ["logic-teachers"]}),
    )
    .send()
    .await
    .unwrap();
    let body: Value = too_large.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_group", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 2 members"),
        "{body}"
    );
    assert!(
        limited_app
            .store()
            .room(limited_room)
            .await
            .unwrap()
            .unwrap()
            .co_owner_groups
            .is_empty()
    );

    steps.begin("The lecturer names the group by its short name; the directory fills it");
    let named = name_groups(&lecturer, &app, room, &["logic-teachers"]).await;
    let group = &named["co_owner_groups"][0];
    assert_eq!(group["name"], LOGIC_TEACHERS);
    assert_eq!(group["source"], "directory");
    assert_eq!(group["size"], 3, "{group}");
    assert_eq!(
        members(group),
        ["ada", "carol", "dan"],
        "nested tutors included"
    );
    assert_eq!(group_changes(&lecturer, &app, room).await, 1);

    steps.begin("Members sign in with the directory and have the room");
    let carol = app.client();
    app.log_in(&carol, "carol", &format!("Carol{PASSWORD_SUFFIX}"))
        .await
        .unwrap();
    let listed = json(carol.get(app.url("/api/v1/rooms"))).await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(
        status_of(&carol, &app, &format!("/api/v1/rooms/{room}/meeting")).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "allowed: the meeting's answer is that no Jitsi is configured here"
    );
    // Managing the room stays the owner's, as for any co-owner.
    let not_theirs = put_co_owners(&carol, &app, room, &json!({"usernames": ["carol"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_theirs.status(), StatusCode::FORBIDDEN);

    steps.begin("An admin gives the teachers a pattern: a member's request approves itself");
    app.passwordless_user("root", true).await.unwrap();
    let root = app.client_as("root").await.unwrap();
    let given = root
        .post(app.url("/api/v1/group-patterns"))
        .json(&json!({"group": "logic-teachers", "pattern": "course-*"}))
        .send()
        .await
        .unwrap();
    assert_eq!(given.status(), StatusCode::CREATED);
    let given: Value = given.json().await.unwrap();
    assert_eq!(given["group_name"], LOGIC_TEACHERS);
    let ask = |client: &reqwest::Client, room: &str| {
        client
            .post(app.url("/api/v1/room-requests"))
            .json(&json!({"room": room, "reason": "teaching logic"}))
            .send()
    };
    let carols: Value = ask(&carol, "course-logic")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(carols["status"], "approved", "{carols}");
    let lecturers: Value = ask(&lecturer, "course-physics")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        lecturers["status"], "pending",
        "not in the group: {lecturers}"
    );
    let refused = root
        .post(app.url("/api/v1/group-patterns"))
        .json(&json!({"group": "no-such-group", "pattern": "x-*"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(refused, StatusCode::UNPROCESSABLE_ENTITY).await,
        "unknown_group"
    );
    let patterns = root
        .get(app.url("/admin/patterns"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        patterns.contains("Patterns for groups") && patterns.contains(LOGIC_TEACHERS),
        "{patterns}"
    );

    // A recording of the course, and a share link Carol makes for it.
    let jibri_dir = tempfile::tempdir().unwrap();
    let session = roomkeeper_testkit::jibri::record(
        jibri_dir.path(),
        "lecture-1",
        "logic",
        &format!("{}/logic", crate::recordings::MEET),
        roomkeeper_testkit::jibri::an_hour_before(app.clock().now()),
        &[1],
    )
    .unwrap();
    let recording = crate::recordings::ingest(&app, &session.dir)
        .await
        .remove(0)
        .id;
    assert_eq!(
        status_of(
            &carol,
            &app,
            &format!("/api/v1/recordings/{recording}/content")
        )
        .await,
        StatusCode::OK,
        "a member watches the room's recordings"
    );
    let link = json(
        carol
            .post(app.url(&format!("/api/v1/recordings/{recording}/links")))
            .json(&json!({"expires_in_s": 3600})),
    )
    .await;
    let shared = app.url(&format!(
        "/shared/{}",
        link["url"]
            .as_str()
            .unwrap()
            .split_once("/shared/")
            .unwrap()
            .1
    ));
    assert_eq!(
        status_of(&app.client(), &app, &shared[app.base_url.len()..]).await,
        StatusCode::OK
    );
    let mut carols_view = MeetingEvents::new(
        carol
            .get(app.url(&format!("/api/v1/rooms/{room}/events")))
            .send()
            .await
            .unwrap(),
    );

    steps.begin("dan never signed in: listed, and told of changes to the room");
    let page = lecturer
        .get(app.url(&format!("/rooms/{room}")))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Co-owning groups") && page.contains("members: 3"),
        "{page}"
    );
    assert!(page.contains("dan (Dan Never)"), "{page}");
    let kinds = |notices: Vec<roomkeeper_domain::Notice>| -> Vec<&'static str> {
        notices.iter().map(|n| n.kind.code()).collect()
    };
    // Told of the recording like every co-owner; not of his own group's naming.
    assert_eq!(
        kinds(app.store().notices_of("dan").await.unwrap()),
        ["recording_ready"]
    );
    put_co_owners(&lecturer, &app, room, &json!({"usernames": ["assistant"]}))
        .send()
        .await
        .unwrap();
    let dans = kinds(app.store().notices_of("dan").await.unwrap());
    assert_eq!(dans.len(), 2, "{dans:?}");
    assert!(dans.contains(&"co_owners_changed"), "{dans:?}");

    steps.begin("Carol leaves the tutors at the directory: the refresh takes the room away");
    slapd
        .remove_member(LOGIC_TUTORS, &format!("uid=Carol,{PEOPLE}"))
        .await
        .unwrap();
    let read = roomkeeper_usecases::groups::refresh_directory_groups(&app.state.usecases)
        .await
        .unwrap();
    assert_eq!(read, 1);
    assert_eq!(
        status_of(&carol, &app, &format!("/api/v1/rooms/{room}")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(carols_view.ended().await.unwrap(), "not_found");
    assert_eq!(
        status_of(&app.client(), &app, &shared[app.base_url.len()..]).await,
        StatusCode::NOT_FOUND,
        "her share link was her right lent out"
    );
    let left = json(carol.get(app.url("/api/v1/rooms"))).await;
    assert_eq!(
        left["total"], 1,
        "only the room she registered herself: {left}"
    );
    assert_eq!(left["items"][0]["name"], "course-logic");

    steps.begin("Added back, she has the room from her next sign-in, before any refresh");
    slapd
        .add_member(LOGIC_TEACHERS, &format!("uid=Carol,{PEOPLE}"))
        .await
        .unwrap();
    assert_eq!(
        status_of(&carol, &app, &format!("/api/v1/rooms/{room}")).await,
        StatusCode::NOT_FOUND,
        "not before she signs in or the refresh runs"
    );
    let again = app.client();
    app.log_in(&again, "carol", &format!("Carol{PASSWORD_SUFFIX}"))
        .await
        .unwrap();
    for client in [&again, &carol] {
        assert_eq!(
            status_of(client, &app, &format!("/api/v1/rooms/{room}")).await,
            StatusCode::OK,
            "her rights are hers, in every session"
        );
    }

    // (Not a question of the database: asked once, on SQLite.)
    if backend == Backend::Sqlite {
        steps.begin("A directory that cannot be asked changes nothing");
        directory_outage_changes_nothing(&app, &slapd, &carol, room).await;
    }

    steps.begin("A group inside the admin group makes administrators; a loop is read once");
    slapd
        .add_member(roomkeeper_testkit::ldap::ADMINS, LOGIC_TUTORS)
        .await
        .unwrap();
    // tutors in teachers in tutors: the directory now has a loop.
    slapd
        .add_member(LOGIC_TUTORS, LOGIC_TEACHERS)
        .await
        .unwrap();
    let dan = app.client();
    app.log_in(&dan, "dan", &format!("dan{PASSWORD_SUFFIX}"))
        .await
        .unwrap();
    assert_eq!(json(dan.get(app.url("/api/v1/me"))).await["is_admin"], true);
    let read = roomkeeper_usecases::groups::refresh_directory_groups(&app.state.usecases)
        .await
        .unwrap();
    assert_eq!(read, 1);
    let looped = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}")))).await;
    assert_eq!(
        members(&looped["co_owner_groups"][0]),
        ["ada", "carol", "dan"],
        "each once, the loop followed until it closes"
    );

    steps.begin("Emptied on the room page, the groups go, and their members' rights");
    let cleared = lecturer
        .post(app.url(&format!("/rooms/{room}/co-owners")))
        .form(&[("usernames", ""), ("groups", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        cleared.headers()["location"],
        format!("/rooms/{room}?notice=co-owners")
    );
    assert_eq!(
        status_of(&carol, &app, &format!("/api/v1/rooms/{room}")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(group_changes(&lecturer, &app, room).await, 2);
}

both_backends!(a_directory_group_co_owns_a_course_room);

/// A frozen directory (SIGSTOP): the refresh gives up after its timeout, reads nothing,
/// and the members keep what the group gave them.
async fn directory_outage_changes_nothing(
    app: &TestApp,
    slapd: &Slapd,
    member: &reqwest::Client,
    room: i64,
) {
    slapd.pause().unwrap();
    let tried = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        roomkeeper_usecases::groups::refresh_directory_groups(&app.state.usecases),
    )
    .await
    .expect("the refresh gives up by itself")
    .unwrap();
    assert_eq!(tried, 0);
    slapd.resume().unwrap();
    assert_eq!(
        status_of(member, app, &format!("/api/v1/rooms/{room}")).await,
        StatusCode::OK
    );
}

/// A provider's group (`uni:staff`): its members are known from their sign-in, and each
/// sign-in says again which of the provider's groups they are in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_group_co_owns_a_room_as_its_claim_says() {
    let mut steps = Steps::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = OidcServer::start(&base, "uni").await.unwrap();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.http.public_url = Some(base);
    config.oidc = vec![provider.config("uni", "University account")];
    let app = TestApp::spawn_on(listener, database, config, Default::default())
        .await
        .unwrap();
    let (room, lecturer) = lecturers_room(&app).await;

    steps.begin("The lecturer names the provider's staff group: nobody known yet");
    let named = name_groups(&lecturer, &app, room, &["uni:staff"]).await;
    assert_eq!(named["co_owner_groups"][0]["name"], "uni:staff");
    assert_eq!(named["co_owner_groups"][0]["source"], "provider");
    assert_eq!(named["co_owner_groups"][0]["size"], 0);

    steps.begin("Ada signs in through the provider, in staff: she has the room");
    let ada = app.client();
    let back = crate::oidc::sso_log_in(&app, &ada, "uni", "ada").await;
    assert!(back.status().is_redirection(), "{}", back.status());
    assert_eq!(
        status_of(&ada, &app, &format!("/api/v1/rooms/{room}")).await,
        StatusCode::OK
    );
    let known = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}")))).await;
    assert_eq!(members(&known["co_owner_groups"][0]), ["ada"]);

    steps.begin("The provider takes her out of staff: her next sign-in ends the right");
    provider
        .set_claim("u-1001", "groups", r#"["alumni"]"#)
        .await
        .unwrap();
    let later = app.client();
    let back = crate::oidc::sso_log_in(&app, &later, "uni", "ada").await;
    assert!(back.status().is_redirection(), "{}", back.status());
    for client in [&later, &ada] {
        assert_eq!(
            status_of(client, &app, &format!("/api/v1/rooms/{room}")).await,
            StatusCode::NOT_FOUND,
            "every session of hers"
        );
    }
}

/// A directory that records membership on the members (`memberOf`: Active Directory,
/// OpenLDAP's memberof overlay): a group's members are found by their `memberOf`, those of
/// groups inside it through the groups' own, and a sign-in reads the person's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_directory_is_read_through_member_of() {
    let mut steps = Steps::new();
    let slapd = Slapd::start_with_member_of().await.unwrap();
    let app = app_with(Backend::Sqlite, |c| {
        c.ldap = slapd.group_config();
        c.ldap.group_membership = roomkeeper_auth::GroupMembership::MemberOf;
    })
    .await;
    let (room, lecturer) = lecturers_room(&app).await;

    steps.begin("The teachers' group is read through memberOf, nested tutors included");
    let named = name_groups(&lecturer, &app, room, &[LOGIC_TEACHERS]).await;
    assert_eq!(
        members(&named["co_owner_groups"][0]),
        ["ada", "carol", "dan"],
        "{named}"
    );

    steps.begin("A sign-in reads the person's memberOf: moved at the directory, moved here");
    slapd
        .add_member(
            roomkeeper_testkit::ldap::ADMINS,
            &format!("uid=dan,{PEOPLE}"),
        )
        .await
        .unwrap();
    slapd
        .remove_member(LOGIC_TUTORS, &format!("uid=dan,{PEOPLE}"))
        .await
        .unwrap();
    assert_eq!(
        slapd
            .values(&format!("uid=dan,{PEOPLE}"), "memberOf")
            .await
            .unwrap(),
        [roomkeeper_testkit::ldap::ADMINS],
        "the overlay keeps memberOf"
    );
    let dan = app.client();
    app.log_in(&dan, "dan", &format!("dan{PASSWORD_SUFFIX}"))
        .await
        .unwrap();
    // (As an administrator he still sees the room: its members are the question.)
    let room_now = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}")))).await;
    assert_eq!(
        members(&room_now["co_owner_groups"][0]),
        ["ada", "carol"],
        "no longer a tutor, as his sign-in said"
    );
    assert_eq!(
        json(dan.get(app.url("/api/v1/me"))).await["is_admin"],
        true,
        "the admin group, read the same way"
    );
}

/// `groupOfUniqueNames` directories list members in `uniqueMember`: read there, when
/// the group is named and at sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_member_directory_is_read_through_unique_member() {
    let slapd = Slapd::start().await.unwrap();
    let app = app_with(Backend::Sqlite, |c| {
        c.ldap = slapd.group_config();
        c.ldap.group_membership = roomkeeper_auth::GroupMembership::UniqueMember;
    })
    .await;
    let (room, lecturer) = lecturers_room(&app).await;
    let named = name_groups(&lecturer, &app, room, &["logic-examiners"]).await;
    assert_eq!(
        named["co_owner_groups"][0]["name"],
        roomkeeper_testkit::ldap::LOGIC_EXAMINERS
    );
    assert_eq!(members(&named["co_owner_groups"][0]), ["ada"], "{named}");
    let ada = app.client();
    app.log_in(&ada, "ada", &format!("ada{PASSWORD_SUFFIX}"))
        .await
        .unwrap();
    assert_eq!(
        status_of(&ada, &app, &format!("/api/v1/rooms/{room}")).await,
        StatusCode::OK,
        "her sign-in keeps her in"
    );
}
