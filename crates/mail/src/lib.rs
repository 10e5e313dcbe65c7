//! Email. Messages are queued in the database's outbox in the same transaction as the
//! event they tell about; [`run_outbox`] sends them in the background, retrying with
//! growing pauses, so a slow or absent mail server never holds up a request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use roomkeeper_domain::Clock;
use roomkeeper_store::Store;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a mail server on this machine.
    None,
}

/// The `[email]` section. Without `smtp_host` no email is sent (in-app notices remain).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub security: SmtpSecurity,
    /// Allows `security = "none"` to a relay on another machine (campus relays inside
    /// the network often speak plain SMTP). Logged at every start.
    pub allow_unencrypted_relay: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Sender, e.g. `Roomkeeper <rooms@example.org>`.
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_host: String::new(),
            smtp_port: 587,
            security: SmtpSecurity::Starttls,
            allow_unencrypted_relay: false,
            username: None,
            password: None,
            password_file: None,
            from: "Roomkeeper <roomkeeper@localhost>".into(),
        }
    }
}

impl MailConfig {
    pub fn enabled(&self) -> bool {
        !self.smtp_host.trim().is_empty()
    }

    /// Mail that crosses the network in the clear (what the start warns about).
    pub fn unencrypted_off_this_machine(&self) -> bool {
        let host = self
            .smtp_host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        self.enabled() && self.security == SmtpSecurity::None && !loopback
    }

    /// Problems an operator must fix before start, as (key, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !self.enabled() {
            return Ok(());
        }
        if self.from.parse::<Mailbox>().is_err() {
            return Err((
                "email.from",
                format!(
                    "{:?} is not an address such as Roomkeeper <rooms@example.org>",
                    self.from
                ),
            ));
        }
        if self.unencrypted_off_this_machine() {
            if !self.allow_unencrypted_relay {
                return Err((
                    "email.security",
                    "\"none\" sends mail unencrypted over the network; it is allowed for a mail \
                     server on 127.0.0.1, or for a relay inside your network with \
                     allow_unencrypted_relay = true"
                        .into(),
                ));
            }
            if self.username.is_some() {
                return Err((
                    "email.username",
                    "a password is never sent unencrypted over the network: with \
                     security = \"none\" to another machine, leave username and password out \
                     (a relay that takes mail from this machine's address), or use \"starttls\""
                        .into(),
                ));
            }
        }
        if self.username.is_some() != self.password.is_some() {
            return Err((
                "email.username",
                "give both username and password (or password_file), or neither".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("email configuration: {0}")]
    Config(String),
}

/// Sends one message at a time over SMTP.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(config: &MailConfig) -> Result<Self, Error> {
        let host = config.smtp_host.trim();
        let builder = match config.security {
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        }
        .map_err(|e| Error::Config(format!("email.smtp_host {host:?}: {e}")))?;
        let mut builder = builder
            .port(config.smtp_port)
            .timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from = config
            .from
            .parse()
            .map_err(|e| Error::Config(format!("email.from: {e}")))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("recipient {to:?}: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body.to_owned())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Attempts before a message is given up (kept in the outbox, marked failed).
pub const MAX_ATTEMPTS: i32 = 8;

/// Pause before the next attempt: 1, 2, 4, ... minutes, at most six hours.
pub fn retry_delay_s(attempts: i32) -> i64 {
    let doubling = attempts.clamp(1, 10) - 1;
    (60_i64 << doubling).min(6 * 3600)
}

/// Sends due messages until `shutdown`: on every `wakeup` (a request queued mail in
/// this instance) and at least every `poll` (mail queued by another instance, retries).
pub async fn run_outbox(
    store: Arc<dyn Store>,
    mailer: Mailer,
    clock: Clock,
    wakeup: Arc<Notify>,
    poll: Duration,
    shutdown: CancellationToken,
) {
    loop {
        if let Err(e) = send_due(&*store, &mailer, &clock).await {
            tracing::warn!(error = %e, "outbox: cannot read the queue; trying again later");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = wakeup.notified() => {},
            () = tokio::time::sleep(poll) => {},
        }
    }
}

async fn send_due(
    store: &dyn Store,
    mailer: &Mailer,
    clock: &Clock,
) -> roomkeeper_store::Result<()> {
    loop {
        let now = clock.now();
        // A lease long enough for a slow server; a crashed sender's lease simply expires.
        let batch = store.claim_emails(now, now + 120, 10).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for email in batch {
            match mailer
                .send(&email.recipient, &email.subject, &email.body)
                .await
            {
                Ok(()) => {
                    store.email_sent(email.id, clock.now()).await?;
                    tracing::info!(id = email.id, "email sent");
                }
                Err(error) => {
                    let retry_at = (email.attempts < MAX_ATTEMPTS)
                        .then(|| clock.now() + retry_delay_s(email.attempts));
                    tracing::warn!(id = email.id, attempts = email.attempts, %error, gave_up = retry_at.is_none(), "email not sent");
                    store.email_failed(email.id, &error, retry_at).await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_pause_longer_each_time() {
        let delays: Vec<i64> = (1..=MAX_ATTEMPTS).map(retry_delay_s).collect();
        assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3840, 7680]);
        assert_eq!(retry_delay_s(40), 6 * 3600);
    }

    #[test]
    fn unencrypted_smtp_only_to_this_machine() {
        let mut config = MailConfig {
            smtp_host: "mail.example.org".into(),
            security: SmtpSecurity::None,
            ..MailConfig::default()
        };
        assert_eq!(config.check().unwrap_err().0, "email.security");
        // A campus relay inside the network, chosen on purpose: allowed, without a
        // password (which would cross the network in the clear).
        config.allow_unencrypted_relay = true;
        assert!(config.check().is_ok());
        assert!(config.unencrypted_off_this_machine());
        assert!(Mailer::new(&config).is_ok());
        config.username = Some("roomkeeper".into());
        config.password = Some("secret".into());
        assert_eq!(config.check().unwrap_err().0, "email.username");
        config.allow_unencrypted_relay = false;
        for this_machine in ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"] {
            config.smtp_host = this_machine.into();
            assert!(config.check().is_ok(), "{this_machine}");
            assert!(!config.unencrypted_off_this_machine(), "{this_machine}");
        }
        config.from = "not an address".into();
        assert_eq!(config.check().unwrap_err().0, "email.from");
    }
}
