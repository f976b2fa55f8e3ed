//! SQLite's ingest writer: a whole group transaction in one blocking call on a dedicated
//! connection, through rusqlite.
//!
//! Why not sqlx here: sqlx runs each SQLite connection on its own thread and hands every
//! statement and every returned row across threads. Profiled on the ingestion benchmark, those
//! hand-offs were most of the writer's time (BENCHMARKS.md). In one blocking call, each statement
//! is a plain function call, so single-row prepared statements beat multi-row ones. Reads and
//! every other write stay on sqlx; this module writes exactly what `sql_backend.rs`'s
//! `ingest_group` writes, and the conformance suite checks the result on both backends.
//! rusqlite shares sqlx's `libsqlite3-sys`, so there is one SQLite in the binary.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rapport_core::event::Event;
use rapport_core::ids::{CustomerId, WorkspaceId};
use rapport_core::resolution::{
    self, GraphSnapshot, MergeOutcome, ResolutionPlan, ResolutionSettings, RootSummary, SummariesNeeded,
};
use rapport_core::sealing::Keyring;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::{Map, Value};

use crate::records::IngestReceipt;
use crate::sealing::Sealing;
use crate::{IngestBatch, StoreError};

/// The one connection ingestion writes through.
#[derive(Clone, Debug)]
pub(crate) struct SqliteWriter {
    connection: Arc<Mutex<Connection>>,
    /// sqlx's write pool (one connection). The writer holds that connection while its own
    /// transaction runs, so the two writers take turns in one queue, each woken when the other
    /// is done, instead of meeting at SQLite's lock, where the loser's busy handler sleeps in
    /// growing steps (1, 2, 5, 10 … 100 ms): those sleeps were the hosted survey page's tail
    /// (a `Survey Answered` event waited up to 94 ms at 500 submissions/s, measured).
    turns: sqlx::SqlitePool,
    /// Wakes the checkpointer after a commit; the thread ends when the last clone is dropped.
    checkpoint: SyncSender<()>,
}

/// Checkpoint at most this often.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(25);
/// A WAL longer than this (frames of one page each, 16 MiB at 4 KiB pages) is checkpointed
/// with `RESTART`, which waits for the writer between groups, so the file cannot grow without
/// bound under sustained ingestion.
const WAL_RESTART_FRAMES: i64 = 4_096;

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

impl SqliteWriter {
    /// Opens the database file sqlx has already created and migrated.
    pub(crate) fn open(path: &Path, turns: sqlx::SqlitePool) -> Result<SqliteWriter, StoreError> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(10))?;
        // The same durability as the sqlx connections: WAL, fsync at every commit.
        connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )?;
        // Checkpoints (copying the WAL back into the database file, with its own fsync) run on
        // a thread of their own instead of inside a commit: profiled, they were 40% of the
        // writer's commit time, and the writer is what every acknowledgement waits for.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        connection.set_prepared_statement_cache_capacity(64);
        let checkpointer = Connection::open(path)?;
        checkpointer.busy_timeout(Duration::from_secs(10))?;
        let (checkpoint, wakeups) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || run_checkpointer(&checkpointer, &wakeups))
            .map_err(|error| StoreError::Internal(format!("cannot start the checkpoint thread: {error}")))?;
        Ok(SqliteWriter { connection: Arc::new(Mutex::new(connection)), turns, checkpoint })
    }

    /// Stores a group of batches in one transaction; see `SqlBackend::ingest_group`.
    pub(crate) async fn ingest_group(
        &self,
        batches: Arc<Vec<IngestBatch>>,
        settings: ResolutionSettings,
        keys: Arc<Keyring>,
    ) -> Result<Vec<IngestReceipt>, StoreError> {
        self.write(move |connection| ingest_group(connection, &batches, settings, &keys)).await
    }

    /// See `insert_raw`.
    pub(crate) async fn insert_events_raw(
        &self,
        workspace: &WorkspaceId,
        events: &[Event],
    ) -> Result<usize, StoreError> {
        let (workspace, events) = (workspace.clone(), events.to_vec());
        self.write(move |connection| insert_raw(connection, &workspace, &events)).await
    }

    /// Runs `write` on the connection in one blocking call, in the writers' turn, then wakes the
    /// checkpointer.
    async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = self.connection.clone();
        let turn = self.turns.acquire().await?;
        let result = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock rolled its transaction back (rusqlite rolls back on
            // drop), so the connection is sound: recover it rather than fail every later write.
            let mut connection = connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            write(&mut connection)
        })
        .await
        .map_err(|error| StoreError::Internal(format!("a SQLite write task failed: {error}")))?;
        drop(turn);
        self.committed();
        result
    }

    /// Wakes the checkpointer. A full channel means a wake-up is already pending, and that one
    /// covers this commit too.
    fn committed(&self) {
        if let Err(TrySendError::Disconnected(())) = self.checkpoint.try_send(()) {
            tracing::warn!("the SQLite checkpoint thread has stopped");
        }
    }
}

