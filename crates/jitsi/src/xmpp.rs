//! One long-lived XMPP connection to one Prosody, as the service account. tokio-xmpp
//! reconnects by itself; while the connection is down, actions fail at once with
//! [`Error::Unreachable`] instead of waiting. With the companion Prosody module
//! (`prosody/mod_roomkeeper.lua`) a room is one query with display names, a kick is a
//! real kick and changes are pushed; without it the plain MUC admin queries are used.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use roomkeeper_domain::RoomName;
use tokio::sync::{broadcast, mpsc};
use tokio_xmpp::Stanza;
use tokio_xmpp::connect::{DnsConfig, TcpServerConnector};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, StanzaError};
use tokio_xmpp::xmlstream::Timeouts;

use crate::connection::{Connection, ConnectionTask, Event, Request};
use crate::events::{self, RoomEvent};
use crate::jitter::Jittered;
use crate::reach::{Attempts, ConnectProblem};
use crate::stanzas::{self, DISCO_ITEMS, MUC_ADMIN, ROOMKEEPER};
use crate::tls::StartTls;
use crate::{
    Error, Meeting, MeetingControl, Participant, RoomOwnership, ShardConfig, XmppSecurity,
    not_owner_help,
};

/// How many pushed events may wait for a slow follower before it must read again.
const EVENT_BUFFER: usize = 4096;

pub struct XmppShard {
    config: ShardConfig,
    link: Arc<Link>,
    events: broadcast::Sender<RoomEvent>,
    /// Without the companion module: when each occupant was first seen, per room JID,
    /// for "time in the meeting". A room's entry is replaced at every read.
    first_seen: Mutex<HashMap<String, HashMap<String, i64>>>,
    _connection: ConnectionTask,
    _supervisor: AbortOnDrop,
}

