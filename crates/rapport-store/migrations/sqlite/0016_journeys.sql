-- Journey definitions (stages and touchpoints, a JSON document); analytics read the events.
CREATE TABLE journeys (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX journeys_by_workspace ON journeys (workspace_id, created_at);
