//! One suite, both backends: every case runs against SQLite and a real PostgreSQL.

// A failed step should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

use roomkeeper_domain::{
    AuditAction, GuardSettings, LobbyMode, ModeratorGuard, NoticeKind, Username,
};
use roomkeeper_store::{
    Audit, Error, HandOver, ModeratorTrust, NewEmail, NewRecording, NewRequest, NewUser,
    OwnerAlert, Page, RecordingState, RequestFilter, RequestStatus, RoomFilter, Store, Verdict,
};
use roomkeeper_testkit_db::Steps;
use roomkeeper_testkit_db::{Backend, TestDatabase, both_backends};

mod groups;

fn new_user(name: &str, is_admin: bool) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        display_name: None,
        password_hash: Some("hash".into()),
        is_admin,
        must_change_password: false,
    }
}

async fn store(backend: Backend) -> (TestDatabase, std::sync::Arc<dyn Store>) {
    let db = TestDatabase::new(backend).await.unwrap();
    let store = db.store().await.unwrap();
    (db, store)
}

async fn users_are_unique_and_found_by_name_and_id(backend: Backend) {
    let (_db, store) = store(backend).await;
    let expected = match backend {
        Backend::Sqlite => roomkeeper_store::Backend::Sqlite,
        Backend::Postgres => roomkeeper_store::Backend::Postgres,
    };
    assert_eq!(store.backend(), expected);
    let alice = store
        .create_user(&new_user("alice", false), 100)
        .await
        .unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.created_at, 100);
    assert!(!alice.is_admin && !alice.disabled && !alice.must_change_password);
    let again = store.create_user(&new_user(" Alice ", true), 101).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let by_name = store
        .user_by_name(&Username::parse("ALICE").unwrap())
        .await
        .unwrap();
    assert_eq!(by_name.as_ref(), Some(&alice));
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_id(alice.id + 1000).await.unwrap(), None);
    store
        .create_user(&new_user("bob", true), 102)
        .await
        .unwrap();
    let names: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let page = store.users_page(None, Page::new(2, 1)).await.unwrap();
    assert_eq!((page.total, page.items[0].username.as_str()), (2, "bob"));
    let found = store
        .users_page(Some("LIC"), Page::new(1, 10))
        .await
        .unwrap();
    assert_eq!(
        (found.total, found.items[0].username.as_str()),
        (1, "alice")
    );
    assert_eq!(
        store
            .users_page(Some("%"), Page::new(1, 10))
            .await
            .unwrap()
            .total,
        0,
        "% is literal"
    );
}

async fn account_changes_persist(backend: Backend) {
    let (_db, store) = store(backend).await;
    let alice = store
        .create_user(&new_user("alice", false), 1)
        .await
        .unwrap();
    assert_eq!(store.count_active_admins().await.unwrap(), 0);
    store.set_admin(alice.id, true).await.unwrap();
    assert_eq!(store.count_active_admins().await.unwrap(), 1);
    // A new password ends every session in the same step; tokens go only when asked.
    store
        .create_session("session-1", alice.id, 2)
        .await
        .unwrap();
    store
        .create_token(alice.id, "script", "token-hash", 2, None)
        .await
        .unwrap();
    let revoked = store
        .set_password_hash(alice.id, "newer-hash", false, false)
        .await
        .unwrap();
    assert_eq!(revoked, 0);
    assert!(store.session("session-1").await.unwrap().is_none());
    assert_eq!(store.tokens_of(alice.id).await.unwrap().len(), 1);
    let revoked = store
        .set_password_hash(alice.id, "new-hash", true, true)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert!(store.tokens_of(alice.id).await.unwrap().is_empty());
    store.set_language(alice.id, Some("de")).await.unwrap();
    let alice = store.user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(alice.password_hash.as_deref(), Some("new-hash"));
    assert!(alice.must_change_password && alice.is_admin);
    assert_eq!(alice.language.as_deref(), Some("de"));
    store.set_disabled(alice.id, true).await.unwrap();
    assert_eq!(
        store.count_active_admins().await.unwrap(),
        0,
        "disabled admins do not count"
    );
    assert!(matches!(
        store.set_admin(9999, true).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.set_disabled(9999, true).await,
        Err(Error::NotFound)
    ));
}

async fn sessions_live_until_deleted_or_expired(backend: Backend) {
    let (_db, store) = store(backend).await;
    let alice = store
        .create_user(&new_user("alice", false), 1)
        .await
        .unwrap();
    store.create_session("s1", alice.id, 1000).await.unwrap();
    store.create_session("s2", alice.id, 2000).await.unwrap();
    let s1 = store.session("s1").await.unwrap().unwrap();
    assert_eq!(
        (s1.session_created_at, s1.session_last_seen_at),
        (1000, 1000)
    );
    assert_eq!(s1.user.username, "alice");
    store.touch_session("s1", 1500).await.unwrap();
    assert_eq!(
        store
            .session("s1")
            .await
            .unwrap()
            .unwrap()
            .session_last_seen_at,
        1500
    );
    assert!(matches!(
        store.create_session("s1", alice.id, 1).await,
        Err(Error::Conflict(_))
    ));
    // idle cut-off 1600 removes s1 (last seen 1500), keeps s2 (2000).
    assert_eq!(store.delete_expired_sessions(1600, 0).await.unwrap(), 1);
    assert!(store.session("s1").await.unwrap().is_none());
    assert_eq!(
        store.delete_expired_sessions(0, 2001).await.unwrap(),
        1,
        "absolute cut-off"
    );
    store.create_session("s3", alice.id, 3000).await.unwrap();
    store.delete_session("s3").await.unwrap();
    assert!(store.session("s3").await.unwrap().is_none());
}

async fn disabling_a_user_ends_all_their_sessions(backend: Backend) {
    let (_db, store) = store(backend).await;
    let alice = store
        .create_user(&new_user("alice", false), 1)
        .await
        .unwrap();
    let bob = store.create_user(&new_user("bob", false), 1).await.unwrap();
    for (hash, user) in [("a1", &alice), ("a2", &alice), ("b1", &bob)] {
        store.create_session(hash, user.id, 10).await.unwrap();
    }
    store.set_disabled(alice.id, true).await.unwrap();
    assert!(store.session("a1").await.unwrap().is_none());
    assert!(store.session("a2").await.unwrap().is_none());
    assert!(store.session("b1").await.unwrap().is_some());
    // A new password ends them too.
    store
        .set_password_hash(bob.id, "new-hash", false, false)
        .await
        .unwrap();
    assert!(store.session("b1").await.unwrap().is_none());
}

async fn api_tokens_belong_to_their_user(backend: Backend) {
    let (_db, store) = store(backend).await;
    let alice = store
        .create_user(&new_user("alice", false), 1)
        .await
        .unwrap();
    let bob = store.create_user(&new_user("bob", false), 1).await.unwrap();
    let token = store
        .create_token(alice.id, "portal", "h1", 50, Some(5000))
        .await
        .unwrap();
    assert_eq!(
        (
            token.name.as_str(),
            token.created_at,
            token.last_used_at,
            token.expires_at
        ),
        ("portal", 50, None, Some(5000))
    );
    assert!(matches!(
        store.create_token(bob.id, "x", "h1", 50, None).await,
        Err(Error::Conflict(_))
    ));
    let (found, owner) = store.token("h1").await.unwrap().unwrap();
    assert_eq!((found.id, owner.username.as_str()), (token.id, "alice"));
    store.touch_token(token.id, 60).await.unwrap();
    assert_eq!(
        store.tokens_of(alice.id).await.unwrap()[0].last_used_at,
        Some(60)
    );
    assert!(store.tokens_of(bob.id).await.unwrap().is_empty());
    assert!(
        !store.delete_token(bob.id, token.id).await.unwrap(),
        "not bob's token"
    );
    assert!(store.delete_token(alice.id, token.id).await.unwrap());
    assert!(store.token("h1").await.unwrap().is_none());
    for hash in ["h2", "h3"] {
        store
            .create_token(alice.id, "more", hash, 70, None)
            .await
            .unwrap();
    }
    store
        .create_token(bob.id, "bob's", "h4", 70, None)
        .await
        .unwrap();
    // A new password that revokes them.
    assert_eq!(
        store
            .set_password_hash(alice.id, "new-hash", false, true)
            .await
            .unwrap(),
        2
    );
    assert!(store.token("h4").await.unwrap().is_some());
    // Disabling revokes them too.
    store.set_disabled(bob.id, true).await.unwrap();
    assert!(store.token("h4").await.unwrap().is_none());
}

