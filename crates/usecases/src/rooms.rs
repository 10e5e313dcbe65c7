//! Room registration: requests and decisions, patterns, co-owners, transfer and release,
//! and what people see of rooms, requests and history.

use roomkeeper_domain::Refusal;
use roomkeeper_domain::{Action, Actor, Decision, Pattern, RoomName, Username, decide};
use roomkeeper_store::{
    AuditEntry, NewRequest, Notice, Overview, Page, Paged, RequestFilter, RequestStatus, Room,
    RoomFilter, RoomRequest, User, UserPattern, Verdict,
};
use serde::Serialize;

use crate::{Acting, Error, Stamp, UseCases, mail};

pub const REASON_MAX_CHARS: usize = 2000;
pub const DECISION_MESSAGE_MAX_CHARS: usize = 2000;

pub fn parse_room(uc: &UseCases, input: &str) -> Result<RoomName, Error> {
    RoomName::parse(input, &uc.meeting_bases)
        .map_err(|e| Error::refused(Refusal::InvalidRoom, e.to_string()))
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
                .map_err(|e| Error::refused(Refusal::InvalidUsername, format!("{piece:?}: {e}")))?;
            if name.as_str() != except && !names.iter().any(|n: &String| n == name.as_str()) {
                names.push(name.as_str().to_owned());
            }
        }
    }
    Ok(names)
}

pub fn parse_pattern(input: &str) -> Result<Pattern, Error> {
    Pattern::parse(input).map_err(|e| Error::refused(Refusal::InvalidPattern, e.to_string()))
}

fn checked_message(message: Option<&str>) -> Result<Option<String>, Error> {
    let message = message.map(str::trim).filter(|m| !m.is_empty());
    if message.is_some_and(|m| m.chars().count() > DECISION_MESSAGE_MAX_CHARS) {
        return Err(Error::refused(
            Refusal::InvalidMessage,
            format!("A message may have at most {DECISION_MESSAGE_MAX_CHARS} characters."),
        ));
    }
    Ok(message.map(str::to_owned))
}

/// Files a request; approves it at once when one of the requester's patterns matches.
pub async fn request(
    uc: &UseCases,
    acting: &Acting<'_>,
    room: &str,
    reason: &str,
    co_owners: &[String],
) -> Result<RoomRequest, Error> {
    let requester = acting.user;
    let name = parse_room(uc, room)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::refused(
            Refusal::InvalidReason,
            "Tell the administrators why this room should be yours: they may not know you.",
        ));
    }
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(Error::refused(
            Refusal::InvalidReason,
            format!("The reason may have at most {REASON_MAX_CHARS} characters."),
        ));
    }
    let co_owners = parse_usernames(co_owners, &requester.username)?;
    let canonical = name.canonical();
    if let Some(pending) = uc.store.pending_request_for(&canonical).await? {
        if pending.requester == requester.username {
            return Err(Error::refused(
                Refusal::AlreadyRequested,
                "You have already asked for this room; your request is waiting for approval.",
            ));
        }
    }
    // The requester's own patterns, then those of the groups they are in.
    let own = uc.store.patterns_of(&requester.username).await?;
    let of_groups = uc.store.group_patterns_of(&requester.username).await?;
    let matches = |pattern: &str| Pattern::parse(pattern).is_ok_and(|p| p.matches(&name));
    let auto = own
        .iter()
        .map(|p| p.pattern.as_str())
        .chain(of_groups.iter().map(|p| p.pattern.as_str()))
        .find(|pattern| matches(pattern));
    let new = NewRequest {
        room_name: canonical,
        requester: requester.username.to_string(),
        reason: reason.to_owned(),
        co_owners,
    };
    let emails = if auto.is_none() {
        mail::new_request(uc, &new).await?
    } else {
        Vec::new()
    };
    let stamp = Stamp::new(uc, acting);
    let request = uc
        .store
        .create_request(&new, auto, &stamp.audit(), &emails)
        .await?;
    uc.mail.queued(&emails);
    tracing::info!(
        room = %request.room_name,
        requester = %request.requester,
        status = request.status.as_str(),
        "room requested"
    );
    Ok(request)
}

