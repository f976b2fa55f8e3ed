//! The scale-out backend: PostgreSQL, shared by any number of `rapport serve` processes.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use std::collections::{BTreeSet, HashMap, HashSet};

use rapport_core::resolution::{
    GraphSnapshot, MergeOutcome, ResolutionPlan, ResolutionSettings, RootSummary, SummariesNeeded,
};
use sqlx::ConnectOptions;
use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};

use crate::IngestBatch;
use crate::records::IngestReceipt;

type Db = Postgres;

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

/// Connects to the database at `url` and runs the PostgreSQL migrations (sqlx serialises
/// concurrent migrators with an advisory lock, so several processes may start at once).
pub async fn connect(url: &str) -> Result<SqlBackend, sqlx::Error> {
    // Prepared statements would otherwise switch to a generic plan after five runs, chosen while a
    // table was small (a sequential scan) and kept as it grows: key lookups became full scans.
    let options = PgConnectOptions::from_str(url)?
        .options([("plan_cache_mode", "force_custom_plan")])
        .log_slow_statements(log::LevelFilter::Warn, crate::SLOW_STATEMENT);
    // One connection first: a pool that cannot connect only says "timed out"; this says why.
    PgConnection::connect_with(&options).await?.close().await?;
    let pool =
        PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect_with(options).await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(SqlBackend { write_pool: pool.clone(), pool })
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

/// The bind parameter `$position` for a JSONB column, given as JSON text.
fn json_param(position: usize) -> String {
    format!("${position}::jsonb")
}

/// A JSONB column as its JSON text.
fn json_text(column: &str) -> String {
    format!("{column}::text")
}

/// `column = ANY($n)` with the values as one array parameter: one statement text whatever the
/// count, planned well (a long `IN (…)` list is re-planned on every execution).
fn push_in_list(query: &mut QueryBuilder<Db>, column: &str, values: Vec<String>) {
    query.push(column);
    query.push(" = ANY(");
    query.push_bind(values);
    query.push(")");
}

// ---- ingestion (PostgreSQL only: SQLite ingests through `sqlite_writer.rs`) ----

impl SqlBackend {
    /// Stores a group of batches in one transaction: events first (duplicates by `messageId` are
    /// skipped), then identity resolution for the events that are new. Returns one receipt per
    /// batch, in order. Nothing is visible (or acknowledged) until the commit.
    ///
    /// Several groups may run at once, in this process and in others: the events insert needs no
    /// lock (the unique index on `(workspace_id, message_id)` settles a race: the later insert
    /// waits for the earlier transaction and then skips the row), and resolution takes the
    /// workspace's lock. So one group's insert overlaps another's resolution and commit.
    pub async fn ingest_group(
        &self,
        batches: &[IngestBatch],
        settings: ResolutionSettings,
        keys: &Keyring,
    ) -> Result<Vec<IngestReceipt>, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        let mut receipts = vec![IngestReceipt::default(); batches.len()];
        let workspaces: BTreeSet<&WorkspaceId> = batches.iter().map(|batch| &batch.workspace).collect();
        let mut resolutions = Vec::new();
        for workspace in workspaces {
            // The workspace's events of every batch in the group, inserted together.
            let members: Vec<(usize, &Event)> = batches
                .iter()
                .enumerate()
                .filter(|(_, batch)| &batch.workspace == workspace)
                .flat_map(|(position, batch)| batch.events.iter().map(move |event| (position, event)))
                .collect();
            let all: Vec<&Event> = members.iter().map(|(_, event)| *event).collect();
            let inserted = insert_new_events(&mut tx, workspace, &all, Some(Sealing::new(keys, workspace))).await?;
            let mut new_events: Vec<&Event> = Vec::new();
            let mut seen_now: HashSet<&str> = HashSet::new();
            for (position, event) in members {
                if inserted.contains(event.message_id.as_str()) && seen_now.insert(event.message_id.as_str()) {
                    new_events.push(event);
                    receipts[position].accepted += 1;
                } else {
                    receipts[position].duplicates += 1;
                }
            }
            if !new_events.is_empty() {
                resolutions.push((workspace, new_events));
            }
        }
        // Workspaces in name order, so two groups never wait for each other's locks in a cycle.
        for (workspace, new_events) in resolutions {
            lock_workspace(&mut tx, workspace).await?;
            let sealing = Sealing::new(keys, workspace);
            let mut snapshot =
                load_snapshot(&mut tx, workspace, &resolution::lookup_keys(&new_events), sealing).await?;
            let plan = loop {
                match resolution::plan(&new_events, &snapshot, settings, &mut new_customer_id) {
                    Ok(plan) => break plan,
                    Err(SummariesNeeded(roots)) => load_summaries(&mut tx, workspace, &roots, &mut snapshot).await?,
                }
            };
            apply_plan(&mut tx, workspace, &plan, &new_events, sealing).await?;
        }
        tx.commit().await?;
        Ok(receipts)
    }
}

