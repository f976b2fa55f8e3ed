//! The feedback store's records: items as analysed at ingestion, topic counts, alerts and the
//! domain events that announce them.

use serde_json::Value;

/// A topic found in an item, as the counts read it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFeedbackTopic {
    pub topic: String,
    pub score: f64,
    pub label: String,
}

/// One piece of feedback, redacted and analysed, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFeedback {
    /// `direct`, `review`, `social` or `transcript`.
    pub kind: String,
    /// Where it came from: `survey`, `widget`, `interview`, `trustpilot`, `twitter`, …
    pub source: String,
    pub channel: Option<String>,
    pub touchpoint: Option<String>,
    /// The author's identity key (`email:jane@example.com`), when known: links the item to the
    /// customer who holds that identity, now or after later merges.
    pub identity_key: Option<String>,
    pub occurred_at_ms: i64,
    pub received_at_ms: i64,
    /// The redacted text (a transcript's turns, one per line).
    pub text: String,
    pub language: Option<String>,
    pub score: f64,
    pub label: String,
    /// The kind's own fields: rating, URL, author, platform, reach, turns, the survey answered.
    pub details: Value,
    /// Sentences and topics with their offsets and sentiment.
    pub analysis: Value,
    pub redactions: Value,
    pub topics: Vec<NewFeedbackTopic>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRecord {
    pub id: String,
    pub kind: String,
    pub source: String,
    pub channel: Option<String>,
    pub touchpoint: Option<String>,
    pub identity_key: Option<String>,
    pub occurred_at_ms: i64,
    pub received_at_ms: i64,
    pub text: String,
    pub language: Option<String>,
    pub score: f64,
    pub label: String,
    pub details: Value,
    pub analysis: Value,
    pub redactions: Value,
}

/// Which items a listing returns, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub topic: Option<String>,
    pub source: Option<String>,
    /// The channel the item came through (`web`, `email`, `phone`…).
    pub channel: Option<String>,
    /// Words the text contains, as typed (case does not matter for ASCII letters).
    pub text: Option<String>,
    pub kind: Option<String>,
    pub label: Option<String>,
    /// Items by any of these identity keys (a customer's identities).
    pub identity_keys: Option<Vec<String>>,
    /// Items older than this (occurred_at, id): the cursor of the previous page.
    pub before: Option<(i64, String)>,
    pub limit: usize,
}

/// Counts of items in one time bucket: all of them and the negative ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketCount {
    /// A topic id or a source name; empty for "all feedback".
    pub key: String,
    /// The bucket's start, in ms since the epoch.
    pub bucket_ms: i64,
    pub total: u64,
    pub negative: u64,
}

/// An item as re-tagging reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackText {
    pub id: String,
    pub kind: String,
    pub source: String,
    pub occurred_at_ms: i64,
    pub text: String,
    pub details: Value,
    pub analysis: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub id: String,
    /// `topic` or `source`.
    pub scope: String,
    /// The topic id or the source name.
    pub subject: String,
    /// `open` while the spike lasts, then `closed`.
    pub status: String,
    pub raised_at_ms: i64,
    pub updated_at_ms: i64,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub detail: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DomainEventRecord {
    pub seq: i64,
    pub event_type: String,
    pub payload: Value,
    pub created_at_ms: i64,
}

/// A change to the alerts made by one evaluation, applied in one transaction with the
/// `alert.raised` events of the new ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertChanges {
    pub raised: Vec<AlertRecord>,
    /// Open alerts whose spike goes on: new window end, detail.
    pub extended: Vec<AlertRecord>,
    /// Ids of open alerts whose spike is over.
    pub closed: Vec<String>,
}

/// What feedback counts are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountBy {
    Topic,
    Source,
    /// All feedback: one key, "".
    All,
    /// Topic and source: keys `topic/source`.
    TopicAndSource,
}
