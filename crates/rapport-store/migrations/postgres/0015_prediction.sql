-- Churn prediction: a workspace's settings, its trained models (versioned), each customer's latest score.
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
CREATE TABLE churn_scores (
    workspace_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    flagged BOOLEAN NOT NULL,
    factors JSONB NOT NULL,
    model_version BIGINT NOT NULL,
    scored_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, customer_id)
);
CREATE INDEX churn_scores_by_probability ON churn_scores (workspace_id, probability);
