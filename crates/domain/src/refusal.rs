//! Why Roomkeeper said no to something it understood. Every refusal, wherever it is
//! decided (a use case, the store's unique indexes, Prosody's answer, the API's own
//! checks), is one of these: scripts match on its `code()` (the API's `error.code`),
//! pages look up their words by it (`error-{code}`), and Rust code matches on the
//! variant, never on a string.

/// Whether the input broke a rule (HTTP 422) or the world is not in the state the
/// action needs (HTTP 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    Invalid,
    Conflict,
}

crate::coded_enum! {
    /// The refusals; `kind()` says which are conflicts.
    pub enum Refusal {
        InvalidRoom = "invalid_room",
        InvalidUsername = "invalid_username",
        InvalidPattern = "invalid_pattern",
        /// A decision's message to the requester is too long.
        InvalidMessage = "invalid_message",
        InvalidReason = "invalid_reason",
        InvalidPassword = "invalid_password",
        /// The current password, asked for before a change, was not right.
        WrongPassword = "wrong_password",
        InvalidTokenName = "invalid_token_name",
        InvalidTokenExpiry = "invalid_token_expiry",
        InvalidEmail = "invalid_email",
        InvalidGuard = "invalid_guard",
        /// A co-owning group that is no group name, or of no provider or directory here.
        InvalidGroup = "invalid_group",
        /// The directory has no group of that name.
        UnknownGroup = "unknown_group",
        /// A value that does not parse, where no more precise rule applies.
        InvalidInput = "invalid_input",
        /// A disabled account's rooms were to go to that same account.
        TransferToSelf = "transfer_to_self",
        /// A recording was to be assigned to a room nobody registered.
        UnknownRoom = "unknown_room",
        BadRetention = "bad_retention",
        /// A share link's lifetime is out of bounds.
        BadLifetime = "bad_lifetime",
        /// The Jibri uploader's report of what it could not deliver.
        BadSpoolReport = "bad_spool_report",
        BadUpload = "bad_upload",
        /// A Jibri session (metadata, files) that cannot be taken in.
        BadSession = "bad_session",
        /// More items at once than one request may carry.
        TooMany = "too_many",
        /// The password was right, but local passwords are for administrators only here.
        LocalLoginOff = "local_login_off",
        /// The directory confirmed the person, but the account of that name was made by
        /// another sign-in and nobody linked it to the directory.
        DirectoryNotLinked = "directory_not_linked",
        AlreadyRequested = "already_requested",
        AlreadyAssigned = "already_assigned",
        /// An administrator who may not watch recordings assigning one to his own room.
        OwnRoom = "own_room",
        /// An account with a local password cannot be linked to the directory.
        LocalPassword = "local_password",
        LastAdmin = "last_admin",
        /// An account to disable still owns rooms and nobody was named to take them.
        OwnsRooms = "owns_rooms",
        /// A refused sign-in changed between showing it and deciding on it.
        SignInChanged = "sign_in_changed",
        CompanionModuleMissing = "companion_module_missing",
        NoMeeting = "no_meeting",
        ParticipantGone = "participant_gone",
        /// A room name someone else already holds, or has asked for.
        RoomTaken = "room_taken",
        AlreadyDecided = "already_decided",
        UsernameTaken = "username_taken",
        PatternExists = "pattern_exists",
        IdentityLinked = "identity_linked",
        /// A random secret (session, token) met its twin: practically never.
        SecretExists = "secret_exists",
    }
}

impl Refusal {
    pub fn kind(self) -> RefusalKind {
        use Refusal::*;
        match self {
            InvalidRoom | InvalidUsername | InvalidPattern | InvalidMessage | InvalidReason
            | InvalidPassword | WrongPassword | InvalidTokenName | InvalidTokenExpiry
            | InvalidEmail | InvalidGuard | InvalidGroup | UnknownGroup | InvalidInput
            | TransferToSelf | UnknownRoom | BadRetention | BadLifetime | BadSpoolReport
            | BadUpload | BadSession | TooMany | LocalLoginOff | DirectoryNotLinked => {
                RefusalKind::Invalid
            }
            AlreadyRequested
            | AlreadyAssigned
            | OwnRoom
            | LocalPassword
            | LastAdmin
            | OwnsRooms
            | SignInChanged
            | CompanionModuleMissing
            | NoMeeting
            | ParticipantGone
            | RoomTaken
            | AlreadyDecided
            | UsernameTaken
            | PatternExists
            | IdentityLinked
            | SecretExists => RefusalKind::Conflict,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for refusal in Refusal::ALL {
            let code = refusal.code();
            assert!(seen.insert(code), "{code} twice");
            assert!(
                !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
    }
}
