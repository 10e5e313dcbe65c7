#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A uniqueness rule was hit; the text names what already exists.
    #[error("{0} already exists")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Maps a unique-constraint violation to [`Error::Conflict`] naming `what`; other
    /// errors pass through.
    pub(crate) fn conflict_as(what: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
        move |err| match err.as_database_error() {
            Some(db) if db.is_unique_violation() => Error::Conflict(what.to_owned()),
            _ => Error::Database(err),
        }
    }
}

impl Error {
    /// The database could not be reached (pool timeout, connection refused or lost),
    /// as opposed to a query that failed: callers answer 503, not 500.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Error::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
            )
        )
    }
}
