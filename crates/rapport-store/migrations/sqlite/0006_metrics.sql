-- The metrics engine: daily counts of scored answers, and each workspace's metric settings.

-- How many answers gave each score, per UTC day, survey and question (with its type and CSAT
-- dimension), at two grains: `channel` rows by channel and touchpoint, `agent` rows by agent.
-- Every scored answer is counted once at each grain, in the transaction that stores its
-- response, so a metric grouped and filtered by one grain's fields reads counts instead of every
-- answer. '' stands for "none" (the API rejects empty labels, so it cannot collide with a real
-- one) and for the fields a grain does not hold.
CREATE TABLE answer_rollups (
    workspace_id TEXT NOT NULL,
    question_type TEXT NOT NULL,
    grain TEXT NOT NULL CHECK (grain IN ('channel', 'agent')),
    survey_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    channel TEXT NOT NULL,
    touchpoint TEXT NOT NULL,
    agent TEXT NOT NULL,
    score INTEGER NOT NULL,
    answers INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, question_type, grain, survey_id, day, question_id, dimension, channel, touchpoint,
        agent, score)
) WITHOUT ROWID; -- clustered by its key: an upsert touches one B-tree, not an index and a table

INSERT INTO answer_rollups (workspace_id, question_type, grain, survey_id, day, question_id, dimension, channel,
    touchpoint, agent, score, answers)
SELECT r.workspace_id, a.question_type, 'channel', r.survey_id, r.submitted_at / 86400000, a.question_id,
    COALESCE(a.dimension, ''), COALESCE(r.channel, ''), COALESCE(r.touchpoint, ''), '', a.score, COUNT(*)
FROM survey_answers a JOIN survey_responses r ON r.id = a.response_id
WHERE a.score IS NOT NULL
GROUP BY r.workspace_id, a.question_type, r.survey_id, r.submitted_at / 86400000, a.question_id,
    COALESCE(a.dimension, ''), COALESCE(r.channel, ''), COALESCE(r.touchpoint, ''), a.score;

INSERT INTO answer_rollups (workspace_id, question_type, grain, survey_id, day, question_id, dimension, channel,
    touchpoint, agent, score, answers)
SELECT r.workspace_id, a.question_type, 'agent', r.survey_id, r.submitted_at / 86400000, a.question_id,
    COALESCE(a.dimension, ''), '', '', COALESCE(r.agent, ''), a.score, COUNT(*)
FROM survey_answers a JOIN survey_responses r ON r.id = a.response_id
WHERE a.score IS NOT NULL
GROUP BY r.workspace_id, a.question_type, r.survey_id, r.submitted_at / 86400000, a.question_id,
    COALESCE(a.dimension, ''), COALESCE(r.agent, ''), a.score;

-- The raw answers are read for what the rollup does not hold (traits, accounts, agent with channel), by time.
CREATE INDEX survey_responses_by_time ON survey_responses (workspace_id, submitted_at);

-- Minimum n, the CSAT threshold, targets and external benchmarks: one JSON document per workspace.
CREATE TABLE metric_settings (
    workspace_id TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
