//! Every API endpoint, asked by every kind of person: anonymous, a plain user, the
//! requester of a pending request, the owner of a room, its co-owner, a member of a group
//! that co-owns it (exactly a co-owner's rights), a co-owner who was removed, another
//! user with rooms and requests of their own, and an admin. Any answer
//! but the expected one fails, and so does a route that has no row here.

use std::collections::BTreeMap;

use reqwest::Method;
use roomkeeper_store::{Audit, NewRequest, Verdict};
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, both_backends, jibri};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Anonymous,
    Plain,
    Requester,
    Owner,
    CoOwner,
    GroupMember,
    RemovedCoOwner,
    Other,
    Admin,
}

use Role::*;
const ROLES: [Role; 9] = [
    Anonymous,
    Plain,
    Requester,
    Owner,
    CoOwner,
    GroupMember,
    RemovedCoOwner,
    Other,
    Admin,
];

impl Role {
    fn username(self) -> Option<&'static str> {
        match self {
            Anonymous => None,
            Plain => Some("plain"),
            Requester => Some("requester"),
            Owner => Some("owner"),
            CoOwner => Some("co"),
            GroupMember => Some("member"),
            RemovedCoOwner => Some("removed"),
            Other => Some("other"),
            Admin => Some("root"),
        }
    }
}

/// The world every case runs in, and the ids it refers to.
struct Fixture {
    app: TestApp,
    cookies: BTreeMap<Role, String>,
    ids: BTreeMap<&'static str, String>,
    /// Holds the simulated Jibri's directory.
    _jibri: tempfile::TempDir,
}

async fn fixture(backend: Backend) -> Fixture {
    let database = std::sync::Arc::new(TestDatabase::new(backend).await.unwrap());
    let mut config = database.config();
    config.rooms.meeting_urls = vec!["https://meet.example.org".into()];
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let start = jibri::an_hour_before(app.clock().now());
    for role in ROLES {
        if let Some(name) = role.username() {
            app.passwordless_user(name, role == Admin).await.unwrap();
        }
    }
    let store = app.store();
    let audit = |actor: &'static str| Audit {
        actor: Some(actor),
        address: None,
        now: 1,
    };
    let ask = |room: &str, who: &str| NewRequest {
        room_name: room.into(),
        requester: who.into(),
        reason: "teaching".into(),
        co_owners: Vec::new(),
    };
    let logic = store
        .create_request(
            &NewRequest {
                co_owners: vec!["co".into(), "removed".into()],
                ..ask("logic", "owner")
            },
            None,
            &audit("owner"),
            &[],
        )
        .await
        .unwrap();
    let logic = store
        .decide_request(
            logic.id,
            &Verdict::Approve { pattern: None },
            Some("ok"),
            &audit("root"),
            &[],
        )
        .await
        .unwrap();
    let room = logic.room_id.unwrap();
    // The room's course group, and "member" in it as its provider said at her sign-in.
    let course = roomkeeper_domain::GroupName::parse("uni:logic-course").unwrap();
    store
        .set_co_owners(
            room,
            &["co".into()],
            Some(std::slice::from_ref(&course)),
            &audit("owner"),
        )
        .await
        .unwrap();
    store
        .set_memberships(
            &roomkeeper_domain::GroupMember {
                username: roomkeeper_domain::Username::parse("member").unwrap(),
                display_name: None,
            },
            roomkeeper_store::MembershipsAsked::Provider("uni"),
            std::slice::from_ref(&course),
            1,
        )
        .await
        .unwrap();
    let pending = store
        .create_request(&ask("physics", "requester"), None, &audit("requester"), &[])
        .await
        .unwrap();
    store
        .create_request(
            &ask("other-room", "other"),
            Some("other-*"),
            &audit("other"),
            &[],
        )
        .await
        .unwrap();
    store
        .create_request(&ask("other-pending", "other"), None, &audit("other"), &[])
        .await
        .unwrap();
    let pattern = store
        .add_pattern("requester", "req-*", &audit("root"))
        .await
        .unwrap();
    let group_pattern = store
        .add_group_pattern(&course, "course-*", &audit("root"))
        .await
        .unwrap();
    let notice = store.notices_of("owner").await.unwrap()[0].id;
    let owner = store
        .user_by_name(&roomkeeper_domain::Username::parse("owner").unwrap())
        .await
        .unwrap()
        .unwrap();
    let token = store
        .create_token(owner.id, "script", "hash-of-owner-token", 1, None)
        .await
        .unwrap();
    let mut cookies = BTreeMap::new();
    for role in ROLES {
        if let Some(name) = role.username() {
            cookies.insert(role, app.session_cookie(name).await.unwrap());
        }
    }
    // A recording of logic with a share link, and one of a room nobody registered.
    let jibri = tempfile::tempdir().unwrap();
    let mut recording_ids = Vec::new();
    for (session, room_url) in [("of-logic", "logic"), ("of-nobody", "nobody")] {
        let session = jibri::record(
            jibri.path(),
            session,
            room_url,
            &format!("https://meet.example.org/{room_url}"),
            start,
            &[1],
        )
        .unwrap();
        let stored = app
            .state
            .usecases
            .recordings
            .ingest_dir(&session.dir, true)
            .await
            .unwrap();
        recording_ids.push(stored[0].id.clone());
    }
    let link = store
        .create_share_link(
            &recording_ids[0],
            "hash-of-a-link",
            10_000_000_000,
            &audit("owner"),
        )
        .await
        .unwrap();
    let ids = BTreeMap::from([
        ("room", room.to_string()),
        ("request", pending.id.to_string()),
        ("pattern", pattern.id.to_string()),
        ("group_pattern", group_pattern.id.to_string()),
        ("notice", notice.to_string()),
        ("token", token.id.to_string()),
        ("recording", recording_ids[0].clone()),
        ("unassigned", recording_ids[1].clone()),
        ("link", link.id.to_string()),
    ]);
    Fixture {
        app,
        cookies,
        ids,
        _jibri: jibri,
    }
}

