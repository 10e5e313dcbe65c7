//! Rooms, requests, recordings and share links as pages and the API show them: stored
//! names made readable and linked, times as RFC 3339.

use roomkeeper_domain::{
    CoOwnerGroup, GroupMember, GroupName, Recording, RequestStatus, Room, RoomEntry, RoomRequest,
    ShareLink,
};
use roomkeeper_domain::{RoomName, Username};
use roomkeeper_usecases::recordings::download_name;
use serde::Serialize;

use crate::AppState;

/// A room as pages and API show it.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub id: i64,
    /// Canonical: what Jitsi addresses (`m%c3%bcller`, `physik/logic`).
    pub name: RoomName,
    /// For people (`müller`, `physik/logic`).
    pub display_name: String,
    pub meeting_url: Option<String>,
    pub owner: Username,
    pub co_owners: Vec<Username>,
    /// Groups whose members co-own the room.
    pub co_owner_groups: Vec<GroupView>,
    pub created_at: i64,
    pub last_activity_at: i64,
}

/// A co-owning group as pages and API show it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    /// The DN, or `PROVIDER:GROUP`: what `PUT …/co-owners` takes back.
    pub name: GroupName,
    /// `directory` or `provider`.
    pub source: &'static str,
    /// How many members are known: the directory's whole list; a provider's members
    /// only once they signed in.
    pub size: usize,
    pub members: Vec<GroupMember>,
}

impl GroupView {
    fn new(group: CoOwnerGroup) -> Self {
        GroupView {
            source: if group.name.is_directory() {
                "directory"
            } else {
                "provider"
            },
            size: group.members.len(),
            name: group.name,
            members: group.members,
        }
    }
}

/// A request as pages and API show it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: i64,
    pub room: RoomName,
    pub room_display: String,
    pub meeting_url: Option<String>,
    pub requester: Username,
    pub reason: String,
    pub co_owners: Vec<Username>,
    pub status: RequestStatus,
    pub decided_by: Option<String>,
    pub decision_message: Option<String>,
    pub auto_pattern: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub room_id: Option<i64>,
}

/// How a room's name reads, and its meeting's link.
fn describe(state: &AppState, name: &RoomName) -> (String, Option<String>) {
    (
        name.display(),
        state
            .usecases
            .meeting_bases
            .first()
            .map(|base| name.meeting_url(base)),
    )
}

/// [`describe`] for a name as a list stored it; one that no longer parses (it was
/// valid when stored) is shown as it is.
fn describe_stored(state: &AppState, canonical: &str) -> (String, Option<String>) {
    match RoomName::from_canonical(canonical) {
        Ok(name) => describe(state, &name),
        Err(_) => (canonical.to_owned(), None),
    }
}

impl RoomView {
    pub fn new(state: &AppState, room: Room) -> Self {
        let (display_name, meeting_url) = describe(state, &room.name);
        RoomView {
            id: room.id,
            name: room.name,
            display_name,
            meeting_url,
            owner: room.owner,
            co_owners: room.co_owners,
            co_owner_groups: room
                .co_owner_groups
                .into_iter()
                .map(GroupView::new)
                .collect(),
            created_at: room.created_at,
            last_activity_at: room.last_activity_at,
        }
    }
}

/// A line of someone's room list on their home page: the room and its owner.
pub struct RoomLineView {
    pub id: i64,
    pub display_name: String,
    pub meeting_url: Option<String>,
    pub owner: Username,
}

impl RoomLineView {
    pub fn new(state: &AppState, room: RoomEntry) -> Self {
        let (display_name, meeting_url) = describe_stored(state, &room.name);
        RoomLineView {
            id: room.id,
            display_name,
            meeting_url,
            owner: room.owner,
        }
    }
}

impl RequestView {
    pub fn new(state: &AppState, request: RoomRequest) -> Self {
        let (room_display, meeting_url) = describe(state, &request.room_name);
        RequestView {
            id: request.id,
            room: request.room_name,
            room_display,
            meeting_url,
            requester: request.requester,
            reason: request.reason,
            co_owners: request.co_owners,
            status: request.status,
            decided_by: request.decided_by,
            decision_message: request.decision_message,
            auto_pattern: request.auto_pattern,
            created_at: request.created_at,
            decided_at: request.decided_at,
            room_id: request.room_id,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RecordingView {
    pub id: String,
    /// The registered room (display form), `None` while unassigned.
    pub room: Option<String>,
    pub meeting_url: String,
    pub started_at: String,
    pub duration_s: Option<i64>,
    pub size_bytes: i64,
    pub file_name: String,
    pub participants: Vec<String>,
    /// When retention deletes it.
    pub deleted_at: String,
    #[serde(skip)]
    pub started_unix: i64,
    #[serde(skip)]
    pub deleted_unix: i64,
}

pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub fn view(state: &AppState, recording: &Recording) -> RecordingView {
    let deleted_unix = state.usecases.recordings.deleted_at(recording);
    RecordingView {
        id: recording.id.clone(),
        room: recording.room_name.as_deref().map(|name| {
            RoomName::from_canonical(name).map_or_else(|_| name.to_owned(), |n| n.display())
        }),
        meeting_url: recording.meeting_url.clone(),
        started_at: rfc3339(recording.started_at),
        duration_s: recording.duration_ms.map(|ms| (ms + 500) / 1000),
        size_bytes: recording.size_bytes,
        file_name: download_name(recording),
        participants: recording.participants.clone(),
        deleted_at: rfc3339(deleted_unix),
        started_unix: recording.started_at,
        deleted_unix,
    }
}

#[derive(Debug, Serialize)]
pub struct ShareLinkView {
    pub id: i64,
    pub created_by: roomkeeper_domain::Username,
    pub created_at: String,
    pub expires_at: String,
    pub active: bool,
    /// Only in the answer that created it: the secret is not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

pub fn link_view(state: &AppState, link: &ShareLink, url: Option<String>) -> ShareLinkView {
    ShareLinkView {
        id: link.id,
        created_by: link.created_by.clone(),
        created_at: rfc3339(link.created_at),
        expires_at: rfc3339(link.expires_at),
        active: link.revoked_at.is_none() && link.expires_at > state.usecases.clock.now(),
        url,
    }
}

/// A link just made, with the only copy of its address.
pub fn new_link_view(state: &AppState, link: &ShareLink, secret: &str) -> ShareLinkView {
    let url = format!("{}/shared/{secret}", state.http.base_url());
    link_view(state, link, Some(url))
}
