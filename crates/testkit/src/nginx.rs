//! A real nginx (Debian's; scripts/test installs it) in front of the app, with the site
//! Roomkeeper ships (`deploy/nginx/roomkeeper.conf`) and a self-signed certificate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, ensure};

/// The site file as shipped.
pub const SITE: &str = include_str!("../../../deploy/nginx/roomkeeper.conf");

/// The host name the test certificate is for (with IP 127.0.0.1 besides).
pub const HOST: &str = "localhost";

/// What a test changes in the shipped site: the lines marked CHANGE, the addresses, and
/// the recordings directory. Each must be found exactly once, so the test notices when
/// the site changes shape.
pub struct SiteFor<'a> {
    pub upstream: SocketAddr,
    pub https_port: u16,
    pub http_port: u16,
    pub tls_dir: &'a Path,
    pub recordings_dir: &'a Path,
    /// Where the site's access log goes (its own format, which leaves secrets out).
    pub access_log: &'a Path,
}

impl SiteFor<'_> {
    pub fn render(&self) -> anyhow::Result<String> {
        let tls = self.tls_dir.display();
        let replacements = [
            (
                "server 127.0.0.1:8470;",
                format!("server {};", self.upstream),
            ),
            (
                "    listen 80;\n",
                format!("    listen 127.0.0.1:{};\n", self.http_port),
            ),
            ("    listen [::]:80;\n", String::new()),
            (
                "    listen 443 ssl http2;\n",
                format!("    listen 127.0.0.1:{} ssl http2;\n", self.https_port),
            ),
            ("    listen [::]:443 ssl http2;\n", String::new()),
            (
                "/etc/letsencrypt/live/rooms.example.org/fullchain.pem",
                format!("{tls}/{HOST}.crt"),
            ),
            (
                "/etc/letsencrypt/live/rooms.example.org/privkey.pem",
                format!("{tls}/{HOST}.key"),
            ),
            (
                "alias /var/lib/roomkeeper/recordings/;",
                format!("alias {}/;", self.recordings_dir.display()),
            ),
        ];
        let log = "/var/log/nginx/roomkeeper.access.log";
        ensure!(
            SITE.matches(log).count() == 2,
            "deploy/nginx/roomkeeper.conf: expected the access log in both servers"
        );
        let mut site = SITE.replace(log, &self.access_log.display().to_string());
        for (from, to) in replacements {
            ensure!(
                site.matches(from).count() == 1,
                "deploy/nginx/roomkeeper.conf: expected {from:?} once"
            );
            site = site.replace(from, &to);
        }
        ensure!(
            site.matches("server_name rooms.example.org;").count() == 2,
            "deploy/nginx/roomkeeper.conf: expected two server_name lines"
        );
        Ok(site.replace(
            "server_name rooms.example.org;",
            &format!("server_name {HOST};"),
        ))
    }
}

/// A certificate for [`HOST`] and 127.0.0.1 in `dir`, issued by a test CA (`ca.crt`).
pub fn make_certificate(dir: &Path) -> anyhow::Result<PathBuf> {
    crate::tls::make_certificates(dir, HOST, &format!("DNS:{HOST},IP:127.0.0.1"))?;
    Ok(dir.join("ca.crt"))
}

/// nginx in the foreground as one process, its logs and temporary files in a directory
/// of its own. Stopped (by its pid) when dropped.
pub struct Nginx {
    child: Child,
    // Its configuration, logs and temporary files: kept while nginx runs.
    _work: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with `servers` (server and upstream blocks, like a site file) inside
    /// its `http` block; `servers` gets the ports to listen on, https then http, and is
    /// asked again with new ports when another process took one first.
    pub async fn start(
        servers: impl Fn(u16, u16) -> anyhow::Result<String>,
    ) -> anyhow::Result<(Self, u16, u16)> {
        let work = tempfile::tempdir()?;
        let mut attempt = 1;
        loop {
            let (https_port, http_port) = (
                crate::listening::free_port()?,
                crate::listening::free_port()?,
            );
            let config = work.path().join("nginx.conf");
            std::fs::write(
                &config,
                format!(
                    "daemon off; master_process off; worker_processes 1;\n\
                     pid {work}/nginx.pid; error_log {work}/error.log info;\n\
                     events {{ worker_connections 1024; }}\n\
                     http {{\n\
                       include /etc/nginx/mime.types;\n\
                       access_log {work}/access.log;\n\
                       client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;\n\
                       fastcgi_temp_path {work}/fastcgi; uwsgi_temp_path {work}/uwsgi;\n\
                       scgi_temp_path {work}/scgi;\n\
                     {servers}\n}}\n",
                    work = work.path().display(),
                    servers = servers(https_port, http_port)?,
                ),
            )?;
            let mut child = Command::new("nginx")
                .arg("-c")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start nginx (scripts/test installs it)")?;
            match crate::listening::wait_until_listening(&mut child, https_port, "nginx").await {
                Ok(()) => {
                    let nginx = Self { child, _work: work };
                    return Ok((nginx, https_port, http_port));
                }
                Err(crate::listening::NotListening::Exited { .. })
                    if attempt < crate::listening::ATTEMPTS =>
                {
                    attempt += 1;
                }
                Err(other) => {
                    let log =
                        std::fs::read_to_string(work.path().join("error.log")).unwrap_or_default();
                    return Err(anyhow::anyhow!("{other}\nnginx error log:\n{log}"));
                }
            }
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
