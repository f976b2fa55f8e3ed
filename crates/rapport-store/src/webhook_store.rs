//! The webhook half of [`Store`]: subscriptions, the fan-out of domain events into deliveries,
//! claiming and recording attempts, the delivery log. The SQL is in `sql_webhooks.rs`.

use rapport_core::ids::WorkspaceId;

use crate::webhook_records::{AttemptOutcome, AttemptRecord, DeliveryRecord, DueDelivery, WebhookRecord};
use crate::{Backend, Store, StoreError};

impl Store {
    pub async fn create_webhook(
        &self,
        workspace: &WorkspaceId,
        subscription: &rapport_core::webhooks::NewSubscription,
        secret: &str,
    ) -> Result<WebhookRecord, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.create_webhook(workspace, subscription, secret).await)?)
    }

    pub async fn webhook(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<WebhookRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.webhook(workspace, id).await)?)
    }

    pub async fn webhooks(&self, workspace: &WorkspaceId) -> Result<Vec<WebhookRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.webhooks(workspace).await)?)
    }

    /// Deletes a subscription and its delivery log; false when there is none.
    pub async fn delete_webhook(&self, workspace: &WorkspaceId, id: &str) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.delete_webhook(workspace, id).await)?)
    }

    /// Enables (failure count cleared) or disables a subscription; false when there is none.
    pub async fn set_webhook_status(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        active: bool,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.set_webhook_status(workspace, id, active, reason).await)?)
    }

    /// Pending deliveries for the domain events since `since_ms` that active subscriptions want.
    pub async fn fan_out_webhooks(&self, now_ms: i64, since_ms: i64) -> Result<u64, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.fan_out_webhooks(now_ms, since_ms).await)?)
    }

    /// Due deliveries, each claimed for `lease_ms`.
    pub async fn claim_due_deliveries(
        &self,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let mut due = dispatch!(self.backend(), sql => sql.claim_due_deliveries(now_ms, limit, lease_ms).await)?;
        for delivery in &mut due {
            let workspace = WorkspaceId(delivery.workspace_id.clone());
            self.reveal_json(&workspace, &mut delivery.payload).await?;
        }
        Ok(due)
    }

    pub async fn record_attempt(
        &self,
        delivery: &DeliveryRecord,
        outcome: &AttemptOutcome,
        disable_after: i64,
    ) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.record_attempt(delivery, outcome, disable_after).await)?)
    }

    pub async fn webhook_deliveries(
        &self,
        workspace: &WorkspaceId,
        subscription: &str,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.webhook_deliveries(workspace, subscription, limit).await)?)
    }

    pub async fn webhook_attempts(&self, delivery: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.webhook_attempts(delivery).await)?)
    }

    /// Sends a delivery again now; false when there is none.
    pub async fn replay_delivery(
        &self,
        workspace: &WorkspaceId,
        subscription: &str,
        delivery: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.replay_delivery(workspace, subscription, delivery, now_ms).await)?)
    }
}