async fn login_attempts_are_counted_per_key_and_window(backend: Backend) {
    let (_db, store) = store(backend).await;
    let count = |keys: &'static [&'static str], now: i64| {
        let store = store.clone();
        async move {
            store
                .count_login_attempt(keys, 100, now)
                .await
                .unwrap()
                .iter()
                .map(|c| c.attempts)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(count(&["user:alice", "addr:10.0.0.1"], 1000).await, [1, 1]);
    assert_eq!(count(&["user:alice"], 1050).await, [2]);
    store.forgive_login_attempt("user:alice").await.unwrap();
    assert_eq!(count(&["user:alice"], 1060).await, [2]);
    // The window (100 s from the first attempt) ended: counting starts again.
    assert_eq!(count(&["user:alice", "addr:10.0.0.1"], 1100).await, [1, 1]);
    store.clear_login_attempts("user:alice").await.unwrap();
    assert_eq!(count(&["user:alice"], 1101).await, [1]);
    assert_eq!(
        store.prune_login_attempts(1101).await.unwrap(),
        1,
        "addr's window began at 1100"
    );

    // Many at once: each attempt gets its own number, none is lost.
    let parallel = futures::future::join_all((0..40).map(|_| {
        let store = store.clone();
        async move {
            store
                .count_login_attempt(&["user:bob"], 100, 2000)
                .await
                .unwrap()[0]
                .attempts
        }
    }))
    .await;
    let mut seen = parallel.clone();
    seen.sort();
    assert_eq!(seen, (1..=40).collect::<Vec<_>>(), "{parallel:?}");
}

async fn migrating_twice_changes_nothing(backend: Backend) {
    let (db, store) = store(backend).await;
    store
        .create_user(&new_user("alice", false), 1)
        .await
        .unwrap();
    let again = db.store().await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(again.list_users().await.unwrap().len(), 1);
    again.ping().await.unwrap();
}

fn audit(actor: &str, now: i64) -> Audit<'_> {
    Audit {
        actor: Some(actor),
        address: Some("192.0.2.1"),
        now,
    }
}

/// A room `owner` asked for at `asked` (with `request`'s co-owners) and root approved
/// at `approved`: its id.
async fn approved_room(
    store: &dyn Store,
    name: &str,
    owner: &str,
    asked: i64,
    approved: i64,
) -> i64 {
    let pending = store
        .create_request(&request(name, owner), None, &audit(owner, asked), &[])
        .await
        .unwrap();
    store
        .decide_request(
            pending.id,
            &Verdict::Approve { pattern: None },
            None,
            &audit("root", approved),
            &[],
        )
        .await
        .unwrap()
        .room_id
        .unwrap()
}

fn request(room: &str, requester: &str) -> NewRequest {
    NewRequest {
        room_name: room.into(),
        requester: requester.into(),
        reason: "my lecture".into(),
        co_owners: vec!["carol".into(), "dave".into()],
    }
}

