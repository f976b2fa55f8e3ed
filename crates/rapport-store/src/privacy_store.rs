//! The privacy half of [`Store`]: consent, data-subject export and erasure, retention and the
//! workspace's privacy settings. The SQL is in `sql_privacy.rs`.

use std::collections::HashSet;

use rapport_core::ids::WorkspaceId;
use rapport_core::privacy::{ConsentChoice, Purpose};
use serde_json::Value;

use crate::privacy_records::{ConsentRecord, DataSubject, RowCounts};
use crate::{Backend, Store, StoreError};

impl Store {
    /// A data subject as the tables name them (blind indexes).
    fn stored_subject(&self, workspace: &WorkspaceId, subject: &DataSubject) -> DataSubject {
        DataSubject { identity_keys: self.blind_keys(workspace, &subject.identity_keys), ..subject.clone() }
    }

    /// Records consent statements made for `identity_key` (a newer statement is never replaced
    /// by an older one).
    pub async fn record_consents(
        &self,
        workspace: &WorkspaceId,
        identity_key: &str,
        choices: &[ConsentChoice],
    ) -> Result<(), StoreError> {
        self.remember_keys(workspace, [identity_key]).await?;
        let key = self.sealing(workspace).blind(identity_key);
        Ok(dispatch!(self.backend(), sql => sql.upsert_consents(workspace, &key, choices).await)?)
    }

    /// Every consent statement of the person `identity_key` names (across their customer's
    /// identities).
    pub async fn consents_of(
        &self,
        workspace: &WorkspaceId,
        identity_key: &str,
    ) -> Result<Vec<ConsentRecord>, StoreError> {
        let key = self.sealing(workspace).blind(identity_key);
        let mut consents = dispatch!(self.backend(), sql => sql.consents_of(workspace, &key).await)?;
        self.reveal_records(workspace, &mut consents).await?;
        Ok(consents)
    }

    /// The identity keys of everyone who refused `purpose` (on every channel).
    pub async fn refusing_identity_keys(
        &self,
        workspace: &WorkspaceId,
        purpose: Purpose,
    ) -> Result<HashSet<String>, StoreError> {
        let keys = dispatch!(self.backend(), sql => sql.refusing_identity_keys(workspace, purpose).await)?;
        let mut keys: Vec<String> = keys.into_iter().collect();
        self.reveal_keys(workspace, keys.iter_mut()).await?;
        Ok(keys.into_iter().collect())
    }

    /// The person `identity_key` names, with every identity their customer holds.
    pub async fn data_subject(&self, workspace: &WorkspaceId, identity_key: &str) -> Result<DataSubject, StoreError> {
        let key = self.sealing(workspace).blind(identity_key);
        let mut subject = dispatch!(self.backend(), sql => sql.data_subject(workspace, &key).await)?;
        self.reveal_keys(workspace, subject.identity_keys.iter_mut()).await?;
        Ok(subject)
    }

    /// Every row held about `subject`, by table.
    pub async fn subject_rows(
        &self,
        workspace: &WorkspaceId,
        subject: &DataSubject,
    ) -> Result<Vec<(&'static str, Vec<Value>)>, StoreError> {
        let stored = self.stored_subject(workspace, subject);
        let mut tables = dispatch!(self.backend(), sql => sql.subject_rows(workspace, &stored).await)?;
        let shown: Vec<(String, String)> =
            stored.identity_keys.iter().cloned().zip(subject.identity_keys.iter().cloned()).collect();
        let sealing = self.sealing(workspace);
        for (table, rows) in &mut tables {
            for row in rows {
                sealing.open_row(table, row, &shown)?;
            }
        }
        Ok(tables)
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
        let stored = self.stored_subject(workspace, subject);
        let counts = dispatch!(self.backend(), sql => sql.erase_subject(workspace, &stored, hints, erase).await)?;
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
