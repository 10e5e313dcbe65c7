#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A uniqueness or state rule was hit; the text says which, for people.
    #[error("{0}")]
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

/// A room name someone else already holds, or has asked for.
pub const ROOM_TAKEN: &str = "This room is already registered.";
pub const ALREADY_DECIDED: &str = "This request has already been decided or withdrawn.";

impl Error {
    /// A unique-constraint violation becomes [`Error::Conflict`] with `sentence`; other
    /// errors pass through.
    pub(crate) fn conflict_with(err: sqlx::Error, sentence: &str) -> Error {
        match err.as_database_error() {
            Some(db) if db.is_unique_violation() => Error::Conflict(sentence.to_owned()),
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
