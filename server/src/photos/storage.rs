//! Where photo bytes live: a storage trait with a local-folder implementation
//! (object storage can implement the same trait). Originals are kept under
//! their hash, never under a client's file name, and never rewritten.

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

    /// Reads a whole blob, blocking: for the thumbnail threads, so the bytes are
    /// allocated on the thread that uses them.
    fn read_blocking(&self, key: &str) -> io::Result<Vec<u8>>;

    /// Opens a blob for streaming out.
    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, io::Result<Blob>>;
}

/// The key of an original.
pub fn original_key(sha256: &str) -> String {
    format!("originals/{}/{sha256}", &sha256[..2.min(sha256.len())])
}

/// The key of a thumbnail.
pub fn thumbnail_key(sha256: &str, size: u32) -> String {
    format!("thumbnails/{}/{sha256}-{size}.jpg", &sha256[..2.min(sha256.len())])
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
}
