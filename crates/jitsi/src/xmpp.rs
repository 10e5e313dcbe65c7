//! One long-lived XMPP connection to one Prosody, as the service account. tokio-xmpp
//! reconnects by itself; while the connection is down, actions fail at once with
//! [`Error::Unreachable`] instead of waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use roomkeeper_domain::RoomName;
use tokio_xmpp::connect::{DnsConfig, StartTlsServerConnector, TcpServerConnector};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, StanzaError};
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Client, Event};

use crate::connection::{Connection, ConnectionTask, Request};
use crate::stanzas::{self, MUC_ADMIN};
use crate::{Error, Meeting, MeetingControl, Participant, ShardConfig, XmppSecurity};

/// How long an IQ (its turn on the connection included) waits for Prosody before we say
/// it is unreachable: under the 2 s promised to people. A suspended stream (tokio-xmpp
/// reconnects quietly, without an event) shows up only as an unanswered IQ.
const IQ_TIMEOUT: Duration = Duration::from_millis(1500);

pub struct XmppShard {
    config: ShardConfig,
    connection: Connection,
    /// One IQ in flight per connection. With several at once, some never reached
    /// Prosody (15-40 % with four callers, `tests/concurrency.rs`); one at a time, none
    /// is lost, and a loopback IQ takes about a millisecond, so waiting is short.
    one_at_a_time: tokio::sync::Mutex<()>,
    online: Arc<AtomicBool>,
    _task: ConnectionTask,
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
        let client = match config.security {
            XmppSecurity::Plain => {
                Client::new_with_connector(jid, password, TcpServerConnector::from(dns), timeouts)
            }
            XmppSecurity::Starttls => Client::new_with_connector(
                jid,
                password,
                StartTlsServerConnector::from(dns),
                timeouts,
            ),
        };
        let online = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&online);
        let name = config.name.clone();
        let (connection, task) = Connection::start(client, move |event| match event {
            Event::Online { bound_jid, .. } => {
                flag.store(true, Ordering::SeqCst);
                tracing::info!(shard = %name, jid = %bound_jid, "connected to Prosody");
            }
            Event::Disconnected(error) => {
                flag.store(false, Ordering::SeqCst);
                tracing::warn!(shard = %name, %error, "disconnected from Prosody; reconnecting");
            }
            Event::Stanza(_) => {}
        });
        Ok(Self {
            config,
            connection,
            one_at_a_time: tokio::sync::Mutex::new(()),
            online,
            _task: task,
        })
    }

    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::SeqCst)
    }

    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    /// Waits until the connection is up (start-up, tests), at most `limit`.
    pub async fn wait_online(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.is_online() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    async fn iq(&self, to: &str, set: bool, payload: &str) -> Result<Option<Element>, Error> {
        if !self.is_online() {
            return Err(Error::Unreachable(format!(
                "no connection to {}",
                self.config.xmpp_address
            )));
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
            let _turn = self.one_at_a_time.lock().await;
            self.connection.iq(to, request).await
        };
        match tokio::time::timeout(IQ_TIMEOUT, answer).await {
            Err(_) => Err(Error::Unreachable("no answer within 1.5 s".into())),
            Ok(Err(failure)) => Err(Error::Unreachable(failure)),
            Ok(Ok(Ok(payload))) => Ok(payload),
            Ok(Ok(Err(error))) => Err(refusal(&error)),
        }
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

/// Prosody's error condition in words.
fn refusal(error: &StanzaError) -> Error {
    match error.defined_condition {
        DefinedCondition::ItemNotFound => Error::NoMeeting,
        DefinedCondition::NotAllowed | DefinedCondition::Forbidden => {
            Error::Refused("not allowed (is the account an admin of the MUC component?)".into())
        }
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
        let occupants = match self.occupants(&room_jid).await {
            Ok(occupants) => occupants,
            Err(Error::NoMeeting) => return Ok(Meeting::not_running()),
            Err(other) => return Err(other),
        };
        let config = self.iq(&room_jid, false, &stanzas::owner_config()).await?;
        let secret = config
            .as_ref()
            .and_then(|c| form_value(c, "muc#roomconfig_roomsecret"));
        let members_only = config
            .as_ref()
            .and_then(|c| form_value(c, "muc#roomconfig_membersonly"))
            .is_some_and(|v| v == "1" || v == "true");
        let participants = occupants
            .into_iter()
            .filter(|(jid, _, _)| !self.config.is_service(bare(jid)))
            .map(|(jid, nick, role)| Participant {
                id: nick,
                display_name: None,
                moderator: role == "moderator",
                jid,
            })
            .collect();
        Ok(Meeting {
            running: true,
            password_protected: secret.is_some_and(|s| !s.is_empty()),
            members_only,
            participants,
        })
    }

    async fn set_moderator(
        &self,
        room: &RoomName,
        participant: &str,
        moderator: bool,
    ) -> Result<Meeting, Error> {
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

    async fn remove_password(&self, room: &RoomName) -> Result<Meeting, Error> {
        let room_jid = self.config.room_jid(room);
        self.iq(&room_jid, true, &stanzas::remove_password())
            .await?;
        self.meeting(room).await
    }

    async fn kick(&self, room: &RoomName, participant: &str) -> Result<Meeting, Error> {
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
}
