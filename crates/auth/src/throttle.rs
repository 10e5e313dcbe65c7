use std::net::IpAddr;
use std::sync::Arc;

use roomkeeper_domain::Username;
use roomkeeper_store::Store;

use crate::Result;

/// Limits on failed logins. Configured under `[login_throttle]`. Counted in the
/// database, so every instance behind a load balancer sees the same numbers.
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

    /// Checked before the password is, so a paused username cannot be guessed at even
    /// with the right password; counts failures for names that do not exist too.
    pub async fn check(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<Result<(), Throttled>> {
        let since = now - self.window_s();
        let (user_key, addr_key) = Self::keys(username, address);
        let throttled = Throttled {
            retry_after_s: self.window_s(),
        };
        if self.store.login_failures_since(&user_key, since).await?
            >= i64::from(self.config.max_failures_per_user)
        {
            return Ok(Err(throttled));
        }
        if let Some(addr_key) = addr_key {
            if self.store.login_failures_since(&addr_key, since).await?
                >= i64::from(self.config.max_failures_per_address)
            {
                return Ok(Err(throttled));
            }
        }
        Ok(Ok(()))
    }

    pub async fn record_failure(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<()> {
        let (user_key, addr_key) = Self::keys(username, address);
        let mut keys = vec![user_key.as_str()];
        keys.extend(addr_key.as_deref());
        self.store.record_login_failure(&keys, now).await?;
        // Old rows are worthless; dropping them here keeps the table small without a job.
        self.store
            .prune_login_failures(now - self.window_s())
            .await?;
        Ok(())
    }

    /// A correct password clears that username's count (not the address's).
    pub async fn record_success(&self, username: &Username) -> Result<()> {
        let (user_key, _) = Self::keys(username.as_str(), None);
        self.store.clear_login_failures(&user_key).await?;
        Ok(())
    }
}
