//! Course rooms in the store: co-owning groups, who is in them, and that their members
//! are among the room's people everywhere the store decides who that is.

use roomkeeper_domain::{GroupMember, GroupName, GuardSettings, NoticeKind, Username};
use roomkeeper_store::{MembershipsAsked, OwnerAlert, Page, RoomFilter, Store};
use roomkeeper_testkit_db::{Backend, Steps, both_backends};

use super::{approved_room, audit, audit_system, store};

fn group(name: &str) -> GroupName {
    GroupName::parse(name).unwrap()
}

fn member(username: &str) -> GroupMember {
    GroupMember {
        username: Username::parse(username).unwrap(),
        display_name: Some(format!("{username} (display)")),
    }
}

fn visible_to(username: &str) -> RoomFilter {
    RoomFilter {
        visible_to: Some(username.into()),
        ..Default::default()
    }
}

async fn listed_for(store: &dyn Store, username: &str) -> Vec<String> {
    store
        .list_rooms(&visible_to(username), Page::new(1, 50))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.name.as_str().to_owned())
        .collect()
}

async fn groups_co_own_rooms_with_their_members(backend: Backend) {
    let mut steps = Steps::new();
    let (_db, store) = store(backend).await;
    let logic = approved_room(&*store, "logic", "alice", 10, 11).await;
    let teachers = group("cn=Logic Teachers,ou=groups,dc=example,dc=org");
    let staff = group("uni:staff");

    steps.begin("A room names two groups; the change is in its history, once");
    let room = store
        .set_co_owners(
            logic,
            &["carol".into()],
            Some(&[teachers.clone(), staff.clone(), teachers.clone()]),
            &audit("alice", 20),
        )
        .await
        .unwrap();
    let names: Vec<_> = room
        .co_owner_groups
        .iter()
        .map(|g| g.name.clone())
        .collect();
    assert_eq!(
        names,
        [teachers.clone(), staff.clone()],
        "name order, once each"
    );
    assert!(room.co_owner_groups.iter().all(|g| g.members.is_empty()));
    let history = store
        .audit_log_since(Some("logic"), None, Page::new(1, 50))
        .await
        .unwrap();
    let changes: Vec<_> = history
        .items
        .iter()
        .filter(|e| e.action.code() == "co_owner_groups")
        .map(|e| e.detail.clone())
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(
        changes[0].contains("cn=logic teachers,ou=groups,dc=example,dc=org")
            && changes[0].contains("uni:staff"),
        "{}",
        changes[0]
    );
    // The same groups again, and leaving them out: no new history entry.
    store
        .set_co_owners(
            logic,
            &["carol".into()],
            Some(&[staff.clone(), teachers.clone()]),
            &audit("alice", 21),
        )
        .await
        .unwrap();
    store
        .set_co_owners(logic, &["carol".into()], None, &audit("alice", 22))
        .await
        .unwrap();
    let history = store
        .audit_log_since(Some("logic"), None, Page::new(1, 50))
        .await
        .unwrap();
    assert_eq!(
        history
            .items
            .iter()
            .filter(|e| e.action.code() == "co_owner_groups")
            .count(),
        1
    );

    steps.begin("The directory's answer is the group's whole membership");
    store
        .replace_group_members(&teachers, &[member("dora"), member("erin")], 30)
        .await
        .unwrap();
    let room = store.room(logic).await.unwrap().unwrap();
    let dora_and_erin: Vec<&str> = room.co_owner_groups[0]
        .members
        .iter()
        .map(|m| m.username.as_str())
        .collect();
    assert_eq!(dora_and_erin, ["dora", "erin"]);
    assert_eq!(
        room.co_owner_groups[0].members[0].display_name.as_deref(),
        Some("dora (display)")
    );
    assert_eq!(
        roomkeeper_domain::authz::room_role("dora", false, room.facts()),
        roomkeeper_domain::authz::RoomRole::CoOwner
    );
    assert_eq!(listed_for(&*store, "dora").await, ["logic"]);
    let overview = store.overview("erin", Page::new(1, 10), 3).await.unwrap();
    assert_eq!(overview.rooms.total, 1);
    store
        .replace_group_members(&teachers, &[member("erin")], 31)
        .await
        .unwrap();
    assert!(
        listed_for(&*store, "dora").await.is_empty(),
        "left the group"
    );
    let room = store.room(logic).await.unwrap().unwrap();
    assert_eq!(
        roomkeeper_domain::authz::room_role("dora", false, room.facts()),
        roomkeeper_domain::authz::RoomRole::Stranger
    );

    steps.begin("A sign-in's answer replaces only what it covers");
    store
        .set_memberships(
            &member("frank"),
            MembershipsAsked::Provider("uni"),
            &[staff.clone(), group("uni:physics")],
            40,
        )
        .await
        .unwrap();
    // Named one by one and through a group: listed once.
    store
        .set_memberships(
            &member("carol"),
            MembershipsAsked::Provider("uni"),
            std::slice::from_ref(&staff),
            40,
        )
        .await
        .unwrap();
    assert_eq!(listed_for(&*store, "carol").await, ["logic"]);
    assert_eq!(listed_for(&*store, "frank").await, ["logic"]);
    // A directory sign-in says erin is in no named group: the provider's word on erin
    // (none) and other groups stay.
    store
        .set_memberships(
            &member("erin"),
            MembershipsAsked::Groups(std::slice::from_ref(&teachers)),
            &[],
            41,
        )
        .await
        .unwrap();
    assert!(listed_for(&*store, "erin").await.is_empty());
    store
        .set_memberships(
            &member("frank"),
            MembershipsAsked::Groups(std::slice::from_ref(&teachers)),
            std::slice::from_ref(&teachers),
            42,
        )
        .await
        .unwrap();
    let room = store.room(logic).await.unwrap().unwrap();
    assert!(room.co_owner_groups[0].has("frank") && room.co_owner_groups[1].has("frank"));
    // The provider's next answer leaves staff out: frank keeps the directory group.
    store
        .set_memberships(
            &member("frank"),
            MembershipsAsked::Provider("uni"),
            &[group("uni:physics")],
            43,
        )
        .await
        .unwrap();
    let room = store.room(logic).await.unwrap().unwrap();
    assert!(room.co_owner_groups[0].has("frank") && !room.co_owner_groups[1].has("frank"));
    assert_eq!(
        store.named_directory_groups().await.unwrap(),
        std::slice::from_ref(&teachers)
    );

    steps.begin("Group members hear of the room as co-owners do");
    let guard = GuardSettings {
        in_use_alert_minutes: Some(15),
        ..GuardSettings::default()
    };
    store
        .set_guard(&room, &guard, &audit("alice", 50))
        .await
        .unwrap();
    assert!(
        store
            .alert_owners(
                &room,
                &OwnerAlert::InUse { minutes: 15 },
                &[],
                &audit_system(51)
            )
            .await
            .unwrap()
    );
    let in_use = |notices: Vec<roomkeeper_domain::Notice>| {
        notices
            .iter()
            .filter(|n| n.kind == NoticeKind::InUse)
            .count()
    };
    assert_eq!(in_use(store.notices_of("frank").await.unwrap()), 1);
    assert_eq!(in_use(store.notices_of("carol").await.unwrap()), 1);
    assert_eq!(
        in_use(store.notices_of("dora").await.unwrap()),
        0,
        "left before"
    );

    steps.begin("A rename carries the memberships; a release takes the groups with the room");
    let frank = store
        .create_user(&super::new_user("frank", false), 60)
        .await
        .unwrap();
    store
        .rename_user(frank.id, &Username::parse("frank.n").unwrap())
        .await
        .unwrap();
    assert_eq!(listed_for(&*store, "frank.n").await, ["logic"]);
    store
        .release_room(logic, &audit("alice", 70))
        .await
        .unwrap();
    assert!(store.named_directory_groups().await.unwrap().is_empty());
    let again = approved_room(&*store, "logic", "alice", 80, 81).await;
    let fresh = store.room(again).await.unwrap().unwrap();
    assert!(
        fresh.co_owner_groups.is_empty(),
        "not inherited by the next holder"
    );
}

both_backends!(groups_co_own_rooms_with_their_members);