/// Copies committed WAL frames into the database file after commits without blocking the writer
/// (`PASSIVE`), at most once per `CHECKPOINT_INTERVAL` (a page written by many groups is copied
/// once), and once more when the store closes.
fn run_checkpointer(connection: &Connection, wakeups: &Receiver<()>) {
    loop {
        let closing = wakeups.recv().is_err();
        let started = Instant::now();
        if let Err(error) = checkpoint(connection) {
            tracing::warn!(%error, "SQLite checkpoint failed; the next commit retries it");
        }
        if closing {
            return;
        }
        std::thread::sleep(CHECKPOINT_INTERVAL.saturating_sub(started.elapsed()));
    }
}

fn checkpoint(connection: &Connection) -> rusqlite::Result<()> {
    // The row is (busy, frames in the WAL, frames copied).
    let frames: i64 = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))?;
    if frames > WAL_RESTART_FRAMES {
        connection.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
    }
    Ok(())
}

fn json_text(map: &Map<String, Value>) -> String {
    // Serialising a map of JSON values cannot fail.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

const INSERT_EVENT: &str = "INSERT INTO events (workspace_id, message_id, event_type, name, user_id, anonymous_id, \
     group_id, previous_id, channel, timestamp, original_timestamp, sent_at, received_at, properties, traits, context, \
     extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

/// Runs `INSERT_EVENT` (or a variant of it) for one event; returns the rows inserted.
fn insert_event(
    statement: &mut rusqlite::Statement<'_>,
    workspace: &WorkspaceId,
    event: &Event,
    sealing: Option<Sealing<'_>>,
) -> rusqlite::Result<usize> {
    let [properties, traits, context, extra] = match sealing {
        Some(sealing) => sealing.event_documents(event),
        // The benchmark's raw ceiling: the rows as they come.
        None => [&event.properties, &event.traits, &event.context, &event.extra].map(json_text),
    };
    statement.execute(params![
        workspace.as_str(),
        event.message_id,
        event.event_type.as_str(),
        event.name,
        event.user_id,
        event.anonymous_id,
        event.group_id,
        event.previous_id,
        event.channel,
        resolution::millis(event.timestamp),
        event.original_timestamp.map(resolution::millis),
        event.sent_at.map(resolution::millis),
        resolution::millis(event.received_at),
        properties,
        traits,
        context,
        extra,
    ])
}

/// The benchmark's ceiling: `events` inserted in one transaction through the writer's connection,
/// with no idempotency check, no identity resolution and no queue.
fn insert_raw(connection: &mut Connection, workspace: &WorkspaceId, events: &[Event]) -> Result<usize, StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(INSERT_EVENT)?;
        for event in events {
            insert_event(&mut insert, workspace, event, None)?;
        }
    }
    tx.commit()?;
    Ok(events.len())
}

