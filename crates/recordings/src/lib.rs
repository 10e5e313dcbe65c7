//! Recordings: Jibri's session directories in (`ingest`), files kept through one
//! blob-store interface (`blob`: local disk or S3), deleted when their time is up
//! (`Recordings::run_retention`). Who may see them is decided in `domain::authz`; the
//! web crate serves them.

pub mod blob;
pub mod config;
mod ingest;
pub mod mp4;
pub mod session;
pub mod staging;
pub mod watch;

pub use blob::{BlobStore, Delivery};
pub use config::{RecordingsConfig, S3Config, StorageKind};
pub use ingest::{ReadyMail, Recordings};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The session directory has no `metadata.json` yet: Jibri is not done with it.
    #[error("{0} is not finished yet (no metadata.json)")]
    NotReady(String),
    /// Something about the session itself: its metadata, its files.
    #[error("{0}")]
    Session(String),
    /// Where recordings are kept failed.
    #[error("recording storage: {0}")]
    Storage(String),
    #[error(transparent)]
    Store(#[from] roomkeeper_store::Error),
}
pub use crate::ingest::{content_disposition, content_type, download_name};
