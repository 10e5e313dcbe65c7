//! Why a shard is not connected, in words an operator can act on: nothing answers, the
//! certificate is not trusted, or the login is refused. A Prosody that answers but
//! cannot be trusted or logged in to is not "down", and saying "no connection" for all
//! three sent operators looking in the wrong place.

use std::sync::Arc;

use tokio::sync::watch;

/// What the last attempt to connect found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ConnectProblem {
    /// Nothing answers at the address (refused, reset, no route, name not resolved).
    #[error("Jitsi (Prosody) is not reachable right now: {0}")]
    Unreachable(String),
    /// Prosody answers, but its certificate is not trusted (or TLS fails).
    #[error("Roomkeeper does not trust Jitsi's Prosody: {0}")]
    Certificate(String),
    /// Prosody answers and TLS is fine, but it refuses the service account's login.
    #[error("Prosody refuses Roomkeeper's login: {0}")]
    Login(String),
    /// Prosody answers, but not as an XMPP server Roomkeeper can use.
    #[error("Roomkeeper cannot talk to Jitsi's Prosody: {0}")]
    Protocol(String),
}

impl ConnectProblem {
    /// Whether an operator must change something (anything but "not there").
    pub fn needs_operator(&self) -> bool {
        !matches!(self, Self::Unreachable(_))
    }

    /// The kind, for `/readyz`, metrics and pages: `unreachable`, `certificate`,
    /// `login`, `protocol`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Certificate(_) => "certificate",
            Self::Login(_) => "login",
            Self::Protocol(_) => "protocol",
        }
    }

    /// What tokio-xmpp's error means for the operator.
    pub fn of(error: &tokio_xmpp::Error, account: &str) -> Self {
        if let Some(tls) = roomkeeper_tls::tls_failure(error) {
            return Self::Certificate(tls);
        }
        match error {
            tokio_xmpp::Error::Auth(why) => Self::Login(login_help(account, &why.to_string())),
            tokio_xmpp::Error::Io(_)
            | tokio_xmpp::Error::DnsNet(_)
            | tokio_xmpp::Error::Disconnected => Self::Unreachable(error.to_string()),
            tokio_xmpp::Error::Protocol(tokio_xmpp::error::ProtocolError::NoTls) => Self::Protocol(
                "it offers no STARTTLS on this port (security = \"starttls\" needs \
                     Prosody's client port, usually 5222)"
                    .to_owned(),
            ),
            other => Self::Protocol(other.to_string()),
        }
    }
}

fn login_help(account: &str, why: &str) -> String {
    format!(
        "{account} cannot log in ({why}): is the account registered on the Prosody machine \
         (roomkeeper-prosody-setup does it) and is password_file the password it was \
         registered with?"
    )
}

/// The connection's attempts as the connector sees them, shared with the shard, which
/// can wait for the next one to end.
#[derive(Debug, Clone)]
pub struct Attempts(Arc<watch::Sender<Seen>>);

impl Default for Attempts {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(Seen::default())))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Seen {
    problem: Option<ConnectProblem>,
    /// The last attempt got through TCP and TLS; the session has not started yet.
    logging_in: bool,
}

impl Attempts {
    pub fn problem(&self) -> Option<ConnectProblem> {
        self.0.borrow().problem.clone()
    }

    /// Told each time an attempt ends or the session starts.
    pub(crate) fn changes(&self) -> watch::Receiver<Seen> {
        self.0.subscribe()
    }

    /// Before an attempt: tokio-xmpp logs a failed login and tries again without telling
    /// anyone, so an attempt that got through TLS and is followed by another, without
    /// the session starting in between, was refused at login (SASL or bind).
    pub fn starting(&self, account: &str) {
        self.0.send_if_modified(|seen| {
            if !std::mem::take(&mut seen.logging_in) {
                return false;
            }
            seen.problem = Some(ConnectProblem::Login(login_help(
                account,
                "Prosody did not accept the login",
            )));
            true
        });
    }

    pub fn connected(&self) {
        self.0.send_modify(|seen| seen.logging_in = true);
    }

    pub fn failed(&self, problem: ConnectProblem) {
        self.0.send_modify(|seen| {
            seen.logging_in = false;
            seen.problem = Some(problem);
        });
    }

    /// The session started.
    pub fn online(&self) {
        self.0.send_modify(|seen| {
            seen.logging_in = false;
            seen.problem = None;
        });
    }
}
