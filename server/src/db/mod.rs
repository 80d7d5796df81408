//! Database connection, migrations and shared persistence helpers.

pub mod entities;
pub mod land_history;
pub mod migration;
pub mod rate_limits;

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement};
use sea_orm_migration::MigratorTrait;

/// Opens the database named by `url` (SQLite or PostgreSQL) and applies migrations.
///
/// SQLite runs in WAL mode with a single pooled connection: every write is
/// serialised, so no transaction ever meets `SQLITE_BUSY`.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).acquire_timeout(Duration::from_secs(30)).connect_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        opts.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
        });
    } else {
        opts.max_connections(max_connections.max(2));
    }
    let db = Database::connect(opts).await?;
    migration::Migrator::up(&db, None).await?;
    Ok(db)
}

/// The next position in the global change sequence, taken inside the caller's
/// transaction. The counter row stays locked until that transaction ends, so
/// positions become visible in the order they were handed out: a pull that has
/// seen position n never later meets a smaller committed one.
pub async fn next_seq(conn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "UPDATE sync_counters SET value = value + 1 WHERE name = 'changes' RETURNING value",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("sync_counters.changes".into()))?;
    row.try_get_by_index::<i64>(0)
}

/// Reserves `n` consecutive positions of the change sequence (see
/// [`next_seq`]); returns the first.
pub async fn reserve_seqs(conn: &impl ConnectionTrait, n: i64) -> Result<i64, DbErr> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "UPDATE sync_counters SET value = value + $1 WHERE name = 'changes' RETURNING value",
        _ => "UPDATE sync_counters SET value = value + ? WHERE name = 'changes' RETURNING value",
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [n.into()]))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("sync_counters.changes".into()))?;
    Ok(row.try_get_by_index::<i64>(0)? - n + 1)
}

/// The next case number of `year`, unique per year.
pub async fn next_case_number(conn: &impl ConnectionTrait, year: i32) -> Result<i64, DbErr> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO case_counters (year, value) VALUES ($1, 1) ON CONFLICT (year) DO UPDATE SET value = case_counters.value + 1 RETURNING value"
        }
        _ => {
            "INSERT INTO case_counters (year, value) VALUES (?, 1) ON CONFLICT (year) DO UPDATE SET value = case_counters.value + 1 RETURNING value"
        }
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [year.into()]))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("case_counters".into()))?;
    row.try_get_by_index::<i64>(0)
}

/// Whether the database answers.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}
