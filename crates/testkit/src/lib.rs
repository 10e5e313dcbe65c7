//! What Roomkeeper's tests stand on: a fresh database on either backend, and the whole
//! app served on a free loopback port and driven over real HTTP.
//!
//! PostgreSQL tests need a running server: `scripts/test` starts one and exports
//! `TEST_POSTGRES_URL` (a superuser URL); each test then gets a database of its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use roomkeeper::Config;
use roomkeeper_auth::PasswordHasher;
use roomkeeper_domain::{Clock, Username};
use roomkeeper_store::{NewUser, Store, User};
use tokio_util::sync::CancellationToken;

pub use roomkeeper_web::AppState;

pub mod jibri;
pub mod jitsi;
pub mod ldap;
pub mod listening;
pub mod nginx;
pub mod oidc;
pub mod postgres;
pub mod served;
pub mod tls;

pub use roomkeeper_testkit_db::{
    Backend, POSTGRES_URL_VAR, REQUIRE_SERVERS_VAR, Steps, both_backends, running_as_root,
    skip_without_postgres,
};

/// A database nobody else uses ([`roomkeeper_testkit_db::TestDatabase`]), with the
/// application's configuration for it.
pub struct TestDatabase(roomkeeper_testkit_db::TestDatabase);

impl std::ops::Deref for TestDatabase {
    type Target = roomkeeper_testkit_db::TestDatabase;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> anyhow::Result<Self> {
        Ok(Self(
            roomkeeper_testkit_db::TestDatabase::new(backend).await?,
        ))
    }

    pub fn config(&self) -> Config {
        Config {
            database: self.0.database_config(),
            // Tests log in as admin through accounts they make; no bootstrap password
            // needed, but a known one keeps the log quiet.
            initial_admin_password: Some("initial admin password".into()),
            ..Config::default()
        }
    }

    /// The store as the application opens it.
    pub async fn store(&self) -> anyhow::Result<Arc<dyn Store>> {
        roomkeeper::app::open_store(&self.config()).await
    }
}

/// How long before the app's clock [`TestApp::registered_room`] registers a room.
pub const REGISTERED_BEFORE_S: i64 = 86_400;

/// The whole app, serving on 127.0.0.1 at a port the OS chose.
pub struct TestApp {
    pub address: SocketAddr,
    pub base_url: String,
    pub state: AppState,
    pub config: Config,
    pub database: Arc<TestDatabase>,
    /// Holds `config.recordings.dir` when the test did not choose one.
    _recordings_dir: Option<tempfile::TempDir>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> anyhow::Result<Self> {
        let database = Arc::new(TestDatabase::new(backend).await?);
        let config = database.config();
        Self::spawn_with(database, config, Clock::default()).await
    }

    /// Starts the app on `database` with `config` (its database URL is replaced).
    pub async fn spawn_with(
        database: Arc<TestDatabase>,
        config: Config,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::spawn_on(listener, database, config, clock).await
    }

    /// [`TestApp::spawn_with`] on a listener bound beforehand, for tests whose other
    /// servers must know Roomkeeper's address before it starts (an OpenID provider's
    /// registered callback).
    pub async fn spawn_on(
        listener: tokio::net::TcpListener,
        database: Arc<TestDatabase>,
        mut config: Config,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        config.database.url = database.url.clone();
        // Where it listens names the instance (several may share a database).
        config.http.listen = listener.local_addr()?.to_string();
        let mut recordings_dir = None;
        if config.recordings.dir == roomkeeper_recordings::RecordingsConfig::default().dir {
            let dir = tempfile::tempdir()?;
            config.recordings.dir = dir.path().join("store");
            recordings_dir = Some(dir);
        }
        let state = roomkeeper::prepare(&config, clock).await?;
        let address = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        let serve_config = config.clone();
        let serve_state = state.clone();
        let task = tokio::spawn(async move {
            roomkeeper::serve(listener, serve_state, &serve_config, async move {
                signal.cancelled().await;
            })
            .await
        });
        Ok(Self {
            address,
            base_url: format!("http://{address}"),
            state,
            config,
            database,
            _recordings_dir: recordings_dir,
            shutdown,
            task,
        })
    }

    /// Stops serving (gracefully) and waits until the server has let go of everything.
    /// The app (SQLite) with `prosody` as its Jitsi shard, once connected and its
    /// companion module detected as the server was started with.
    /// Waits (up to 10 s) until the app is connected to every Prosody it is configured with.
    pub async fn jitsi_ready(&self) -> bool {
        self.state
            .usecases
            .shards
            .wait_ready(Duration::from_secs(10))
            .await
    }

