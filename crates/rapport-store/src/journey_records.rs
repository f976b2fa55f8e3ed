//! What the journey part of the store takes and returns.

use serde_json::Value;

/// A stored journey definition.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyRecord {
    pub id: String,
    pub definition: Value,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// An event that may be a journey touchpoint, with the customer (root) it belongs to now.
#[derive(Debug, Clone, PartialEq)]
pub struct TouchpointEvent {
    pub customer_id: String,
    pub name: String,
    pub channel: String,
    pub timestamp_ms: i64,
    /// The event's properties as JSON text, when asked for.
    pub properties: Option<String>,
}