/// The connection and what we know of it, shared with the task that subscribes to the
/// companion module after every connect.
struct Link {
    connection: Connection,
    /// Reads (IQ gets) take this before going to the connection, so at most one read is
    /// queued ahead of an action: an owner reloading a page many times a second cannot
    /// push everyone's revoke past its answer timeout.
    one_read_in_line: tokio::sync::Semaphore,
    online: AtomicBool,
    /// The companion module accepted our subscription on this connection.
    companion: AtomicBool,
    /// Our full JID on this connection (where the module sends events).
    bound_jid: Mutex<Option<String>>,
    /// Connected and the companion module asked for: ready for actions.
    ready: tokio::sync::watch::Sender<bool>,
    address: String,
    /// Why the connection is down, as the last attempt found.
    attempts: Attempts,
    /// `ShardConfig::answer_timeout_ms`.
    answer_timeout: Duration,
    /// Told by the companion module at connect, or learnt from the first owner query.
    ownership: Mutex<RoomOwnership>,
    /// Told by the companion module.
    prosody_version: Mutex<Option<String>>,
    /// The companion module's revision, as it tells it (none from one older than
    /// revisions).
    module_revision: Mutex<Option<String>>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl XmppShard {
    /// Starts connecting in the background; [`XmppShard::is_online`] tells when it is up.
    pub fn connect(config: ShardConfig, password: String) -> Result<Self, Error> {
        let jid: Jid = config
            .account
            .parse()
            .map_err(|e| Error::Unreachable(format!("account {:?}: {e}", config.account)))?;
        let dns = DnsConfig::addr(&config.xmpp_address);
        let timeouts = Timeouts::tight();
        // The event handler runs inside the connection task, which exists before the
        // link that holds its handle.
        let shared: Arc<OnceLock<Arc<Link>>> = Arc::default();
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (connected, mut connects) = mpsc::unbounded_channel();
        let attempts = Attempts::default();
        let on_event = {
            let attempts = attempts.clone();
            let shared = Arc::clone(&shared);
            let events = events.clone();
            let config = config.clone();
            let muc = config.muc_domain();
            move |event| {
                let Some(link) = shared.get() else { return };
                match event {
                    Event::Online { bound_jid } => {
                        attempts.online();
                        link.online.store(true, Ordering::SeqCst);
                        *link
                            .bound_jid
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some(bound_jid.to_string());
                        tracing::info!(shard = %config.name, jid = %bound_jid, "connected to Prosody");
                        let _ = connected.send(());
                    }
                    // IQs waiting for answers have been failed by the connection.
                    Event::Lost => {
                        link.online.store(false, Ordering::SeqCst);
                        link.companion.store(false, Ordering::SeqCst);
                        link.ready.send_replace(false);
                        tracing::warn!(shard = %config.name, "lost the connection to Prosody; reconnecting");
                    }
                    // Only the MUC component speaks for its rooms: anyone on the server
                    // can send us a message, and a forged event would show lecturers a
                    // meeting that is not there.
                    Event::Stanza(Stanza::Message(message))
                        if message.from.as_ref().map(ToString::to_string).as_deref()
                            == Some(muc.as_str()) =>
                    {
                        for payload in &message.payloads {
                            if let Some(event) = events::parse(payload, &config) {
                                let _ = events.send(event);
                            }
                        }
                    }
                    Event::Answered {
                        from: Some(from),
                        payload: Some(room),
                    } if room.is("room", ROOMKEEPER) => {
                        if let Some(name) = config.room_of_jid(&from.to_string()) {
                            let meeting = events::module_meeting(&room, &config);
                            let _ = events.send(RoomEvent::Snapshot {
                                room: name,
                                meeting,
                            });
                        }
                    }
                    Event::Stanza(_) | Event::Answered { .. } => {}
                }
            }
        };
        let (connection, task) = match config.security {
            XmppSecurity::Plain => Connection::start(
                Jittered::new(TcpServerConnector::from(dns), attempts.clone()),
                jid,
                password,
                timeouts,
                on_event,
            ),
            XmppSecurity::Starttls => Connection::start(
                Jittered::new(
                    StartTls::new(dns, config.ca_file.as_deref()).map_err(|problem| {
                        Error::NotConnected(ConnectProblem::Certificate(problem))
                    })?,
                    attempts.clone(),
                ),
                jid,
                password,
                timeouts,
                on_event,
            ),
        };
        let link = Arc::new(Link {
            connection,
            one_read_in_line: tokio::sync::Semaphore::new(1),
            online: AtomicBool::new(false),
            companion: AtomicBool::new(false),
            ready: tokio::sync::watch::Sender::new(false),
            bound_jid: Mutex::default(),
            address: config.xmpp_address.clone(),
            attempts,
            answer_timeout: Duration::from_millis(config.answer_timeout_ms),
            ownership: Mutex::new(RoomOwnership::Unknown),
            prosody_version: Mutex::default(),
            module_revision: Mutex::default(),
        });
        let _ = shared.set(Arc::clone(&link));
        // After every connect: ask for events (which tells whether the module is there),
        // then have every follower read its room again: changes were missed meanwhile.
        let supervisor = {
            let link = Arc::clone(&link);
            let events = events.clone();
            let muc = config.muc_domain();
            let name = config.name.clone();
            tokio::spawn(async move {
                while connects.recv().await.is_some() {
                    // Not `Link::iq`: a refusal here is the module's (an account not in
                    // roomkeeper_accounts), not Prosody's word on room ownership.
                    let answer = link
                        .exchange(&muc, true, &stanzas::module_subscribe())
                        .await
                        .and_then(|answer| answer.map_err(|error| refusal(&error)));
                    link.companion.store(answer.is_ok(), Ordering::SeqCst);
                    match answer {
                        Ok(subscribed) => {
                            tracing::info!(shard = %name, "companion module found: changes are pushed");
                            let subscribed = subscribed.filter(|s| s.is("subscribed", ROOMKEEPER));
                            let version = subscribed.as_ref().and_then(|s| s.attr("prosody"));
                            *lock(&link.prosody_version) = version.map(str::to_owned);
                            let revision = subscribed.as_ref().and_then(|s| s.attr("revision"));
                            *lock(&link.module_revision) = revision.map(str::to_owned);
                            if let Some(problem) = crate::module_mismatch(revision) {
                                tracing::warn!(shard = %name, "{problem}");
                            }
                            match subscribed.as_ref().and_then(|s| s.attr("owner")) {
                                Some(owner) => link.learn_ownership(owner == "1"),
                                None => *lock(&link.ownership) = RoomOwnership::Unknown,
                            }
                        }
                        Err(error) => {
                            tracing::info!(shard = %name, %error, "no companion module: rooms are polled");
                            *lock(&link.prosody_version) = None;
                            *lock(&link.module_revision) = None;
                            link.probe_ownership(&muc).await;
                        }
                    }
                    link.ready.send_replace(true);
                    let _ = events.send(RoomEvent::Resync);
                }
            })
        };
        Ok(Self {
            config,
            link,
            events,
            first_seen: Mutex::default(),
            _connection: task,
            _supervisor: AbortOnDrop(supervisor),
        })
    }

    pub fn is_online(&self) -> bool {
        self.link.online.load(Ordering::SeqCst)
    }

    /// Why the connection is down (`None` while it is up, or before the first attempt
    /// has ended).
    pub fn problem(&self) -> Option<ConnectProblem> {
        if self.is_online() {
            return None;
        }
        self.link.attempts.problem()
    }

    /// Waits until the shard is online (`Ok`), or an attempt found a problem an operator
    /// must fix (`Err`); `Ok(false)` when neither happened within `limit`.
    pub async fn wait_online_or_problem(&self, limit: Duration) -> Result<bool, ConnectProblem> {
        let mut ready = self.link.ready.subscribe();
        let mut attempts = self.link.attempts.changes();
        let until_told = async {
            loop {
                attempts.borrow_and_update();
                if *ready.borrow_and_update() {
                    return Ok(true);
                }
                if let Some(problem) = self.problem().filter(ConnectProblem::needs_operator) {
                    return Err(problem);
                }
                let changed = tokio::select! {
                    changed = ready.changed() => changed,
                    changed = attempts.changed() => changed,
                };
                if changed.is_err() {
                    return Ok(false);
                }
            }
        };
        tokio::time::timeout(limit, until_told)
            .await
            .unwrap_or(Ok(false))
    }

    /// Whether the companion module is loaded (known shortly after connecting).
    pub fn has_companion(&self) -> bool {
        self.is_online() && self.link.companion.load(Ordering::SeqCst)
    }

    /// The full JID this connection is bound to (once connected).
    pub fn bound_jid(&self) -> Option<String> {
        self.link
            .bound_jid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    /// Whether Prosody makes the service account owner of every room (see
    /// [`RoomOwnership`]).
    pub fn room_ownership(&self) -> RoomOwnership {
        *lock(&self.link.ownership)
    }

    /// Prosody's version, as the companion module tells it.
    pub fn prosody_version(&self) -> Option<String> {
        lock(&self.link.prosody_version).clone()
    }

    /// Why the companion module does not fit this Roomkeeper (see [`crate::module_mismatch`]);
    /// None while it fits or is not there.
    pub fn module_mismatch(&self) -> Option<String> {
        if !self.has_companion() {
            return None;
        }
        crate::module_mismatch(lock(&self.link.module_revision).as_deref())
    }

    /// Waits until the connection is up and the companion module has been asked for
    /// (start-up, tests), at most `limit`.
    pub async fn wait_online(&self, limit: Duration) -> bool {
        let mut ready = self.link.ready.subscribe();
        matches!(
            tokio::time::timeout(limit, ready.wait_for(|r| *r)).await,
            Ok(Ok(_))
        )
    }

    async fn iq(&self, to: &str, set: bool, payload: &str) -> Result<Option<Element>, Error> {
        self.link.iq(to, set, payload).await
    }

    /// A query or action through the companion module, answered with the room as it is
    /// afterwards; `None` when no module answers on that component.
    /// A lobby action: the module only (plain MUC administration cannot reach the lobby
    /// room); no room is "no meeting".
    async fn lobby_call(&self, room: &RoomName, payload: &str) -> Result<Meeting, Error> {
        if !self.has_companion() {
            return Err(Error::NeedsModule);
        }
        let room_jid = self.config.room_jid(room);
        match self.module_call(&room_jid, true, payload).await {
            Ok(Some(meeting)) => Ok(meeting),
            Ok(None) => Err(Error::NeedsModule),
            Err(other) => Err(other),
        }
    }

    async fn module_call(
        &self,
        room_jid: &str,
        set: bool,
        payload: &str,
    ) -> Result<Option<Meeting>, Error> {
        let answer = match self.link.exchange(room_jid, set, payload).await? {
            Ok(answer) => answer,
            Err(error) => {
                return match error.defined_condition {
                    // What Prosody answers when no module handles the query.
                    DefinedCondition::ServiceUnavailable
                    | DefinedCondition::FeatureNotImplemented => Ok(None),
                    // The module's word for "nobody with that nick is in the room".
                    DefinedCondition::RecipientUnavailable => Err(Error::ParticipantGone),
                    _ => Err(refusal(&error)),
                };
            }
        };
        let Some(room) = answer.filter(|r| r.is("room", ROOMKEEPER)) else {
            return Ok(None);
        };
        let meeting = events::module_meeting(&room, &self.config);
        Ok(Some(meeting))
    }

    /// The room through plain MUC administration: three role queries and the owner
    /// configuration form. No display names; join times as first seen by us.
    async fn admin_meeting(&self, room_jid: &str) -> Result<Meeting, Error> {
        let occupants = match self.occupants(room_jid).await {
            Ok(occupants) => occupants,
            Err(Error::NoMeeting) => {
                self.remember_seen(room_jid, &mut []);
                return Ok(Meeting::not_running());
            }
            Err(other) => return Err(other),
        };
        let config = self.iq(room_jid, false, &stanzas::owner_config()).await?;
        self.link.learn_ownership(true);
        let secret = config
            .as_ref()
            .and_then(|c| form_value(c, "muc#roomconfig_roomsecret"));
        let members_only = config
            .as_ref()
            .and_then(|c| form_value(c, "muc#roomconfig_membersonly"))
            .is_some_and(|v| v == "1" || v == "true");
        let mut participants: Vec<Participant> = occupants
            .into_iter()
            .filter(|(jid, _, _)| !self.config.is_service(bare(jid)))
            .map(|(jid, nick, role)| Participant {
                id: nick,
                display_name: None,
                moderator: role == "moderator",
                joined_at: None,
                session: jid.clone(),
                jid,
            })
            .collect();
        self.remember_seen(room_jid, &mut participants);
        let mut meeting = Meeting {
            running: true,
            password_protected: secret.is_some_and(|s| !s.is_empty()),
            members_only,
            participants,
            // Plain MUC administration cannot see the lobby room's knockers.
            lobby: false,
            knocking: Vec::new(),
        };
        meeting.sort();
        Ok(meeting)
    }

    /// Fills in when we first saw each participant and forgets those who left.
    fn remember_seen(&self, room_jid: &str, participants: &mut [Participant]) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut rooms = self
            .first_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if participants.is_empty() {
            rooms.remove(room_jid);
            return;
        }
        let known = rooms.remove(room_jid).unwrap_or_default();
        let seen = participants
            .iter_mut()
            .map(|p| {
                let since = known.get(&p.id).copied().unwrap_or(now);
                p.joined_at = Some(since);
                (p.id.clone(), since)
            })
            .collect();
        rooms.insert(room_jid.to_owned(), seen);
    }

    async fn occupants(&self, room_jid: &str) -> Result<Vec<(String, String, String)>, Error> {
        let mut all = Vec::new();
        for role in ["moderator", "participant", "visitor"] {
            let answer = self
                .iq(room_jid, false, &stanzas::occupants_with_role(role))
                .await?;
            for item in answer
                .iter()
                .flat_map(|q| q.children())
                .filter(|c| c.is("item", MUC_ADMIN))
            {
                if let (Some(jid), Some(nick)) = (item.attr("jid"), item.attr("nick")) {
                    all.push((jid.to_owned(), nick.to_owned(), role.to_owned()));
                }
            }
        }
        Ok(all)
    }
}

impl Link {
    /// What is wrong while the connection is down: its last attempt's problem.
    fn not_connected(&self) -> Error {
        match self.attempts.problem() {
            Some(problem @ ConnectProblem::Unreachable(_)) => {
                Error::Unreachable(format!("{}: {}", self.address, problem_detail(&problem)))
            }
            Some(problem) => Error::NotConnected(problem),
            None => Error::Unreachable(format!("connecting to {}", self.address)),
        }
    }

