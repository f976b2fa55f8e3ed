//! What the store returns: plain records, free of any driver type.

use rapport_core::auth::Role;
use rapport_core::ids::{CustomerId, MergeId, WorkspaceId};
use rapport_core::survey::SurveyDefinition;
use rapport_core::survey_answers::Answer;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub role: Role,
    pub display_prefix: String,
    pub created_at_ms: i64,
}

/// What one ingestion request stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReceipt {
    /// Events stored now.
    pub accepted: usize,
    /// Events already stored before (same `messageId`), including repeats within the request.
    pub duplicates: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdentityRecord {
    pub kind: String,
    pub value: String,
    /// The graph node that holds the identity (the customer's own id unless merged in).
    pub node: CustomerId,
    pub first_seen_ms: i64,
    pub message_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraitRecord {
    pub key: String,
    pub value: Value,
    pub channel: String,
    pub updated_at_ms: i64,
    pub message_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelUsage {
    pub channel: String,
    pub events: i64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// One customer as the API shows it: the root of a component of the identity graph.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerProfile {
    pub id: CustomerId,
    pub created_at_ms: i64,
    /// Graph nodes merged into this customer (its own id included).
    pub nodes: Vec<CustomerId>,
    pub identities: Vec<IdentityRecord>,
    /// The latest value of each trait across the customer's nodes.
    pub traits: Vec<TraitRecord>,
    pub channels: Vec<ChannelUsage>,
}

impl CustomerProfile {
    pub fn first_seen_ms(&self) -> Option<i64> {
        self.channels.iter().map(|usage| usage.first_seen_ms).min()
    }

    pub fn last_seen_ms(&self) -> Option<i64> {
        self.channels.iter().map(|usage| usage.last_seen_ms).max()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub seq: i64,
    pub event_type: String,
    pub name: Option<String>,
    pub channel: String,
    pub timestamp_ms: i64,
    pub received_at_ms: i64,
    pub message_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub group_id: Option<String>,
    pub properties: Value,
    pub traits: Value,
    pub context: Value,
}

/// An event as stored, whole (exports).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_type: String,
    pub name: Option<String>,
    pub channel: String,
    pub timestamp_ms: i64,
    pub message_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub group_id: Option<String>,
    pub previous_id: Option<String>,
    pub properties: Value,
    pub traits: Value,
    pub context: Value,
    pub extra: Value,
}

/// Where a timeline page ends: the next page starts strictly after (older than) this entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineCursor {
    pub timestamp_ms: i64,
    pub seq: i64,
}

impl TimelineCursor {
    pub fn encode(self) -> String {
        format!("{}_{}", self.timestamp_ms, self.seq)
    }

    pub fn decode(text: &str) -> Option<TimelineCursor> {
        let (timestamp, seq) = text.split_once('_')?;
        Some(TimelineCursor { timestamp_ms: timestamp.parse().ok()?, seq: seq.parse().ok()? })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimelinePage {
    pub entries: Vec<TimelineEntry>,
    pub next_cursor: Option<TimelineCursor>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MergeRecord {
    pub id: MergeId,
    pub survivor: CustomerId,
    pub absorbed: CustomerId,
    /// `merged` or `refused`.
    pub outcome: String,
    /// `identity_shared`, or the refusal's code.
    pub reason: String,
    pub explanation: String,
    pub via_identity: String,
    pub message_id: String,
    pub event_type: String,
    pub created_at_ms: i64,
    pub undone_at_ms: Option<i64>,
}

/// The customers a merge undo leaves behind.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoneMerge {
    pub merge: MergeRecord,
    pub survivor_root: CustomerId,
    pub absorbed_root: CustomerId,
}

/// One version of a survey: versions are immutable, so a response's version says exactly what it
/// answered.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyRecord {
    pub id: String,
    pub version: i64,
    /// The survey's newest version (the one new responses answer unless they name another).
    pub current_version: i64,
    pub definition: SurveyDefinition,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A response to store, its answers already checked against its version.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResponse {
    pub survey_id: String,
    pub version: i64,
    /// The respondent's identity key (`email:jane@example.com`).
    pub identity_key: String,
    pub channel: Option<String>,
    pub touchpoint: Option<String>,
    pub agent: Option<String>,
    pub submitted_at_ms: i64,
    pub received_at_ms: i64,
    pub idempotency_key: Option<String>,
    pub answers: Vec<Answer>,
    /// The open-text answers as feedback items (redacted and analysed by the caller), stored in
    /// the response's transaction.
    pub feedback: Vec<crate::feedback_records::NewFeedback>,
    /// The invitation this response answers (hosted page, widget): marked `responded` in the
    /// response's transaction, when the response is new.
    pub invitation: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRecord {
    pub id: String,
    pub survey_id: String,
    pub version: i64,
    pub identity_key: String,
    pub channel: Option<String>,
    pub touchpoint: Option<String>,
    pub agent: Option<String>,
    pub submitted_at_ms: i64,
    pub received_at_ms: i64,
    pub answers: Vec<StoredAnswer>,
}

/// One stored answer row: exactly one of `score`, `choice` and `text` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    pub question: String,
    pub question_type: String,
    pub dimension: Option<String>,
    pub score: Option<i64>,
    pub choice: Option<String>,
    pub text: Option<String>,
}

/// Where a page of responses ends: pass it back to continue after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseCursor {
    pub submitted_at_ms: i64,
    pub id: String,
}

impl ResponseCursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.submitted_at_ms, self.id)
    }

    pub fn decode(text: &str) -> Option<ResponseCursor> {
        let (submitted_at, id) = text.split_once('_')?;
        Some(ResponseCursor { submitted_at_ms: submitted_at.parse().ok()?, id: id.to_owned() })
            .filter(|cursor| !cursor.id.is_empty())
    }
}

