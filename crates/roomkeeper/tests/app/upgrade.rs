//! Upgrades: this version starts on a database the released version made (the fixture
//! from `scripts/make-upgrade-fixture`), migrates it, and loses nothing.

use std::sync::Arc;

use reqwest::StatusCode;
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, json};
use serde_json::json;

use crate::backup::tables;

const RELEASED: &str = include_str!("../fixtures/upgrade-0.1.0.sql");

/// The released version's database (the fixture) loaded into the SQLite file `file`,
/// as it left it: not migrated yet.
pub async fn load_released(file: &std::path::Path) -> sqlx::SqlitePool {
    // A dump lists tables by name, so rows may come before the rows they refer to.
    let loading = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .foreign_keys(false);
    let pool = sqlx::SqlitePool::connect_with(loading).await.unwrap();
    sqlx::raw_sql(RELEASED).execute(&pool).await.unwrap();
    pool
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_version_starts_on_the_released_database_with_nothing_lost() {
    let database = Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let file = std::path::PathBuf::from(database.url.trim_start_matches("sqlite://"));
    let pool = load_released(&file).await;
    // Two accounts without a local password, as the released version left them: one the
    // directory made, one an OpenID provider made (it has an identity).
    sqlx::raw_sql(
        "INSERT INTO users (id, username, is_admin, disabled, must_change_password, created_at) \
         VALUES (90, 'from-directory', 0, 0, 0, 1), (91, 'from-provider', 0, 0, 0, 1); \
         INSERT INTO oidc_identities (issuer, subject, user_id, created_at) \
         VALUES ('https://guests.example', 'g-1', 91, 1);",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let before = tables(&file).await;

    // The service runs as if shortly after the fixture was made, whatever today's date:
    // its recordings are not due for deletion yet.
    let made: i64 = RELEASED
        .lines()
        .find_map(|l| l.strip_prefix("-- made at unix time "))
        .and_then(|t| t.trim().parse().ok())
        .unwrap();
    let clock = roomkeeper_domain::Clock::default();
    clock.advance(made + 60 - clock.now());
    let config = database.config();
    let app = TestApp::spawn_with(database, config, clock).await.unwrap();
    let after = tables(&file).await;
    for (table, rows) in &before {
        match table.as_str() {
            // The new version's migrations are added after the old ones.
            "_sqlx_migrations" => assert_eq!(&after[table][..rows.len()], rows.as_slice()),
            // The daily retention pass claims today's run as the service starts.
            "daily_jobs" => {}
            _ => assert_eq!(&after[table], rows, "{table} changed"),
        }
    }
    assert!(after["_sqlx_migrations"].len() > before["_sqlx_migrations"].len());
    // Migration 0014: the directory keeps entering the accounts only it can have made.
    for (id, directory) in [(90, true), (91, false), (2, false)] {
        assert_eq!(
            app.store().is_directory_account(id).await.unwrap(),
            directory,
            "account {id}"
        );
    }

    // And it works: the released accounts log in, their rooms, requests and recordings
    // are there, and the new features work on old rooms.
    let lecturer = app.client();
    let login = lecturer
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "lecturer", "password": "fixture password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let rooms = json(lecturer.get(app.url("/api/v1/rooms"))).await;
    let names: Vec<&str> = rooms["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lecturer-seminar", "logic"]);
    let recordings = json(lecturer.get(app.url("/api/v1/rooms/1/recordings"))).await;
    assert_eq!(recordings.as_array().unwrap().len(), 1, "{recordings}");
    let guard = json(lecturer.get(app.url("/api/v1/rooms/1/guard"))).await;
    assert_eq!(guard["moderator_guard"], "off");
    let admin = app.client();
    let login = admin
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "admin", "password": "fixture password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let pending = json(admin.get(app.url("/api/v1/room-requests?status=pending"))).await;
    assert_eq!(pending["items"][0]["room"], "physics", "{pending}");
}