async fn a_request_is_approved_into_a_room_once(backend: Backend) {
    let (_db, store) = store(backend).await;
    let pending = store
        .create_request(&request("logic", "alice"), None, &audit("alice", 10), &[])
        .await
        .unwrap();
    assert_eq!(
        (pending.status, pending.room_id),
        (RequestStatus::Pending, None)
    );
    assert_eq!(pending.co_owners, ["carol", "dave"]);
    // Pending for alice: nobody else may ask, alice neither.
    let again = store
        .create_request(&request("logic", "bob"), None, &audit("bob", 11), &[])
        .await;
    assert!(
        matches!(
            &again,
            Err(Error::Conflict(roomkeeper_store::Conflict::RoomTaken))
        ),
        "{again:?}"
    );
    assert_eq!(
        store
            .pending_request_for("logic")
            .await
            .unwrap()
            .unwrap()
            .id,
        pending.id
    );

    let approved = store
        .decide_request(
            pending.id,
            &Verdict::Approve {
                pattern: Some("alice-*".into()),
            },
            Some("welcome"),
            &audit("root", 20),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(approved.status, RequestStatus::Approved);
    assert_eq!(approved.decided_by.as_deref(), Some("root"));
    let room = store
        .room(approved.room_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (room.name.as_str(), room.owner.as_str()),
        ("logic", "alice")
    );
    assert_eq!(room.co_owners, ["carol", "dave"]);
    assert_eq!(
        store.patterns_of("alice").await.unwrap()[0].pattern,
        "alice-*"
    );
    let twice = store
        .decide_request(pending.id, &Verdict::Reject, None, &audit("root", 21), &[])
        .await;
    assert!(matches!(twice, Err(Error::Conflict(_))));
    // Registered now: a new request for it is refused the same way.
    let late = store
        .create_request(&request("logic", "bob"), None, &audit("bob", 22), &[])
        .await;
    assert!(matches!(late, Err(Error::Conflict(_))));
    let notices = store.notices_of("alice").await.unwrap();
    assert_eq!(
        (notices[0].kind.code(), notices[0].message.as_str()),
        ("approved", "welcome")
    );
    assert!(
        store
            .dismiss_notice("alice", notices[0].id, 30)
            .await
            .unwrap()
    );
    assert!(store.notices_of("alice").await.unwrap().is_empty());
}

async fn auto_approval_rejection_and_withdrawal(backend: Backend) {
    let (_db, store) = store(backend).await;
    let auto = store
        .create_request(
            &request("alice-seminar", "alice"),
            Some("alice-*"),
            &audit("alice", 1),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(auto.status, RequestStatus::Approved);
    assert_eq!(auto.auto_pattern.as_deref(), Some("alice-*"));
    assert!(store.room_by_name("alice-seminar").await.unwrap().is_some());
    // A pattern never takes a room someone else is waiting for.
    store
        .create_request(&request("alice-exam", "bob"), None, &audit("bob", 1), &[])
        .await
        .unwrap();
    let grab = store
        .create_request(
            &request("alice-exam", "alice"),
            Some("alice-*"),
            &audit("alice", 1),
            &[],
        )
        .await;
    assert!(matches!(grab, Err(Error::Conflict(_))), "{grab:?}");
    assert!(store.room_by_name("alice-exam").await.unwrap().is_none());

    let rejected = store
        .create_request(&request("physics", "bob"), None, &audit("bob", 2), &[])
        .await
        .unwrap();
    let rejected = store
        .decide_request(
            rejected.id,
            &Verdict::Reject,
            Some("not yours"),
            &audit("root", 3),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rejected.status, RequestStatus::Rejected);
    assert!(store.room_by_name("physics").await.unwrap().is_none());
    // Once rejected, the room can be asked for again.
    let withdrawn = store
        .create_request(&request("physics", "bob"), None, &audit("bob", 4), &[])
        .await
        .unwrap();
    let withdrawn = store
        .withdraw_request(withdrawn.id, &audit("bob", 5))
        .await
        .unwrap();
    assert_eq!(withdrawn.status, RequestStatus::Withdrawn);
    assert!(matches!(
        store.withdraw_request(withdrawn.id, &audit("bob", 6)).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.withdraw_request(99_999, &audit("bob", 6)).await,
        Err(Error::NotFound)
    ));

    let mine = store
        .list_requests(
            &RequestFilter {
                requester: Some("bob".into()),
                newest_first: true,
                ..Default::default()
            },
            Page::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!(mine.total, 3);
    assert_eq!(
        mine.items[0].status,
        RequestStatus::Withdrawn,
        "newest first"
    );
    let log = store
        .audit_log_since(Some("physics"), None, Page::new(1, 50))
        .await
        .unwrap();
    let actions: Vec<_> = log.items.iter().map(|e| e.action.code()).collect();
    assert_eq!(actions, ["withdraw", "request", "reject", "request"]);
    assert_eq!(log.items[0].address.as_deref(), Some("192.0.2.1"));
    let all = store
        .audit_log_since(None, None, Page::new(1, 50))
        .await
        .unwrap();
    assert!(all.items.iter().any(|e| e.action.code() == "auto_approve"));
}

async fn the_queue_is_paginated_oldest_first(backend: Backend) {
    let (_db, store) = store(backend).await;
    for i in 0..25 {
        store
            .create_request(
                &request(&format!("room-{i:02}"), "alice"),
                None,
                &audit("alice", 100 + i),
                &[],
            )
            .await
            .unwrap();
    }
    let filter = RequestFilter {
        status: Some(RequestStatus::Pending),
        ..Default::default()
    };
    let first = store
        .list_requests(&filter, Page::new(1, 10))
        .await
        .unwrap();
    assert_eq!((first.total, first.items.len(), first.pages()), (25, 10, 3));
    assert_eq!(first.items[0].room_name, "room-00");
    let last = store
        .list_requests(&filter, Page::new(3, 10))
        .await
        .unwrap();
    assert_eq!(last.items.len(), 5);
    assert_eq!(last.items[4].room_name, "room-24");
    // A page past the end is empty and still says how many there are.
    let beyond = store
        .list_requests(&filter, Page::new(9, 10))
        .await
        .unwrap();
    assert_eq!((beyond.total, beyond.items.len()), (25, 0));
    let newest = RequestFilter {
        requester: Some("alice".into()),
        newest_first: true,
        ..Default::default()
    };
    let mine = store.list_requests(&newest, Page::new(1, 5)).await.unwrap();
    assert_eq!(
        (mine.total, mine.items[0].room_name.as_str()),
        (25, "room-24")
    );
    assert_eq!(store.count_pending_requests().await.unwrap(), 25);
}

/// The home page's read, and the lists' totals: taken from a page with room to spare,
/// counted when the page is full or past the end.
async fn the_overview_pages_rooms_and_counts_only_when_the_page_is_full(backend: Backend) {
    let mut steps = Steps::new();
    let (_db, store) = store(backend).await;
    steps.begin("Seven rooms of alice's and one she co-owns, a request waiting and one decided");
    for i in 0..7 {
        store
            .create_request(
                &request(&format!("alice-{i}"), "alice"),
                Some("alice-*"),
                &audit("alice", 10 + i),
                &[],
            )
            .await
            .unwrap();
    }
    // Co-owned by alice, co-owners given out of order.
    let shared = NewRequest {
        co_owners: vec!["zed".into(), "alice".into()],
        ..request("bobs-room", "bob")
    };
    store
        .create_request(&shared, Some("bobs-*"), &audit("bob", 20), &[])
        .await
        .unwrap();
    store
        .create_request(
            &request("others", "bob"),
            Some("o*"),
            &audit("bob", 21),
            &[],
        )
        .await
        .unwrap();
    let waiting = store
        .create_request(&request("physics", "alice"), None, &audit("alice", 30), &[])
        .await
        .unwrap();
    let decided = store
        .create_request(
            &request("chemistry", "alice"),
            None,
            &audit("alice", 31),
            &[],
        )
        .await
        .unwrap();
    store
        .decide_request(
            decided.id,
            &Verdict::Reject,
            Some("no"),
            &audit("root", 40),
            &[],
        )
        .await
        .unwrap();

    steps.begin("The overview's first page, her latest requests and her notices");
    let overview = store.overview("alice", Page::new(1, 3), 2).await.unwrap();
    let names = |rooms: &roomkeeper_store::Paged<roomkeeper_store::Room>| {
        rooms
            .items
            .iter()
            .map(|r| r.name.canonical())
            .collect::<Vec<_>>()
    };
    assert_eq!(overview.rooms.total, 8);
    let entries: Vec<&str> = overview
        .rooms
        .items
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(entries, ["alice-0", "alice-1", "alice-2"]);
    let ids: Vec<i64> = overview.latest_requests.iter().map(|r| r.id).collect();
    assert_eq!(ids, [decided.id, waiting.id]);
    assert_eq!(overview.notices, store.notices_of("alice").await.unwrap());
    assert_eq!(overview.notices[0].kind.code(), "rejected");

    steps.begin("The rooms' pages count only when the page is full");
    let alice = RoomFilter {
        visible_to: Some("alice".into()),
        ..Default::default()
    };
    // (page, size) -> (rooms on it, total): the last page and a page the rows fill
    // exactly say the total themselves; a full page and one past the end count.
    for (number, size, on_page, total) in [
        (3, 3, 2, 8),
        (1, 8, 8, 8),
        (1, 7, 7, 8),
        (2, 4, 4, 8),
        (4, 3, 0, 8),
        (9, 1, 0, 8),
    ] {
        let page = Page::new(number, size);
        let listed = store.list_rooms(&alice, page).await.unwrap();
        assert_eq!(
            (listed.items.len(), listed.total),
            (on_page, total),
            "page {number} of {size}"
        );
        // The overview's rooms: the same page, named without co-owners.
        let entries = store.overview("alice", page, 2).await.unwrap().rooms;
        assert_eq!(
            entries.map(|e| (e.id, e.name, e.owner)),
            listed.map(|r| (r.id, r.name, r.owner))
        );
    }
    let last = store.list_rooms(&alice, Page::new(3, 3)).await.unwrap();
    assert_eq!(names(&last), ["alice-6", "bobs-room"]);
    assert_eq!(last.items[1].co_owners, ["alice", "zed"]);
    steps.begin("Naming the owner among the co-owners changes nothing");
    // The store drops her.
    let own = overview.rooms.items[0].id;
    store
        .set_co_owners(
            own,
            &["alice".into(), "carol".into()],
            None,
            &audit("alice", 50),
        )
        .await
        .unwrap();
    let again = store.list_rooms(&alice, Page::new(1, 20)).await.unwrap();
    assert_eq!((again.total, again.items.len()), (8, 8));
    let twice = store.list_rooms(&alice, Page::new(1, 3)).await.unwrap();
    assert_eq!((twice.total, names(&twice)[1].as_str()), (8, "alice-1"));
    assert_eq!(twice.items[0].co_owners, ["carol"]);
    steps.begin("A room without co-owners is listed too");
    store
        .set_co_owners(own, &[], None, &audit("alice", 51))
        .await
        .unwrap();
    let alone = store.list_rooms(&alice, Page::new(1, 2)).await.unwrap();
    assert_eq!(
        (alone.total, names(&alone)),
        (8, vec!["alice-0".to_owned(), "alice-1".to_owned()])
    );
    assert!(alone.items[0].co_owners.is_empty());
    assert_eq!(alone.items[1].co_owners, ["carol", "dave"]);
    steps.begin("A search narrows someone's own and co-owned rooms alike");
    let searching = RoomFilter {
        visible_to: Some("alice".into()),
        search_name: Some("o".into()),
        search_owner: Some("bob".into()),
    };
    let found = store.list_rooms(&searching, Page::new(1, 1)).await.unwrap();
    assert_eq!(
        (found.total, names(&found)),
        (1, vec!["bobs-room".to_owned()])
    );
    steps.begin("Someone with nothing yet");
    let nobody = store.overview("nobody", Page::new(1, 20), 5).await.unwrap();
    assert_eq!((nobody.rooms.total, nobody.rooms.items.len()), (0, 0));
    assert!(nobody.latest_requests.is_empty() && nobody.notices.is_empty());
    steps.begin("The requests' list follows the same rule");
    let mine = RequestFilter {
        requester: Some("alice".into()),
        newest_first: true,
        ..Default::default()
    };
    for (number, size, on_page) in [(1, 9, 9), (1, 10, 9), (2, 5, 4), (1, 3, 3), (5, 3, 0)] {
        let listed = store
            .list_requests(&mine, Page::new(number, size))
            .await
            .unwrap();
        assert_eq!(
            (listed.items.len(), listed.total),
            (on_page, 9),
            "requests page {number} of {size}"
        );
    }
}

async fn rooms_are_listed_searched_and_changed_with_an_audit_trail(backend: Backend) {
    let mut steps = Steps::new();
    let (_db, store) = store(backend).await;
    steps.begin("Three rooms, listed by who may see them and paged");
    for (room, owner) in [
        ("logic", "alice"),
        ("m%c3%bcller_seminar", "bob"),
        ("physik/optics", "bob"),
    ] {
        store
            .create_request(&request(room, owner), Some("x*"), &audit(owner, 1), &[])
            .await
            .unwrap();
    }
    let everything = store
        .list_rooms(&RoomFilter::default(), Page::new(1, 50))
        .await
        .unwrap();
    assert_eq!(everything.total, 3);
    // carol co-owns every room (see `request`): visible_to includes co-owned rooms.
    let carol = RoomFilter {
        visible_to: Some("carol".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_rooms(&carol, Page::new(1, 50))
            .await
            .unwrap()
            .total,
        3
    );
    let alice = RoomFilter {
        visible_to: Some("alice".into()),
        ..Default::default()
    };
    let alices = store.list_rooms(&alice, Page::new(1, 50)).await.unwrap();
    assert_eq!(alices.items.len(), 1);
    assert_eq!(alices.items[0].co_owners, ["carol", "dave"]);
    let beyond = store.list_rooms(&carol, Page::new(4, 1)).await.unwrap();
    assert_eq!((beyond.total, beyond.items.len()), (3, 0));
    let second = store.list_rooms(&carol, Page::new(2, 1)).await.unwrap();
    assert_eq!((second.total, second.items.len()), (3, 1));
    assert_eq!(second.items[0].co_owners, ["carol", "dave"]);
    steps.begin("`_` and `%` in a search are literal characters");
    let search = RoomFilter {
        search_name: Some("r_s".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_rooms(&search, Page::new(1, 50))
            .await
            .unwrap()
            .total,
        1
    );
    let search = RoomFilter {
        search_name: Some("%c3%bc".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_rooms(&search, Page::new(1, 50))
            .await
            .unwrap()
            .total,
        1
    );
    steps.begin("Listed by owner");
    let by_owner = RoomFilter {
        search_name: Some("zzz".into()),
        search_owner: Some("bo".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_rooms(&by_owner, Page::new(1, 50))
            .await
            .unwrap()
            .total,
        2
    );

    steps.begin("Co-owners changed, the room transferred and released, each in the history");
    let logic = store.room_by_name("logic").await.unwrap().unwrap();
    let changed = store
        .set_co_owners(
            logic.id,
            &["erin".into(), "alice".into(), "erin".into()],
            None,
            &audit("alice", 5),
        )
        .await
        .unwrap();
    assert_eq!(
        changed.co_owners,
        ["erin"],
        "the owner and duplicates are dropped"
    );
    let moved = store
        .transfer_room(logic.id, "erin", &audit("root", 6))
        .await
        .unwrap();
    assert_eq!((moved.owner.as_str(), moved.co_owners.len()), ("erin", 0));
    store
        .release_room(logic.id, &audit("root", 7))
        .await
        .unwrap();
    assert!(store.room(logic.id).await.unwrap().is_none());
    let log = store
        .audit_log_since(Some("logic"), None, Page::new(1, 50))
        .await
        .unwrap();
    let actions: Vec<_> = log.items.iter().map(|e| e.action.code()).collect();
    assert_eq!(
        actions,
        [
            "release",
            "transfer",
            "co_owners",
            "auto_approve",
            "request"
        ]
    );
    assert!(matches!(
        store.transfer_room(logic.id, "x", &audit("root", 8)).await,
        Err(Error::NotFound)
    ));
}

async fn patterns_are_per_user_and_audited(backend: Backend) {
    let (_db, store) = store(backend).await;
    let p = store
        .add_pattern("alice", "alice-*", &audit("root", 1))
        .await
        .unwrap();
    assert!(matches!(
        store
            .add_pattern("alice", "alice-*", &audit("root", 2))
            .await,
        Err(Error::Conflict(_))
    ));
    store
        .add_pattern("bob", "bob-*", &audit("root", 3))
        .await
        .unwrap();
    assert_eq!(store.all_patterns().await.unwrap().len(), 2);
    assert!(
        !store
            .delete_pattern("bob", p.id, &audit("root", 4))
            .await
            .unwrap(),
        "not bob's"
    );
    assert!(
        store
            .delete_pattern("alice", p.id, &audit("root", 5))
            .await
            .unwrap()
    );
    assert!(store.patterns_of("alice").await.unwrap().is_empty());
    let log = store
        .audit_log_since(None, None, Page::new(1, 50))
        .await
        .unwrap();
    let actions: Vec<_> = log
        .items
        .iter()
        .map(|e| (e.action.code(), e.subject.as_deref()))
        .collect();
    assert_eq!(
        actions,
        [
            ("pattern_remove", Some("alice")),
            ("pattern_add", Some("bob")),
            ("pattern_add", Some("alice"))
        ]
    );
}

/// Nothing in the app edits or deletes the audit log, and the database refuses it too.
async fn the_audit_log_is_append_only(backend: Backend) {
    let (db, store) = store(backend).await;
    store
        .add_pattern("alice", "alice-*", &audit("root", 1))
        .await
        .unwrap();
    for statement in [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
    ] {
        // Straight to the database, past the Store trait that has no such method.
        let refused = match backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
                sqlx::query(statement).execute(&pool).await.map(|_| ())
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                sqlx::query(statement).execute(&pool).await.map(|_| ())
            }
        };
        let message = refused.expect_err(statement).to_string();
        assert!(message.contains("append-only"), "{message}");
    }
    assert_eq!(
        store
            .audit_log_since(None, None, Page::new(1, 10))
            .await
            .unwrap()
            .items[0]
            .actor
            .as_deref(),
        Some("root")
    );
}

/// The pair (issuer, subject) finds the account; a rename carries everything the old
/// name was granted; a login's secrets can be taken once.
async fn single_sign_on_identities_renames_and_logins(backend: Backend) {
    let mut steps = Steps::new();
    let (_db, store) = store(backend).await;
    steps.begin("An identity is linked to one account");
    let ada = store.create_user(&new_user("ada", false), 1).await.unwrap();
    store.create_user(&new_user("bob", false), 1).await.unwrap();
    store
        .link_oidc("https://idp", "1001", ada.id, 2)
        .await
        .unwrap();
    assert!(matches!(
        store.link_oidc("https://idp", "1001", ada.id, 2).await,
        Err(Error::Conflict(_))
    ));
    let found = store.user_by_oidc("https://idp", "1001").await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(ada.id));
    steps.begin("A login links itself only to an account no identity is linked to yet");
    let carl = store
        .create_user(&new_user("carl", false), 1)
        .await
        .unwrap();
    assert!(
        !store
            .link_oidc_if_unlinked("https://idp", "2002", ada.id, 2)
            .await
            .unwrap()
    );
    assert!(
        store
            .user_by_oidc("https://idp", "2002")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .link_oidc_if_unlinked("https://idp", "2003", carl.id, 2)
            .await
            .unwrap()
    );
    steps.begin("The directory enters the accounts it made, and those an administrator linked");
    let dora = store
        .create_directory_user(&new_user("dora", false), 3)
        .await
        .unwrap();
    assert!(store.is_directory_account(dora.id).await.unwrap());
    assert!(matches!(
        store
            .create_directory_user(&new_user("dora", false), 3)
            .await,
        Err(Error::Conflict(_))
    ));
    assert!(!store.is_directory_account(carl.id).await.unwrap());
    assert!(store.link_directory(carl.id, 4).await.unwrap());
    assert!(!store.link_directory(carl.id, 5).await.unwrap(), "once");
    assert!(store.is_directory_account(carl.id).await.unwrap());
    steps.begin("Refused logins wait for an administrator, counted per (issuer, subject)");
    let collision = |subject: &str, at: i64| roomkeeper_store::OidcCollision {
        issuer: "https://idp".into(),
        subject: subject.into(),
        provider: "uni".into(),
        username: "ada".into(),
        first_seen: at,
        last_seen: at,
        attempts: 1,
    };
    store
        .note_oidc_collision(&collision("2002", 10))
        .await
        .unwrap();
    store
        .note_oidc_collision(&collision("2002", 12))
        .await
        .unwrap();
    store
        .note_oidc_collision(&collision("3003", 11))
        .await
        .unwrap();
    let waiting = store.oidc_collisions().await.unwrap();
    assert_eq!(
        waiting
            .iter()
            .map(|c| (c.subject.as_str(), c.first_seen, c.last_seen, c.attempts))
            .collect::<Vec<_>>(),
        [("2002", 10, 12, 2), ("3003", 11, 11, 1)]
    );
    steps.begin("An answer about another account than the entry asks for now resolves nothing");
    assert!(matches!(
        store
            .resolve_oidc_collision(
                "https://idp",
                "2002",
                "carl",
                Some(ada.id),
                &audit("root", 13)
            )
            .await,
        Err(Error::NotFound)
    ));
    let linked = store
        .resolve_oidc_collision(
            "https://idp",
            "2002",
            "ada",
            Some(ada.id),
            &audit("root", 13),
        )
        .await
        .unwrap();
    assert_eq!(linked.attempts, 2);
    assert_eq!(
        store
            .user_by_oidc("https://idp", "2002")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ada.id),
        "an administrator may link a second identity"
    );
    store
        .resolve_oidc_collision("https://idp", "3003", "ada", None, &audit("root", 13))
        .await
        .unwrap();
    assert!(store.oidc_collisions().await.unwrap().is_empty());
    steps.begin("Each answer is in the history, written with it");
    let answers: Vec<(String, Option<String>)> = store
        .audit_log_since(None, None, Page::new(1, 50))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| {
            e.action == AuditAction::SignInLinked || e.action == AuditAction::SignInDismissed
        })
        .map(|e| (e.action.code().to_owned(), e.subject.clone()))
        .collect();
    assert_eq!(
        answers,
        [
            ("sign_in_dismissed".to_owned(), Some("ada".to_owned())),
            ("sign_in_linked".to_owned(), Some("ada".to_owned()))
        ]
    );
    assert!(matches!(
        store
            .resolve_oidc_collision("https://idp", "3003", "ada", None, &audit("root", 14))
            .await,
        Err(Error::NotFound)
    ));
    assert!(
        store
            .user_by_oidc("https://other", "1001")
            .await
            .unwrap()
            .is_none()
    );

    steps.begin("A rename carries the account's rooms, co-ownerships and patterns");
    // ada owns logic and co-owns bob's seminar, where "ada.l" is already listed too.
    let mine = store
        .create_request(&request("logic", "ada"), None, &audit("ada", 3), &[])
        .await
        .unwrap();
    let approve = Verdict::Approve {
        pattern: Some("ada-*".into()),
    };
    let logic = store
        .decide_request(mine.id, &approve, None, &audit("root", 4), &[])
        .await
        .unwrap();
    let theirs = store
        .create_request(&request("seminar", "bob"), None, &audit("bob", 5), &[])
        .await
        .unwrap();
    let seminar = store
        .decide_request(
            theirs.id,
            &Verdict::Approve { pattern: None },
            None,
            &audit("root", 6),
            &[],
        )
        .await
        .unwrap();
    let seminar_id = seminar.room_id.unwrap();
    store
        .set_co_owners(
            seminar_id,
            &["ada".into(), "ada.l".into()],
            None,
            &audit("bob", 7),
        )
        .await
        .unwrap();

    let new_name = Username::parse("Ada.L").unwrap();
    assert!(matches!(
        store
            .rename_user(ada.id, &Username::parse("bob").unwrap())
            .await,
        Err(Error::Conflict(_))
    ));
    store.rename_user(ada.id, &new_name).await.unwrap();
    let renamed = store.user_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(renamed.username, "ada.l");
    let logic = store.room(logic.room_id.unwrap()).await.unwrap().unwrap();
    assert_eq!(logic.owner, "ada.l");
    let seminar = store.room(seminar_id).await.unwrap().unwrap();
    assert_eq!(seminar.co_owners, ["ada.l"]);
    let patterns: Vec<_> = store
        .patterns_of("ada.l")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.pattern)
        .collect();
    assert_eq!(patterns, ["ada-*"]);
    assert!(store.patterns_of("ada").await.unwrap().is_empty());
    store
        .set_display_name(ada.id, Some("Ada L."))
        .await
        .unwrap();
    let renamed = store.user_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(renamed.display_name.as_deref(), Some("Ada L."));

    steps.begin("A login started is taken once, and old ones are dropped");
    let login = roomkeeper_store::OidcLogin {
        state_hash: "h1".into(),
        provider: "uni".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        return_to: "/rooms".into(),
        created_at: 100,
    };
    store.create_oidc_login(&login, 0).await.unwrap();
    let stale = roomkeeper_store::OidcLogin {
        state_hash: "h2".into(),
        created_at: 50,
        ..login.clone()
    };
    store.create_oidc_login(&stale, 0).await.unwrap();
    // Starting a login drops those started before the cut-off.
    let fresh = roomkeeper_store::OidcLogin {
        state_hash: "h3".into(),
        created_at: 700,
        ..login.clone()
    };
    store.create_oidc_login(&fresh, 60).await.unwrap();
    assert!(store.take_oidc_login("h2").await.unwrap().is_none());
    assert_eq!(store.take_oidc_login("h1").await.unwrap(), Some(login));
    assert!(
        store.take_oidc_login("h1").await.unwrap().is_none(),
        "used once"
    );

    steps.begin("A session remembers the provider it came through");
    store.create_session("s1", ada.id, 10).await.unwrap();
    assert!(store.session_provider("s1").await.unwrap().is_none());
    store
        .set_session_provider("s1", "uni", "eyJ...")
        .await
        .unwrap();
    assert_eq!(
        store.session_provider("s1").await.unwrap(),
        Some(("uni".into(), "eyJ...".into()))
    );
    assert!(matches!(
        store.set_session_provider("nope", "uni", "t").await,
        Err(Error::NotFound)
    ));
}

/// Owners and co-owners hear when someone else changes who co-owns their room, hands it
/// over or releases it; whoever made the change is not told of it.
async fn the_rooms_people_hear_of_changes_made_by_others(backend: Backend) {
    let (_db, store) = store(backend).await;
    let room = approved_room(&*store, "logic", "alice", 1, 2).await;
    let kinds = |who: &'static str| {
        let store = store.clone();
        async move {
            store
                .notices_of(who)
                .await
                .unwrap()
                .into_iter()
                .map(|n| n.kind.code())
                .filter(|k| *k != "approved")
                .collect::<Vec<_>>()
        }
    };
    // alice (the owner) changes her own co-owners: carol and dave hear of it, she does not.
    store
        .set_co_owners(room, &["carol".into()], None, &audit("alice", 3))
        .await
        .unwrap();
    assert!(kinds("alice").await.is_empty());
    assert_eq!(kinds("carol").await, ["co_owners_changed"]);
    assert_eq!(
        kinds("dave").await,
        ["co_owners_changed"],
        "dave, removed, too"
    );
    // An admin hands the room to bob: alice and carol hear who did it and to whom.
    store
        .transfer_room(room, "bob", &audit("root", 4))
        .await
        .unwrap();
    let told = store.notices_of("alice").await.unwrap();
    assert_eq!(told[0].kind.code(), "room_transferred");
    let change: serde_json::Value = serde_json::from_str(&told[0].message).unwrap();
    assert_eq!(
        (change["by"].as_str(), change["to"].as_str()),
        (Some("root"), Some("bob"))
    );
    assert_eq!(
        kinds("carol").await,
        ["room_transferred", "co_owners_changed"]
    );
    assert!(kinds("root").await.is_empty());
    // Released by an admin: the new owner and the co-owner hear of it.
    store.release_room(room, &audit("root", 5)).await.unwrap();
    assert_eq!(kinds("bob").await, ["room_released"]);
    assert_eq!(
        kinds("carol").await,
        ["room_released", "room_transferred", "co_owners_changed"]
    );
}

