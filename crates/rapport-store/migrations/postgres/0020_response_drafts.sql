-- The answers of a hosted survey's pages sent so far, until its last page completes the response.
CREATE TABLE response_drafts (
    invitation_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    answers JSONB NOT NULL,
    page BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
