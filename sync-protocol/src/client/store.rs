//! The client's SQLite file: schema and the statements on it. Every function takes
//! a connection so that callers compose them inside one transaction.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::ClientError;
use crate::hlc::{Hlc, HlcClock};
use crate::sync::{Op, OpKind};

/// The schema version this client writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// The schema, version 1.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS client_state (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    device_id         TEXT    NOT NULL,             -- made here (UUIDv7), registered with POST /devices
    device_registered INTEGER NOT NULL DEFAULT 0,   -- 1 once the server confirmed it
    next_seq          INTEGER NOT NULL,             -- seq of the next op
    hlc_last          TEXT    NOT NULL,             -- last HLC stamp made or adopted (HlcClock::resume)
    pull_cursor       TEXT,                         -- opaque; NULL before the first pull
    username          TEXT,                         -- the user the device belongs to
    user_id           TEXT,
    role              TEXT,
    access_token      TEXT,
    refresh_token     TEXT                          -- rotates: saved before the new access token is used
);

CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY,                 -- the device's op seq: the push order
    op_id      TEXT    NOT NULL UNIQUE,
    table_name TEXT    NOT NULL,
    record_id  TEXT    NOT NULL,
    op         TEXT    NOT NULL,                    -- the op's JSON, sent as is on every attempt
    created_at TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_record ON outbox (table_name, record_id, seq);

