//! Where photo bytes live: a storage trait with a local-folder implementation
//! and an S3-compatible one (several instances sharing one bucket). Originals
//! are kept under their hash, never under a client's file name, and never
//! rewritten.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use tokio::io::AsyncRead;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A readable blob and its length.
pub struct Blob {
    pub len: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

/// Blob storage keyed by strings such as `originals/ab/<sha256>`.
///
/// Uploads stream into local staging files first (so a hash can be checked
/// before anything is kept); `commit` moves a finished one under its key.
pub trait BlobStore: Send + Sync {
    /// A folder for staging files and unfinished uploads, on local disk.
    fn staging_dir(&self) -> &Path;

    /// Moves the staging file under `key`. `Ok(false)` when `key` already held
    /// bytes (two uploads of one photo at once): the staging file is dropped
    /// and the stored bytes stay as they were.
    fn commit<'a>(&'a self, staging: &'a Path, key: &'a str) -> BoxFuture<'a, io::Result<bool>>;

    /// Writes small derived bytes (thumbnails), replacing what was there.
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, io::Result<()>>;

    /// Reads a whole blob (thumbnails, or an original for the bounded thumbnail pool).
    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Vec<u8>>>;

    /// Reads a whole blob, blocking: for the thumbnail threads (never a
    /// runtime's worker), so the bytes are allocated on the thread that uses them.
    fn read_blocking(&self, key: &str) -> io::Result<Vec<u8>>;

    /// Opens a blob for streaming out.
    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Blob>>;

    /// Whether every instance sees these blobs (object storage). Then the
    /// bytes of unfinished tus uploads are kept in the store as parts, not in
    /// a local staging file, and their writers are claimed through the
    /// database.
    fn shared(&self) -> bool {
        false
    }

    /// Stores a local file under `key`, replacing what was there (the parts
    /// of tus uploads, each under a fresh key). The file stays where it is.
    fn put_file<'a>(&'a self, file: &'a Path, key: &'a str) -> BoxFuture<'a, io::Result<()>>;

    /// Removes every blob under the folder `prefix` (such as `uploads/<id>`).
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, io::Result<()>>;
}

/// The key of an original.
pub fn original_key(sha256: &str) -> String {
    format!("originals/{}/{sha256}", &sha256[..2.min(sha256.len())])
}

/// The key of a thumbnail.
pub fn thumbnail_key(sha256: &str, size: u32) -> String {
    format!("thumbnails/{}/{sha256}-{size}.jpg", &sha256[..2.min(sha256.len())])
}

/// The folder holding the parts of tus upload `id` in a shared store.
pub fn upload_prefix(id: &str) -> String {
    format!("uploads/{id}")
}

/// The key of one part of a tus upload: its offset (zero-padded, so the keys
/// sort in order) and a name of its own, so that a writer whose claim lapsed
/// can never overwrite a part the database records.
pub fn part_key(id: &str, part: &str) -> String {
    format!("uploads/{id}/{part}")
}

/// Blobs in a local folder.
pub struct LocalStore {
    root: PathBuf,
    staging: PathBuf,
}

impl LocalStore {
    /// Opens (creating) the folder.
    pub fn open(root: &Path) -> io::Result<Self> {
        let staging = root.join("staging");
        std::fs::create_dir_all(&staging)?;
        Ok(Self { root: root.to_owned(), staging })
    }

    fn path(&self, key: &str) -> io::Result<PathBuf> {
        if key.split('/').any(|part| part.is_empty() || part == "." || part == "..") || key.starts_with('/') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad blob key"));
        }
        Ok(self.root.join(key))
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl BlobStore for LocalStore {
    fn staging_dir(&self) -> &Path {
        &self.staging
    }

    fn commit<'a>(&'a self, staging: &'a Path, key: &'a str) -> BoxFuture<'a, io::Result<bool>> {
        Box::pin(async move {
            let target = self.path(key)?;
            let staging = staging.to_owned();
            tokio::task::spawn_blocking(move || -> io::Result<bool> {
                let dir = target.parent().ok_or_else(|| io::Error::other("blob key without folder"))?;
                std::fs::create_dir_all(dir)?;
                // A hard link never replaces an existing file: the first upload wins,
                // the bytes of a stored original are never touched again.
                let created = match std::fs::hard_link(&staging, &target) {
                    Ok(()) => true,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
                    Err(e) => return Err(e),
                };
                std::fs::remove_file(&staging)?;
                if created {
                    sync_dir(dir)?;
                }
                Ok(created)
            })
            .await
            .map_err(io::Error::other)?
        })
    }

    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let target = self.path(key)?;
            let tmp = self.staging.join(format!("put-{}", uuid::Uuid::new_v4().simple()));
            tokio::task::spawn_blocking(move || -> io::Result<()> {
                let dir = target.parent().ok_or_else(|| io::Error::other("blob key without folder"))?;
                std::fs::create_dir_all(dir)?;
                std::fs::write(&tmp, &bytes)?;
                std::fs::rename(&tmp, &target)
            })
            .await
            .map_err(io::Error::other)?
        })
    }

    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Vec<u8>>> {
        Box::pin(async move { tokio::fs::read(self.path(key)?).await })
    }

    fn read_blocking(&self, key: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.path(key)?)
    }

    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Blob>> {
        Box::pin(async move {
            let file = tokio::fs::File::open(self.path(key)?).await?;
            let len = file.metadata().await?.len();
            Ok(Blob { len, reader: Box::pin(file) })
        })
    }

    fn put_file<'a>(&'a self, file: &'a Path, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let target = self.path(key)?;
            let tmp = self.staging.join(format!("put-{}", uuid::Uuid::new_v4().simple()));
            let file = file.to_owned();
            tokio::task::spawn_blocking(move || -> io::Result<()> {
                let dir = target.parent().ok_or_else(|| io::Error::other("blob key without folder"))?;
                std::fs::create_dir_all(dir)?;
                std::fs::copy(&file, &tmp)?;
                std::fs::rename(&tmp, &target)
            })
            .await
            .map_err(io::Error::other)?
        })
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_dir_all(self.path(prefix)?).await {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                r => r,
            }
        })
    }
}

