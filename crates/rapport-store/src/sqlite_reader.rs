//! SQLite's hot reads through rusqlite: a whole read in one blocking call on a connection of
//! its own, beside sqlx's pool.
//!
//! Why not sqlx here: as for the ingest writer (`sqlite_writer.rs`), sqlx runs each SQLite
//! connection on a thread of its own and hands every statement and every returned row across
//! threads. A read of several small statements (a contact decision, `contact_reads.rs`) or of
//! millions of rows (the answer index, `answer_index.rs`) spent most of its time in those
//! hand-offs; here each statement and row is a plain call on the blocking thread that holds the
//! connection. WAL lets these readers run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// A small pool of read connections, opened as needed.
#[derive(Clone, Debug)]
pub(crate) struct SqliteReader {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Idle connections kept for the next reads; more are opened while more reads run at once.
const KEEP_IDLE: usize = 4;

impl SqliteReader {
    /// For the database file sqlx has already created and migrated.
    pub(crate) fn new(path: &Path) -> SqliteReader {
        SqliteReader { inner: Arc::new(Inner { path: path.to_path_buf(), idle: Mutex::new(Vec::new()) }) }
    }

    /// Runs `read` on a reader connection on a blocking thread.
    pub(crate) async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let connection = inner.take()?;
            let result = read(&connection);
            inner.give_back(connection);
            Ok(result?)
        })
        .await
        .map_err(|error| StoreError::Internal(format!("a SQLite read stopped: {error}")))?
    }
}

impl Inner {
    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(connection) = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop() {
            return Ok(connection);
        }
        // Opened read-write so the WAL index can be used as the writer's connections do;
        // `query_only` refuses any write.
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        connection.busy_timeout(Duration::from_secs(10))?;
        // Reads through a memory map of the database file: a page is the kernel's cached page,
        // not a copy into this connection's cache, which also survives a writer's commit (WAL
        // drops a reader's page cache whenever the database changed). 1.3× the contact decisions
        // per second at 1,000,000 invitations (BENCHMARKS.md "Survey decisions"). SQLite caps
        // the map at its compile-time maximum, 2 GiB by default; beyond that it reads as before.
        connection.execute_batch(
            "PRAGMA query_only = ON; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; \
             PRAGMA mmap_size = 2147418112;",
        )?;
        connection.set_prepared_statement_cache_capacity(32);
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < KEEP_IDLE {
            idle.push(connection);
        }
    }
}
