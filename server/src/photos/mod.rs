//! Photo evidence: content-addressed storage, resumable (tus) uploads, EXIF,
//! thumbnails on a bounded pool, and evidence checks on the records naming a photo.

pub mod body;
pub mod evidence;
pub mod routes;
pub mod service;
pub mod storage;
pub mod tus;
pub mod types;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, mpsc};

use crate::config::Settings;
use storage::BlobStore;

/// What photo handling shares between requests.
pub struct PhotoRuntime {
    pub store: Arc<dyn BlobStore>,
    pub limits: landpatrol_photo::Limits,
    /// The threads that decode and resize: a fixed few, so that the memory a
    /// decode used is reused by the next one on the same thread instead of
    /// being kept by every thread of a large pool.
    pub pool: WorkerPool,
    /// tus uploads being written right now (one writer each).
    busy: Mutex<HashSet<String>>,
}

impl PhotoRuntime {
    pub fn new(settings: &Settings, store: Arc<dyn BlobStore>) -> Self {
        let p = &settings.photos;
        let workers = if p.thumbnail_workers == 0 {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        } else {
            p.thumbnail_workers
        };
        PhotoRuntime {
            store,
            limits: landpatrol_photo::Limits {
                max_pixels: p.max_pixels,
                max_dimension: p.max_dimension,
                max_decode_bytes: p.max_decode_mib.saturating_mul(1024 * 1024),
            },
            pool: WorkerPool::start(workers.max(1)),
            busy: Mutex::new(HashSet::new()),
        }
    }

    /// Claims an upload for one writer; `None` when another holds it.
    pub fn claim(self: &Arc<Self>, id: &str) -> Option<UploadClaim> {
        let mut busy = match self.busy.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        busy.insert(id.to_owned()).then(|| UploadClaim { runtime: self.clone(), id: id.to_owned() })
    }
}

/// Held while a request writes to an upload.
pub struct UploadClaim {
    runtime: Arc<PhotoRuntime>,
    id: String,
}

impl Drop for UploadClaim {
    fn drop(&mut self) {
        let mut busy = match self.runtime.busy.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        busy.remove(&self.id);
    }
}

/// Whether `s` is a SHA-256 in lowercase hex.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of named threads running blocking jobs in order of arrival.
/// The threads end when the pool is dropped.
pub struct WorkerPool {
    tx: mpsc::Sender<Job>,
}

impl WorkerPool {
    pub fn start(threads: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("thumbnails-{i}")).spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(p) => p.into_inner().recv(),
                    };
                    let Ok(job) = job else { break };
                    // A panicking job must not take its thread with it.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("a thumbnail job panicked");
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a thumbnail thread");
            }
        }
        WorkerPool { tx }
    }

    /// Runs `f` on a pool thread; `None` if the pool is gone or `f` panicked.
    pub async fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .ok()?;
        rx.await.ok()
    }
}
