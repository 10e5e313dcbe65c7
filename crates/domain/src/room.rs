//! Room names exactly as Jitsi sees them.
//!
//! Jitsi's web client turns the room part of a meeting URL into the MUC room name with
//! `getBackendSafeRoomName`: decodeURIComponent (the input stays as it was when that
//! fails), NFKC, lowercase, encodeURIComponent, lowercase. "My Room" becomes
//! `my%20room`, "Müller" becomes `m%c3%bcller`. Prosody then addresses
//! `<name>@conference.DOMAIN`, or `<name>@conference.<tenant>.DOMAIN` for
//! `https://DOMAIN/<tenant>/<name>`. [`RoomName::parse`] is the one place that does this.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use unicode_normalization::UnicodeNormalization;

/// What JavaScript's encodeURIComponent leaves alone: A-Z a-z 0-9 - _ . ! ~ * ' ( )
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// An XMPP localpart may have at most 1023 bytes (RFC 7622).
pub const MAX_ROOM_BYTES: usize = 1023;
/// What [`RoomName::parse`] reads at most: a meeting link around the longest name.
const MAX_INPUT_BYTES: usize = 3 * MAX_ROOM_BYTES + 1024;
/// A tenant becomes a DNS label in `conference.<tenant>.DOMAIN`.
pub const MAX_TENANT_BYTES: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    #[error("Enter a room name or a meeting link.")]
    Empty,
    #[error("The room name is too long for Jitsi (at most {max} bytes once encoded).")]
    TooLong { max: usize },
    #[error("Jitsi cannot address a room whose name contains {found:?}.")]
    Character { found: char },
    #[error(
        "The tenant {tenant:?} cannot be part of a Jitsi address: use letters a-z, digits and -."
    )]
    Tenant { tenant: String },
    #[error("A meeting link has the form https://HOST/room or https://HOST/tenant/room.")]
    TooManyParts,
    #[error("{host} is not a meeting server of this Roomkeeper (accepted: {accepted}).")]
    ForeignHost { host: String, accepted: String },
    #[error(
        "Jitsi would open another room from this room's own link (it reorders these accents \
         only the second time); choose a name without this combination of accents."
    )]
    Unstable,
}

/// Jitsi's `getBackendSafeRoomName` for one path segment.
pub fn jitsi_normalize(segment: &str) -> String {
    // Lowercase letters, digits and `-_.~` come out of `every_step` unchanged; most
    // names are just that, and every page shows many (the steps cost 2 % of a page).
    if is_plain(segment) {
        return segment.to_owned();
    }
    every_step(segment)
}

/// Only lowercase letters, digits and `-_.~`: what Jitsi's normalisation leaves alone.
fn is_plain(segment: &str) -> bool {
    segment
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.~".contains(&b))
}

/// A tenant Jitsi can put in a meeting address: a DNS label of a-z, 0-9 and `-`.
fn is_tenant_label(tenant: &str) -> bool {
    !tenant.is_empty()
        && tenant.len() <= MAX_TENANT_BYTES
        && tenant
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !tenant.starts_with('-')
        && !tenant.ends_with('-')
}

fn every_step(segment: &str) -> String {
    let decoded = decode_uri_component(segment).unwrap_or_else(|| segment.to_owned());
    let folded: String = decoded.nfkc().collect::<String>().to_lowercase();
    utf8_percent_encode(&folded, URI_COMPONENT)
        .to_string()
        .to_lowercase()
}

/// decodeURIComponent: `None` where JavaScript would throw (a `%` without two hex
/// digits, or bytes that are not UTF-8).
fn decode_uri_component(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return None;
        }
    }
    percent_decode_str(input)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// A meeting server's base URL, such as `https://meet.example.org`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingBase {
    /// Lower-case scheme and host, no trailing slash.
    base: String,
}

