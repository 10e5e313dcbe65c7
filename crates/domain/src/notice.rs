//! What a notice on someone's home page tells them. Stored by `code()`.

crate::coded_enum! {
    pub enum NoticeKind {
        /// Their request was approved; the message is the administrator's, if any.
        Approved = "approved",
        Rejected = "rejected",
        /// A recording of their room can be watched; the message is its id.
        RecordingReady = "recording_ready",
        /// Their room's meeting runs without its owners; the message is the minutes.
        InUse = "in_use",
        /// Someone knocks at their room's lobby and none of them is in; the message is
        /// the name the first one typed.
        Knocking = "knocking",
        // Someone else changed a room of theirs; the message names who (and to whom).
        CoOwnersChanged = "co_owners_changed",
        RoomTransferred = "room_transferred",
        RoomReleased = "room_released",
        RecordingAssigned = "recording_assigned",
    }
}

/// A notice on someone's home page until they dismiss it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    pub id: i64,
    #[serde(skip)]
    pub username: crate::Username,
    pub kind: NoticeKind,
    pub room_name: crate::RoomName,
    pub message: String,
    pub created_at: i64,
}
