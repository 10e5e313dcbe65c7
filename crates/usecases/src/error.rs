/// Why a use case did not happen. The web layer turns each into a status and a stable
/// `code`; nothing matches on the message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Not found, or not yours to see.")]
    NotFound,
    /// Understood but invalid; `code` names the rule that was broken.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// The world is not in the state the use case needs; `code` says which.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] roomkeeper_store::Error),
    #[error(transparent)]
    Meeting(#[from] roomkeeper_jitsi::Error),
    #[error(transparent)]
    Auth(#[from] roomkeeper_auth::Error),
    #[error(transparent)]
    Recordings(#[from] roomkeeper_recordings::Error),
    /// A value that does not parse (a username, a password).
    #[error(transparent)]
    Parse(#[from] roomkeeper_domain::ParseError),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }
}
