//! The privacy half of [`Store`]: consent, data-subject export and erasure, retention and the
//! workspace's privacy settings. The SQL is in `sql_privacy.rs`.

use std::collections::HashSet;

use rapport_core::ids::WorkspaceId;
use rapport_core::privacy::{ConsentChoice, Purpose};
use serde_json::Value;

use crate::privacy_records::{ConsentRecord, DataSubject, RowCounts};
use crate::{Backend, Store, StoreError};

impl Store {
    /// Records consent statements made for `identity_key` (a newer statement is never replaced
    /// by an older one).
    pub async fn record_consents(
        &self,
        workspace: &WorkspaceId,
        identity_key: &str,
        choices: &[ConsentChoice],
    ) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.upsert_consents(workspace, identity_key, choices).await)?)
    }

    /// Every consent statement of the person `identity_key` names (across their customer's
    /// identities).
    pub async fn consents_of(
        &self,
        workspace: &WorkspaceId,
        identity_key: &str,
    ) -> Result<Vec<ConsentRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.consents_of(workspace, identity_key).await)?)
    }

    /// The identity keys of everyone who refused `purpose` (on every channel).
    pub async fn refusing_identity_keys(
        &self,
        workspace: &WorkspaceId,
        purpose: Purpose,
    ) -> Result<HashSet<String>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.refusing_identity_keys(workspace, purpose).await)?)
    }

    /// The person `identity_key` names, with every identity their customer holds.
    pub async fn data_subject(&self, workspace: &WorkspaceId, identity_key: &str) -> Result<DataSubject, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.data_subject(workspace, identity_key).await)?)
    }

    /// Every row held about `subject`, by table.
    pub async fn subject_rows(
        &self,
        workspace: &WorkspaceId,
        subject: &DataSubject,
    ) -> Result<Vec<(&'static str, Vec<Value>)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.subject_rows(workspace, subject).await)?)
    }

    /// Erases `subject` everywhere in one transaction and runs `erase` over others' free text
    /// that contains one of `hints` (lower case, `%` for any run): it returns the text with the
    /// person taken out, or None when they are not in it.
    pub async fn erase_subject(
        &self,
        workspace: &WorkspaceId,
        subject: &DataSubject,
        hints: &[String],
        erase: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<RowCounts, StoreError> {
        let counts = dispatch!(self.backend(), sql => sql.erase_subject(workspace, subject, hints, erase).await)?;
        // Answers are gone: SQLite's in-memory answer index reloads.
        self.inner.answer_index.forget(workspace);
        Ok(counts)
    }

    /// Deletes what is older than each kind's cutoff (kind, moment in ms).
    pub async fn enforce_retention(
        &self,
        workspace: &WorkspaceId,
        cutoffs: &[(&'static str, i64)],
    ) -> Result<RowCounts, StoreError> {
        let counts = dispatch!(self.backend(), sql => sql.enforce_retention(workspace, cutoffs).await)?;
        if counts.tables.iter().any(|(table, rows)| *table == "survey_answers" && *rows > 0) {
            self.inner.answer_index.forget(workspace);
        }
        Ok(counts)
    }

    pub async fn privacy_settings(&self, workspace: &WorkspaceId) -> Result<Option<Value>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.workspace_document("privacy_settings", "settings", workspace).await)?)
    }

    pub async fn put_privacy_settings(&self, workspace: &WorkspaceId, settings: &Value) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql =>
            sql.put_workspace_document("privacy_settings", "settings", workspace, settings).await)?)
    }
}
