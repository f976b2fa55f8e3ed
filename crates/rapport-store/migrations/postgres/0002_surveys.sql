-- Surveys: definitions with their versions, responses, and every answer typed.
-- Times are milliseconds since the Unix epoch; a definition is JSONB.

CREATE TABLE surveys (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('transactional', 'relational')),
    current_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX surveys_by_workspace ON surveys (workspace_id, created_at);

-- Editing a survey that has responses adds a version; each response keeps the one it answered.
CREATE TABLE survey_versions (
    survey_id TEXT NOT NULL REFERENCES surveys (id),
    version BIGINT NOT NULL,
    definition JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (survey_id, version)
);

CREATE TABLE survey_responses (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    survey_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    -- The respondent as sent (normalised, e.g. `email:jane@example.com`); reads resolve it
    -- through the identity graph, as they do an event's ids.
    identity_key TEXT NOT NULL,
    channel TEXT,
    touchpoint TEXT,
    agent TEXT,
    submitted_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    idempotency_key TEXT,
    FOREIGN KEY (survey_id, version) REFERENCES survey_versions (survey_id, version)
);
CREATE UNIQUE INDEX survey_responses_idempotent ON survey_responses (workspace_id, survey_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX survey_responses_by_survey ON survey_responses (survey_id, submitted_at, id);
CREATE INDEX survey_responses_by_version ON survey_responses (survey_id, version);

-- One row per answer: a score, a choice (one row per choice of a multiple choice) or a text.
CREATE TABLE survey_answers (
    response_id TEXT NOT NULL REFERENCES survey_responses (id),
    position BIGINT NOT NULL,
    question_id TEXT NOT NULL,
    question_type TEXT NOT NULL,
    dimension TEXT,
    score BIGINT,
    choice TEXT,
    text TEXT,
    PRIMARY KEY (response_id, position)
);