impl MeetingBase {
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim().trim_end_matches('/');
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(format!(
                "{url:?} is not a URL such as https://meet.example.org"
            ));
        };
        if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") || rest.is_empty() {
            return Err(format!("{url:?} must start with https:// and name a host"));
        }
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let base = if path.is_empty() {
            format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        } else {
            format!(
                "{}://{}/{path}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        };
        Ok(Self { base })
    }

    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// Scheme and host (with port): `https://meet.example.org`, for security policies.
    pub fn origin(&self) -> String {
        let (scheme, rest) = self.base.split_once("://").unwrap_or(("https", &self.base));
        let host = rest.split('/').next().unwrap_or(rest);
        format!("{scheme}://{host}")
    }

    /// The base without its scheme: `meet.example.org`.
    fn host_and_path(&self) -> &str {
        self.base
            .split_once("://")
            .map_or(&self.base, |(_, rest)| rest)
    }

    /// The path after this base when `url` (scheme optional) is on it.
    fn strip<'a>(&self, url: &'a str) -> Option<&'a str> {
        let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let prefix = self.host_and_path();
        let head = without_scheme.get(..prefix.len())?;
        let tail = &without_scheme[prefix.len()..];
        (head.eq_ignore_ascii_case(prefix) && (tail.is_empty() || tail.starts_with('/')))
            .then_some(tail)
    }
}

/// A room as Jitsi addresses it: canonical (encoded, lower-case) name and tenant. Kept
/// in its canonical form, `room` or `tenant/room`, which is how it is stored, compared
/// and ordered (bytewise, as SQLite's BINARY collation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName {
    canonical: String,
    /// Where the tenant ends in `canonical`, when there is one.
    tenant_end: Option<usize>,
}

