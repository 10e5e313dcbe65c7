//! Pure rules of Roomkeeper. Nothing here does I/O or knows a framework, so every
//! rule can be tested on its own and reused by pages, API and command line alike.

pub mod account;
pub mod audit;
pub mod authz;
pub mod clock;
mod coded;
pub mod group;
pub mod guard;
pub mod meeting;
pub mod names;
pub mod notice;
pub mod paging;
pub mod pattern;
pub mod recording;
pub mod refusal;
pub mod registration;
pub mod room;

pub use account::{ApiToken, OidcLogin, User};
pub use audit::{AuditAction, AuditEntry, MeetingStep};
pub use authz::{Action, Actor, Decision, RecordingFacts, RequestFacts, RoomFacts, decide};
pub use clock::Clock;
pub use group::{CoOwnerGroup, GroupMember, GroupName, GroupNameError};
pub use guard::{GuardError, GuardSettings, JoinCode, LobbyMode, ModeratorGuard};
pub use meeting::{Knocker, Meeting, Participant};
pub use names::{NewPassword, ParseError, Username};
pub use notice::{Notice, NoticeKind};
pub use paging::{Page, Paged};
pub use pattern::{Pattern, PatternError};
pub use recording::{
    IngestProblem, Recording, RecordingId, RecordingIdError, RecordingState, ShareLink,
};
pub use refusal::{Refusal, RefusalKind};
pub use registration::{Overview, RequestStatus, Room, RoomEntry, RoomRequest};
pub use room::{MeetingBase, RoomName, RoomNameError};
