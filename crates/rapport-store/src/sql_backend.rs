// The SQL both backends share, written once. This file is `include!`d by `sqlite.rs` and
// `postgres.rs`, each of which defines `Db` (the sqlx database) and the three dialect hooks
// `begin_write`, `lock_workspace` and `push_in_list`. The schemas differ only in column types (see
// the two `migrations/` folders), so every other statement here runs unchanged on both.
//
// Why include! and not generics over `sqlx::Database`: the trait bounds a generic version needs
// (`Encode`/`Decode`/`Type` for every bound type, `IntoArguments`, executor lifetimes) would be
// repeated on every function and obscure the SQL; sqlx's `Any` driver was tried and cannot decode
// PostgreSQL's JSONB and NUMERIC columns (see the dependency survey).

use std::collections::BTreeMap;

use rapport_core::auth::Role;
use rapport_core::event::Event;
use rapport_core::ids::{CustomerId, MergeId, WorkspaceId};
use rapport_core::resolution;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{Pool, QueryBuilder, Transaction};

use crate::now_ms;
use crate::records::{
    ApiKeyRecord, ChannelUsage, CustomerProfile, IdentityRecord, MergeRecord, StoredEvent, TimelineCursor,
    TimelineEntry, TimelinePage, TraitRecord, UndoneMerge, Workspace,
};

/// Most rows per multi-row statement: well under both backends' bind-parameter limits.
const CHUNK: usize = 256;

/// Splits `items` into chunks whose sizes are powers of two (at most `CHUNK`). A multi-row
/// statement's SQL depends on its row count; with power-of-two counts there are only nine such
/// statements per query, so they stay in the driver's prepared-statement cache instead of being
/// parsed anew for every batch size.
fn cached_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= CHUNK { CHUNK } else { 1 << rest.len().ilog2() };
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

#[derive(Clone, Debug)]
pub struct SqlBackend {
    /// Reads.
    pub pool: Pool<Db>,
    /// Writes. On SQLite a pool of one connection: writers wait their turn in the pool's queue and
    /// are woken when it frees, instead of in SQLite's busy handler, which sleeps in growing steps
    /// of up to 100 ms (measured: hosted-page submissions, BENCHMARKS.md). On PostgreSQL the same
    /// pool as reads.
    pub write_pool: Pool<Db>,
}

type MergeRow = (String, String, String, String, String, String, String, String, String, i64, Option<i64>);
const MERGE_COLUMNS: &str = "id, survivor_id, absorbed_id, outcome, reason, explanation, via_identity, message_id, \
     event_type, created_at, undone_at";