fn ingest_group(
    connection: &mut Connection,
    batches: &[IngestBatch],
    settings: ResolutionSettings,
    keys: &Keyring,
) -> Result<Vec<IngestReceipt>, StoreError> {
    // IMMEDIATE takes the write lock up front: the existence checks below cannot race a writer.
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut receipts = vec![IngestReceipt::default(); batches.len()];
    let workspaces: BTreeSet<&WorkspaceId> = batches.iter().map(|batch| &batch.workspace).collect();
    for workspace in workspaces {
        let sealing = Sealing::new(keys, workspace);
        let mut new_events: Vec<&Event> = Vec::new();
        {
            let mut insert =
                tx.prepare_cached(&format!("{INSERT_EVENT} ON CONFLICT (workspace_id, message_id) DO NOTHING"))?;
            for (position, batch) in batches.iter().enumerate().filter(|(_, batch)| &batch.workspace == workspace) {
                for event in &batch.events {
                    // One index probe: the insert itself finds an earlier copy (stored before, or
                    // earlier in this group) and stores nothing.
                    let inserted = insert_event(&mut insert, workspace, event, Some(sealing))? == 1;
                    if !inserted {
                        receipts[position].duplicates += 1;
                        continue;
                    }
                    receipts[position].accepted += 1;
                    new_events.push(event);
                }
            }
        }
        if new_events.is_empty() {
            continue;
        }
        let mut snapshot = load_snapshot(&tx, workspace, &resolution::lookup_keys(&new_events), sealing)?;
        let mut mint = crate::sqlite::new_customer_id;
        let plan = loop {
            match resolution::plan(&new_events, &snapshot, settings, &mut mint) {
                Ok(plan) => break plan,
                Err(SummariesNeeded(roots)) => load_summaries(&tx, workspace, &roots, &mut snapshot)?,
            }
        };
        apply_plan(&tx, workspace, &plan, &new_events, sealing)?;
    }
    tx.commit()?;
    Ok(receipts)
}

/// The nodes and roots `keys` touch and the admin separations between those roots; summaries
/// come later, only if a decision needs them (`load_summaries`).
fn load_snapshot(
    tx: &Transaction<'_>,
    workspace: &WorkspaceId,
    keys: &[String],
    sealing: Sealing<'_>,
) -> Result<GraphSnapshot, StoreError> {
    let mut snapshot = GraphSnapshot::default();
    let mut lookup = tx.prepare_cached(
        "SELECT i.customer_id, c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
         WHERE i.workspace_id = ?1 AND i.identity_key = ?2",
    )?;
    for key in keys {
        let found: Option<(String, String)> = lookup
            .query_row(params![workspace.as_str(), sealing.blind(key)], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((node, root)) = found {
            snapshot.identity_nodes.insert(key.clone(), CustomerId(node.clone()));
            snapshot.node_roots.insert(CustomerId(node), CustomerId(root));
        }
    }
    let roots: BTreeSet<CustomerId> = snapshot.node_roots.values().cloned().collect();
    if !roots.is_empty() {
        let mut separations = tx.prepare_cached(
            "SELECT m.survivor_id, cs.root_id, m.absorbed_id, ca.root_id FROM merges m \
             JOIN customers cs ON cs.id = m.survivor_id JOIN customers ca ON ca.id = m.absorbed_id \
             WHERE m.workspace_id = ?1 AND m.undone_at IS NOT NULL",
        )?;
        let rows = separations.query_map(params![workspace.as_str()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, String>(3)?))
        })?;
        for row in rows {
            let (survivor, survivor_root, absorbed, absorbed_root) = row?;
            let (survivor_root, absorbed_root) = (CustomerId(survivor_root), CustomerId(absorbed_root));
            if roots.contains(&survivor_root) && roots.contains(&absorbed_root) {
                snapshot.node_roots.insert(CustomerId(survivor.clone()), survivor_root);
                snapshot.node_roots.insert(CustomerId(absorbed.clone()), absorbed_root);
                snapshot.separated_pairs.push((CustomerId(survivor), CustomerId(absorbed)));
            }
        }
    }
    Ok(snapshot)
}

