use std::net::IpAddr;
use std::sync::Arc;

use roomkeeper_domain::Username;
use roomkeeper_store::Store;

use crate::Result;

/// Limits on login attempts (a right password takes its attempt back). Configured under
/// `[login_throttle]`. Counted in the database, so every instance behind a load balancer
/// sees the same numbers.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    pub window_minutes: u32,
    /// Failed attempts for one username within the window before it is paused.
    pub max_failures_per_user: u32,
    /// Failed attempts from one address within the window before it is paused
    /// (higher: a campus NAT puts many people behind one address).
    pub max_failures_per_address: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            window_minutes: 15,
            max_failures_per_user: 10,
            max_failures_per_address: 100,
        }
    }
}

/// A login that must wait. Says nothing about whether the username exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_s: i64,
}

#[derive(Clone)]
pub struct LoginThrottle {
    store: Arc<dyn Store>,
    config: ThrottleConfig,
}

impl LoginThrottle {
    pub fn new(store: Arc<dyn Store>, config: ThrottleConfig) -> Self {
        Self { store, config }
    }

    fn window_s(&self) -> i64 {
        i64::from(self.config.window_minutes) * 60
    }

    fn keys(username: &str, address: Option<IpAddr>) -> (String, Option<String>) {
        (
            format!("user:{username}"),
            address.map(|a| format!("addr:{a}")),
        )
    }

    /// Counts this attempt, then says whether it may go on to the password check. Counted
    /// first and atomically: sixty attempts in parallel get the numbers 1 to 60, and only
    /// those within the limit are checked (a check before counting let them all through).
    /// Refused before the password is looked at, so a paused username cannot be guessed
    /// at even with the right password; names that do not exist are counted too.
    pub async fn admit(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<Result<(), Throttled>> {
        let (user_key, addr_key) = Self::keys(username, address);
        let mut keys = vec![user_key.as_str()];
        keys.extend(addr_key.as_deref());
        let counts = self
            .store
            .count_login_attempt(&keys, self.window_s(), now)
            .await?;
        let limits = [
            self.config.max_failures_per_user,
            self.config.max_failures_per_address,
        ];
        for (counted, limit) in counts.iter().zip(limits) {
            if counted.attempts > i64::from(limit) {
                return Ok(Err(Throttled {
                    retry_after_s: (counted.window_start + self.window_s() - now).max(1),
                }));
            }
        }
        if counts.first().is_some_and(|c| c.attempts == 1) {
            // A new window for this name: a natural moment to drop ended ones.
            self.store
                .prune_login_attempts(now - self.window_s())
                .await?;
        }
        Ok(Ok(()))
    }

    /// A correct password clears that username's count, and takes this attempt back from
    /// the address's (a campus NAT logs many people in).
    pub async fn record_success(&self, username: &Username, address: Option<IpAddr>) -> Result<()> {
        let (user_key, addr_key) = Self::keys(username.as_str(), address);
        self.store.clear_login_attempts(&user_key).await?;
        if let Some(addr_key) = addr_key {
            self.store.forgive_login_attempt(&addr_key).await?;
        }
        Ok(())
    }

    /// An admitted attempt that was never checked (the server was too busy): it does not
    /// count against the person.
    pub async fn forgive(&self, username: &str, address: Option<IpAddr>) -> Result<()> {
        let (user_key, addr_key) = Self::keys(username, address);
        self.store.forgive_login_attempt(&user_key).await?;
        if let Some(addr_key) = addr_key {
            self.store.forgive_login_attempt(&addr_key).await?;
        }
        Ok(())
    }
}
