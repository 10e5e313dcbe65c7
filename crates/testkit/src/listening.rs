//! Waiting for a server the tests start (slapd, Prosody, s3s-fs, aiosmtpd) to listen on
//! the port it was given, and knowing it is *that* server listening.
//!
//! Ports are picked by binding port 0 and letting go, so between the pick and the
//! server's own bind another test may take the port. The server then exits, and a
//! plain "does the port answer?" check would let the test talk to the other test's
//! server (seen: an LDAP test "froze" its slapd and still got answers). So the check is
//! that the listening socket belongs to our child, read from /proc; a child that exited
//! is reported as [`NotListening::Exited`], and its caller tries another port.

use std::process::Child;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum NotListening {
    #[error("{what} exited before it listened on {port} ({status}): the port was probably taken")]
    Exited {
        what: String,
        port: u16,
        status: std::process::ExitStatus,
    },
    #[error("{what} did not listen on {port} within 20 s")]
    TimedOut { what: String, port: u16 },
    #[error("cannot watch {what}: {error}")]
    Io { what: String, error: std::io::Error },
}

/// How many ports a server is tried on before giving up.
pub const ATTEMPTS: usize = 3;

/// A port free right now (see the module's note on why that is not enough).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until `child` listens on 127.0.0.1:`port`.
pub async fn wait_until_listening(
    child: &mut Child,
    port: u16,
    what: &str,
) -> Result<(), NotListening> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let io = |error| NotListening::Io {
            what: what.to_owned(),
            error,
        };
        if let Some(status) = child.try_wait().map_err(io)? {
            return Err(NotListening::Exited {
                what: what.to_owned(),
                port,
                status,
            });
        }
        if listens(child.id(), port).map_err(io)? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(NotListening::TimedOut {
                what: what.to_owned(),
                port,
            });
        }
        // No event tells when another process starts listening; /proc is cheap to read.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (up to 20 s) until this process listens on `port`: a server a test started in
/// a task of its own binds its socket a moment later.
pub async fn until_this_process_listens(port: u16) -> std::io::Result<bool> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !listens(std::process::id(), port)? {
        if Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(true)
}

/// Whether process `pid` holds a socket listening on 127.0.0.1:`port` (or any address).
pub fn listens(pid: u32, port: u16) -> std::io::Result<bool> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // "sl local_address rem_address st ... inode": local as HEXADDR:HEXPORT, st 0A = LISTEN.
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return Ok(false);
    }
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(target) = std::fs::read_link(fd?.path()) else {
            continue;
        };
        if inodes.iter().any(|i| target.as_os_str() == i.as_str()) {
            return Ok(true);
        }
    }
    Ok(false)
}
