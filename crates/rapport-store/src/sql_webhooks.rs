// Webhooks' SQL: subscriptions, the fan-out of domain events into deliveries, claiming due
// deliveries (a lease, so two processes never send one attempt twice), and recording attempts.
// `include!`d after `sql_backend.rs` by `sqlite.rs` and `postgres.rs` (see the note at the top of
// that file).

use crate::webhook_records::{AttemptOutcome, AttemptRecord, DeliveryRecord, DueDelivery, WebhookRecord};

type WebhookRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    String,
    Option<Json<Value>>,
);
const WEBHOOK_COLUMNS: &str = "id, url, event_types, secret, description, status, disabled_reason, consecutive_failures, \
     created_at, updated_at, kind, config";

fn webhook_record(row: WebhookRow) -> WebhookRecord {
    let (id, url, types, secret, description, status, disabled_reason, failures, created, updated, kind, config) = row;
    WebhookRecord {
        id,
        kind,
        config: config.map(|Json(config)| config),
        url,
        event_types: types.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        secret,
        description,
        status,
        disabled_reason,
        consecutive_failures: failures,
        created_at_ms: created,
        updated_at_ms: updated,
    }
}

type DeliveryRow = (String, String, i64, String, String, i64, i64, Option<i64>, Option<String>, i64, Option<i64>);
const DELIVERY_COLUMNS: &str = "d.id, d.subscription_id, d.event_seq, d.event_type, d.status, d.attempts, \
     d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.delivered_at";

fn delivery_record(row: DeliveryRow) -> DeliveryRecord {
    let (
        id,
        subscription_id,
        event_seq,
        event_type,
        status,
        attempts,
        next,
        last_status,
        last_error,
        created,
        delivered,
    ) = row;
    DeliveryRecord {
        id,
        subscription_id,
        event_seq,
        event_type,
        status,
        attempts,
        next_attempt_at_ms: next,
        last_status,
        last_error,
        created_at_ms: created,
        delivered_at_ms: delivered,
    }
}

