//! What Roomkeeper does, whoever asks: the pages, the JSON API and the command line call
//! these and only translate HTTP or arguments in and out. Each use case checks its input,
//! changes the store together with its audit entry (one transaction), and queues the
//! emails it causes. Whether the person *may* do it was decided before, in one place
//! (`roomkeeper_domain::authz`, applied by the web extractors); these enforce what the
//! input must look like and what the world must be like.

pub mod accounts;
mod error;
pub mod groups;
pub mod guard;
pub mod login;
pub mod mail;
pub mod meetings;
pub mod oidc;
pub mod recordings;
pub mod rooms;
pub mod sessions;
pub mod signin;
pub mod upload;

use std::net::IpAddr;
use std::sync::Arc;

use roomkeeper_domain::{Clock, MeetingBase};
use roomkeeper_store::{Audit, Store, User};

pub use error::{Error, Failure};

/// Everything the use cases reach. Cheap to clone.
#[derive(Clone)]
pub struct UseCases {
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    /// Meeting servers whose rooms can be registered; the first makes the links.
    pub meeting_bases: Arc<Vec<MeetingBase>>,
    /// The Jitsi deployments whose meetings Roomkeeper controls.
    pub meetings: Arc<dyn roomkeeper_jitsi::MeetingControl>,
    /// The same deployments, for their connections' status.
    pub shards: Arc<roomkeeper_jitsi::Shards>,
    /// One live feed per followed room, shared by everyone following it.
    pub watch: Arc<roomkeeper_jitsi::MeetingWatch>,
    pub mail: mail::Mail,
    /// Recordings: ingest, storage, retention.
    pub recordings: Arc<roomkeeper_recordings::Recordings>,
    /// This process, among several sharing the database (leases name their holder).
    pub instance: Arc<str>,
    /// How people log in with a password.
    pub login: login::Login,
    /// How long sessions and API tokens last.
    pub sessions: roomkeeper_auth::SessionConfig,
    /// OpenID providers people can log in with, in the order of their buttons.
    pub oidc: Arc<Vec<Arc<roomkeeper_auth::OidcProvider>>>,
}

impl UseCases {
    /// A fresh name for this process, for [`UseCases::instance`], when it serves
    /// nothing (a command).
    pub fn new_instance_id() -> Arc<str> {
        let token = roomkeeper_auth::SecretToken::generate("");
        Arc::from(&token.secret[..16])
    }

    /// The name of the instance serving on `listen`: the machine's name and that
    /// address. No two running instances share it, and a restarted one keeps it, so it
    /// recognises the leases it held before a crash (kill -9 gives none up) instead of
    /// waiting out their term with a lock in the room. Without a fixed port, a fresh one.
    pub fn instance_id(listen: &str) -> Arc<str> {
        match listen.parse::<std::net::SocketAddr>() {
            Ok(address) if address.port() != 0 => {
                let host = hostname::get()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Arc::from(format!("{host}/{address}"))
            }
            _ => Self::new_instance_id(),
        }
    }

    /// Does the database answer? For readiness checks.
    pub async fn database_answers(&self) -> Result<(), Error> {
        Ok(self.store.ping().await?)
    }

    pub fn database_backend(&self) -> roomkeeper_store::Backend {
        self.store.backend()
    }
}

/// Who is acting and from where: given once per request, written into every audit
/// entry the use case makes.
#[derive(Debug, Clone, Copy)]
pub struct Acting<'a> {
    pub user: &'a User,
    pub address: Option<IpAddr>,
}

impl<'a> Acting<'a> {
    pub fn new(user: &'a User, address: Option<IpAddr>) -> Self {
        Self { user, address }
    }
}

/// An audit entry's "who, from where, when", with the address as text.
pub(crate) struct Stamp {
    actor: String,
    address: Option<String>,
    now: i64,
}

impl Stamp {
    pub(crate) fn new(uc: &UseCases, acting: &Acting<'_>) -> Self {
        Self {
            actor: acting.user.username.to_string(),
            address: acting.address.map(|a| a.to_string()),
            now: uc.clock.now(),
        }
    }

    /// Someone without an account (a share link's visitor), from `address`.
    pub(crate) fn anonymous(uc: &UseCases, address: Option<IpAddr>) -> Self {
        Self {
            actor: String::new(),
            address: address.map(|a| a.to_string()),
            now: uc.clock.now(),
        }
    }

    /// The system acting (the command line, background jobs): no person, no address.
    pub(crate) fn system(uc: &UseCases) -> Self {
        Self {
            actor: String::new(),
            address: None,
            now: uc.clock.now(),
        }
    }

    pub(crate) fn audit(&self) -> Audit<'_> {
        Audit {
            actor: (!self.actor.is_empty()).then_some(self.actor.as_str()),
            address: self.address.as_deref(),
            now: self.now,
        }
    }
}

#[cfg(test)]
mod instance_tests {
    use super::UseCases;

    #[test]
    fn an_instance_is_named_by_its_machine_and_address_and_keeps_the_name() {
        let first = UseCases::instance_id("0.0.0.0:8080");
        assert_eq!(first, UseCases::instance_id("0.0.0.0:8080"), "restarted");
        assert!(first.ends_with("/0.0.0.0:8080"), "{first}");
        assert_ne!(first, UseCases::instance_id("0.0.0.0:8081"));
        // No fixed port: nothing to recognise it by after a restart, and nothing it
        // may share with another.
        assert_ne!(
            UseCases::instance_id("127.0.0.1:0"),
            UseCases::instance_id("127.0.0.1:0")
        );
    }
}
