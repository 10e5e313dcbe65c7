use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in whole seconds since the Unix epoch.
///
/// Expiry rules (sessions, throttling) read the time only through this, so tests can
/// move time forward instead of sleeping. Clones share the same offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_s: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> i64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        system + self.offset_s.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) forward. Only tests have a reason to.
    pub fn advance(&self, seconds: i64) {
        self.offset_s.fetch_add(seconds, Ordering::Relaxed);
    }
}
