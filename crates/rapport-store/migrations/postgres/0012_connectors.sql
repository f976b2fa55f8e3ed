-- Connectors on the webhook mechanism: a subscription is a signed webhook, a Slack incoming
-- webhook, or a Jira project (its settings in config).
ALTER TABLE webhook_subscriptions ADD COLUMN kind TEXT NOT NULL DEFAULT 'webhook';
ALTER TABLE webhook_subscriptions ADD COLUMN config JSONB;