fn merge_record(row: MergeRow) -> MergeRecord {
    let (id, survivor, absorbed, outcome, reason, explanation, via_identity, message_id, event_type, created, undone) =
        row;
    MergeRecord {
        id: MergeId(id),
        survivor: CustomerId(survivor),
        absorbed: CustomerId(absorbed),
        outcome,
        reason,
        explanation,
        via_identity,
        message_id,
        event_type,
        created_at_ms: created,
        undone_at_ms: undone,
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A customer id: 12 hex digits of milliseconds and 12 random ones (24 characters, where a UUID
/// takes 36), so ids sort by creation and new customers append to the end of their index. Two
/// thousand customers minted in one millisecond collide with odds of about 1 in 100 million (and a
/// collision fails the commit, which the ingest queue retries, never merges). Customer ids fill
/// the identity, customer and trait indexes; see `new_workspace_id` for why length counts.
pub(crate) fn new_customer_id() -> CustomerId {
    let millis = u64::try_from(now_ms()).unwrap_or_default() & 0xFFFF_FFFF_FFFF;
    CustomerId(format!("{millis:012x}{:012x}", rand::random::<u64>() & 0xFFFF_FFFF_FFFF))
}

/// `w` and 16 random hex digits. Every index on events, identities and merges starts with the
/// workspace id, so its length is paid in every index entry: 17 characters instead of a UUID's 36
/// took SQLite ingestion from about 40,000 to 48,000 events/s at 8 clients (BENCHMARKS.md).
/// Workspaces are few; a collision would fail the insert on the primary key, never merge two.
fn new_workspace_id() -> String {
    format!("w{:016x}", rand::random::<u64>())
}

impl SqlBackend {
    /// A workspace's JSON document (settings, a policy) from `table`: one row per workspace with
    /// the document in `column`.
    pub(crate) async fn workspace_document<T: serde::de::DeserializeOwned + Send + Unpin + 'static>(
        &self,
        table: &'static str,
        column: &'static str,
        workspace: &WorkspaceId,
    ) -> Result<Option<T>, sqlx::Error> {
        let row: Option<Json<T>> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {column} FROM {table} WHERE workspace_id = $1")))
                .bind(workspace.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|Json(document)| document))
    }

    /// Saves a workspace's JSON document in `table`, replacing the one before.
    pub(crate) async fn put_workspace_document<T: serde::Serialize>(
        &self,
        table: &'static str,
        column: &'static str,
        workspace: &WorkspaceId,
        document: &T,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (workspace_id, {column}, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (workspace_id) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at"
        )))
        .bind(workspace.as_str())
        .bind(Json(document))
        .bind(now_ms())
        .execute(&self.write_pool)
        .await?;
        Ok(())
    }

    // ---- many JSON documents per workspace, each by id (action plans, journeys) ----
    // Each such table is `(id, workspace_id, <column>, created_at, updated_at)`.

    /// Stores a new document in `table`; returns its id.
    pub(crate) async fn create_document(
        &self,
        table: &'static str,
        column: &'static str,
        workspace: &WorkspaceId,
        document: &Value,
    ) -> Result<String, sqlx::Error> {
        let id = new_id();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (id, workspace_id, {column}, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
        )))
        .bind(&id)
        .bind(workspace.as_str())
        .bind(Json(document))
        .bind(now_ms())
        .execute(&self.write_pool)
        .await?;
        Ok(id)
    }

    /// Replaces a document; false when the workspace has none with `id`.
    pub(crate) async fn put_document(
        &self,
        table: &'static str,
        column: &'static str,
        workspace: &WorkspaceId,
        id: &str,
        document: &Value,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET {column} = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4"
        )))
        .bind(Json(document))
        .bind(now_ms())
        .bind(workspace.as_str())
        .bind(id)
        .execute(&self.write_pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Deletes a document; false when there was none.
    pub(crate) async fn delete_document(
        &self,
        table: &'static str,
        workspace: &WorkspaceId,
        id: &str,
    ) -> Result<bool, sqlx::Error> {
        let deleted =
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE workspace_id = $1 AND id = $2")))
                .bind(workspace.as_str())
                .bind(id)
                .execute(&self.write_pool)
                .await?
                .rows_affected();
        Ok(deleted == 1)
    }

    /// The workspace's documents as (id, document, created, updated), oldest first; one when
    /// `id` is given.
    pub(crate) async fn documents(
        &self,
        table: &'static str,
        column: &'static str,
        workspace: &WorkspaceId,
        id: Option<&str>,
    ) -> Result<Vec<(String, Value, i64, i64)>, sqlx::Error> {
        let rows: Vec<(String, Json<Value>, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, {column}, created_at, updated_at FROM {table} WHERE workspace_id = $1 \
             AND ($2 IS NULL OR id = $2) ORDER BY created_at, id"
        )))
        .bind(workspace.as_str())
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id, Json(document), created, updated)| (id, document, created, updated)).collect())
    }
}

/// Keeps `record` if it is the first or a later value of its trait: the newest set wins, whatever
/// the order the rows come in.
fn keep_latest(latest: &mut BTreeMap<String, TraitRecord>, record: TraitRecord) {
    if latest.get(&record.key).is_none_or(|current| record.updated_at_ms > current.updated_at_ms) {
        latest.insert(record.key.clone(), record);
    }
}

/// The tables whose rows belong to a workspace through a parent, children first, with the
/// condition that finds a workspace's rows.
const WORKSPACE_CHILDREN: [(&str, &str); 6] = [
    ("survey_answers", "response_id IN (SELECT id FROM survey_responses WHERE workspace_id = $1)"),
    ("customer_traits", "customer_id IN (SELECT id FROM customers WHERE workspace_id = $1)"),
    ("case_history", "case_id IN (SELECT id FROM cases WHERE workspace_id = $1)"),
    ("webhook_attempts", "delivery_id IN (SELECT id FROM webhook_deliveries WHERE workspace_id = $1)"),
    ("survey_responses", "workspace_id = $1"),
    ("survey_versions", "survey_id IN (SELECT id FROM surveys WHERE workspace_id = $1)"),
];

