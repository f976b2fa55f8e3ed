-- The answers of a hosted survey's pages sent so far, until its last page completes the response.
CREATE TABLE response_drafts (
    invitation_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    answers TEXT NOT NULL,
    page INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
