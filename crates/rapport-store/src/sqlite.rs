//! The embedded backend: SQLite in WAL mode with full fsync at every commit.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

type Db = Sqlite;

include!("sql_backend.rs");
include!("sql_surveys.rs");
include!("sql_invitations.rs");
include!("sql_metrics.rs");
include!("sql_feedback.rs");
include!("sql_webhooks.rs");
include!("sql_cases.rs");
include!("sql_prediction.rs");
include!("sql_journeys.rs");
include!("sql_trust.rs");
include!("sql_privacy.rs");
include!("sql_sealing.rs");

/// Opens (creating if needed) the database at `url`, runs the SQLite migrations, and returns the
/// pool with the database file's path (for the ingest writer's own connection).
pub async fn connect(url: &str) -> Result<(SqlBackend, std::path::PathBuf), sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: every acknowledged commit survives power loss, not only a process crash.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // 64 MiB of page cache per connection (the default is 2 MiB): the identity and event
        // indexes stay in memory while ingesting.
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory")
        .log_slow_statements(log::LevelFilter::Warn, crate::SLOW_STATEMENT);
    if let Some(parent) = options.get_filename().parent().filter(|parent| !parent.as_os_str().is_empty()) {
        create_parent(parent)?;
    }
    // Readers run in parallel; ingestion writes through its own connection (`sqlite_writer.rs`).
    let path = options.get_filename().to_path_buf();
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options.clone()).await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    // One write connection: sqlx's writes queue for it, and the ingest writer takes its turn in
    // the same queue (`sqlite_writer.rs`). No ping before each use: the file does not go away.
    let write_pool =
        SqlitePoolOptions::new().max_connections(1).test_before_acquire(false).connect_with(options).await?;
    Ok((SqlBackend { pool, write_pool }, path))
}

fn create_parent(parent: &Path) -> Result<(), sqlx::Error> {
    std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)
}

/// `BEGIN IMMEDIATE` takes the write lock up front, so a write transaction never fails half-way
/// on a lock upgrade.
async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// SQLite has one writer at a time already.
async fn lock_workspace(_tx: &mut Transaction<'static, Db>, _workspace: &WorkspaceId) -> Result<(), sqlx::Error> {
    Ok(())
}

/// The bind parameter `$position` for a JSON column, given as JSON text.
fn json_param(position: usize) -> String {
    format!("${position}")
}

/// A JSON column as its JSON text (SQLite stores JSON as text already).
fn json_text(column: &str) -> String {
    column.to_owned()
}

/// `column IN (SELECT value FROM json_each($n))`: the values travel as one JSON array, so the SQL
/// text is the same for any count (it stays prepared) and SQLite's limit of 32,766 bound
/// parameters never applies (a customer with very many anonymous ids is still one query).
fn push_in_list(query: &mut QueryBuilder<Db>, column: &str, values: Vec<String>) {
    query.push(column);
    query.push(" IN (SELECT value FROM json_each(");
    query.push_bind(serde_json::Value::from(values).to_string());
    query.push("))");
}