CREATE TABLE IF NOT EXISTS replica (
    table_name TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    rev        INTEGER,                             -- the server's rev of `base`; NULL while only local
    base       TEXT,                                -- the record as the server last confirmed it; NULL while only local
    record     TEXT,                                -- what the app sees: `base` with the pending ops applied; NULL: deleted locally
    PRIMARY KEY (table_name, record_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS op_results (
    op_id        TEXT    PRIMARY KEY,
    seq          INTEGER NOT NULL,
    status       TEXT    NOT NULL,                  -- merged, conflict, rejected, or a status this client does not know
    op           TEXT    NOT NULL,
    result       TEXT    NOT NULL,                  -- the result as the server sent it
    received_at  TEXT    NOT NULL,
    acknowledged INTEGER NOT NULL DEFAULT 0         -- 1 once the app showed it to the user
);
"#;

/// Opens (creating if needed) the database file in WAL mode and brings the schema up to date.
pub async fn open(path: &Path) -> Result<SqlitePool, ClientError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a committed transaction survives a power cut, not only a killed process.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    // One connection: every write of this client is serialised, which the
    // seq counter and the HLC rely on.
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&pool).await?;
    if version > SCHEMA_VERSION {
        return Err(ClientError::Protocol(format!(
            "the database has schema version {version}, newer than this client's {SCHEMA_VERSION}"
        )));
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
    sqlx::raw_sql("PRAGMA user_version = 1").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(pool)
}

/// The single `client_state` row.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub device_id: String,
    pub device_registered: bool,
    pub next_seq: i64,
    pub hlc_last: String,
    pub pull_cursor: Option<String>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

type StateRow =
    (String, i64, i64, String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);

/// Creates the state row with a new device id, unless it exists.
pub async fn init_state(conn: &mut SqliteConnection) -> Result<(), ClientError> {
    let device = Uuid::now_v7().to_string();
    let clock = HlcClock::new(device.clone()).map_err(|e| ClientError::Protocol(e.to_string()))?;
    sqlx::query("INSERT OR IGNORE INTO client_state (id, device_id, next_seq, hlc_last) VALUES (1, ?, 1, ?)")
        .bind(&device)
        .bind(clock.last().to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn state(conn: &mut SqliteConnection) -> Result<State, ClientError> {
    let row: StateRow = sqlx::query_as(
        "SELECT device_id, device_registered, next_seq, hlc_last, pull_cursor, username, role, access_token, \
         refresh_token FROM client_state WHERE id = 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(State {
        device_id: row.0,
        device_registered: row.1 != 0,
        next_seq: row.2,
        hlc_last: row.3,
        pull_cursor: row.4,
        username: row.5,
        role: row.6,
        access_token: row.7,
        refresh_token: row.8,
    })
}

pub async fn set_username(conn: &mut SqliteConnection, username: &str) -> Result<(), ClientError> {
    sqlx::query("UPDATE client_state SET username = ? WHERE id = 1").bind(username).execute(&mut *conn).await?;
    Ok(())
}

pub async fn set_device_registered(conn: &mut SqliteConnection, registered: bool) -> Result<(), ClientError> {
    sqlx::query("UPDATE client_state SET device_registered = ? WHERE id = 1")
        .bind(i64::from(registered))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Saves a new token pair (and who it is for) in one statement.
pub async fn save_session(
    conn: &mut SqliteConnection,
    access: &str,
    refresh: &str,
    user_id: Option<&str>,
    role: Option<&str>,
) -> Result<(), ClientError> {
    sqlx::query(
        "UPDATE client_state SET access_token = ?, refresh_token = ?, user_id = COALESCE(?, user_id), \
         role = COALESCE(?, role) WHERE id = 1",
    )
    .bind(access)
    .bind(refresh)
    .bind(user_id)
    .bind(role)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets the tokens: the next request logs in again.
pub async fn clear_session(conn: &mut SqliteConnection) -> Result<(), ClientError> {
    sqlx::query("UPDATE client_state SET access_token = NULL, refresh_token = NULL WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_cursor(conn: &mut SqliteConnection, cursor: Option<&str>) -> Result<(), ClientError> {
    sqlx::query("UPDATE client_state SET pull_cursor = ? WHERE id = 1").bind(cursor).execute(&mut *conn).await?;
    Ok(())
}

fn parse_hlc(s: &str) -> Result<Hlc, ClientError> {
    s.parse().map_err(|e| ClientError::Protocol(format!("stored HLC {s:?}: {e}")))
}

/// Takes the next `seq` and a new HLC stamp for an op, and saves both.
pub async fn next_op_slot(conn: &mut SqliteConnection, physical_ms: u64) -> Result<(u64, Hlc), ClientError> {
    let st = state(conn).await?;
    let mut clock = HlcClock::resume(parse_hlc(&st.hlc_last)?);
    let stamp = clock.now(physical_ms);
    sqlx::query("UPDATE client_state SET next_seq = next_seq + 1, hlc_last = ? WHERE id = 1")
        .bind(stamp.to_string())
        .execute(&mut *conn)
        .await?;
    let seq = u64::try_from(st.next_seq).map_err(|_| ClientError::Protocol("negative seq".into()))?;
    Ok((seq, stamp))
}

/// Advances the HLC past the server's clock (a standard HLC receive), so later
/// local stamps are not behind the server's even when the phone's clock is.
pub async fn observe_server_time(
    conn: &mut SqliteConnection,
    server_ms: u64,
    physical_ms: u64,
) -> Result<(), ClientError> {
    let st = state(conn).await?;
    let mut clock = HlcClock::resume(parse_hlc(&st.hlc_last)?);
    let Ok(remote) = Hlc::new(server_ms, 0, "server") else { return Ok(()) };
    let observed = clock.observe(&remote, physical_ms, u64::MAX);
    sqlx::query("UPDATE client_state SET hlc_last = ? WHERE id = 1")
        .bind(observed.stamp.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One op waiting in the outbox.
#[derive(Clone, Debug)]
pub struct Queued {
    pub seq: i64,
    pub op_id: String,
    pub table: String,
    pub record_id: String,
    pub op: String,
}

pub async fn outbox_insert(
    conn: &mut SqliteConnection,
    op: &Op,
    table: &str,
    record_id: &str,
) -> Result<(), ClientError> {
    let seq = i64::try_from(op.seq).map_err(|_| ClientError::Protocol("seq out of range".into()))?;
    sqlx::query("INSERT INTO outbox (seq, op_id, table_name, record_id, op, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(seq)
        .bind(op.op_id.to_string())
        .bind(table)
        .bind(record_id)
        .bind(serde_json::to_string(op)?)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The first `limit` ops of the outbox, in `seq` order.
pub async fn outbox_batch(conn: &mut SqliteConnection, limit: usize) -> Result<Vec<Queued>, ClientError> {
    let rows: Vec<(i64, String, String, String, String)> =
        sqlx::query_as("SELECT seq, op_id, table_name, record_id, op FROM outbox ORDER BY seq LIMIT ?")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|(seq, op_id, table, record_id, op)| Queued { seq, op_id, table, record_id, op }).collect())
}

pub async fn outbox_len(conn: &mut SqliteConnection) -> Result<u64, ClientError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&mut *conn).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub async fn outbox_remove(conn: &mut SqliteConnection, op_id: &str) -> Result<(), ClientError> {
    sqlx::query("DELETE FROM outbox WHERE op_id = ?").bind(op_id).execute(&mut *conn).await?;
    Ok(())
}

/// Records a result the user should see.
pub async fn log_result(
    conn: &mut SqliteConnection,
    queued: &Queued,
    status: &str,
    result: &Value,
) -> Result<(), ClientError> {
    sqlx::query(
        "INSERT OR REPLACE INTO op_results (op_id, seq, status, op, result, received_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&queued.op_id)
    .bind(queued.seq)
    .bind(status)
    .bind(&queued.op)
    .bind(serde_json::to_string(result)?)
    .bind(chrono::Utc::now().to_rfc3339())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A logged result: op_id, seq, status, op JSON, result JSON, received_at.
pub type LoggedRow = (String, i64, String, String, String, String);

pub async fn logged_results(conn: &mut SqliteConnection) -> Result<Vec<LoggedRow>, ClientError> {
    Ok(sqlx::query_as(
        "SELECT op_id, seq, status, op, result, received_at FROM op_results WHERE acknowledged = 0 ORDER BY seq",
    )
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn acknowledge(conn: &mut SqliteConnection, op_id: &str) -> Result<bool, ClientError> {
    let done =
        sqlx::query("UPDATE op_results SET acknowledged = 1 WHERE op_id = ?").bind(op_id).execute(&mut *conn).await?;
    Ok(done.rows_affected() == 1)
}

/// The server-confirmed side of a replica row.
#[derive(Clone, Debug, Default)]
pub struct Base {
    pub rev: Option<u64>,
    pub record: Option<Map<String, Value>>,
}

fn object(text: &str) -> Result<Map<String, Value>, ClientError> {
    match serde_json::from_str(text)? {
        Value::Object(m) => Ok(m),
        other => Err(ClientError::Protocol(format!("a stored record is not an object: {other}"))),
    }
}

fn rev_of(v: Option<i64>) -> Option<u64> {
    v.and_then(|r| u64::try_from(r).ok())
}

fn rev_to_sql(v: Option<u64>) -> Option<i64> {
    v.map(|r| i64::try_from(r).unwrap_or(i64::MAX))
}

pub async fn base(conn: &mut SqliteConnection, table: &str, id: &str) -> Result<Base, ClientError> {
    let row: Option<(Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT rev, base FROM replica WHERE table_name = ? AND record_id = ?")
            .bind(table)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((rev, base)) = row else { return Ok(Base::default()) };
    Ok(Base { rev: rev_of(rev), record: base.as_deref().map(object).transpose()? })
}

/// A replica row as the app sees it: `(rev, record, has pending ops)`.
pub type Visible = (Option<u64>, Map<String, Value>, bool);

pub async fn visible(conn: &mut SqliteConnection, table: &str, id: &str) -> Result<Option<Visible>, ClientError> {
    let row: Option<(Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT r.rev, r.record, EXISTS (SELECT 1 FROM outbox o WHERE o.table_name = r.table_name \
         AND o.record_id = r.record_id) FROM replica r \
         WHERE r.table_name = ? AND r.record_id = ? AND r.record IS NOT NULL",
    )
    .bind(table)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(rev, record, pending)| Ok((rev_of(rev), object(&record)?, pending != 0))).transpose()
}

/// Every visible row of a table: `(id, rev, record, has pending ops)`, by id.
pub async fn visible_all(
    conn: &mut SqliteConnection,
    table: &str,
) -> Result<Vec<(String, Option<u64>, Map<String, Value>, bool)>, ClientError> {
    let rows: Vec<(String, Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT r.record_id, r.rev, r.record, EXISTS (SELECT 1 FROM outbox o WHERE o.table_name = r.table_name \
         AND o.record_id = r.record_id) FROM replica r \
         WHERE r.table_name = ? AND r.record IS NOT NULL ORDER BY r.record_id",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(|(id, rev, record, pending)| Ok((id, rev_of(rev), object(&record)?, pending != 0))).collect()
}

/// Sets the server-confirmed state of a record (or forgets it: `record = None`),
/// then recomputes what the app sees.
pub async fn set_base(conn: &mut SqliteConnection, table: &str, id: &str, base: &Base) -> Result<(), ClientError> {
    let text = base.record.as_ref().map(serde_json::to_string).transpose()?;
    sqlx::query(
        "INSERT INTO replica (table_name, record_id, rev, base, record) VALUES (?, ?, ?, ?, NULL) \
         ON CONFLICT (table_name, record_id) DO UPDATE SET rev = excluded.rev, base = excluded.base",
    )
    .bind(table)
    .bind(id)
    .bind(rev_to_sql(base.rev))
    .bind(text)
    .execute(&mut *conn)
    .await?;
    refresh_visible(conn, table, id).await
}

/// Applies an op to a record the way the server would, as far as the client can
/// tell: `None` is no record (never created, or deleted).
pub fn apply_op(record: Option<Map<String, Value>>, kind: &OpKind) -> Option<Map<String, Value>> {
    match kind {
        OpKind::Create { id, fields, .. } => {
            let mut r = record.unwrap_or_default();
            r.extend(fields.clone());
            r.insert("id".into(), Value::String(id.clone()));
            Some(r)
        }
        OpKind::Update { fields, .. } => record.map(|mut r| {
            r.extend(fields.clone());
            r
        }),
        OpKind::Transition { to, .. } => record.map(|mut r| {
            r.insert("status".into(), Value::String(to.as_str().to_owned()));
            r
        }),
        OpKind::Delete { .. } => None,
        OpKind::Unknown(_) | OpKind::Malformed(_) => record,
    }
}

/// Recomputes the visible record: the base with every pending op of the record
/// applied in `seq` order. Drops the row when neither side has anything.
pub async fn refresh_visible(conn: &mut SqliteConnection, table: &str, id: &str) -> Result<(), ClientError> {
    let base = base(conn, table, id).await?;
    let pending: Vec<(String,)> =
        sqlx::query_as("SELECT op FROM outbox WHERE table_name = ? AND record_id = ? ORDER BY seq")
            .bind(table)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let mut record = base.record.clone();
    for (text,) in &pending {
        let op: Op = serde_json::from_str(text)?;
        record = apply_op(record, &op.kind);
    }
    if base.record.is_none() && record.is_none() {
        sqlx::query("DELETE FROM replica WHERE table_name = ? AND record_id = ?")
            .bind(table)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    let text = record.as_ref().map(serde_json::to_string).transpose()?;
    sqlx::query(
        "INSERT INTO replica (table_name, record_id, rev, base, record) VALUES (?, ?, NULL, NULL, ?) \
         ON CONFLICT (table_name, record_id) DO UPDATE SET record = excluded.record",
    )
    .bind(table)
    .bind(id)
    .bind(text)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets every server-confirmed state (the server lost our cursor: a full
/// re-pull follows); rows with pending ops keep their local part.
pub async fn reset_bases(conn: &mut SqliteConnection) -> Result<(), ClientError> {
    sqlx::query("UPDATE replica SET rev = NULL, base = NULL").execute(&mut *conn).await?;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT table_name, record_id FROM replica").fetch_all(&mut *conn).await?;
    for (table, id) in rows {
        refresh_visible(conn, &table, &id).await?;
    }
    Ok(())
}