struct Case {
    method: Method,
    route: &'static str,
    /// The path with `{room}`, `{request}`, ... for fixture ids and `{role}` for a
    /// string unique to the caller.
    path: &'static str,
    body: Option<Value>,
    expected: fn(Role) -> u16,
    /// Succeeding changes the world for the next caller: each success gets a fresh
    /// fixture (after all refusals have been tried on one).
    destructive: bool,
}

fn case(
    method: Method,
    route: &'static str,
    path: &'static str,
    body: Option<Value>,
    expected: fn(Role) -> u16,
) -> Case {
    Case {
        method,
        route,
        path,
        body,
        expected,
        destructive: false,
    }
}

fn destructive(mut c: Case) -> Case {
    c.destructive = true;
    c
}

fn logged_in(ok: u16) -> impl Fn(Role) -> u16 {
    move |role| if role == Anonymous { 401 } else { ok }
}

/// Owner, co-owners and admins may control the meeting; others may not know the room.
fn meeting_control(role: Role) -> u16 {
    match role {
        Anonymous => 401,
        Owner | CoOwner | GroupMember | Admin => 503,
        _ => 404,
    }
}

/// Owner and co-owners; admins do not watch recordings unless the installation allows
/// it (off here; `recordings.rs` covers it on); nobody else learns they exist.
fn recording_watchers(ok: u16) -> impl Fn(Role) -> u16 {
    move |role| match role {
        Anonymous => 401,
        Owner | CoOwner | GroupMember => ok,
        _ => 404,
    }
}

