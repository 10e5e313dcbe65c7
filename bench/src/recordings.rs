//! Recordings (issue 5): what an owner waits for and what serving costs.
//!
//!     cargo build --release -p roomkeeper
//!     cargo run --release -p roomkeeper-bench --bin recordings
//!
//! Runs the real binary (`target/release/roomkeeper serve`, SQLite, local disk) as its
//! own process, so its memory is measured alone, and Debian's nginx beside it (installed
//! when missing), serving the very same file:
//! 1. from finalize-script start to the recording listed by the API, for a 1 GiB file
//!    (`deploy/jibri/finalize.sh` in local mode, i.e. `roomkeeper ingest`, the session on
//!    the same filesystem as the store). The file is written and flushed (`sync`) before
//!    the clock starts: Jibri writes it over the length of a meeting, so by the end the
//!    kernel has long written it out;
//! 2. download throughput of a 2 GiB recording over loopback, Roomkeeper vs nginx, each
//!    fetched whole by curl, five rounds alternating;
//! 3. the server's memory (VmRSS from /proc) while 100 clients download at once (each
//!    reads 256 MiB of the 2 GiB file, then hangs up);
//! 4. the same 2 GiB behind the shipped nginx site (`deploy/nginx/roomkeeper.conf`, TLS)
//!    with `recordings.x_accel_redirect_location`: Roomkeeper checks, nginx sends;
//!    beside the same nginx serving the file from a plain TLS server block, curl with
//!    HTTP/1.1 to both, seven rounds alternating.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use roomkeeper_bench::{Killed, wait_listening};
use roomkeeper_domain::Username;
use roomkeeper_store::{Audit, NewRequest, NewUser};
use roomkeeper_testkit::nginx::{self, HOST, Nginx, SiteFor};

