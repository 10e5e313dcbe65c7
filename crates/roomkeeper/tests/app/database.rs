//! PostgreSQL over TLS with the university's own CA, as OPERATIONS.md sets it up
//! (`sslmode=verify-full&sslrootcert=FILE` in `database.url`).

use roomkeeper_testkit::Steps;
use roomkeeper_testkit::postgres::PostgresServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_with_the_universitys_own_ca() {
    if roomkeeper_testkit::skip_without_postgres("postgres_over_tls") {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    roomkeeper_testkit::tls::make_certificates(
        certs.path(),
        "localhost",
        "DNS:localhost,IP:127.0.0.1",
    )
    .unwrap();
    let server = PostgresServer::start_with_tls(certs.path(), "localhost")
        .await
        .unwrap();
    let ca = certs.path().join("ca.crt");
    let url = format!(
        "postgres://roomkeeper@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        server.port,
        ca.display()
    );
    let mut config = roomkeeper::Config::default();
    config.database.url = url.clone();
    let store = roomkeeper::app::open_store(&config).await.unwrap();
    assert_eq!(store.backend(), roomkeeper_store::Backend::Postgres);
    // The connections are encrypted, by the server's own account.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let (encrypted,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(encrypted);

    // Without the CA the certificate is not trusted: refused, and the message says so.
    config.database.url = format!(
        "postgres://roomkeeper@localhost:{}/postgres?sslmode=verify-full",
        server.port
    );
    let refused = roomkeeper::app::open_store(&config).await.err().unwrap();
    let message = format!("{refused:#}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
}

/// Every row of a table, read by the column types PostgreSQL has for them (SQLite keeps
/// booleans as integers), in a comparable form and order.
fn rows_as_text<R>(columns: &[(String, String)], table: &str, rows: &[R]) -> Vec<String>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut all: Vec<String> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .enumerate()
                .map(|(i, (name, kind))| {
                    let text = match kind.as_str() {
                        "bigint" => row.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")),
                        "integer" => row.try_get::<Option<i32>, _>(i).map(|v| format!("{v:?}")),
                        "boolean" => row.try_get::<Option<bool>, _>(i).map(|v| format!("{v:?}")),
                        _ => row
                            .try_get::<Option<String>, _>(i)
                            .map(|v| format!("{v:?}")),
                    };
                    text.unwrap_or_else(|e| panic!("{table}.{name}: {e}"))
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    all.sort();
    all
}

/// A site outgrowing one instance moves its SQLite database to PostgreSQL with
/// `roomkeeper migrate-to`: every row of the released version's database arrives, new
/// rows get new ids, and a second run into the now used database changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_from_sqlite_to_postgres_with_nothing_lost() {
    let mut steps = Steps::new();
    if roomkeeper_testkit::skip_without_postgres("moves_from_sqlite_to_postgres") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let sqlite_file = work.path().join("roomkeeper.db");
    let sqlite_url = format!("sqlite://{}", sqlite_file.display());
    crate::upgrade::load_released(&sqlite_file)
        .await
        .close()
        .await;
    let postgres = roomkeeper_testkit::TestDatabase::new(roomkeeper_testkit::Backend::Postgres)
        .await
        .unwrap();
    let url_file = work.path().join("database-url");
    std::fs::write(&url_file, format!("{}\n", postgres.url)).unwrap();
    let roomkeeper = |database: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_roomkeeper"))
            .current_dir(work.path())
            .args(["--database-url", database])
            .args(args)
            .env_remove("ROOMKEEPER_CONFIG")
            .output()
            .unwrap()
    };
    let moved = roomkeeper(&sqlite_url, &["migrate-to", url_file.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&moved.stdout).into_owned();
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );

    steps.begin("Table by table, the same rows");
    let target = sqlx::PgPool::connect(&postgres.url).await.unwrap();
    let source = sqlx::SqlitePool::connect(&sqlite_url).await.unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = \
         current_schema() AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(&target)
    .await
    .unwrap();
    let mut with_rows = 0;
    let mut max_user_id = 0;
    for (table,) in &tables {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&target)
        .await
        .unwrap();
        let list = columns
            .iter()
            .map(|(c, _)| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let select = format!("SELECT {list} FROM \"{table}\"");
        let before = rows_as_text(
            &columns,
            table,
            &sqlx::query(&select).fetch_all(&source).await.unwrap(),
        );
        let after = rows_as_text(
            &columns,
            table,
            &sqlx::query(&select).fetch_all(&target).await.unwrap(),
        );
        assert_eq!(before, after, "{table}");
        assert!(
            said.contains(&format!("{table}: {} rows", before.len())),
            "{said}"
        );
        if !before.is_empty() {
            with_rows += 1;
        }
        if table == "users" {
            let (max,): (i64,) = sqlx::query_as("SELECT MAX(id) FROM users")
                .fetch_one(&target)
                .await
                .unwrap();
            max_user_id = max;
        }
    }
    assert!(with_rows >= 8, "the fixture fills most tables: {with_rows}");

    steps.begin("New rows get ids after the copied ones");
    let added = roomkeeper(&postgres.url, &["user", "add", "newcomer"]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM users WHERE username = 'newcomer'")
        .fetch_one(&target)
        .await
        .unwrap();
    assert!(id > max_user_id, "{id} <= {max_user_id}");

    steps.begin("Into a used database: refused, nothing changed");
    let users = || async {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&target)
            .await
            .unwrap();
        count
    };
    let count_before = users().await;
    let again = roomkeeper(&sqlite_url, &["migrate-to", url_file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(count_before, users().await);
}
