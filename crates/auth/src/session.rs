use roomkeeper_store::SessionRecord;

/// How long a login lasts. Configured under `[sessions]`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused for this long ends.
    pub idle_timeout_minutes: u32,
    /// A session ends this long after login, however busy.
    pub absolute_timeout_hours: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout_minutes: 120,
            absolute_timeout_hours: 12,
        }
    }
}

impl SessionConfig {
    pub fn idle_s(&self) -> i64 {
        i64::from(self.idle_timeout_minutes) * 60
    }

    pub fn absolute_s(&self) -> i64 {
        i64::from(self.absolute_timeout_hours) * 3600
    }

    pub fn is_live(&self, session: &SessionRecord, now: i64) -> bool {
        now - session.session_last_seen_at < self.idle_s()
            && now - session.session_created_at < self.absolute_s()
    }

    /// Writing `last_seen_at` on every request would turn each page view into a write;
    /// a minute of slack on a two-hour idle timeout is harmless.
    pub fn needs_touch(&self, session: &SessionRecord, now: i64) -> bool {
        now - session.session_last_seen_at >= 60
    }
}
