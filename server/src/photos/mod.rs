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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use chrono::Utc;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::config::Settings;
use crate::db::entities::uploads;
use crate::error::ApiResult;
use storage::BlobStore;

/// How long a writer's claim on a tus upload lasts without renewal; a live
/// writer renews it every [`UPLOAD_LEASE_RENEW`].
pub const UPLOAD_LEASE: chrono::Duration = chrono::Duration::seconds(30);
const UPLOAD_LEASE_RENEW: std::time::Duration = std::time::Duration::from_secs(10);

/// What photo handling shares between requests.
pub struct PhotoRuntime {
    pub store: Arc<dyn BlobStore>,
    pub limits: landpatrol_photo::Limits,
    /// The threads that decode and resize: a fixed few, so that the memory a
    /// decode used is reused by the next one on the same thread instead of
    /// being kept by every thread of a large pool.
    pub pool: WorkerPool,
    /// tus uploads being written right now (one writer each), and photos whose
    /// thumbnails are being made, by this instance.
    busy: Mutex<HashSet<String>>,
    /// Thumbnail jobs this instance ran (each photo's thumbnails once across
    /// instances: see `service::schedule_thumbnails`).
    thumbnail_jobs: AtomicU64,
    /// This instance's name in claims made through the database.
    pub instance: String,
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
            thumbnail_jobs: AtomicU64::new(0),
            instance: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        }
    }

    /// Claims `name` within this instance; `None` when it is held here already.
    pub fn claim(self: &Arc<Self>, name: &str) -> Option<UploadClaim> {
        let mut busy = match self.busy.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        busy.insert(name.to_owned()).then(|| UploadClaim { runtime: self.clone(), id: name.to_owned(), lease: None })
    }

    /// Claims tus upload `id` for one writer; `None` when another holds it.
    /// Within this instance the claim is the in-memory set; with a shared
    /// store (several instances writing one upload) it is also a lease on the
    /// upload's row, taken by a conditional UPDATE (atomic on SQLite and
    /// PostgreSQL alike), renewed while the writer lives and lapsing
    /// [`UPLOAD_LEASE`] after its instance died.
    pub async fn claim_upload(self: &Arc<Self>, db: &DatabaseConnection, id: &str) -> ApiResult<Option<UploadClaim>> {
        let Some(mut claim) = self.claim(id) else { return Ok(None) };
        if !self.store.shared() {
            return Ok(Some(claim));
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        let now = Utc::now();
        let taken = uploads::Entity::update_many()
            .col_expr(uploads::Column::Writer, Expr::value(token.clone()))
            .col_expr(uploads::Column::LeaseUntil, Expr::value(now + UPLOAD_LEASE))
            .filter(uploads::Column::Id.eq(id))
            .filter(
                Condition::any().add(uploads::Column::LeaseUntil.is_null()).add(uploads::Column::LeaseUntil.lt(now)),
            )
            .exec(db)
            .await?
            .rows_affected;
        if taken != 1 {
            return Ok(None);
        }
        let renew = {
            let (db, id, token) = (db.clone(), id.to_owned(), token.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(UPLOAD_LEASE_RENEW).await;
                    let renewed = uploads::Entity::update_many()
                        .col_expr(uploads::Column::LeaseUntil, Expr::value(Utc::now() + UPLOAD_LEASE))
                        .filter(uploads::Column::Id.eq(id.clone()))
                        .filter(uploads::Column::Writer.eq(token.clone()))
                        .exec(&db)
                        .await;
                    if let Err(e) = renewed {
                        tracing::warn!(error = %e, "could not renew an upload's lease");
                    }
                }
            })
        };
        claim.lease = Some(Lease { db: db.clone(), token, renew });
        Ok(Some(claim))
    }

    /// Counts a thumbnail job run by this instance.
    pub fn count_thumbnail_job(&self) {
        self.thumbnail_jobs.fetch_add(1, Ordering::Relaxed);
    }

    /// Thumbnail jobs this instance ran since it started.
    pub fn thumbnail_jobs(&self) -> u64 {
        self.thumbnail_jobs.load(Ordering::Relaxed)
    }
}

/// A writer's lease on an upload row.
struct Lease {
    db: DatabaseConnection,
    token: String,
    renew: tokio::task::JoinHandle<()>,
}

impl Lease {
    async fn release(self) {
        self.renew.abort();
        let released = uploads::Entity::update_many()
            .col_expr(uploads::Column::Writer, Expr::value(Option::<String>::None))
            .col_expr(uploads::Column::LeaseUntil, Expr::value(Option::<chrono::DateTime<Utc>>::None))
            .filter(uploads::Column::Writer.eq(self.token))
            .exec(&self.db)
            .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release an upload's lease; it lapses");
        }
    }
}

/// Held while a request writes to an upload (or thumbnails are made).
pub struct UploadClaim {
    runtime: Arc<PhotoRuntime>,
    id: String,
    lease: Option<Lease>,
}

impl UploadClaim {
    /// Lets the next writer in, on any instance, before the answer goes out
    /// (the client's next request may reach another instance at once).
    pub async fn release(mut self) {
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
    }
}

impl Drop for UploadClaim {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            // Dropped without `release` (the request was cancelled): release
            // in the background, or let the lease lapse.
            lease.renew.abort();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(lease.release());
            }
        }
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
