-- Each workspace's contact-frequency policy (the defaults apply until one is saved).
CREATE TABLE contact_policies (
    workspace_id TEXT PRIMARY KEY,
    policy JSONB NOT NULL,
    updated_at BIGINT NOT NULL
);
