use roomkeeper_domain::Refusal;

/// Why a use case did not happen. The web layer turns each into a status and a stable
/// `code`; nothing matches on the message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Not found, or not yours to see.")]
    NotFound,
    /// Understood, and refused: the input broke a rule or the world is not in the state
    /// the use case needs. `refusal` says which; `message` says it to a person.
    #[error("{message}")]
    Refused { refusal: Refusal, message: String },
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
    pub fn refused(refusal: Refusal, message: impl Into<String>) -> Self {
        Error::Refused {
            refusal,
            message: message.into(),
        }
    }

    /// The refusal, whether a use case decided it or the store's rules did.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Error::Refused { refusal, .. } => Some(*refusal),
            Error::Store(roomkeeper_store::Error::Conflict(conflict)) => Some(conflict.refusal()),
            _ => None,
        }
    }
}
