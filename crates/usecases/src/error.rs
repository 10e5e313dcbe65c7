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
    /// The directory (LDAP) could not be asked.
    #[error("The directory cannot be reached just now: {0}")]
    DirectoryUnavailable(String),
    /// Where recordings are kept has no space left.
    #[error("{0}")]
    StorageFull(String),
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

/// What a failed use case means to whoever asked, whichever part failed: the one place
/// that reads the store's, Jitsi's, the recordings' and sign-in's errors. Pages, the API
/// and the command line turn this into their answer.
#[derive(Debug)]
pub enum Failure {
    NotFound,
    Refused {
        refusal: Refusal,
        message: String,
    },
    /// Prosody answered and refused the action; the text says what to change.
    ProsodyRefused(String),
    /// A part Roomkeeper needs does not answer now (Prosody, the directory, storage).
    Unavailable(String),
    /// The database does not answer: said apart, so people know it is not their Jitsi.
    DatabaseUnreachable(String),
    /// Where recordings are kept has no space left: the sender keeps its files and tries
    /// again later.
    StorageFull(String),
    /// Kept to the log; people see a generic sentence.
    Internal(String),
}

impl Error {
    pub fn failure(self) -> Failure {
        match self {
            Error::NotFound => Failure::NotFound,
            Error::Refused { refusal, message } => Failure::Refused { refusal, message },
            Error::Store(e) => store_failure(e),
            Error::Meeting(e) => meeting_failure(&e),
            Error::Auth(e) => auth_failure(e),
            Error::Recordings(e) => recordings_failure(e),
            Error::Parse(e) => Failure::Refused {
                refusal: Refusal::InvalidInput,
                message: e.to_string(),
            },
            Error::StorageFull(message) => Failure::StorageFull(message),
            Error::DirectoryUnavailable(cause) => Failure::Unavailable(format!(
                "The directory cannot be reached just now; nothing was changed. ({cause})"
            )),
            Error::Internal(cause) => Failure::Internal(cause),
        }
    }
}

fn store_failure(err: roomkeeper_store::Error) -> Failure {
    use roomkeeper_store::Error as S;
    match err {
        S::Conflict(kind) => Failure::Refused {
            refusal: kind.refusal(),
            message: kind.to_string(),
        },
        S::NotFound => Failure::NotFound,
        unreachable if unreachable.is_unreachable() => Failure::DatabaseUnreachable(format!(
            "The database is not reachable right now ({unreachable}). Try again in a minute."
        )),
        other => Failure::Internal(other.to_string()),
    }
}

fn meeting_failure(err: &roomkeeper_jitsi::Error) -> Failure {
    use roomkeeper_jitsi::Error as J;
    let message = err.to_string();
    match err {
        J::NoMeeting => Failure::Refused {
            refusal: Refusal::NoMeeting,
            message,
        },
        J::ParticipantGone => Failure::Refused {
            refusal: Refusal::ParticipantGone,
            message,
        },
        J::Refused(_) => Failure::ProsodyRefused(message),
        // An operator's setup, not the caller's doing: said as unavailable, in words.
        J::Unreachable(_) | J::NotConnected(_) | J::NoShard | J::NeedsModule => {
            Failure::Unavailable(message)
        }
    }
}

fn recordings_failure(err: roomkeeper_recordings::Error) -> Failure {
    use roomkeeper_recordings::Error as R;
    match err {
        R::Store(e) => store_failure(e),
        R::NotReady(_) | R::Session(_) => Failure::Refused {
            refusal: Refusal::BadSession,
            message: err.to_string(),
        },
        R::Storage(_) => Failure::Unavailable(format!(
            "Recordings cannot be stored or read right now ({err}). Try again later."
        )),
    }
}

fn auth_failure(err: roomkeeper_auth::Error) -> Failure {
    match err {
        roomkeeper_auth::Error::Store(e) => store_failure(e),
        roomkeeper_auth::Error::Busy => Failure::Unavailable(
            "Too many logins are being checked right now. Try again in a few seconds.".into(),
        ),
        other => Failure::Internal(other.to_string()),
    }
}
