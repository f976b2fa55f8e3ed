-- Churn prediction: a workspace's settings, its trained models (versioned), each customer's latest score.
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
CREATE TABLE churn_scores (
    workspace_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    probability REAL NOT NULL,
    flagged INTEGER NOT NULL,
    factors TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    scored_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, customer_id)
);
CREATE INDEX churn_scores_by_probability ON churn_scores (workspace_id, probability);