/// An invitation to create when a trigger fires; one per (survey, triggering event).
#[derive(Debug, Clone, PartialEq)]
pub struct NewInvitation {
    pub survey_id: String,
    pub version: i64,
    pub identity_key: String,
    pub channel: String,
    pub trigger_message_id: String,
    pub due_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvitationRecord {
    pub id: String,
    pub workspace_id: WorkspaceId,
    pub survey_id: String,
    pub version: i64,
    pub identity_key: String,
    pub customer_id: Option<CustomerId>,
    pub channel: String,
    pub address: Option<String>,
    /// `pending`, `dispatching`, `sent`, `responded`, `suppressed` or `failed`.
    pub state: String,
    /// For a suppression or a failure: a stable code, and a sentence.
    pub reason: Option<String>,
    pub explanation: Option<String>,
    pub trigger_message_id: String,
    pub due_at_ms: i64,
    pub created_at_ms: i64,
    pub sent_at_ms: Option<i64>,
    pub responded_at_ms: Option<i64>,
    /// When the one reminder is due (e-mail invitations whose survey asks for one).
    pub remind_at_ms: Option<i64>,
    pub reminded_at_ms: Option<i64>,
}

/// How a due invitation ended.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationOutcome {
    /// `sent`, `suppressed` or `failed`.
    pub state: &'static str,
    pub customer_id: Option<CustomerId>,
    pub address: Option<String>,
    pub reason: Option<String>,
    pub explanation: Option<String>,
    pub at_ms: i64,
    /// For a sent invitation: when its reminder is due, if it gets one.
    pub remind_at_ms: Option<i64>,
}

/// What a contact decision reads about one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactSubject {
    pub root: CustomerId,
    /// `kind:value` of every identity the customer holds.
    pub identity_keys: Vec<String>,
    /// Only `email`, `phone`, `unsubscribed` and `consent`, each at its latest value.
    pub traits: serde_json::Map<String, Value>,
}

/// Everything a contact decision reads about the identity it is asked about, in one read: the
/// customer holding it (none for an identity the graph does not know yet), the invitations sent
/// to that customer or to the identity, when either last answered a survey, and the consent
/// statements made as any of the customer's identities.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactFacts {
    pub subject: Option<ContactSubject>,
    pub invitations: Vec<rapport_core::contact_policy::PastInvitation>,
    pub last_response_ms: Option<i64>,
    /// Oldest first, as `rapport_core::privacy::deciding` reads them.
    pub consents: Vec<rapport_core::privacy::ConsentChoice>,
}

/// Where metric counts are read from: the fastest source that holds every dimension the query
/// reads (the daily rollup, else the raw answers), or always the raw answers (the reference the
/// rollup is tested against, and the benchmark's baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TallySource {
    Fastest,
    RawAnswers,
}

/// Where a report's answer counts come from (`Store::tally_path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TallyPath {
    Rollup(RollupGrain),
    /// SQLite's in-memory answer index.
    Index,
    /// SQL over the raw answers.
    Answers,
}

impl TallyPath {
    /// As reports name it in `source`.
    pub fn name(self) -> &'static str {
        match self {
            TallyPath::Rollup(_) => "rollup",
            TallyPath::Index => "index",
            TallyPath::Answers => "answers",
        }
    }
}

/// The rollup's two grains: by channel and touchpoint, or by agent (each also by day, survey,
/// question, CSAT dimension and score).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupGrain {
    Channel,
    Agent,
}

impl RollupGrain {
    pub fn name(self) -> &'static str {
        match self {
            RollupGrain::Channel => "channel",
            RollupGrain::Agent => "agent",
        }
    }
}
