//! How many event streams this instance keeps open, per user and in all. Each holds a
//! connection, a task and a followed room for as long as the reader likes, so a limit
//! keeps one script (or one stranger with a token) from holding them all. Counted per
//! instance: the streams are this instance's connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::Error;

#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamLimits {
    /// Open event streams one user may have on one instance (a few tabs and a script).
    pub per_user: usize,
    /// Open event streams on one instance in all.
    pub total: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            per_user: 16,
            total: 2000,
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_user: HashMap<i64, usize>,
}

#[derive(Clone, Default)]
pub struct EventStreams {
    limits: StreamLimits,
    counts: Arc<Mutex<Counts>>,
}

/// One open stream; the count goes down when it is dropped (the stream ended or the
/// client left).
pub struct StreamSlot {
    user_id: i64,
    counts: Arc<Mutex<Counts>>,
}

impl EventStreams {
    pub fn new(limits: StreamLimits) -> Self {
        Self {
            limits,
            counts: Arc::default(),
        }
    }

    pub fn open(&self, user_id: i64) -> Result<StreamSlot, Error> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = counts.per_user.get(&user_id).copied().unwrap_or(0);
        if mine >= self.limits.per_user {
            return Err(Error::TooManyStreams(format!(
                "You have {mine} live views open already; close some tabs or scripts first."
            )));
        }
        if counts.total >= self.limits.total {
            return Err(Error::TooManyStreams(
                "This server has as many live views open as it takes; try again in a minute."
                    .into(),
            ));
        }
        counts.total += 1;
        *counts.per_user.entry(user_id).or_default() += 1;
        Ok(StreamSlot {
            user_id,
            counts: Arc::clone(&self.counts),
        })
    }

    /// Open streams on this instance.
    pub fn open_streams(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.per_user.get_mut(&self.user_id) {
            *mine -= 1;
            if *mine == 0 {
                counts.per_user.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_per_user_and_in_all_and_given_back() {
        let streams = EventStreams::new(StreamLimits {
            per_user: 2,
            total: 3,
        });
        let a1 = streams.open(1).unwrap();
        let _a2 = streams.open(1).unwrap();
        assert!(matches!(streams.open(1), Err(Error::TooManyStreams(_))));
        let _b1 = streams.open(2).unwrap();
        assert!(matches!(streams.open(3), Err(Error::TooManyStreams(_))));
        drop(a1);
        assert_eq!(streams.open_streams(), 2);
        let _c1 = streams.open(3).unwrap();
    }
}
