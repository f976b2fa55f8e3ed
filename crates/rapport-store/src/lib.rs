//! Rapport's storage boundary: one [`Store`] handle, chosen once from the database URL, over
//! SQLite (embedded, the default) or PostgreSQL (scale-out).
//!
//! Architecture invariant: all SQL lives in this crate. Callers see records and [`StoreError`],
//! never a driver type. Both backends run the same statements (`sql_backend.rs`, `sql_surveys.rs`) against their own
//! migrations, and one conformance suite (`tests/conformance`) runs every test on both.

mod answer_index;

/// Statements slower than this are logged as warnings. Whole-workspace reads (journey visits,
/// churn rates and features, the answer index) stream for seconds by design: sqlx's default of
/// one second filled a new user's log with warnings at every start.
const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(60);
pub mod case_records;
mod contact_reads;
pub mod feedback_records;
mod ingest_queue;
pub mod journey_records;
mod postgres;
pub mod prediction_records;
pub mod privacy_records;
pub mod records;
mod sqlite;
mod sqlite_reader;
mod sqlite_writer;
pub mod testing;
pub mod trust_records;
pub mod webhook_records;

use std::sync::Arc;

use rapport_core::contact_policy::ContactPolicy;
use rapport_core::event::Event;
use rapport_core::identity::Identity;
use rapport_core::ids::{CustomerId, MergeId, WorkspaceId};
use rapport_core::metrics::query::{Dimension, MetricQuery};
use rapport_core::metrics::report::TallyRow;
use rapport_core::metrics::settings::MetricSettings;
use rapport_core::resolution::ResolutionSettings;
use rapport_core::sealing::Keyring;
use rapport_core::survey::SurveyDefinition;
use tokio::sync::{mpsc, oneshot};

use crate::ingest_queue::IngestJob;
use crate::records::{
    CustomerProfile, IngestReceipt, MergeRecord, NewResponse, ResponseCursor, ResponseRecord, RollupGrain,
    SurveyRecord, TallyPath, TallySource, TimelineCursor, TimelinePage, UndoneMerge, Workspace,
};

/// A failure of the database, as callers need to tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded: worth retrying.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a broken database.
    #[error("database error: {0}")]
    Internal(String),
    #[error("unsupported database URL `{0}`: expected sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The database was written with another index key.
    #[error(
        "this database was written with other keys (index key fingerprint {stored}; these keys' is {given}): \
         start Rapport with the keys it was written with (RAPPORT_DATA_KEYS, or the data directory's keys.json)"
    )]
    WrongKeys { stored: String, given: String },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        let busy = matches!(&error, sqlx::Error::Database(database) if database.code().as_deref() == Some("5"));
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(error.to_string())
            }
            _ if busy => StoreError::Unavailable(error.to_string()),
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> StoreError {
        StoreError::Internal(format!("migration failed: {error}"))
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    rapport_core::resolution::millis(time::OffsetDateTime::now_utc())
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    /// The backend a URL names, if any.
    pub fn of_url(url: &str) -> Option<BackendKind> {
        if url.starts_with("sqlite:") {
            Some(BackendKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(BackendKind::Postgres)
        } else {
            None
        }
    }
}

/// The events of one ingestion request, validated, for one workspace.
#[derive(Debug, Clone)]
pub struct IngestBatch {
    pub workspace: WorkspaceId,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub resolution: ResolutionSettings,
    /// The keys personal data is sealed with (`sealing.rs`). A database remembers which index key
    /// it was written with and refuses others.
    pub keys: Arc<Keyring>,
}

impl Default for StoreOptions {
    /// Fresh keys: for a database used once (tests, benchmarks); reopening it needs the same keys.
    fn default() -> StoreOptions {
        StoreOptions { resolution: ResolutionSettings::default(), keys: Arc::new(sealing::generate_keyring()) }
    }
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(sqlite::SqlBackend),
    Postgres(postgres::SqlBackend),
}

/// Runs the same call on whichever backend the store holds.
macro_rules! dispatch {
    ($backend:expr, $sql:ident => $call:expr) => {
        match $backend {
            Backend::Sqlite($sql) => $call,
            Backend::Postgres($sql) => $call,
        }
    };
}

mod case_store;
mod feedback_store;
mod invitation_store;
mod journey_store;
mod prediction_store;
mod privacy_store;
pub mod sealing;
mod trust_store;
mod webhook_store;

/// What became of a request to undo a merge.
#[derive(Debug, Clone, PartialEq)]
pub enum UndoOutcome {
    Undone(UndoneMerge),
    NotFound,
    /// The merge exists but was refused or is already undone.
    NotUndoable(MergeRecord),
}

/// The handle to Rapport's database. Cheap to clone; all clones share one pool and one ingest queue.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<StoreInner>,
}

