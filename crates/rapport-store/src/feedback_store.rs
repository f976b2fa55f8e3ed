//! The feedback store's half of [`Store`]: items, topic counts, the taxonomy and settings
//! documents, alerts and domain events. The SQL is in `sql_feedback.rs`.

use rapport_core::ids::WorkspaceId;
use serde_json::Value;

use crate::feedback_records::{
    AlertChanges, AlertRecord, BucketCount, CountBy, DomainEventRecord, FeedbackFilter, FeedbackRecord, FeedbackText,
    NewFeedback, NewFeedbackTopic,
};
use crate::{Backend, Store, StoreError};

impl Store {
    /// Stores items in one transaction; an item whose idempotency key the workspace has seen is
    /// not stored again. Returns each item's id and whether it is new, in order.
    pub async fn insert_feedback(
        &self,
        workspace: &WorkspaceId,
        items: &[NewFeedback],
    ) -> Result<Vec<(String, bool)>, StoreError> {
        let mut stored = items.to_vec();
        self.blind_records(workspace, &mut stored).await?;
        Ok(dispatch!(self.backend(), sql => sql.insert_feedback(workspace, &stored).await)?)
    }

    pub async fn feedback(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<FeedbackRecord>, StoreError> {
        let mut item = dispatch!(self.backend(), sql => sql.feedback(workspace, id).await)?;
        if let Some(item) = &mut item {
            self.reveal_records(workspace, std::slice::from_mut(item)).await?;
        }
        Ok(item)
    }

    /// Items matching `filter`, newest first.
    pub async fn list_feedback(
        &self,
        workspace: &WorkspaceId,
        filter: &FeedbackFilter,
    ) -> Result<Vec<FeedbackRecord>, StoreError> {
        let mut stored = filter.clone();
        if let Some(keys) = &filter.identity_keys {
            stored.identity_keys = Some(self.blind_keys(workspace, keys));
        }
        let mut items = dispatch!(self.backend(), sql => sql.list_feedback(workspace, &stored).await)?;
        self.reveal_records(workspace, &mut items).await?;
        Ok(items)
    }

    /// Items and negative items per key (`by`) and bucket of `bucket_ms` in `from..to`.
    pub async fn feedback_counts(
        &self,
        workspace: &WorkspaceId,
        by: CountBy,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<BucketCount>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.feedback_counts(workspace, by, from_ms, to_ms, bucket_ms).await)?)
    }

    /// Hourly negative mentions of a topic or source in `from..to` (hour start → count), leaving
    /// out items that have any topic in `excluded`.
    pub async fn negative_counts_excluding(
        &self,
        workspace: &WorkspaceId,
        scope: &str,
        subject: &str,
        excluded: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::BTreeMap<i64, u64>, StoreError> {
        let rows = dispatch!(self.backend(), sql => sql.negative_counts_excluding(workspace, scope, subject, excluded, from_ms, to_ms).await)?;
        Ok(rows.into_iter().map(|(bucket, count)| (bucket, count as u64)).collect())
    }

    /// Up to `limit` negative items of a topic (`scope` "topic") or source in `from..to`.
    pub async fn negative_examples(
        &self,
        workspace: &WorkspaceId,
        scope: &str,
        subject: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<FeedbackRecord>, StoreError> {
        Ok(
            dispatch!(self.backend(), sql => sql.negative_examples(workspace, scope, subject, from_ms, to_ms, limit).await)?,
        )
    }

    /// Items in id order after `after` ("" for the first page).
    pub async fn feedback_texts(
        &self,
        workspace: &WorkspaceId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<FeedbackText>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.feedback_texts(workspace, after, limit).await)?)
    }

    /// Replaces items' analysis and topics, in one transaction.
    pub async fn retag_feedback(
        &self,
        workspace: &WorkspaceId,
        items: &[(FeedbackText, Vec<NewFeedbackTopic>)],
    ) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.retag_feedback(workspace, items).await)?)
    }

    /// The workspace's saved taxonomy (JSON), if any.
    pub async fn feedback_taxonomy(&self, workspace: &WorkspaceId) -> Result<Option<Value>, StoreError> {
        Ok(
            dispatch!(self.backend(), sql => sql.workspace_document("feedback_taxonomies", "taxonomy", workspace).await)?,
        )
    }

    pub async fn put_feedback_taxonomy(&self, workspace: &WorkspaceId, taxonomy: &Value) -> Result<(), StoreError> {
        Ok(
            dispatch!(self.backend(), sql => sql.put_workspace_document("feedback_taxonomies", "taxonomy", workspace, taxonomy).await)?,
        )
    }

    /// The workspace's saved feedback settings (JSON), if any.
    pub async fn feedback_settings(&self, workspace: &WorkspaceId) -> Result<Option<Value>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.workspace_document("feedback_settings", "settings", workspace).await)?)
    }

    pub async fn put_feedback_settings(&self, workspace: &WorkspaceId, settings: &Value) -> Result<(), StoreError> {
        Ok(
            dispatch!(self.backend(), sql => sql.put_workspace_document("feedback_settings", "settings", workspace, settings).await)?,
        )
    }

    /// Alerts, newest first, only those in `status` when given.
    pub async fn alerts(
        &self,
        workspace: &WorkspaceId,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.alerts(workspace, status, limit).await)?)
    }

    /// Applies an evaluation's changes, with an `alert.raised` domain event (`raised_payloads`,
    /// one per raised alert) in the same transaction. An alert whose topic or source has an open
    /// alert by then (a concurrent evaluation's) is not raised; returns the ids raised.
    pub async fn apply_alert_changes(
        &self,
        workspace: &WorkspaceId,
        changes: &AlertChanges,
        raised_payloads: &[Value],
    ) -> Result<Vec<String>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.apply_alert_changes(workspace, changes, raised_payloads).await)?)
    }

    /// Domain events after sequence number `after`, oldest first.
    pub async fn domain_events(
        &self,
        workspace: &WorkspaceId,
        after: i64,
        event_type: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DomainEventRecord>, StoreError> {
        let mut events =
            dispatch!(self.backend(), sql => sql.domain_events(workspace, after, event_type, limit).await)?;
        for event in &mut events {
            self.reveal_json(workspace, &mut event.payload).await?;
        }
        Ok(events)
    }

    pub async fn workspace_ids(&self) -> Result<Vec<WorkspaceId>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.workspace_ids().await)?)
    }
}
