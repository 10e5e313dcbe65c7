//! The exact MUC payloads that work against Prosody (`docs/JITSI-SETUP.md`). Written as XML
//! text: there are no muc#admin/muc#owner types in xmpp-parsers, and text keeps them
//! recognisable next to the protocol notes.

pub const MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
pub const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
/// The companion module's namespace (`prosody/mod_roomkeeper.lua`).
pub const ROOMKEEPER: &str = "urn:roomkeeper:prosody:1";

pub fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// Occupants with one role. Prosody answers one role per query.
pub fn occupants_with_role(role: &str) -> String {
    format!(
        "<query xmlns='{MUC_ADMIN}'><item role='{}'/></query>",
        escape(role)
    )
}

/// One item per IQ: Prosody applies only the first.
pub fn set_affiliation(bare_jid: &str, affiliation: &str) -> String {
    format!(
        "<query xmlns='{MUC_ADMIN}'><item affiliation='{}' jid='{}'/></query>",
        escape(affiliation),
        escape(bare_jid)
    )
}

pub fn owner_config() -> String {
    format!("<query xmlns='{MUC_OWNER}'/>")
}

/// Sets the room's password; an empty secret removes it. Occupants see status 104.
pub fn room_secret(secret: &str) -> String {
    let protected = if secret.is_empty() { "0" } else { "1" };
    format!(
        "<query xmlns='{MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
         <field var='muc#roomconfig_roomsecret'><value>{}</value></field>\
         <field var='muc#roomconfig_passwordprotectedroom'><value>{protected}</value></field>\
         </x></query>",
        escape(secret)
    )
}

pub fn destroy(reason: &str) -> String {
    format!(
        "<query xmlns='{MUC_OWNER}'><destroy><reason>{}</reason></destroy></query>",
        escape(reason)
    )
}

/// Companion module: the room with display names and join times, in one query.
pub fn module_room() -> String {
    format!("<room xmlns='{ROOMKEEPER}'/>")
}

/// Companion module: grant (`owner`) or revoke (`none`, or `member` in a members-only
/// room) moderator of the occupant with this nick; answers the room afterwards.
pub fn module_moderator(nick: &str, grant: bool) -> String {
    format!(
        "<moderator xmlns='{ROOMKEEPER}' nick='{}' grant='{}'/>",
        escape(nick),
        u8::from(grant)
    )
}

/// Companion module: role `none` set from inside Prosody, a kick with status 307.
pub fn module_kick(nick: &str) -> String {
    format!("<kick xmlns='{ROOMKEEPER}' nick='{}'/>", escape(nick))
}

/// Companion module: turn the room's lobby (jitsi-meet's) on or off.
pub fn module_lobby(on: bool) -> String {
    format!("<lobby xmlns='{ROOMKEEPER}' on='{}'/>", u8::from(on))
}

/// Companion module: let the knocker with this lobby nick in, as Jitsi's "admit".
pub fn module_admit(nick: &str) -> String {
    format!("<admit xmlns='{ROOMKEEPER}' nick='{}'/>", escape(nick))
}

/// Companion module: send the knocker with this lobby nick away, as Jitsi's "reject".
pub fn module_deny(nick: &str) -> String {
    format!("<deny xmlns='{ROOMKEEPER}' nick='{}'/>", escape(nick))
}

/// Companion module (to the MUC component): the rooms whose lobby is on from their
/// creation, replacing the last list.
pub fn module_lobbies(room_jids: &[String]) -> String {
    let mut payload = format!("<lobbies xmlns='{ROOMKEEPER}'>");
    for room in room_jids {
        payload.push_str(&format!("<room jid='{}'/>", escape(room)));
    }
    payload.push_str("</lobbies>");
    payload
}

/// Companion module: send this connection every change (to the MUC component itself).
pub fn module_subscribe() -> String {
    format!("<subscribe xmlns='{ROOMKEEPER}'/>")
}

/// The rooms of a MUC component (the public ones, which Jitsi's rooms are by default).
pub fn disco_items() -> String {
    format!("<query xmlns='{DISCO_ITEMS}'/>")
}

pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