#[derive(Debug)]
struct StoreInner {
    backend: Backend,
    kind: BackendKind,
    ingest: mpsc::Sender<IngestJob>,
    /// SQLite's ingest connection, for the benchmark's raw inserts.
    sqlite_writer: Option<sqlite_writer::SqliteWriter>,
    /// SQLite's reads through rusqlite (`sqlite_reader.rs`).
    sqlite_reader: Option<sqlite_reader::SqliteReader>,
    /// SQLite: scored answers in memory for the reports no rollup holds (`answer_index.rs`).
    answer_index: answer_index::AnswerIndex,
    /// What personal data is sealed with (`sealing.rs`).
    keys: Arc<Keyring>,
}

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://…`), runs that backend's migrations and
    /// starts the ingest queue's writer task.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let kind = BackendKind::of_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
        let (backend, writer, sqlite_reader) = match kind {
            BackendKind::Sqlite => {
                let (sql, path) = sqlite::connect(url).await.map_err(connect_error)?;
                let writer = sqlite_writer::SqliteWriter::open(&path, sql.write_pool.clone())?;
                let reader = sqlite_reader::SqliteReader::new(&path);
                (Backend::Sqlite(sql), ingest_queue::Writer::Sqlite(writer), Some(reader))
            }
            BackendKind::Postgres => {
                let sql = postgres::connect(url).await.map_err(connect_error)?;
                (Backend::Postgres(sql.clone()), ingest_queue::Writer::Postgres(sql), None)
            }
        };
        let sqlite_writer = match &writer {
            ingest_queue::Writer::Sqlite(sqlite) => Some(sqlite.clone()),
            ingest_queue::Writer::Postgres(_) => None,
        };
        let ingest = ingest_queue::start(writer, options.resolution, options.keys.clone());
        let answer_index = answer_index::AnswerIndex::default();
        let keys = options.keys;
        let store = Store {
            inner: Arc::new(StoreInner { backend, kind, ingest, sqlite_writer, sqlite_reader, answer_index, keys }),
        };
        store.check_keys().await?;
        Ok(store)
    }

    pub fn kind(&self) -> BackendKind {
        self.inner.kind
    }

    fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// SQLite's rusqlite readers (`sqlite_reader.rs`); every SQLite store has them.
    fn sqlite_reader(&self) -> Result<&sqlite_reader::SqliteReader, StoreError> {
        self.inner
            .sqlite_reader
            .as_ref()
            .ok_or_else(|| StoreError::Internal("no SQLite reader on this store".to_owned()))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.ping().await)?)
    }

    /// Closes the pool: in-flight ingestion finishes first (callers hold their replies).
    pub async fn close(&self) {
        dispatch!(self.backend(), sql => {
            sql.write_pool.close().await;
            sql.pool.close().await
        })
    }

    // ---- workspaces and keys ----

    /// The workspace called `name`, created if it does not exist.
    pub async fn ensure_workspace(&self, name: &str) -> Result<Workspace, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.ensure_workspace(name).await)?)
    }

    /// Deletes the workspace `name` with everything in it (its keys too), in one transaction;
    /// false when there is none. For replacing a generated workspace (`rapport demo`): events of
    /// it still queued for ingestion would land in a workspace that no longer exists.
    pub async fn delete_workspace(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = dispatch!(self.backend(), sql => sql.delete_workspace(name).await)?;
        if let Some(workspace) = &deleted {
            self.inner.answer_index.forget(workspace);
        }
        Ok(deleted.is_some())
    }

    /// The workspace's events in the order they were stored, `limit` after sequence number
    /// `after` (0 for the first page).
    pub async fn events_after(
        &self,
        workspace: &WorkspaceId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<records::StoredEvent>, StoreError> {
        let mut events = dispatch!(self.backend(), sql => sql.events_after(workspace, after, limit).await)?;
        let sealing = self.sealing(workspace);
        for event in &mut events {
            sealing.open_event(&mut event.properties, &mut event.traits, &mut event.context)?;
            sealing.open_document(&mut event.extra, rapport_core::sealing::Fields::Properties)?;
        }
        Ok(events)
    }

    /// SQLite: builds every workspace's answer index (`answer_index.rs`) now, for a server to run
    /// in the background at start, so no one's first trait or account report waits for it.
    /// PostgreSQL runs those reports in SQL and has nothing to build.
    pub async fn warm_answer_indexes(&self) -> Result<usize, StoreError> {
        let Backend::Sqlite(sql) = self.backend() else { return Ok(0) };
        let workspaces = self.workspace_ids().await?;
        self.inner.answer_index.warm_all(sql, self.sqlite_reader()?, &workspaces).await?;
        Ok(workspaces.len())
    }

    /// What `/readyz` says of the answer indexes: `not used` (PostgreSQL), `building`, `built`,
    /// or `on demand` (not built ahead: each report builds what it needs).
    pub fn answer_indexes(&self) -> &'static str {
        match self.kind() {
            BackendKind::Postgres => "not used",
            BackendKind::Sqlite => self.inner.answer_index.state(),
        }
    }

    /// Every customer's (root's) latest value of each trait, as `customer_profile` shows them.
    pub async fn latest_traits(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, records::TraitRecord>>, StoreError>
    {
        let mut latest = dispatch!(self.backend(), sql => sql.latest_traits(workspace).await)?;
        let sealing = self.sealing(workspace);
        for record in latest.values_mut().flat_map(|traits| traits.values_mut()) {
            record.value = sealing.open_trait(&record.value)?;
        }
        Ok(latest)
    }

    /// How many rows the workspace has in each table that holds its rows.
    pub async fn workspace_rows(&self, workspace: &WorkspaceId) -> Result<Vec<(&'static str, i64)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.workspace_rows(workspace).await)?)
    }

    pub async fn workspace_by_name(&self, name: &str) -> Result<Option<Workspace>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.workspace_by_name(name).await)?)
    }

    // ---- ingestion ----

    /// Stores a batch durably and resolves its identities. Returns once the batch is committed.
    pub async fn ingest(&self, batch: IngestBatch) -> Result<IngestReceipt, StoreError> {
        let (reply, receipt) = oneshot::channel();
        self.inner
            .ingest
            .send(IngestJob { batch, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the ingest queue has stopped".to_owned()))?;
        receipt.await.map_err(|_| StoreError::Internal("the ingest writer stopped before replying".to_owned()))?
    }

    /// Inserts events in one transaction without idempotency, identity resolution or queueing,
    /// the fastest way each backend's ingestion path can: the benchmark's ceiling. (SQLite
    /// through the ingest writer's own connection, PostgreSQL through the pool.)
    pub async fn insert_events_raw(&self, workspace: &WorkspaceId, events: &[Event]) -> Result<usize, StoreError> {
        if let Some(writer) = &self.inner.sqlite_writer {
            return writer.insert_events_raw(workspace, events).await;
        }
        Ok(dispatch!(self.backend(), sql => sql.insert_events_raw(workspace, events).await)?)
    }

    pub async fn count_events(&self, workspace: &WorkspaceId) -> Result<i64, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.count_events(workspace).await)?)
    }

    /// Every stored message id of a workspace, in storage order.
    pub async fn message_ids(&self, workspace: &WorkspaceId) -> Result<Vec<String>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.message_ids(workspace).await)?)
    }

    // ---- customers ----

    /// The customer a given id names now: itself, or the customer it was merged into.
    pub async fn resolve_customer(
        &self,
        workspace: &WorkspaceId,
        id: &CustomerId,
    ) -> Result<Option<CustomerId>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.customer_root(workspace, id).await)?)
    }

    pub async fn customer_by_identity(
        &self,
        workspace: &WorkspaceId,
        identity: &Identity,
    ) -> Result<Option<CustomerId>, StoreError> {
        let key = self.sealing(workspace).blind(&identity.key());
        Ok(dispatch!(self.backend(), sql => sql.customer_by_identity(workspace, &key).await)?)
    }

    /// The profile of the customer `id` names (following merges).
    pub async fn customer_profile(
        &self,
        workspace: &WorkspaceId,
        id: &CustomerId,
    ) -> Result<Option<CustomerProfile>, StoreError> {
        let Some(root) = self.resolve_customer(workspace, id).await? else {
            return Ok(None);
        };
        let mut profile = dispatch!(self.backend(), sql => sql.customer_profile(workspace, &root).await)?;
        if let Some(profile) = &mut profile {
            let sealing = self.sealing(workspace);
            for identity in &mut profile.identities {
                identity.value = sealing.open(sealing::IDENTITY_VALUE, &identity.value)?;
            }
            for record in &mut profile.traits {
                record.value = sealing.open_trait(&record.value)?;
            }
        }
        Ok(profile)
    }

    pub async fn timeline(
        &self,
        workspace: &WorkspaceId,
        id: &CustomerId,
        after: Option<TimelineCursor>,
        limit: usize,
    ) -> Result<Option<TimelinePage>, StoreError> {
        let Some(root) = self.resolve_customer(workspace, id).await? else {
            return Ok(None);
        };
        let mut page = dispatch!(self.backend(), sql => sql.timeline(workspace, &root, after, limit).await)?;
        let sealing = self.sealing(workspace);
        for entry in &mut page.entries {
            sealing.open_event(&mut entry.properties, &mut entry.traits, &mut entry.context)?;
        }
        Ok(Some(page))
    }

    pub async fn merges_of(
        &self,
        workspace: &WorkspaceId,
        id: &CustomerId,
    ) -> Result<Option<Vec<MergeRecord>>, StoreError> {
        let Some(root) = self.resolve_customer(workspace, id).await? else {
            return Ok(None);
        };
        let mut merges = dispatch!(self.backend(), sql => sql.merges_of(workspace, &root).await)?;
        self.reveal_records(workspace, &mut merges).await?;
        Ok(Some(merges))
    }

    pub async fn undo_merge(&self, workspace: &WorkspaceId, id: &MergeId) -> Result<UndoOutcome, StoreError> {
        if let Some(mut undone) = dispatch!(self.backend(), sql => sql.undo_merge(workspace, id).await)? {
            self.reveal_records(workspace, std::slice::from_mut(&mut undone.merge)).await?;
            return Ok(UndoOutcome::Undone(undone));
        }
        match dispatch!(self.backend(), sql => sql.merge_by_id(workspace, id).await)? {
            Some(mut merge) => {
                self.reveal_records(workspace, std::slice::from_mut(&mut merge)).await?;
                Ok(UndoOutcome::NotUndoable(merge))
            }
            None => Ok(UndoOutcome::NotFound),
        }
    }
}

