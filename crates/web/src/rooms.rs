//! Room registration rules shared by the pages and the API: requests, decisions,
//! patterns, co-owners, transfer and release. Permission checks happened before these
//! are called (in the extractors); these enforce what the input must look like.

use std::net::IpAddr;

use roomkeeper_domain::{Pattern, RoomName, Username};
use roomkeeper_store::{
    Audit, NewRequest, RequestStatus, Room, RoomRequest, User, UserPattern, Verdict,
};
use serde::Serialize;

use crate::{AppState, Error, mail};

pub const REASON_MAX_CHARS: usize = 2000;
pub const DECISION_MESSAGE_MAX_CHARS: usize = 2000;

/// A room as pages and API show it.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub id: i64,
    /// Canonical: what Jitsi addresses (`m%c3%bcller`, `physik/logic`).
    pub name: String,
    /// For people (`müller`, `physik/logic`).
    pub display_name: String,
    pub meeting_url: Option<String>,
    pub owner: String,
    pub co_owners: Vec<String>,
    pub created_at: i64,
    pub last_activity_at: i64,
}

/// A request as pages and API show it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: i64,
    pub room: String,
    pub room_display: String,
    pub meeting_url: Option<String>,
    pub requester: String,
    pub reason: String,
    pub co_owners: Vec<String>,
    pub status: RequestStatus,
    pub decided_by: Option<String>,
    pub decision_message: Option<String>,
    pub auto_pattern: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub room_id: Option<i64>,
}

/// How a stored canonical name reads and links; names that no longer parse (they were
/// valid when stored) are shown as they are.
fn describe(state: &AppState, canonical: &str) -> (String, Option<String>) {
    match RoomName::from_canonical(canonical) {
        Ok(name) => (
            name.display(),
            state
                .meeting_bases
                .first()
                .map(|base| name.meeting_url(base)),
        ),
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
            created_at: room.created_at,
            last_activity_at: room.last_activity_at,
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

pub fn audit<'a>(state: &AppState, actor: &'a User, address: Option<&'a str>) -> Audit<'a> {
    Audit {
        actor: Some(&actor.username),
        address,
        now: state.clock.now(),
    }
}

pub fn address_text(address: Option<IpAddr>) -> Option<String> {
    address.map(|a| a.to_string())
}

pub fn parse_room(state: &AppState, input: &str) -> Result<RoomName, Error> {
    RoomName::parse(input, &state.meeting_bases)
        .map_err(|e| Error::invalid("invalid_room", e.to_string()))
}

/// Usernames as typed (one per entry; entries may hold several separated by commas,
/// spaces or new lines), normalised, without duplicates and without `except`.
pub fn parse_usernames<S: AsRef<str>>(inputs: &[S], except: &str) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    for input in inputs {
        for piece in input
            .as_ref()
            .split([',', ';', '\n', '\r', ' ', '\t'])
            .filter(|p| !p.trim().is_empty())
        {
            let name = Username::parse(piece)
                .map_err(|e| Error::invalid("invalid_username", format!("{piece:?}: {e}")))?;
            if name.as_str() != except && !names.iter().any(|n: &String| n == name.as_str()) {
                names.push(name.as_str().to_owned());
            }
        }
    }
    Ok(names)
}

pub fn parse_pattern(input: &str) -> Result<Pattern, Error> {
    Pattern::parse(input).map_err(|e| Error::invalid("invalid_pattern", e.to_string()))
}

fn checked_message(message: Option<&str>) -> Result<Option<String>, Error> {
    let message = message.map(str::trim).filter(|m| !m.is_empty());
    if message.is_some_and(|m| m.chars().count() > DECISION_MESSAGE_MAX_CHARS) {
        return Err(Error::invalid(
            "invalid_message",
            format!("A message may have at most {DECISION_MESSAGE_MAX_CHARS} characters."),
        ));
    }
    Ok(message.map(str::to_owned))
}

/// Files a request; approves it at once when one of the requester's patterns matches.
pub async fn request_room(
    state: &AppState,
    requester: &User,
    room: &str,
    reason: &str,
    co_owners: &[String],
    address: Option<&str>,
) -> Result<RoomRequest, Error> {
    let name = parse_room(state, room)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "invalid_reason",
            "Tell the administrators why this room should be yours: they may not know you.",
        ));
    }
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(Error::invalid(
            "invalid_reason",
            format!("The reason may have at most {REASON_MAX_CHARS} characters."),
        ));
    }
    let co_owners = parse_usernames(co_owners, &requester.username)?;
    let canonical = name.canonical();
    if let Some(pending) = state.store.pending_request_for(&canonical).await? {
        if pending.requester == requester.username {
            return Err(Error::Conflict {
                code: "already_requested",
                message:
                    "You have already asked for this room; your request is waiting for approval."
                        .into(),
            });
        }
    }
    let patterns = state.store.patterns_of(&requester.username).await?;
    let auto = patterns
        .iter()
        .find(|p| Pattern::parse(&p.pattern).is_ok_and(|pattern| pattern.matches(&name)));
    let new = NewRequest {
        room_name: canonical,
        requester: requester.username.clone(),
        reason: reason.to_owned(),
        co_owners,
    };
    let emails = if auto.is_none() {
        mail::new_request(state, &new).await?
    } else {
        Vec::new()
    };
    let audit = audit(state, requester, address);
    let request = state
        .store
        .create_request(&new, auto.map(|p| p.pattern.as_str()), &audit, &emails)
        .await?;
    if !emails.is_empty() {
        state.mail_wakeup.notify_one();
    }
    tracing::info!(
        room = %request.room_name,
        requester = %request.requester,
        status = request.status.as_str(),
        "room requested"
    );
    Ok(request)
}

