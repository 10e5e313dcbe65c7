//! A real OpenID provider for login tests: npm's `oidc-provider` run by
//! `e2e/oidc-provider.mjs` (installed by `scripts/test` with `npm ci`), on a free
//! loopback port. Accounts (password = login + [`PASSWORD_SUFFIX`]):
//! - `ada`, subject `u-1001`: Ada Lovelace, groups `staff`;
//! - `bob`, subject `u-1002`: Bob, groups `staff` and `roomkeeper-admins`;
//! - `carol`, subject `u-1003`: a name a local account may already have.
//!
//! Stopped (by its process id) when dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, ensure};
use tokio::io::{AsyncBufReadExt, BufReader};

pub const CLIENT_ID: &str = "roomkeeper";
pub const CLIENT_SECRET: &str = "a client secret for the tests";
pub const PASSWORD_SUFFIX: &str = " at the provider";
pub const ADMIN_GROUP: &str = "roomkeeper-admins";

pub struct OidcServer {
    pub issuer: String,
    _dir: tempfile::TempDir,
    /// Killed when dropped.
    _child: tokio::process::Child,
    http: reqwest::Client,
}

/// Where the Node.js side of the tests lives.
pub fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e")
}

impl OidcServer {
    /// A provider whose one client is Roomkeeper at `roomkeeper_url` with provider name
    /// `name` (the callback and post-logout addresses are derived from both).
    pub async fn start(roomkeeper_url: &str, name: &str) -> anyhow::Result<Self> {
        let e2e = e2e_dir();
        ensure!(
            e2e.join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed: run `npm ci` in {} (scripts/test does)",
            e2e.display()
        );
        let account = |sub: &str, login: &str, name: &str, groups: &[&str]| {
            (
                sub.to_owned(),
                serde_json::json!({
                    "login": login,
                    "password": format!("{login}{PASSWORD_SUFFIX}"),
                    "claims": {
                        "preferred_username": login, "name": name,
                        "email": format!("{login}@example.org"), "groups": groups,
                    },
                }),
            )
        };
        let config = serde_json::json!({
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [format!("{roomkeeper_url}/login/oidc/{name}/callback")],
                "post_logout_redirect_uris": [format!("{roomkeeper_url}/login")],
            }],
            "accounts": serde_json::Map::from_iter([
                account("u-1001", "ada", "Ada Lovelace", &["staff"]),
                account("u-1002", "bob", "Bob", &["staff", ADMIN_GROUP]),
                account("u-1003", "carol", "Carol", &["staff"]),
            ]),
        });
        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join("provider.json");
        std::fs::write(&config_path, serde_json::to_vec(&config)?)?;
        let mut child = tokio::process::Command::new("node")
            .arg(e2e.join("oidc-provider.mjs"))
            .arg(&config_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting node (scripts/test installs Node.js)")?;
        let stdout = child.stdout.take().context("node's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(issuer) = line.strip_prefix("listening ") {
                    return Ok(issuer.to_owned());
                }
            }
            anyhow::bail!("the OpenID provider exited before it listened")
        })
        .await
        .context("the OpenID provider did not start within 20 s")??;
        // Keep reading so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            issuer: ready,
            _dir: dir,
            _child: child,
            http: reqwest::Client::new(),
        })
    }

    /// Roomkeeper's `[[oidc]]` entry for this provider.
    pub fn config(&self, name: &str, label: &str) -> roomkeeper_auth::OidcProviderConfig {
        roomkeeper_auth::OidcProviderConfig {
            name: name.into(),
            label: label.into(),
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            scopes: vec![
                "openid".into(),
                "profile".into(),
                "email".into(),
                "groups".into(),
            ],
            admin_claim: Some("groups".into()),
            admin_value: Some(ADMIN_GROUP.into()),
            ..Default::default()
        }
    }

    /// How the provider's next ID tokens come out: `normal`, or as a broken or hostile
    /// provider would send them: `expired`, `wrong-audience`, `wrong-issuer`,
    /// `wrong-nonce`, `forged` (signed with a key nobody published).
    pub async fn id_tokens(&self, mode: &str) -> anyhow::Result<()> {
        self.test_hook("/test/id-token", &[("mode", mode)]).await
    }

    /// Changes a claim of the account with `subject` at the provider (a rename, say); a
    /// value `[...]` is a JSON list (groups).
    pub async fn set_claim(&self, subject: &str, claim: &str, value: &str) -> anyhow::Result<()> {
        self.test_hook(&format!("/test/accounts/{subject}"), &[(claim, value)])
            .await
    }

    /// One of `e2e/oidc-provider.mjs`'s `/test/*` hooks, which answer 204 when done.
    async fn test_hook(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<()> {
        let answer = self
            .http
            .post(format!("{}{path}", self.issuer))
            .form(form)
            .send()
            .await?;
        ensure!(answer.status() == 204, "{path}: {}", answer.status());
        Ok(())
    }
}
