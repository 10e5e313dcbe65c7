//! A Jibri session sent over HTTP (the finalize script's upload): staged under
//! `recordings.dir/.incoming/`, one directory per upload, then ingested like a session
//! found on disk. The web layer reads the multipart body and hands each part here; video
//! parts are written as they arrive, never held in memory.

use std::path::PathBuf;

use roomkeeper_domain::Refusal;
use roomkeeper_recordings::{session, staging};
use tokio::io::AsyncWriteExt;

use crate::{Error, UseCases};

/// Largest `metadata.json` accepted (Jibri's are a few KiB).
pub const MAX_METADATA: usize = 1024 * 1024;

fn bad(message: impl Into<String>) -> Error {
    Error::refused(Refusal::BadUpload, message)
}

/// A full disk is said as such (507: the sender keeps its files and tries again later).
// By value: it is what `map_err` hands over.
#[allow(clippy::needless_pass_by_value)]
fn staging_failed(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull {
        Error::StorageFull(format!(
            "No space left to take in this recording ({e}); keep the files and try again later."
        ))
    } else {
        Error::Internal(format!("staging: {e}"))
    }
}

/// One upload in progress. Its directory goes when it is dropped, however the request
/// ended; a killed process leaves it to the start-up sweep.
pub struct Upload {
    /// Keeps the sweep away while this upload writes.
    _writing: staging::Writing,
    dir: tempfile::TempDir,
    session: Option<String>,
    metadata: Option<Vec<u8>>,
    videos: usize,
}

impl Upload {
    pub async fn begin(uc: &UseCases) -> Result<Self, Error> {
        let root = &uc.recordings.config.dir;
        let writing = staging::writing(root).await?;
        let incoming = staging::incoming(root);
        tokio::fs::create_dir_all(&incoming)
            .await
            .map_err(staging_failed)?;
        // One directory per upload: two tries of one session never share files.
        let dir = tempfile::Builder::new()
            .prefix("upload-")
            .tempdir_in(&incoming)
            .map_err(staging_failed)?;
        Ok(Self {
            _writing: writing,
            dir,
            session: None,
            metadata: None,
            videos: 0,
        })
    }

    /// The session directory's name, as Jibri made it.
    pub fn session(&mut self, name: String) -> Result<(), Error> {
        session::check_session_name(&name)?;
        self.session = Some(name);
        Ok(())
    }

    pub fn metadata(&mut self, bytes: Vec<u8>) -> Result<(), Error> {
        if bytes.len() > MAX_METADATA {
            return Err(bad("metadata.json is larger than 1 MiB"));
        }
        self.metadata = Some(bytes);
        Ok(())
    }

    /// A video file of the session, to be written with [`StagedVideo::write`] and
    /// finished with [`Upload::video_done`].
    pub async fn video(&mut self, file_name: Option<&str>) -> Result<StagedVideo, Error> {
        let session = self
            .session
            .as_deref()
            .ok_or_else(|| bad("send the session field before the videos"))?;
        let file_name = file_name.ok_or_else(|| bad("a video part needs a file name"))?;
        session::check_file_name(file_name)?;
        let dir = self.dir.path().join(session);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::Internal(format!("staging {}: {e}", dir.display())))?;
        let staged = dir.join(format!("{file_name}.part"));
        let file = tokio::fs::File::create(&staged)
            .await
            .map_err(|e| Error::Internal(format!("staging {}: {e}", staged.display())))?;
        Ok(StagedVideo {
            file,
            staged,
            done: dir.join(file_name),
        })
    }

    pub async fn video_done(&mut self, mut video: StagedVideo) -> Result<(), Error> {
        video.file.flush().await.map_err(staging_failed)?;
        tokio::fs::rename(&video.staged, &video.done)
            .await
            .map_err(staging_failed)?;
        self.videos += 1;
        Ok(())
    }

    /// Ingests the staged session: the ids of its recordings (the same ones when the
    /// same session is sent again).
    pub async fn finish(self, uc: &UseCases) -> Result<Vec<String>, Error> {
        let session = self
            .session
            .as_deref()
            .ok_or_else(|| bad("the session field is missing"))?;
        let metadata = self
            .metadata
            .as_deref()
            .ok_or_else(|| bad("the metadata part is missing"))?;
        if self.videos == 0 {
            return Err(bad("no video part"));
        }
        let dir = self.dir.path().join(session);
        // Written last: a staged session counts only once its metadata is there.
        tokio::fs::write(dir.join(session::METADATA), metadata)
            .await
            .map_err(staging_failed)?;
        let stored = uc.recordings.ingest_dir(&dir, true).await?;
        Ok(stored.into_iter().map(|r| r.id).collect())
    }
}

/// A video part being written.
pub struct StagedVideo {
    file: tokio::fs::File,
    staged: PathBuf,
    done: PathBuf,
}

impl StagedVideo {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.file.write_all(chunk).await.map_err(staging_failed)
    }
}