fn cases() -> Vec<Case> {
    use Method as M;
    vec![
        case(M::GET, "/openapi.json", "/openapi.json", None, |_| 200),
        case(
            M::POST,
            "/session",
            "/session",
            Some(json!({"username": "nobody", "password": "wrong password"})),
            |_| 401,
        ),
        destructive(case(M::DELETE, "/session", "/session", None, |_| 204)),
        case(M::GET, "/me", "/me", None, |r| logged_in(200)(r)),
        case(
            M::PUT,
            "/me/password",
            "/me/password",
            Some(json!({"current_password": "wrong", "new_password": "long enough password"})),
            |r| logged_in(422)(r),
        ),
        case(
            M::PUT,
            "/me/email",
            "/me/email",
            Some(json!({"email": "{role}@example.org"})),
            |r| logged_in(200)(r),
        ),
        case(M::GET, "/tokens", "/tokens", None, |r| logged_in(200)(r)),
        case(
            M::POST,
            "/tokens",
            "/tokens",
            Some(json!({"name": "t"})),
            |r| logged_in(201)(r),
        ),
        destructive(case(
            M::DELETE,
            "/tokens/{id}",
            "/tokens/{token}",
            None,
            |r| match r {
                Anonymous => 401,
                Owner => 204,
                _ => 404,
            },
        )),
        case(
            M::POST,
            "/room-requests",
            "/room-requests",
            Some(json!({"room": "new-{role}", "reason": "teaching"})),
            |r| logged_in(201)(r),
        ),
        case(M::GET, "/room-requests", "/room-requests", None, |r| {
            logged_in(200)(r)
        }),
        destructive(case(
            M::POST,
            "/room-requests/decisions",
            "/room-requests/decisions",
            Some(json!({"ids": ["{request}"], "decision": "reject", "message": "no"})),
            |r| match r {
                Anonymous => 401,
                Admin => 200,
                _ => 403,
            },
        )),
        case(
            M::GET,
            "/room-requests/{id}",
            "/room-requests/{request}",
            None,
            |r| match r {
                Anonymous => 401,
                Requester | Admin => 200,
                _ => 404,
            },
        ),
        destructive(case(
            M::POST,
            "/room-requests/{id}/approve",
            "/room-requests/{request}/approve",
            None,
            |r| match r {
                Anonymous => 401,
                Admin => 200,
                _ => 403,
            },
        )),
        destructive(case(
            M::POST,
            "/room-requests/{id}/reject",
            "/room-requests/{request}/reject",
            Some(json!({"message": "no"})),
            |r| match r {
                Anonymous => 401,
                Admin => 200,
                _ => 403,
            },
        )),
        destructive(case(
            M::POST,
            "/room-requests/{id}/withdraw",
            "/room-requests/{request}/withdraw",
            None,
            |r| match r {
                Anonymous => 401,
                Requester => 200,
                Admin => 403,
                _ => 404,
            },
        )),
        case(M::GET, "/rooms", "/rooms", None, |r| logged_in(200)(r)),
        case(M::GET, "/rooms/{id}", "/rooms/{room}", None, |r| match r {
            Anonymous => 401,
            Owner | CoOwner | GroupMember | Admin => 200,
            _ => 404,
        }),
        destructive(case(
            M::DELETE,
            "/rooms/{id}",
            "/rooms/{room}",
            None,
            |r| match r {
                Anonymous => 401,
                Owner | Admin => 204,
                CoOwner | GroupMember => 403,
                _ => 404,
            },
        )),
        case(
            M::PUT,
            "/rooms/{id}/co-owners",
            "/rooms/{room}/co-owners",
            Some(json!({"usernames": ["co"]})),
            |r| match r {
                Anonymous => 401,
                Owner | Admin => 200,
                CoOwner | GroupMember => 403,
                _ => 404,
            },
        ),
        case(
            M::POST,
            "/rooms/{id}/transfer",
            "/rooms/{room}/transfer",
            Some(json!({"username": "owner"})),
            |r| match r {
                Anonymous => 401,
                Owner | Admin => 200,
                CoOwner | GroupMember => 403,
                _ => 404,
            },
        ),
        // No Jitsi is configured here: whoever may control the meeting hears 503.
        case(
            M::GET,
            "/rooms/{id}/meeting",
            "/rooms/{room}/meeting",
            None,
            meeting_control,
        ),
        case(
            M::DELETE,
            "/rooms/{id}/meeting",
            "/rooms/{room}/meeting",
            None,
            meeting_control,
        ),
        case(
            M::GET,
            "/rooms/{id}/events",
            "/rooms/{room}/events",
            None,
            // The event stream opens (200) and says in its events that Jitsi is away.
            |r| match meeting_control(r) {
                503 => 200,
                other => other,
            },
        ),
        case(
            M::DELETE,
            "/rooms/{id}/meeting/password",
            "/rooms/{room}/meeting/password",
            None,
            meeting_control,
        ),
        case(
            M::POST,
            "/rooms/{id}/meeting/password",
            "/rooms/{room}/meeting/password",
            Some(json!({"password": "secret"})),
            meeting_control,
        ),
        // The guard's settings live in the database: no Jitsi needed to read or change them.
        case(
            M::GET,
            "/rooms/{id}/guard",
            "/rooms/{room}/guard",
            None,
            |r| match meeting_control(r) {
                503 => 200,
                other => other,
            },
        ),
        case(
            M::PUT,
            "/rooms/{id}/guard",
            "/rooms/{room}/guard",
            Some(
                json!({"password_guard": true, "moderator_guard": "strict", "in_use_alert_minutes": null}),
            ),
            |r| match meeting_control(r) {
                503 => 200,
                other => other,
            },
        ),
        // Join codes need the companion module, which a Roomkeeper without Jitsi lacks.
        case(
            M::POST,
            "/rooms/{id}/join-codes",
            "/rooms/{room}/join-codes",
            None,
            |r| match meeting_control(r) {
                503 => 409,
                other => other,
            },
        ),
        case(
            M::PUT,
            "/rooms/{id}/meeting/participants/{pid}/moderator",
            "/rooms/{room}/meeting/participants/abcd1234/moderator",
            None,
            meeting_control,
        ),
        case(
            M::DELETE,
            "/rooms/{id}/meeting/participants/{pid}/moderator",
            "/rooms/{room}/meeting/participants/abcd1234/moderator",
            None,
            meeting_control,
        ),
        case(
            M::POST,
            "/rooms/{id}/meeting/participants/{pid}/kick",
            "/rooms/{room}/meeting/participants/abcd1234/kick",
            None,
            meeting_control,
        ),
        case(
            M::GET,
            "/rooms/{id}/meeting/lobby",
            "/rooms/{room}/meeting/lobby",
            None,
            meeting_control,
        ),
        case(
            M::POST,
            "/rooms/{id}/meeting/lobby/admit-all",
            "/rooms/{room}/meeting/lobby/admit-all",
            None,
            meeting_control,
        ),
        case(
            M::POST,
            "/rooms/{id}/meeting/lobby/{kid}/admit",
            "/rooms/{room}/meeting/lobby/abcd1234/admit",
            None,
            meeting_control,
        ),
        case(
            M::POST,
            "/rooms/{id}/meeting/lobby/{kid}/deny",
            "/rooms/{room}/meeting/lobby/abcd1234/deny",
            None,
            meeting_control,
        ),
        case(
            M::GET,
            "/users/{username}/patterns",
            "/users/requester/patterns",
            None,
            |r| match r {
                Anonymous => 401,
                Admin => 200,
                _ => 403,
            },
        ),
        case(
            M::POST,
            "/users/{username}/patterns",
            "/users/requester/patterns",
            Some(json!({"pattern": "x-{role}-*"})),
            |r| match r {
                Anonymous => 401,
                Admin => 201,
                _ => 403,
            },
        ),
        destructive(case(
            M::DELETE,
            "/users/{username}/patterns/{id}",
            "/users/requester/patterns/{pattern}",
            None,
            |r| match r {
                Anonymous => 401,
                Admin => 204,
                _ => 403,
            },
        )),
        case(
            M::GET,
            "/group-patterns",
            "/group-patterns",
            None,
            |r| match r {
                Anonymous => 401,
                Admin => 200,
                _ => 403,
            },
        ),
        case(
            M::POST,
            "/group-patterns",
            "/group-patterns",
            Some(json!({"group": "uni:logic-course", "pattern": "g-{role}-*"})),
            // No provider "uni" is configured here: the admin passes, and the group is
            // refused (course_rooms.rs gives one for real).
            |r| match r {
                Anonymous => 401,
                Admin => 422,
                _ => 403,
            },
        ),
        destructive(case(
            M::DELETE,
            "/group-patterns/{id}",
            "/group-patterns/{group_pattern}",
            None,
            |r| match r {
                Anonymous => 401,
                Admin => 204,
                _ => 403,
            },
        )),
        case(
            M::GET,
            "/audit",
            "/audit?room_id={room}",
            None,
            |r| match r {
                Anonymous => 401,
                Owner | CoOwner | GroupMember | Admin => 200,
                _ => 404,
            },
        ),
        case(M::GET, "/audit", "/audit", None, |r| match r {
            Anonymous => 401,
            Admin => 200,
            _ => 403,
        }),
        case(
            M::GET,
            "/rooms/{id}/recordings",
            "/rooms/{room}/recordings",
            None,
            |r| recording_watchers(200)(r),
        ),
        case(
            M::PUT,
            "/rooms/{id}/retention",
            "/rooms/{room}/retention",
            Some(json!({"days": 30})),
            |r| match r {
                Anonymous => 401,
                Admin => 204,
                Owner | CoOwner | GroupMember => 403,
                _ => 404,
            },
        ),
        // HTTP ingest is off without recordings.ingest_token_file: refused for all.
        case(
            M::POST,
            "/recordings/ingest",
            "/recordings/ingest",
            None,
            |_| 403,
        ),
        // The uploader's report of what waits in a Jibri's spool: the ingest token only.
        case(
            M::POST,
            "/recordings/spool",
            "/recordings/spool",
            Some(json!({"host": "jibri1", "waiting": []})),
            |_| 403,
        ),
        case(
            M::GET,
            "/recordings/unassigned",
            "/recordings/unassigned",
            None,
            |r| match r {
                Anonymous => 401,
                Admin => 200,
                _ => 403,
            },
        ),
        case(
            M::GET,
            "/recordings/{rid}",
            "/recordings/{recording}",
            None,
            |r| recording_watchers(200)(r),
        ),
        case(
            M::GET,
            "/recordings/{rid}",
            "/recordings/{unassigned}",
            None,
            |r| match r {
                Anonymous => 401,
                Admin => 200,
                _ => 404,
            },
        ),
        destructive(case(
            M::DELETE,
            "/recordings/{rid}",
            "/recordings/{recording}",
            None,
            |r| recording_watchers(204)(r),
        )),
        case(
            M::GET,
            "/recordings/{rid}/content",
            "/recordings/{recording}/content",
            None,
            |r| recording_watchers(200)(r),
        ),
        // Unassigned: admins handle it, but do not watch it unless allowed.
        case(
            M::GET,
            "/recordings/{rid}/content",
            "/recordings/{unassigned}/content",
            None,
            |r| match r {
                Anonymous => 401,
                _ => 404,
            },
        ),
        destructive(case(
            M::POST,
            "/recordings/{rid}/assign",
            "/recordings/{unassigned}/assign",
            Some(json!({"room": "logic"})),
            |r| match r {
                Anonymous => 401,
                Admin => 200,
                _ => 404,
            },
        )),
        case(
            M::GET,
            "/recordings/{rid}/links",
            "/recordings/{recording}/links",
            None,
            |r| recording_watchers(200)(r),
        ),
        case(
            M::POST,
            "/recordings/{rid}/links",
            "/recordings/{recording}/links",
            Some(json!({"expires_in_s": 3600})),
            |r| recording_watchers(201)(r),
        ),
        destructive(case(
            M::DELETE,
            "/recordings/{rid}/links/{lid}",
            "/recordings/{recording}/links/{link}",
            None,
            |r| recording_watchers(204)(r),
        )),
        case(M::GET, "/notices", "/notices", None, |r| logged_in(200)(r)),
        destructive(case(
            M::DELETE,
            "/notices/{id}",
            "/notices/{notice}",
            None,
            |r| match r {
                Anonymous => 401,
                Owner => 204,
                _ => 404,
            },
        )),
    ]
}

