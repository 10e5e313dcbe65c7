//! The use cases' own rules, called directly on a real database: no HTTP, no pages.
//! (The whole-app tests in crates/roomkeeper/tests/app show the same rules through the
//! pages and the API; these are where a rule is changed first.) Each runs on SQLite and,
//! when scripts/with-postgres provides one, on PostgreSQL.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use roomkeeper_domain::{AuditAction, Clock, Refusal, RequestStatus, User};
use roomkeeper_store::Page;
use roomkeeper_testkit_db::{Backend, TestDatabase, both_backends};
use roomkeeper_usecases::accounts::{self, OwnedRooms};
use roomkeeper_usecases::mail::Mail;
use roomkeeper_usecases::{Acting, Error, UseCases, login, rooms};

/// The use cases over a fresh database, as `roomkeeper::app::compose` puts them together,
/// for a site with no Jitsi shard configured and recordings on local disk.
struct Site {
    uc: UseCases,
    _database: TestDatabase,
    _recordings: tempfile::TempDir,
}

impl Site {
    async fn new(backend: Backend) -> Self {
        let database = TestDatabase::new(backend).await.unwrap();
        let store = database.store().await.unwrap();
        let clock = Clock::default();
        let recordings_dir = tempfile::tempdir().unwrap();
        let config = roomkeeper_recordings::RecordingsConfig {
            dir: recordings_dir.path().to_owned(),
            ..Default::default()
        };
        let bases =
            vec![roomkeeper_domain::MeetingBase::parse("https://meet.example.org").unwrap()];
        let recordings = roomkeeper_recordings::Recordings::new(
            store.clone(),
            roomkeeper_recordings::BlobStore::open(&config).unwrap(),
            clock.clone(),
            config,
            bases.clone(),
        );
        let meetings = Arc::new(roomkeeper_jitsi::Shards::new(Vec::new()));
        let uc = UseCases {
            store: store.clone(),
            clock,
            meeting_bases: Arc::new(bases),
            meetings: meetings.clone(),
            shards: meetings.clone(),
            watch: Arc::new(roomkeeper_jitsi::MeetingWatch::new(
                meetings,
                std::time::Duration::from_secs(1),
            )),
            mail: Mail {
                enabled: false,
                wakeup: Arc::new(tokio::sync::Notify::new()),
                base_url: "https://rooms.example.org".into(),
            },
            recordings: Arc::new(recordings),
            instance: UseCases::new_instance_id(),
            login: login::Login {
                throttle: roomkeeper_auth::LoginThrottle::new(store, Default::default()),
                ldap: None,
                ldap_admin_group: false,
                local_login_admins_only: false,
            },
            sessions: Default::default(),
            oidc: Arc::default(),
        };
        Site {
            uc,
            _database: database,
            _recordings: recordings_dir,
        }
    }

    async fn user(&self, name: &str, admin: bool) -> User {
        accounts::create_local_user(&self.uc, name, None, admin)
            .await
            .unwrap()
            .0
    }

    /// The room's history as an administrator sees it, oldest first.
    async fn history(&self, admin: &User, room: &str) -> Vec<AuditAction> {
        let room = rooms::find(&self.uc, admin, room).await.unwrap().unwrap();
        let mut actions: Vec<AuditAction> =
            rooms::history(&self.uc, admin, Some(&room), Page::new(1, 50))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.action)
                .collect();
        actions.reverse();
        actions
    }
}