/// Inserts the events whose `messageId` the workspace does not hold yet, the first of any repeats
/// within `events`, and returns the message ids inserted.
///
/// One statement whatever the count: each column travels as one array and `unnest` turns them
/// back into rows. Rows go in `messageId` order, so two concurrent groups sharing ids take their
/// index locks in the same order and cannot deadlock.
async fn insert_new_events(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    events: &[&Event],
    sealing: Option<Sealing<'_>>,
) -> Result<HashSet<String>, sqlx::Error> {
    fn column<T>(events: &[&Event], value: impl Fn(&Event) -> T) -> Vec<T> {
        events.iter().map(|event| value(event)).collect()
    }
    fn json_text(map: &serde_json::Map<String, Value>) -> String {
        // Serialising a map of JSON values cannot fail.
        serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
    }
    let (mut properties, mut traits, mut context, mut extra) = (vec![], vec![], vec![], vec![]);
    for event in events {
        let [p, t, c, x] = match sealing {
            Some(sealing) => sealing.event_documents(event),
            // The benchmark's raw ceiling: the rows as they come.
            None => [&event.properties, &event.traits, &event.context, &event.extra].map(json_text),
        };
        properties.push(p);
        traits.push(t);
        context.push(c);
        extra.push(x);
    }
    let inserted: Vec<String> = sqlx::query_scalar(
        "INSERT INTO events (workspace_id, message_id, event_type, name, user_id, anonymous_id, group_id, \
         previous_id, channel, timestamp, original_timestamp, sent_at, received_at, properties, traits, context, \
         extra) \
         SELECT $1, m, t, n, u, a, g, p, c, ts, ot, sa, ra, pr::jsonb, tr::jsonb, cx::jsonb, ex::jsonb \
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
         $9::text[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::text[], $15::text[], $16::text[], \
         $17::text[]) WITH ORDINALITY AS r (m, t, n, u, a, g, p, c, ts, ot, sa, ra, pr, tr, cx, ex, position) \
         ORDER BY m, position \
         ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING message_id",
    )
    .bind(workspace.as_str())
    .bind(column(events, |event| event.message_id.clone()))
    .bind(column(events, |event| event.event_type.as_str()))
    .bind(column(events, |event| event.name.clone()))
    .bind(column(events, |event| event.user_id.clone()))
    .bind(column(events, |event| event.anonymous_id.clone()))
    .bind(column(events, |event| event.group_id.clone()))
    .bind(column(events, |event| event.previous_id.clone()))
    .bind(column(events, |event| event.channel.clone()))
    .bind(column(events, |event| resolution::millis(event.timestamp)))
    .bind(column(events, |event| event.original_timestamp.map(resolution::millis)))
    .bind(column(events, |event| event.sent_at.map(resolution::millis)))
    .bind(column(events, |event| resolution::millis(event.received_at)))
    .bind(properties)
    .bind(traits)
    .bind(context)
    .bind(extra)
    .fetch_all(&mut **tx)
    .await?;
    Ok(inserted.into_iter().collect())
}

