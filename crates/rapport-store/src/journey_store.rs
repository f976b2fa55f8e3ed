//! The journey half of [`Store`]: definitions, and the events analytics read. The SQL is in
//! `sql_journeys.rs`.

use rapport_core::ids::WorkspaceId;
use serde_json::Value;

use crate::journey_records::{JourneyRecord, TouchpointEvent};
use crate::{Backend, Store, StoreError};

/// Journey definitions are documents by id (`SqlBackend::documents`).
const JOURNEYS: &str = "journeys";
const DEFINITION: &str = "definition";

impl Store {
    /// Stores a checked definition; returns the journey's id.
    pub async fn create_journey(&self, workspace: &WorkspaceId, definition: &Value) -> Result<String, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.create_document(JOURNEYS, DEFINITION, workspace, definition).await)?)
    }

    /// Replaces a definition; false when there is no such journey.
    pub async fn put_journey(&self, workspace: &WorkspaceId, id: &str, definition: &Value) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.put_document(JOURNEYS, DEFINITION, workspace, id, definition).await)?)
    }

    /// Deletes a journey; false when there was none.
    pub async fn delete_journey(&self, workspace: &WorkspaceId, id: &str) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.delete_document(JOURNEYS, workspace, id).await)?)
    }

    /// The workspace's journeys, oldest first, or the one with `id`.
    pub async fn journeys(&self, workspace: &WorkspaceId, id: Option<&str>) -> Result<Vec<JourneyRecord>, StoreError> {
        let rows = dispatch!(self.backend(), sql => sql.documents(JOURNEYS, DEFINITION, workspace, id).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, definition, created_at_ms, updated_at_ms)| JourneyRecord {
                id,
                definition,
                created_at_ms,
                updated_at_ms,
            })
            .collect())
    }

    /// Calls `each` with every track, page and screen event named in `names` whose sequence
    /// number is in `after..=up_to`, with its customer (root) and channel, as the rows stream in
    /// (in no particular order); the properties as JSON text only when `with_properties`.
    pub async fn each_touchpoint_event(
        &self,
        workspace: &WorkspaceId,
        names: &[String],
        with_properties: bool,
        seqs: (i64, i64),
        each: impl FnMut(TouchpointEvent),
    ) -> Result<(), StoreError> {
        Ok(
            dispatch!(self.backend(), sql => sql.each_touchpoint_event(workspace, names, with_properties, seqs, each).await)?,
        )
    }

    /// Every customer node as (node, root) under the current roots of the events with sequence
    /// numbers in `after..=up_to`. Every merge is made by an ingested event and leaves that
    /// event under the survivor, so this holds every node those events merged away.
    pub async fn nodes_under_roots_of_events(
        &self,
        workspace: &WorkspaceId,
        seqs: (i64, i64),
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.nodes_under_roots_of_events(workspace, seqs).await)?)
    }

    /// (identity key, customer root) for each of `keys` the workspace knows.
    pub async fn roots_of_identities(
        &self,
        workspace: &WorkspaceId,
        keys: Vec<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let stored = self.blind_keys(workspace, &keys);
        let plain: std::collections::HashMap<String, String> = stored.iter().cloned().zip(keys).collect();
        let roots = dispatch!(self.backend(), sql => sql.roots_of_identities(workspace, stored).await)?;
        Ok(roots.into_iter().map(|(key, root)| (plain.get(&key).cloned().unwrap_or(key), root)).collect())
    }

    /// (newest event sequence number, undone merges): what a cache of journey visits compares.
    /// On SQLite sequence numbers grow in commit order; on PostgreSQL an event committed late
    /// with a lower number than one already seen is missed by reads after that number, so
    /// callers read everything again now and then.
    pub async fn journey_stamp(&self, workspace: &WorkspaceId) -> Result<(i64, i64), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.journey_stamp(workspace).await)?)
    }
}
