//! The words of the emails Roomkeeper writes, in each recipient's language (who is
//! written to, and when, is decided in `roomkeeper_usecases::mail`).

use roomkeeper_domain::User;

use crate::{Lang, Tr};

/// One email's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub body: String,
}

fn language_of(user: &User) -> Lang {
    user.language
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_default()
}

fn letter(to: &User, subject: &str, body: &str, args: &[(&'static str, String)]) -> Letter {
    let t = Tr::new(language_of(to));
    Letter {
        subject: t.with(subject, args),
        body: t.with(body, args),
    }
}

/// To an administrator: someone asks for a room.
pub fn request_filed(to: &User, room: &str, requester: &str, reason: &str, link: &str) -> Letter {
    let args = [
        ("room", room.to_owned()),
        ("requester", requester.to_owned()),
        ("reason", reason.to_owned()),
        ("link", link.to_owned()),
    ];
    letter(
        to,
        "mail-new-request-subject",
        "mail-new-request-body",
        &args,
    )
}

/// To the requester: the request was approved or rejected (with the admin's message).
pub fn request_decided(to: &User, room: &str, approved: bool, message: &str, link: &str) -> Letter {
    let args = [
        ("room", room.to_owned()),
        ("message", message.to_owned()),
        ("link", link.to_owned()),
    ];
    let (subject, body) = if approved {
        ("mail-approved-subject", "mail-approved-body")
    } else {
        ("mail-rejected-subject", "mail-rejected-body")
    };
    letter(to, subject, body, &args)
}

/// To the owners: a recording of their room can be watched.
pub fn recording_ready(to: &User, room: &str, link: &str) -> Letter {
    let args = [("room", room.to_owned()), ("link", link.to_owned())];
    letter(to, "mail-recording-subject", "mail-recording-body", &args)
}

/// To the owners: their room's meeting has run `minutes` without them.
pub fn room_in_use(to: &User, room: &str, minutes: u32, link: &str) -> Letter {
    let args = [
        ("room", room.to_owned()),
        ("minutes", minutes.to_string()),
        ("link", link.to_owned()),
    ];
    letter(to, "mail-in-use-subject", "mail-in-use-body", &args)
}

pub fn someone_knocking(to: &User, room: &str, name: &str, link: &str) -> Letter {
    let args = [
        ("room", room.to_owned()),
        ("name", name.to_owned()),
        ("link", link.to_owned()),
    ];
    letter(to, "mail-knocking-subject", "mail-knocking-body", &args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(language: Option<&str>) -> User {
        User {
            id: 1,
            username: roomkeeper_domain::Username::parse("lecturer")
                .unwrap_or_else(|_| unreachable!()),
            display_name: None,
            password_hash: None,
            is_admin: false,
            disabled: false,
            must_change_password: false,
            language: language.map(str::to_owned),
            email: Some("lecturer@example.org".into()),
            created_at: 0,
        }
    }

    /// Every letter has its words in both languages (a missing text would show its key),
    /// and the recipient's language decides.
    #[test]
    fn every_letter_is_written_in_the_readers_language() {
        for language in [None, Some("de")] {
            let to = reader(language);
            let letters = [
                request_filed(&to, "logic", "alice", "Logic I", "https://r.example/q"),
                request_decided(&to, "logic", true, "", "https://r.example/r"),
                request_decided(&to, "logic", false, "no", "https://r.example/r"),
                recording_ready(&to, "logic", "https://r.example/x"),
                room_in_use(&to, "logic", 15, "https://r.example/y"),
            ];
            for letter in &letters {
                assert!(!letter.subject.starts_with("mail-"), "{letter:?}");
                assert!(!letter.body.starts_with("mail-"), "{letter:?}");
                assert!(letter.body.contains("https://r.example/"), "{letter:?}");
            }
            let german = letters[0]
                != request_filed(
                    &reader(None),
                    "logic",
                    "alice",
                    "Logic I",
                    "https://r.example/q",
                );
            assert_eq!(german, language == Some("de"));
        }
    }
}
