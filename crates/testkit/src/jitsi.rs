//! A Jitsi deployment on this machine for tests: a real Prosody (Debian's package) with
//! a jitsi-meet-like configuration, a simulated Jicofo and simulated participants. Jicofo
//! and the web client cannot run here; the simulations follow the behaviour recorded in
//! `docs/JITSI-SETUP.md`.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::listening::{ATTEMPTS, free_port, listens};
use roomkeeper_jitsi::connection::{Connection, ConnectionTask, Event, Request};
use roomkeeper_jitsi::tls::StartTls;
use roomkeeper_jitsi::{ShardConfig, XmppSecurity};
use tokio::sync::{mpsc, watch};
use tokio_xmpp::Stanza;
use tokio_xmpp::connect::{DnsConfig, TcpServerConnector};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::xmlstream::Timeouts;

pub const DOMAIN: &str = "meet.test";
pub const SERVICE_PASSWORD: &str = "roomkeeper-service-password";
const FOCUS_PASSWORD: &str = "focus-password";
const MUC: &str = "http://jabber.org/protocol/muc";
const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
const MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";

/// The tenant the test deployment serves, as its own MUC component
/// `conference.physics.meet.test` (Jitsi maps that name onto the main component with
/// mod_muc_domain_mapper, which is not in Debian's prosody: the address Roomkeeper sends
/// to is the same, the mapping inside Prosody is not exercised).
pub const TENANT: &str = "physics";

/// Whether the test Prosody loads Roomkeeper's companion module (`prosody/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Companion {
    Loaded,
    Absent,
}

/// Which Prosody: Debian's 0.12 (`/usr/bin`), or 13 as current Jitsi installs run it,
/// unpacked by `scripts/test` from bookworm-backports into `$TEST_PROSODY_13`
/// (default `/opt/prosody-13`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProsodyVersion {
    Debian012,
    V13,
}

impl ProsodyVersion {
    fn program(self, name: &str) -> std::path::PathBuf {
        match self {
            Self::Debian012 => name.into(),
            Self::V13 => std::path::PathBuf::from(
                std::env::var_os("TEST_PROSODY_13").unwrap_or_else(|| "/opt/prosody-13".into()),
            )
            .join("bin")
            .join(name),
        }
    }
}

/// How Roomkeeper's account reaches the test Prosody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// As jitsi-meet's packages leave it: `prosodyctl cert generate` made the
    /// certificates of `DOMAIN` and `auth.DOMAIN` (self-signed, `CA:TRUE`), the auth host
    /// requires encryption (Prosody's default), the main host does not. Roomkeeper trusts
    /// the auth host's certificate through `ca_file` ([`Prosody::auth_certificate`]).
    JitsiMeet,
    /// STARTTLS required, the auth host's certificate issued by a CA made for this server
    /// ([`Prosody::ca_file`]), as a university's internal CA would.
    InternalCa,
    /// Plain XMPP (`security = "plain"`, loopback only): for tests of that option.
    Plain,
}

/// How a test Prosody is set up; [`Setup::default`] is a jitsi-meet-like deployment on
/// Debian's Prosody with the companion module, reached over STARTTLS.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub version: ProsodyVersion,
    pub companion: Companion,
    pub transport: Transport,
    /// `component_admins_as_room_owners = true` on the MUC components, as jitsi-meet's
    /// template has it. Prosody 13 defaults to false (0.12 behaved as true).
    pub admins_as_owners: bool,
    /// The companion module set to serve another account (`roomkeeper_accounts`), so it
    /// refuses Roomkeeper's: an operator's typo.
    pub module_serves_someone_else: bool,
    /// The companion module as another release of roomkeeper-prosody would be: its
    /// `REVISION` line set to this (a copy of the module is loaded).
    pub module_revision: Option<&'static str>,
    /// jitsi-meet's lobby as its template sets it up: `muc_lobby_rooms` from
    /// jitsi-meet's files ([`jitsi_meet_files`]; a test checks first that they are
    /// there, to say so and skip) on the main host, its `lobby.DOMAIN`
    /// component (with the companion module, when loaded), and the recorders' host
    /// `recorder.DOMAIN` with the account `recorder` ([`RECORDER_PASSWORD`]).
    pub jitsi_lobby: bool,
}

/// The password of `recorder@recorder.DOMAIN` (Jibri's account) with [`Setup::jitsi_lobby`].
pub const RECORDER_PASSWORD: &str = "recorder-secret";

impl Default for Setup {
    fn default() -> Self {
        Self {
            version: ProsodyVersion::Debian012,
            companion: Companion::Loaded,
            transport: Transport::JitsiMeet,
            admins_as_owners: true,
            module_serves_someone_else: false,
            module_revision: None,
            jitsi_lobby: false,
        }
    }
}

/// A Prosody server on a free loopback port, stopped (by its process id) when dropped.
pub struct Prosody {
    pub port: u16,
    pub companion: Companion,
    pub version: ProsodyVersion,
    pub transport: Transport,
    dir: tempfile::TempDir,
    child: Child,
}

