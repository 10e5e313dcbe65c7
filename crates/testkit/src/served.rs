//! `roomkeeper serve` as a process of its own: for tests that kill it, stop it with
//! SIGTERM or run several instances side by side.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;

use crate::listening::{self, NotListening};

/// A running `roomkeeper serve`; `kill -9` when dropped.
pub struct Served {
    child: Child,
    binary: PathBuf,
    config: PathBuf,
    name: String,
    port: u16,
    pub base: String,
    pub log: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `binary` (the test's `env!("CARGO_BIN_EXE_roomkeeper")`) with `config`
    /// on a free port (`http.listen` is added, to `[http]` if the config has one). The
    /// config and the log (stderr) go to `dir`/`name`.toml and .log; a log is appended
    /// to, across restarts.
    pub async fn start(
        binary: &Path,
        config: &str,
        dir: &Path,
        name: &str,
    ) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let mut attempt = 1;
        loop {
            let port = listening::free_port()?;
            let file = dir.join(format!("{name}.toml"));
            let listen = format!("listen = \"127.0.0.1:{port}\"\n");
            let text = match config.split_once("[http]\n") {
                Some((before, after)) => format!("{before}[http]\n{listen}{after}"),
                None => format!("{config}\n[http]\n{listen}"),
            };
            std::fs::write(&file, text)?;
            let mut child = spawn(binary, &file, &log)?;
            match listening::wait_until_listening(&mut child, port, name).await {
                Ok(()) => {
                    return Ok(Self {
                        child,
                        binary: binary.to_owned(),
                        config: file,
                        name: name.to_owned(),
                        port,
                        base: format!("http://127.0.0.1:{port}"),
                        log,
                    });
                }
                Err(NotListening::Exited { .. }) if attempt < listening::ATTEMPTS => {
                    attempt += 1;
                }
                Err(other) => anyhow::bail!(
                    "{other}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ),
            }
        }
    }

    /// Starts the same installation again on the same address (after [`Served::kill`] or
    /// [`Served::terminate`] and [`Served::exited`]), as systemd restarts the service.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_none() {
            self.kill()?;
        }
        self.child = spawn(&self.binary, &self.config, &self.log)?;
        if let Err(error) =
            listening::wait_until_listening(&mut self.child, self.port, &self.name).await
        {
            anyhow::bail!("{error}: {}", self.log_text());
        }
        Ok(())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no chance to finish anything.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Sends SIGTERM (what systemd sends on stop).
    pub fn terminate(&self) -> anyhow::Result<()> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        anyhow::ensure!(sent.success(), "kill -TERM failed");
        Ok(())
    }

    /// Waits for the process to exit, up to `limit`.
    pub async fn exited(&mut self, limit: Duration) -> anyhow::Result<Option<ExitStatus>> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if std::time::Instant::now() > deadline {
                return Ok(None);
            }
            // A child's exit cannot be awaited without taking it over (tokio's
            // process::Child); a poll every 20 ms costs nothing.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `binary --config config serve`, its stderr appended to `log`.
fn spawn(binary: &Path, config: &Path, log: &Path) -> anyhow::Result<Child> {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env_remove("ROOMKEEPER_CONFIG")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .context("cannot start roomkeeper serve")
}