fn recording(id: &str, room: &str, started_at: i64) -> NewRecording {
    NewRecording {
        id: id.into(),
        session: format!("session-{id}"),
        source_file: format!("{room}_{id}.mp4"),
        meeting_room: Some(room.into()),
        meeting_url: format!("https://meet.example.org/{room}"),
        started_at,
        duration_ms: Some(60_000),
        size_bytes: 1024,
        sha256: format!("sha-{id}"),
        participants: vec!["Ada".into()],
    }
}

fn email(to: &str) -> NewEmail {
    NewEmail {
        recipient: to.into(),
        subject: "subject".into(),
        body: "body".into(),
    }
}

/// A recording's life: written while storing (not shown), the same row for the same
/// session file, shown once ready (the owner's notice and email once), assigned, shared
/// through links that expire and can be revoked, kept per the room's retention, deleted.
async fn recordings_are_stored_shown_shared_and_deleted(backend: Backend) {
    let mut steps = Steps::new();
    let (_db, store) = store(backend).await;
    let system = Audit {
        actor: None,
        address: None,
        now: 1,
    };
    let request = NewRequest {
        room_name: "logic".into(),
        requester: "lecturer".into(),
        reason: "r".into(),
        co_owners: vec!["assistant".into()],
    };
    let room = store
        .create_request(&request, Some("logic"), &system, &[])
        .await
        .unwrap()
        .room_id
        .unwrap();
    let day = 86_400;
    let started = 10 * day;

    let storing = store
        .begin_recording(&recording("r1", "logic", started), started + 60)
        .await
        .unwrap();
    assert_eq!(storing.state, RecordingState::Storing);
    assert_eq!(
        storing.room_id,
        Some(room),
        "the registered room of that name"
    );
    assert!(store.recordings_of_room(room).await.unwrap().is_empty());
    let again = store
        .begin_recording(&recording("r1", "logic", started), started + 61)
        .await
        .unwrap();
    assert_eq!(again.id, storing.id, "the same session file, the same row");
    assert_eq!(store.unfinished_recordings().await.unwrap().len(), 1);

    let (ready, first) = store
        .finish_recording("r1", started + 70, &[email("lecturer@example.org")])
        .await
        .unwrap();
    assert!(first && ready.state == RecordingState::Ready);
    let (_, again) = store
        .finish_recording("r1", started + 71, &[email("lecturer@example.org")])
        .await
        .unwrap();
    assert!(!again, "told once");
    assert_eq!(store.outbox_status().await.unwrap().waiting, 1);
    assert_eq!(store.notices_of("lecturer").await.unwrap().len(), 1);
    assert_eq!(store.notices_of("assistant").await.unwrap().len(), 1);
    assert!(store.unfinished_recordings().await.unwrap().is_empty());
    assert_eq!(store.recordings_of_room(room).await.unwrap()[0].id, "r1");

    steps.begin("A room nobody registered: unassigned until an admin gives it to one");
    store
        .begin_recording(&recording("r2", "physics", started + 10), started + 80)
        .await
        .unwrap();
    store
        .finish_recording("r2", started + 90, &[])
        .await
        .unwrap();
    assert_eq!(store.unassigned_recordings().await.unwrap()[0].id, "r2");
    let assigned = store.assign_recording("r2", room, &system).await.unwrap();
    assert_eq!(assigned.room_name.as_deref(), Some("logic"));
    assert!(store.unassigned_recordings().await.unwrap().is_empty());
    let listed: Vec<String> = store
        .recordings_of_room(room)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, ["r2", "r1"], "newest first");

    steps.begin("Share links: live until they expire or are revoked");
    let lecturer = Audit {
        actor: Some("lecturer"),
        address: None,
        now: started + 100,
    };
    let link = store
        .create_share_link("r1", "link-hash", started + 200, &lecturer)
        .await
        .unwrap();
    assert_eq!(link.created_by, "lecturer");
    assert_eq!(
        store.share_link("link-hash").await.unwrap().map(|l| l.id),
        Some(link.id)
    );
    assert_eq!(
        store
            .live_share_links_of_room(room, started + 150)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .live_share_links_of_room(room, started + 300)
            .await
            .unwrap()
            .is_empty(),
        "expired"
    );
    assert!(
        store
            .revoke_share_link("r1", link.id, &lecturer)
            .await
            .unwrap()
    );
    assert!(
        store
            .live_share_links_of_room(room, started + 150)
            .await
            .unwrap()
            .is_empty(),
        "revoked"
    );
    assert!(
        !store
            .revoke_share_link("r2", link.id, &lecturer)
            .await
            .unwrap()
    );

    steps.begin("Retention: the room's days, or the default");
    assert_eq!(store.retention_of(room).await.unwrap(), None);
    let old = |now| store.expired_recordings(now, 90, 10);
    assert!(old(started + 31 * day).await.unwrap().is_empty());
    store.set_retention(room, Some(30), &system).await.unwrap();
    assert_eq!(store.retention_of(room).await.unwrap(), Some(30));
    let expired: Vec<String> = old(started + 31 * day)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(expired, ["r1", "r2"], "oldest first");
    assert!(
        store
            .claim_daily_job("recording_retention", 41)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_daily_job("recording_retention", 41)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_daily_job("recording_retention", 42)
            .await
            .unwrap()
    );
    // The directory watcher's lease: one instance at a time, another after it ran out.
    let lease = |holder: &'static str, now: i64| {
        let store = store.clone();
        async move {
            store
                .claim_job_lease("recording_watcher", holder, now, now + 60)
                .await
                .unwrap()
        }
    };
    assert!(lease("a", 100).await);
    assert!(!lease("b", 130).await);
    assert!(lease("a", 150).await, "renewed until 210");
    assert!(!lease("b", 209).await);
    assert!(lease("b", 210).await, "a's lease ran out");
    assert!(!lease("a", 220).await);
    let racing = ["c", "d", "e", "f", "g", "h", "i", "j"].map(|holder| lease(holder, 300));
    let won = futures::future::join_all(racing).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");

    steps.begin("Deleting: hidden at once, the row goes after the file");
    let deleting = store
        .start_deleting_recording("r1", &system, "by hand")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleting.state, RecordingState::Deleting);
    assert!(
        store
            .start_deleting_recording("r1", &system, "again")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.recordings_of_room(room).await.unwrap().len(), 1);
    assert_eq!(store.unfinished_recordings().await.unwrap()[0].id, "r1");
    store.forget_recording("r1").await.unwrap();
    assert!(store.recording("r1").await.unwrap().is_none());

    steps.begin("Sessions that could not be read, remembered until they are");
    store
        .record_ingest_problem("s9", "/jibri/s9", "no metadata.json", 5)
        .await
        .unwrap();
    store
        .record_ingest_problem("s9", "/jibri/s9", "no metadata.json", 6)
        .await
        .unwrap();
    let problems = store.ingest_problems().await.unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(
        (problems[0].first_seen_at, problems[0].last_seen_at),
        (5, 6)
    );
    store.clear_ingest_problem("s9").await.unwrap();
    assert!(store.ingest_problems().await.unwrap().is_empty());
}

