//! One suite, both backends: every case runs against SQLite and a real PostgreSQL.

// A failed step should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

use roomkeeper_domain::Username;
use roomkeeper_store::{Error, NewUser, Store};
use roomkeeper_testkit::{Backend, TestDatabase, both_backends};

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
    store
        .set_password_hash(alice.id, "new-hash", true)
        .await
        .unwrap();
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
    store.delete_sessions_of(bob.id).await.unwrap();
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
        .create_token(alice.id, "portal", "h1", 50)
        .await
        .unwrap();
    assert_eq!(
        (token.name.as_str(), token.created_at, token.last_used_at),
        ("portal", 50, None)
    );
    assert!(matches!(
        store.create_token(bob.id, "x", "h1", 50).await,
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
}

async fn login_failures_are_counted_per_key_and_window(backend: Backend) {
    let (_db, store) = store(backend).await;
    store
        .record_login_failure(&["user:alice", "addr:10.0.0.1"], 100)
        .await
        .unwrap();
    store
        .record_login_failure(&["user:alice"], 200)
        .await
        .unwrap();
    assert_eq!(
        store.login_failures_since("user:alice", 0).await.unwrap(),
        2
    );
    assert_eq!(
        store.login_failures_since("user:alice", 150).await.unwrap(),
        1
    );
    assert_eq!(
        store
            .login_failures_since("addr:10.0.0.1", 0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.prune_login_failures(150).await.unwrap(), 2);
    store.clear_login_failures("user:alice").await.unwrap();
    assert_eq!(
        store.login_failures_since("user:alice", 0).await.unwrap(),
        0
    );
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

both_backends!(
    users_are_unique_and_found_by_name_and_id,
    account_changes_persist,
    sessions_live_until_deleted_or_expired,
    disabling_a_user_ends_all_their_sessions,
    api_tokens_belong_to_their_user,
    login_failures_are_counted_per_key_and_window,
    migrating_twice_changes_nothing,
);
