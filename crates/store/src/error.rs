#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A uniqueness or state rule was hit; which one is typed, never told by its text.
    #[error("{0}")]
    Conflict(Conflict),
    #[error("not found")]
    NotFound,
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the request reads on SQLite (sqlite_reads.rs).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which rule a change ran into. Each has a stable code (the API's `error.code`) and a
/// sentence for people; callers match on the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// A room name someone else already holds, or has asked for.
    #[error("This room is already registered, or someone has already asked for it.")]
    RoomTaken,
    #[error("This request has already been decided or withdrawn.")]
    AlreadyDecided,
    #[error("That username is already taken.")]
    UsernameTaken,
    #[error("This user already has this pattern.")]
    PatternExists,
    #[error("This sign-on identity is already linked to an account.")]
    IdentityLinked,
    /// A random secret (session, token) met its twin: practically never.
    #[error("This secret already exists; try again.")]
    SecretExists,
}

impl Conflict {
    pub fn refusal(self) -> roomkeeper_domain::Refusal {
        use roomkeeper_domain::Refusal;
        match self {
            Conflict::RoomTaken => Refusal::RoomTaken,
            Conflict::AlreadyDecided => Refusal::AlreadyDecided,
            Conflict::UsernameTaken => Refusal::UsernameTaken,
            Conflict::PatternExists => Refusal::PatternExists,
            Conflict::IdentityLinked => Refusal::IdentityLinked,
            Conflict::SecretExists => Refusal::SecretExists,
        }
    }

    pub fn code(self) -> &'static str {
        self.refusal().code()
    }
}

impl Error {
    /// A unique-constraint violation becomes [`Error::Conflict`] of `kind`; other errors
    /// pass through.
    pub(crate) fn conflict_with(err: sqlx::Error, kind: Conflict) -> Error {
        match err.as_database_error() {
            Some(db) if db.is_unique_violation() => Error::Conflict(kind),
            _ => Error::Database(err),
        }
    }
}

impl Error {
    /// The database could not be reached (pool timeout, connection refused or lost),
    /// as opposed to a query that failed: callers answer 503, not 500.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed,
            ) => true,
            Error::Sqlite(error) => matches!(
                error.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::CannotOpen
                )
            ),
            _ => false,
        }
    }
}