/// The outbox: a message is leased to one sender at a time, retried when asked, and
/// given up when no retry is set.
async fn the_outbox_leases_retries_and_gives_up(backend: Backend) {
    let (_db, store) = store(backend).await;
    // Queued with the change they tell of.
    store
        .create_request(
            &request("logic", "alice"),
            None,
            &audit("alice", 10),
            &[email("a@example.org"), email("b@example.org")],
        )
        .await
        .unwrap();
    let claimed = store.claim_emails(10, 70, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|e| e.attempts == 1));
    assert!(
        store.claim_emails(20, 80, 10).await.unwrap().is_empty(),
        "leased to the first sender"
    );
    let (a, b) = if claimed[0].recipient == "a@example.org" {
        (&claimed[0], &claimed[1])
    } else {
        (&claimed[1], &claimed[0])
    };
    store.email_sent(a.id, 30).await.unwrap();
    store
        .email_failed(b.id, "550 refused", Some(100))
        .await
        .unwrap();
    let status = store.outbox_status().await.unwrap();
    assert_eq!(
        (status.waiting, status.retrying, status.given_up),
        (1, 1, 0)
    );
    assert_eq!(status.last_error.as_deref(), Some("550 refused"));
    assert!(store.claim_emails(99, 160, 10).await.unwrap().is_empty());
    let retried = store.claim_emails(100, 160, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (b.id, 2));
    store.email_failed(b.id, "550 again", None).await.unwrap();
    let status = store.outbox_status().await.unwrap();
    assert_eq!((status.waiting, status.given_up), (0, 1));
    assert!(store.claim_emails(1000, 1060, 10).await.unwrap().is_empty());
}

