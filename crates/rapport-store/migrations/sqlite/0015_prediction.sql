-- Prediction: a workspace's churn settings, its trained churn models (versioned), each customer's latest prediction.
CREATE TABLE churn_settings (
    workspace_id TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE churn_models (
    workspace_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    model TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (workspace_id, version)
);
-- Each customer's latest prediction: churn risk (when a model exists) and health.
CREATE TABLE customer_predictions (
    workspace_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    churn_probability REAL,
    flagged INTEGER NOT NULL,
    factors TEXT NOT NULL,
    health_score REAL NOT NULL,
    health TEXT NOT NULL,
    model_version INTEGER,
    scored_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, customer_id)
);