/// Reads the part of the graph that `keys` touch: their nodes and roots, and the admin separations
/// between those roots (summaries come later, only if a decision needs them: `load_summaries`).
///
/// Lookups here probe one key at a time (`unnest` + `LATERAL … LIMIT 1`):
/// with `= ANY(array)` and statistics not yet refreshed on a growing table, PostgreSQL scanned the
/// whole workspace and filtered (46 ms per group at 150,000 events). Equality on a unique index
/// is an index probe whatever the statistics say.
async fn load_snapshot(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    keys: &[String],
    sealing: Sealing<'_>,
) -> Result<GraphSnapshot, sqlx::Error> {
    let mut snapshot = GraphSnapshot::default();
    // Looked up by their blind indexes; the snapshot speaks of the keys themselves.
    let stored: Vec<String> = sealing.blind_all(keys);
    let plain: HashMap<&str, &str> = stored.iter().map(String::as_str).zip(keys.iter().map(String::as_str)).collect();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT k.key, hit.customer_id, hit.root_id FROM unnest($2::text[]) AS k (key) CROSS JOIN LATERAL \
         (SELECT i.customer_id, c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
          WHERE i.workspace_id = $1 AND i.identity_key = k.key LIMIT 1) AS hit",
    )
    .bind(workspace.as_str())
    .bind(&stored)
    .fetch_all(&mut **tx)
    .await?;
    for (key, node, root) in rows {
        let key = plain.get(key.as_str()).map_or(key.clone(), |plain| (*plain).to_owned());
        snapshot.identity_nodes.insert(key, CustomerId(node.clone()));
        snapshot.node_roots.insert(CustomerId(node), CustomerId(root));
    }
    let roots: Vec<String> =
        snapshot.node_roots.values().map(|root| root.0.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    if !roots.is_empty() {
        let root_set: HashSet<&str> = roots.iter().map(String::as_str).collect();
        let separations: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT m.survivor_id, cs.root_id, m.absorbed_id, ca.root_id FROM merges m \
             JOIN customers cs ON cs.id = m.survivor_id JOIN customers ca ON ca.id = m.absorbed_id \
             WHERE m.workspace_id = $1 AND m.undone_at IS NOT NULL",
        )
        .bind(workspace.as_str())
        .fetch_all(&mut **tx)
        .await?;
        for (survivor, survivor_root, absorbed, absorbed_root) in separations {
            if root_set.contains(survivor_root.as_str()) && root_set.contains(absorbed_root.as_str()) {
                snapshot.node_roots.insert(CustomerId(survivor.clone()), CustomerId(survivor_root));
                snapshot.node_roots.insert(CustomerId(absorbed.clone()), CustomerId(absorbed_root));
                snapshot.separated_pairs.push((CustomerId(survivor), CustomerId(absorbed)));
            }
        }
    }
    Ok(snapshot)
}

/// Adds the summaries of `roots` to `snapshot` (what a merge decision reads).
async fn load_summaries(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    roots: &[CustomerId],
    snapshot: &mut GraphSnapshot,
) -> Result<(), sqlx::Error> {
    let roots: Vec<&str> = roots.iter().map(CustomerId::as_str).collect();
    let rows: Vec<(String, Option<i64>, i64, Option<String>)> = sqlx::query_as(
        "SELECT r.root, s.created_at, s.identity_count, s.user_id FROM unnest($2::text[]) AS r (root) \
         CROSS JOIN LATERAL (SELECT MIN(c.created_at) AS created_at, COUNT(i.identity_key) AS identity_count, \
         MAX(CASE WHEN i.kind = 'userId' THEN i.value END) AS user_id FROM customers c \
         LEFT JOIN identities i ON i.customer_id = c.id WHERE c.workspace_id = $1 AND c.root_id = r.root) AS s",
    )
    .bind(workspace.as_str())
    .bind(roots)
    .fetch_all(&mut **tx)
    .await?;
    for (root, created_at_ms, identity_count, user_id) in rows {
        let summary =
            RootSummary { created_at_ms: created_at_ms.unwrap_or(0), identity_count: identity_count as usize, user_id };
        snapshot.roots.insert(CustomerId(root), summary);
    }
    Ok(())
}