both_backends!(
    a_room_stored_under_a_name_todays_rules_refuse_stays_listed,
    disabling_hands_the_rooms_over_in_one_transaction,
    the_guard_join_codes_and_meeting_moderators,
    the_in_use_alert_tells_the_rooms_people_once,
    recordings_are_stored_shown_shared_and_deleted,
    the_outbox_leases_retries_and_gives_up,
    the_rooms_people_hear_of_changes_made_by_others,
    single_sign_on_identities_renames_and_logins,
    a_request_is_approved_into_a_room_once,
    auto_approval_rejection_and_withdrawal,
    the_queue_is_paginated_oldest_first,
    rooms_are_listed_searched_and_changed_with_an_audit_trail,
    the_overview_pages_rooms_and_counts_only_when_the_page_is_full,
    patterns_are_per_user_and_audited,
    the_audit_log_is_append_only,
    users_are_unique_and_found_by_name_and_id,
    account_changes_persist,
    sessions_live_until_deleted_or_expired,
    disabling_a_user_ends_all_their_sessions,
    api_tokens_belong_to_their_user,
    login_attempts_are_counted_per_key_and_window,
    migrating_twice_changes_nothing,
);

/// Run straight against the database, past the Store trait.
async fn execute_raw(backend: Backend, url: &str, statements: &[&str]) {
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            for statement in statements {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            for statement in statements {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
        }
    }
}