    /// A plain MUC query or action: all of them need the account to be owner (or admin)
    /// of the room, so a refusal says how to make it one.
    async fn iq(&self, to: &str, set: bool, payload: &str) -> Result<Option<Element>, Error> {
        self.exchange(to, set, payload)
            .await?
            .map_err(|error| match error.defined_condition {
                DefinedCondition::NotAllowed | DefinedCondition::Forbidden => {
                    self.learn_ownership(false);
                    Error::Refused(not_owner_help(lock(&self.prosody_version).as_deref()))
                }
                _ => refusal(&error),
            })
    }

    fn learn_ownership(&self, owner: bool) {
        let known = if owner {
            RoomOwnership::Owner
        } else {
            RoomOwnership::NotOwner
        };
        let before = std::mem::replace(&mut *lock(&self.ownership), known);
        if before != known && !owner {
            let version = lock(&self.prosody_version).clone();
            tracing::error!(prosody = %self.address, "{}", not_owner_help(version.as_deref()));
        }
    }

    /// Without the companion module: reads the owner form of a running room, if any
    /// (Jitsi's rooms are public, so the component lists them). With none running, it
    /// stays unknown until the first room is read.
    async fn probe_ownership(&self, muc: &str) {
        *lock(&self.ownership) = RoomOwnership::Unknown;
        // A refused room list says nothing about ownership: `exchange`, not `iq`.
        let Ok(Ok(Some(items))) = self.exchange(muc, false, &stanzas::disco_items()).await else {
            return;
        };
        let room = items
            .children()
            .filter(|c| c.is("item", DISCO_ITEMS))
            .find_map(|c| c.attr("jid"));
        let Some(room) = room else { return };
        match self.exchange(room, false, &stanzas::owner_config()).await {
            Ok(Ok(_)) => self.learn_ownership(true),
            Ok(Err(error))
                if matches!(
                    error.defined_condition,
                    DefinedCondition::NotAllowed | DefinedCondition::Forbidden
                ) =>
            {
                self.learn_ownership(false);
            }
            _ => {}
        }
    }

