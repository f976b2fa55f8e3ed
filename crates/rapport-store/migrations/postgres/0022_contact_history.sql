-- A contact decision reads a customer's delivered invitations (`contact_reads.rs`): by the
-- customer they were sent to and by the identity they were made for. These indexes answer both
-- reads alone (sending time and survey included), without a lookup of each invitation's row.
DROP INDEX invitations_by_customer;
CREATE INDEX invitations_by_customer ON invitations (workspace_id, customer_id, sent_at, survey_id);
DROP INDEX invitations_by_identity;
CREATE INDEX invitations_by_identity ON invitations (workspace_id, identity_key, sent_at, customer_id, survey_id);

-- When a dispatcher took the invitation (`dispatching`): a claim left by a dispatcher that
-- stopped mid-pass is released after a while, so the invitation is not stuck for good.
ALTER TABLE invitations ADD COLUMN claimed_at BIGINT;
CREATE INDEX invitations_claimed ON invitations (claimed_at) WHERE state = 'dispatching';
