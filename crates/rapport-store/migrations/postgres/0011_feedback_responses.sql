-- A survey comment names the response it answers, so drivers and root causes join comments'
-- topics to the response's scores.
ALTER TABLE feedback ADD COLUMN response_id TEXT;
CREATE INDEX feedback_by_response ON feedback (workspace_id, response_id) WHERE response_id IS NOT NULL;
