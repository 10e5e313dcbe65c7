//! Reconnects. tokio-xmpp reconnects by itself, after 1 s, doubling up to 30 s, and at
//! the same moments for every client. Both are wrong for us: after a Prosody restart
//! every Roomkeeper instance would knock at once, again and again; and after an outage
//! of a minute the next attempt could be 30 s after Prosody is back, while lecturers
//! wait for their buttons. So this connector keeps trying itself while Prosody cannot be
//! reached (connection refused, reset, name not resolved), a random wait of at most 2 s
//! before each attempt: back within about 2 s of Prosody, and spread out. Other failures
//! (TLS, login) go back to tokio-xmpp's backoff: those wait for an operator.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sasl::common::ChannelBinding;
use tokio_xmpp::connect::ServerConnector;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::xmlstream::{PendingFeaturesRecv, Timeouts};

use crate::reach::{Attempts, ConnectProblem};

#[derive(Clone)]
pub struct Jittered<C> {
    inner: C,
    /// What each attempt found, for the shard's status and its errors.
    attempts: Attempts,
    /// Attempts that failed since the last success.
    failures: Arc<AtomicU32>,
}

impl<C: std::fmt::Debug> std::fmt::Debug for Jittered<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jittered")
            .field("inner", &self.inner)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl<C> Jittered<C> {
    pub fn new(inner: C, attempts: Attempts) -> Self {
        Self {
            inner,
            attempts,
            failures: Arc::default(),
        }
    }
}

/// The longest wait before an attempt: 250 ms before the first, doubling with each
/// failure up to 2 s.
pub fn max_jitter(failures: u32) -> Duration {
    Duration::from_millis(250 * (1u64 << failures.min(7))).min(MAX_WAIT)
}

const MAX_WAIT: Duration = Duration::from_secs(2);

/// A random wait up to `max_jitter`. The standard library's per-instance random hasher
/// keys are random enough for spreading reconnects (this is no secret).
fn jitter(failures: u32) -> Duration {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let max = max_jitter(failures).as_millis() as u64;
    Duration::from_millis(random % (max + 1))
}

impl<C: ServerConnector + Sync> ServerConnector for Jittered<C> {
    type Stream = C::Stream;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), tokio_xmpp::Error> {
        let account = jid.to_bare().to_string();
        loop {
            tokio::time::sleep(jitter(self.failures.load(Ordering::Relaxed))).await;
            self.attempts.starting(&account);
            let error = match self.inner.connect(jid, ns, timeouts).await {
                Ok(connected) => {
                    self.failures.store(0, Ordering::Relaxed);
                    self.attempts.connected();
                    return Ok(connected);
                }
                Err(error) => error,
            };
            let problem = ConnectProblem::of(&error, &account);
            let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if problem.needs_operator() {
                // Once per failure, spaced out by tokio-xmpp's backoff (up to 30 s).
                tracing::error!(%problem, "Prosody answers, but Roomkeeper cannot connect");
                self.attempts.failed(problem);
                return Err(error);
            }
            // Once, then every ~minute: an outage should not flood the log.
            if failures == 1 || failures % 60 == 0 {
                tracing::warn!(%error, failures, "Prosody cannot be reached; trying again");
            }
            self.attempts.failed(problem);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_with_failures_and_stays_within_bounds() {
        assert_eq!(max_jitter(0), Duration::from_millis(250));
        assert_eq!(max_jitter(2), Duration::from_secs(1));
        assert_eq!(max_jitter(3), Duration::from_secs(2));
        assert_eq!(max_jitter(40), Duration::from_secs(2));
        let waits: Vec<Duration> = (0..200).map(|_| jitter(3)).collect();
        assert!(waits.iter().all(|w| *w <= max_jitter(3)));
        // Spread out, not one value for everyone.
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 100, "{} distinct waits", distinct.len());
    }
}