impl Prosody {
    /// With the companion module, as recommended to operators.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Companion::Loaded).await
    }

    pub async fn start_with(companion: Companion) -> anyhow::Result<Self> {
        Self::start_setup(Setup {
            companion,
            ..Setup::default()
        })
        .await
    }

    /// With the module and STARTTLS required, the certificate of `auth.meet.test` issued
    /// by a CA made for this server ([`Prosody::ca_file`]), as an internal CA would.
    pub async fn start_internal_ca() -> anyhow::Result<Self> {
        Self::start_setup(Setup {
            transport: Transport::InternalCa,
            ..Setup::default()
        })
        .await
    }

    /// The CA that issued the server's certificate (with [`Transport::InternalCa`]).
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("certs").join("ca.crt")
    }

    /// The auth host's own certificate, as `prosodyctl cert generate` made it (with
    /// [`Transport::JitsiMeet`]); on a jitsi-meet machine
    /// `/etc/prosody/certs/auth.DOMAIN.crt`.
    pub fn auth_certificate(&self) -> std::path::PathBuf {
        self.dir
            .path()
            .join("certs")
            .join(format!("auth.{DOMAIN}.crt"))
    }

    pub async fn start_setup(setup: Setup) -> anyhow::Result<Self> {
        trace_xmpp_if_asked();
        let Setup {
            version,
            companion,
            transport,
            admins_as_owners,
            module_serves_someone_else,
            module_revision,
            jitsi_lobby,
        } = setup;
        let dir = tempfile::tempdir()?;
        let path = dir.path();
        let certs = path.join("certs");
        std::fs::create_dir_all(path.join("data"))?;
        std::fs::create_dir_all(&certs)?;
        let auth_host = format!("auth.{DOMAIN}");
        // Per host, as jitsi-meet's template and postinst write them.
        let ssl = |host: &str| {
            format!(
                "    ssl = {{ key = \"{certs}/{host}.key\"; certificate = \"{certs}/{host}.crt\"; }}",
                certs = certs.display()
            )
        };
        let (encryption, modules, main_host, auth_host_tls) = match transport {
            Transport::JitsiMeet => {
                for host in [DOMAIN, auth_host.as_str()] {
                    generate_certificate(version, &certs, host)?;
                }
                (
                    "modules_disabled = { \"s2s\" }".to_owned(),
                    r#""roster"; "saslauth"; "disco"; "ping"; "tls""#,
                    format!("{}\n    c2s_require_encryption = false", ssl(DOMAIN)),
                    ssl(&auth_host),
                )
            }
            Transport::InternalCa => {
                crate::tls::make_certificates(&certs, &auth_host, &format!("DNS:{auth_host}"))?;
                (
                    "c2s_require_encryption = true\nmodules_disabled = { \"s2s\" }".to_owned(),
                    r#""roster"; "saslauth"; "disco"; "ping"; "tls""#,
                    String::new(),
                    ssl(&auth_host),
                )
            }
            Transport::Plain => (
                "c2s_require_encryption = false\nallow_unencrypted_plain_auth = true\n\
                 modules_disabled = { \"s2s\"; \"tls\" }"
                    .to_owned(),
                r#""roster"; "saslauth"; "disco"; "ping""#,
                String::new(),
                String::new(),
            ),
        };
        let mut plugins = concat!(env!("CARGO_MANIFEST_DIR"), "/../../prosody").to_owned();
        if let Some(revision) = module_revision {
            let module = std::fs::read_to_string(format!("{plugins}/mod_roomkeeper.lua"))?;
            let line = format!(
                "local REVISION = \"{}\";",
                roomkeeper_jitsi::MODULE_REVISION
            );
            anyhow::ensure!(module.contains(&line), "mod_roomkeeper.lua lacks {line}");
            let other = path.join("other-release");
            std::fs::create_dir_all(&other)?;
            std::fs::write(
                other.join("mod_roomkeeper.lua"),
                module.replace(&line, &format!("local REVISION = \"{revision}\";")),
            )?;
            plugins = other.display().to_string();
        }
        let module = match companion {
            // The module's default account is roomkeeper@auth.DOMAIN, as here.
            Companion::Loaded if module_serves_someone_else => format!(
                "    modules_enabled = {{ \"roomkeeper\" }}\n    roomkeeper_accounts = {{ \"someone-else@auth.{DOMAIN}\" }}"
            ),
            Companion::Loaded => r#"    modules_enabled = { "roomkeeper" }"#.to_owned(),
            Companion::Absent => String::new(),
        };
        let owners = if admins_as_owners {
            "    component_admins_as_room_owners = true"
        } else {
            ""
        };
        let jitsi_files = if jitsi_lobby {
            Some(jitsi_meet_files("jitsi-meet's lobby").context("jitsi-meet's files are missing")?)
        } else {
            None
        };
        let recorder_host = format!("recorder.{DOMAIN}");
        let recorder_tls = match (&jitsi_files, transport) {
            (Some(_), Transport::JitsiMeet) => {
                generate_certificate(version, &certs, &recorder_host)?;
                ssl(&recorder_host)
            }
            _ => String::new(),
        };
        let (lobby_plugins, lobby_host, lobby_component) = match &jitsi_files {
            Some(files) => (
                format!(", \"{}/prosody-plugins\"", files.display()),
                // The whitelist line is the template's, uncommented as the operator
                // does (docs/JITSI-SETUP.md): Jibri passes the lobby.
                format!(
                    "    modules_enabled = {{ \"muc_lobby_rooms\" }}\n    \
                     lobby_muc = \"lobby.{DOMAIN}\"\n    main_muc = \"conference.{DOMAIN}\"\n    \
                     muc_lobby_whitelist = {{ \"recorder.{DOMAIN}\" }}"
                ),
                format!(
                    r#"
-- As jitsi-meet's template has them.
Component "lobby.{DOMAIN}" "muc"
    storage = "memory"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    admins = {{ "roomkeeper@auth.{DOMAIN}" }}
{owners}
{module}

VirtualHost "recorder.{DOMAIN}"
    authentication = "internal_hashed"
{recorder_tls}
"#,
                    owners = if admins_as_owners {
                        "    component_admins_as_room_owners = true"
                    } else {
                        ""
                    }
                ),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        let config = |port: u16| {
            format!(
                r#"{loopback}
plugin_paths = {{ "{plugins}"{lobby_plugins} }}
{encryption}
modules_enabled = {{ {modules} }}
log = {{ {{ levels = {{ min = "{log_level}" }}, to = "file", filename = "{dir}/prosody.log" }} }}

VirtualHost "{DOMAIN}"
    authentication = "anonymous"
{main_host}
{lobby_host}

VirtualHost "auth.{DOMAIN}"
    authentication = "internal_hashed"
{auth_host_tls}

-- As in a Debian jitsi-meet install, plus Roomkeeper's service account among the
-- admins (docs/JITSI-SETUP.md).
Component "conference.{DOMAIN}" "muc"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    storage = "memory"
    admins = {{ "focus@auth.{DOMAIN}", "roomkeeper@auth.{DOMAIN}" }}
{owners}
{module}

Component "conference.{TENANT}.{DOMAIN}" "muc"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    storage = "memory"
    admins = {{ "focus@auth.{DOMAIN}", "roomkeeper@auth.{DOMAIN}" }}
{owners}
{lobby_component}
"#,
                loopback = loopback_server(path, port),
                dir = path.display(),
                log_level = std::env::var("TEST_PROSODY_LOG").unwrap_or_else(|_| "info".into()),
            )
        };
        let config_path = path.join("prosody.cfg.lua");
        let port = free_port()?;
        std::fs::write(&config_path, config(port))?;
        let mut accounts = vec![
            ("focus", format!("auth.{DOMAIN}"), FOCUS_PASSWORD),
            ("roomkeeper", format!("auth.{DOMAIN}"), SERVICE_PASSWORD),
        ];
        if jitsi_lobby {
            accounts.push(("recorder", format!("recorder.{DOMAIN}"), RECORDER_PASSWORD));
        }
        for (user, host, password) in accounts {
            let status = Command::new(version.program("prosodyctl"))
                .arg("--config")
                .arg(&config_path)
                .args(["register", user, &host, password])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .with_context(|| {
                    format!("cannot run prosodyctl {version:?} (scripts/test installs it)")
                })?;
            anyhow::ensure!(status.success(), "prosodyctl register {user} failed");
        }
        let (child, port) = start_on_a_free_port(
            version,
            &config_path,
            &path.join("prosody.log"),
            port,
            |port| std::fs::write(&config_path, config(port)),
        )
        .await?;
        let server = Self {
            port,
            companion,
            version,
            transport,
            dir,
            child,
        };
        // A test for Prosody 13 must not pass on 0.12 unnoticed.
        let greeting = match version {
            ProsodyVersion::Debian012 => "Prosody version 0.12",
            ProsodyVersion::V13 => "Prosody version 13.",
        };
        anyhow::ensure!(
            server.log().contains(greeting),
            "expected {version:?}, its log says: {}",
            server
                .log()
                .lines()
                .find(|l| l.contains("Prosody version"))
                .unwrap_or("nothing")
        );
        Ok(server)
    }

    /// Stops the server and starts it again on the same port and data (accounts stay;
    /// rooms, kept in memory as in Jitsi, are gone).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.start_again().await
    }

    /// Kills the server (`kill -9`: gone, as a crashed or unplugged Prosody is).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a stopped server again on the same port and data.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.child = Command::new(self.version.program("prosody"))
            .arg("--config")
            .arg(self.dir.path().join("prosody.cfg.lua"))
            .arg("-F")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start prosody again")?;
        match wait_until_listening(
            &mut self.child,
            self.port,
            &self.dir.path().join("prosody.log"),
        )
        .await
        {
            Ok(()) => {}
            Err(Taken::Port) => bail!("prosody's port {} was taken meanwhile", self.port),
            Err(Taken::Other(error)) => return Err(error),
        }
        Ok(())
    }

    /// The server's process id (benchmarks pin it to a core).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prosody.log")).unwrap_or_default()
    }

    /// How Roomkeeper reaches this Prosody: over STARTTLS trusting what its operator
    /// would trust, or plain for [`Transport::Plain`].
    pub fn shard(&self, name: &str) -> ShardConfig {
        let mut shard = shard_at(self.port, name);
        match self.transport {
            Transport::JitsiMeet => {
                shard.security = XmppSecurity::Starttls;
                shard.ca_file = Some(self.auth_certificate());
            }
            Transport::InternalCa => {
                shard.security = XmppSecurity::Starttls;
                shard.ca_file = Some(self.ca_file());
            }
            Transport::Plain => {}
        }
        shard
    }

    /// The `[[jitsi.shards]]` entry an operator would write for this Prosody (the
    /// password inline: tests only), ending with a line break.
    pub fn shard_toml(&self, name: &str) -> String {
        let shard = self.shard(name);
        let security = match shard.security {
            XmppSecurity::Starttls => "starttls",
            XmppSecurity::Plain => "plain",
        };
        let ca_file = shard.ca_file.map_or_else(String::new, |f| {
            format!("ca_file = {:?}\n", f.display().to_string())
        });
        format!(
            "[[jitsi.shards]]\nname = \"{name}\"\nxmpp_address = \"{}\"\nsecurity = \"{security}\"\n\
             {ca_file}domain = \"{}\"\naccount = \"{}\"\npassword = \"{}\"\n",
            shard.xmpp_address,
            shard.domain,
            shard.account,
            shard.password.unwrap_or_default(),
        )
    }

    /// A second connection as Roomkeeper's service account, for measuring raw IQs
    /// beside Roomkeeper's own.
    pub async fn service_connection(&self) -> anyhow::Result<(Connection, ConnectionTask)> {
        let jid: Jid = format!("roomkeeper@auth.{DOMAIN}/raw").parse()?;
        let (connection, task, _events) = self.auth_online(jid, SERVICE_PASSWORD).await?;
        Ok((connection, task))
    }

    /// Logs in an account of the auth host (the focus, the service account) or of the
    /// recorders' host: over STARTTLS where the host requires it, as Jicofo connects.
    async fn auth_online(
        &self,
        jid: Jid,
        password: &str,
    ) -> anyhow::Result<(Connection, ConnectionTask, mpsc::UnboundedReceiver<Event>)> {
        let dns = DnsConfig::addr(&format!("127.0.0.1:{}", self.port));
        let trusted = match self.transport {
            Transport::JitsiMeet => self
                .dir
                .path()
                .join("certs")
                .join(format!("{}.crt", jid.domain())),
            Transport::InternalCa => self.ca_file(),
            Transport::Plain => return online(self.connector(), jid, password).await,
        };
        let tls = StartTls::new(dns, Some(&trusted)).map_err(anyhow::Error::msg)?;
        online(tls, jid, password).await
    }

    /// For anonymous participants on the main host, which does not require encryption
    /// (jitsi-meet's template); browsers reach it over BOSH or websockets behind nginx.
    fn connector(&self) -> TcpServerConnector {
        connector_at(self.port)
    }
}

