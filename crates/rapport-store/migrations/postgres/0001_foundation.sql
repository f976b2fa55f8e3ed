-- Foundation: workspaces, API keys, events, the identity graph and its merge log.
-- Times are milliseconds since the Unix epoch; JSON documents are JSONB.

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    role TEXT NOT NULL CHECK (role IN ('write', 'read', 'admin')),
    key_hash TEXT NOT NULL UNIQUE,
    display_prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    name TEXT,
    user_id TEXT,
    anonymous_id TEXT,
    group_id TEXT,
    previous_id TEXT,
    channel TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    original_timestamp BIGINT,
    sent_at BIGINT,
    received_at BIGINT NOT NULL,
    properties JSONB NOT NULL,
    traits JSONB NOT NULL,
    context JSONB NOT NULL,
    extra JSONB NOT NULL,
    UNIQUE (workspace_id, message_id)
);
-- An event belongs to its user id when it has one, else to its anonymous id.
CREATE INDEX events_by_user ON events (workspace_id, user_id, timestamp) WHERE user_id IS NOT NULL;
CREATE INDEX events_by_anonymous ON events (workspace_id, anonymous_id, timestamp) WHERE user_id IS NULL;

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    root_id TEXT NOT NULL,
    merged_into TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX customers_by_root ON customers (workspace_id, root_id);

CREATE TABLE identities (
    workspace_id TEXT NOT NULL,
    identity_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (workspace_id, identity_key)
);
CREATE INDEX identities_by_customer ON identities (customer_id);

CREATE TABLE customer_traits (
    customer_id TEXT NOT NULL,
    trait_key TEXT NOT NULL,
    value JSONB NOT NULL,
    channel TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (customer_id, trait_key)
);

CREATE TABLE merges (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    survivor_id TEXT NOT NULL,
    absorbed_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    explanation TEXT NOT NULL,
    via_identity TEXT NOT NULL,
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    undone_at BIGINT
);
CREATE INDEX merges_by_survivor ON merges (workspace_id, survivor_id);
CREATE INDEX merges_by_absorbed ON merges (workspace_id, absorbed_id);
-- A refusal between the same two customers is recorded once.
CREATE UNIQUE INDEX merges_refused_once ON merges (workspace_id, survivor_id, absorbed_id) WHERE outcome = 'refused';
-- Admin separations are read on every ingestion: index only those.
CREATE INDEX merges_undone ON merges (workspace_id) WHERE undone_at IS NOT NULL;
