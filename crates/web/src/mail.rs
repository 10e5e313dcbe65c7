//! The words of the emails Roomkeeper writes, in each recipient's language (who is
//! written to, and when, is decided in `roomkeeper_usecases::mail`).

use roomkeeper_domain::User;
use roomkeeper_usecases::mail::{Letter, Letters};

use crate::i18n::{Lang, Tr};

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

/// The translations of `locales/*/main.ftl`.
pub struct Translated;

impl Letters for Translated {
    fn request_filed(
        &self,
        to: &User,
        room: &str,
        requester: &str,
        reason: &str,
        link: &str,
    ) -> Letter {
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

    fn request_decided(
        &self,
        to: &User,
        room: &str,
        approved: bool,
        message: &str,
        link: &str,
    ) -> Letter {
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

    fn recording_ready(&self, to: &User, room: &str, link: &str) -> Letter {
        let args = [("room", room.to_owned()), ("link", link.to_owned())];
        letter(to, "mail-recording-subject", "mail-recording-body", &args)
    }

    fn room_in_use(&self, to: &User, room: &str, minutes: u32, link: &str) -> Letter {
        let args = [
            ("room", room.to_owned()),
            ("minutes", minutes.to_string()),
            ("link", link.to_owned()),
        ];
        letter(to, "mail-in-use-subject", "mail-in-use-body", &args)
    }
}