/// Writes a resolution plan: new customers, identity links, merges in decision order, and the
/// customer traits the events carry (newest value wins per trait, whatever the arrival order).
async fn apply_plan(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    plan: &ResolutionPlan,
    events: &[&Event],
    sealing: Sealing<'_>,
) -> Result<(), sqlx::Error> {
    for chunk in cached_chunks(&plan.new_customers) {
        let mut query = QueryBuilder::<Db>::new("INSERT INTO customers (id, workspace_id, root_id, created_at) ");
        query.push_values(chunk, |mut row, customer| {
            row.push_bind(customer.id.0.clone())
                .push_bind(workspace.as_str().to_owned())
                .push_bind(customer.id.0.clone())
                .push_bind(customer.created_at_ms);
        });
        query.build().execute(&mut **tx).await?;
    }
    let links: Vec<_> = plan.new_links.iter().map(|link| (link, sealing.identity(&link.identity))).collect();
    for chunk in cached_chunks(&links) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO identities (workspace_id, identity_key, kind, value, customer_id, first_seen, message_id) ",
        );
        query.push_values(chunk, |mut row, (link, stored)| {
            row.push_bind(workspace.as_str().to_owned())
                .push_bind(stored.key.clone())
                .push_bind(stored.kind.clone())
                .push_bind(stored.value.clone())
                .push_bind(link.customer.0.clone())
                .push_bind(link.at_ms)
                .push_bind(link.message_id.clone());
        });
        query.build().execute(&mut **tx).await?;
    }
    let vault: Vec<(String, String)> = links
        .iter()
        .filter_map(|(_, stored)| stored.vault.as_ref().map(|sealed| (stored.key.clone(), sealed.clone())))
        .collect();
    for chunk in cached_chunks(&vault) {
        let mut query = QueryBuilder::<Db>::new("INSERT INTO identity_vault (workspace_id, blind_key, sealed_key) ");
        query.push_values(chunk, |mut row, (blind, sealed)| {
            row.push_bind(workspace.as_str().to_owned()).push_bind(blind.clone()).push_bind(sealed.clone());
        });
        query.push(" ON CONFLICT (workspace_id, blind_key) DO NOTHING");
        query.build().execute(&mut **tx).await?;
    }
    for decision in &plan.merges {
        if decision.outcome == MergeOutcome::Merged {
            sqlx::query("UPDATE customers SET merged_into = $1 WHERE workspace_id = $2 AND id = $3")
                .bind(decision.survivor.as_str())
                .bind(workspace.as_str())
                .bind(decision.absorbed.as_str())
                .execute(&mut **tx)
                .await?;
            sqlx::query("UPDATE customers SET root_id = $1 WHERE workspace_id = $2 AND root_id = $3")
                .bind(decision.survivor.as_str())
                .bind(workspace.as_str())
                .bind(decision.absorbed.as_str())
                .execute(&mut **tx)
                .await?;
        }
        let row = decision.row();
        let (via_identity, explanation) = sealing.merge_texts(&decision.via_identity, &decision.explanation());
        sqlx::query(
            "INSERT INTO merges (id, workspace_id, survivor_id, absorbed_id, outcome, reason, explanation, \
             via_identity, message_id, event_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (workspace_id, survivor_id, absorbed_id) WHERE outcome = 'refused' DO NOTHING",
        )
        .bind(new_id())
        .bind(workspace.as_str())
        .bind(row.survivor.as_str())
        .bind(row.absorbed.as_str())
        .bind(row.outcome)
        .bind(row.reason)
        .bind(explanation)
        .bind(via_identity)
        .bind(&decision.message_id)
        .bind(decision.event_type.as_str())
        .bind(decision.at_ms)
        .execute(&mut **tx)
        .await?;
    }

    // One row per (node, trait): PostgreSQL refuses to update the same row twice in one statement.
    let rows = resolution::trait_writes(events, plan);
    for chunk in cached_chunks(&rows) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO customer_traits (customer_id, trait_key, value, channel, updated_at, message_id) ",
        );
        query.push_values(chunk, |mut row, write| {
            row.push_bind(write.node.0.clone())
                .push_bind(write.key.clone())
                .push_bind(Json(sealing.trait_value(&write.key, &write.value)))
                .push_bind(write.channel.to_owned())
                .push_bind(write.at_ms)
                .push_bind(write.message_id.to_owned());
        });
        query.push(
            " ON CONFLICT (customer_id, trait_key) DO UPDATE SET value = excluded.value, channel = excluded.channel, \
             updated_at = excluded.updated_at, message_id = excluded.message_id \
             WHERE excluded.updated_at >= customer_traits.updated_at",
        );
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}