/// Every table with a `workspace_id`, in an order that deletes rows before what they refer to
/// (`delete_workspace`; a new table belongs here).
const WORKSPACE_TABLES: [&str; 32] = [
    "api_keys",
    "sessions",
    "users",
    "audit_log",
    "events",
    "identities",
    "customers",
    "merges",
    "surveys",
    "invitations",
    "answer_rollups",
    "metric_settings",
    "contact_policies",
    "feedback_topics",
    "feedback",
    "feedback_taxonomies",
    "feedback_settings",
    "alerts",
    "domain_events",
    "webhook_deliveries",
    "webhook_subscriptions",
    "cases",
    "case_settings",
    "case_round_robin",
    "action_plans",
    "churn_settings",
    "churn_models",
    "customer_predictions",
    "journeys",
    "consents",
    "privacy_settings",
    "response_drafts",
];

impl SqlBackend {
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await.map(|_| ())
    }

    // ---- workspaces and keys ----

    pub async fn ensure_workspace(&self, name: &str) -> Result<Workspace, sqlx::Error> {
        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(new_workspace_id())
            .bind(name)
            .bind(now_ms())
            .execute(&self.write_pool)
            .await?;
        let workspace = self.workspace_by_name(name).await?;
        workspace.ok_or(sqlx::Error::RowNotFound)
    }

    /// Deletes the workspace `name` and everything in it, in one transaction; false when there is
    /// none. Children first: the rows keyed by a parent that belongs to the workspace.
    pub async fn delete_workspace(&self, name: &str) -> Result<Option<WorkspaceId>, sqlx::Error> {
        let Some(workspace) = self.workspace_by_name(name).await? else {
            return Ok(None);
        };
        let mut tx = begin_write(&self.write_pool).await?;
        for (table, condition) in WORKSPACE_CHILDREN {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE {condition}")))
                .bind(workspace.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for table in WORKSPACE_TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE workspace_id = $1")))
                .bind(workspace.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM workspaces WHERE id = $1").bind(workspace.id.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(workspace.id))
    }

    /// How many rows `workspace` has in each table that holds its rows (what the tests of
    /// `delete_workspace` check).
    pub async fn workspace_rows(&self, workspace: &WorkspaceId) -> Result<Vec<(&'static str, i64)>, sqlx::Error> {
        let mut counts = Vec::new();
        for (table, condition) in
            WORKSPACE_CHILDREN.iter().copied().chain(WORKSPACE_TABLES.iter().map(|t| (*t, "workspace_id = $1")))
        {
            let count: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE {condition}")))
                    .bind(workspace.as_str())
                    .fetch_one(&self.pool)
                    .await?;
            counts.push((table, count));
        }
        Ok(counts)
    }

    pub async fn workspace_by_name(&self, name: &str) -> Result<Option<Workspace>, sqlx::Error> {
        let row: Option<(String, String, i64)> =
            sqlx::query_as("SELECT id, name, created_at FROM workspaces WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, name, created_at_ms)| Workspace { id: WorkspaceId(id), name, created_at_ms }))
    }

    // ---- ingestion ----

    /// Inserts raw rows into `events` exactly as ingestion would, without identity resolution:
    /// the ceiling the ingestion benchmark compares against.
    pub async fn insert_events_raw(&self, workspace: &WorkspaceId, events: &[Event]) -> Result<usize, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        let rows: Vec<&Event> = events.iter().collect();
        insert_event_rows(&mut tx, workspace, &rows).await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    pub async fn count_events(&self, workspace: &WorkspaceId) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE workspace_id = $1")
            .bind(workspace.as_str())
            .fetch_one(&self.pool)
            .await
    }

    pub async fn message_ids(&self, workspace: &WorkspaceId) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT message_id FROM events WHERE workspace_id = $1 ORDER BY seq")
            .bind(workspace.as_str())
            .fetch_all(&self.pool)
            .await
    }

    // ---- customers ----

    /// The root of the component a node belongs to.
    pub async fn customer_root(
        &self,
        workspace: &WorkspaceId,
        node: &CustomerId,
    ) -> Result<Option<CustomerId>, sqlx::Error> {
        let root: Option<String> =
            sqlx::query_scalar("SELECT root_id FROM customers WHERE workspace_id = $1 AND id = $2")
                .bind(workspace.as_str())
                .bind(node.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(root.map(CustomerId))
    }

    pub async fn customer_by_identity(
        &self,
        workspace: &WorkspaceId,
        identity_key: &str,
    ) -> Result<Option<CustomerId>, sqlx::Error> {
        let root: Option<String> = sqlx::query_scalar(
            "SELECT c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
             WHERE i.workspace_id = $1 AND i.identity_key = $2",
        )
        .bind(workspace.as_str())
        .bind(identity_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(root.map(CustomerId))
    }

    pub async fn customer_profile(
        &self,
        workspace: &WorkspaceId,
        root: &CustomerId,
    ) -> Result<Option<CustomerProfile>, sqlx::Error> {
        let nodes: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, created_at FROM customers WHERE workspace_id = $1 AND root_id = $2 ORDER BY id")
                .bind(workspace.as_str())
                .bind(root.as_str())
                .fetch_all(&self.pool)
                .await?;
        let Some(created_at_ms) = nodes.iter().map(|(_, created)| *created).min() else {
            return Ok(None);
        };
        let identities = self.customer_identities(workspace, root).await?;

        let trait_rows: Vec<(String, Json<Value>, String, i64, String)> = sqlx::query_as(
            "SELECT t.trait_key, t.value, t.channel, t.updated_at, t.message_id \
             FROM customer_traits t JOIN customers c ON c.id = t.customer_id \
             WHERE c.workspace_id = $1 AND c.root_id = $2",
        )
        .bind(workspace.as_str())
        .bind(root.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut latest: BTreeMap<String, TraitRecord> = BTreeMap::new();
        for (key, Json(value), channel, updated_at_ms, message_id) in trait_rows {
            keep_latest(&mut latest, TraitRecord { key, value, channel, updated_at_ms, message_id });
        }

        let mut usage = QueryBuilder::<Db>::new("SELECT channel, COUNT(*), MIN(timestamp), MAX(timestamp) FROM ");
        push_owned_events(&mut usage, workspace, &identities);
        usage.push(" GROUP BY channel ORDER BY channel");
        let channels = usage
            .build_query_as::<(String, i64, i64, i64)>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|(channel, events, first_seen_ms, last_seen_ms)| ChannelUsage {
                channel,
                events,
                first_seen_ms,
                last_seen_ms,
            })
            .collect();

        Ok(Some(CustomerProfile {
            id: root.clone(),
            created_at_ms,
            nodes: nodes.into_iter().map(|(id, _)| CustomerId(id)).collect(),
            identities,
            traits: latest.into_values().collect(),
            channels,
        }))
    }

    /// The workspace's events in the order they were stored, `limit` after sequence number
    /// `after` (0 for the first page).
    pub async fn events_after(
        &self,
        workspace: &WorkspaceId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, sqlx::Error> {
        type Row = (
            i64,
            String,
            Option<String>,
            String,
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Json<Value>,
            Json<Value>,
            Json<Value>,
            Json<Value>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT seq, event_type, name, channel, timestamp, message_id, user_id, anonymous_id, group_id, \
             previous_id, properties, traits, context, extra FROM events \
             WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(workspace.as_str())
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| StoredEvent {
                seq: row.0,
                event_type: row.1,
                name: row.2,
                channel: row.3,
                timestamp_ms: row.4,
                message_id: row.5,
                user_id: row.6,
                anonymous_id: row.7,
                group_id: row.8,
                previous_id: row.9,
                properties: row.10.0,
                traits: row.11.0,
                context: row.12.0,
                extra: row.13.0,
            })
            .collect())
    }

    /// Every customer's (root's) latest value of each trait across its merged nodes, as
    /// `customer_profile` shows them: one query for the whole workspace (exports).
    pub async fn latest_traits(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<BTreeMap<String, BTreeMap<String, TraitRecord>>, sqlx::Error> {
        let rows: Vec<(String, String, Json<Value>, String, i64, String)> = sqlx::query_as(
            "SELECT c.root_id, t.trait_key, t.value, t.channel, t.updated_at, t.message_id \
             FROM customer_traits t JOIN customers c ON c.id = t.customer_id WHERE c.workspace_id = $1",
        )
        .bind(workspace.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut customers: BTreeMap<String, BTreeMap<String, TraitRecord>> = BTreeMap::new();
        for (root, key, Json(value), channel, updated_at_ms, message_id) in rows {
            keep_latest(
                customers.entry(root).or_default(),
                TraitRecord { key, value, channel, updated_at_ms, message_id },
            );
        }
        Ok(customers)
    }

    /// Every event of the customer, newest first, `limit` at a time.
    pub async fn timeline(
        &self,
        workspace: &WorkspaceId,
        root: &CustomerId,
        after: Option<TimelineCursor>,
        limit: usize,
    ) -> Result<TimelinePage, sqlx::Error> {
        let identities: Vec<IdentityRecord> = self
            .customer_identities(workspace, root)
            .await?
            .into_iter()
            .filter(|identity| identity.kind == "userId" || identity.kind == "anonymousId")
            .collect();
        let mut query = QueryBuilder::<Db>::new(
            "SELECT seq, event_type, name, channel, timestamp, received_at, message_id, user_id, anonymous_id, \
             group_id, properties, traits, context FROM ",
        );
        push_owned_events(&mut query, workspace, &identities);
        query.push(" WHERE 1 = 1");
        if let Some(cursor) = after {
            query.push(" AND (timestamp < ");
            query.push_bind(cursor.timestamp_ms);
            query.push(" OR (timestamp = ");
            query.push_bind(cursor.timestamp_ms);
            query.push(" AND seq < ");
            query.push_bind(cursor.seq);
            query.push("))");
        }
        query.push(" ORDER BY timestamp DESC, seq DESC LIMIT ");
        query.push_bind(limit as i64 + 1);
        type Row = (
            i64,
            String,
            Option<String>,
            String,
            i64,
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Json<Value>,
            Json<Value>,
            Json<Value>,
        );
        let rows: Vec<Row> = query.build_query_as().fetch_all(&self.pool).await?;
        let mut entries: Vec<TimelineEntry> = rows
            .into_iter()
            .map(|row| TimelineEntry {
                seq: row.0,
                event_type: row.1,
                name: row.2,
                channel: row.3,
                timestamp_ms: row.4,
                received_at_ms: row.5,
                message_id: row.6,
                user_id: row.7,
                anonymous_id: row.8,
                group_id: row.9,
                properties: row.10.0,
                traits: row.11.0,
                context: row.12.0,
            })
            .collect();
        let next_cursor = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|entry| TimelineCursor { timestamp_ms: entry.timestamp_ms, seq: entry.seq })
        } else {
            None
        };
        Ok(TimelinePage { entries, next_cursor })
    }

    /// Every identity of the customer whose root is `root`, oldest first.
    async fn customer_identities(
        &self,
        workspace: &WorkspaceId,
        root: &CustomerId,
    ) -> Result<Vec<IdentityRecord>, sqlx::Error> {
        let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
            "SELECT i.kind, i.value, i.customer_id, i.first_seen, i.message_id \
             FROM identities i JOIN customers c ON c.id = i.customer_id \
             WHERE c.workspace_id = $1 AND c.root_id = $2 ORDER BY i.first_seen, i.identity_key",
        )
        .bind(workspace.as_str())
        .bind(root.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, value, node, first_seen_ms, message_id)| IdentityRecord {
                kind,
                value,
                node: CustomerId(node),
                first_seen_ms,
                message_id,
            })
            .collect())
    }

    // ---- merges ----

    pub async fn merges_of(&self, workspace: &WorkspaceId, root: &CustomerId) -> Result<Vec<MergeRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {MERGE_COLUMNS} FROM merges WHERE workspace_id = $1 AND (\
             survivor_id IN (SELECT id FROM customers WHERE workspace_id = $1 AND root_id = $2) OR \
             absorbed_id IN (SELECT id FROM customers WHERE workspace_id = $1 AND root_id = $2)) \
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<MergeRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace.as_str())
            .bind(root.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(merge_record).collect())
    }

    pub async fn merge_by_id(&self, workspace: &WorkspaceId, id: &MergeId) -> Result<Option<MergeRecord>, sqlx::Error> {
        let sql = format!("SELECT {MERGE_COLUMNS} FROM merges WHERE workspace_id = $1 AND id = $2");
        let row: Option<MergeRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(merge_record))
    }

    /// Undoes an applied merge: the absorbed customer stops pointing at the survivor, roots are
    /// recomputed, and the pair is remembered so ingestion does not merge it again.
    /// Returns `Ok(None)` if there is no such merge or it cannot be undone (refused or undone).
    pub async fn undo_merge(&self, workspace: &WorkspaceId, id: &MergeId) -> Result<Option<UndoneMerge>, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        lock_workspace(&mut tx, workspace).await?;
        let sql = format!(
            "SELECT {MERGE_COLUMNS} FROM merges WHERE workspace_id = $1 AND id = $2 \
             AND outcome = 'merged' AND undone_at IS NULL"
        );
        let row: Option<MergeRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(workspace.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(mut merge) = row.map(merge_record) else {
            return Ok(None);
        };
        let component_root: String =
            sqlx::query_scalar("SELECT root_id FROM customers WHERE workspace_id = $1 AND id = $2")
                .bind(workspace.as_str())
                .bind(merge.survivor.as_str())
                .fetch_one(&mut *tx)
                .await?;
        let members: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, merged_into FROM customers WHERE workspace_id = $1 AND root_id = $2")
                .bind(workspace.as_str())
                .bind(&component_root)
                .fetch_all(&mut *tx)
                .await?;
        let members: Vec<(CustomerId, Option<CustomerId>)> = members
            .into_iter()
            .map(|(id, merged_into)| {
                let merged_into = if id == merge.absorbed.0 { None } else { merged_into.map(CustomerId) };
                (CustomerId(id), merged_into)
            })
            .collect();
        let new_roots = resolution::recompute_roots(&members);
        sqlx::query("UPDATE customers SET merged_into = NULL WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.as_str())
            .bind(merge.absorbed.as_str())
            .execute(&mut *tx)
            .await?;
        for (node, root) in &new_roots {
            if root.as_str() != component_root {
                sqlx::query("UPDATE customers SET root_id = $1 WHERE workspace_id = $2 AND id = $3")
                    .bind(root.as_str())
                    .bind(workspace.as_str())
                    .bind(node.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let undone_at = now_ms();
        sqlx::query("UPDATE merges SET undone_at = $1 WHERE workspace_id = $2 AND id = $3")
            .bind(undone_at)
            .bind(workspace.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        merge.undone_at_ms = Some(undone_at);
        let root_of = |node: &CustomerId| {
            new_roots.iter().find(|(member, _)| member == node).map(|(_, root)| root.clone()).unwrap_or(node.clone())
        };
        Ok(Some(UndoneMerge {
            survivor_root: root_of(&merge.survivor),
            absorbed_root: root_of(&merge.absorbed),
            merge,
        }))
    }
}

/// The events a customer owns, as a subquery named `owned`: those with one of its user ids, and
/// those without a user id that carry one of its anonymous ids. Two branches joined by
/// `UNION ALL`, so each searches its own index (`events_by_user`, `events_by_anonymous`); written
/// with `OR`, SQLite scanned every event of the workspace.
fn push_owned_events(query: &mut QueryBuilder<Db>, workspace: &WorkspaceId, identities: &[IdentityRecord]) {
    let values_of = |kind: &str| -> Vec<String> {
        identities.iter().filter(|identity| identity.kind == kind).map(|identity| identity.value.clone()).collect()
    };
    let (user_ids, anonymous_ids) = (values_of("userId"), values_of("anonymousId"));
    query.push("(SELECT * FROM events WHERE workspace_id = ");
    query.push_bind(workspace.as_str().to_owned());
    query.push(" AND ");
    push_in_list(query, "user_id", user_ids);
    query.push(" UNION ALL SELECT * FROM events WHERE workspace_id = ");
    query.push_bind(workspace.as_str().to_owned());
    query.push(" AND user_id IS NULL AND ");
    push_in_list(query, "anonymous_id", anonymous_ids);
    query.push(") AS owned");
}

/// Multi-row inserts of `events` as they are.
async fn insert_event_rows(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    events: &[&Event],
) -> Result<(), sqlx::Error> {
    for chunk in cached_chunks(events) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO events (workspace_id, message_id, event_type, name, user_id, anonymous_id, group_id, \
             previous_id, channel, timestamp, original_timestamp, sent_at, received_at, properties, traits, context, \
             extra) ",
        );
        query.push_values(chunk, |mut row, event| {
            row.push_bind(workspace.as_str().to_owned())
                .push_bind(event.message_id.clone())
                .push_bind(event.event_type.as_str())
                .push_bind(event.name.clone())
                .push_bind(event.user_id.clone())
                .push_bind(event.anonymous_id.clone())
                .push_bind(event.group_id.clone())
                .push_bind(event.previous_id.clone())
                .push_bind(event.channel.clone())
                .push_bind(resolution::millis(event.timestamp))
                .push_bind(event.original_timestamp.map(resolution::millis))
                .push_bind(event.sent_at.map(resolution::millis))
                .push_bind(resolution::millis(event.received_at))
                .push_bind(Json(Value::Object(event.properties.clone())))
                .push_bind(Json(Value::Object(event.traits.clone())))
                .push_bind(Json(Value::Object(event.context.clone())))
                .push_bind(Json(Value::Object(event.extra.clone())));
        });
        // Belt and braces: callers exclude stored ids beforehand.
        query.push(" ON CONFLICT (workspace_id, message_id) DO NOTHING");
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}
