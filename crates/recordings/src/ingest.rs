//! From a Jibri session directory to ready recordings. The order of steps is what makes
//! an ingest safe to kill and to repeat:
//! 1. hash the file; write its row ('storing': nobody sees it) or find the row an
//!    earlier attempt wrote for the same session and file name;
//! 2. store the file under the row's id (rename or streamed copy, then fsync);
//! 3. mark the row ready (with notices and emails, once);
//! 4. only then remove Jibri's file.
//!
//! Killed after 2, the file is stored but the row is not ready: `recover` finds it by
//! its checksum. Killed before 2, the next attempt starts over with the same row.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use roomkeeper_domain::{Clock, MeetingBase};
use roomkeeper_store::{Audit, NewEmail, NewRecording, Recording, RecordingState, Store};

use crate::blob::{BlobStore, Labels, file_checksum};
use crate::config::RecordingsConfig;
use crate::session::{self, METADATA, Metadata};
use crate::{Error, mp4, staging};

/// Composes the "your recording is ready" emails (the web crate knows the texts and each
/// recipient's language).
#[async_trait]
pub trait ReadyMail: Send + Sync {
    async fn emails(&self, recording: &Recording) -> Vec<NewEmail>;
    /// Emails were queued: wake this instance's outbox rather than wait for its poll.
    fn queued(&self) {}
}

struct NoMail;

#[async_trait]
impl ReadyMail for NoMail {
    async fn emails(&self, _: &Recording) -> Vec<NewEmail> {
        Vec::new()
    }
}

/// The recordings service: what ingest, the pages and the background jobs share.
#[derive(Clone)]
pub struct Recordings {
    pub store: Arc<dyn Store>,
    pub blobs: BlobStore,
    pub clock: Clock,
    pub config: RecordingsConfig,
    /// This installation's meeting links, for reading `meeting_url`.
    pub bases: Vec<MeetingBase>,
    mail: Arc<dyn ReadyMail>,
}

/// A recording file's download name: `logic_2026-11-28_10-15.mp4`.
pub fn download_name(recording: &Recording) -> String {
    let room = recording
        .room_name
        .as_deref()
        .or(recording.meeting_room.as_deref())
        .unwrap_or("recording")
        .replace('/', "_");
    let room: String = room
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let when = time::OffsetDateTime::from_unix_timestamp(recording.started_at)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!("[year]-[month]-[day]_[hour]-[minute]");
    let extension = recording
        .source_file
        .rsplit_once('.')
        .map_or("mp4", |(_, ext)| ext)
        .to_ascii_lowercase();
    format!(
        "{room}_{}.{extension}",
        when.format(&format).unwrap_or_default()
    )
}