impl SqlBackend {
    pub async fn create_webhook(
        &self,
        workspace: &WorkspaceId,
        subscription: &rapport_core::webhooks::NewSubscription,
        secret: &str,
    ) -> Result<WebhookRecord, sqlx::Error> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO webhook_subscriptions (id, workspace_id, url, event_types, secret, description, status, \
             consecutive_failures, created_at, updated_at, kind, config) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', 0, $7, $7, $8, $9)",
        )
        .bind(&id)
        .bind(workspace.as_str())
        .bind(&subscription.url)
        .bind(format!(",{},", subscription.event_types.join(",")))
        .bind(secret)
        .bind(&subscription.description)
        .bind(now)
        .bind(&subscription.kind)
        .bind(subscription.config.as_ref().map(Json))
        .execute(&self.write_pool)
        .await?;
        self.webhook(workspace, &id).await?.ok_or(sqlx::Error::RowNotFound)
    }

    pub async fn webhook(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<WebhookRecord>, sqlx::Error> {
        let row: Option<WebhookRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhook_subscriptions WHERE workspace_id = $1 AND id = $2"
        )))
        .bind(workspace.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(webhook_record))
    }

    pub async fn webhooks(&self, workspace: &WorkspaceId) -> Result<Vec<WebhookRecord>, sqlx::Error> {
        let rows: Vec<WebhookRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhook_subscriptions WHERE workspace_id = $1 ORDER BY created_at, id"
        )))
        .bind(workspace.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(webhook_record).collect())
    }

    /// Deletes a subscription with its deliveries and their attempts; false when there is none.
    pub async fn delete_webhook(&self, workspace: &WorkspaceId, id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE workspace_id = $1 AND subscription_id = $2)",
        )
        .bind(workspace.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE workspace_id = $1 AND subscription_id = $2")
            .bind(workspace.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM webhook_subscriptions WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// Enables (clearing the failure count) or disables a subscription; false when there is none.
    pub async fn set_webhook_status(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        active: bool,
        reason: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE webhook_subscriptions SET status = $1, disabled_reason = $2, consecutive_failures = \
             CASE WHEN $1 = 'active' THEN 0 ELSE consecutive_failures END, updated_at = $3 \
             WHERE workspace_id = $4 AND id = $5",
        )
        .bind(if active { "active" } else { "disabled" })
        .bind(if active { None } else { reason })
        .bind(now_ms())
        .bind(workspace.as_str())
        .bind(id)
        .execute(&self.write_pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Makes a pending delivery for every domain event an active subscription wants and has none
    /// for yet: events since the subscription was made and since `since_ms`. Returns how many.
    /// Re-running is harmless (one delivery per subscription and event), and an event committed
    /// late with a lower sequence number is still found.
    pub async fn fan_out_webhooks(&self, now: i64, since_ms: i64) -> Result<u64, sqlx::Error> {
        // Runs every second: without an active subscription it takes no write lock.
        let active: Option<String> =
            sqlx::query_scalar("SELECT id FROM webhook_subscriptions WHERE status = 'active' LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        if active.is_none() {
            return Ok(0);
        }
        let mut tx = begin_write(&self.write_pool).await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (id, workspace_id, subscription_id, event_seq, event_type, status, attempts, \
             next_attempt_at, claimed_until, created_at) \
             SELECT s.id || ':' || e.seq, s.workspace_id, s.id, e.seq, e.type, 'pending', 0, $1, 0, $1 \
             FROM webhook_subscriptions s JOIN domain_events e ON e.workspace_id = s.workspace_id \
             WHERE s.status = 'active' AND e.created_at >= s.created_at AND e.created_at >= $2 \
             AND s.event_types LIKE '%,' || e.type || ',%' \
             ON CONFLICT (subscription_id, event_seq) DO NOTHING",
        )
        .bind(now)
        .bind(since_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted)
    }

    /// Claims up to `limit` due deliveries of active subscriptions for `lease_ms` (another process
    /// skips them meanwhile) and returns them with what sending needs.
    pub async fn claim_due_deliveries(
        &self,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<DueDelivery>, sqlx::Error> {
        let candidates: Vec<String> = sqlx::query_scalar(
            "SELECT d.id FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND d.claimed_until <= $1 AND s.status = 'active' \
             ORDER BY d.next_attempt_at, d.event_seq LIMIT $2",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut due = Vec::new();
        for id in candidates {
            let claimed = sqlx::query(
                "UPDATE webhook_deliveries SET claimed_until = $1 WHERE id = $2 AND status = 'pending' AND claimed_until <= $3",
            )
            .bind(now + lease_ms)
            .bind(&id)
            .bind(now)
            .execute(&self.write_pool)
            .await?
            .rows_affected()
                == 1;
            if !claimed {
                continue;
            }
            let delivery: Option<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = $1"
            )))
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?;
            // The subscription's and the event's side.
            type Target = (String, String, String, Json<Value>, i64, String, Option<Json<Value>>);
            let target: Option<Target> = sqlx::query_as(
                "SELECT s.workspace_id, s.url, s.secret, e.payload, e.created_at, s.kind, s.config \
                 FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id \
                 JOIN domain_events e ON e.seq = d.event_seq WHERE d.id = $1",
            )
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?;
            if let Some((delivery, (workspace_id, url, secret, Json(payload), event_created_at_ms, kind, config))) =
                delivery.zip(target)
            {
                due.push(DueDelivery {
                    delivery: delivery_record(delivery),
                    workspace_id,
                    kind,
                    config: config.map(|Json(config)| config),
                    url,
                    secret,
                    payload,
                    event_created_at_ms,
                });
            }
        }
        Ok(due)
    }

    /// Records an attempt: the attempt row, the delivery's new state, and the subscription's
    /// failure count (reset by a success; at `disable_after` consecutive failures the
    /// subscription is disabled), in one transaction.
    pub async fn record_attempt(
        &self,
        delivery: &DeliveryRecord,
        outcome: &AttemptOutcome,
        disable_after: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        // The schedule counts attempts since the delivery was made or replayed; the log numbers
        // every attempt ever.
        let attempt = delivery.attempts + 1;
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, error, duration_ms)              SELECT $1, COUNT(*) + 1, $2, $3, $4, $5 FROM webhook_attempts WHERE delivery_id = $1",
        )
        .bind(&delivery.id)
        .bind(outcome.at_ms)
        .bind(outcome.status)
        .bind(&outcome.error)
        .bind(outcome.duration_ms)
        .execute(&mut *tx)
        .await?;
        let status = match (outcome.delivered, outcome.retry_at_ms) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, claimed_until = 0, \
             last_status = $4, last_error = $5, delivered_at = $6 WHERE id = $7",
        )
        .bind(status)
        .bind(attempt)
        .bind(outcome.retry_at_ms.unwrap_or(outcome.at_ms))
        .bind(outcome.status)
        .bind(&outcome.error)
        .bind(outcome.delivered.then_some(outcome.at_ms))
        .bind(&delivery.id)
        .execute(&mut *tx)
        .await?;
        if outcome.delivered {
            sqlx::query("UPDATE webhook_subscriptions SET consecutive_failures = 0 WHERE id = $1")
                .bind(&delivery.subscription_id)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "UPDATE webhook_subscriptions SET consecutive_failures = consecutive_failures + 1, updated_at = $1, \
                 status = CASE WHEN consecutive_failures + 1 >= $2 THEN 'disabled' ELSE status END, \
                 disabled_reason = CASE WHEN consecutive_failures + 1 >= $2 THEN $3 ELSE disabled_reason END \
                 WHERE id = $4",
            )
            .bind(outcome.at_ms)
            .bind(disable_after)
            .bind(format!(
                "{disable_after} consecutive failed attempts; the last: {}",
                outcome.error.as_deref().unwrap_or("?")
            ))
            .bind(&delivery.subscription_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A subscription's deliveries, newest event first.
    pub async fn webhook_deliveries(
        &self,
        workspace: &WorkspaceId,
        subscription: &str,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, sqlx::Error> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.workspace_id = $1 AND d.subscription_id = $2 \
             ORDER BY d.event_seq DESC LIMIT $3"
        )))
        .bind(workspace.as_str())
        .bind(subscription)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(delivery_record).collect())
    }

    pub async fn webhook_attempts(&self, delivery: &str) -> Result<Vec<AttemptRecord>, sqlx::Error> {
        type AttemptRow = (i64, i64, Option<i64>, Option<String>, i64);
        let rows: Vec<AttemptRow> = sqlx::query_as(
            "SELECT attempt, at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(delivery)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(attempt, at_ms, status, error, duration_ms)| AttemptRecord {
                attempt,
                at_ms,
                status,
                error,
                duration_ms,
            })
            .collect())
    }

    /// Sends a delivery again now (its attempts so far stay in the log; the retry schedule starts
    /// over).
    /// False when there is no such delivery.
    pub async fn replay_delivery(
        &self,
        workspace: &WorkspaceId,
        subscription: &str,
        delivery: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, claimed_until = 0 \
             WHERE workspace_id = $2 AND subscription_id = $3 AND id = $4",
        )
        .bind(now)
        .bind(workspace.as_str())
        .bind(subscription)
        .bind(delivery)
        .execute(&self.write_pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }
}
