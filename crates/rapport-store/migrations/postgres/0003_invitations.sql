-- Survey invitations: created when a trigger fires, decided and sent when due.
-- States: pending → dispatching → sent → responded, or suppressed (with the rule's code) or failed.

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    survey_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    -- Who the triggering event belonged to; the customer is resolved when the invitation is due.
    identity_key TEXT NOT NULL,
    customer_id TEXT,
    channel TEXT NOT NULL,
    address TEXT,
    state TEXT NOT NULL,
    reason TEXT,
    explanation TEXT,
    trigger_message_id TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    responded_at BIGINT,
    UNIQUE (workspace_id, survey_id, trigger_message_id)
);
CREATE INDEX invitations_due ON invitations (due_at) WHERE state = 'pending';
CREATE INDEX invitations_by_customer ON invitations (workspace_id, customer_id);
CREATE INDEX invitations_by_survey ON invitations (survey_id, created_at);
CREATE INDEX survey_responses_by_identity ON survey_responses (workspace_id, identity_key, submitted_at);
