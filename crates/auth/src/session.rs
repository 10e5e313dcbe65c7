use roomkeeper_store::SessionRecord;

/// How long a login lasts. Configured under `[sessions]`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused for this long ends.
    pub idle_timeout_minutes: u32,
    /// A session ends this long after login, however busy.
    pub absolute_timeout_hours: u32,
    /// An API token stops working at the latest this many days after it was made,
    /// whatever expiry it was given (tokens made without one included).
    pub token_max_days: u32,
}

/// The most `token_max_days` may be: ten years.
pub const TOKEN_MAX_DAYS_LIMIT: u32 = 3660;

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout_minutes: 120,
            absolute_timeout_hours: 12,
            token_max_days: 365,
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

    /// When a token made at `created_at` with `expires_at` stops working: its own
    /// expiry, or the operator's limit if that comes first.
    pub fn token_ends_at(&self, created_at: i64, expires_at: Option<i64>) -> i64 {
        let limit = created_at.saturating_add(i64::from(self.token_max_days) * 86_400);
        expires_at.map_or(limit, |at| at.min(limit))
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