    pub async fn spawn_against(prosody: &jitsi::Prosody) -> anyhow::Result<Self> {
        let database = Arc::new(TestDatabase::new(Backend::Sqlite).await?);
        let mut config = database.config();
        config.jitsi.shards = vec![prosody.shard("main")];
        let app = Self::spawn_with(database, config, Default::default()).await?;
        anyhow::ensure!(
            app.jitsi_ready().await,
            "Roomkeeper did not connect to Prosody: {}",
            prosody.log()
        );
        let detected = app.state.usecases.shards.status()[0].companion_module;
        anyhow::ensure!(
            detected == (prosody.companion == jitsi::Companion::Loaded),
            "companion module detected: {detected}, loaded: {:?}",
            prosody.companion
        );
        Ok(app)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await??;
        Ok(())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn store(&self) -> &dyn Store {
        &*self.state.usecases.store
    }

    pub fn clock(&self) -> &Clock {
        &self.state.usecases.clock
    }

    /// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client builds")
    }

    /// An account with a password that needs no change at login.
    pub async fn user(
        &self,
        username: &str,
        password: &str,
        is_admin: bool,
    ) -> anyhow::Result<User> {
        let hash = PasswordHasher::hash(password.to_owned()).await?;
        Ok(self
            .store()
            .create_user(
                &NewUser {
                    username: Username::parse(username)?,
                    display_name: None,
                    password_hash: Some(hash),
                    is_admin,
                    must_change_password: false,
                },
                self.clock().now(),
            )
            .await?)
    }

    /// A session for `username` made straight in the store, skipping the (deliberately
    /// slow) password check: for tests that need many logged-in people. Returns the
    /// `Cookie` header value.
    pub async fn session_cookie(&self, username: &str) -> anyhow::Result<String> {
        let name = Username::parse(username)?;
        let user = self
            .store()
            .user_by_name(&name)
            .await?
            .with_context(|| format!("no user {username}"))?;
        let token = roomkeeper_auth::SecretToken::generate("");
        self.store()
            .create_session(&token.hash, user.id, self.clock().now())
            .await?;
        let name = roomkeeper_web::session_cookie_name(&self.state.http);
        Ok(format!("{name}={}", token.secret))
    }