/// `inline` to play, `attachment` to download; an ASCII name for old clients and the
/// exact one in RFC 5987 form (room names may be any language). Plain ASCII, so it is a
/// valid header value and S3 object attribute.
pub fn content_disposition(download: bool, name: &str) -> String {
    let kind = if download { "attachment" } else { "inline" };
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && plain(c as u8) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if plain(b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub fn content_type(recording: &Recording) -> &'static str {
    match recording
        .source_file
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
    {
        Some(e) if e == "webm" => "video/webm",
        Some(e) if e == "mkv" => "video/x-matroska",
        _ => "video/mp4",
    }
}

impl Recordings {
    pub fn new(
        store: Arc<dyn Store>,
        blobs: BlobStore,
        clock: Clock,
        config: RecordingsConfig,
        bases: Vec<MeetingBase>,
    ) -> Self {
        Self {
            store,
            blobs,
            clock,
            config,
            bases,
            mail: Arc::new(NoMail),
        }
    }

    pub fn with_mail(mut self, mail: Arc<dyn ReadyMail>) -> Self {
        self.mail = mail;
        self
    }

    /// Ingests one session directory. Jibri's files are removed once stored (moved, when
    /// `may_move` and on the same filesystem). A problem is logged and kept for admins,
    /// and leaves Jibri's files where they are.
    pub async fn ingest_dir(&self, dir: &Path, may_move: bool) -> Result<Vec<Recording>, Error> {
        let label = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let result = self.ingest_dir_inner(dir, may_move).await;
        match &result {
            Ok(recordings) => {
                self.store.clear_ingest_problem(&label).await?;
                tracing::info!(session = %label, recordings = recordings.len(), "ingested");
            }
            Err(Error::NotReady(_)) => {}
            Err(error) => {
                tracing::warn!(session = %label, %error, "cannot ingest this Jibri session");
                self.store
                    .record_ingest_problem(
                        &label,
                        &dir.display().to_string(),
                        &error.to_string(),
                        self.clock.now(),
                    )
                    .await?;
            }
        }
        result
    }

    async fn ingest_dir_inner(&self, dir: &Path, may_move: bool) -> Result<Vec<Recording>, Error> {
        let session = session::session_name(dir)?;
        let metadata_path = dir.join(METADATA);
        let text = match tokio::fs::read_to_string(&metadata_path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotReady(dir.display().to_string()));
            }
            Err(e) => return Err(Error::Session(format!("cannot read {METADATA}: {e}"))),
        };
        let metadata = session::parse_metadata(&text, &self.bases)?;
        let videos = session::video_files(dir)?;
        if videos.is_empty() {
            // Killed after its last video was stored (and Jibri's file removed) but
            // before metadata.json went: the session is done, and a retry says so.
            let stored = self.store.ready_recordings_of_session(&session).await?;
            if stored.is_empty() {
                return Err(Error::Session(format!(
                    "{} holds no video file",
                    dir.display()
                )));
            }
            let _ = tokio::fs::remove_file(&metadata_path).await;
            let _ = tokio::fs::remove_dir(dir).await;
            return Ok(stored);
        }
        let mut recordings = Vec::new();
        for video in &videos {
            recordings.push(
                self.ingest_file(video, &session, &metadata, may_move)
                    .await?,
            );
        }
        // Everything is stored: Jibri's directory can go. Whatever else is in it stays.
        let _ = tokio::fs::remove_file(&metadata_path).await;
        let _ = tokio::fs::remove_dir(dir).await;
        Ok(recordings)
    }

    async fn ingest_file(
        &self,
        path: &Path,
        session: &str,
        metadata: &Metadata,
        may_move: bool,
    ) -> Result<Recording, Error> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Session(format!("{} has no usable name", path.display())))?
            .to_owned();
        let (size, sha256) = file_checksum(path).await?;
        let duration_ms = {
            let path = path.to_owned();
            tokio::task::spawn_blocking(move || {
                std::fs::File::open(path)
                    .ok()
                    .and_then(|mut file| mp4::duration_ms(&mut file))
            })
            .await
            .ok()
            .flatten()
        };
        let started_at = session::start_time_from_name(&name).unwrap_or_else(|| {
            // Not Jibri's naming: the file's last change minus its length.
            let modified = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(self.clock.now(), |d| d.as_secs() as i64);
            modified - duration_ms.unwrap_or(0) / 1000
        });
        let new = NewRecording {
            id: roomkeeper_auth::new_recording_id().to_string(),
            session: session.to_owned(),
            source_file: name.clone(),
            meeting_room: metadata.room.as_ref().map(|r| r.to_string()),
            meeting_url: metadata.meeting_url.clone(),
            started_at,
            duration_ms,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            sha256: sha256.clone(),
            participants: metadata.participants.clone(),
        };
        let recording = self.store.begin_recording(&new, self.clock.now()).await?;
        match recording.state {
            RecordingState::Ready if recording.sha256 == sha256 => {
                // Ingested before (a retried finalize script, a rescan): the same recording.
                remove_source(path).await;
                return Ok(recording);
            }
            RecordingState::Ready => {
                return Err(Error::Session(format!(
                    "{name} differs from the recording already stored from this session"
                )));
            }
            RecordingState::Deleting => {
                return Err(Error::Session(format!(
                    "{name} was ingested and is being deleted"
                )));
            }
            RecordingState::Storing => {}
        }
        let download = download_name(&recording);
        let _writing = staging::writing(&self.config.dir).await?;
        self.blobs
            .store_file(
                path,
                &recording.id,
                may_move,
                &Labels {
                    content_type: content_type(&recording),
                    download_name: &download,
                },
            )
            .await?;
        let recording = self.finish(&recording).await?;
        remove_source(path).await;
        Ok(recording)
    }

    /// Shows a stored recording, with its notices and emails.
    async fn finish(&self, recording: &Recording) -> Result<Recording, Error> {
        let emails = self.mail.emails(recording).await;
        let (recording, newly_ready) = self
            .store
            .finish_recording(&recording.id, self.clock.now(), &emails)
            .await?;
        if newly_ready && !emails.is_empty() {
            self.mail.queued();
        }
        Ok(recording)
    }

    /// Finishes what a crash interrupted: temporary files are removed (`staging`), rows
    /// whose file was stored are made ready (after
    /// checking size and checksum), deletions are completed.
    pub async fn recover(&self) -> Result<(), Error> {
        match staging::sweep(&self.config.dir, self.blobs.local_root()).await? {
            Some(0) => {}
            Some(removed) => tracing::info!(removed, "removed temporary files a crash left"),
            None => tracing::info!("temporary files not swept: another process is writing"),
        }
        for recording in self.store.unfinished_recordings().await? {
            match recording.state {
                RecordingState::Deleting => self.finish_delete(&recording.id).await?,
                RecordingState::Storing => {
                    let stored = self.blobs.checksum(&recording.id).await?;
                    let expected = (recording.size_bytes as u64, recording.sha256.clone());
                    if stored.as_ref() == Some(&expected) {
                        self.finish(&recording).await?;
                        tracing::info!(id = %recording.id, "recovered a recording stored before a crash");
                    } else if stored.is_none()
                        && recording.created_at < self.clock.now() - STALE_ATTEMPT_SECONDS
                    {
                        // Its file was never stored and nobody tried again: nothing to keep.
                        self.store.forget_recording(&recording.id).await?;
                    }
                }
                RecordingState::Ready => {}
            }
        }
        Ok(())
    }

    /// Deletes a recording (audited with `why`); `false` when there was none.
    pub async fn delete(&self, id: &str, audit: &Audit<'_>, why: &str) -> Result<bool, Error> {
        if self
            .store
            .start_deleting_recording(id, audit, why)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        self.finish_delete(id).await?;
        Ok(true)
    }

    async fn finish_delete(&self, id: &str) -> Result<(), Error> {
        self.blobs.delete(id).await?;
        self.store.forget_recording(id).await?;
        Ok(())
    }

    /// Today's retention run, if no other instance has claimed it: deletes every ready
    /// recording past its room's retention. Returns how many went (`None`: not ours).
    pub async fn run_retention(&self) -> Result<Option<usize>, Error> {
        let now = self.clock.now();
        if !self
            .store
            .claim_daily_job("recording_retention", now.div_euclid(86_400))
            .await?
        {
            return Ok(None);
        }
        let audit = Audit {
            actor: None,
            address: None,
            now,
        };
        let mut deleted = 0;
        loop {
            let expired = self
                .store
                .expired_recordings(now, self.config.retention_days, 100)
                .await?;
            if expired.is_empty() {
                break;
            }
            for recording in expired {
                let days = recording
                    .retention_days
                    .unwrap_or(self.config.retention_days);
                if self
                    .delete(
                        &recording.id,
                        &audit,
                        &format!("retention: kept {days} days"),
                    )
                    .await?
                {
                    deleted += 1;
                }
            }
        }
        tracing::info!(deleted, "recording retention done");
        Ok(Some(deleted))
    }

    /// When a recording will be deleted by retention (Unix seconds).
    pub fn deleted_at(&self, recording: &Recording) -> i64 {
        recording.started_at
            + recording
                .retention_days
                .unwrap_or(self.config.retention_days)
                * 86_400
    }
}

/// A 'storing' row without a file, older than this, is an abandoned attempt.
const STALE_ATTEMPT_SECONDS: i64 = 86_400;

async fn remove_source(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // moved
        Err(error) => tracing::warn!(path = %path.display(), %error, "cannot remove Jibri's file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_survive_any_room_name() {
        assert_eq!(
            content_disposition(true, "übung_2026-11-28_10-15.mp4"),
            "attachment; filename=\"_bung_2026-11-28_10-15.mp4\"; \
             filename*=UTF-8''%C3%BCbung_2026-11-28_10-15.mp4"
        );
        assert!(content_disposition(false, "a\"b").starts_with("inline; filename=\"a_b\""));
    }
}
