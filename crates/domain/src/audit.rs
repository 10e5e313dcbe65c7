//! What a room's history (the audit log) can say happened. Stored by `code()`; the
//! pages' words for each are `audit-{code}`.

crate::coded_enum! {
    pub enum AuditAction {
        // Registration.
        Request = "request",
        /// A request a pattern approved in the same transaction.
        AutoApprove = "auto_approve",
        Withdraw = "withdraw",
        Approve = "approve",
        Reject = "reject",
        PatternAdd = "pattern_add",
        PatternRemove = "pattern_remove",
        CoOwners = "co_owners",
        /// The groups whose members co-own the room changed.
        CoOwnerGroups = "co_owner_groups",
        Transfer = "transfer",
        Release = "release",
        // An owner's action in the running meeting, and the same when Jitsi refused it
        // or could not answer ("I took his rights away" must not be in the history
        // when it did not happen).
        GrantModerator = "grant_moderator",
        RevokeModerator = "revoke_moderator",
        RemovePassword = "remove_password",
        Kick = "kick",
        EndMeeting = "end_meeting",
        /// Someone knocking at the lobby let in, or sent away.
        LobbyAdmit = "lobby_admit",
        LobbyDeny = "lobby_deny",
        GrantModeratorFailed = "grant_moderator_failed",
        RevokeModeratorFailed = "revoke_moderator_failed",
        RemovePasswordFailed = "remove_password_failed",
        KickFailed = "kick_failed",
        EndMeetingFailed = "end_meeting_failed",
        LobbyAdmitFailed = "lobby_admit_failed",
        LobbyDenyFailed = "lobby_deny_failed",
        // The room guard.
        GuardChanged = "guard_changed",
        GuardRemovedPassword = "guard_removed_password",
        GuardRevokedModerator = "guard_revoked_moderator",
        /// The lobby setting turned jitsi-meet's lobby on or off in a running meeting.
        GuardLobbyOn = "guard_lobby_on",
        GuardLobbyOff = "guard_lobby_off",
        JoinAsModerator = "join_as_moderator",
        /// An owner set the meeting's password through Roomkeeper.
        SetPassword = "set_password",
        InUseAlert = "in_use_alert",
        /// The owners were told someone knocks while none of them is in.
        KnockAlert = "knock_alert",
        // Recordings.
        RecordingAssigned = "recording_assigned",
        RecordingDeleted = "recording_deleted",
        RetentionSet = "retention_set",
        ShareLinkCreated = "share_link_created",
        ShareLinkRevoked = "share_link_revoked",
        ShareLinkUsed = "share_link_used",
        // Refused OpenID sign-ins an administrator resolved.
        SignInLinked = "sign_in_linked",
        SignInDismissed = "sign_in_dismissed",
    }
}

/// An owner's action in a running meeting: its history entry when Jitsi did it, and
/// when Jitsi refused it or could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingStep {
    GrantModerator,
    RevokeModerator,
    RemovePassword,
    Kick,
    EndMeeting,
    Admit,
    Deny,
}

impl MeetingStep {
    pub fn done(self) -> AuditAction {
        match self {
            MeetingStep::GrantModerator => AuditAction::GrantModerator,
            MeetingStep::RevokeModerator => AuditAction::RevokeModerator,
            MeetingStep::RemovePassword => AuditAction::RemovePassword,
            MeetingStep::Kick => AuditAction::Kick,
            MeetingStep::EndMeeting => AuditAction::EndMeeting,
            MeetingStep::Admit => AuditAction::LobbyAdmit,
            MeetingStep::Deny => AuditAction::LobbyDeny,
        }
    }

    pub fn failed(self) -> AuditAction {
        match self {
            MeetingStep::GrantModerator => AuditAction::GrantModeratorFailed,
            MeetingStep::RevokeModerator => AuditAction::RevokeModeratorFailed,
            MeetingStep::RemovePassword => AuditAction::RemovePasswordFailed,
            MeetingStep::Kick => AuditAction::KickFailed,
            MeetingStep::EndMeeting => AuditAction::EndMeetingFailed,
            MeetingStep::Admit => AuditAction::LobbyAdmitFailed,
            MeetingStep::Deny => AuditAction::LobbyDenyFailed,
        }
    }
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    /// Who did it; `None` for Roomkeeper itself (the guard, a scheduled job).
    pub actor: Option<crate::Username>,
    pub address: Option<String>,
    pub action: AuditAction,
    pub room_name: Option<crate::RoomName>,
    pub subject: Option<String>,
    pub detail: String,
}
