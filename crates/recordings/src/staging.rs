//! Temporary files under `recordings.dir`, and who may remove them.
//!
//! Two kinds are left behind only when a process dies mid-write (`kill -9`, power
//! loss); every other failure removes its own:
//! - HTTP uploads staged in `.incoming/` (one directory per upload);
//! - on local disk, object_store's half-copied files (`<id>#<n>` beside the stored ones).
//!
//! Start-up removes them, but another process may be writing one at that moment (a
//! `roomkeeper ingest` run by Jibri's finalize script, or a second instance sharing
//! the directory). So every writer holds a shared `flock` on `recordings.dir/.lock`
//! while it writes, and the sweep removes anything only when it gets the lock
//! exclusively: nobody is writing, so whatever is there was abandoned. The kernel drops
//! a dead process's locks, `kill -9` included.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use crate::Error;

/// The space left on, and the size of, the filesystem holding `dir` (bytes), for the
/// metrics operators alert on before ingests fail with "no space left".
pub fn disk_space(dir: &Path) -> Option<(u64, u64)> {
    let stats = rustix::fs::statvfs(dir).ok()?;
    Some((
        stats.f_bavail.saturating_mul(stats.f_frsize),
        stats.f_blocks.saturating_mul(stats.f_frsize),
    ))
}

/// Where HTTP uploads are staged.
pub fn incoming(dir: &Path) -> PathBuf {
    dir.join(".incoming")
}

fn lock_file(dir: &Path) -> Result<File, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Storage(format!("recordings.dir {}: {e}", dir.display())))?;
    let path = dir.join(".lock");
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::Storage(format!("cannot open {}: {e}", path.display())))
}

/// Held while writing temporary files under `recordings.dir`; the lock goes with it.
#[derive(Debug)]
pub struct Writing {
    _lock: File,
}

/// Takes the writers' shared lock (waiting only while a sweep runs, a moment).
pub async fn writing(dir: &Path) -> Result<Writing, Error> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let file = lock_file(&dir)?;
        flock(&file, FlockOperation::LockShared)
            .map_err(|e| Error::Storage(format!("cannot lock {}/.lock: {e}", dir.display())))?;
        Ok(Writing { _lock: file })
    })
    .await
    .map_err(|e| Error::Storage(e.to_string()))?
}

/// What a writer may have left: staged uploads, and object_store's half-copied files
/// (`<id>#<n>`; stored recordings are named by their id, without `#`).
fn leftovers(dir: &Path, local_root: Option<&Path>) -> Vec<PathBuf> {
    let entries = |dir: &Path| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .collect::<Vec<_>>()
    };
    let mut found: Vec<PathBuf> = entries(&incoming(dir))
        .into_iter()
        .map(|e| e.path())
        .collect();
    if let Some(root) = local_root {
        found.extend(
            entries(root)
                .into_iter()
                .filter(|e| {
                    e.file_name().to_string_lossy().contains('#')
                        && e.file_type().is_ok_and(|t| t.is_file())
                })
                .map(|e| e.path()),
        );
    }
    found
}

/// Removes abandoned temporary files when no writer is busy; `None` when one is (the
/// next start or the watcher's next recovery tries again). `local_root` is the local
/// blob store's directory, where object_store's half-copied files lie.
pub async fn sweep(dir: &Path, local_root: Option<&Path>) -> Result<Option<usize>, Error> {
    let dir = dir.to_owned();
    let local_root = local_root.map(Path::to_owned);
    tokio::task::spawn_blocking(move || {
        if leftovers(&dir, local_root.as_deref()).is_empty() {
            return Ok(Some(0));
        }
        let file = lock_file(&dir)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => {
                return Err(Error::Storage(format!(
                    "cannot lock {}/.lock: {e}",
                    dir.display()
                )));
            }
        }
        // Looked at again: only what is there while nobody writes was abandoned.
        let found = leftovers(&dir, local_root.as_deref());
        for path in &found {
            let gone = if path.is_dir() {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
            gone.map_err(|e| Error::Storage(format!("cannot remove {}: {e}", path.display())))?;
        }
        Ok(Some(found.len()))
    })
    .await
    .map_err(|e| Error::Storage(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sweep_waits_for_writers_and_then_removes_what_they_left() {
        let dir = tempfile::tempdir().unwrap();
        let staged = incoming(dir.path()).join("upload-1/session");
        std::fs::create_dir_all(&staged).unwrap();
        std::fs::write(staged.join("video.mp4.part"), b"half").unwrap();
        std::fs::write(dir.path().join("rec-1#3"), b"half").unwrap();
        std::fs::write(dir.path().join("rec-2"), b"stored").unwrap();

        let writer = writing(dir.path()).await.unwrap();
        assert_eq!(sweep(dir.path(), Some(dir.path())).await.unwrap(), None);
        assert!(staged.exists());

        drop(writer);
        assert_eq!(sweep(dir.path(), Some(dir.path())).await.unwrap(), Some(2));
        assert!(!incoming(dir.path()).join("upload-1").exists());
        assert!(!dir.path().join("rec-1#3").exists());
        assert_eq!(std::fs::read(dir.path().join("rec-2")).unwrap(), b"stored");
    }
}