pub async fn decide(
    state: &AppState,
    admin: &User,
    request_id: i64,
    approve: bool,
    pattern: Option<&str>,
    message: Option<&str>,
    address: Option<&str>,
) -> Result<RoomRequest, Error> {
    let message = checked_message(message)?;
    let verdict = if approve {
        let pattern = pattern
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(parse_pattern)
            .transpose()?;
        Verdict::Approve {
            pattern: pattern.map(|p| p.as_str().to_owned()),
        }
    } else {
        Verdict::Reject
    };
    let emails = match state.store.request(request_id).await? {
        Some(request) => mail::decision(state, &request, approve, message.as_deref()).await?,
        None => Vec::new(),
    };
    let audit = audit(state, admin, address);
    let decided = state
        .store
        .decide_request(request_id, &verdict, message.as_deref(), &audit, &emails)
        .await?;
    if !emails.is_empty() {
        state.mail_wakeup.notify_one();
    }
    tracing::info!(room = %decided.room_name, admin = %admin.username, status = decided.status.as_str(), "request decided");
    Ok(decided)
}

/// A pattern with what it would approve and whom it could collide with.
#[derive(Debug, Clone, Serialize)]
pub struct PatternReport {
    #[serde(flatten)]
    pub pattern: UserPattern,
    /// Registered rooms the pattern matches (any owner).
    pub matching_rooms: Vec<String>,
    /// Pending requests (anyone's) the pattern matches.
    pub matching_requests: Vec<i64>,
    /// Patterns of other users that some room name could match too.
    pub overlaps_with: Vec<UserPattern>,
}

pub async fn pattern_reports(
    state: &AppState,
    username: &str,
) -> Result<Vec<PatternReport>, Error> {
    let own = state.store.patterns_of(username).await?;
    if own.is_empty() {
        return Ok(Vec::new());
    }
    let all = state.store.all_patterns().await?;
    let rooms = state.store.room_names().await?;
    let pending = all_pending(state).await?;
    let mut reports = Vec::new();
    for stored in own {
        let Ok(pattern) = Pattern::parse(&stored.pattern) else {
            continue;
        };
        let matches = |canonical: &str| {
            RoomName::from_canonical(canonical).is_ok_and(|n| pattern.matches(&n))
        };
        let matching_rooms = rooms
            .iter()
            .filter(|(_, name, _)| matches(name))
            .map(|(_, name, _)| name.clone())
            .collect();
        let matching_requests = pending
            .iter()
            .filter(|r| matches(&r.room_name))
            .map(|r| r.id)
            .collect();
        let overlaps_with = all
            .iter()
            .filter(|other| other.username != username)
            .filter(|other| Pattern::parse(&other.pattern).is_ok_and(|o| o.overlaps(&pattern)))
            .cloned()
            .collect();
        reports.push(PatternReport {
            pattern: stored,
            matching_rooms,
            matching_requests,
            overlaps_with,
        });
    }
    Ok(reports)
}

pub async fn add_pattern(
    state: &AppState,
    admin: &User,
    username: &str,
    pattern: &str,
    address: Option<&str>,
) -> Result<UserPattern, Error> {
    let username = Username::parse(username)?;
    let pattern = parse_pattern(pattern)?;
    let audit = audit(state, admin, address);
    Ok(state
        .store
        .add_pattern(username.as_str(), pattern.as_str(), &audit)
        .await?)
}

/// The room list filter for a search box: the term is matched against canonical names
/// (so "müller" finds `m%c3%bcller`) and against owners as typed.
pub fn room_filter(
    visible_to: Option<String>,
    search: Option<&str>,
) -> roomkeeper_store::RoomFilter {
    let term = search.map(str::trim).filter(|t| !t.is_empty());
    roomkeeper_store::RoomFilter {
        visible_to,
        search_name: term.map(roomkeeper_domain::room::jitsi_normalize),
        search_owner: term.map(str::to_lowercase),
    }
}

async fn all_pending(state: &AppState) -> Result<Vec<RoomRequest>, Error> {
    let filter = roomkeeper_store::RequestFilter {
        status: Some(RequestStatus::Pending),
        ..Default::default()
    };
    let mut all = Vec::new();
    for number in 1.. {
        let page = roomkeeper_store::Page::new(number, roomkeeper_store::Page::MAX_SIZE);
        let list = state.store.list_requests(&filter, page).await?;
        let done = list.items.len() < page.size as usize;
        all.extend(list.items);
        if done {
            break;
        }
    }
    Ok(all)
}

/// Where a room's history starts for this person: admins see all of it; owners and
/// co-owners from this registration on (a name released and registered again by someone
/// else does not show the earlier holder's entries).
pub fn history_start(user: &roomkeeper_store::User, room: &roomkeeper_store::Room) -> Option<i64> {
    (!user.is_admin).then_some(room.created_at)
}

/// The entries as this person may see them: the addresses people came from (visitors of
/// share links, other owners) are for admins only.
pub fn history_for(
    user: &roomkeeper_store::User,
    mut list: roomkeeper_store::Paged<roomkeeper_store::AuditEntry>,
) -> roomkeeper_store::Paged<roomkeeper_store::AuditEntry> {
    if !user.is_admin {
        for entry in &mut list.items {
            entry.address = None;
        }
    }
    list
}
