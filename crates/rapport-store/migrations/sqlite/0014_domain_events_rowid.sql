-- Domain events keyed by the plain rowid: AUTOINCREMENT wrote sqlite_sequence in every
-- transaction that announced something (every response). Events are never deleted, so rowids
-- still only grow.
CREATE TABLE domain_events_new (
    seq INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO domain_events_new (seq, workspace_id, type, payload, created_at)
    SELECT seq, workspace_id, type, payload, created_at FROM domain_events;
DROP TABLE domain_events;
ALTER TABLE domain_events_new RENAME TO domain_events;
CREATE INDEX domain_events_by_workspace ON domain_events (workspace_id, seq);
CREATE INDEX domain_events_by_time ON domain_events (workspace_id, created_at);
