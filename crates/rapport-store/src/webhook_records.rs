//! Webhook subscriptions, deliveries and attempts as the store returns them.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: String,
    /// `webhook`, `slack` or `jira`.
    pub kind: String,
    pub url: String,
    /// Jira's project, issue type and credentials.
    pub config: Option<Value>,
    pub event_types: Vec<String>,
    pub secret: String,
    pub description: Option<String>,
    /// `active` or `disabled`.
    pub status: String,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: String,
    pub subscription_id: String,
    pub event_seq: i64,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (every retry used).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
}

/// A delivery claimed for an attempt, with what sending it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub delivery: DeliveryRecord,
    pub workspace_id: String,
    pub kind: String,
    pub config: Option<Value>,
    pub url: String,
    pub secret: String,
    pub payload: Value,
    pub event_created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub attempt: i64,
    pub at_ms: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptOutcome {
    pub at_ms: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub delivered: bool,
    /// When to try again; `None` with `delivered` false: the delivery has failed for good.
    pub retry_at_ms: Option<i64>,
}
