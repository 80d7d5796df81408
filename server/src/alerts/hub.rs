//! Fan-out of new alerts inside one instance: one task reads alerts committed
//! after the last it saw (in change-sequence order, which is commit order) and
//! broadcasts them to every live stream. Writers wake it after they commit; on
//! PostgreSQL every instance is also woken by `NOTIFY`, and a slow poll covers
//! anything else.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use sea_orm::{ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{Notify, broadcast};

use crate::db::entities::alerts;

/// The live side of alerts, shared by every request of an instance.
pub struct AlertHub {
    stream_wake: Notify,
    outbox_wake: Notify,
    tx: broadcast::Sender<Arc<alerts::Model>>,
    /// The newest `created_seq` broadcast.
    last: AtomicI64,
}

impl AlertHub {
    /// A hub whose subscribers may fall `capacity` alerts behind before they
    /// re-read from the database.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self { stream_wake: Notify::new(), outbox_wake: Notify::new(), tx, last: AtomicI64::new(-1) }
    }

    /// Tells the fan-out and the webhook worker that alerts may have been
    /// committed. Cheap; call after every commit that may have recorded one.
    pub fn wake(&self) {
        self.stream_wake.notify_one();
        self.outbox_wake.notify_one();
    }

    /// New alerts from now on (scope is the subscriber's business).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<alerts::Model>> {
        self.tx.subscribe()
    }

    /// The newest alert position broadcast so far (-1 before the first read).
    pub fn last_broadcast(&self) -> i64 {
        self.last.load(Ordering::Acquire)
    }

    /// Waits until woken or `poll` has passed (the webhook worker's pace).
    pub async fn outbox_wait(&self, poll: Duration) {
        let _ = tokio::time::timeout(poll, self.outbox_wake.notified()).await;
    }

    /// Runs the fan-out until the task is dropped.
    pub async fn run(self: Arc<Self>, db: DatabaseConnection, poll: Duration) {
        if self.last.load(Ordering::Acquire) < 0 {
            let start = newest(&db).await.unwrap_or(0);
            self.last.store(start, Ordering::Release);
        }
        loop {
            let _ = tokio::time::timeout(poll, self.stream_wake.notified()).await;
            if let Err(e) = self.fan_out(&db).await {
                tracing::warn!(error = %e, "alert fan-out failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    async fn fan_out(&self, db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        loop {
            let after = self.last.load(Ordering::Acquire);
            let rows = alerts::Entity::find()
                .filter(alerts::Column::CreatedSeq.gt(after))
                .order_by_asc(alerts::Column::CreatedSeq)
                .limit(500)
                .all(db)
                .await?;
            let Some(last) = rows.last().map(|a| a.created_seq) else { return Ok(()) };
            let full = rows.len() == 500;
            for a in rows {
                // No subscribers is not an error.
                let _ = self.tx.send(Arc::new(a));
            }
            self.last.store(last, Ordering::Release);
            if !full {
                return Ok(());
            }
        }
    }

    /// Wakes this instance whenever any instance commits an alert (PostgreSQL
    /// `LISTEN`); reconnects after failures. On SQLite there is one instance
    /// and nothing to listen to.
    pub async fn listen(self: Arc<Self>, db: DatabaseConnection, url: String) {
        if db.get_database_backend() != DbBackend::Postgres {
            return;
        }
        loop {
            match sea_orm::sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(super::NOTIFY_CHANNEL).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        // Whatever was committed while not listening.
                        self.wake();
                        loop {
                            match listener.recv().await {
                                Ok(_) => self.wake(),
                                Err(e) => {
                                    tracing::warn!(error = %e, "alert notifications interrupted");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "alert listener could not connect"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// The newest alert position in the database (0 when there is none).
pub async fn newest(db: &DatabaseConnection) -> Result<i64, sea_orm::DbErr> {
    let max: Option<Option<i64>> = alerts::Entity::find()
        .select_only()
        .column_as(alerts::Column::CreatedSeq.max(), "max")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}
