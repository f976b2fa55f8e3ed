-- Action plans: initiatives tied to a topic or touchpoint (the plan as a JSON document).
CREATE TABLE action_plans (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX action_plans_by_workspace ON action_plans (workspace_id, created_at);