impl RoomName {
    /// Reads what a person typed: `Logic`, `tenant/Logic`, or a meeting link on one of
    /// `bases` (query and fragment ignored, as Jitsi ignores them).
    pub fn parse(input: &str, bases: &[MeetingBase]) -> Result<Self, RoomNameError> {
        // Bounded in bytes before any work: normalising 900 KB of U+FDFA took 0.35 s. No
        // longer input can make a name within MAX_ROOM_BYTES (percent-decoding shrinks
        // by three at most), link and tenant included.
        if input.len() > MAX_INPUT_BYTES {
            return Err(RoomNameError::TooLong {
                max: MAX_ROOM_BYTES,
            });
        }
        // A browser removes tabs and line breaks from a URL before anything else (the
        // WHATWG URL parser), so a pasted link broken across lines opens the room without
        // them; a text field drops them too.
        let without_breaks: String;
        let input = if input.contains(['\t', '\n', '\r']) {
            without_breaks = input
                .chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect();
            &without_breaks
        } else {
            input
        };
        let input = input.trim();
        let input = input.split(['?', '#']).next().unwrap_or_default();
        let path = if input.contains("://") {
            bases
                .iter()
                .find_map(|base| base.strip(input))
                .ok_or_else(|| RoomNameError::ForeignHost {
                    host: input
                        .split_once("://")
                        .map_or(input, |(_, rest)| rest)
                        .split('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    accepted: if bases.is_empty() {
                        "none configured".to_owned()
                    } else {
                        bases
                            .iter()
                            .map(MeetingBase::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                })?
        } else {
            // `meet.example.org/logic` typed without a scheme is a link too.
            bases
                .iter()
                .find_map(|base| base.strip(input))
                .unwrap_or(input)
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (tenant, room) = match parts.as_slice() {
            [room] => (None, *room),
            [tenant, room] => (Some(*tenant), *room),
            _ => return Err(RoomNameError::TooManyParts),
        };
        Self::from_parts(tenant, room)
    }

    /// A name as stored: `room` or `tenant/room`, already canonical. Normalising again
    /// changes nothing, so this is [`RoomName::parse`] without meeting links.
    pub fn from_canonical(canonical: &str) -> Result<Self, RoomNameError> {
        Self::plain(canonical).map_or_else(|| Self::parse(canonical, &[]), Ok)
    }

    /// A name as the store holds it: [`RoomName::from_canonical`], or, for a name an
    /// earlier version accepted and this one refuses (the rules only get stricter), the
    /// name as it is. Its room stays listed and reachable under the name Jitsi knows.
    pub fn from_stored(canonical: &str) -> Self {
        Self::from_canonical(canonical).unwrap_or_else(|_| Self {
            canonical: canonical.to_owned(),
            tenant_end: canonical.find('/'),
        })
    }

    /// `room` or `tenant/room` made of bytes that every step of [`RoomName::parse`]
    /// leaves as they are, taken as it is. Every page shows many stored names and most
    /// are like this; the steps cost a tenth of a page. `None` for anything else.
    fn plain(canonical: &str) -> Option<Self> {
        let (tenant, room) = match canonical.split_once('/') {
            Some((tenant, room)) => (Some(tenant), room),
            None => (None, canonical),
        };
        let plain = !room.is_empty()
            && room.len() <= MAX_ROOM_BYTES
            && is_plain(room)
            && tenant.is_none_or(is_tenant_label);
        plain.then(|| Self {
            canonical: canonical.to_owned(),
            tenant_end: tenant.map(str::len),
        })
    }

    fn from_parts(tenant: Option<&str>, room: &str) -> Result<Self, RoomNameError> {
        let room = jitsi_normalize(room);
        if room.is_empty() {
            return Err(RoomNameError::Empty);
        }
        if room.len() > MAX_ROOM_BYTES {
            return Err(RoomNameError::TooLong {
                max: MAX_ROOM_BYTES,
            });
        }
        // Jitsi lowercases after NFKC, and lowercasing can leave combining marks out of
        // canonical order (`İ` becomes `i` + U+0307): the room's own link, normalised
        // again when opened, then names another room. Such a name cannot be kept.
        if jitsi_normalize(&room) != room {
            return Err(RoomNameError::Unstable);
        }
        // encodeURIComponent leaves ' alone, but XMPP forbids it in a localpart.
        if let Some(found) = room.chars().find(|c| *c == '\'') {
            return Err(RoomNameError::Character { found });
        }
        let tenant = match tenant {
            None => None,
            Some(raw) => {
                let tenant = jitsi_normalize(raw);
                if !is_tenant_label(&tenant) {
                    return Err(RoomNameError::Tenant {
                        tenant: raw.to_owned(),
                    });
                }
                Some(tenant)
            }
        };
        Ok(match tenant {
            Some(tenant) => Self {
                canonical: format!("{tenant}/{room}"),
                tenant_end: Some(tenant.len()),
            },
            None => Self {
                canonical: room,
                tenant_end: None,
            },
        })
    }

    pub fn tenant(&self) -> Option<&str> {
        self.tenant_end.map(|end| &self.canonical[..end])
    }

    /// The MUC localpart (without tenant).
    pub fn room(&self) -> &str {
        match self.tenant_end {
            Some(end) => &self.canonical[end + 1..],
            None => &self.canonical,
        }
    }

    /// `room` or `tenant/room`: how Roomkeeper stores and compares rooms.
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    /// [`RoomName::canonical`] without a copy.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// For people: percent-escapes decoded (`müller`, `my room`). A name shown is one
    /// people copy and type again, so it must read back as the same room; where the
    /// decoded form would not (an escaped `/`, `?`, `#` or `%`, a space at the edge, a
    /// control character), the stored form is shown.
    pub fn display(&self) -> String {
        if !self.room().contains('%') {
            return self.canonical();
        }
        let room = decode_uri_component(self.room()).unwrap_or_else(|| self.room().to_owned());
        let shown = match self.tenant() {
            Some(tenant) => format!("{tenant}/{room}"),
            None => room,
        };
        if Self::from_canonical(&shown).as_ref() == Ok(self) {
            shown
        } else {
            self.canonical()
        }
    }

    /// The link people open to join.
    pub fn meeting_url(&self, base: &MeetingBase) -> String {
        format!("{}/{}", base.as_str(), self.canonical())
    }
}

/// Read as its canonical text (never built from one: that is [`RoomName::parse`]).
impl std::ops::Deref for RoomName {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

/// As stored and as the API names rooms: canonical.
impl serde::Serialize for RoomName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical)
    }
}

impl PartialEq<str> for RoomName {
    fn eq(&self, other: &str) -> bool {
        self.canonical == other
    }
}

impl PartialEq<&str> for RoomName {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_short_cut_gives_what_every_step_gives(name in "[a-z0-9._~-]{0,40}") {
            prop_assert_eq!(&every_step(&name), &name);
            prop_assert_eq!(&jitsi_normalize(&name), &name);
        }

