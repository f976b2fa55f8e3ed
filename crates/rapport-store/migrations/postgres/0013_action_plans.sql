-- Action plans: initiatives tied to a topic or touchpoint (the plan as a JSON document).
CREATE TABLE action_plans (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    plan JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX action_plans_by_workspace ON action_plans (workspace_id, created_at);
