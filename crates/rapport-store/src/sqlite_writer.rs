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

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rapport_core::event::Event;
use rapport_core::ids::{CustomerId, WorkspaceId};
use rapport_core::resolution::{self, GraphSnapshot, MergeOutcome, ResolutionPlan, ResolutionSettings, RootSummary};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::{Map, Value};

use crate::records::IngestReceipt;
use crate::{IngestBatch, StoreError};

/// The one connection ingestion writes through.
#[derive(Clone, Debug)]
pub(crate) struct SqliteWriter {
    connection: Arc<Mutex<Connection>>,
}

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
    pub(crate) fn open(path: &Path) -> Result<SqliteWriter, StoreError> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(10))?;
        // The same durability as the sqlx connections: WAL, fsync at every commit.
        connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )?;
        connection.set_prepared_statement_cache_capacity(64);
        Ok(SqliteWriter { connection: Arc::new(Mutex::new(connection)) })
    }

    /// Stores a group of batches in one transaction; see `SqlBackend::ingest_group`.
    pub(crate) async fn ingest_group(
        &self,
        batches: Arc<Vec<IngestBatch>>,
        settings: ResolutionSettings,
    ) -> Result<Vec<IngestReceipt>, StoreError> {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock rolled its transaction back (rusqlite rolls back on
            // drop), so the connection is sound: recover it rather than fail every later ingest.
            let mut connection = connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            ingest_group(&mut connection, &batches, settings)
        })
        .await
        .map_err(|error| StoreError::Internal(format!("the ingest task failed: {error}")))?
    }
}

fn json_text(map: &Map<String, Value>) -> String {
    // Serialising a map of JSON values cannot fail.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

fn ingest_group(
    connection: &mut Connection,
    batches: &[IngestBatch],
    settings: ResolutionSettings,
) -> Result<Vec<IngestReceipt>, StoreError> {
    // IMMEDIATE takes the write lock up front: the existence checks below cannot race a writer.
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut receipts = vec![IngestReceipt::default(); batches.len()];
    let workspaces: BTreeSet<&WorkspaceId> = batches.iter().map(|batch| &batch.workspace).collect();
    for workspace in workspaces {
        let mut new_events: Vec<&Event> = Vec::new();
        {
            let mut exists = tx.prepare_cached("SELECT 1 FROM events WHERE workspace_id = ?1 AND message_id = ?2")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (workspace_id, message_id, event_type, name, user_id, anonymous_id, group_id, \
                 previous_id, channel, timestamp, original_timestamp, sent_at, received_at, properties, traits, \
                 context, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?;
            let mut seen_now: HashSet<&str> = HashSet::new();
            for (position, batch) in batches.iter().enumerate().filter(|(_, batch)| &batch.workspace == workspace) {
                for event in &batch.events {
                    let is_new = seen_now.insert(event.message_id.as_str())
                        && !exists.exists(params![workspace.as_str(), event.message_id])?;
                    if !is_new {
                        receipts[position].duplicates += 1;
                        continue;
                    }
                    insert.execute(params![
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
                        json_text(&event.properties),
                        json_text(&event.traits),
                        json_text(&event.context),
                        json_text(&event.extra),
                    ])?;
                    receipts[position].accepted += 1;
                    new_events.push(event);
                }
            }
        }
        if new_events.is_empty() {
            continue;
        }
        let snapshot = load_snapshot(&tx, workspace, &resolution::lookup_keys(&new_events))?;
        let plan =
            resolution::plan(&new_events, snapshot, settings, &mut || CustomerId(uuid::Uuid::now_v7().to_string()));
        apply_plan(&tx, workspace, &plan, &new_events)?;
    }
    tx.commit()?;
    Ok(receipts)
}

fn load_snapshot(tx: &Transaction<'_>, workspace: &WorkspaceId, keys: &[String]) -> Result<GraphSnapshot, StoreError> {
    let mut snapshot = GraphSnapshot::default();
    let mut lookup = tx.prepare_cached(
        "SELECT i.customer_id, c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
         WHERE i.workspace_id = ?1 AND i.identity_key = ?2",
    )?;
    for key in keys {
        let found: Option<(String, String)> =
            lookup.query_row(params![workspace.as_str(), key], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
        if let Some((node, root)) = found {
            snapshot.identity_nodes.insert(key.clone(), CustomerId(node.clone()));
            snapshot.node_roots.insert(CustomerId(node), CustomerId(root));
        }
    }
    let roots: BTreeSet<CustomerId> = snapshot.node_roots.values().cloned().collect();
    let mut summary = tx.prepare_cached(
        "SELECT MIN(c.created_at), COUNT(i.identity_key), MAX(CASE WHEN i.kind = 'userId' THEN i.value END) \
         FROM customers c LEFT JOIN identities i ON i.customer_id = c.id WHERE c.workspace_id = ?1 AND c.root_id = ?2",
    )?;
    for root in &roots {
        let (created_at_ms, identity_count, user_id): (Option<i64>, i64, Option<String>) = summary
            .query_row(params![workspace.as_str(), root.as_str()], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        let summary =
            RootSummary { created_at_ms: created_at_ms.unwrap_or(0), identity_count: identity_count as usize, user_id };
        snapshot.roots.insert(root.clone(), summary);
    }
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

fn apply_plan(
    tx: &Transaction<'_>,
    workspace: &WorkspaceId,
    plan: &ResolutionPlan,
    events: &[&Event],
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
    for link in &plan.new_links {
        insert_identity.execute(params![
            workspace.as_str(),
            link.identity.key(),
            link.identity.kind().as_key_prefix(),
            link.identity.value(),
            link.customer.as_str(),
            link.at_ms,
            link.message_id,
        ])?;
    }
    for decision in &plan.merges {
        if decision.outcome == MergeOutcome::Merged {
            tx.prepare_cached("UPDATE customers SET merged_into = ?1 WHERE workspace_id = ?2 AND id = ?3")?
                .execute(params![decision.survivor.as_str(), workspace.as_str(), decision.absorbed.as_str()])?;
            tx.prepare_cached("UPDATE customers SET root_id = ?1 WHERE workspace_id = ?2 AND root_id = ?3")?
                .execute(params![decision.survivor.as_str(), workspace.as_str(), decision.absorbed.as_str()])?;
        }
        let row = decision.row();
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
            decision.explanation(),
            decision.via_identity,
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
            write.value.to_string(),
            write.channel,
            write.at_ms,
            write.message_id
        ])?;
    }
    Ok(())
}