fn refusal<T: std::fmt::Debug>(result: Result<T, Error>) -> Refusal {
    match result {
        Err(Error::Refused { refusal, .. }) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn a_request_waits_unless_a_pattern_of_the_requester_matches(backend: Backend) {
    let site = Site::new(backend).await;
    let uc = &site.uc;
    let admin = site.user("root", true).await;
    let lecturer = site.user("lecturer", false).await;
    let as_admin = Acting::new(&admin, None);
    let as_lecturer = Acting::new(&lecturer, None);

    // Without a reason, nothing is filed.
    assert_eq!(
        refusal(rooms::request(uc, &as_lecturer, "logic", "  ", &[]).await),
        Refusal::InvalidReason
    );
    let waiting = rooms::request(uc, &as_lecturer, "logic", "Logic I", &[])
        .await
        .unwrap();
    assert_eq!(waiting.status, RequestStatus::Pending);
    assert!(
        rooms::list(uc, None, None, Page::new(1, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Asking twice for the same room is refused while the first waits.
    assert_eq!(
        refusal(rooms::request(uc, &as_lecturer, "Logic", "again", &[]).await),
        Refusal::AlreadyRequested
    );

    // With a pattern of his, the next request is approved in the same step.
    rooms::add_pattern(uc, &as_admin, "lecturer", "lecturer-*")
        .await
        .unwrap();
    let approved = rooms::request(uc, &as_lecturer, "lecturer-seminar", "Seminar", &[])
        .await
        .unwrap();
    assert_eq!(approved.status, RequestStatus::Approved);
    assert_eq!(
        site.history(&admin, "lecturer-seminar").await,
        [AuditAction::Request, AuditAction::AutoApprove]
    );
    // Another user's pattern does not count for him.
    rooms::add_pattern(uc, &as_admin, "root", "logic*")
        .await
        .unwrap();
    let other = rooms::request(uc, &as_lecturer, "logic-2", "Logic II", &[])
        .await
        .unwrap();
    assert_eq!(other.status, RequestStatus::Pending);
}

async fn an_account_with_rooms_is_disabled_only_with_a_place_for_them(backend: Backend) {
    let site = Site::new(backend).await;
    let uc = &site.uc;
    let admin = site.user("root", true).await;
    let lecturer = site.user("lecturer", false).await;
    let successor = site.user("successor", false).await;
    let as_admin = Acting::new(&admin, None);
    rooms::add_pattern(uc, &as_admin, "lecturer", "lecture-*")
        .await
        .unwrap();
    rooms::request(uc, &Acting::new(&lecturer, None), "lecture-1", "mine", &[])
        .await
        .unwrap();

    assert_eq!(
        refusal(accounts::disable(uc, Some(&as_admin), lecturer.id, OwnedRooms::Refuse).await),
        Refusal::OwnsRooms
    );
    assert_eq!(
        refusal(
            accounts::disable(
                uc,
                Some(&as_admin),
                lecturer.id,
                OwnedRooms::TransferTo("lecturer")
            )
            .await
        ),
        Refusal::TransferToSelf
    );
    // Refused: nothing moved, the account still works.
    assert!(!accounts::user(uc, lecturer.id).await.unwrap().disabled);
    assert_eq!(
        accounts::rooms_owned_by(uc, "lecturer")
            .await
            .unwrap()
            .len(),
        1
    );

    accounts::disable(
        uc,
        Some(&as_admin),
        lecturer.id,
        OwnedRooms::TransferTo("successor"),
    )
    .await
    .unwrap();
    assert!(accounts::user(uc, lecturer.id).await.unwrap().disabled);
    let moved = accounts::rooms_owned_by(uc, "successor").await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].owner, successor.username);
    assert!(
        site.history(&admin, "lecture-1")
            .await
            .contains(&AuditAction::Transfer)
    );
}

async fn the_last_administrator_cannot_be_taken_away(backend: Backend) {
    let site = Site::new(backend).await;
    let uc = &site.uc;
    let admin = site.user("root", true).await;
    let as_admin = Acting::new(&admin, None);
    assert_eq!(
        refusal(accounts::disable(uc, Some(&as_admin), admin.id, OwnedRooms::Refuse).await),
        Refusal::LastAdmin
    );
    // The command line (no acting person) is the operator's way out and may.
    accounts::disable(uc, None, admin.id, OwnedRooms::Refuse)
        .await
        .unwrap();
    assert!(accounts::user(uc, admin.id).await.unwrap().disabled);
}

both_backends!(
    a_request_waits_unless_a_pattern_of_the_requester_matches,
    an_account_with_rooms_is_disabled_only_with_a_place_for_them,
    the_last_administrator_cannot_be_taken_away,
);
