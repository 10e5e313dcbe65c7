//! A PostgreSQL server of a test's own (Debian's, on a free loopback port), which the
//! test may stop and start again: for what an outage of the database does. Other
//! PostgreSQL tests share the server `scripts/with-postgres` starts.

use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{Context, bail};

use crate::listening;

pub struct PostgresServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    running: bool,
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        }
    }
}

impl PostgresServer {
    /// `None` when PostgreSQL is not installed (`scripts/test` installs it).
    pub fn installed() -> Option<PathBuf> {
        let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        bins.sort();
        bins.pop()
    }

    pub async fn start() -> anyhow::Result<Self> {
        Self::start_configured(None).await
    }

    /// With TLS on (`ssl = on`), its certificate the one `tls::make_certificates` made
    /// for `host` in `certs`, as a university's database with its own CA is.
    pub async fn start_with_tls(certs: &std::path::Path, host: &str) -> anyhow::Result<Self> {
        Self::start_configured(Some((certs, host))).await
    }

    async fn start_configured(tls: Option<(&std::path::Path, &str)>) -> anyhow::Result<Self> {
        let bin = Self::installed().context("PostgreSQL is not installed")?;
        let dir = tempfile::Builder::new()
            .prefix("roomkeeper-pg-")
            .tempdir()?;
        let mut server = Self {
            bin,
            dir,
            port: 0,
            running: false,
        };
        if crate::running_as_root() {
            // PostgreSQL refuses to run as root; it runs as the postgres system user.
            let owned = Command::new("chown")
                .arg("postgres")
                .arg(server.dir.path())
                .status()?;
            anyhow::ensure!(owned.success(), "chown postgres (is PostgreSQL installed?)");
        }
        server.run(
            "initdb",
            &[
                "-D",
                &server.data(),
                "-U",
                "roomkeeper",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        )?;
        if let Some((certs, host)) = tls {
            let data = PathBuf::from(server.data());
            for (from, to) in [
                (format!("{host}.crt"), "server.crt"),
                (format!("{host}.key"), "server.key"),
            ] {
                std::fs::copy(certs.join(from), data.join(to))?;
                std::fs::set_permissions(
                    data.join(to),
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )?;
                if crate::running_as_root() {
                    let owned = Command::new("chown")
                        .arg("postgres")
                        .arg(data.join(to))
                        .status()?;
                    anyhow::ensure!(owned.success(), "chown postgres {to}");
                }
            }
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))?;
            std::io::Write::write_all(
                &mut conf,
                b"ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
            )?;
        }
        for _ in 0..listening::ATTEMPTS {
            server.port = listening::free_port()?;
            if server.start_again().is_ok() {
                return Ok(server);
            }
        }
        bail!("PostgreSQL did not start: {}", server.log())
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// A superuser URL for database `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://roomkeeper@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        let program = self.bin.join(program);
        let mut command = if crate::running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output = command.args(args).output()?;
        if !output.status.success() {
            bail!(
                "{} {args:?}: {}{}",
                program.display(),
                String::from_utf8_lossy(&output.stderr),
                self.log()
            );
        }
        Ok(output)
    }

    fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<Output> {
        let data = self.data();
        let log = self.dir.path().join("log").display().to_string();
        let mut all = vec!["-D", &data, "-l", &log, "-w", "-t", "60"];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    /// Stops the server the way an outage looks to clients: connections are cut.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        self.pg_ctl(&["-m", "fast", "stop"])?;
        self.running = false;
        Ok(())
    }

    /// Starts it again on the same port, with the same data.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {}",
            self.port,
            self.dir.path().display()
        );
        self.pg_ctl(&["-o", &options, "start"])?;
        self.running = true;
        Ok(())
    }
}
