//! Certificates for tests of TLS against real servers (Prosody's STARTTLS, slapd's LDAPS
//! and StartTLS), made with the openssl command (scripts/test installs it).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;

/// Makes, in `dir`, a test CA (`ca.crt`) and a certificate issued by it for `host`
/// (`{host}.crt`, key `{host}.key`) valid for `alt_names` (`DNS:x,IP:127.0.0.1`).
pub fn make_certificates(dir: &Path, host: &str, alt_names: &str) -> anyhow::Result<()> {
    std::fs::write(
        dir.join("server.ext"),
        format!("subjectAltName={alt_names}\nbasicConstraints=CA:FALSE\n"),
    )?;
    let steps: [Vec<String>; 3] = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=Roomkeeper test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]
        .map(str::to_owned)
        .to_vec(),
        vec![
            "req".into(),
            "-newkey".into(),
            "rsa:2048".into(),
            "-nodes".into(),
            "-keyout".into(),
            format!("{host}.key"),
            "-out".into(),
            "server.csr".into(),
            "-subj".into(),
            format!("/CN={host}"),
        ],
        vec![
            "x509".into(),
            "-req".into(),
            "-in".into(),
            "server.csr".into(),
            "-CA".into(),
            "ca.crt".into(),
            "-CAkey".into(),
            "ca.key".into(),
            "-CAcreateserial".into(),
            "-out".into(),
            format!("{host}.crt"),
            "-days".into(),
            "2".into(),
            "-extfile".into(),
            "server.ext".into(),
        ],
    ];
    for args in steps {
        let status = Command::new("openssl")
            .args(&args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run openssl (scripts/test installs it)")?;
        anyhow::ensure!(status.success(), "openssl {} failed", args[0]);
    }
    Ok(())
}
