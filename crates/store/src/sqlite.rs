use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::queries::SqlStore;
use crate::statement::Driver;
use crate::{Backend, Error, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl Driver for sqlx::Sqlite {
    const BACKEND: Backend = Backend::Sqlite;
    // Write transactions take the write lock at BEGIN: a deferred transaction that reads
    // first and writes later fails with SQLITE_BUSY when another writer got in between.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }
    /// The reads of every request (`RequestReads`), on connections of their own.
    type Readers = crate::sqlite_reads::Readers;
}

/// The embedded default: one file, no server.
pub type SqliteStore = SqlStore<sqlx::Sqlite>;

impl SqliteStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("database.url {url:?}: {e}")))?
            .create_if_missing(true)
            // WAL lets readers work while one writer commits; FULL makes every
            // acknowledged commit survive a power cut, which we promise.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let file = options.get_filename().to_owned();
        // The request reads open the file again (sqlite_reads.rs): a database in memory
        // would be another, empty one for them.
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(Error::Config(format!(
                "database.url {url:?}: an in-memory database is not supported; name a file"
            )));
        }
        if let Some(dir) = file.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::Config(format!("cannot create directory {}: {e}", dir.display()))
                })?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            readers: crate::sqlite_reads::Readers::new(file),
        })
    }
}

/// The database file an SQLite `url` names (None for another backend or a bad URL).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if !url.trim().starts_with("sqlite:") {
        return None;
    }
    SqliteConnectOptions::from_str(url)
        .ok()
        .map(|o| o.get_filename().to_owned())
}

/// Puts `backup` (a file from `Store::back_up_to`) in place of the SQLite database at
/// `url`. Only while the service is stopped: a running one keeps the old file open.
/// The backup is checked first (`PRAGMA integrity_check`, Roomkeeper's migration table),
/// copied next to the database and renamed over it, so a crash leaves either the old
/// database or the whole restored one. The copy is brought up to this version's schema
/// before it is put in place, and it gets the owner and mode of the database it replaces
/// (or, for a first one, the directory's owner and 0600): run as root, as operators do,
/// it stays the service's. Run as another user than the database's owner, it refuses.
pub async fn restore(url: &str, backup: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let target = SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::Config(format!("database.url {url:?}: {e}")))?
        .get_filename()
        .to_owned();
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_owned();
    let (uid, gid, mode) = match std::fs::metadata(&target) {
        Ok(m) => (m.uid(), m.gid(), m.mode() & 0o7777),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::Config(format!(
                "{}: {e}: run restore as root or as the database's owner \
                 (runuser -u roomkeeper -- roomkeeper restore FILE); nothing was restored",
                target.display()
            )));
        }
        Err(_) => {
            let m = std::fs::metadata(&dir)
                .map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
            (m.uid(), m.gid(), 0o600)
        }
    };
    let me = rustix::process::geteuid().as_raw();
    if me != 0 && me != uid {
        return Err(Error::Config(format!(
            "{} belongs to user id {uid}, not to you: run restore as root or as that user \
             (runuser -u roomkeeper -- roomkeeper restore FILE); nothing was restored",
            target.display()
        )));
    }
    let checked = SqliteConnectOptions::new().filename(backup).read_only(true);
    let mut pool_options = SqlitePoolOptions::new().max_connections(1);
    pool_options = pool_options.acquire_timeout(Duration::from_secs(5));
    let pool = pool_options
        .connect_with(checked)
        .await
        .map_err(|e| Error::Config(format!("{}: cannot be opened: {e}", backup.display())))?;
    let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .map_err(|e| {
            Error::Config(format!(
                "{} is not an SQLite database: {e}",
                backup.display()
            ))
        })?;
    if verdict != "ok" {
        return Err(Error::Config(format!(
            "{} is damaged ({verdict}): nothing was restored",
            backup.display()
        )));
    }
    let ours: Option<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&pool)
    .await?;
    pool.close().await;
    if ours.is_none() {
        return Err(Error::Config(format!(
            "{} is not a Roomkeeper database: nothing was restored",
            backup.display()
        )));
    }
    let io = |what: &str, e: std::io::Error| Error::Config(format!("{what}: {e}"));
    let staged = target.with_extension("restoring");
    std::fs::copy(backup, &staged).map_err(|e| io("copying the backup", e))?;
    // An older backup is brought up to date on the copy, which is then closed (its
    // write-ahead log folded in), so no file of the database is left to whoever ran this.
    let migrated = async {
        let migrating = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&staged)
                    .journal_mode(SqliteJournalMode::Delete)
                    .foreign_keys(true),
            )
            .await?;
        let run = MIGRATOR.run(&migrating).await;
        migrating.close().await;
        run.map_err(|e| Error::Config(format!("bringing {} up to date: {e}", backup.display())))
    }
    .await;
    if let Err(e) = migrated {
        let _ = std::fs::remove_file(&staged);
        return Err(e);
    }
    std::fs::set_permissions(&staged, std::os::unix::fs::PermissionsExt::from_mode(mode))
        .map_err(|e| io("setting the copy's mode", e))?;
    if me == 0 {
        std::os::unix::fs::chown(&staged, Some(uid), Some(gid))
            .map_err(|e| io("giving the copy to the database's owner", e))?;
    }
    std::fs::File::open(&staged)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("syncing the copy", e))?;
    // The old database's write-ahead log belongs to the old file.
    for suffix in ["-wal", "-shm"] {
        let mut side = target.clone().into_os_string();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("removing the old write-ahead log", e));
            }
            _ => {}
        }
    }
    std::fs::rename(&staged, &target).map_err(|e| io("putting the backup in place", e))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("syncing the directory", e))?;
    }
    Ok(())
}