/// Surveys: definitions are versioned (a version never changes once stored) and responses are
/// stored with their answers typed.
impl Store {
    pub async fn create_survey(
        &self,
        workspace: &WorkspaceId,
        definition: &SurveyDefinition,
    ) -> Result<SurveyRecord, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.create_survey(workspace, definition).await)?)
    }

    /// Adds `definition` as the survey's next version; `None` if there is no such survey.
    pub async fn add_survey_version(
        &self,
        workspace: &WorkspaceId,
        survey: &str,
        definition: &SurveyDefinition,
    ) -> Result<Option<SurveyRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.add_survey_version(workspace, survey, definition).await)?)
    }

    /// The survey at `version`, or at its current version.
    pub async fn survey(
        &self,
        workspace: &WorkspaceId,
        survey: &str,
        version: Option<i64>,
    ) -> Result<Option<SurveyRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.survey(workspace, survey, version).await)?)
    }

    pub async fn surveys(&self, workspace: &WorkspaceId) -> Result<Vec<SurveyRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.surveys(workspace).await)?)
    }

    /// Stores a response; with an idempotency key already used for the survey, returns the earlier
    /// response and `false` instead.
    pub async fn insert_response(
        &self,
        workspace: &WorkspaceId,
        response: &NewResponse,
    ) -> Result<(ResponseRecord, bool), StoreError> {
        let mut stored = response.clone();
        self.blind_records(workspace, std::slice::from_mut(&mut stored)).await?;
        let (mut record, new) = dispatch!(self.backend(), sql => sql.insert_response(workspace, &stored).await)?;
        self.reveal_records(workspace, std::slice::from_mut(&mut record)).await?;
        Ok((record, new))
    }

    /// The rollup grain that holds every dimension `query` reads, if one does: by channel and
    /// touchpoint, or by agent. Traits, accounts, and agent with channel or touchpoint are read
    /// from the raw answers.
    pub fn rollup_grain(query: &MetricQuery) -> Option<RollupGrain> {
        let holds = |grain: RollupGrain| {
            query.dimensions_read().all(|dimension| match dimension {
                Dimension::Survey | Dimension::Question | Dimension::ServiceDimension => true,
                Dimension::Channel | Dimension::Touchpoint | Dimension::JourneyStage => grain == RollupGrain::Channel,
                Dimension::Agent => grain == RollupGrain::Agent,
                Dimension::Account | Dimension::Trait(_) => false,
            })
        };
        [RollupGrain::Channel, RollupGrain::Agent].into_iter().find(|grain| holds(*grain))
    }

    /// Where `answer_tallies` reads `query`'s counts from, decided once: the rollup grain that
    /// holds the query; else, on SQLite, the in-memory answer index (no hash joins in SQLite:
    /// resolving each answer's customer in SQL costs index searches per answer); else SQL over
    /// the raw answers.
    pub fn tally_path(&self, query: &MetricQuery, source: TallySource) -> TallyPath {
        match (source, Store::rollup_grain(query), self.backend()) {
            (TallySource::Fastest, Some(grain), _) => TallyPath::Rollup(grain),
            (TallySource::Fastest, None, Backend::Sqlite(_)) => TallyPath::Index,
            _ => TallyPath::Answers,
        }
    }

    /// Counts of scored answers of `question_type` by day, `query`'s dimensions and score, over
    /// the days the query reads (see `MetricQuery::read_range`), only in `surveys` when given.
    pub async fn answer_tallies(
        &self,
        workspace: &WorkspaceId,
        question_type: &str,
        query: &MetricQuery,
        surveys: Option<&[String]>,
        source: TallySource,
    ) -> Result<Vec<TallyRow>, StoreError> {
        let grain = match (self.tally_path(query, source), self.backend()) {
            (TallyPath::Index, Backend::Sqlite(sql)) => {
                let reader = self.sqlite_reader()?;
                return self.inner.answer_index.tallies(sql, reader, workspace, question_type, query, surveys).await;
            }
            (TallyPath::Rollup(grain), _) => Some(grain),
            _ => None,
        };
        Ok(dispatch!(self.backend(), sql => sql.answer_tallies(workspace, question_type, query, surveys, grain).await)?)
    }

    /// Delivered invitations by day and `query`'s dimensions, score 1 when answered, else 0.
    pub async fn invitation_tallies(
        &self,
        workspace: &WorkspaceId,
        query: &MetricQuery,
    ) -> Result<Vec<TallyRow>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.invitation_tallies(workspace, query).await)?)
    }

    /// The workspace's metric settings; the defaults when none were saved.
    pub async fn metric_settings(&self, workspace: &WorkspaceId) -> Result<MetricSettings, StoreError> {
        let saved = dispatch!(self.backend(), sql => sql.metric_settings(workspace).await)?;
        Ok(saved.unwrap_or_else(MetricSettings::defaults))
    }

    pub async fn put_metric_settings(
        &self,
        workspace: &WorkspaceId,
        settings: &MetricSettings,
    ) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.put_metric_settings(workspace, settings).await)?)
    }

    /// Imports historical responses in one transaction, adding them to the rollup in aggregate;
    /// responses whose idempotency key the survey has seen are skipped. Returns how many were new.
    pub async fn import_responses(
        &self,
        workspace: &WorkspaceId,
        responses: &[NewResponse],
    ) -> Result<usize, StoreError> {
        let mut stored = responses.to_vec();
        self.blind_records(workspace, &mut stored).await?;
        Ok(dispatch!(self.backend(), sql => sql.import_responses(workspace, &stored).await)?)
    }

    /// Every `track` event named in `names` before `until_ms`, as (customer root, name, time).
    pub async fn customer_activity(
        &self,
        workspace: &WorkspaceId,
        names: &[String],
        until_ms: i64,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.customer_activity(workspace, names, until_ms).await)?)
    }

    /// The workspace's contact-frequency policy; the defaults until one is saved.
    pub async fn contact_policy(&self, workspace: &WorkspaceId) -> Result<ContactPolicy, StoreError> {
        let saved = dispatch!(self.backend(), sql => sql.contact_policy(workspace).await)?;
        Ok(saved.unwrap_or_default())
    }

    pub async fn put_contact_policy(&self, workspace: &WorkspaceId, policy: &ContactPolicy) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.put_contact_policy(workspace, policy).await)?)
    }

    /// Each customer's value of a trait or its account (`Dimension::Trait`, `Dimension::Account`),
    /// as (root, value); customers without one are left out.
    pub async fn customer_values(
        &self,
        workspace: &WorkspaceId,
        dimension: &Dimension,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut values = dispatch!(self.backend(), sql => sql.customer_values(workspace, dimension, None).await)?;
        if let Dimension::Trait(key) = dimension
            && rapport_core::sealing::is_sealed_trait(key)
        {
            let sealing = self.sealing(workspace);
            for (_, value) in &mut values {
                *value = match sealing.open_trait(&serde_json::Value::String(std::mem::take(value)))? {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
            }
        }
        Ok(values)
    }

    /// Refreshes the query planner's statistics; run after bulk loads (`import_responses`).
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.refresh_statistics().await)?)
    }

    /// (submitted at, question type, score) of every NPS, CSAT and CES answer filed under one of
    /// `identity_keys` (a customer's), oldest first.
    pub async fn scores_of(
        &self,
        workspace: &WorkspaceId,
        identity_keys: Vec<String>,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let keys = self.blind_keys(workspace, &identity_keys);
        Ok(dispatch!(self.backend(), sql => sql.scores_of(workspace, keys).await)?)
    }

    /// A page of a survey's responses, oldest first.
    pub async fn responses(
        &self,
        workspace: &WorkspaceId,
        survey: &str,
        after: Option<&ResponseCursor>,
        limit: usize,
    ) -> Result<Vec<ResponseRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut responses = dispatch!(self.backend(), sql => sql.responses(workspace, survey, after, limit).await)?;
        self.reveal_records(workspace, &mut responses).await?;
        Ok(responses)
    }
}

fn connect_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Migrate(migrate) => StoreError::from(*migrate),
        other => StoreError::Unavailable(format!("cannot open the database: {other}")),
    }
}