/// Approves (with an optional pattern for the requester's later requests) or rejects.
pub async fn decide_request(
    uc: &UseCases,
    acting: &Acting<'_>,
    request_id: i64,
    approve: bool,
    pattern: Option<&str>,
    message: Option<&str>,
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
    let emails = match uc.store.request(request_id).await? {
        Some(request) => mail::decision(uc, &request, approve, message.as_deref()).await?,
        None => Vec::new(),
    };
    let stamp = Stamp::new(uc, acting);
    let decided = uc
        .store
        .decide_request(
            request_id,
            &verdict,
            message.as_deref(),
            &stamp.audit(),
            &emails,
        )
        .await?;
    uc.mail.queued(&emails);
    tracing::info!(room = %decided.room_name, admin = %acting.user.username, status = decided.status.as_str(), "request decided");
    Ok(decided)
}

pub async fn withdraw_request(
    uc: &UseCases,
    acting: &Acting<'_>,
    request_id: i64,
) -> Result<RoomRequest, Error> {
    let stamp = Stamp::new(uc, acting);
    Ok(uc
        .store
        .withdraw_request(request_id, &stamp.audit())
        .await?)
}

/// The requests `viewer` sees: their own, newest first; for admins every request,
/// oldest first (the queue).
pub async fn requests(
    uc: &UseCases,
    viewer: &User,
    status: Option<RequestStatus>,
    page: Page,
) -> Result<Paged<RoomRequest>, Error> {
    let sees_all = viewer.is_admin;
    let filter = RequestFilter {
        status,
        requester: (!sees_all).then(|| viewer.username.to_string()),
        newest_first: !sees_all,
    };
    Ok(uc.store.list_requests(&filter, page).await?)
}

/// Someone's own requests, newest first (admins' too: their home page lists theirs).
pub async fn own_requests(
    uc: &UseCases,
    user: &User,
    page: Page,
) -> Result<Paged<RoomRequest>, Error> {
    let filter = RequestFilter {
        requester: Some(user.username.to_string()),
        newest_first: true,
        ..Default::default()
    };
    Ok(uc.store.list_requests(&filter, page).await?)
}

/// What `user`'s home page shows: a page of their rooms (owned or co-owned), their
/// newest `latest_requests` requests and their unread notices.
pub async fn overview(
    uc: &UseCases,
    user: &User,
    rooms: Page,
    latest_requests: u32,
) -> Result<Overview, Error> {
    Ok(uc
        .store
        .overview(&user.username, rooms, latest_requests)
        .await?)
}

/// How many requests wait for a decision.
pub async fn pending_count(uc: &UseCases) -> Result<i64, Error> {
    Ok(uc.store.count_pending_requests().await?)
}

/// Names the co-owners, and with `groups` the co-owning groups (`None` keeps them).
/// Groups are checked with their source first (see [`crate::groups::parse_groups`]);
/// a directory group newly named is read before anything is written (too large: refused),
/// and its members have the room at once.
pub async fn set_co_owners<S: AsRef<str>>(
    uc: &UseCases,
    acting: &Acting<'_>,
    room: &Room,
    usernames: &[S],
    groups: Option<&[S]>,
) -> Result<Room, Error> {
    let usernames = parse_usernames(usernames, room.owner.as_str())?;
    let groups = match groups {
        Some(groups) => Some(crate::groups::parse_groups(uc, groups).await?),
        None => None,
    };
    let known: Vec<_> = room
        .co_owner_groups
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let read = match &groups {
        Some(groups) => crate::groups::read_new_groups(uc, groups, &known).await?,
        None => Vec::new(),
    };
    let stamp = Stamp::new(uc, acting);
    let changed = uc
        .store
        .set_co_owners(room.id, &usernames, groups.as_deref(), &stamp.audit())
        .await?;
    if read.is_empty() {
        return Ok(changed);
    }
    crate::groups::keep_members(uc, &read).await?;
    Ok(uc.store.room(room.id).await?.unwrap_or(changed))
}

pub async fn transfer(
    uc: &UseCases,
    acting: &Acting<'_>,
    room: &Room,
    to: &str,
) -> Result<Room, Error> {
    let to = Username::parse(to)?;
    let stamp = Stamp::new(uc, acting);
    Ok(uc
        .store
        .transfer_room(room.id, to.as_str(), &stamp.audit())
        .await?)
}

