//! A running meeting as Roomkeeper shows it: who is in, who is moderator, whether it is
//! locked. Read from Prosody by the `jitsi` crate.

use serde::Serialize;

/// Someone in a meeting, as the meeting page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    /// The occupant nick, which the web client uses as participant id (8 hex digits).
    pub id: String,
    /// Only with the companion module; otherwise Prosody does not tell us.
    pub display_name: Option<String>,
    pub moderator: bool,
    /// When they joined (Unix seconds): told by the companion module; without it, when
    /// Roomkeeper first saw them.
    #[serde(serialize_with = "rfc3339", skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<i64>,
    /// The real JID, to address affiliation changes. Not shown to people.
    #[serde(skip)]
    pub jid: String,
    /// The occupant's connection (its full real JID): who this is. The nick (`id`) is
    /// chosen by the client and may be taken by someone else once this one has left;
    /// anything Roomkeeper trusts an occupant with belongs to this. Not shown to people.
    #[serde(skip)]
    pub session: String,
}

/// Someone waiting in a meeting's lobby (jitsi-meet's "asking to join").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Knocker {
    /// Their nick in the lobby room, which admit and deny name.
    pub id: String,
    /// As they typed it (Jitsi's lobby asks for one); not who they are.
    pub display_name: Option<String>,
    #[serde(serialize_with = "rfc3339", skip_serializing_if = "Option::is_none")]
    pub knocking_since: Option<i64>,
    /// Not shown to people.
    #[serde(skip)]
    pub jid: String,
    /// Their connection (full real JID), as for a participant. Not shown to people.
    #[serde(skip)]
    pub session: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meeting {
    /// Whether a meeting runs in the room now.
    pub running: bool,
    pub password_protected: bool,
    /// Lobby on: the room admits members only. Revoking then sets `member`.
    pub members_only: bool,
    /// People only: Jicofo, Jibri and Roomkeeper itself are left out.
    pub participants: Vec<Participant>,
    /// jitsi-meet's lobby is on: members only, with a lobby room where people knock.
    pub lobby: bool,
    /// Who knocks in the lobby, longest waiting first (with the companion module).
    pub knocking: Vec<Knocker>,
}

impl Meeting {
    pub fn not_running() -> Self {
        Self {
            running: false,
            password_protected: false,
            members_only: false,
            participants: Vec::new(),
            lobby: false,
            knocking: Vec::new(),
        }
    }

    /// In the order they joined, so that the list reads the same however it was built.
    pub fn sort(&mut self) {
        self.participants
            .sort_by(|a, b| (a.joined_at, &a.id).cmp(&(b.joined_at, &b.id)));
        self.knocking
            .sort_by(|a, b| (a.knocking_since, &a.id).cmp(&(b.knocking_since, &b.id)));
    }
}

fn rfc3339<S: serde::Serializer>(at: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
    let text = at
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    serializer.serialize_some(&text)
}