/// Adds the summaries of `roots` to `snapshot` (what a merge decision reads).
fn load_summaries(
    tx: &Transaction<'_>,
    workspace: &WorkspaceId,
    roots: &[CustomerId],
    snapshot: &mut GraphSnapshot,
) -> Result<(), StoreError> {
    let mut summary = tx.prepare_cached(
        "SELECT MIN(c.created_at), COUNT(i.identity_key), MAX(CASE WHEN i.kind = 'userId' THEN i.value END) \
         FROM customers c LEFT JOIN identities i ON i.customer_id = c.id WHERE c.workspace_id = ?1 AND c.root_id = ?2",
    )?;
    for root in roots {
        let (created_at_ms, identity_count, user_id): (Option<i64>, i64, Option<String>) = summary
            .query_row(params![workspace.as_str(), root.as_str()], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        let summary =
            RootSummary { created_at_ms: created_at_ms.unwrap_or(0), identity_count: identity_count as usize, user_id };
        snapshot.roots.insert(root.clone(), summary);
    }
    Ok(())
}

fn apply_plan(
    tx: &Transaction<'_>,
    workspace: &WorkspaceId,
    plan: &ResolutionPlan,
    events: &[&Event],
    sealing: Sealing<'_>,
) -> Result<(), StoreError> {
    let mut insert_customer =
        tx.prepare_cached("INSERT INTO customers (id, workspace_id, root_id, created_at) VALUES (?1, ?2, ?1, ?3)")?;
    for customer in &plan.new_customers {
        insert_customer.execute(params![customer.id.as_str(), workspace.as_str(), customer.created_at_ms])?;
    }
    let mut insert_identity = tx.prepare_cached(
        "INSERT INTO identities (workspace_id, identity_key, kind, value, customer_id, first_seen, message_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut insert_vault = tx.prepare_cached(
        "INSERT INTO identity_vault (workspace_id, blind_key, sealed_key) VALUES (?1, ?2, ?3) \
         ON CONFLICT (workspace_id, blind_key) DO NOTHING",
    )?;
    for link in &plan.new_links {
        let stored = sealing.identity(&link.identity);
        insert_identity.execute(params![
            workspace.as_str(),
            stored.key,
            stored.kind,
            stored.value,
            link.customer.as_str(),
            link.at_ms,
            link.message_id,
        ])?;
        if let Some(sealed_key) = &stored.vault {
            insert_vault.execute(params![workspace.as_str(), stored.key, sealed_key])?;
        }
    }
    for decision in &plan.merges {
        if decision.outcome == MergeOutcome::Merged {
            tx.prepare_cached("UPDATE customers SET merged_into = ?1 WHERE workspace_id = ?2 AND id = ?3")?
                .execute(params![decision.survivor.as_str(), workspace.as_str(), decision.absorbed.as_str()])?;
            tx.prepare_cached("UPDATE customers SET root_id = ?1 WHERE workspace_id = ?2 AND root_id = ?3")?
                .execute(params![decision.survivor.as_str(), workspace.as_str(), decision.absorbed.as_str()])?;
        }
        let row = decision.row();
        let (via_identity, explanation) = sealing.merge_texts(&decision.via_identity, &decision.explanation());
        tx.prepare_cached(
            "INSERT INTO merges (id, workspace_id, survivor_id, absorbed_id, outcome, reason, explanation, \
             via_identity, message_id, event_type, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (workspace_id, survivor_id, absorbed_id) WHERE outcome = 'refused' DO NOTHING",
        )?
        .execute(params![
            uuid::Uuid::now_v7().to_string(),
            workspace.as_str(),
            row.survivor.as_str(),
            row.absorbed.as_str(),
            row.outcome,
            row.reason,
            explanation,
            via_identity,
            decision.message_id,
            decision.event_type.as_str(),
            decision.at_ms,
        ])?;
    }

    let mut upsert = tx.prepare_cached(
        "INSERT INTO customer_traits (customer_id, trait_key, value, channel, updated_at, message_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (customer_id, trait_key) DO UPDATE SET value = excluded.value, \
         channel = excluded.channel, updated_at = excluded.updated_at, message_id = excluded.message_id \
         WHERE excluded.updated_at >= customer_traits.updated_at",
    )?;
    for write in resolution::trait_writes(events, plan) {
        upsert.execute(params![
            write.node.as_str(),
            write.key,
            sealing.trait_value(&write.key, &write.value).to_string(),
            write.channel,
            write.at_ms,
            write.message_id
        ])?;
    }
    Ok(())
}
