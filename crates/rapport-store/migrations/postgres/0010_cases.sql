-- Follow-up cases: one open case per customer and trigger (`open_key`, cleared when it is resolved
-- or closed), their history (every change and note), the workspace's case settings and where each
-- team's round-robin stands.
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    identity_key TEXT,
    rule_id TEXT,
    response_id TEXT,
    title TEXT NOT NULL,
    priority TEXT NOT NULL,
    state TEXT NOT NULL,
    team TEXT,
    assignee TEXT,
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    first_response_due BIGINT NOT NULL,
    resolution_due BIGINT NOT NULL,
    first_contact_at BIGINT,
    paused_at BIGINT,
    resolved_at BIGINT,
    closed_at BIGINT,
    root_cause TEXT,
    resolution TEXT,
    breached TEXT,
    escalated_at BIGINT,
    open_key TEXT
);
CREATE UNIQUE INDEX cases_one_open ON cases (workspace_id, open_key) WHERE open_key IS NOT NULL;
CREATE INDEX cases_by_time ON cases (workspace_id, opened_at);
CREATE INDEX cases_open_by_due ON cases (resolution_due) WHERE open_key IS NOT NULL;

CREATE TABLE case_history (
    case_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail JSONB NOT NULL,
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE case_settings (
    workspace_id TEXT PRIMARY KEY,
    settings JSONB NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE case_round_robin (
    workspace_id TEXT NOT NULL,
    team TEXT NOT NULL,
    last_assignee TEXT NOT NULL,
    PRIMARY KEY (workspace_id, team)
);
