//! Who may do what. Every permission check in Roomkeeper is answered here, and the
//! web layer's extractors are the only callers, so a handler cannot forget one.
//!
//! Rooms and requests that are not yours to know about are [`Decision::Hidden`] (the
//! API answers 404, as if they did not exist); things you can see but not change are
//! [`Decision::Forbidden`] (403).

use crate::{CoOwnerGroup, Username};

/// The person (or script) behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    Anonymous,
    User { username: &'a str, is_admin: bool },
}

/// Who owns a room, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomFacts<'a> {
    pub owner: &'a Username,
    pub co_owners: &'a [Username],
    /// Their members are co-owners, with exactly a co-owner's rights.
    pub co_owner_groups: &'a [CoOwnerGroup],
}

/// Who asked for a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFacts<'a> {
    pub requester: &'a Username,
}

/// A recording as far as permissions go: the room it belongs to (none while unassigned)
/// and whether this installation lets administrators watch recordings
/// (`recordings.admins_can_view_recordings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingFacts<'a> {
    pub room: Option<RoomFacts<'a>>,
    pub admins_may_watch: bool,
}

/// Something an actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// See their own account, change its password, language and API tokens.
    ManageOwnAccount,
    /// List, create, promote, disable and re-enable accounts.
    ManageUsers,
    /// Ask for a room, see and withdraw their own requests.
    RequestRoom,
    ViewRequest(RequestFacts<'a>),
    WithdrawRequest(RequestFacts<'a>),
    /// The approval queue: approve, reject, whitelist patterns.
    DecideRequests,
    /// Give users name patterns and take them away.
    ManagePatterns,
    /// Every room, every request, the whole audit log.
    OverseeAllRooms,
    /// See a room, its co-owners and its history.
    ViewRoom(RoomFacts<'a>),
    /// Live control of a running meeting and its recordings: owner and co-owners alike.
    ControlMeeting(RoomFacts<'a>),
    /// Change the co-owner list, transfer or release the room: owner and admins only.
    ManageRoom(RoomFacts<'a>),
    /// How long the room's recordings are kept: admins only (owners see it is not theirs
    /// to change, strangers do not learn the room exists).
    SetRetention(RoomFacts<'a>),
    /// Watch or download a recording, list a room's recordings, make share links:
    /// owner and co-owners; admins only where the installation allows it.
    WatchRecording(RecordingFacts<'a>),
    /// See a recording's details and delete it. Same as watching, except that admins
    /// handle recordings no room has claimed (see, assign, delete) without watching them.
    HandleRecording(RecordingFacts<'a>),
    /// Give an unassigned recording to `room`: admins. Where admins may not watch
    /// recordings, not to a room they own or co-own: that would be a way to watch it
    /// (another administrator, whose act the room's people are told of, may).
    AssignRecordingTo {
        room: RoomFacts<'a>,
        admins_may_watch: bool,
    },
}

/// The answer to "may this actor do this?", with the reason when not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Nobody is logged in: the answer is "log in", not "no".
    NeedsLogin,
    /// Allowed to know it exists, not to do this.
    Forbidden,
    /// Not allowed to know it exists: answered like something that does not exist.
    Hidden,
}

/// How an actor stands to a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomRole {
    Owner,
    CoOwner,
    Admin,
    Stranger,
}

pub fn room_role(username: &str, is_admin: bool, room: RoomFacts<'_>) -> RoomRole {
    if room.owner == username {
        RoomRole::Owner
    } else if room.co_owners.iter().any(|c| c == username)
        || room.co_owner_groups.iter().any(|g| g.has(username))
    {
        RoomRole::CoOwner
    } else if is_admin {
        RoomRole::Admin
    } else {
        RoomRole::Stranger
    }
}

fn allowed_if(condition: bool, otherwise: Decision) -> Decision {
    if condition {
        Decision::Allowed
    } else {
        otherwise
    }
}

pub fn decide(actor: Actor<'_>, action: Action<'_>) -> Decision {
    let Actor::User { username, is_admin } = actor else {
        return Decision::NeedsLogin;
    };
    match action {
        Action::ManageOwnAccount | Action::RequestRoom => Decision::Allowed,
        Action::ManageUsers
        | Action::DecideRequests
        | Action::ManagePatterns
        | Action::OverseeAllRooms => allowed_if(is_admin, Decision::Forbidden),
        Action::ViewRequest(request) => {
            allowed_if(request.requester == username || is_admin, Decision::Hidden)
        }
        Action::WithdrawRequest(request) => {
            if request.requester == username {
                Decision::Allowed
            } else if is_admin {
                // Admins reject instead: the requester then hears why.
                Decision::Forbidden
            } else {
                Decision::Hidden
            }
        }
        Action::ViewRoom(room) | Action::ControlMeeting(room) => {
            match room_role(username, is_admin, room) {
                RoomRole::Stranger => Decision::Hidden,
                _ => Decision::Allowed,
            }
        }
        Action::ManageRoom(room) => match room_role(username, is_admin, room) {
            RoomRole::Owner | RoomRole::Admin => Decision::Allowed,
            RoomRole::CoOwner => Decision::Forbidden,
            RoomRole::Stranger => Decision::Hidden,
        },
        Action::SetRetention(room) => match room_role(username, is_admin, room) {
            RoomRole::Admin => Decision::Allowed,
            RoomRole::Owner | RoomRole::CoOwner => Decision::Forbidden,
            RoomRole::Stranger => Decision::Hidden,
        },
        // Recordings are the most private thing here: everyone not allowed gets "no such
        // recording" (404), never a 403 that confirms one exists.
        Action::WatchRecording(recording) => {
            let role = recording.room.map_or(RoomRole::Stranger, |room| {
                room_role(username, is_admin, room)
            });
            let allowed = match role {
                RoomRole::Owner | RoomRole::CoOwner => true,
                RoomRole::Admin | RoomRole::Stranger => is_admin && recording.admins_may_watch,
            };
            allowed_if(allowed, Decision::Hidden)
        }
        Action::HandleRecording(recording) => match recording.room {
            None => allowed_if(is_admin, Decision::Hidden),
            Some(_) => decide(actor, Action::WatchRecording(recording)),
        },
        Action::AssignRecordingTo {
            room,
            admins_may_watch,
        } => match room_role(username, is_admin, room) {
            _ if !is_admin => Decision::Hidden,
            RoomRole::Owner | RoomRole::CoOwner if !admins_may_watch => Decision::Forbidden,
            _ => Decision::Allowed,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    const ANONYMOUS: Actor<'static> = Actor::Anonymous;
    const USER: Actor<'static> = Actor::User {
        username: "other",
        is_admin: false,
    };
    const OWNER: Actor<'static> = Actor::User {
        username: "owner",
        is_admin: false,
    };
    const CO_OWNER: Actor<'static> = Actor::User {
        username: "co",
        is_admin: false,
    };
    /// In the room's co-owning group, not named one by one.
    const GROUP_MEMBER: Actor<'static> = Actor::User {
        username: "member",
        is_admin: false,
    };
    fn name(username: &str) -> Username {
        Username::parse(username).unwrap()
    }

    const ADMIN: Actor<'static> = Actor::User {
        username: "root",
        is_admin: true,
    };

    fn course_group() -> CoOwnerGroup {
        CoOwnerGroup {
            name: crate::GroupName::parse("uni:logic-teachers").unwrap(),
            members: vec![crate::GroupMember {
                username: name("member"),
                display_name: None,
            }],
        }
    }

    #[test]
    fn every_role_against_every_action() {
        let (owner, co_owners) = (name("owner"), [name("co")]);
        let groups = [course_group()];
        let room = RoomFacts {
            owner: &owner,
            co_owners: &co_owners,
            co_owner_groups: &groups,
        };
        // The requester of a request is the "owner" actor here.
        let request = RequestFacts { requester: &owner };
        let actions = [
            Action::ManageOwnAccount,
            Action::ManageUsers,
            Action::RequestRoom,
            Action::ViewRequest(request),
            Action::WithdrawRequest(request),
            Action::DecideRequests,
            Action::ManagePatterns,
            Action::OverseeAllRooms,
            Action::ViewRoom(room),
            Action::ControlMeeting(room),
            Action::ManageRoom(room),
            Action::SetRetention(room),
            Action::WatchRecording(RecordingFacts {
                room: Some(room),
                admins_may_watch: false,
            }),
            Action::WatchRecording(RecordingFacts {
                room: Some(room),
                admins_may_watch: true,
            }),
            Action::WatchRecording(RecordingFacts {
                room: None,
                admins_may_watch: false,
            }),
            Action::WatchRecording(RecordingFacts {
                room: None,
                admins_may_watch: true,
            }),
            Action::HandleRecording(RecordingFacts {
                room: Some(room),
                admins_may_watch: false,
            }),
            Action::HandleRecording(RecordingFacts {
                room: Some(room),
                admins_may_watch: true,
            }),
            Action::HandleRecording(RecordingFacts {
                room: None,
                admins_may_watch: false,
            }),
        ];
        // One row per action, one column per actor: anonymous, user, owner, co-owner, admin.
        let expected = [
            [NeedsLogin, Allowed, Allowed, Allowed, Allowed, Allowed],
            [
                NeedsLogin, Forbidden, Forbidden, Forbidden, Forbidden, Allowed,
            ],
            [NeedsLogin, Allowed, Allowed, Allowed, Allowed, Allowed],
            [NeedsLogin, Hidden, Allowed, Hidden, Hidden, Allowed],
            [NeedsLogin, Hidden, Allowed, Hidden, Hidden, Forbidden],
            [
                NeedsLogin, Forbidden, Forbidden, Forbidden, Forbidden, Allowed,
            ],
            [
                NeedsLogin, Forbidden, Forbidden, Forbidden, Forbidden, Allowed,
            ],
            [
                NeedsLogin, Forbidden, Forbidden, Forbidden, Forbidden, Allowed,
            ],
            [NeedsLogin, Hidden, Allowed, Allowed, Allowed, Allowed],
            [NeedsLogin, Hidden, Allowed, Allowed, Allowed, Allowed],
            [NeedsLogin, Hidden, Allowed, Forbidden, Forbidden, Allowed],
            [NeedsLogin, Hidden, Forbidden, Forbidden, Forbidden, Allowed],
            // Recordings: watching, in a room, admins not allowed / allowed to watch.
            [NeedsLogin, Hidden, Allowed, Allowed, Allowed, Hidden],
            [NeedsLogin, Hidden, Allowed, Allowed, Allowed, Allowed],
            // Unassigned: nobody owns it yet.
            [NeedsLogin, Hidden, Hidden, Hidden, Hidden, Hidden],
            [NeedsLogin, Hidden, Hidden, Hidden, Hidden, Allowed],
            // Handling (details, delete).
            [NeedsLogin, Hidden, Allowed, Allowed, Allowed, Hidden],
            [NeedsLogin, Hidden, Allowed, Allowed, Allowed, Allowed],
            [NeedsLogin, Hidden, Hidden, Hidden, Hidden, Allowed],
        ];
        let actors = [ANONYMOUS, USER, OWNER, CO_OWNER, GROUP_MEMBER, ADMIN];
        for (action, row) in actions.iter().zip(expected) {
            for (actor, want) in actors.iter().zip(row) {
                assert_eq!(decide(*actor, *action), want, "{actor:?} {action:?}");
            }
        }
    }

    #[test]
    fn an_admin_assigns_a_recording_to_a_room_of_his_own_only_where_admins_may_watch() {
        let (owner, root) = (name("owner"), name("root"));
        let theirs = RoomFacts {
            owner: &owner,
            co_owners: &[],
            co_owner_groups: &[],
        };
        let co = [root.clone()];
        let co_owned = RoomFacts {
            owner: &owner,
            co_owners: &co,
            co_owner_groups: &[],
        };
        let own = RoomFacts {
            owner: &root,
            co_owners: &[],
            co_owner_groups: &[],
        };
        for (room, admins_may_watch, admin, owner) in [
            (theirs, false, Allowed, Hidden),
            (theirs, true, Allowed, Hidden),
            (co_owned, false, Forbidden, Hidden),
            (co_owned, true, Allowed, Hidden),
            (own, false, Forbidden, Hidden),
            (own, true, Allowed, Hidden),
        ] {
            let action = Action::AssignRecordingTo {
                room,
                admins_may_watch,
            };
            assert_eq!(decide(ADMIN, action), admin, "{action:?}");
            assert_eq!(decide(OWNER, action), owner, "{action:?}");
            assert_eq!(decide(ANONYMOUS, action), NeedsLogin);
        }
    }

    #[test]
    fn an_admin_who_owns_a_room_is_its_owner() {
        let root = name("root");
        let room = RoomFacts {
            owner: &root,
            co_owners: &[],
            co_owner_groups: &[],
        };
        assert_eq!(room_role("root", true, room), RoomRole::Owner);
        assert_eq!(room_role("root", false, room), RoomRole::Owner);
    }
}