/// Names are parsed when read, and the rules only get stricter: a room an earlier
/// version registered under a name this one refuses (here a `'`, which Jitsi's XMPP
/// side cannot address and which is refused since) is still listed, found and owned.
async fn a_room_stored_under_a_name_todays_rules_refuse_stays_listed(backend: Backend) {
    let (db, store) = store(backend).await;
    assert!(roomkeeper_domain::RoomName::from_canonical("o'brien").is_err());
    execute_raw(
        backend,
        &db.url,
        &[
            "INSERT INTO rooms (name, owner, created_at, last_activity_at) \
             VALUES ('o''brien', 'alice', 1, 1)",
            "INSERT INTO room_co_owners (room_id, username) \
             SELECT id, 'carol' FROM rooms WHERE name = 'o''brien'",
        ],
    )
    .await;
    let alices = RoomFilter {
        visible_to: Some("alice".into()),
        ..RoomFilter::default()
    };
    let listed = store.list_rooms(&alices, Page::new(1, 10)).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let room = &listed.items[0];
    assert_eq!(
        (room.name.as_str(), room.owner.as_str()),
        ("o'brien", "alice")
    );
    assert_eq!(room.co_owners, ["carol"]);
    let found = store.room_by_name("o'brien").await.unwrap().unwrap();
    assert_eq!(&found, room);
    assert_eq!(store.room(room.id).await.unwrap().as_ref(), Some(room));
}

async fn disabling_hands_the_rooms_over_in_one_transaction(backend: Backend) {
    let (db, store) = store(backend).await;
    let alice = store
        .create_user(&new_user("alice", false), 1)
        .await
        .unwrap();
    for (at, name) in [(10, "logic"), (20, "physics")] {
        approved_room(&*store, name, "alice", at, at + 1).await;
    }
    store.create_session("a1", alice.id, 30).await.unwrap();
    let owner_of = |name: &'static str| {
        let store = store.clone();
        async move {
            store
                .room_by_name(name)
                .await
                .unwrap()
                .map(|r| r.owner.to_string())
        }
    };
    let entries = |action: AuditAction| {
        let store = store.clone();
        async move {
            store
                .audit_log_since(None, None, Page::new(1, 50))
                .await
                .unwrap()
                .items
                .iter()
                .filter(|e| e.action == action)
                .count()
        }
    };

    // Disabling fails at its last step: nothing it did before stays.
    let (refuse, allow) = match backend {
        Backend::Sqlite => (
            vec![
                "CREATE TRIGGER no_disabling BEFORE UPDATE OF disabled ON users \
                 BEGIN SELECT RAISE(ABORT, 'not today'); END",
            ],
            vec!["DROP TRIGGER no_disabling"],
        ),
        Backend::Postgres => (
            vec![
                "CREATE FUNCTION no_disabling() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'not today'; END $$",
                "CREATE TRIGGER no_disabling BEFORE UPDATE OF disabled ON users \
                 FOR EACH ROW EXECUTE FUNCTION no_disabling()",
            ],
            vec!["DROP TRIGGER no_disabling ON users"],
        ),
    };
    execute_raw(backend, &db.url, &refuse).await;
    let failed = store
        .disable_user(alice.id, HandOver::Release, &audit("root", 40))
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(owner_of("logic").await.as_deref(), Some("alice"));
    assert_eq!(owner_of("physics").await.as_deref(), Some("alice"));
    assert_eq!(entries(AuditAction::Release).await, 0);
    assert!(store.session("a1").await.unwrap().is_some());

    execute_raw(backend, &db.url, &allow).await;
    let handed = store
        .disable_user(alice.id, HandOver::TransferTo("bob"), &audit("root", 50))
        .await
        .unwrap();
    let names: Vec<&str> = handed.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["logic", "physics"]);
    assert_eq!(owner_of("logic").await.as_deref(), Some("bob"));
    assert_eq!(owner_of("physics").await.as_deref(), Some("bob"));
    assert_eq!(entries(AuditAction::Transfer).await, 2);
    assert!(store.session("a1").await.unwrap().is_none());
    assert!(store.user_by_id(alice.id).await.unwrap().unwrap().disabled);
}

async fn the_in_use_alert_tells_the_rooms_people_once(backend: Backend) {
    let mut steps = Steps::new();
    let (_db, store) = store(backend).await;
    steps.begin("A guarded room with an owner and a co-owner");
    let room_id = approved_room(&*store, "logic", "alice", 10, 11).await;
    let room = store
        .set_co_owners(room_id, &["carol".into()], None, &audit("alice", 12))
        .await
        .unwrap();
    let guard = GuardSettings {
        in_use_alert_minutes: Some(15),
        ..GuardSettings::default()
    };
    store
        .set_guard(&room, &guard, &audit("alice", 13))
        .await
        .unwrap();
    let in_use = |who: &'static str| {
        let store = store.clone();
        async move {
            store
                .notices_of(who)
                .await
                .unwrap()
                .into_iter()
                .filter(|n| n.kind == NoticeKind::InUse)
                .map(|n| n.message)
                .collect::<Vec<_>>()
        }
    };

    steps.begin("The in-use alert reaches the room's people once per meeting, with its history");
    assert!(
        store
            .alert_owners(
                &room,
                &OwnerAlert::InUse { minutes: 15 },
                &[],
                &audit_system(20)
            )
            .await
            .unwrap()
    );
    assert_eq!(in_use("alice").await, ["15"]);
    assert_eq!(in_use("carol").await, ["15"]);
    assert!(
        !store
            .alert_owners(
                &room,
                &OwnerAlert::InUse { minutes: 15 },
                &[],
                &audit_system(21)
            )
            .await
            .unwrap(),
        "once per meeting"
    );
    assert_eq!(in_use("alice").await.len(), 1);
    let history = store
        .audit_log_since(Some("logic"), None, Page::new(1, 50))
        .await
        .unwrap();
    assert_eq!(
        history
            .items
            .iter()
            .filter(|e| e.action == AuditAction::InUseAlert)
            .count(),
        1
    );

    steps.begin("Someone knocking is told once per meeting too, apart from the in-use alert");
    let knocking = OwnerAlert::Knocking {
        name: "evilstudent".into(),
    };
    assert!(
        store
            .alert_owners(&room, &knocking, &[], &audit_system(22))
            .await
            .unwrap()
    );
    assert!(
        !store
            .alert_owners(&room, &knocking, &[], &audit_system(23))
            .await
            .unwrap()
    );
    let knocks: Vec<_> = store
        .notices_of("carol")
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == NoticeKind::Knocking)
        .map(|n| n.message)
        .collect();
    assert_eq!(knocks, ["evilstudent"]);

    steps.begin("A new meeting alerts again");
    store.reset_owner_alerts(room_id).await.unwrap();
    assert!(
        store
            .alert_owners(
                &room,
                &OwnerAlert::InUse { minutes: 15 },
                &[],
                &audit_system(30)
            )
            .await
            .unwrap()
    );
    assert_eq!(in_use("carol").await.len(), 2);
    assert!(
        store
            .alert_owners(&room, &knocking, &[], &audit_system(31))
            .await
            .unwrap()
    );
}

