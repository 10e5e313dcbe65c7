//! Backups of the SQLite database while the service is busy, and putting one back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::{Backend, TestApp};
use serde_json::json;

/// Every table's rows, each as SQLite quotes its values, in rowid order.
pub async fn tables(file: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut all = BTreeMap::new();
    for (table,) in names {
        let columns: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(&pool)
                .await
                .unwrap();
        let row = columns
            .iter()
            .map(|(c,)| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT {row} FROM \"{table}\" ORDER BY rowid"))
                .fetch_all(&pool)
                .await
                .unwrap();
        all.insert(table, rows.into_iter().map(|(r,)| r).collect());
    }
    pool.close().await;
    all
}

fn database_file(app: &TestApp) -> std::path::PathBuf {
    let url = &app.config.database.url;
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap();
    std::path::PathBuf::from(path.split('?').next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_holds_every_acknowledged_change_and_restores() {
    let mut steps = Steps::new();
    let app = Arc::new(TestApp::spawn(Backend::Sqlite).await.unwrap());
    app.passwordless_user("lecturer", false).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    steps.begin("Requests go in all the time; each one answered 201 is acknowledged");
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (app, lecturer, acknowledged, stop) = (
            app.clone(),
            lecturer.clone(),
            acknowledged.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let room = format!("load-{n:05}");
                let answer = lecturer
                    .post(app.url("/api/v1/room-requests"))
                    .json(&json!({"room": room, "reason": "load"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), StatusCode::CREATED);
                acknowledged.lock().unwrap().push(room);
            }
        })
    };
    for i in 0..3 {
        // Wait for some traffic between backups rather than for time to pass.
        let until = acknowledged.lock().unwrap().len() + 20;
        while acknowledged.lock().unwrap().len() < until {
            tokio::task::yield_now().await;
        }
        let before: Vec<String> = acknowledged.lock().unwrap().clone();
        let file = dir.path().join(format!("backup-{i}.db"));
        roomkeeper::cli::run_backup(&app.config, &file)
            .await
            .unwrap();
        let copy = tables(&file).await;
        let requested: Vec<&str> = copy["room_requests"]
            .iter()
            .filter_map(|r| r.split(',').nth(1))
            .collect();
        for room in &before {
            assert!(
                requested.contains(&format!("'{room}'").as_str()),
                "backup {i} lost {room}, acknowledged before it began"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();

    steps.begin("At rest, a backup is the database, table for table");
    let last = dir.path().join("last.db");
    roomkeeper::cli::run_backup(&app.config, &last)
        .await
        .unwrap();
    let live = tables(&database_file(&app)).await;
    assert_eq!(tables(&last).await, live);
    assert!(
        live["room_requests"].len() >= 60,
        "{}",
        live["room_requests"].len()
    );
    // Password hashes and tokens: for whoever took the backup only.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(std::fs::metadata(&last).unwrap().mode() & 0o777, 0o600);
    let refused = roomkeeper::cli::run_backup(&app.config, &last).await;
    assert!(
        refused.unwrap_err().to_string().contains("exists already"),
        "a backup never overwrites a file"
    );

    steps.begin("Restored into an empty place: the same, table for table, and it serves");
    let mut elsewhere = app.config.clone();
    let restored = dir.path().join("restored.db");
    elsewhere.database.url = format!("sqlite://{}", restored.display());
    roomkeeper::cli::run_restore(&elsewhere, &last)
        .await
        .unwrap();
    assert_eq!(tables(&restored).await, live);
    assert_eq!(std::fs::metadata(&restored).unwrap().mode() & 0o777, 0o600);

    steps.begin("Restored by root over the service's database");
    // As operators do (here the service is nobody): the service's it stays, with its mode,
    // and no file of it is root's.
    if rustix::process::geteuid().is_root() {
        let service = 65534;
        std::os::unix::fs::chown(&restored, Some(service), Some(service)).unwrap();
        std::fs::set_permissions(&restored, std::fs::Permissions::from_mode(0o640)).unwrap();
        roomkeeper::cli::run_restore(&elsewhere, &last)
            .await
            .unwrap();
        let kept = std::fs::metadata(&restored).unwrap();
        assert_eq!(
            (kept.uid(), kept.gid(), kept.mode() & 0o777),
            (service, service, 0o640)
        );
        for side in ["restored.db-wal", "restored.db-shm", "restored.restoring"] {
            let path = dir.path().join(side);
            assert!(
                std::fs::metadata(&path).map_or(true, |m| m.uid() == service),
                "{side} is root's"
            );
        }
    } else {
        println!("not root: the restore by root over the service's database is not tried");
    }

    steps.begin("A damaged file or someone else's database changes nothing");
    let before = tables(&restored).await;
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database").unwrap();
    let other = dir.path().join("other.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", other.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (x)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    for (bad, says) in [
        (&garbage, "not an SQLite database"),
        (&other, "not a Roomkeeper database"),
    ] {
        let refused = roomkeeper::cli::run_restore(&elsewhere, bad).await;
        let message = refused.unwrap_err().to_string();
        assert!(message.contains(says), "{message}");
        assert_eq!(tables(&restored).await, before, "nothing was restored");
    }
}

/// PostgreSQL's own tools, as docs/OPERATIONS.md says: a `pg_dump` of a live database,
/// restored into an empty one with `pg_restore`, then `roomkeeper migrate`: every table
/// the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_dump_restores_and_migrates() {
    if roomkeeper_testkit::skip_without_postgres("a_postgres_dump_restores_and_migrates") {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await.unwrap();
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app
        .registered_room("logic", "lecturer", &["helper"])
        .await
        .unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let guard =
        json!({"password_guard": true, "moderator_guard": "strict", "in_use_alert_minutes": 15});
    let saved = lecturer
        .put(app.url(&format!("/api/v1/rooms/{room}/guard")))
        .json(&guard)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK);

    let bin = postgres_bin();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("roomkeeper.dump");
    let dumped = std::process::Command::new(bin.join("pg_dump"))
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(&dump)
        .arg(&app.config.database.url)
        .status()
        .unwrap();
    assert!(dumped.success());
    let target = roomkeeper_testkit::TestDatabase::new(Backend::Postgres)
        .await
        .unwrap();
    let restored = std::process::Command::new(bin.join("pg_restore"))
        .args(["--no-owner", "--dbname"])
        .arg(&target.url)
        .arg(&dump)
        .status()
        .unwrap();
    assert!(restored.success());
    let mut config = app.config.clone();
    config.database.url = target.url.clone();
    roomkeeper::app::open_store(&config).await.unwrap();
    assert_eq!(
        pg_tables(&target.url).await,
        pg_tables(&app.config.database.url).await
    );
}

/// Where Debian keeps PostgreSQL's programs (the newest installed version).
fn postgres_bin() -> std::path::PathBuf {
    let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .collect();
    versions.sort_unstable();
    let newest = versions
        .last()
        .expect("PostgreSQL is installed (scripts/test)");
    std::path::PathBuf::from(format!("/usr/lib/postgresql/{newest}/bin"))
}

/// Every table of the public schema with a digest of its rows.
async fn pg_tables(url: &str) -> BTreeMap<String, String> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut all = BTreeMap::new();
    for (table,) in names {
        let (digest,): (String,) = sqlx::query_as(&format!(
            "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t"
        ))
        .fetch_one(&pool)
        .await
        .unwrap();
        all.insert(table, digest);
    }
    pool.close().await;
    assert!(
        all.contains_key("room_guards") && all.contains_key("users"),
        "{all:?}"
    );
    all
}