async fn call(fixture: &Fixture, case: &Case, role: Role) -> u16 {
    let mut path = case
        .path
        .replace("{role}", &format!("{role:?}").to_lowercase());
    for (name, id) in &fixture.ids {
        path = path.replace(&format!("{{{name}}}"), id);
    }
    let body = case.body.as_ref().map(|b| {
        let mut text = b
            .to_string()
            .replace("{role}", &format!("{role:?}").to_lowercase());
        for (name, id) in &fixture.ids {
            // Ids in bodies are numbers, not strings.
            text = text.replace(&format!("\"{{{name}}}\""), id);
        }
        text
    });
    let mut request = reqwest::Client::new().request(
        case.method.clone(),
        fixture.app.url(&format!("/api/v1{path}")),
    );
    if let Some(cookie) = fixture.cookies.get(&role) {
        request = request.header("cookie", cookie);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn every_endpoint_answers_every_role_as_expected(backend: Backend) {
    let cases = cases();
    let served = roomkeeper_web::api::router();
    for (method, route) in served.routes() {
        assert!(
            cases
                .iter()
                .any(|c| c.route == *route && c.method.as_str().eq_ignore_ascii_case(method)),
            "{} {route} has no row in the authorization table",
            method.to_uppercase()
        );
    }
    let shared = fixture(backend).await;
    let mut failures = Vec::new();
    for case in &cases {
        let refused: Vec<Role> = ROLES
            .iter()
            .copied()
            .filter(|r| !(200..300).contains(&(case.expected)(*r)))
            .collect();
        let allowed: Vec<Role> = ROLES
            .iter()
            .copied()
            .filter(|r| (200..300).contains(&(case.expected)(*r)))
            .collect();
        // Refusals first: they must change nothing, so one world serves them all.
        let mut plan: Vec<(Role, bool)> = refused.iter().map(|r| (*r, false)).collect();
        plan.extend(allowed.iter().map(|r| (*r, case.destructive)));
        for (role, fresh) in plan {
            let own;
            let world = if fresh {
                own = fixture(backend).await;
                &own
            } else {
                &shared
            };
            let got = call(world, case, role).await;
            let want = (case.expected)(role);
            if got != want {
                failures.push(format!(
                    "{} {} as {role:?}: {got}, expected {want}",
                    case.method, case.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

both_backends!(every_endpoint_answers_every_role_as_expected);
