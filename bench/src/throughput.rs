//! Requests per second and p99 of the pages people and scripts ask for most (issue 18),
//! measured from outside with wrk, as the figures were:
//!
//!     cargo build --release -p roomkeeper
//!     cargo run --release -p roomkeeper-bench --bin throughput [-- SECONDS [PATH]]
//!
//! With PATH (e.g. `/api/v1/rooms`) only that one is measured: for a profiler attached
//! to the server meanwhile (its pid is printed).
//! Runs the real binary (`target/release/roomkeeper serve`, SQLite on the project's disk)
//! as its own process. A lecturer owns 20 rooms (each with a co-owner) among 1,000 others;
//! wrk (Debian's; `apt install wrk`) runs with 2 threads and 64 connections, SECONDS each
//! (default 10), against `/healthz` (the stack's ceiling), `/api/v1/me` and
//! `/api/v1/rooms` with the lecturer's API token, and the home page `/` with the
//! lecturer's session. Besides wrk's figures it prints the server's CPU time per
//! answer, which moves less with the machine's speed; `bench/instructions-per-answer`
//! counts instructions per answer, which do not move at all.

use std::process::{Command, Stdio};

use anyhow::{Context, bail, ensure};
use roomkeeper_bench::{Killed, wait_listening};
use roomkeeper_domain::Username;
use roomkeeper_store::{Audit, NewRequest, NewUser, Store};

const MINE: usize = 20;
const OTHERS: usize = 1_000;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn user(store: &dyn Store, name: &str) -> anyhow::Result<i64> {
    Ok(store
        .create_user(
            &NewUser {
                username: Username::parse(name)?,
                display_name: None,
                password_hash: None,
                is_admin: false,
                must_change_password: false,
            },
            now(),
        )
        .await?
        .id)
}

async fn rooms(store: &dyn Store, owner: &str, co_owner: &str, count: usize) -> anyhow::Result<()> {
    for i in 0..count {
        let audit = Audit {
            actor: Some(owner),
            address: None,
            now: now(),
        };
        let request = NewRequest {
            room_name: format!("{owner}-room-{i:04}"),
            requester: owner.into(),
            reason: "bench".into(),
            co_owners: vec![co_owner.into()],
        };
        store
            .create_request(&request, Some(&request.room_name), &audit, &[])
            .await?;
    }
    Ok(())
}

/// wrk's figures for one URL: requests per second and the latency percentiles, and
/// the server's CPU time per answer (`server_pid`'s user and system time over wrk's
/// count of requests): what the server spends, which moves less with the machine's
/// speed than requests a second do.
fn wrk(url: &str, header: Option<&str>, seconds: u64, server_pid: &str) -> anyhow::Result<String> {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency"]);
    if let Some(header) = header {
        command.args(["-H", header]);
    }
    let cpu_before = roomkeeper_bench::cpu_time_of(server_pid);
    let output = command.arg(url).output().context("wrk (apt install wrk)")?;
    let server_cpu = roomkeeper_bench::cpu_time_of(server_pid) - cpu_before;
    ensure!(output.status.success(), "wrk failed on {url}");
    let text = String::from_utf8(output.stdout)?;
    ensure!(
        !text.contains("Non-2xx"),
        "{url} answered with errors:\n{text}"
    );
    let pick = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
            .unwrap_or_else(|| "?".into())
    };
    // "123456 requests in 10.00s, 1.23GB read"
    let answers: f64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(count, _)| count.parse().ok())
        .context("wrk printed no count of requests")?;
    Ok(format!(
        "{:>9} req/s, p50 {:>8}, p90 {:>8}, p99 {:>8}, server {:>4.0} µs CPU/answer, {answers} answers",
        pick("Requests/sec:"),
        pick("50%"),
        pick("90%"),
        pick("99%"),
        server_cpu.as_secs_f64() * 1e6 / answers,
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10);
    let binary = std::env::current_exe()?
        .parent()
        .context("bench binary directory")?
        .join("roomkeeper");
    if !binary.exists() {
        bail!("build the service first: cargo build --release -p roomkeeper");
    }
    let work = tempfile::tempdir_in(std::env::current_dir()?)?;
    let database = format!("sqlite://{}/roomkeeper.db", work.path().display());
    let store = roomkeeper_store::connect(&roomkeeper_store::DatabaseConfig {
        url: database.clone(),
        ..Default::default()
    })
    .await?;
    store.migrate().await?;
    let lecturer = user(&*store, "lecturer").await?;
    user(&*store, "assistant").await?;
    user(&*store, "someone").await?;
    rooms(&*store, "lecturer", "assistant", MINE).await?;
    rooms(&*store, "someone", "assistant", OTHERS).await?;
    let token = roomkeeper_auth::SecretToken::generate("rk_");
    store
        .create_token(lecturer, "bench", &token.hash, now(), None)
        .await?;
    let session = roomkeeper_auth::SecretToken::generate("");
    store.create_session(&session.hash, lecturer, now()).await?;
    drop(store);

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = work.path().join("roomkeeper.toml");
    std::fs::write(
        &config,
        format!(
            "initial_admin_password = \"bench admin password\"\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{database}\"\n\
             [recordings]\ndir = \"{}\"\n[log]\nlevel = \"warn\"\n",
            work.path().join("recordings").display()
        ),
    )?;
    let only = std::env::args().nth(2);
    let server = Killed(
        Command::new(&binary)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let server_pid = server.0.id().to_string();
    println!("server pid {server_pid}");
    wait_listening(port).await?;
    let base = format!("http://127.0.0.1:{port}");
    let bearer = format!("authorization: Bearer {}", token.secret);
    let cookie = format!("cookie: roomkeeper_session={}", session.secret);
    // The answers are what the figures are about: the lecturer's own 20 rooms.
    let list: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/rooms?per_page=50"))
        .header("authorization", format!("Bearer {}", token.secret))
        .send()
        .await?
        .json()
        .await?;
    ensure!(list["total"] == MINE, "{list}");
    let home = reqwest::Client::new()
        .get(format!("{base}/"))
        .header("cookie", format!("roomkeeper_session={}", session.secret))
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        home.contains("lecturer-room-0019"),
        "the home page lists the rooms"
    );

    println!("wrk -t2 -c64 -d{seconds}s, {MINE} rooms of the lecturer among {OTHERS} others:");
    for (what, path, header) in [
        ("/healthz", "/healthz", None),
        ("/api/v1/me, token", "/api/v1/me", Some(bearer.as_str())),
        (
            "/api/v1/rooms, token",
            "/api/v1/rooms",
            Some(bearer.as_str()),
        ),
        ("/ (home page), session", "/", Some(cookie.as_str())),
    ] {
        if only.as_deref().is_some_and(|only| only != path) {
            continue;
        }
        let figures = wrk(&format!("{base}{path}"), header, seconds, &server_pid)?;
        println!("  {what:<24} {figures}");
    }
    Ok(())
}
