//! The scale-out backend: PostgreSQL, shared by any number of `rapport serve` processes.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};

type Db = Postgres;

include!("sql_backend.rs");

/// Connects to the database at `url` and runs the PostgreSQL migrations (sqlx serialises
/// concurrent migrators with an advisory lock, so several processes may start at once).
pub async fn connect(url: &str) -> Result<SqlBackend, sqlx::Error> {
    // Prepared statements would otherwise switch to a generic plan after five runs, chosen while a
    // table was small (a sequential scan) and kept as it grows: key lookups became full scans.
    let options = PgConnectOptions::from_str(url)?.options([("plan_cache_mode", "force_custom_plan")]);
    // One connection first: a pool that cannot connect only says "timed out"; this says why.
    PgConnection::connect_with(&options).await?.close().await?;
    let pool =
        PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect_with(options).await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(SqlBackend { pool })
}

async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

/// Identity resolution reads the graph and then changes it: writers of one workspace, in this or
/// another process, take turns, so two processes never both create or merge the same customer.
async fn lock_workspace(tx: &mut Transaction<'static, Db>, workspace: &WorkspaceId) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(workspace.as_str())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// `column = ANY($n)` with the values as one array parameter: one statement text whatever the
/// count, planned well (a long `IN (…)` list is re-planned on every execution).
fn push_in_list(query: &mut QueryBuilder<Db>, column: &'static str, values: Vec<String>) {
    query.push(column);
    query.push(" = ANY(");
    query.push_bind(values);
    query.push(")");
}
