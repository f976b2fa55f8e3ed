-- Personal data sealed at rest (crates/rapport-store/src/sealing.rs): each blind index
-- (`email#…`) stored anywhere, with its key sealed, so reads can show the key.
CREATE TABLE identity_vault (
    workspace_id TEXT NOT NULL,
    blind_key TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    PRIMARY KEY (workspace_id, blind_key)
);

-- Which index key the database was written with (an HMAC of a fixed text, not the key): a
-- server started with other keys refuses to start instead of writing rows no one can find.
CREATE TABLE keyring_fingerprint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
