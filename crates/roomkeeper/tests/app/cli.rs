//! The binary itself, as an operator runs it.

use roomkeeper_testkit::Steps;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_roomkeeper");

fn roomkeeper(dir: &tempfile::TempDir, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir.path())
        .args(args)
        .env_remove("ROOMKEEPER_CONFIG")
        .output()
        .expect("the roomkeeper binary runs")
}

/// `roomkeeper --config CONFIG serve` in `dir`, for a start that must refuse: one that
/// serves instead is stopped after 60 s (and the test fails on its message).
fn serve_refused(dir: &tempfile::TempDir, config: &str) -> Output {
    let output = Command::new("timeout")
        .current_dir(dir.path())
        .args(["60", BIN, "--config", config, "serve"])
        .env_remove("ROOMKEEPER_CONFIG")
        .env_remove("ROOMKEEPER_INITIAL_ADMIN_PASSWORD")
        .output()
        .unwrap();
    assert!(!output.status.success());
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_explains_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout(&roomkeeper(&dir, &["--help"]));
    for command in ["serve", "migrate", "check-config", "ingest", "user"] {
        assert!(help.contains(command), "--help lacks {command}: {help}");
    }
    let help = stdout(&roomkeeper(&dir, &["user", "--help"]));
    for command in [
        "add",
        "set-password",
        "admin",
        "disable",
        "enable",
        "list",
        "link-directory",
    ] {
        assert!(
            help.contains(command),
            "user --help lacks {command}: {help}"
        );
    }
}