/// `echo | prosodyctl cert generate HOST`, as jitsi-meet-prosody's postinst runs it.
fn generate_certificate(
    version: ProsodyVersion,
    certs: &std::path::Path,
    host: &str,
) -> anyhow::Result<()> {
    let config = certs.join("generate.cfg.lua");
    std::fs::write(
        &config,
        // prosodyctl makes certificates only for hosts its configuration has, and writes
        // them to `certificates` as root, to `data_path` otherwise.
        format!(
            "run_as_root = true\ncertificates = \"{dir}\"\ndata_path = \"{dir}\"\nVirtualHost \"{host}\"\n",
            dir = certs.display()
        ),
    )?;
    let mut child = Command::new(version.program("prosodyctl"))
        .arg("--config")
        .arg(&config)
        .args(["cert", "generate", host])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run prosodyctl {version:?} (scripts/test installs it)"))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(b"\n")?;
    }
    let status = child.wait()?;
    let crt = certs.join(format!("{host}.crt"));
    anyhow::ensure!(
        status.success() && crt.exists(),
        "prosodyctl cert generate {host} failed ({status})"
    );
    std::fs::remove_file(&config)?;
    Ok(())
}

fn connector_at(port: u16) -> TcpServerConnector {
    TcpServerConnector::from(DnsConfig::addr(&format!("127.0.0.1:{port}")))
}

/// How Roomkeeper reaches a test Prosody listening on `port`.
pub fn shard_at(port: u16, name: &str) -> ShardConfig {
    ShardConfig {
        name: name.into(),
        xmpp_address: format!("127.0.0.1:{port}"),
        security: XmppSecurity::Plain,
        ca_file: None,
        domain: DOMAIN.into(),
        account: format!("roomkeeper@auth.{DOMAIN}"),
        password: Some(SERVICE_PASSWORD.into()),
        password_file: None,
        muc_domain: None,
        service_jids: Vec::new(),
        // Tests wait for Prosody's answer, however busy the machine: production's 1.5 s
        // is a promise to people, not to a test beside a build. Tests of an unreachable
        // Prosody stop it, which is answered at once.
        answer_timeout_ms: 30_000,
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test keeps Prosody's log (its directory goes with the test): an IQ
        // answer that never came is looked for there. TEST_PROSODY_LOG=debug logs every
        // stanza.
        if std::thread::panicking() {
            let kept = std::env::temp_dir().join(format!("prosody-{}.log", self.port));
            if std::fs::copy(self.dir.path().join("prosody.log"), &kept).is_ok() {
                eprintln!("Prosody's log of the failed test: {}", kept.display());
            }
        }
    }
}

/// With `TEST_XMPP_TRACE=1`, tokio-xmpp logs every byte it sends and receives into the
/// test's output (shown when a test fails): with Prosody's debug log, this tells on which
/// side of the socket a missing answer was lost.
fn trace_xmpp_if_asked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("TEST_XMPP_TRACE").is_some() {
        ONCE.call_once(|| {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("tokio_xmpp=trace,roomkeeper_jitsi=debug")
                .with_test_writer()
                .try_init();
        });
    }
}

/// A test Prosody's own files under `dir`, and its one client port on loopback.
fn loopback_server(dir: &std::path::Path, port: u16) -> String {
    format!(
        r#"run_as_root = true
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
admin_socket = "{dir}/prosody.sock"
certificates = "{dir}/certs"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}"#,
        dir = dir.display()
    )
}

/// Starts Prosody on `config`, listening on `port`; when another process has that
/// port, `move_to` writes the configuration for a fresh one and it tries again.
async fn start_on_a_free_port(
    version: ProsodyVersion,
    config: &std::path::Path,
    log: &std::path::Path,
    mut port: u16,
    mut move_to: impl FnMut(u16) -> std::io::Result<()>,
) -> anyhow::Result<(Child, u16)> {
    let mut attempt = 1;
    loop {
        let mut child = Command::new(version.program("prosody"))
            .arg("--config")
            .arg(config)
            .arg("-F")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start prosody")?;
        match wait_until_listening(&mut child, port, log).await {
            Ok(()) => return Ok((child, port)),
            Err(Taken::Port) if attempt < ATTEMPTS => {
                attempt += 1;
                let _ = child.kill();
                let _ = child.wait();
                port = free_port()?;
                move_to(port)?;
                std::fs::write(log, "")?;
            }
            Err(Taken::Port) => bail!("prosody found no free port in {ATTEMPTS} tries"),
            Err(Taken::Other(error)) => return Err(error),
        }
    }
}