    /// An IQ and Prosody's answer as it came, error conditions included.
    async fn exchange(
        &self,
        to: &str,
        set: bool,
        payload: &str,
    ) -> Result<Result<Option<Element>, StanzaError>, Error> {
        if !self.online.load(Ordering::SeqCst) {
            return Err(self.not_connected());
        }
        let element: Element = payload
            .parse()
            .map_err(|e| Error::Refused(format!("internal stanza error: {e}")))?;
        let to: Jid = to
            .parse()
            .map_err(|e| Error::Refused(format!("{to:?} is not an address: {e}")))?;
        let request = if set {
            Request::Set(element)
        } else {
            Request::Get(element)
        };
        let answer = async {
            let _in_line = if set {
                None
            } else {
                Some(self.one_read_in_line.acquire().await)
            };
            self.connection.iq(to, request).await
        };
        match tokio::time::timeout(self.answer_timeout, answer).await {
            Err(_) => Err(Error::Unreachable(format!(
                "no answer within {} ms",
                self.answer_timeout.as_millis()
            ))),
            Ok(Err(failure)) => Err(Error::Unreachable(format!("{}: {failure}", self.address))),
            Ok(Ok(answer)) => Ok(answer),
        }
    }
}

fn problem_detail(problem: &ConnectProblem) -> &str {
    match problem {
        ConnectProblem::Unreachable(detail)
        | ConnectProblem::Certificate(detail)
        | ConnectProblem::Login(detail)
        | ConnectProblem::Protocol(detail) => detail,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Prosody's error condition in words (shown on the room page: a sentence of ours,
/// never the answer's own text).
pub fn refusal(error: &StanzaError) -> Error {
    match error.defined_condition {
        // A room just destroyed answers `gone` for a while: no meeting either way.
        DefinedCondition::ItemNotFound | DefinedCondition::Gone { .. } => Error::NoMeeting,
        // Only the companion module's own refusal gets here: plain MUC refusals are
        // explained by `Link::iq`.
        DefinedCondition::NotAllowed | DefinedCondition::Forbidden => Error::Refused(
            "not allowed (is the account in the companion module's roomkeeper_accounts?)".into(),
        ),
        ref other => Error::Refused(format!("{other:?}")),
    }
}

fn bare(jid: &str) -> &str {
    jid.split('/').next().unwrap_or(jid)
}

/// A field's first value in a data form.
fn form_value(query: &Element, var: &str) -> Option<String> {
    query
        .children()
        .filter(|x| x.name() == "x")
        .flat_map(|x| x.children())
        .find(|f| f.name() == "field" && f.attr("var") == Some(var))
        .and_then(|f| f.children().find(|v| v.name() == "value"))
        .map(|v| v.text())
}

#[async_trait::async_trait]
impl MeetingControl for XmppShard {
    async fn meeting(&self, room: &RoomName) -> Result<Meeting, Error> {
        let room_jid = self.config.room_jid(room);
        if self.has_companion() {
            match self
                .module_call(&room_jid, false, &stanzas::module_room())
                .await
            {
                Ok(Some(meeting)) => return Ok(meeting),
                Ok(None) => {}
                Err(Error::NoMeeting) => return Ok(Meeting::not_running()),
                Err(other) => return Err(other),
            }
        }
        self.admin_meeting(&room_jid).await
    }

    async fn set_moderator(
        &self,
        room: &RoomName,
        participant: &str,
        moderator: bool,
    ) -> Result<Meeting, Error> {
        // With the module: one IQ, the affiliation chosen inside Prosody, the new state
        // in the answer.
        if self.has_companion() {
            let room_jid = self.config.room_jid(room);
            let payload = stanzas::module_moderator(participant, moderator);
            if let Some(meeting) = self.module_call(&room_jid, true, &payload).await? {
                return Ok(meeting);
            }
        }
        let meeting = self.meeting(room).await?;
        if !meeting.running {
            return Err(Error::NoMeeting);
        }
        let person = meeting
            .participants
            .iter()
            .find(|p| p.id == participant)
            .ok_or(Error::ParticipantGone)?;
        // Moderator is the `owner` affiliation (Jicofo's way). Taking it away sets
        // `none`, or `member` in a members-only (lobby) room, where `none` would throw
        // the person out.
        let affiliation = match (moderator, meeting.members_only) {
            (true, _) => "owner",
            (false, true) => "member",
            (false, false) => "none",
        };
        let room_jid = self.config.room_jid(room);
        self.iq(
            &room_jid,
            true,
            &stanzas::set_affiliation(bare(&person.jid), affiliation),
        )
        .await?;
        self.meeting(room).await
    }

    async fn set_password(&self, room: &RoomName, secret: &str) -> Result<Meeting, Error> {
        let room_jid = self.config.room_jid(room);
        self.iq(&room_jid, true, &stanzas::room_secret(secret))
            .await?;
        self.meeting(room).await
    }

    async fn kick(&self, room: &RoomName, participant: &str) -> Result<Meeting, Error> {
        if self.has_companion() {
            let room_jid = self.config.room_jid(room);
            let payload = stanzas::module_kick(participant);
            if let Some(meeting) = self.module_call(&room_jid, true, &payload).await? {
                return Ok(meeting);
            }
        }
        let meeting = self.meeting(room).await?;
        let person = meeting
            .participants
            .iter()
            .find(|p| p.id == participant)
            .ok_or(Error::ParticipantGone)?;
        let room_jid = self.config.room_jid(room);
        // Prosody refuses role changes from outside the room; banning removes the person
        // (status 301) and lifting the ban at once lets them come back later.
        let jid = bare(&person.jid).to_owned();
        self.iq(&room_jid, true, &stanzas::set_affiliation(&jid, "outcast"))
            .await?;
        self.iq(&room_jid, true, &stanzas::set_affiliation(&jid, "none"))
            .await?;
        self.meeting(room).await
    }

    async fn end_meeting(&self, room: &RoomName, reason: &str) -> Result<(), Error> {
        let room_jid = self.config.room_jid(room);
        self.iq(&room_jid, true, &stanzas::destroy(reason)).await?;
        Ok(())
    }

    async fn set_lobby(&self, room: &RoomName, on: bool) -> Result<Meeting, Error> {
        self.lobby_call(room, &stanzas::module_lobby(on)).await
    }

    async fn admit(&self, room: &RoomName, knocker: &str) -> Result<Meeting, Error> {
        self.lobby_call(room, &stanzas::module_admit(knocker)).await
    }

    async fn deny(&self, room: &RoomName, knocker: &str) -> Result<Meeting, Error> {
        self.lobby_call(room, &stanzas::module_deny(knocker)).await
    }

    async fn set_lobby_rooms(&self, rooms: &[RoomName]) -> Result<(), Error> {
        if !self.has_companion() {
            return Err(Error::NeedsModule);
        }
        let room_jids: Vec<String> = rooms.iter().map(|r| self.config.room_jid(r)).collect();
        let payload = stanzas::module_lobbies(&room_jids);
        match self
            .link
            .exchange(&self.config.muc_domain(), true, &payload)
            .await?
        {
            Ok(_) => Ok(()),
            Err(error) => Err(match error.defined_condition {
                DefinedCondition::ServiceUnavailable | DefinedCondition::FeatureNotImplemented => {
                    Error::NeedsModule
                }
                _ => refusal(&error),
            }),
        }
    }

    fn events(&self) -> broadcast::Receiver<RoomEvent> {
        self.events.subscribe()
    }

    fn pushes_events(&self) -> bool {
        self.has_companion()
    }

    fn connected(&self) -> bool {
        self.is_online()
    }
}
