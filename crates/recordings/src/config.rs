use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingsConfig {
    /// Where recordings are kept with `storage = "local"`. Put it on the same filesystem
    /// as Jibri's recordings directory and ingest moves files instead of copying them.
    pub dir: PathBuf,
    pub storage: StorageKind,
    pub s3: S3Config,
    /// Days a recording is kept; admins can override it per room.
    pub retention_days: i64,
    /// Whether administrators may watch and download recordings of rooms they do not own.
    pub admins_can_view_recordings: bool,
    /// A directory shared with Jibri to watch for finished sessions (instead of, or
    /// besides, the finalize script).
    pub watch_dir: Option<PathBuf>,
    /// How often the watched directory is scanned in full, for what the watcher missed.
    pub rescan_seconds: u64,
    /// A file holding the token the finalize script sends to `POST
    /// /api/v1/recordings/ingest`. Without it, HTTP ingest is off.
    pub ingest_token_file: Option<PathBuf>,
    /// Read from `ingest_token_file` at start-up.
    #[serde(skip)]
    pub ingest_token: Option<String>,
    /// The longest lifetime an owner may give a share link.
    pub share_link_max_days: i64,
    /// How long a presigned S3 URL handed to a browser stays valid.
    pub presigned_url_seconds: u64,
    /// With local storage behind nginx: after the access check (and its audit entry),
    /// answer with `X-Accel-Redirect: {this}{file name}` and let nginx send the file from
    /// an `internal` location with this prefix that aliases `dir`. Empty: Roomkeeper
    /// sends files itself (the default).
    pub x_accel_redirect_location: String,
}

impl Default for RecordingsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./data/recordings"),
            storage: StorageKind::Local,
            s3: S3Config::default(),
            retention_days: 90,
            admins_can_view_recordings: false,
            watch_dir: None,
            rescan_seconds: 60,
            ingest_token_file: None,
            ingest_token: None,
            share_link_max_days: 30,
            presigned_url_seconds: 300,
            x_accel_redirect_location: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    Local,
    S3,
}

/// Any S3-compatible service.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    pub bucket: String,
    /// `https://s3.example.org`; empty for AWS itself.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key_file: Option<PathBuf>,
    /// Read from `secret_access_key_file` at start-up.
    #[serde(skip)]
    pub secret_access_key: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (MinIO,
    /// Ceph, most self-hosted services).
    pub path_style: bool,
    /// Plain http to the endpoint: only for a service on this machine.
    pub allow_http: bool,
}

impl RecordingsConfig {
    /// What start-up refuses, with the key to fix.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.retention_days < 1 {
            return Err(("recordings.retention_days", "must be at least 1".into()));
        }
        if self.share_link_max_days < 1 {
            return Err((
                "recordings.share_link_max_days",
                "must be at least 1".into(),
            ));
        }
        if self.rescan_seconds < 1 {
            return Err(("recordings.rescan_seconds", "must be at least 1".into()));
        }
        let location = &self.x_accel_redirect_location;
        if !location.is_empty() {
            // The value goes into a response header and nginx matches it against its
            // locations: a plain path prefix, nothing that could break either.
            let plain = location
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b));
            if !location.starts_with('/') || !location.ends_with('/') || !plain {
                return Err((
                    "recordings.x_accel_redirect_location",
                    "must be a path that starts and ends with \"/\" (letters, digits, - _ . /), \
                     e.g. \"/_roomkeeper_files/\""
                        .into(),
                ));
            }
            if self.storage != StorageKind::Local {
                return Err((
                    "recordings.x_accel_redirect_location",
                    "works only with storage = \"local\" (S3 downloads are redirects already)"
                        .into(),
                ));
            }
        }
        if self.storage == StorageKind::S3 {
            if self.s3.bucket.is_empty() {
                return Err((
                    "recordings.s3.bucket",
                    "is needed with storage = \"s3\"".into(),
                ));
            }
            if self.s3.secret_access_key_file.is_none() || self.s3.access_key_id.is_empty() {
                return Err((
                    "recordings.s3.access_key_id",
                    "and recordings.s3.secret_access_key_file are needed with storage = \"s3\""
                        .into(),
                ));
            }
            if self.s3.endpoint.starts_with("http://") && !self.s3.allow_http {
                return Err((
                    "recordings.s3.endpoint",
                    "is plain http: set recordings.s3.allow_http = true if that is meant".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_location(location: &str, storage: StorageKind) -> RecordingsConfig {
        let mut config = RecordingsConfig {
            x_accel_redirect_location: location.into(),
            storage,
            ..RecordingsConfig::default()
        };
        config.s3.bucket = "b".into();
        config.s3.access_key_id = "k".into();
        config.s3.secret_access_key_file = Some("/s".into());
        config
    }

    #[test]
    fn the_proxy_location_is_a_plain_prefix_for_local_files() {
        assert!(with_location("", StorageKind::Local).check().is_ok());
        assert!(
            with_location("/_roomkeeper_files/", StorageKind::Local)
                .check()
                .is_ok()
        );
        for bad in ["_files/", "/files", "/a b/", "/x\r\nSet-Cookie: a/", "/ü/"] {
            let refused = with_location(bad, StorageKind::Local).check().unwrap_err();
            assert_eq!(refused.0, "recordings.x_accel_redirect_location", "{bad}");
        }
        let refused = with_location("/files/", StorageKind::S3)
            .check()
            .unwrap_err();
        assert!(refused.1.contains("local"), "{}", refused.1);
    }
}