/// Why a Prosody did not come up.
enum Taken {
    /// Another process has its port: try another.
    Port,
    Other(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Taken {
    fn from(error: E) -> Self {
        Self::Other(error.into())
    }
}

/// Until `child` listens on `port` (see `crate::listening`). Prosody does not exit when
/// its port is taken: it logs that and runs on, so its log tells.
async fn wait_until_listening(
    child: &mut Child,
    port: u16,
    log: &std::path::Path,
) -> Result<(), Taken> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let log_text = || std::fs::read_to_string(log).unwrap_or_default();
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(anyhow::anyhow!("prosody exited ({status}): {}", log_text()).into());
        }
        if listens(child.id(), port)? {
            return Ok(());
        }
        if log_text().contains("Failed to open server port") {
            return Err(Taken::Port);
        }
        if std::time::Instant::now() > deadline {
            return Err(anyhow::anyhow!("prosody did not listen on {port}: {}", log_text()).into());
        }
        // No event tells when another process starts listening; see crate::listening.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The room's JID on the test deployment: `room` or `tenant/room`.
pub fn room_jid(room: &str) -> String {
    match room.split_once('/') {
        Some((tenant, room)) => format!("{room}@conference.{tenant}.{DOMAIN}"),
        None => format!("{room}@conference.{DOMAIN}"),
    }
}

fn element(xml: &str) -> Element {
    xml.parse().expect("a well-formed test stanza")
}

/// An occupant's presence to `room` as `nick` with a display name, as Jitsi clients send
/// it; `muc_x` (the MUC `<x/>`, with a password if any) makes it a join.
fn occupant_presence(
    room_jid: &str,
    nick: &str,
    display_name: &str,
    muc_x: Option<&str>,
) -> anyhow::Result<Presence> {
    let mut payloads: Vec<Element> = muc_x.map(element).into_iter().collect();
    payloads.push(element(&format!(
        "<nick xmlns='http://jabber.org/protocol/nick'>{display_name}</nick>"
    )));
    Ok(Presence::new(PresenceType::None)
        .with_to(format!("{room_jid}/{nick}").parse::<Jid>()?)
        .with_payloads(payloads))
}

fn muc_item(presence: &Presence) -> Option<&Element> {
    presence
        .payloads
        .iter()
        .find(|p| p.is("x", MUC_USER))
        .and_then(|x| x.children().find(|c| c.name() == "item"))
}

/// The MUC status codes of a presence (110 self, 307 kicked, 301 banned, …).
fn status_codes(presence: &Presence) -> Vec<String> {
    presence
        .payloads
        .iter()
        .filter(|p| p.is("x", MUC_USER))
        .flat_map(|x| x.children())
        .filter(|c| c.name() == "status")
        .filter_map(|c| c.attr("code").map(str::to_owned))
        .collect()
}

/// The defined condition of an error presence (`registration-required`, …).
fn error_condition(presence: &Presence) -> String {
    presence
        .payloads
        .iter()
        .find(|p| p.name() == "error")
        .and_then(|e| e.children().next())
        .map_or_else(|| "error".into(), |c| c.name().to_owned())
}

fn bare(jid: &str) -> String {
    jid.split('/').next().unwrap_or(jid).to_owned()
}

/// What the simulated Jicofo knows of one room.
#[derive(Default)]
struct RoomState {
    /// Occupants in join order.
    members: Vec<Member>,
    /// The one owner it elected or adopted (bare JID), as AutoOwnerRoleManager remembers it.
    owner: Option<String>,
}

struct Member {
    nick: String,
    /// Real JID.
    jid: String,
    /// As the occupant's last presence said.
    affiliation: String,
    role: String,
}

impl Member {
    /// Jicofo never elects Jibri, Jigasi or a visitor.
    fn may_be_elected(&self) -> bool {
        !self.jid.contains("@recorder.") && !self.jid.contains("jigasi") && self.role != "visitor"
    }
}

/// Jicofo as far as moderators go (AutoOwnerRoleManager): creates each room on first
/// join. It elects an owner only when it has none: at the start, and when the member it
/// chose leaves. It then first adopts a member who already has owner rights, and only if
/// there is none grants owner to the first member who is not Jibri, Jigasi or a visitor.
/// It ignores affiliation changes made by others (so after a revoke nobody is
/// re-granted until its pick leaves).
pub struct Focus {
    sender: Connection,
    /// One IQ in flight on the focus's connection, as in `XmppShard`: with several,
    /// tokio-xmpp 6 can stall one (seen here as "the focus could not create …").
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
    rooms: Arc<Mutex<HashMap<String, RoomState>>>,
    /// Owner grants sent so far (to count them: a guard must not start a fight).
    grants: Arc<std::sync::atomic::AtomicU64>,
    _connection: ConnectionTask,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Focus {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the connection task and waits (at most 10 s) for the session; the events
/// after that arrive on the returned channel.
async fn online<C: tokio_xmpp::connect::ServerConnector>(
    connector: C,
    jid: Jid,
    password: &str,
) -> anyhow::Result<(Connection, ConnectionTask, mpsc::UnboundedReceiver<Event>)> {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (connection, task) = Connection::start(
        connector,
        jid,
        password.to_owned(),
        Timeouts::tight(),
        move |event| {
            let _ = events_tx.send(event);
        },
    );
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.recv().await {
            if event.is_online() {
                return Ok(());
            }
        }
        bail!("the XMPP stream ended before the session started")
    })
    .await
    .context("no XMPP session within 10 s")??;
    Ok((connection, task, events))
}

impl Focus {
    pub async fn start(prosody: &Prosody) -> anyhow::Result<Self> {
        let jid: Jid = format!("focus@auth.{DOMAIN}/focus").parse()?;
        let (sender, connection, mut receiver) = prosody.auth_online(jid, FOCUS_PASSWORD).await?;
        let rooms: Arc<Mutex<HashMap<String, RoomState>>> = Arc::default();
        let state = Arc::clone(&rooms);
        let granting = sender.clone();
        let one_at_a_time: Arc<tokio::sync::Mutex<()>> = Arc::default();
        let turns = Arc::clone(&one_at_a_time);
        let grants: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let granted = Arc::clone(&grants);
        let task = tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                let Event::Stanza(Stanza::Presence(presence)) = event else {
                    continue;
                };
                let Some(from) = presence.from.as_ref().map(ToString::to_string) else {
                    continue;
                };
                let Some((room, nick)) = from.split_once('/') else {
                    continue;
                };
                let item = muc_item(&presence);
                let real = item.and_then(|i| i.attr("jid")).map(str::to_owned);
                let attr = |name: &str| {
                    item.and_then(|i| i.attr(name))
                        .unwrap_or_default()
                        .to_owned()
                };
                let (affiliation, role) = (attr("affiliation"), attr("role"));
                let elect = {
                    let mut rooms = state.lock().expect("focus state");
                    let entry = rooms.entry(room.to_owned()).or_default();
                    let known = entry.members.iter().position(|m| m.nick == nick);
                    match (presence.type_.clone(), real, known) {
                        (PresenceType::Unavailable, _, Some(i)) => {
                            let left = entry.members.remove(i);
                            if Some(bare(&left.jid)) == entry.owner {
                                entry.owner = None;
                            }
                        }
                        (PresenceType::None, _, Some(i)) => {
                            entry.members[i].affiliation = affiliation;
                            entry.members[i].role = role;
                        }
                        (PresenceType::None, Some(jid), None) if nick != "focus" => {
                            entry.members.push(Member {
                                nick: nick.to_owned(),
                                jid,
                                affiliation,
                                role,
                            });
                        }
                        _ => {}
                    }
                    if entry.owner.is_none() {
                        let adopted = entry
                            .members
                            .iter()
                            .find(|m| m.affiliation == "owner" && m.may_be_elected());
                        match adopted {
                            Some(member) => {
                                entry.owner = Some(bare(&member.jid));
                                None
                            }
                            None => {
                                let candidate = entry
                                    .members
                                    .iter()
                                    .find(|m| m.may_be_elected())
                                    .map(|m| bare(&m.jid));
                                entry.owner.clone_from(&candidate);
                                candidate
                            }
                        }
                    } else {
                        None
                    }
                };
                if let Some(jid) = elect {
                    granted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let iq = element(&format!(
                        "<query xmlns='{MUC_ADMIN}'><item affiliation='owner' jid='{jid}'/></query>"
                    ));
                    if let Ok(to) = room.parse::<Jid>() {
                        // The answer does not matter: the presence that follows tells.
                        let _turn = turns.lock().await;
                        let answer = granting.iq(to, Request::Set(iq));
                        drop(tokio::time::timeout(Duration::from_secs(2), answer).await);
                    }
                }
            }
        });
        Ok(Self {
            sender,
            one_at_a_time,
            rooms,
            grants,
            _connection: connection,
            task,
        })
    }

    /// Waits (at most 10 s) until the focus has taken in `nick`'s presence in `room`:
    /// present or gone. Presences arrive in order, so everything before it is in too.
    pub async fn wait_until_seen(
        &self,
        room: &str,
        nick: &str,
        present: bool,
    ) -> anyhow::Result<()> {
        let room_jid = room_jid(room);
        let seen = || {
            self.rooms
                .lock()
                .expect("focus state")
                .get(&room_jid)
                .is_some_and(|r| r.members.iter().any(|m| m.nick == nick) == present)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !seen() {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the focus did not see {nick} {} {room} within 10 s",
                if present { "join" } else { "leave" }
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// How many times it has granted owner rights so far.
    pub fn grants_sent(&self) -> u64 {
        self.grants.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What a client's conference request makes Jicofo do: join (and so create) the room.
    pub async fn ensure_room(&self, room: &str) -> anyhow::Result<()> {
        let room_jid = room_jid(room);
        let exists = self
            .rooms
            .lock()
            .expect("focus state")
            .contains_key(&room_jid);
        if exists {
            return Ok(());
        }
        self.rooms
            .lock()
            .expect("focus state")
            .entry(room_jid.clone())
            .or_default();
        // The room exists once Prosody answers the focus's own presence; asking for its
        // configuration is the simplest way to wait for that. The presence goes again on
        // every try: a join that Prosody dropped or refused (seen on a loaded CI machine:
        // "the focus could not create logic") is otherwise never repeated, and joining a
        // room one is in already is a harmless presence update.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let presence = Presence::new(PresenceType::None)
                .with_to(format!("{room_jid}/focus").parse::<Jid>()?)
                .with_payloads(vec![element(&format!("<x xmlns='{MUC}'/>"))]);
            self.sender
                .send_stanza(presence.into())
                .await
                .map_err(anyhow::Error::msg)?;
            let answer = async {
                let _turn = self.one_at_a_time.lock().await;
                self.sender
                    .iq(
                        room_jid.parse()?,
                        Request::Get(element(&format!("<query xmlns='{MUC_OWNER}'/>"))),
                    )
                    .await
                    .map_err(anyhow::Error::msg)
            };
            let last = match tokio::time::timeout(Duration::from_secs(2), answer).await {
                Ok(Ok(Ok(_))) => return Ok(()),
                Ok(Ok(Err(refusal))) => format!("Prosody answered {refusal:?}"),
                Ok(Err(error)) => format!("the IQ failed: {error:#}"),
                Err(_) => "no answer within 2 s".to_owned(),
            };
            // Said in full: this has failed on loaded CI machines and the cause is open.
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the focus could not create {room}: {last}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Where someone arriving at a meeting is, as their Jitsi client would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whereabouts {
    /// Asked to join, no answer yet.
    Arriving,
    /// Refused by the meeting's lobby and waiting in it ("asking to join").
    Knocking,
    /// In the meeting, with this role.
    Inside {
        moderator: bool,
    },
    /// Sent away from the lobby (status 307 there).
    Denied,
    /// Refused for another reason (the condition), or out of the meeting again.
    Refused(String),
    Left,
}

/// Someone arriving as Jitsi's web client does at a meeting that may have a lobby
/// (lib-jitsi-meet's `Lobby`): joins; refused with `registration-required` (jitsi-meet's
/// lobby plugin), joins the lobby room on the same connection and waits there; an invite
/// from the meeting, or the lobby's end with the meeting as the new venue, takes them in.
pub struct Arrival {
    pub nick: String,
    /// The meeting's room JID.
    pub room: String,
    whereabouts: watch::Receiver<Whereabouts>,
    _connection: ConnectionTask,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Arrival {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Arrival {
    /// Connects anonymously and asks to join `room` (the focus creates it first, as
    /// Jicofo does); answers at once, without waiting to be in.
    pub async fn start(
        prosody: &Prosody,
        focus: &Focus,
        room: &str,
        nick: &str,
        display_name: &str,
    ) -> anyhow::Result<Self> {
        focus.ensure_room(room).await?;
        let main = room_jid(room);
        let lobby = main.replacen("@conference.", "@lobby.", 1);
        let jid: Jid = format!("guest@{DOMAIN}").parse()?;
        let (sender, connection, mut receiver) = online(prosody.connector(), jid, "").await?;
        let (whereabouts_tx, whereabouts) = watch::channel(Whereabouts::Arriving);
        let join_main = occupant_presence(
            &main,
            nick,
            display_name,
            Some(&format!("<x xmlns='{MUC}'/>")),
        )?;
        let join_lobby = occupant_presence(
            &lobby,
            nick,
            display_name,
            Some(&format!("<x xmlns='{MUC}'/>")),
        )?;
        let (me_main, me_lobby) = (format!("{main}/{nick}"), format!("{lobby}/{nick}"));
        let first = join_main.clone();
        let task_sender = sender.clone();
        let task = tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                let next = match event {
                    Event::Stanza(Stanza::Presence(presence)) => {
                        let from = presence
                            .from
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default();
                        let codes = status_codes(&presence);
                        let destroyed_into_meeting = presence
                            .payloads
                            .iter()
                            .filter(|p| p.is("x", MUC_USER))
                            .flat_map(|x| x.children())
                            .any(|c| {
                                c.name() == "destroy"
                                    && c.attr("jid").map(bare).as_deref() == Some(main.as_str())
                            });
                        if from == me_main {
                            match presence.type_ {
                                PresenceType::Error => {
                                    let condition = error_condition(&presence);
                                    if condition == "registration-required" {
                                        if task_sender
                                            .send_stanza(join_lobby.clone().into())
                                            .await
                                            .is_err()
                                        {
                                            break;
                                        }
                                        None
                                    } else {
                                        Some(Whereabouts::Refused(condition))
                                    }
                                }
                                PresenceType::Unavailable => Some(Whereabouts::Left),
                                _ => muc_item(&presence)
                                    .and_then(|i| i.attr("role"))
                                    .map(|role| Whereabouts::Inside {
                                        moderator: role == "moderator",
                                    }),
                            }
                        } else if from == me_lobby {
                            match presence.type_ {
                                PresenceType::Unavailable if codes.iter().any(|c| c == "307") => {
                                    Some(Whereabouts::Denied)
                                }
                                PresenceType::Unavailable if destroyed_into_meeting => {
                                    if task_sender
                                        .send_stanza(join_main.clone().into())
                                        .await
                                        .is_err()
                                    {
                                        break;
                                    }
                                    None
                                }
                                PresenceType::Unavailable | PresenceType::Error => None,
                                _ => Some(Whereabouts::Knocking),
                            }
                        } else {
                            None
                        }
                    }
                    Event::Stanza(Stanza::Message(message)) => {
                        let from_meeting = message.from.as_ref().map(|f| bare(&f.to_string()))
                            == Some(main.clone());
                        let invited = message
                            .payloads
                            .iter()
                            .filter(|p| p.is("x", MUC_USER))
                            .any(|x| x.children().any(|c| c.name() == "invite"));
                        if from_meeting && invited {
                            // As lib-jitsi-meet: leave the lobby room, join the meeting.
                            let leave = Presence::new(PresenceType::Unavailable)
                                .with_to(me_lobby.parse::<Jid>().expect("a room JID"));
                            let _ = task_sender.send_stanza(leave.into()).await;
                            if task_sender
                                .send_stanza(join_main.clone().into())
                                .await
                                .is_err()
                            {
                                break;
                            }
                        }
                        None
                    }
                    _ => None,
                };
                if let Some(next) = next {
                    let _ = whereabouts_tx.send(next);
                }
            }
        });
        sender
            .send_stanza(first.into())
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            nick: nick.into(),
            room: room_jid(room),
            whereabouts,
            _connection: connection,
            task,
        })
    }

    pub fn whereabouts(&self) -> Whereabouts {
        self.whereabouts.borrow().clone()
    }

    /// Waits (at most 10 s) until `condition` holds for where they are.
    pub async fn wait_until(&self, condition: impl Fn(&Whereabouts) -> bool) -> anyhow::Result<()> {
        let mut whereabouts = self.whereabouts.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !condition(&whereabouts.borrow_and_update()) {
            tokio::select! {
                changed = whereabouts.changed() => changed?,
                () = tokio::time::sleep_until(deadline) => bail!("{} waited 10 s in vain ({:?})", self.nick, self.whereabouts()),
            }
        }
        Ok(())
    }
}

/// Someone in a meeting, as lib-jitsi-meet behaves: anonymous account, 8-hex nick,
/// display name in `<nick>`, locks and unlocks rooms like `lockRoom`.
pub struct Participant {
    pub nick: String,
    /// The room's JID (a meeting's, or its lobby's).
    pub room: String,
    sender: Connection,
    _connection: ConnectionTask,
    /// This occupant's role as its own presence last said ("" before joining).
    role: watch::Receiver<String>,
    /// Why the join failed, if it did (e.g. `not-authorized` for a wrong password).
    refused: watch::Receiver<Option<String>>,
    /// The status codes of the presence that took this occupant out of the room
    /// (307 kicked, 301 banned).
    exit_codes: watch::Receiver<Vec<String>>,
    /// Every presence about someone else, as the XML this client received.
    others: watch::Receiver<Vec<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Participant {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Participant {
    /// Connects anonymously and joins `room` (the focus creates it first, as Jicofo does).
    pub async fn join(
        prosody: &Prosody,
        focus: &Focus,
        room: &str,
        nick: &str,
        display_name: &str,
        password: Option<&str>,
    ) -> anyhow::Result<Self> {
        focus.ensure_room(room).await?;
        Self::enter(prosody, &room_jid(room), nick, display_name, password).await
    }

    /// Knocks at the meeting's lobby as the Jitsi web client does when the meeting is
    /// members-only: joins the room of the same name on jitsi-meet's lobby component
    /// (`lobby.DOMAIN`, made by its `muc_lobby_rooms` plugin).
    pub async fn knock(
        prosody: &Prosody,
        room: &str,
        nick: &str,
        display_name: &str,
    ) -> anyhow::Result<Self> {
        Self::enter(
            prosody,
            &format!("{room}@lobby.{DOMAIN}"),
            nick,
            display_name,
            None,
        )
        .await
    }

    /// Jibri joining to record: `recorder@recorder.DOMAIN` (with [`Setup::jitsi_lobby`]).
    pub async fn join_as_recorder(
        prosody: &Prosody,
        focus: &Focus,
        room: &str,
        nick: &str,
    ) -> anyhow::Result<Self> {
        focus.ensure_room(room).await?;
        let account = (format!("recorder@recorder.{DOMAIN}"), RECORDER_PASSWORD);
        Self::enter_as(prosody, &room_jid(room), nick, "", None, Some(account)).await
    }

    async fn enter(
        prosody: &Prosody,
        room: &str,
        nick: &str,
        display_name: &str,
        password: Option<&str>,
    ) -> anyhow::Result<Self> {
        Self::enter_as(prosody, room, nick, display_name, password, None).await
    }

    async fn enter_as(
        prosody: &Prosody,
        room: &str,
        nick: &str,
        display_name: &str,
        password: Option<&str>,
        account: Option<(String, &str)>,
    ) -> anyhow::Result<Self> {
        // The host is anonymous-only, so SASL ANONYMOUS is chosen and Prosody hands out a
        // random JID, as for Jitsi's guests; the node only satisfies tokio-xmpp, which
        // wants one.
        let (sender, connection, mut receiver) = match account {
            Some((jid, secret)) => prosody.auth_online(jid.parse()?, secret).await?,
            None => online(prosody.connector(), format!("guest@{DOMAIN}").parse()?, "").await?,
        };
        let (role_tx, role) = watch::channel(String::new());
        let (refused_tx, refused) = watch::channel(None);
        let (exit_tx, exit_codes) = watch::channel(Vec::new());
        let (others_tx, others) = watch::channel(Vec::new());
        let me = format!("{room}/{nick}");
        let task = tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                let Event::Stanza(Stanza::Presence(presence)) = event else {
                    continue;
                };
                if presence.from.as_ref().map(ToString::to_string).as_deref() != Some(me.as_str()) {
                    let xml = String::from(&Element::from(presence));
                    others_tx.send_modify(|seen| seen.push(xml));
                    continue;
                }
                if presence.type_ == PresenceType::Error {
                    let _ = refused_tx.send(Some(error_condition(&presence)));
                } else if presence.type_ == PresenceType::Unavailable {
                    let _ = exit_tx.send(status_codes(&presence));
                    let _ = role_tx.send("none".into());
                } else if let Some(role) = muc_item(&presence).and_then(|i| i.attr("role")) {
                    let _ = role_tx.send(role.to_owned());
                }
            }
        });
        let x = match password {
            Some(secret) => format!("<x xmlns='{MUC}'><password>{secret}</password></x>"),
            None => format!("<x xmlns='{MUC}'/>"),
        };
        let presence = occupant_presence(room, nick, display_name, Some(&x))?;
        sender
            .send_stanza(presence.into())
            .await
            .map_err(anyhow::Error::msg)?;
        let participant = Self {
            nick: nick.into(),
            room: room.into(),
            sender,
            _connection: connection,
            role,
            refused,
            exit_codes,
            others,
            task,
        };
        participant
            .wait_until(|p| p.role() != "" || p.refusal().is_some())
            .await?;
        if let Some(condition) = participant.refusal() {
            bail!("joining {room} was refused: {condition}");
        }
        Ok(participant)
    }

    pub fn role(&self) -> String {
        self.role.borrow().clone()
    }

    /// Status codes of the presence that took this occupant out (307 kick, 301 ban).
    pub fn exit_codes(&self) -> Vec<String> {
        self.exit_codes.borrow().clone()
    }

    pub fn refusal(&self) -> Option<String> {
        self.refused.borrow().clone()
    }

    /// Every presence about someone else this client has received, as XML.
    pub fn presences_of_others(&self) -> Vec<String> {
        self.others.borrow().clone()
    }

    pub fn is_moderator(&self) -> bool {
        self.role() == "moderator"
    }

    /// Waits (at most 10 s) until `condition` holds, re-checking on every presence.
    pub async fn wait_until(&self, condition: impl Fn(&Self) -> bool) -> anyhow::Result<()> {
        let mut role = self.role.clone();
        let mut refused = self.refused.clone();
        let mut others = self.others.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !condition(self) {
            tokio::select! {
                _ = role.changed() => {}
                _ = refused.changed() => {}
                _ = others.changed() => {}
                () = tokio::time::sleep_until(deadline) => bail!("{} waited 10 s in vain (role {:?})", self.nick, self.role()),
            }
        }
        Ok(())
    }

    async fn owner_iq(&self, payload: &str) -> anyhow::Result<Result<(), String>> {
        let answer = self
            .sender
            .iq(self.room.parse()?, Request::Set(element(payload)));
        let answer = tokio::time::timeout(Duration::from_secs(5), answer)
            .await?
            .map_err(anyhow::Error::msg)?;
        Ok(answer
            .map(|_| ())
            .map_err(|error| format!("{:?}", error.defined_condition)))
    }

    /// Any IQ from this participant's connection; `Err` carries Prosody's refusal.
    pub async fn ask(
        &self,
        to: &str,
        set: bool,
        payload: &str,
    ) -> anyhow::Result<Result<Option<Element>, String>> {
        let request = if set {
            Request::Set(element(payload))
        } else {
            Request::Get(element(payload))
        };
        let answer = self.sender.iq(to.parse()?, request);
        let answer = tokio::time::timeout(Duration::from_secs(5), answer)
            .await?
            .map_err(anyhow::Error::msg)?;
        Ok(answer.map_err(|error| format!("{:?}", error.defined_condition)))
    }

    /// Sends a message with `payload` to `to` from this participant's connection.
    pub async fn send_message(&self, to: &str, payload: &str) -> anyhow::Result<()> {
        let message = tokio_xmpp::parsers::message::Message::new(Some(to.parse()?))
            .with_payloads(vec![element(payload)]);
        self.sender
            .send_stanza(message.into())
            .await
            .map_err(anyhow::Error::msg)
    }

    /// Leaves the meeting as a closing browser tab does: presence unavailable to the room.
    pub async fn leave(&self) -> anyhow::Result<()> {
        let presence = Presence::new(PresenceType::Unavailable)
            .with_to(format!("{}/{}", self.room, self.nick).parse::<Jid>()?);
        self.sender
            .send_stanza(presence.into())
            .await
            .map_err(anyhow::Error::msg)?;
        self.wait_until(|p| p.role() == "none").await
    }

    /// Joins the meeting's lobby room on this connection, as a moderator's Jitsi web
    /// client does to see who knocks (jitsi-meet's lobby shows knockers to the main
    /// room's owners only); answers once in. Presences from there count as others'.
    pub async fn watch_lobby(&self) -> anyhow::Result<()> {
        let lobby = self.room.replacen("@conference.", "@lobby.", 1);
        let presence = occupant_presence(
            &lobby,
            &self.nick,
            "lobby watch",
            Some(&format!("<x xmlns='{MUC}'/>")),
        )?;
        self.sender
            .send_stanza(presence.into())
            .await
            .map_err(anyhow::Error::msg)?;
        let me_there = format!("from=\"{lobby}/{}\"", self.nick);
        let me_there_quoted = format!("from='{lobby}/{}'", self.nick);
        self.wait_until(|p| {
            p.presences_of_others()
                .iter()
                .any(|x| x.contains(&me_there) || x.contains(&me_there_quoted))
        })
        .await
    }

    /// A new display name, as Jitsi's "rename yourself" sends it: a presence update.
    pub async fn rename(&self, display_name: &str) -> anyhow::Result<()> {
        let presence = occupant_presence(&self.room, &self.nick, display_name, None)?;
        self.sender
            .send_stanza(presence.into())
            .await
            .map_err(anyhow::Error::msg)
    }

    /// lib-jitsi-meet's `lockRoom`: submit the secret with password protection and
    /// whois=anyone. `Err` carries Prosody's refusal (e.g. `Forbidden` for non-owners).
    pub async fn lock(&self, secret: &str) -> anyhow::Result<Result<(), String>> {
        self.owner_iq(&format!(
            "<query xmlns='{MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
             <field var='muc#roomconfig_roomsecret'><value>{secret}</value></field>\
             <field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field>\
             <field var='muc#roomconfig_whois'><value>anyone</value></field>\
             </x></query>"
        ))
        .await
    }

    /// Turns the lobby on as Jitsi's moderators do: the room admits members only.
    pub async fn enable_lobby(&self) -> anyhow::Result<Result<(), String>> {
        self.owner_iq(&format!(
            "<query xmlns='{MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
             <field var='muc#roomconfig_membersonly'><value>1</value></field>\
             </x></query>"
        ))
        .await
    }
}

/// One anonymous connection that is an occupant of many rooms at once (one nick per
/// room): a crowd for load tests, much lighter than a connection per occupant. The
/// rooms must exist (the focus creates them).
pub struct Crowd {
    sender: Connection,
    _connection: ConnectionTask,
    events: mpsc::UnboundedReceiver<Event>,
}

impl Crowd {
    pub async fn connect(port: u16) -> anyhow::Result<Self> {
        let jid: Jid = format!("guest@{DOMAIN}").parse()?;
        let (sender, connection, events) = online(connector_at(port), jid, "").await?;
        Ok(Self {
            sender,
            _connection: connection,
            events,
        })
    }

    /// Joins `room` as `nick` with a display name.
    pub async fn join(&self, room: &str, nick: &str, display_name: &str) -> anyhow::Result<()> {
        self.presence(room, nick, display_name, true).await
    }

    /// A presence update in a room already joined (Jitsi clients send them often: mute,
    /// video, display name), here with a new display name.
    pub async fn update(&self, room: &str, nick: &str, display_name: &str) -> anyhow::Result<()> {
        self.presence(room, nick, display_name, false).await
    }

    async fn presence(
        &self,
        room: &str,
        nick: &str,
        display_name: &str,
        join: bool,
    ) -> anyhow::Result<()> {
        let x = format!("<x xmlns='{MUC}'/>");
        let presence = occupant_presence(room, nick, display_name, join.then_some(x.as_str()))?;
        self.sender
            .send_stanza(presence.into())
            .await
            .map_err(anyhow::Error::msg)
    }

    /// Waits until Prosody has sent `count` presences about ourselves (a status 110 in
    /// each), e.g. one per room joined; other stanzas are dropped.
    pub async fn wait_for_own_presences(&mut self, count: usize) -> anyhow::Result<()> {
        let mut seen = 0;
        while seen < count {
            let event = tokio::time::timeout(Duration::from_secs(60), self.events.recv())
                .await
                .context("no presence within 60 s")?
                .context("the connection ended")?;
            if let Event::Stanza(Stanza::Presence(presence)) = event {
                let own = presence
                    .payloads
                    .iter()
                    .filter(|p| p.is("x", MUC_USER))
                    .flat_map(|x| x.children())
                    .any(|c| c.name() == "status" && c.attr("code") == Some("110"));
                if own {
                    seen += 1;
                }
            }
        }
        Ok(())
    }

    /// Drops whatever Prosody has sent so far (load tests do not read it).
    pub fn discard_received(&mut self) {
        while self.events.try_recv().is_ok() {}
    }
}

/// Where jitsi-meet's own Prosody plugins and configuration template are (unmodified,
/// beside the repository: `../shared/jitsi-meet/`, or `JITSI_MEET_DIR`); `None`, with
/// what is missing said on stderr, when they are not there and the run allows skipping
/// (under `scripts/test` a missing folder fails the case).
pub fn jitsi_meet_files(case: &str) -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("JITSI_MEET_DIR").map_or_else(
        || {
            std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/jitsi-meet"
            ))
        },
        std::path::PathBuf::from,
    );
    let template = dir.join("debian/prosody.cfg.lua-jvb.example");
    if template.exists() && dir.join("prosody-plugins/mod_muc_lobby_rooms.lua").exists() {
        return Some(dir);
    }
    let missing = format!(
        "{case} needs jitsi-meet's Prosody plugins and template at {} (or JITSI_MEET_DIR), \
         and they are not there",
        dir.display()
    );
    assert!(
        std::env::var_os(crate::REQUIRE_SERVERS_VAR).is_none(),
        "{missing}"
    );
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {missing}");
    None
}

