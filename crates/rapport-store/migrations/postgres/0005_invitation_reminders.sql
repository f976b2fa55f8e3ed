-- One reminder per e-mail invitation: when it is due (set at sending), and when it went out.
ALTER TABLE invitations ADD COLUMN remind_at BIGINT;
ALTER TABLE invitations ADD COLUMN reminded_at BIGINT;
CREATE INDEX invitations_reminders ON invitations (remind_at) WHERE remind_at IS NOT NULL;
CREATE INDEX invitations_sent ON invitations (sent_at) WHERE state = 'sent';