/// Blobs in an S3-compatible bucket, through `object_store`. Staging files
/// (a `PUT` being received, a finished tus upload being checked) are still
/// local; everything another instance must see is in the bucket.
pub struct S3Store {
    store: object_store::aws::AmazonS3,
    /// The runtime the store was opened on, which `read_blocking` waits on
    /// from the thumbnail threads.
    runtime: tokio::runtime::Handle,
    staging: PathBuf,
    part_size: usize,
    conditional_put: bool,
}

fn s3_error(e: object_store::Error) -> io::Error {
    let kind = match &e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
        object_store::Error::InvalidPath { .. } => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

fn s3_path(key: &str) -> io::Result<object_store::path::Path> {
    // `parse` refuses empty, `.` and `..` segments: keys stay inside the bucket's folders.
    object_store::path::Path::parse(key).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

impl S3Store {
    /// Connects to the bucket named in the settings (nothing is sent yet).
    /// Credentials: the ones given by code, else the environment's
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (or
    /// the instance's role).
    pub fn open(cfg: &crate::config::PhotoSettings, staging: &Path) -> io::Result<Self> {
        use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
        std::fs::create_dir_all(staging)?;
        let mut b = match &cfg.s3_credentials {
            Some(c) => {
                let b = AmazonS3Builder::new()
                    .with_access_key_id(&c.access_key_id)
                    .with_secret_access_key(&c.secret_access_key);
                match &c.session_token {
                    Some(t) => b.with_token(t),
                    None => b,
                }
            }
            None => AmazonS3Builder::from_env(),
        };
        b = b.with_bucket_name(&cfg.bucket).with_region(&cfg.region).with_conditional_put(if cfg.conditional_put {
            S3ConditionalPut::ETagMatch
        } else {
            S3ConditionalPut::Disabled
        });
        if !cfg.endpoint.is_empty() {
            b = b
                .with_endpoint(&cfg.endpoint)
                .with_allow_http(cfg.endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        // A few retries within half a minute: a request waits on S3 no longer than that.
        b = b.with_retry(object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(30),
            ..object_store::RetryConfig::default()
        });
        let store = b.build().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let part_size = usize::try_from(cfg.multipart_part_mib.saturating_mul(1024 * 1024)).unwrap_or(8 << 20);
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        Ok(Self { store, runtime, staging: staging.to_owned(), part_size, conditional_put: cfg.conditional_put })
    }

    async fn exists(&self, location: &object_store::path::Path) -> io::Result<bool> {
        use object_store::ObjectStoreExt;
        match self.store.head(location).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(s3_error(e)),
        }
    }

    /// Sends a file of `len` bytes: in one PUT up to the part size (with
    /// `If-None-Match: *` when `create`), else as a multipart upload of
    /// part-size pieces, read from disk one piece at a time.
    async fn send(&self, file: &Path, len: u64, location: &object_store::path::Path, create: bool) -> io::Result<()> {
        use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};
        use tokio::io::AsyncReadExt;
        if len <= self.part_size as u64 {
            let bytes = tokio::fs::read(file).await?;
            let mode = if create { PutMode::Create } else { PutMode::Overwrite };
            self.store
                .put_opts(location, PutPayload::from(bytes), PutOptions { mode, ..PutOptions::default() })
                .await
                .map_err(s3_error)?;
            return Ok(());
        }
        let upload = self.store.put_multipart(location).await.map_err(s3_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        let mut f = tokio::fs::File::open(file).await?;
        let mut buf = vec![0u8; 256 * 1024];
        let sent: io::Result<()> = async {
            loop {
                let n = f.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                // At most two parts in flight: memory stays at a few part sizes.
                writer.wait_for_capacity(2).await.map_err(s3_error)?;
                writer.write(&buf[..n]);
            }
        }
        .await;
        match sent {
            Ok(()) => writer.finish().await.map(|_| ()).map_err(s3_error),
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "could not abort a multipart upload");
                }
                Err(e)
            }
        }
    }
}