/// A [`JitsiMeetSite`]'s files: the main configuration, jitsi-meet's site file in
/// `conf.avail/`, and the prosodyctl of its version.
#[derive(Debug, Clone)]
pub struct SitePaths {
    /// Everything of the site is below it (a test may put its own files there too).
    pub dir: std::path::PathBuf,
    pub prosody_config: std::path::PathBuf,
    pub site_config: std::path::PathBuf,
    pub prosodyctl: std::path::PathBuf,
}

/// How an operator's jitsi-meet site file differs from the current template.
#[derive(Debug, Clone, Copy)]
pub struct SiteEdits {
    /// The template's first lines, "needed for prosody 13.0".
    pub owners_line: bool,
    /// The operator put Roomkeeper's account into the conference component's admins
    /// and its module into that component's modules by hand (the old manual setup).
    pub set_up_by_hand: bool,
}

impl Default for SiteEdits {
    fn default() -> Self {
        Self {
            owners_line: true,
            set_up_by_hand: false,
        }
    }
}

/// A Prosody configured the way the `jitsi-meet-prosody` package configures it:
/// Debian's `prosody.cfg.lua` (here with this test's ports and paths) including
/// `conf.d/DOMAIN.cfg.lua`, a link to `conf.avail/DOMAIN.cfg.lua` made from jitsi-meet's
/// own template with the lines current installs add, its certificates made with
/// `prosodyctl cert generate`, jitsi-meet's own plugins and the focus registered.
/// Roomkeeper's part is left to `roomkeeper-prosody-setup`; [`JitsiMeetSite::start`]
/// then starts Prosody on the result.
pub struct JitsiMeetSite {
    pub version: ProsodyVersion,
    dir: tempfile::TempDir,
    port: u16,
}