        /// Stored names read back through the short cut as through every step,
        /// including near misses (edge slashes, empty parts, long tenants, capitals).
        #[test]
        fn a_stored_name_reads_back_the_same_either_way(
            name in prop_oneof![
                "([a-z0-9-]{0,66}/)?[a-z0-9._~-]{0,40}",
                "(-?[a-zA-Z0-9-]{0,66}/){0,2}/?[a-z0-9._~%'A-Z/-]{0,40}/?",
            ]
        ) {
            if let Some(plain) = RoomName::plain(&name) {
                prop_assert_eq!(Ok(plain), RoomName::parse(&name, &[]));
            }
        }
    }

    #[test]
    fn most_stored_names_take_the_short_cut() {
        for name in ["logic", "physik/optics", "lecturer-room-0019", "a.b_c~d"] {
            assert_eq!(
                RoomName::plain(name).map(|n| n.canonical()),
                Some(name.into())
            );
        }
        for name in ["m%c3%bcller", "/logic", "-x/logic", "a/b/c", "Logic", "x/"] {
            assert_eq!(RoomName::plain(name), None, "{name}");
        }
    }

    fn bases() -> Vec<MeetingBase> {
        vec![
            MeetingBase::parse("https://meet.example.org/").unwrap(),
            MeetingBase::parse("https://Jitsi.Uni-X.de").unwrap(),
        ]
    }

    #[test]
    fn a_meeting_base_has_an_origin_without_its_path() {
        let base = MeetingBase::parse("HTTPS://Meet.Example.org:8443/jitsi/").unwrap();
        assert_eq!(base.origin(), "https://meet.example.org:8443");
        assert_eq!(
            MeetingBase::parse("https://meet.example.org")
                .unwrap()
                .origin(),
            "https://meet.example.org"
        );
    }

    /// Found by the hostile-input properties (`roomkeeper/tests/hostile.rs`).
    #[test]
    fn pasted_line_breaks_and_shown_names_read_back_as_the_same_room() {
        let bases = bases();
        // A browser drops them from a link, so Jitsi opens `logic`.
        let broken = RoomName::parse("https://meet.example.org/lo\ngi\tc\r", &bases).unwrap();
        assert_eq!(broken.canonical(), "logic");
        // Shown decoded, these would read back as another room (or none).
        for stored in ["a%3fb", "a%2fb", "%20a", "a%0a", "a%23b", "a%25b"] {
            let name = RoomName::from_canonical(stored).unwrap();
            assert_eq!(
                RoomName::from_canonical(&name.display()),
                Ok(name.clone()),
                "{stored}"
            );
        }
        let umlaut = RoomName::from_canonical("m%c3%bcller%20seminar").unwrap();
        assert_eq!(umlaut.display(), "müller seminar");
        // Jitsi addresses `İ𐨍` as `i` U+0307 U+10A0D, and that name's own link as
        // `i` U+10A0D U+0307: a room that cannot be registered.
        assert_eq!(
            RoomName::parse("İ\u{10a0d}", &bases),
            Err(RoomNameError::Unstable)
        );
        assert_eq!(
            RoomName::parse("İstanbul", &bases).unwrap().canonical(),
            "i%cc%87stanbul"
        );
    }