impl BlobStore for S3Store {
    fn staging_dir(&self) -> &Path {
        &self.staging
    }

    fn commit<'a>(&'a self, staging: &'a Path, key: &'a str) -> BoxFuture<'a, io::Result<bool>> {
        Box::pin(async move {
            let location = s3_path(key)?;
            let sent = async {
                let len = tokio::fs::metadata(staging).await?.len();
                if self.conditional_put && len <= self.part_size as u64 {
                    // `If-None-Match: *`: the server refuses to replace a stored
                    // original, even one a racing upload stored a moment ago.
                    return match self.send(staging, len, &location, true).await {
                        Ok(()) => Ok(true),
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                        Err(e) => Err(e),
                    };
                }
                // A multipart upload can not be made conditional here (nor a PUT on
                // a server without `If-None-Match`): look first, then send. Two
                // uploads of one photo racing between the look and the send both
                // send; the second then replaces the first with the same bytes
                // (the key is the SHA-256 the staging file was checked against),
                // so the stored original is unchanged either way.
                if self.exists(&location).await? {
                    return Ok(false);
                }
                self.send(staging, len, &location, false).await?;
                Ok(true)
            }
            .await;
            if let Err(e) = tokio::fs::remove_file(staging).await
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, "could not remove a staging file");
            }
            sent
        })
    }

    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            use object_store::ObjectStoreExt;
            self.store.put(&s3_path(key)?, object_store::PutPayload::from(bytes)).await.map_err(s3_error)?;
            Ok(())
        })
    }

    fn read<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Vec<u8>>> {
        Box::pin(async move {
            use object_store::ObjectStoreExt;
            let got = self.store.get(&s3_path(key)?).await.map_err(s3_error)?;
            Ok(got.bytes().await.map_err(s3_error)?.to_vec())
        })
    }

    fn read_blocking(&self, key: &str) -> io::Result<Vec<u8>> {
        // The async client, waited on from this (non-runtime) thread.
        self.runtime.block_on(self.read(key))
    }

    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Blob>> {
        Box::pin(async move {
            use futures_util::TryStreamExt;
            use object_store::ObjectStoreExt;
            let got = self.store.get(&s3_path(key)?).await.map_err(s3_error)?;
            let len = got.meta.size;
            let stream = got.into_stream().map_err(s3_error);
            Ok(Blob { len, reader: Box::pin(tokio_util::io::StreamReader::new(stream)) })
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn put_file<'a>(&'a self, file: &'a Path, key: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let len = tokio::fs::metadata(file).await?.len();
            self.send(file, len, &s3_path(key)?, false).await
        })
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            use futures_util::{StreamExt, TryStreamExt};
            use object_store::ObjectStore;
            let prefix = s3_path(prefix)?;
            let locations = self.store.list(Some(&prefix)).map_ok(|m| m.location).boxed();
            let mut deleted = self.store.delete_stream(locations);
            while let Some(r) = deleted.next().await {
                match r {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(s3_error(e)),
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commit_keeps_the_first_bytes_and_drops_the_second() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let a = store.staging_dir().join("a");
        let b = store.staging_dir().join("b");
        std::fs::write(&a, b"first").unwrap();
        std::fs::write(&b, b"second").unwrap();
        let key = original_key("ab12");
        assert!(store.commit(&a, &key).await.unwrap());
        assert!(!store.commit(&b, &key).await.unwrap());
        assert_eq!(store.read(&key).await.unwrap(), b"first");
        assert!(!a.exists() && !b.exists(), "staging files are removed either way");
        assert!(store.read("../etc/passwd").await.is_err(), "keys can not leave the folder");
    }

    #[tokio::test]
    async fn files_are_put_and_folders_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        assert!(!store.shared(), "a local folder is this instance's alone");
        let file = store.staging_dir().join("chunk");
        std::fs::write(&file, b"part one").unwrap();
        let key = part_key("u1", &format!("{:020}-a", 0));
        store.put_file(&file, &key).await.unwrap();
        assert!(file.exists(), "the file stays");
        assert_eq!(store.read(&key).await.unwrap(), b"part one");
        store.delete_prefix(&upload_prefix("u1")).await.unwrap();
        assert!(store.read(&key).await.is_err());
        store.delete_prefix(&upload_prefix("u1")).await.unwrap();
        assert!(store.delete_prefix("..").await.is_err());
    }
}