impl JitsiMeetSite {
    pub fn new(
        version: ProsodyVersion,
        files: &std::path::Path,
        edits: SiteEdits,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path();
        for sub in ["data", "certs", "conf.avail", "conf.d"] {
            std::fs::create_dir_all(path.join(sub))?;
        }
        let certs = path.join("certs");
        for host in [DOMAIN.to_owned(), format!("auth.{DOMAIN}")] {
            generate_certificate(version, &certs, &host)?;
        }
        let template = std::fs::read_to_string(files.join("debian/prosody.cfg.lua-jvb.example"))?;
        let site = site_from_template(&template, &files.join("prosody-plugins"), &certs, edits)?;
        let site_file = path.join(format!("conf.avail/{DOMAIN}.cfg.lua"));
        std::fs::write(&site_file, site)?;
        std::os::unix::fs::symlink(&site_file, path.join(format!("conf.d/{DOMAIN}.cfg.lua")))?;
        let site = Self {
            version,
            dir,
            port: free_port()?,
        };
        site.write_main_config()?;
        let status = Command::new(version.program("prosodyctl"))
            .arg("--config")
            .arg(site.prosody_config())
            .args([
                "register",
                "focus",
                &format!("auth.{DOMAIN}"),
                FOCUS_PASSWORD,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "prosodyctl register focus failed");
        Ok(site)
    }

    /// Debian's main configuration, reduced to what a test on loopback needs.
    fn write_main_config(&self) -> std::io::Result<()> {
        let dir = self.dir.path().display().to_string();
        std::fs::write(
            self.prosody_config(),
            format!(
                r#"-- As Debian's /etc/prosody/prosody.cfg.lua, on this test's ports and paths.
{loopback}
c2s_require_encryption = true
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "admin_shell" }}
modules_disabled = {{ "s2s" }}
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{dir}/prosody.log" }} }}

Include "{dir}/conf.d/*.cfg.lua"
"#,
                loopback = loopback_server(self.dir.path(), self.port),
            ),
        )?;
        Ok(())
    }

    pub fn prosody_config(&self) -> std::path::PathBuf {
        self.dir.path().join("prosody.cfg.lua")
    }

    /// Where its files are; they stay where they are once Prosody runs on them.
    pub fn paths(&self) -> SitePaths {
        SitePaths {
            dir: self.dir.path().to_owned(),
            prosody_config: self.prosody_config(),
            site_config: self.dir.path().join(format!("conf.avail/{DOMAIN}.cfg.lua")),
            prosodyctl: self.version.program("prosodyctl"),
        }
    }

    /// Where the package installs the companion module: here, the repository's.
    pub fn plugin_dir() -> std::path::PathBuf {
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../prosody/"))
    }

    /// Starts Prosody on the configuration as it is now.
    pub async fn start(mut self) -> anyhow::Result<Prosody> {
        let log = self.dir.path().join("prosody.log");
        let config = self.prosody_config();
        let (child, port) = start_on_a_free_port(self.version, &config, &log, self.port, |port| {
            self.port = port;
            self.write_main_config()
        })
        .await?;
        self.port = port;
        let site_text = std::fs::read_to_string(self.paths().site_config)?;
        Ok(Prosody {
            port: self.port,
            companion: if site_text.contains("\"roomkeeper\"") {
                Companion::Loaded
            } else {
                Companion::Absent
            },
            version: self.version,
            transport: Transport::JitsiMeet,
            dir: self.dir,
            child,
        })
    }
}