pub async fn release(uc: &UseCases, acting: &Acting<'_>, room: &Room) -> Result<(), Error> {
    let stamp = Stamp::new(uc, acting);
    Ok(uc.store.release_room(room.id, &stamp.audit()).await?)
}

/// Rooms owned or co-owned by `visible_to` (every room when `None`), filtered by a
/// search box: the term is matched against canonical names (so "müller" finds
/// `m%c3%bcller`) and against owners as typed.
pub async fn list(
    uc: &UseCases,
    visible_to: Option<&str>,
    search: Option<&str>,
    page: Page,
) -> Result<Paged<Room>, Error> {
    let term = search.map(str::trim).filter(|t| !t.is_empty());
    let filter = RoomFilter {
        visible_to: visible_to.map(str::to_owned),
        search_name: term.map(roomkeeper_domain::room::jitsi_normalize),
        search_owner: term.map(str::to_lowercase),
    };
    Ok(uc.store.list_rooms(&filter, page).await?)
}

/// [`list`] of the rooms `viewer` may see: every room for whoever oversees them all,
/// their own and co-owned ones for everyone else (`authz`).
pub async fn list_for(
    uc: &UseCases,
    viewer: &User,
    search: Option<&str>,
    page: Page,
) -> Result<Paged<Room>, Error> {
    let visible_to = match decide(actor(viewer), Action::OverseeAllRooms) {
        Decision::Allowed => None,
        _ => Some(viewer.username.as_str()),
    };
    list(uc, visible_to, search, page).await
}

fn actor(user: &User) -> Actor<'_> {
    Actor::User {
        username: &user.username,
        is_admin: user.is_admin,
    }
}

/// The room with this name (any accepted spelling), if `viewer` may see it.
pub async fn find(uc: &UseCases, viewer: &User, name: &str) -> Result<Option<Room>, Error> {
    let name = parse_room(uc, name)?;
    let room = uc.store.room_by_name(&name.canonical()).await?;
    Ok(room.filter(|r| decide(actor(viewer), Action::ViewRoom(r.facts())) == Decision::Allowed))
}

pub async fn room(uc: &UseCases, id: i64) -> Result<Room, Error> {
    uc.store.room(id).await?.ok_or(Error::NotFound)
}

