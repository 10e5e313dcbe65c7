//! Where recording files live: one interface over object_store, local disk by default or
//! any S3-compatible service. Files are streamed in chunks, never held whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::signer::Signer;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMultipartOptions, WriteMultipart,
    path::Path as Key,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::Error;
use crate::config::{RecordingsConfig, StorageKind};

/// S3 parts: large enough that a 2 GiB file is ~128 requests, small enough to keep
/// memory per upload low (object_store buffers one part per request in flight).
const PART_SIZE: usize = 16 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;
const READ_CHUNK: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Local { root: PathBuf },
    S3 { s3: Arc<AmazonS3> },
}

/// How a stored file is handed to a browser.
pub enum Delivery {
    /// Served by Roomkeeper from this path (Range, HEAD and conditional requests).
    File(PathBuf),
    /// A short-lived presigned URL to redirect to.
    Redirect(String),
}

/// What a stored file is, for its S3 object headers.
pub struct Labels<'a> {
    pub content_type: &'a str,
    pub download_name: &'a str,
}

impl BlobStore {
    pub fn open(config: &RecordingsConfig) -> Result<Self, Error> {
        match config.storage {
            StorageKind::Local => Self::local(&config.dir),
            StorageKind::S3 => {
                let s3 = &config.s3;
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(if s3.region.is_empty() {
                        "us-east-1"
                    } else {
                        &s3.region
                    })
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(s3.secret_access_key.clone().unwrap_or_default())
                    .with_virtual_hosted_style_request(!s3.path_style)
                    .with_allow_http(s3.allow_http);
                if !s3.endpoint.is_empty() {
                    builder = builder.with_endpoint(&s3.endpoint);
                }
                let s3 =
                    Arc::new(builder.build().map_err(|e| {
                        Error::Storage(format!("recordings.s3 is not usable: {e}"))
                    })?);
                Ok(Self {
                    store: s3.clone(),
                    kind: Kind::S3 { s3 },
                })
            }
        }
    }

    pub fn local(root: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(root).map_err(|e| {
            Error::Storage(format!(
                "cannot create recordings.dir {}: {e}",
                root.display()
            ))
        })?;
        let root = std::fs::canonicalize(root)
            .map_err(|e| Error::Storage(format!("recordings.dir {}: {e}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .map_err(|e| Error::Storage(format!("recordings.dir {}: {e}", root.display())))?;
        Ok(Self {
            store: Arc::new(store),
            kind: Kind::Local { root },
        })
    }

    /// The directory of a store on local disk.
    pub fn local_root(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Local { root } => Some(root),
            Kind::S3 { .. } => None,
        }
    }

    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Local { root } => format!("local disk {}", root.display()),
            Kind::S3 { s3 } => format!("S3 {s3}"),
        }
    }

    /// Stores `source` under `key`. On local disk on the same filesystem this is a
    /// rename (no copy) when `may_move`; otherwise the file is streamed. Either way the
    /// stored file is on disk (fsync of file and directory) before this returns, and
    /// `source` is never removed here.
    pub async fn store_file(
        &self,
        source: &Path,
        key: &str,
        may_move: bool,
        labels: &Labels<'_>,
    ) -> Result<(), Error> {
        if let Kind::Local { root } = &self.kind {
            let target = root.join(key);
            if may_move {
                match tokio::fs::rename(source, &target).await {
                    Ok(()) => return sync_file_and_dir(&target).await,
                    // Another filesystem: copy below.
                    Err(e) if e.raw_os_error() == Some(18 /* EXDEV */) => {}
                    Err(e) => {
                        return Err(Error::Storage(format!(
                            "cannot move {} into {}: {e}",
                            source.display(),
                            root.display()
                        )));
                    }
                }
            }
        }
        let mut file = tokio::fs::File::open(source)
            .await
            .map_err(|e| Error::Session(format!("cannot read {}: {e}", source.display())))?;
        let mut options = PutMultipartOptions::default();
        if let Kind::S3 { .. } = self.kind {
            let mut attributes = Attributes::new();
            attributes.insert(
                Attribute::ContentType,
                labels.content_type.to_owned().into(),
            );
            attributes.insert(
                Attribute::ContentDisposition,
                crate::content_disposition(true, labels.download_name).into(),
            );
            options.attributes = attributes;
        }
        let upload = self
            .store
            .put_multipart_opts(&Key::from(key), options)
            .await
            .map_err(storage)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buffer = vec![0u8; READ_CHUNK];
        loop {
            let read = file
                .read(&mut buffer)
                .await
                .map_err(|e| Error::Session(format!("cannot read {}: {e}", source.display())))?;
            if read == 0 {
                break;
            }
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(storage)?;
            writer.write(&buffer[..read]);
        }
        writer.finish().await.map_err(storage)?;
        if let Kind::Local { root } = &self.kind {
            // object_store writes a staging file and renames it, without fsync.
            sync_file_and_dir(&root.join(key)).await?;
        }
        Ok(())
    }

    /// Size and SHA-256 of a stored file, read back in full (recovery after a crash).
    pub async fn checksum(&self, key: &str) -> Result<Option<(u64, String)>, Error> {
        match self.store.get(&Key::from(key)).await {
            Ok(got) => Ok(Some(sha256_of(got.into_stream()).await.map_err(storage)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(storage(e)),
        }
    }

    /// Deleting what is not there is fine: deletion is retried after crashes.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        match self.store.delete(&Key::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage(e)),
        }
    }

    pub async fn delivery(&self, key: &str, valid_for: Duration) -> Result<Delivery, Error> {
        match &self.kind {
            Kind::Local { root } => Ok(Delivery::File(root.join(key))),
            Kind::S3 { s3 } => {
                let url = s3
                    .signed_url(http::Method::GET, &Key::from(key), valid_for)
                    .await
                    .map_err(storage)?;
                Ok(Delivery::Redirect(url.to_string()))
            }
        }
    }
}

#[allow(clippy::needless_pass_by_value)] // used as map_err(storage)
fn storage(error: object_store::Error) -> Error {
    Error::Storage(error.to_string())
}

async fn sync_file_and_dir(path: &Path) -> Result<(), Error> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        std::fs::File::open(&path)?.sync_all()?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok::<_, std::io::Error>(())
    })
    .await
    .map_err(|e| Error::Storage(e.to_string()))?
    .map_err(|e| Error::Storage(format!("cannot sync the stored recording: {e}")))
}

/// Size and SHA-256 of a file, streamed.
pub async fn file_checksum(path: &Path) -> Result<(u64, String), Error> {
    let unreadable =
        |e: std::io::Error| Error::Session(format!("cannot read {}: {e}", path.display()));
    let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
    sha256_of(tokio_util::io::ReaderStream::with_capacity(
        file, READ_CHUNK,
    ))
    .await
    .map_err(unreadable)
}

async fn sha256_of<E>(
    mut chunks: impl futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
) -> Result<(u64, String), E> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((size, hex::encode(hasher.finalize())))
}
