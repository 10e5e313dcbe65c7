//! Watching a recordings directory shared with Jibri, as an alternative to the finalize
//! script: a session directory is ingested when its `metadata.json` appears, and a full
//! scan every `rescan_seconds` catches what the watcher missed (events are lost when the
//! kernel queue overflows, on network filesystems, and while Roomkeeper was down).
//!
//! Several instances may watch the same directory: the one holding the watcher's lease
//! in the database ingests, the others wait. The holder renews it at every event and
//! scan; when it stops, another instance takes over at its first scan after the lease
//! ran out (two scan periods).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Recordings;
use crate::session::METADATA;

/// The watcher's lease in the store's job leases.
const LEASE: &str = "recording_watcher";

/// Runs until `stop`, as `instance` among those sharing the database. Ingests one
/// session at a time: Jibri finishes sessions minutes apart, and one at a time keeps the
/// disk's bandwidth for the one being moved.
pub async fn run(
    recordings: Recordings,
    dir: PathBuf,
    instance: Arc<str>,
    stop: CancellationToken,
) {
    let (found, mut sessions) = mpsc::unbounded_channel::<PathBuf>();
    let watcher = {
        let found = found.clone();
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            for path in event.paths {
                if path.file_name().is_some_and(|n| n == METADATA) {
                    if let Some(session) = path.parent() {
                        let _ = found.send(session.to_owned());
                    }
                }
            }
        })
        .and_then(|mut watcher| {
            watcher.watch(&dir, RecursiveMode::Recursive)?;
            Ok(watcher)
        })
    };
    let _watcher = match watcher {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "cannot watch; relying on rescans");
            None
        }
    };
    let mut rescan = tokio::time::interval(Duration::from_secs(recordings.config.rescan_seconds));
    loop {
        let batch = tokio::select! {
            () = stop.cancelled() => return,
            Some(session) = sessions.recv() => BTreeSet::from([session]),
            _ = rescan.tick() => finished_sessions(&dir).await,
        };
        for session in batch {
            if stop.is_cancelled() {
                return;
            }
            // Checked for every session: a long batch must not outlive the lease.
            if !holds_lease(&recordings, &instance).await {
                break;
            }
            // Problems are recorded for admins by ingest_dir itself.
            let _ = recordings.ingest_dir(&session, true).await;
        }
        if !holds_lease(&recordings, &instance).await {
            continue;
        }
        if let Err(error) = recordings.recover().await {
            tracing::warn!(%error, "cannot finish interrupted recordings");
        }
    }
}

/// Takes or renews the lease for two scan periods; false while another instance has it
/// (or the database cannot say: then nobody ingests, rather than two).
async fn holds_lease(recordings: &Recordings, instance: &str) -> bool {
    let now = recordings.clock.now();
    let period = i64::try_from(recordings.config.rescan_seconds).unwrap_or(i64::MAX / 4);
    match recordings
        .store
        .claim_job_lease(LEASE, instance, now, now.saturating_add(2 * period))
        .await
    {
        Ok(held) => held,
        Err(error) => {
            tracing::warn!(%error, "cannot claim the recordings watcher's lease");
            false
        }
    }
}

/// Session directories (direct children of `dir`) that hold a `metadata.json`.
pub async fn finished_sessions(dir: &Path) -> BTreeSet<PathBuf> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return BTreeSet::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .filter(|p| p.join(METADATA).is_file())
            .collect()
    })
    .await
    .unwrap_or_default()
}