/// The room request with this id (whoever made it; access is the caller's question).
pub async fn find_request(uc: &UseCases, id: i64) -> Result<RoomRequest, Error> {
    uc.store.request(id).await?.ok_or(Error::NotFound)
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

pub async fn pattern_reports(uc: &UseCases, username: &str) -> Result<Vec<PatternReport>, Error> {
    let username = Username::parse(username)?;
    let username = username.as_str();
    let own = uc.store.patterns_of(username).await?;
    if own.is_empty() {
        return Ok(Vec::new());
    }
    let all = uc.store.all_patterns().await?;
    let rooms = uc.store.room_names().await?;
    let pending = all_pending(uc).await?;
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
            .filter(|r| pattern.matches(&r.room_name))
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

/// Every pattern of every user.
pub async fn all_patterns(uc: &UseCases) -> Result<Vec<UserPattern>, Error> {
    Ok(uc.store.all_patterns().await?)
}

pub async fn add_pattern(
    uc: &UseCases,
    acting: &Acting<'_>,
    username: &str,
    pattern: &str,
) -> Result<UserPattern, Error> {
    let username = Username::parse(username)?;
    let pattern = parse_pattern(pattern)?;
    let stamp = Stamp::new(uc, acting);
    Ok(uc
        .store
        .add_pattern(username.as_str(), pattern.as_str(), &stamp.audit())
        .await?)
}

pub async fn delete_pattern(
    uc: &UseCases,
    acting: &Acting<'_>,
    username: &str,
    id: i64,
) -> Result<(), Error> {
    let username = Username::parse(username)?;
    let stamp = Stamp::new(uc, acting);
    if uc
        .store
        .delete_pattern(username.as_str(), id, &stamp.audit())
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

async fn all_pending(uc: &UseCases) -> Result<Vec<RoomRequest>, Error> {
    let filter = RequestFilter {
        status: Some(RequestStatus::Pending),
        ..Default::default()
    };
    let mut all = Vec::new();
    for number in 1.. {
        let page = Page::new(number, Page::MAX_SIZE);
        let list = uc.store.list_requests(&filter, page).await?;
        let done = list.items.len() < page.size as usize;
        all.extend(list.items);
        if done {
            break;
        }
    }
    Ok(all)
}

/// A room's history (every room's for `room: None`, which only admins may ask) as
/// `viewer` may see it: admins all of it; owners and co-owners from the request that
/// made this registration on (a name released and registered again by someone else
/// does not show the earlier holder's entries), and without the addresses people came
/// from.
pub async fn history(
    uc: &UseCases,
    viewer: &User,
    room: Option<&Room>,
    page: Page,
) -> Result<Paged<AuditEntry>, Error> {
    let since = match room {
        Some(room) if !viewer.is_admin => Some(tenure_start(uc, room).await?),
        _ => None,
    };
    let mut list = uc
        .store
        .audit_log_since(room.map(|r| r.name.as_str()), since, page)
        .await?;
    if !viewer.is_admin {
        for entry in &mut list.items {
            entry.address = None;
        }
    }
    Ok(list)
}

/// When this registration began: its request (the approval may have come much later),
/// or the room's creation when no request made it.
async fn tenure_start(uc: &UseCases, room: &Room) -> Result<i64, Error> {
    let request = uc.store.request_of_room(room.id).await?;
    Ok(request.map_or(room.created_at, |r| r.created_at.min(room.created_at)))
}

pub async fn notices(uc: &UseCases, user: &User) -> Result<Vec<Notice>, Error> {
    Ok(uc.store.notices_of(&user.username).await?)
}

pub async fn dismiss_notice(uc: &UseCases, user: &User, id: i64) -> Result<(), Error> {
    if uc
        .store
        .dismiss_notice(&user.username, id, uc.clock.now())
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// The admins' queue: requests with one status; pending ones oldest first (whoever
/// waited longest comes first), decided ones latest first.
pub async fn queue(
    uc: &UseCases,
    status: RequestStatus,
    page: Page,
) -> Result<Paged<RoomRequest>, Error> {
    let filter = RequestFilter {
        status: Some(status),
        requester: None,
        newest_first: status != RequestStatus::Pending,
    };
    Ok(uc.store.list_requests(&filter, page).await?)
}

/// What the queue shows beside each request, for a whole page at once.
pub struct QueueFacts {
    /// The rooms each requester owns.
    pub rooms_by_owner: std::collections::HashMap<String, Vec<String>>,
    /// Who already owns a requested room.
    pub owner_by_room: std::collections::HashMap<String, String>,
    pub patterns: Vec<UserPattern>,
    /// Recordings made before anyone registered the room, per room name.
    pub waiting_recordings: std::collections::HashMap<String, usize>,
}

pub async fn queue_facts(uc: &UseCases, requests: &[RoomRequest]) -> Result<QueueFacts, Error> {
    let owners: Vec<String> = requests
        .iter()
        .map(|r| r.requester.as_str().to_owned())
        .collect();
    let names: Vec<String> = requests.iter().map(|r| r.room_name.canonical()).collect();
    let mut rooms_by_owner: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut owner_by_room = std::collections::HashMap::new();
    for (owner, name) in uc.store.rooms_owned_or_named(&owners, &names).await? {
        rooms_by_owner
            .entry(owner.clone())
            .or_default()
            .push(name.clone());
        owner_by_room.insert(name, owner);
    }
    let mut waiting_recordings = std::collections::HashMap::new();
    for recording in uc.store.unassigned_recordings().await? {
        if let Some(room) = recording.meeting_room {
            *waiting_recordings.entry(room.to_string()).or_default() += 1;
        }
    }
    Ok(QueueFacts {
        rooms_by_owner,
        owner_by_room,
        patterns: uc.store.all_patterns().await?,
        waiting_recordings,
    })
}

/// Every user's patterns with their reports (the admins' patterns page).
pub async fn all_pattern_reports(uc: &UseCases) -> Result<Vec<PatternReport>, Error> {
    let mut users: Vec<String> = all_patterns(uc)
        .await?
        .into_iter()
        .map(|p| p.username)
        .collect();
    users.dedup();
    let mut reports = Vec::new();
    for user in users {
        reports.extend(pattern_reports(uc, &user).await?);
    }
    Ok(reports)
}
