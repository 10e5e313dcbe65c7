//! A registered room and a request for one, with their names parsed: what the store
//! reads is what the pages show, without parsing again on the way.

use crate::authz::{RequestFacts, RoomFacts};
use crate::{CoOwnerGroup, RoomName, Username};

/// A registered room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Room {
    pub id: i64,
    pub name: RoomName,
    pub owner: Username,
    pub co_owners: Vec<Username>,
    /// Groups whose members are co-owners too, with the members known.
    pub co_owner_groups: Vec<CoOwnerGroup>,
    pub created_at: i64,
    pub last_activity_at: i64,
}

impl Room {
    /// What `authz::decide` needs to know about the room: its people.
    pub fn facts(&self) -> RoomFacts<'_> {
        RoomFacts {
            owner: &self.owner,
            co_owners: &self.co_owners,
            co_owner_groups: &self.co_owner_groups,
        }
    }

    /// Everyone with a right in the room, once each: the owner, the co-owners named one
    /// by one, and the members of its groups. Who is told of what happens in it.
    pub fn people(&self) -> Vec<&Username> {
        let mut people = vec![&self.owner];
        let named = self.co_owners.iter();
        let members = self
            .co_owner_groups
            .iter()
            .flat_map(|g| g.members.iter().map(|m| &m.username));
        for person in named.chain(members) {
            if !people.contains(&person) {
                people.push(person);
            }
        }
        people
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Approved,
    Rejected,
    Withdrawn,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(RequestStatus::Pending),
            "approved" => Some(RequestStatus::Approved),
            "rejected" => Some(RequestStatus::Rejected),
            "withdrawn" => Some(RequestStatus::Withdrawn),
            _ => None,
        }
    }
}

/// Someone's request for a room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoomRequest {
    pub id: i64,
    pub room_name: RoomName,
    pub requester: Username,
    pub reason: String,
    pub co_owners: Vec<Username>,
    pub status: RequestStatus,
    pub decided_by: Option<String>,
    pub decision_message: Option<String>,
    /// The pattern that approved it by itself, if one did.
    pub auto_pattern: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub room_id: Option<i64>,
}

impl RoomRequest {
    /// What `authz::decide` needs to know about the request: who asked.
    pub fn facts(&self) -> RequestFacts<'_> {
        RequestFacts {
            requester: &self.requester,
        }
    }
}

/// A room as a list of someone's rooms names it: no co-owners (and so not what an
/// authorisation decision needs; that takes a [`Room`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEntry {
    pub id: i64,
    pub name: crate::RoomName,
    pub owner: crate::Username,
}

/// What a user's home page shows, read at once: one page of their rooms (owned or
/// co-owned), their latest requests and their unread notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// Without co-owners: the home page names each room's owner only, and looking up
    /// co-owners was a fifth of the page's cost.
    pub rooms: crate::Paged<RoomEntry>,
    /// Newest first.
    pub latest_requests: Vec<RoomRequest>,
    pub notices: Vec<crate::Notice>,
}
