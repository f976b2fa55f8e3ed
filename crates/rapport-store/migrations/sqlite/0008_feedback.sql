-- The feedback store: survey comments, widget comments, interview notes, reviews, social mentions
-- and transcripts, each redacted and analysed (sentiment, topics) at ingestion.
CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    channel TEXT,
    touchpoint TEXT,
    identity_key TEXT,
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    text TEXT NOT NULL,
    language TEXT,
    score REAL NOT NULL,
    label TEXT NOT NULL,
    details TEXT NOT NULL,
    analysis TEXT NOT NULL,
    redactions TEXT NOT NULL,
    idempotency_key TEXT
);
CREATE UNIQUE INDEX feedback_idempotency ON feedback (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX feedback_by_time ON feedback (workspace_id, occurred_at, id);
CREATE INDEX feedback_by_identity ON feedback (workspace_id, identity_key) WHERE identity_key IS NOT NULL;

-- One row per topic found in an item (parents included): what topic reports and spike counts read.
CREATE TABLE feedback_topics (
    workspace_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    feedback_id TEXT NOT NULL,
    source TEXT NOT NULL,
    score REAL NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (workspace_id, topic, occurred_at, feedback_id)
) WITHOUT ROWID;
CREATE INDEX feedback_topics_by_item ON feedback_topics (feedback_id);
-- Spike evaluations and topic figures read every topic over a time range.
CREATE INDEX feedback_topics_by_time ON feedback_topics (workspace_id, occurred_at);

CREATE TABLE feedback_taxonomies (
    workspace_id TEXT PRIMARY KEY,
    taxonomy TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE feedback_settings (
    workspace_id TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Spike alerts: one row per spike, kept open (and updated) while it lasts.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    raised_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX alerts_by_time ON alerts (workspace_id, raised_at);

-- What Rapport itself announces (`alert.raised`, …), written in the same transaction as the change
-- it announces; webhooks deliver from here.
CREATE TABLE domain_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX domain_events_by_workspace ON domain_events (workspace_id, seq);
