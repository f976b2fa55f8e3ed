-- Prediction: a workspace's churn settings, its trained churn models (versioned), each customer's latest prediction.
CREATE TABLE churn_settings (
    workspace_id TEXT PRIMARY KEY,
    settings JSONB NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE churn_models (
    workspace_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    model JSONB NOT NULL,
    summary JSONB NOT NULL,
    PRIMARY KEY (workspace_id, version)
);
-- Each customer's latest prediction: churn risk (when a model exists) and health.
CREATE TABLE customer_predictions (
    workspace_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    churn_probability DOUBLE PRECISION,
    flagged BOOLEAN NOT NULL,
    factors JSONB NOT NULL,
    health_score DOUBLE PRECISION NOT NULL,
    health JSONB NOT NULL,
    model_version BIGINT,
    scored_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, customer_id)
);
