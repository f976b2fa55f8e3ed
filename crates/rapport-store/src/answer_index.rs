//! SQLite only: an in-memory index of a workspace's scored answers for the reports no rollup can
//! hold (grouped or filtered by a customer trait or the account). A trait belongs to the customer
//! as the identity graph stands when the report runs, so those reports resolve every answer's
//! respondent; SQLite has no hash join, and doing it in SQL costs index searches per answer
//! (76 s for 4,000,000 answers, BENCHMARKS.md). Here each answer is a small row in memory and
//! each respondent's customer and trait values are looked up once per report.
//!
//! Kept current without missing anything: SQLite has one writer, so row ids and event sequence
//! numbers grow in commit order. Each report first reads the newest response row id and event
//! sequence number, loads the answers up to that row id, and re-resolves the customers the events
//! up to that number touched (every merge and trait change comes from an ingested event); an
//! undone merge (an admin action, not an event) re-resolves everyone. The conformance suite
//! compares the index with the raw answers.

use std::collections::HashMap;
use std::sync::Arc;

use rapport_core::ids::WorkspaceId;
use rapport_core::metrics::query::{Dimension, MAX_GROUP_BYS, MetricQuery, day_of_ms};
use rapport_core::metrics::report::TallyRow;
use rusqlite::Connection;
// FxHash, not the standard SipHash: a report hashes every respondent and every answer it counts
// (millions), and the keys are the store's own (ids and blind indexes), not an attacker's.
use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::Mutex;

use crate::StoreError;
use crate::sqlite::SqlBackend;
use crate::sqlite_reader::SqliteReader;

/// Labels and keys interned as numbers.
#[derive(Debug, Default)]
struct Interner {
    ids: FxHashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.to_owned(), id);
        self.names.push(name.to_owned());
        id
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }
}

/// One dimension's (a trait's or the account's) value per customer (root).
type Values = FxHashMap<String, String>;

/// "No value" in a label column.
const NONE: u32 = u32::MAX;

/// One scored answer.
#[derive(Debug, Clone, Copy)]
struct Fact {
    day: i32,
    score: i16,
    survey: u32,
    question: u32,
    dimension: u32,
    channel: u32,
    touchpoint: u32,
    agent: u32,
    respondent: u32,
}

impl Fact {
    fn label(&self, dimension: &Dimension) -> u32 {
        match dimension {
            Dimension::Survey => self.survey,
            Dimension::Question => self.question,
            Dimension::ServiceDimension => self.dimension,
            Dimension::Channel => self.channel,
            Dimension::Touchpoint | Dimension::JourneyStage => self.touchpoint,
            Dimension::Agent => self.agent,
            Dimension::Account | Dimension::Trait(_) => NONE,
        }
    }
}

#[derive(Debug, Default)]
struct WorkspaceIndex {
    loaded: bool,
    responses_through: i64,
    events_through: i64,
    undone_merges: i64,
    labels: Interner,
    respondents: Interner,
    /// Per respondent, the customer (root) its identity belongs to now.
    root_of: Vec<Option<String>>,
    /// The answers, by question type (a report reads one type).
    facts: FxHashMap<u32, Vec<Fact>>,
    /// Per dimension read so far (a trait or the account): root → value.
    values: HashMap<Dimension, Values>,
}

/// The customers whose trait and account values a refresh must read again.
enum Stale {
    /// Everyone (the first load, or after an undone merge).
    Everyone,
    /// The customers (roots) the new events touched.
    Roots(Vec<String>),
}

impl WorkspaceIndex {
    fn label(&mut self, value: Option<&str>) -> u32 {
        value.map_or(NONE, |value| self.labels.id(value))
    }

