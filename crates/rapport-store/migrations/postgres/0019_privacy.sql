-- Consent per person, purpose and channel, as the person (or the API, the unsubscribe link, or a
-- Segment `context.consent`) last stated it. Keyed by the identity it was stated for, not the
-- customer: consent may arrive before the person is known, and reads gather every identity of
-- the customer as the graph stands. `channel` is '' for every channel.
CREATE TABLE consents (
    workspace_id TEXT NOT NULL,
    identity_key TEXT NOT NULL,
    purpose TEXT NOT NULL,
    channel TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    source TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, identity_key, purpose, channel)
);

-- The workspace's privacy settings (retention per kind of data), one JSON document.
CREATE TABLE privacy_settings (
    workspace_id TEXT PRIMARY KEY,
    settings JSONB NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Erasure and retention find a person's rows by these.
CREATE INDEX invitations_by_identity ON invitations (workspace_id, identity_key);
CREATE INDEX cases_by_identity ON cases (workspace_id, identity_key) WHERE identity_key IS NOT NULL;
CREATE INDEX invitations_by_time ON invitations (workspace_id, created_at);