async fn the_guard_join_codes_and_meeting_moderators(backend: Backend) {
    let mut steps = Steps::new();
    let (_db, store) = store(backend).await;
    let room_id = approved_room(&*store, "logic", "alice", 10, 11).await;
    let room = store.room(room_id).await.unwrap().unwrap();

    steps.begin("Unguarded until set; the change is audited");
    assert_eq!(
        store.guard(room_id).await.unwrap(),
        GuardSettings::default()
    );
    assert!(store.guarded_rooms().await.unwrap().is_empty());
    let strict = GuardSettings {
        password_guard: true,
        moderator_guard: ModeratorGuard::Strict,
        in_use_alert_minutes: Some(15),
        lobby: LobbyMode::Always,
    };
    store
        .set_guard(&room, &strict, &audit("alice", 12))
        .await
        .unwrap();
    assert_eq!(store.guard(room_id).await.unwrap(), strict);
    let guarded = store.guarded_rooms().await.unwrap();
    assert_eq!((guarded[0].0.id, guarded[0].1), (room_id, strict));
    store
        .set_guard(&room, &GuardSettings::default(), &audit("alice", 13))
        .await
        .unwrap();
    assert!(store.guarded_rooms().await.unwrap().is_empty());
    let history = store
        .audit_log_since(Some("logic"), None, Page::new(1, 50))
        .await
        .unwrap();
    let changes: Vec<_> = history
        .items
        .iter()
        .filter(|e| e.action.code() == "guard_changed")
        .map(|e| e.detail.clone())
        .collect();
    assert_eq!(changes.len(), 2);
    assert!(changes[1].contains("strict"), "{changes:?}");
    assert!(changes[1].contains(r#""lobby":"always""#), "{changes:?}");

    steps.begin("The lobby alone guards a room: it is followed");
    let lobby_only = GuardSettings {
        lobby: LobbyMode::UntilOwner,
        ..GuardSettings::default()
    };
    store
        .set_guard(&room, &lobby_only, &audit("alice", 14))
        .await
        .unwrap();
    assert_eq!(store.guard(room_id).await.unwrap(), lobby_only);
    assert_eq!(store.guarded_rooms().await.unwrap()[0].1, lobby_only);
    store
        .set_guard(&room, &GuardSettings::default(), &audit("alice", 15))
        .await
        .unwrap();

    steps.begin("A code works once, in its room, before it expires");
    store
        .create_join_code("hash-a", room_id, "alice", 100, 1000)
        .await
        .unwrap();
    store
        .create_join_code("hash-late", room_id, "alice", 100, 200)
        .await
        .unwrap();
    assert_eq!(
        store
            .use_join_code(
                "hash-late",
                &room,
                "aaaa1111",
                "a@meet.test/1",
                &audit_system(200)
            )
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store
            .use_join_code(
                "hash-a",
                &room,
                "1ec70e70",
                "ada@meet.test/1",
                &audit_system(300)
            )
            .await
            .unwrap(),
        Some("alice".into())
    );
    assert_eq!(
        store
            .use_join_code(
                "hash-a",
                &room,
                "bbbb2222",
                "b@meet.test/1",
                &audit_system(301)
            )
            .await
            .unwrap(),
        None,
        "used"
    );
    let moderators = store.meeting_moderators(room_id).await.unwrap();
    assert_eq!(moderators.len(), 1);
    assert_eq!(
        (
            moderators[0].participant.as_str(),
            moderators[0].occupant.as_str(),
            moderators[0].username.as_str(),
            moderators[0].joined_with_code
        ),
        ("1ec70e70", "ada@meet.test/1", "alice", true)
    );
    let used = store
        .audit_log_since(Some("logic"), None, Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!(
        (
            used.items[0].action.code(),
            used.items[0].subject.as_deref()
        ),
        ("join_as_moderator", Some("alice"))
    );

    steps.begin("Someone alice makes moderator");
    // Granting her own participant again changes nothing.
    store
        .record_moderator_change(
            &audit("alice", 310),
            &room,
            roomkeeper_domain::AuditAction::GrantModerator,
            "{}",
            "c3c3c3c3",
            ModeratorTrust::Trusted {
                occupant: "c@meet.test/1",
                username: "alice",
            },
        )
        .await
        .unwrap();
    store
        .record_moderator_change(
            &audit("alice", 311),
            &room,
            roomkeeper_domain::AuditAction::GrantModerator,
            "{}",
            "1ec70e70",
            ModeratorTrust::Trusted {
                occupant: "ada@meet.test/1",
                username: "alice",
            },
        )
        .await
        .unwrap();
    let moderators = store.meeting_moderators(room_id).await.unwrap();
    assert_eq!(
        moderators
            .iter()
            .map(|m| (m.participant.as_str(), m.joined_with_code))
            .collect::<Vec<_>>(),
        [("1ec70e70", true), ("c3c3c3c3", false)]
    );
    // Someone else (another connection) granted under the owner's old nick replaces the
    // entry: the trust is theirs, and not an owner's.
    store
        .record_moderator_change(
            &audit("alice", 312),
            &room,
            roomkeeper_domain::AuditAction::GrantModerator,
            "{}",
            "1ec70e70",
            ModeratorTrust::Trusted {
                occupant: "other@meet.test/9",
                username: "alice",
            },
        )
        .await
        .unwrap();
    let moderators = store.meeting_moderators(room_id).await.unwrap();
    assert_eq!(
        moderators
            .iter()
            .map(|m| (
                m.participant.as_str(),
                m.occupant.as_str(),
                m.joined_with_code
            ))
            .collect::<Vec<_>>(),
        [
            ("c3c3c3c3", "c@meet.test/1", false),
            ("1ec70e70", "other@meet.test/9", false)
        ]
    );
    store
        .remove_meeting_moderator(room_id, "c3c3c3c3")
        .await
        .unwrap();
    assert_eq!(store.meeting_moderators(room_id).await.unwrap().len(), 1);
    // A grant is written with its history entry or not at all: one whose trust cannot be
    // recorded (a room that is gone) leaves no entry saying it happened.
    let gone = roomkeeper_store::Room {
        id: room.id + 1000,
        name: roomkeeper_domain::RoomName::from_canonical("gone").unwrap(),
        ..room.clone()
    };
    let refused = store
        .record_moderator_change(
            &audit("alice", 313),
            &gone,
            roomkeeper_domain::AuditAction::GrantModerator,
            "{}",
            "d4d4d4d4",
            ModeratorTrust::Trusted {
                occupant: "d@meet.test/1",
                username: "alice",
            },
        )
        .await;
    assert!(refused.is_err());
    let history = store
        .audit_log_since(Some("gone"), None, Page::new(1, 10))
        .await
        .unwrap();
    assert!(history.items.is_empty(), "{:?}", history.items);
    store.meeting_ended(room_id).await.unwrap();
    assert!(store.meeting_moderators(room_id).await.unwrap().is_empty());

    steps.begin("Whose password the meeting has: stored per guarded room");
    store
        .set_guard(&room, &strict, &audit("alice", 450))
        .await
        .unwrap();
    assert!(!store.owner_password(room_id).await.unwrap());
    store.set_owner_password(room_id, true).await.unwrap();
    assert!(store.owner_password(room_id).await.unwrap());
    store.set_owner_password(room_id, false).await.unwrap();
    assert!(!store.owner_password(room_id).await.unwrap());
    store.set_owner_password(room_id, true).await.unwrap();
    store.meeting_ended(room_id).await.unwrap();
    assert!(
        !store.owner_password(room_id).await.unwrap(),
        "gone with the meeting"
    );

    steps.begin("One instance acts for the room at a time");
    // Another takes over when its lease ends.
    use roomkeeper_store::GuardClaim::{HeldUntil, Renewed, Won};
    assert_eq!(
        store.claim_guard(room_id, "a", 500, 530).await.unwrap(),
        Won
    );
    assert_eq!(
        store.claim_guard(room_id, "b", 510, 540).await.unwrap(),
        HeldUntil(530)
    );
    assert_eq!(
        store.claim_guard(room_id, "a", 520, 550).await.unwrap(),
        Renewed
    );
    assert_eq!(
        store.claim_guard(room_id, "b", 549, 579).await.unwrap(),
        HeldUntil(550)
    );
    assert_eq!(
        store.claim_guard(room_id, "b", 550, 580).await.unwrap(),
        Won,
        "a's lease ended"
    );
    assert_eq!(
        store.claim_guard(room_id, "a", 560, 590).await.unwrap(),
        HeldUntil(580)
    );
    // An instance shutting down gives its leases up: the next claimer wins at once.
    assert_eq!(store.release_guard_leases("a").await.unwrap(), 0);
    assert_eq!(store.release_guard_leases("b").await.unwrap(), 1);
    assert_eq!(
        store.claim_guard(room_id, "a", 561, 591).await.unwrap(),
        Won
    );
    // Ten instances asking at the same moment for an ended lease: one gets it.
    let claims = (0..10).map(|i| {
        let store = store.clone();
        async move {
            store
                .claim_guard(room_id, &format!("i{i}"), 600, 630)
                .await
                .unwrap()
        }
    });
    let won = futures::future::join_all(claims).await;
    assert_eq!(won.iter().filter(|w| w.granted()).count(), 1, "{won:?}");
    assert!(won.contains(&Won), "{won:?}");

    steps.begin("Releasing the room takes its guard and codes with it");
    store
        .set_guard(&room, &strict, &audit("alice", 400))
        .await
        .unwrap();
    store
        .create_join_code("hash-b", room_id, "alice", 400, 2000)
        .await
        .unwrap();
    store
        .release_room(room_id, &audit("alice", 401))
        .await
        .unwrap();
    assert!(store.guarded_rooms().await.unwrap().is_empty());
}

fn audit_system(now: i64) -> Audit<'static> {
    Audit {
        actor: None,
        address: None,
        now,
    }
}