    #[test]
    fn real_world_names_become_what_jitsi_addresses() {
        let table: &[(&str, Option<&str>, &str, &str)] = &[
            // input, tenant, canonical room, shown as
            ("Logic", None, "logic", "logic"),
            ("  logic  ", None, "logic", "logic"),
            ("My Room", None, "my%20room", "my room"),
            ("my%20room", None, "my%20room", "my room"),
            ("My%20Room", None, "my%20room", "my room"),
            ("Müller", None, "m%c3%bcller", "müller"),
            ("M%C3%BCller", None, "m%c3%bcller", "müller"),
            ("Straße", None, "stra%c3%9fe", "straße"),
            ("ＬＯＧＩＣ", None, "logic", "logic"), // full-width letters: NFKC
            ("ﬁle", None, "file", "file"),          // ligature: NFKC
            (
                "Vorlesung 🎓",
                None,
                "vorlesung%20%f0%9f%8e%93",
                "vorlesung 🎓",
            ),
            ("100%", None, "100%25", "100%"), // a lone % is kept: decodeURIComponent throws
            ("Hello!(*)~", None, "hello!(*)~", "hello!(*)~"),
            ("a&b", None, "a%26b", "a&b"),
            (
                "exampleperson-Logic",
                None,
                "exampleperson-logic",
                "exampleperson-logic",
            ),
            ("physik/Logic", Some("physik"), "logic", "physik/logic"),
            ("/Physik/Logic/", Some("physik"), "logic", "physik/logic"),
            ("https://meet.example.org/Logic", None, "logic", "logic"),
            (
                "https://MEET.example.org/Logic?jwt=x#config.startWithAudioMuted=true",
                None,
                "logic",
                "logic",
            ),
            (
                "https://meet.example.org/physik/Logic",
                Some("physik"),
                "logic",
                "physik/logic",
            ),
            ("meet.example.org/Logic", None, "logic", "logic"),
            (
                "https://jitsi.uni-x.de/Ring%C3%BCbung",
                None,
                "ring%c3%bcbung",
                "ringübung",
            ),
        ];
        for (input, tenant, room, shown) in table {
            let name = RoomName::parse(input, &bases()).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!((name.tenant(), name.room()), (*tenant, *room), "{input}");
            assert_eq!(name.display(), *shown, "{input}");
        }
        let name = RoomName::parse("physik/Logic", &bases()).unwrap();
        assert_eq!(
            name.meeting_url(&bases()[0]),
            "https://meet.example.org/physik/logic"
        );
        assert_eq!(name.canonical(), "physik/logic");
    }

    #[test]
    fn what_jitsi_cannot_address_is_refused_with_a_reason() {
        use RoomNameError::*;
        let too_long = "x".repeat(MAX_ROOM_BYTES + 1);
        // 900 KB that NFKC would blow up eighteen-fold: refused by size, unread.
        let huge = "\u{FDFA}".repeat(300_000);
        let table: &[(&str, RoomNameError)] = &[
            (
                &huge,
                TooLong {
                    max: MAX_ROOM_BYTES,
                },
            ),
            ("", Empty),
            ("   ", Empty),
            ("https://meet.example.org/", Empty),
            ("https://meet.example.org/?x=1", Empty),
            ("it's", Character { found: '\'' }),
            (
                &too_long,
                TooLong {
                    max: MAX_ROOM_BYTES,
                },
            ),
            ("a/b/c", TooManyParts),
            (
                "ph ysik/logic",
                Tenant {
                    tenant: "ph ysik".into(),
                },
            ),
            (
                "-x/logic",
                Tenant {
                    tenant: "-x".into(),
                },
            ),
        ];
        for (input, expected) in table {
            assert_eq!(
                RoomName::parse(input, &bases()).as_ref(),
                Err(expected),
                "{input:?}"
            );
        }
        match RoomName::parse("https://evil.example/logic", &bases()) {
            Err(ForeignHost { host, accepted }) => {
                assert_eq!(host, "evil.example");
                assert!(accepted.contains("https://meet.example.org"));
            }
            other => panic!("{other:?}"),
        }
        // Emoji are 4 bytes, 12 once encoded: the limit is on what Jitsi sends.
        assert!(RoomName::parse(&"🎓".repeat(86), &[]).is_err());
        assert!(RoomName::parse(&"🎓".repeat(85), &[]).is_ok());
    }

    proptest! {
        #[test]
        fn normalising_twice_changes_nothing(input in "\\PC{0,40}") {
            if let Ok(once) = RoomName::parse(&input, &bases()) {
                let twice = RoomName::from_canonical(&once.canonical());
                prop_assert_eq!(Ok(once), twice);
            }
            let segment = jitsi_normalize(&input);
            prop_assert_eq!(jitsi_normalize(&segment), segment);
        }

        #[test]
        fn canonical_names_are_safe_xmpp_localparts(input in "\\PC{1,40}") {
            if let Ok(name) = RoomName::parse(&input, &[]) {
                prop_assert!(!name.room().chars().any(|c| "\"&'/:<>@ ".contains(c) || c.is_uppercase()));
            }
        }
    }
}
