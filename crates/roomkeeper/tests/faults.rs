//! Faults done for real to the real binary: `kill -9` at random moments, SIGTERM under
//! load, the database stopped, Prosody stopped, the disk full (docs/FAULTS.md). A
//! binary of its own, so each runs with one command:
//!
//!     cargo test -p roomkeeper --test faults
//!     FAULT_CYCLES=200 cargo test -p roomkeeper --test faults kill_9 -- --nocapture

// A failed step should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use roomkeeper_testkit::served::Served;
use sha2::Digest;

#[path = "faults/crash.rs"]
mod crash;
#[path = "faults/database.rs"]
mod database;
#[path = "faults/disk.rs"]
mod disk;
#[path = "faults/prosody.rs"]
mod prosody;
#[path = "faults/restart.rs"]
mod restart;
#[path = "faults/sigterm.rs"]
mod sigterm;
#[path = "faults/spool.rs"]
mod spool;

const MEET: &str = "https://meet.test";
const PASSWORD: &str = "a long test password";
const INGEST_TOKEN: &str = "an-ingest-token-of-more-than-32-characters";

fn binary() -> &'static Path {
    env!("CARGO_BIN_EXE_roomkeeper").as_ref()
}

/// An installation on disk: SQLite, recordings on local disk, the ingest token.
struct Installation {
    work: tempfile::TempDir,
    config: String,
}

impl Installation {
    /// On SQLite, the default; `extra` is added to the configuration.
    fn new(extra: &str) -> Self {
        Self::on(None, extra)
    }

    /// On `database` (a URL), or SQLite.
    fn on(database: Option<&str>, extra: &str) -> Self {
        let work = tempfile::tempdir().unwrap();
        let path = work.path();
        std::fs::write(path.join("ingest-token"), INGEST_TOKEN).unwrap();
        let sqlite = format!("sqlite://{}", path.join("roomkeeper.db").display());
        let config = format!(
            "[database]\nurl = \"{db}\"\n\
             [rooms]\nmeeting_urls = [\"{MEET}\"]\n\
             [recordings]\ndir = \"{recordings}\"\ningest_token_file = \"{token}\"\n{extra}",
            db = database.unwrap_or(&sqlite),
            recordings = path.join("recordings").display(),
            token = path.join("ingest-token").display(),
        );
        std::fs::write(path.join("cli.toml"), &config).unwrap();
        Self { work, config }
    }

    fn dir(&self) -> &Path {
        self.work.path()
    }

    fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.dir().join("roomkeeper.db").display())
    }

    fn recordings(&self) -> PathBuf {
        self.dir().join("recordings")
    }

    /// `roomkeeper ARGS` with this installation's configuration, as an operator runs it.
    fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = Command::new(binary())
            .arg("--config")
            .arg(self.dir().join("cli.toml"))
            .args(args)
            .env_remove("ROOMKEEPER_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "roomkeeper {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// A local account with [`PASSWORD`].
    fn user(&self, name: &str, admin: bool) {
        let mut args = vec!["user", "add", name, "--password-stdin"];
        if admin {
            args.push("--admin");
        }
        self.cli(&args, &format!("{PASSWORD}\n"));
    }

    async fn serve(&self, name: &str) -> Served {
        Served::start(binary(), &self.config, self.dir(), name)
            .await
            .unwrap()
    }
}

/// A client logged in as `username` (its session cookie kept), as a browser would be.
async fn logged_in(served: &Served, username: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = client
        .post(served.url("/api/v1/session"))
        .json(&serde_json::json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    client
}

/// An API token of `username`, made through the API as a script's owner would.
async fn api_token(served: &Served, username: &str) -> String {
    let made = logged_in(served, username)
        .await
        .post(served.url("/api/v1/tokens"))
        .json(&serde_json::json!({"name": "faults"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let body: serde_json::Value = made.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// `name` requested by `lecturer` and approved by `root` (tokens); its id.
async fn registered_room(served: &Served, lecturer: &str, root: &str, name: &str) -> i64 {
    let client = reqwest::Client::new();
    let made = roomkeeper_testkit::json(
        client
            .post(served.url("/api/v1/room-requests"))
            .bearer_auth(lecturer)
            .json(&serde_json::json!({"room": name, "reason": "a lecture"})),
    )
    .await;
    let approved = roomkeeper_testkit::json(
        client
            .post(served.url(&format!("/api/v1/room-requests/{}/approve", made["id"])))
            .bearer_auth(root),
    )
    .await;
    approved["room_id"].as_i64().unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