#[test]
fn a_bad_config_is_refused_with_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[http]\nlisten = \"127.0.0.1:8080\"\nlisen = 1\n",
    )
    .unwrap();
    let output = roomkeeper(&dir, &["--config", "bad.toml", "check-config"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("lisen") && message.contains("bad.toml"),
        "{message}"
    );
    // serve refuses the same way, before touching anything.
    let output = roomkeeper(&dir, &["--config", "bad.toml", "serve"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("lisen"));
    assert!(
        !dir.path().join("data").exists(),
        "a refused start creates nothing"
    );
    let output = roomkeeper(&dir, &["--config", "missing.toml", "check-config"]);
    assert!(
        stderr(&output).contains("missing.toml"),
        "{}",
        stderr(&output)
    );

    std::fs::write(
        dir.path().join("good.toml"),
        "[http]\nlisten = \"127.0.0.1:9999\"\n",
    )
    .unwrap();
    let output = roomkeeper(
        &dir,
        &[
            "--config",
            "good.toml",
            "--listen",
            "127.0.0.1:7777",
            "check-config",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("127.0.0.1:7777"),
        "flags override the file"
    );
}

#[test]
fn a_deleted_one_time_password_file_matters_only_while_there_is_no_administrator() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.toml"),
        "initial_admin_password_file = \"initial-admin-password\"\n\
         [database]\nurl = \"sqlite://site.db\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let config = ["--config", "site.toml"];
    // No administrator and no password: the start says what to do and stops.
    let output = serve_refused(&dir, "site.toml");
    let message = stderr(&output);
    assert!(
        message.contains("initial-admin-password is missing")
            && message.contains("roomkeeper user add NAME --admin"),
        "{message}"
    );
    // Once there is one, the missing file is fine: check-config and migrate pass.
    let output = roomkeeper(
        &dir,
        &[&config[..], &["user", "add", "erika", "--admin"]].concat(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = roomkeeper(&dir, &[&config[..], &["check-config"]].concat());
    assert!(
        stdout(&output).contains("configuration: site.toml"),
        "{}",
        stdout(&output)
    );
    let output = roomkeeper(&dir, &[&config[..], &["migrate"]].concat());
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_storage_directory_the_service_cannot_write_stops_the_start_with_the_cure() {
    let dir = tempfile::tempdir().unwrap();
    // Root may write anywhere: a path under a file is what fails for everyone.
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    std::fs::write(
        dir.path().join("site.toml"),
        "[database]\nurl = \"sqlite://db/site.db\"\n[recordings]\ndir = \"a-file/recordings\"\n",
    )
    .unwrap();
    let output = roomkeeper(&dir, &["--config", "site.toml", "check-config"]);
    assert!(!output.status.success());
    let report = stdout(&output);
    assert!(
        report.contains("recordings.dir a-file/recordings is not writable")
            && report.contains("ReadWritePaths=a-file/recordings"),
        "{report}"
    );
    // The check changes nothing: the database's directory is made by the start only.
    assert!(
        report.contains("database.url db: made at start"),
        "{report}"
    );
    assert!(!dir.path().join("db").exists());
    let output = serve_refused(&dir, "site.toml");
    assert!(
        stderr(&output).contains("recordings.dir a-file/recordings is not writable"),
        "{}",
        stderr(&output)
    );
    assert!(
        !dir.path().join("db/site.db").exists(),
        "refused before the database"
    );
}

#[test]
fn user_commands_manage_local_accounts() {
    let mut steps = Steps::new();
    let dir = tempfile::tempdir().unwrap();
    let db = ["--database-url", "sqlite://accounts.db"];
    let run = |args: &[&str]| roomkeeper(&dir, &[&db[..], args].concat());
    steps.begin("user add prints a one-time password");
    let output = run(&["user", "add", "Erika", "--admin"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("one-time password"));

    steps.begin("user add reads a password from stdin");
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .args([&db[..], &["user", "add", "max", "--password-stdin"]].concat())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a password from stdin\n")
        .unwrap();
    assert!(child.wait().unwrap().success());

    steps.begin("user disable");
    assert!(run(&["user", "disable", "max"]).status.success());
    steps.begin("Someone who owns a room is not disabled without a decision about the room");
    let owned = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let config = roomkeeper::Config {
            database: roomkeeper_store::DatabaseConfig {
                url: format!("sqlite://{}", dir.path().join("accounts.db").display()),
                ..Default::default()
            },
            ..Default::default()
        };
        let store = roomkeeper::app::open_store(&config).await.unwrap();
        let audit = roomkeeper_store::Audit {
            actor: None,
            address: None,
            now: 1,
        };
        let request = roomkeeper_store::NewRequest {
            room_name: "logic".into(),
            requester: "erika".into(),
            reason: "r".into(),
            co_owners: Vec::new(),
        };
        store
            .create_request(&request, Some("logic"), &audit, &[])
            .await
            .unwrap()
            .room_id
    });
    assert!(owned.is_some());
    let refused = run(&["user", "disable", "erika"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("owns 1 rooms (logic)"),
        "{}",
        stderr(&refused)
    );
    let moved = run(&["user", "disable", "erika", "--transfer-rooms-to", "max"]);
    assert!(moved.status.success(), "{}", stderr(&moved));
    assert!(stdout(&moved).contains("room logic now belongs to max"));
    steps.begin("user admin and user list");
    assert!(run(&["user", "admin", "max", "on"]).status.success());
    let list = stdout(&run(&["user", "list"]));
    let erika = list
        .lines()
        .find(|l| l.starts_with("erika"))
        .expect("erika listed");
    assert!(
        erika.contains("yes") && erika.contains("disabled"),
        "{erika}"
    );
    let max = list
        .lines()
        .find(|l| l.starts_with("max"))
        .expect("max listed");
    assert!(max.contains("yes") && max.contains("disabled"), "{max}");

    steps.begin("Refusals: a name taken, an unknown account");
    let output = run(&["user", "add", "erika"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("already exists"),
        "{}",
        stderr(&output)
    );
    let output = run(&["user", "set-password", "nobody"]);
    assert!(
        stderr(&output).contains("no account nobody"),
        "{}",
        stderr(&output)
    );
    steps.begin("An account with a local password never logs in through the directory");
    let output = run(&["user", "link-directory", "max"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("max has a local password"),
        "{}",
        stderr(&output)
    );
    steps.begin("migrate runs again without harm");
    assert!(run(&["migrate"]).status.success());
}

/// `serve` with no configuration: SQLite under ./data, the first admin's one-time
/// password in the log (JSON lines here), and a clean exit on SIGTERM.
#[test]
fn serve_starts_on_the_embedded_default_and_stops_on_sigterm() {
    let mut steps = Steps::new();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    steps.begin("serve with no configuration at all");
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .args(["serve", "--listen", &listen, "--log-format", "json"])
        .env_remove("ROOMKEEPER_INITIAL_ADMIN_PASSWORD")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    steps.begin("It starts, and prints the first administrator's password");
    // The log is on stderr (stdout is for commands' output).
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let out = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut password = None;
    let mut running = false;
    while !(running && password.is_some()) {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("serve logs its start within 30 s");
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
        assert!(
            parsed["level"].is_string() && parsed["timestamp"].is_string(),
            "{line}"
        );
        if let Some(rest) = line.split("one-time password `").nth(1) {
            password = rest.split('`').next().map(str::to_owned);
        }
        running |= line.contains("Roomkeeper is running: open http://");
    }
    assert!(dir.path().join("data/roomkeeper.db").exists());
    let password = password.unwrap();
    steps.begin("The printed password logs in; addresses carrying secrets are asked for");
    // A share link's token and an OpenID callback's code and state. Whoever reads the request
    // log must not find them there.
    const SECRETS: [&str; 3] = [
        "rks_SHARESECRETshouldnotbelogged",
        "CODESECRETshouldnotbelogged",
        "STATESECRETshouldnotbelogged",
    ];
    let status = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let client = reqwest::Client::new();
            for path in [
                format!("/shared/{}", SECRETS[0]),
                format!("/shared/{}/download", SECRETS[0]),
                format!(
                    "/login/oidc/uni/callback?code={}&state={}&iss=x",
                    SECRETS[1], SECRETS[2]
                ),
            ] {
                client
                    .get(format!("http://{listen}{path}"))
                    .send()
                    .await
                    .unwrap();
            }
            client
                .post(format!("http://{listen}/api/v1/session"))
                .json(&serde_json::json!({"username": "admin", "password": password}))
                .send()
                .await
                .map(|r| r.status())
        })
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "the printed password logs in"
    );
    steps.begin("SIGTERM stops it");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(
        child.wait().unwrap().success(),
        "a clean exit after SIGTERM"
    );
    steps.begin("The log has none of the secrets");
    let log: Vec<String> = lines.try_iter().collect();
    assert!(
        log.iter().any(|l| l.contains("/shared/[redacted]")),
        "the requests were logged: {log:#?}"
    );
    for line in &log {
        for secret in SECRETS {
            assert!(!line.contains(secret), "{secret} in the log: {line}");
        }
    }
}