    /// Brings the index up to what is committed now.
    async fn refresh(
        &mut self,
        sql: &SqlBackend,
        reader: &SqliteReader,
        workspace: &WorkspaceId,
    ) -> Result<(), StoreError> {
        // The rows go through rusqlite in one blocking call (`sqlite_reader.rs`): through sqlx,
        // building the index for 22,000,000 answers took 207-305 s, nearly all of it handing rows
        // across threads. The index moves into the call and back; while it is out, this
        // workspace's lock is held, so no report sees it half-built, and a failed read leaves it
        // empty (the next report builds it again).
        let mut index = std::mem::take(self);
        let id = workspace.as_str().to_owned();
        let (index, stale) = reader
            .read(move |connection| {
                let stale = index.read_rows(connection, &id)?;
                Ok((index, stale))
            })
            .await?;
        *self = index;
        let dimensions: Vec<Dimension> = self.values.keys().cloned().collect();
        for dimension in dimensions {
            match &stale {
                Stale::Everyone => {
                    let values = sql.customer_values(workspace, &dimension, None).await?;
                    self.values.insert(dimension, values.into_iter().collect());
                }
                Stale::Roots(touched) => {
                    let mut fresh = Values::default();
                    for chunk in touched.chunks(10_000) {
                        fresh.extend(sql.customer_values(workspace, &dimension, Some(chunk.to_vec())).await?);
                    }
                    if let Some(values) = self.values.get_mut(&dimension) {
                        for root in touched {
                            match fresh.remove(root) {
                                Some(value) => values.insert(root.clone(), value),
                                None => values.remove(root),
                            };
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads the answers stored since the last refresh and resolves respondents to their
    /// customers as the graph stands, in one read transaction (one snapshot); says whose values
    /// are stale.
    fn read_rows(&mut self, connection: &Connection, workspace: &str) -> rusqlite::Result<Stale> {
        let snapshot = connection.unchecked_transaction()?;
        let responses_mark: i64 =
            connection.query_row("SELECT COALESCE(MAX(rowid), 0) FROM survey_responses", [], |row| row.get(0))?;
        let events_mark: i64 =
            connection.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |row| row.get(0))?;
        let undone: i64 = connection.query_row(
            "SELECT COUNT(*) FROM merges WHERE workspace_id = $1 AND undone_at IS NOT NULL",
            [workspace],
            |row| row.get(0),
        )?;
        let resolve_everyone = !self.loaded || undone != self.undone_merges;

        let mut unresolved: Vec<String> = Vec::new();
        let mut statement = connection.prepare(
            "SELECT r.identity_key, r.submitted_at, r.survey_id, a.question_type, a.question_id, a.dimension, \
             r.channel, r.touchpoint, r.agent, a.score FROM survey_responses r JOIN survey_answers a ON a.response_id = r.id \
             WHERE r.workspace_id = $1 AND r.rowid > $2 AND r.rowid <= $3 AND a.score IS NOT NULL",
        )?;
        let mut rows = statement.query(rusqlite::params![workspace, self.responses_through, responses_mark])?;
        while let Some(row) = rows.next()? {
            // Borrowed from the row: a string is copied only the first time it is seen.
            let text = |column: usize| -> rusqlite::Result<Option<&str>> {
                row.get_ref(column)?.as_str_or_null().map_err(|error| {
                    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(error))
                })
            };
            let identity_key = text(0)?.unwrap_or_default();
            let respondent = match self.respondents.get(identity_key) {
                Some(respondent) => respondent,
                None => {
                    self.root_of.push(None);
                    unresolved.push(identity_key.to_owned());
                    self.respondents.id(identity_key)
                }
            };
            let submitted_at: i64 = row.get(1)?;
            let score: i64 = row.get(9)?;
            let question_type = self.label(text(3)?);
            let fact = Fact {
                day: day_of_ms(submitted_at) as i32,
                score: score as i16,
                survey: self.label(text(2)?),
                question: self.label(text(4)?),
                dimension: self.label(text(5)?),
                channel: self.label(text(6)?),
                touchpoint: self.label(text(7)?),
                agent: self.label(text(8)?),
                respondent,
            };
            self.facts.entry(question_type).or_default().push(fact);
        }
        drop(rows);
        drop(statement);
        self.responses_through = responses_mark;

        let stale = if resolve_everyone {
            self.root_of.iter_mut().for_each(|root| *root = None);
            let mut statement = connection.prepare(
                "SELECT i.identity_key, c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
                 WHERE i.workspace_id = $1",
            )?;
            let mut rows = statement.query([workspace])?;
            while let Some(row) = rows.next()? {
                let identity_key: &str = row.get_ref(0)?.as_str()?;
                if let Some(respondent) = self.respondents.get(identity_key) {
                    self.root_of[respondent as usize] = Some(row.get(1)?);
                }
            }
            Stale::Everyone
        } else {
            // The customers the new events touched: their identities may have moved to another
            // root (a merge) and their traits or account may have changed.
            let touched: Vec<String> = connection
                .prepare(
                    "SELECT DISTINCT c.root_id FROM events e JOIN identities i ON i.workspace_id = e.workspace_id \
                     AND i.identity_key = CASE WHEN e.user_id IS NOT NULL THEN 'userId:' || e.user_id \
                     ELSE 'anonymousId:' || e.anonymous_id END JOIN customers c ON c.id = i.customer_id \
                     WHERE e.workspace_id = $1 AND e.seq > $2 AND e.seq <= $3",
                )?
                .query_map(rusqlite::params![workspace, self.events_through, events_mark], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            for (of, values) in [(Of::Customers, &touched), (Of::Keys, &unresolved)] {
                for chunk in values.chunks(10_000) {
                    for (identity_key, root) in identity_roots(connection, workspace, of, chunk)? {
                        if let Some(respondent) = self.respondents.get(&identity_key) {
                            self.root_of[respondent as usize] = Some(root);
                        }
                    }
                }
            }
            Stale::Roots(touched)
        };
        snapshot.commit()?;
        self.loaded = true;
        self.events_through = events_mark;
        self.undone_merges = undone;
        Ok(stale)
    }

    /// Loads a trait's or the account's values the first time a report reads them.
    async fn ensure_values(
        &mut self,
        sql: &SqlBackend,
        workspace: &WorkspaceId,
        dimension: &Dimension,
    ) -> Result<(), StoreError> {
        if !self.values.contains_key(dimension) {
            let values = sql.customer_values(workspace, dimension, None).await?;
            self.values.insert(dimension.clone(), values.into_iter().collect());
        }
        Ok(())
    }

    /// What `SqlBackend::answer_tallies` returns from the raw answers, from memory.
    fn tallies(&self, question_type: &str, query: &MetricQuery, surveys: Option<&[String]>) -> Vec<TallyRow> {
        let Some(question_type) = self.labels.get(question_type) else { return Vec::new() };
        let (from_day, to_day) = query.read_range();
        let surveys: Option<FxHashSet<u32>> =
            surveys.map(|surveys| surveys.iter().filter_map(|survey| self.labels.get(survey)).collect());
        let overall_only = !query.reads_service_dimensions();
        let is_customer_dimension =
            |dimension: &Dimension| matches!(dimension, Dimension::Account | Dimension::Trait(_));
        // Label filters as sets of label ids; customer filters as sets of values.
        let label_filters: Vec<(&Dimension, FxHashSet<u32>)> = query
            .filters
            .iter()
            .filter(|filter| !is_customer_dimension(&filter.dimension))
            .map(|filter| {
                (&filter.dimension, filter.values.iter().filter_map(|value| self.labels.get(value)).collect())
            })
            .collect();
        // Each customer dimension's values, looked up once, not per respondent.
        let values_of = |dimension: &Dimension| self.values.get(dimension);
        let customer_filters: Vec<(Option<&Values>, &[String])> = query
            .filters
            .iter()
            .filter(|filter| is_customer_dimension(&filter.dimension))
            .map(|filter| (values_of(&filter.dimension), filter.values.as_slice()))
            .collect();
        let customer_dimensions: Vec<Option<&Values>> =
            query.dimensions.iter().filter(|dimension| is_customer_dimension(dimension)).map(values_of).collect();
        // Per respondent: whether it passes the customer filters, and its customer values in
        // the query's order (interned as one tuple; a query has at most `MAX_GROUP_BYS` dimensions).
        let mut tuple_ids: FxHashMap<[Option<&str>; MAX_GROUP_BYS], u32> = FxHashMap::default();
        let mut tuples: Vec<[Option<&str>; MAX_GROUP_BYS]> = Vec::new();
        let mut respondent_tuple: Vec<Option<u32>> = Vec::with_capacity(self.respondents.names.len());
        for root in &self.root_of {
            let value = |values| value_of(values, root.as_deref());
            let passes = customer_filters
                .iter()
                .all(|(values, allowed)| value(*values).is_some_and(|value| allowed.iter().any(|one| one == value)));
            if !passes {
                respondent_tuple.push(None);
                continue;
            }
            let mut key = [None; MAX_GROUP_BYS];
            for (slot, values) in key.iter_mut().zip(&customer_dimensions) {
                *slot = value(*values);
            }
            let id = *tuple_ids.entry(key).or_insert_with(|| {
                tuples.push(key);
                tuples.len() as u32 - 1
            });
            respondent_tuple.push(Some(id));
        }
        let mut counts: FxHashMap<(i32, [u32; MAX_GROUP_BYS], u32, i16), u64> = FxHashMap::default();
        for fact in self.facts.get(&question_type).map(Vec::as_slice).unwrap_or_default() {
            if (fact.day as i64) < from_day || (fact.day as i64) > to_day {
                continue;
            }
            if overall_only && fact.dimension != NONE {
                continue;
            }
            if surveys.as_ref().is_some_and(|surveys| !surveys.contains(&fact.survey)) {
                continue;
            }
            if !label_filters.iter().all(|(dimension, allowed)| allowed.contains(&fact.label(dimension))) {
                continue;
            }
            let Some(tuple) = respondent_tuple[fact.respondent as usize] else { continue };
            let mut labels = [NONE; MAX_GROUP_BYS];
            for (slot, dimension) in labels.iter_mut().zip(&query.dimensions) {
                *slot = fact.label(dimension);
            }
            *counts.entry((fact.day, labels, tuple, fact.score)).or_default() += 1;
        }
        let label_name = |id: u32| (id != NONE).then(|| self.labels.names[id as usize].clone());
        counts
            .into_iter()
            .map(|((day, labels, tuple, score), count)| {
                let mut customer = tuples[tuple as usize].iter().map(|value| value.map(str::to_owned));
                let values =
                    query
                        .dimensions
                        .iter()
                        .zip(labels)
                        .map(|(dimension, label)| {
                            if is_customer_dimension(dimension) { customer.next().flatten() } else { label_name(label) }
                        })
                        .collect();
                TallyRow { day: day as i64, values, score: score as i64, count }
            })
            .collect()
    }
}

/// A customer's value in one dimension's values (none for a respondent no customer holds).
fn value_of<'a>(values: Option<&'a Values>, root: Option<&str>) -> Option<&'a str> {
    values?.get(root?).map(String::as_str)
}

/// Which identities `identity_roots` reads.
#[derive(Clone, Copy)]
enum Of {
    /// Every identity of these customers (roots).
    Customers,
    /// These identity keys, where they exist.
    Keys,
}

/// (identity key, root) of the identities `of` names.
fn identity_roots(
    connection: &Connection,
    workspace: &str,
    of: Of,
    values: &[String],
) -> rusqlite::Result<Vec<(String, String)>> {
    // Each through its index: customers by (workspace, root), identities by (workspace, key).
    let sql = match of {
        Of::Customers => {
            "SELECT i.identity_key, c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
             WHERE c.workspace_id = $1 AND c.root_id IN (SELECT value FROM json_each($2))"
        }
        Of::Keys => {
            "SELECT i.identity_key, c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
             WHERE i.workspace_id = $1 AND i.identity_key IN (SELECT value FROM json_each($2))"
        }
    };
    let values = serde_json::Value::from(values.to_vec()).to_string();
    connection
        .prepare_cached(sql)?
        .query_map(rusqlite::params![workspace, values], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect()
}

const ON_DEMAND: u8 = 0;
const BUILDING: u8 = 1;
const BUILT: u8 = 2;

/// The indexes of every workspace a report has read, each behind its own lock: building one
/// workspace's index never holds up another's reports.
#[derive(Debug, Default)]
pub struct AnswerIndex {
    workspaces: std::sync::Mutex<HashMap<WorkspaceId, Arc<Mutex<WorkspaceIndex>>>>,
    /// Whether every workspace's index was built ahead (`warm_all`): `ON_DEMAND`, `BUILDING` or
    /// `BUILT`.
    warmed: std::sync::atomic::AtomicU8,
}

impl AnswerIndex {
    /// Drops what is held for `workspace` (deleted: its row ids start again).
    pub fn forget(&self, workspace: &WorkspaceId) {
        if let Ok(mut workspaces) = self.workspaces.lock() {
            workspaces.remove(workspace);
        }
    }

    /// Builds (or brings up to date) every one of `workspaces`' indexes now, so the first report
    /// that needs one does not wait for it: reports asked for meanwhile wait on the same lock, then
    /// find it built.
    pub async fn warm_all(
        &self,
        sql: &SqlBackend,
        reader: &SqliteReader,
        workspaces: &[WorkspaceId],
    ) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        self.warmed.store(BUILDING, Ordering::Relaxed);
        for workspace in workspaces {
            if let Err(error) = self.warm(sql, reader, workspace).await {
                self.warmed.store(ON_DEMAND, Ordering::Relaxed);
                return Err(error);
            }
        }
        self.warmed.store(BUILT, Ordering::Relaxed);
        Ok(())
    }

    /// `building` while `warm_all` runs, `built` after it, `on demand` otherwise (each report
    /// builds what it needs).
    pub fn state(&self) -> &'static str {
        match self.warmed.load(std::sync::atomic::Ordering::Relaxed) {
            BUILDING => "building",
            BUILT => "built",
            _ => "on demand",
        }
    }

    async fn warm(&self, sql: &SqlBackend, reader: &SqliteReader, workspace: &WorkspaceId) -> Result<(), StoreError> {
        let index = {
            let mut workspaces = self.workspaces.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            workspaces.entry(workspace.clone()).or_default().clone()
        };
        index.lock().await.refresh(sql, reader, workspace).await
    }

    /// Counts of the scored answers of `question_type` as `SqlBackend::answer_tallies` returns
    /// them from the raw answers, for a query no rollup grain holds (traits, accounts, agent
    /// with channel or touchpoint).
    pub async fn tallies(
        &self,
        sql: &SqlBackend,
        reader: &SqliteReader,
        workspace: &WorkspaceId,
        question_type: &str,
        query: &MetricQuery,
        surveys: Option<&[String]>,
    ) -> Result<Vec<TallyRow>, StoreError> {
        let index = {
            let mut workspaces = self.workspaces.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            workspaces.entry(workspace.clone()).or_default().clone()
        };
        let mut index = index.lock().await;
        index.refresh(sql, reader, workspace).await?;
        for dimension in query.dimensions_read() {
            if matches!(dimension, Dimension::Account | Dimension::Trait(_)) {
                index.ensure_values(sql, workspace, dimension).await?;
            }
        }
        Ok(index.tallies(question_type, query, surveys))
    }
}
