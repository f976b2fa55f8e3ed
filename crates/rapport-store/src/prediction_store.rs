//! The prediction half of [`Store`]: what churn features read, models, and each customer's prediction. The SQL is in
//! `sql_prediction.rs`.

use rapport_core::ids::WorkspaceId;
use serde_json::Value;

use crate::prediction_records::{ChurnModelRecord, CustomerEvent, CustomerPrediction};
use crate::{Backend, Store, StoreError};

impl Store {
    /// Calls `each` with every track, page and screen event before `until_ms` and its customer
    /// (root), as the rows stream in, in no particular order: nothing is held but what `each` keeps.
    pub async fn each_customer_event(
        &self,
        workspace: &WorkspaceId,
        until_ms: i64,
        each: impl FnMut(CustomerEvent),
    ) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.each_customer_event(workspace, until_ms, each).await)?)
    }

    /// (identity key, customer) for every identity of the workspace.
    pub async fn identity_roots(&self, workspace: &WorkspaceId) -> Result<Vec<(String, String)>, StoreError> {
        let mut roots = dispatch!(self.backend(), sql => sql.identity_roots(workspace).await)?;
        self.reveal_keys(workspace, roots.iter_mut().map(|(key, _)| key)).await?;
        Ok(roots)
    }

    pub async fn churn_settings(&self, workspace: &WorkspaceId) -> Result<Option<Value>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.workspace_document("churn_settings", "settings", workspace).await)?)
    }

    pub async fn put_churn_settings(&self, workspace: &WorkspaceId, settings: &Value) -> Result<(), StoreError> {
        Ok(
            dispatch!(self.backend(), sql => sql.put_workspace_document("churn_settings", "settings", workspace, settings).await)?,
        )
    }

    /// Saves a trained model as the workspace's next version and returns the version.
    pub async fn save_churn_model(
        &self,
        workspace: &WorkspaceId,
        model: &Value,
        summary: &Value,
    ) -> Result<i64, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.save_churn_model(workspace, model, summary).await)?)
    }

    pub async fn latest_churn_model(&self, workspace: &WorkspaceId) -> Result<Option<ChurnModelRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.latest_churn_model(workspace).await)?)
    }

    /// Replaces every customer's prediction; each newly flagged customer gets a
    /// `customer.churn_risk` domain event (payload from `announce`) in the same transaction.
    /// Returns the newly flagged customers.
    pub async fn replace_predictions(
        &self,
        workspace: &WorkspaceId,
        predictions: &[CustomerPrediction],
        announce: &(dyn Fn(&CustomerPrediction) -> Value + Send + Sync),
    ) -> Result<Vec<String>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.replace_predictions(workspace, predictions, announce).await)?)
    }

    /// Predictions, highest churn probability first (only flagged ones, or one customer's, when
    /// asked).
    pub async fn predictions(
        &self,
        workspace: &WorkspaceId,
        flagged_only: bool,
        customer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CustomerPrediction>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.predictions(workspace, flagged_only, customer, limit).await)?)
    }
}
