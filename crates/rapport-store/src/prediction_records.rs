//! Churn prediction as the store takes and returns it: events with their customer, models and
//! scores.

use serde_json::Value;

/// An event with the customer (root) it belongs to now.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerEvent {
    pub customer_id: String,
    pub event_type: String,
    pub name: Option<String>,
    pub timestamp_ms: i64,
    pub properties: Value,
}

/// A trained churn model: the fitted model and its evaluation summary (JSON documents).
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnModelRecord {
    pub version: i64,
    pub created_at_ms: i64,
    pub model: Value,
    pub summary: Value,
}

/// A customer's latest prediction: churn risk (when a model exists) and health.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerPrediction {
    pub customer_id: String,
    pub churn_probability: Option<f64>,
    pub flagged: bool,
    /// The top factors of the churn probability.
    pub factors: Value,
    pub health_score: f64,
    /// The health score's parts.
    pub health: Value,
    pub model_version: Option<i64>,
    pub scored_at_ms: i64,
    /// Expected purchases and discounted value over the next year, with the probability the
    /// customer is still active (`probabilityAlive`, `expectedPurchases`, `expectedValue`);
    /// None when the workspace's orders do not fit the models.
    pub lifetime_value: Option<Value>,
}
