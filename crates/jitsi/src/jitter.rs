//! Jitter for reconnects. tokio-xmpp reconnects by itself (after 1 s, doubling up to
//! 30 s), but at the same moments for every client: after a Prosody restart, every
//! Roomkeeper instance would knock at once, again and again. This connector waits a
//! random part of the current backoff before each attempt.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sasl::common::ChannelBinding;
use tokio_xmpp::connect::ServerConnector;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::xmlstream::{PendingFeaturesRecv, Timeouts};

#[derive(Clone)]
pub struct Jittered<C> {
    inner: C,
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
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            failures: Arc::default(),
        }
    }
}

/// The longest wait before an attempt: a quarter of the backoff tokio-xmpp has just
/// waited (250 ms before the first, up to 7.5 s once the backoff reaches 30 s).
pub fn max_jitter(failures: u32) -> Duration {
    Duration::from_millis(250 * (1u64 << failures.min(7))).min(Duration::from_millis(7500))
}

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
        tokio::time::sleep(jitter(self.failures.load(Ordering::Relaxed))).await;
        let attempt = self.inner.connect(jid, ns, timeouts).await;
        if attempt.is_ok() {
            self.failures.store(0, Ordering::Relaxed);
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_with_failures_and_stays_within_bounds() {
        assert_eq!(max_jitter(0), Duration::from_millis(250));
        assert_eq!(max_jitter(2), Duration::from_secs(1));
        assert_eq!(max_jitter(5), Duration::from_millis(7500));
        assert_eq!(max_jitter(40), Duration::from_millis(7500));
        let waits: Vec<Duration> = (0..200).map(|_| jitter(3)).collect();
        assert!(waits.iter().all(|w| *w <= max_jitter(3)));
        // Spread out, not one value for everyone.
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 100, "{} distinct waits", distinct.len());
    }
}