const GIB: u64 = 1 << 30;
const MEET: &str = "https://meet.example.org";
const ACCEL_LOCATION: &str = "/_roomkeeper_files/";

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A file of pseudo-random bytes (not sparse, not compressible), written in 8 MiB blocks.
fn write_file(path: &Path, size: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut block = vec![0u8; 8 << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut written = 0;
    while written < size {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = (size - written).min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        written += n as u64;
    }
    file.into_inner()?.sync_all()?;
    Ok(())
}

fn session(jibri: &Path, name: &str, size: u64) -> anyhow::Result<PathBuf> {
    let dir = jibri.join(name);
    std::fs::create_dir_all(&dir)?;
    // Dated from now: retention must not take the file away during a run.
    let started = roomkeeper_testkit::jibri::an_hour_before(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64,
    );
    write_file(
        &dir.join(roomkeeper_testkit::jibri::file_name("logic", started)),
        size,
    )?;
    std::fs::write(
        dir.join("metadata.json"),
        format!("{{\"meeting_url\": \"{MEET}/logic\"}}"),
    )?;
    Command::new("sync").status()?;
    Ok(dir)
}

/// MB/s of one whole download with curl (`extra`: more of curl's arguments).
fn curl_speed(url: &str, cookie: Option<&str>, extra: &[String]) -> anyhow::Result<f64> {
    let mut command = Command::new("curl");
    command.args(extra);
    command.args([
        "-s",
        "-f",
        "-o",
        "/dev/null",
        "-w",
        "%{speed_download} %{size_download}",
    ]);
    if let Some(cookie) = cookie {
        command.args(["-H", &format!("cookie: {cookie}")]);
    }
    let output = command.arg(url).output().context("curl")?;
    ensure!(output.status.success(), "curl {url} failed");
    let text = String::from_utf8(output.stdout)?;
    let mut parts = text.split_whitespace();
    let speed: f64 = parts.next().context("speed")?.parse()?;
    let size: u64 = parts.next().context("size")?.parse()?;
    ensure!(size == 2 * GIB, "{url}: {size} bytes");
    Ok(speed / 1e6)
}

fn nginx(root: &Path, port: u16, work: &Path) -> anyhow::Result<Killed> {
    if Command::new("nginx").arg("-v").output().is_err() {
        eprintln!("installing nginx (Debian)");
        let ok = Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", "nginx"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()?
            .success();
        ensure!(ok, "cannot install nginx");
    }
    let config = work.join("nginx.conf");
    std::fs::write(
        &config,
        format!(
            "daemon off; master_process off; worker_processes 1; pid {work}/nginx.pid;\n\
             error_log {work}/nginx-error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; sendfile on; tcp_nopush on;\n\
               client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};\n\
               uwsgi_temp_path {work}; scgi_temp_path {work};\n\
               server {{ listen 127.0.0.1:{port}; root {root}; }} }}\n",
            work = work.display(),
            root = root.display()
        ),
    )?;
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .spawn()
        .context("nginx")?;
    Ok(Killed(child))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = std::env::current_exe()?
        .parent()
        .context("bench binary directory")?
        .join("roomkeeper");
    if !binary.exists() {
        bail!("build the service first: cargo build --release -p roomkeeper");
    }
    // Everything on the disk the project lives on (not a tmpfs), like a real store.
    let work = tempfile::tempdir_in(std::env::current_dir()?)?;
    let store_dir = work.path().join("store");
    let jibri = work.path().join("jibri");
    std::fs::create_dir_all(&jibri)?;
    let port = free_port()?;
    let database = format!("sqlite://{}/roomkeeper.db", work.path().display());
    let config = work.path().join("roomkeeper.toml");
    std::fs::write(
        &config,
        format!(
            "initial_admin_password = \"bench admin password\"\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{database}\"\n\
             [rooms]\nmeeting_urls = [\"{MEET}\"]\n[log]\nlevel = \"warn\"\n\
             [recordings]\ndir = \"{}\"\n",
            store_dir.display()
        ),
    )?;
    // A second server on the same database and store for step 4, handing files to nginx.
    let accel_port = free_port()?;
    let accel_config = work.path().join("roomkeeper-accel.toml");
    std::fs::write(
        &accel_config,
        std::fs::read_to_string(&config)?.replace(
            &format!("127.0.0.1:{port}"),
            &format!("127.0.0.1:{accel_port}"),
        ) + &format!("x_accel_redirect_location = \"{ACCEL_LOCATION}\"\n"),
    )?;
    let serve = |config: &Path| {
        Command::new(&binary)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    };
    let server = serve(&config)?;
    let server_pid = server.id();
    let _server = Killed(server);
    wait_listening(port).await?;
    let _accel_server = Killed(serve(&accel_config)?);
    wait_listening(accel_port).await?;

    // An owner with a session, and the room.
    let store = roomkeeper_store::connect(&roomkeeper_store::DatabaseConfig {
        url: database.clone(),
        ..Default::default()
    })
    .await?;
    let owner = store
        .create_user(
            &NewUser {
                username: Username::parse("lecturer")?,
                display_name: None,
                password_hash: None,
                is_admin: false,
                must_change_password: false,
            },
            1,
        )
        .await?;
    let audit = Audit {
        actor: Some("lecturer"),
        address: None,
        now: 1,
    };
    let request = NewRequest {
        room_name: "logic".into(),
        requester: "lecturer".into(),
        reason: "bench".into(),
        co_owners: vec![],
    };
    let room_id = store
        .create_request(&request, Some("logic"), &audit, &[])
        .await?
        .room_id
        .context("room")?;
    let token = roomkeeper_auth::SecretToken::generate("");
    store.create_session(&token.hash, owner.id, now()).await?;
    let cookie = format!("roomkeeper_session={}", token.secret);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let list = |client: reqwest::Client| {
        let url = format!("{base}/api/v1/rooms/{room_id}/recordings");
        let cookie = cookie.clone();
        async move {
            let answer: serde_json::Value = client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(answer.as_array().map_or(0, Vec::len))
        }
    };

    // 1. Finalize to listed, 1 GiB, three times.
    let finalize = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/jibri/finalize.sh");
    let path = format!(
        "{}:{}",
        binary.parent().context("bin dir")?.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for round in 1..=3 {
        let dir = session(&jibri, &format!("one-gib-{round}"), GIB)?;
        let started = Instant::now();
        let mut script = Command::new(finalize)
            .arg(&dir)
            .env("PATH", &path)
            .env("ROOMKEEPER_CONFIG", &config)
            .stdout(Stdio::null())
            .spawn()?;
        while list(client.clone()).await? < round {
            ensure!(
                script.try_wait()?.is_none_or(|s| s.success()),
                "finalize.sh failed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let listed = started.elapsed();
        script.wait()?;
        println!(
            "finalize.sh start to listed, 1 GiB, local disk (round {round}): {:.0} ms",
            listed.as_secs_f64() * 1000.0
        );
    }

    // 2. Throughput, 2 GiB, beside nginx serving the same file.
    let dir = session(&jibri, "two-gib", 2 * GIB)?;
    let ingested = Command::new(&binary)
        .arg("--config")
        .arg(&config)
        .arg("ingest")
        .arg(&dir)
        .output()?;
    ensure!(
        ingested.status.success(),
        "{}",
        String::from_utf8_lossy(&ingested.stderr)
    );
    // `roomkeeper ingest` prints "ID ROOM FILE" per recording (its log is on stderr).
    let id = String::from_utf8(ingested.stdout)?
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .find(|word| roomkeeper_domain::RecordingId::parse(word).is_ok())
        .context("recording id")?
        .to_owned();
    let nginx_port = free_port()?;
    let _nginx = nginx(&store_dir, nginx_port, work.path())?;
    wait_listening(nginx_port).await?;
    let ours = format!("{base}/api/v1/recordings/{id}/content");
    let theirs = format!("http://127.0.0.1:{nginx_port}/{id}");
    let (mut roomkeeper, mut nginx) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        roomkeeper.push(curl_speed(&ours, Some(&cookie), &[])?);
        nginx.push(curl_speed(&theirs, None, &[])?);
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "download 2 GiB over loopback, MB/s per round: roomkeeper {:?}, nginx {:?}; \
         best {:.0} vs {:.0} = {:.2}x nginx; median {:.0} vs {:.0} = {:.2}x",
        roomkeeper.iter().map(|v| v.round()).collect::<Vec<_>>(),
        nginx.iter().map(|v| v.round()).collect::<Vec<_>>(),
        best(&roomkeeper),
        best(&nginx),
        best(&roomkeeper) / best(&nginx),
        median(&roomkeeper),
        median(&nginx),
        median(&roomkeeper) / median(&nginx)
    );

    // 3. Memory with 100 parallel downloads.
    let before = rss_kib(server_pid);
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(server_pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let mut downloads = Vec::new();
    for _ in 0..100 {
        let (client, url, cookie) = (client.clone(), ours.clone(), cookie.clone());
        downloads.push(tokio::spawn(async move {
            let mut answer = client.get(url).header("cookie", cookie).send().await?;
            let mut read = 0u64;
            while read < 256 << 20 {
                let Some(chunk) = answer.chunk().await? else {
                    break;
                };
                read += chunk.len() as u64;
            }
            anyhow::Ok(read)
        }));
    }
    let mut total = 0;
    for download in downloads {
        total += download.await??;
    }
    done.store(true, Ordering::Relaxed);
    sampler.await?;
    let peak = peak.load(Ordering::Relaxed);
    println!(
        "100 parallel downloads ({} MiB read in {:.1} s): server RSS {:.1} MiB before, peak {:.1} MiB, growth {:.1} MiB",
        total >> 20,
        started.elapsed().as_secs_f64(),
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak - before) as f64 / 1024.0
    );

    // 4. Behind the shipped nginx site: Roomkeeper allows, nginx sends.
    let tls = work.path().join("tls");
    std::fs::create_dir_all(&tls)?;
    let ca = nginx::make_certificate(&tls)?;
    let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], accel_port));
    let plain_port = free_port()?;
    let (_proxy, https_port, _) = Nginx::start(|https_port, http_port| {
        let site = SiteFor {
            upstream,
            https_port,
            http_port,
            tls_dir: &tls,
            recordings_dir: &store_dir,
            access_log: &tls.join("access.log"),
        }
        .render()?;
        Ok(format!(
            "{site}\nserver {{ listen 127.0.0.1:{plain_port} ssl; server_name {HOST};\n\
               ssl_certificate {tls}/{HOST}.crt; ssl_certificate_key {tls}/{HOST}.key;\n\
               access_log off; root {root}; sendfile on; tcp_nopush on; }}\n",
            tls = tls.display(),
            root = store_dir.display(),
        ))
    })
    .await?;
    let curl_tls = |port: u16| {
        vec![
            "--http1.1".to_owned(),
            "--cacert".to_owned(),
            ca.display().to_string(),
            "--resolve".to_owned(),
            format!("{HOST}:{port}:127.0.0.1"),
        ]
    };
    let through_site = format!("https://{HOST}:{https_port}/api/v1/recordings/{id}/content");
    let plain = format!("https://{HOST}:{plain_port}/{id}");
    let (mut accel, mut plain_nginx) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        accel.push(curl_speed(
            &through_site,
            Some(&cookie),
            &curl_tls(https_port),
        )?);
        plain_nginx.push(curl_speed(&plain, None, &curl_tls(plain_port))?);
    }
    println!(
        "download 2 GiB over TLS through nginx, MB/s per round: X-Accel-Redirect {:?}, \
         plain nginx {:?}; median {:.0} vs {:.0} = {:.3}x; best {:.0} vs {:.0} = {:.3}x",
        accel.iter().map(|v| v.round()).collect::<Vec<_>>(),
        plain_nginx.iter().map(|v| v.round()).collect::<Vec<_>>(),
        median(&accel),
        median(&plain_nginx),
        median(&accel) / median(&plain_nginx),
        best(&accel),
        best(&plain_nginx),
        best(&accel) / best(&plain_nginx),
    );
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
