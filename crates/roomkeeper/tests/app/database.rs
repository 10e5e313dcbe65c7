//! PostgreSQL over TLS with the university's own CA, as OPERATIONS.md sets it up
//! (`sslmode=verify-full&sslrootcert=FILE` in `database.url`).

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