    /// A client logged in as `username` (made with [`TestApp::passwordless_user`] or
    /// [`TestApp::user`]) that does not follow redirects.
    pub async fn client_as(&self, username: &str) -> anyhow::Result<reqwest::Client> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("cookie", self.session_cookie(username).await?.parse()?);
        Ok(reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()?)
    }

    /// Registers `room` for `owner` (with `co_owners`) as an approved request would,
    /// audited as the owner's, a day before the app's clock: before any recording a test
    /// makes (they start an hour before now, and a recording belongs to the room that
    /// was registered when it was made). Returns the room's id.
    pub async fn registered_room(
        &self,
        room: &str,
        owner: &str,
        co_owners: &[&str],
    ) -> anyhow::Result<i64> {
        let at = self.clock().now() - REGISTERED_BEFORE_S;
        self.registered_room_at(room, owner, co_owners, at).await
    }

    /// [`TestApp::registered_room`] at `at` (Unix seconds).
    pub async fn registered_room_at(
        &self,
        room: &str,
        owner: &str,
        co_owners: &[&str],
        at: i64,
    ) -> anyhow::Result<i64> {
        let audit = roomkeeper_store::Audit {
            actor: Some(owner),
            address: None,
            now: at,
        };
        let request = roomkeeper_store::NewRequest {
            room_name: room.into(),
            requester: owner.into(),
            reason: "test".into(),
            co_owners: co_owners.iter().map(|c| (*c).to_owned()).collect(),
        };
        let created = self
            .store()
            .create_request(&request, Some(room), &audit, &[])
            .await?;
        created.room_id.context("the request was not approved")
    }

    /// An account without a password (it logs in only through [`TestApp::session_cookie`]).
    pub async fn passwordless_user(&self, username: &str, is_admin: bool) -> anyhow::Result<User> {
        Ok(self
            .store()
            .create_user(
                &NewUser {
                    username: Username::parse(username)?,
                    display_name: None,
                    password_hash: None,
                    is_admin,
                    must_change_password: false,
                },
                self.clock().now(),
            )
            .await?)
    }

    /// Logs `client` in through the API and checks that it worked.
    pub async fn log_in(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        let response = client
            .post(self.url("/api/v1/session"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == reqwest::StatusCode::OK,
            "login of {username} answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
        Ok(())
    }
}

/// The JSON error code of an API answer, asserting the status and that a message is
/// there on the way.
/// Sends a request and reads its JSON answer (tests: any failure stops the test).
pub async fn json(request: reqwest::RequestBuilder) -> serde_json::Value {
    request
        .send()
        .await
        .expect("the request is answered")
        .json()
        .await
        .expect("the answer is JSON")
}

pub async fn error_code(response: reqwest::Response, status: reqwest::StatusCode) -> String {
    assert_eq!(response.status(), status, "unexpected status");
    let body: serde_json::Value = response.json().await.expect("a JSON error body");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without a message: {body}");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A real SMTP server (Python's aiosmtpd, installed by `scripts/test`) on a free
/// loopback port, keeping what it receives in a maildir. Stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl SmtpSink {
    pub async fn start() -> anyhow::Result<Self> {
        let mut attempt = 1;
        loop {
            match Self::start_on(listening::free_port()?).await {
                Err(error)
                    if attempt < listening::ATTEMPTS
                        && matches!(
                            error.downcast_ref(),
                            Some(listening::NotListening::Exited { .. })
                        ) =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// On a given port (to bring a mail server back where one was missing).
    pub async fn start_on(port: u16) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let maildir = dir.path().join("mail");
        let child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("cannot start python3 -m aiosmtpd (scripts/test installs it)")?;
        let mut sink = Self { port, dir, child };
        listening::wait_until_listening(&mut sink.child, port, "aiosmtpd").await?;
        Ok(sink)
    }

    /// Configuration that sends to this server.
    pub fn config(&self) -> roomkeeper_mail::MailConfig {
        roomkeeper_mail::MailConfig {
            smtp_host: "127.0.0.1".into(),
            smtp_port: self.port,
            security: roomkeeper_mail::SmtpSecurity::None,
            from: "Roomkeeper <rooms@example.org>".into(),
            ..Default::default()
        }
    }

    /// Every message received so far, raw (headers and body).
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("mail").join("new")) else {
            return Vec::new();
        };
        let mut messages: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect();
        messages.sort();
        messages
    }

    /// Waits until at least `count` messages arrived (the server writes a file per
    /// message; there is nothing to subscribe to, so this looks every 50 ms).
    pub async fn wait_for(&self, count: usize) -> anyhow::Result<Vec<String>> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return Ok(messages);
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "{} of {count} emails arrived within 20 s",
                messages.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A room's Server-Sent Events (`/api/v1/rooms/{id}/events`) read block by block; a
/// network chunk may hold several events, and none is lost between calls.
pub struct MeetingEvents {
    response: reqwest::Response,
    buffer: String,
}

impl MeetingEvents {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The data of the next `meeting` event (at most 10 s away).
    pub async fn next(&mut self) -> anyhow::Result<serde_json::Value> {
        let data = self.next_of("meeting", Duration::from_secs(10)).await?;
        Ok(serde_json::from_str(&data)?)
    }

    /// Waits for the server to end the stream with an `ended` event (its reader lost the
    /// right to see the room); returns that event's data (the reason's code). Waits
    /// longer than the 15 s keep-alive: a quiet stream still sends a comment.
    pub async fn ended(&mut self) -> anyhow::Result<String> {
        self.next_of("ended", Duration::from_secs(30)).await
    }

    /// The data of the next event of `kind`, skipping others; at most `wait` between
    /// two pieces of the stream.
    async fn next_of(&mut self, kind: &str, wait: Duration) -> anyhow::Result<String> {
        let label = format!("event: {kind}");
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.lines().any(|l| l == label) {
                    return Ok(block
                        .lines()
                        .filter_map(|l| l.strip_prefix("data: "))
                        .collect());
                }
                continue;
            }
            let chunk = tokio::time::timeout(wait, self.response.chunk())
                .await
                .with_context(|| format!("no `{kind}` event within {wait:?}"))??
                .with_context(|| format!("the event stream ended before a `{kind}` event"))?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Whether the stream has ended by now (an `ended` event or a close among what has
    /// arrived), without waiting for anything more.
    pub async fn ended_by_now(&mut self) -> bool {
        loop {
            if self.buffer.contains("event: ended") {
                return true;
            }
            match tokio::time::timeout(Duration::from_millis(100), self.response.chunk()).await {
                Err(_) => return false,
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(_) => return true,
            }
        }
    }

    /// Whether the server closed the stream (after `ended`), waiting at most 30 s.
    pub async fn closed(&mut self) -> anyhow::Result<bool> {
        let chunk = tokio::time::timeout(Duration::from_secs(30), self.response.chunk())
            .await
            .context("the stream stayed open for 30 s")??;
        Ok(chunk.is_none())
    }

    /// The first `meeting` event for which `test` holds.
    pub async fn until(
        &mut self,
        test: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<serde_json::Value> {
        loop {
            let event = self.next().await?;
            if test(&event) {
                return Ok(event);
            }
        }
    }
}