/// jitsi-meet's template as its package installs it today (the lines its README lists
/// as current), with this test's paths for the plugins and certificates.
fn site_from_template(
    template: &str,
    plugins: &std::path::Path,
    certs: &std::path::Path,
    edits: SiteEdits,
) -> anyhow::Result<String> {
    let replace = |text: String, from: &str, to: &str| -> anyhow::Result<String> {
        anyhow::ensure!(
            text.contains(from),
            "jitsi-meet's template has no {from:?} any more"
        );
        Ok(text.replace(from, to))
    };
    let mut site = template
        .replace("jitmeet.example.com", DOMAIN)
        .replace("focusUser", "focus");
    site = site.replace("__turnSecret__", "turn-secret");
    site = replace(
        site,
        "plugin_paths = { \"/usr/share/jitsi-meet/prosody-plugins/\" }",
        &format!("plugin_paths = {{ \"{}/\" }}", plugins.display()),
    )?;
    site = site.replace("/etc/prosody/certs/", &format!("{}/", certs.display()));
    if edits.owners_line {
        site = format!(
            "-- We need this for prosody 13.0\ncomponent_admins_as_room_owners = true\n\n{site}"
        );
    }
    let (modules, admins) = if edits.set_up_by_hand {
        (
            "        \"muc_hide_all\";\n        \"muc_password_whitelist\";\n        \"roomkeeper\";\n",
            format!("admins = {{ \"focus@auth.{DOMAIN}\", \"roomkeeper@auth.{DOMAIN}\" }}"),
        )
    } else {
        (
            "        \"muc_hide_all\";\n        \"muc_password_whitelist\";\n",
            format!("admins = {{ \"focus@auth.{DOMAIN}\" }}"),
        )
    };
    site = replace(
        site,
        "        \"muc_domain_mapper\";\n",
        &format!("        \"muc_domain_mapper\";\n{modules}"),
    )?;
    site = replace(
        site,
        &format!("    admins = {{ \"focus@auth.{DOMAIN}\" }}\n    muc_room_locking = false"),
        &format!(
            "    {admins}\n    muc_password_whitelist = {{ \"focus@auth.{DOMAIN}\" }}\n    muc_room_locking = false"
        ),
    )?;
    site = replace(
        site,
        &format!("VirtualHost \"auth.{DOMAIN}\"\n"),
        &format!(
            "VirtualHost \"auth.{DOMAIN}\"\n    ssl = {{\n        key = \"{certs}/auth.{DOMAIN}.key\";\n        certificate = \"{certs}/auth.{DOMAIN}.crt\";\n    }}\n",
            certs = certs.display()
        ),
    )?;
    site.push_str(&format!(
        r#"
Component "breakout.{DOMAIN}" "muc"
    restrict_room_creation = true
    storage = "memory"
    modules_enabled = {{
        "muc_meeting_id";
        "polls";
    }}
    admins = {{ "focus@auth.{DOMAIN}" }}
    muc_room_locking = false
    muc_room_default_public_jids = true

Component "metadata.{DOMAIN}" "room_metadata_component"
    muc_component = "conference.{DOMAIN}"
    breakout_rooms_component = "breakout.{DOMAIN}"

Component "polls.{DOMAIN}" "polls_component"

VirtualHost "recorder.{DOMAIN}"
    modules_enabled = {{
        "smacks";
    }}
    authentication = "internal_hashed"
"#
    ));
    Ok(site)
}
