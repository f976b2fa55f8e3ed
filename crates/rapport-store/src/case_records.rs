//! Follow-up cases as the store takes and returns them, and scored responses with their topics
//! (what root causes and drivers read).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct CaseRecord {
    pub id: String,
    pub identity_key: Option<String>,
    pub rule_id: Option<String>,
    pub response_id: Option<String>,
    pub title: String,
    pub priority: String,
    pub state: String,
    pub team: Option<String>,
    pub assignee: Option<String>,
    pub opened_at_ms: i64,
    pub updated_at_ms: i64,
    pub first_response_due_ms: i64,
    pub resolution_due_ms: i64,
    pub first_contact_at_ms: Option<i64>,
    /// When it started waiting on the customer (the SLA clock is paused meanwhile).
    pub paused_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub closed_at_ms: Option<i64>,
    pub root_cause: Option<String>,
    pub resolution: Option<String>,
    /// `first_response` or `resolution` once a target has passed.
    pub breached: Option<String>,
    pub escalated_at_ms: Option<i64>,
    /// Set while the case is open: one open case per customer and trigger.
    pub open_key: Option<String>,
}

/// One entry of a case's history.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEntry {
    pub at_ms: i64,
    pub actor: String,
    /// `opened`, `state`, `note`, `assigned`, `breached`, `escalated`.
    pub kind: String,
    pub detail: Value,
}

/// A change to a case: its new record (compared by `updated_at_ms` with the stored one), the
/// history entries it adds, and the domain event that announces it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseChange {
    pub case: CaseRecord,
    pub entries: Vec<CaseEntry>,
    pub event: Option<(String, Value)>,
}

/// A response's score with what its comments mention (root causes and drivers read these).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredResponse {
    pub id: String,
    pub submitted_at_ms: i64,
    /// The respondent (`email:jane@example.com`).
    pub identity_key: String,
    pub touchpoint: Option<String>,
    pub channel: Option<String>,
    pub score: i64,
    pub topics: Vec<String>,
    /// The sentiment of the sentences mentioning each of `topics`, in the same order.
    pub topic_sentiment: Vec<f64>,
}
