//! Rate-limit windows and login lockouts in the `rate_limits` table, for instances that
//! share one PostgreSQL: behind a load balancer of N instances a client gets the same
//! allowance as from one, not N times it. Every decision is one transaction that takes the
//! rows of its keys (in key order, so two decisions never deadlock) with an upsert, so two
//! instances counting the same key at once are serialised by PostgreSQL. Times are the
//! database's `now()`, so instances with skewed clocks still agree.
//!
//! On SQLite (one instance by construction) the same limits are kept in memory by their
//! owners (`tips::ratelimit`, `auth::throttle`), and this module is not used.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value};

/// Rows idle this long are deleted now and then (every window in use is shorter).
const KEEP: Duration = Duration::from_secs(2 * 3600);
/// One decision in this many also deletes idle rows.
const SWEEP_ONE_IN: u32 = 256;

/// The shared store, present only on PostgreSQL.
#[derive(Clone, Debug)]
pub struct SharedLimits {
    db: DatabaseConnection,
}

fn secs(d: Duration) -> Value {
    d.as_secs_f64().into()
}

fn seconds_left(v: Option<f64>) -> Duration {
    Duration::from_secs_f64(v.unwrap_or(0.0).max(0.0))
}

/// Resets a row whose window has passed (and which is not locked out), then locks it for
/// the transaction; answers the count in the current window and the seconds it has left.
const UPSERT: &str = "INSERT INTO rate_limits (key, window_start, count, locked_until) VALUES ($1, now(), 0, NULL)
     ON CONFLICT (key) DO UPDATE SET
       window_start = CASE WHEN rate_limits.window_start <= now() - make_interval(secs => $2)
                            AND (rate_limits.locked_until IS NULL OR rate_limits.locked_until <= now())
                           THEN now() ELSE rate_limits.window_start END,
       count = CASE WHEN rate_limits.window_start <= now() - make_interval(secs => $2)
                     AND (rate_limits.locked_until IS NULL OR rate_limits.locked_until <= now())
                    THEN 0 ELSE rate_limits.count END,
       locked_until = CASE WHEN rate_limits.window_start <= now() - make_interval(secs => $2)
                            AND (rate_limits.locked_until IS NULL OR rate_limits.locked_until <= now())
                           THEN NULL ELSE rate_limits.locked_until END
     RETURNING count, EXTRACT(EPOCH FROM (window_start + make_interval(secs => $2) - now()))::float8";

impl SharedLimits {
    /// The shared store when `db` is PostgreSQL.
    pub fn for_db(db: &DatabaseConnection) -> Option<SharedLimits> {
        (db.get_database_backend() == DbBackend::Postgres).then(|| SharedLimits { db: db.clone() })
    }

    fn stmt(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    async fn upsert(conn: &impl ConnectionTrait, key: &str, window: Duration) -> Result<(u32, Duration), DbErr> {
        let row = conn
            .query_one_raw(Self::stmt(UPSERT, [key.into(), secs(window)]))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("rate_limits {key}")))?;
        let count: i32 = row.try_get_by_index(0)?;
        Ok((count.max(0) as u32, seconds_left(row.try_get_by_index(1)?)))
    }

    async fn sweep_now_and_then(&self) -> Result<(), DbErr> {
        if rand::random::<u32>().is_multiple_of(SWEEP_ONE_IN) {
            self.db
                .execute_raw(Self::stmt(
                    "DELETE FROM rate_limits WHERE window_start < now() - make_interval(secs => $1)
                       AND (locked_until IS NULL OR locked_until < now())",
                    [secs(KEEP)],
                ))
                .await?;
        }
        Ok(())
    }

    /// Fixed windows of `window`: takes one unit from each `(key, limit)` if every one has
    /// room; otherwise takes nothing and answers how long until the fullest frees up.
    pub async fn take(&self, keys: &[(String, u32)], window: Duration) -> Result<Result<(), Duration>, DbErr> {
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup_by(|a, b| a.0 == b.0);
        let txn = self.db.begin().await?;
        let mut wait = Duration::ZERO;
        for (key, limit) in &keys {
            let (count, left) = Self::upsert(&txn, key, window).await?;
            if *limit == 0 {
                wait = wait.max(window);
            } else if count >= *limit {
                wait = wait.max(left);
            }
        }
        if wait.is_zero() {
            for (key, _) in &keys {
                txn.execute_raw(Self::stmt(
                    "UPDATE rate_limits SET count = count + 1 WHERE key = $1",
                    [key.as_str().into()],
                ))
                .await?;
            }
        }
        txn.commit().await?;
        self.sweep_now_and_then().await?;
        Ok(if wait.is_zero() { Ok(()) } else { Err(wait) })
    }

    /// How long the longest lockout of `keys` still runs, if any is locked.
    pub async fn locked_for(&self, keys: &[String]) -> Result<Option<Duration>, DbErr> {
        let mut longest: Option<Duration> = None;
        for key in keys {
            let row = self
                .db
                .query_one_raw(Self::stmt(
                    "SELECT EXTRACT(EPOCH FROM (locked_until - now()))::float8 FROM rate_limits
                      WHERE key = $1 AND locked_until > now()",
                    [key.as_str().into()],
                ))
                .await?;
            if let Some(row) = row {
                let left = seconds_left(row.try_get_by_index(0)?);
                longest = Some(longest.map_or(left, |l| l.max(left)));
            }
        }
        Ok(longest)
    }

    /// Counts a failure for each `(key, threshold)` within `window`; at the threshold the key
    /// is locked for `lockout`, doubled for each failure beyond, at most `max_lockout`.
    pub async fn failed(
        &self,
        keys: &[(String, u32)],
        window: Duration,
        lockout: Duration,
        max_lockout: Duration,
    ) -> Result<(), DbErr> {
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup_by(|a, b| a.0 == b.0);
        let txn = self.db.begin().await?;
        for (key, threshold) in &keys {
            let (count, _) = Self::upsert(&txn, key, window).await?;
            let failures = count.saturating_add(1);
            let threshold = (*threshold).max(1);
            if failures >= threshold {
                let doublings = (failures - threshold).min(16);
                let locked = lockout.saturating_mul(1 << doublings).min(max_lockout);
                txn.execute_raw(Self::stmt(
                    "UPDATE rate_limits SET count = $2, locked_until = now() + make_interval(secs => $3) WHERE key = $1",
                    [key.as_str().into(), (failures as i32).into(), secs(locked)],
                ))
                .await?;
            } else {
                txn.execute_raw(Self::stmt(
                    "UPDATE rate_limits SET count = $2 WHERE key = $1",
                    [key.as_str().into(), (failures as i32).into()],
                ))
                .await?;
            }
        }
        txn.commit().await?;
        self.sweep_now_and_then().await
    }

    /// Forgets `key` (a successful login clears its username).
    pub async fn clear(&self, key: &str) -> Result<(), DbErr> {
        self.db.execute_raw(Self::stmt("DELETE FROM rate_limits WHERE key = $1", [key.into()])).await?;
        Ok(())
    }
}
