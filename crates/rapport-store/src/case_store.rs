//! The cases half of [`Store`]. The SQL is in `sql_cases.rs`.

use rapport_core::cases::Team;
use rapport_core::ids::WorkspaceId;
use serde_json::Value;

use crate::case_records::{CaseChange, CaseEntry, CaseRecord};
use crate::{Backend, Store, StoreError};

impl Store {
    /// Opens a case unless one with its open key is open, or its response and rule made one
    /// already (then `None`); assigns it round-robin in
    /// `team` when it has no assignee; writes its first history entry and the domain event `event`
    /// makes of it, in one transaction.
    pub async fn open_case(
        &self,
        workspace: &WorkspaceId,
        case: &CaseRecord,
        team: Option<&Team>,
        entry: &CaseEntry,
        event: impl Fn(&CaseRecord) -> (String, Value),
    ) -> Result<Option<CaseRecord>, StoreError> {
        let mut stored = case.clone();
        self.blind_records(workspace, std::slice::from_mut(&mut stored)).await?;
        // The announcement is made of the case as stored (blind indexes; domain event reads show
        // the keys again).
        let opened = dispatch!(self.backend(), sql => sql.open_case(workspace, &stored, team, entry, &event).await)?;
        self.reveal_case(workspace, opened).await
    }

    /// Applies a change if the case has not changed since `read_at_ms`; false otherwise.
    pub async fn change_case(
        &self,
        workspace: &WorkspaceId,
        read_at_ms: i64,
        change: &CaseChange,
    ) -> Result<bool, StoreError> {
        let mut stored = change.clone();
        self.blind_records(workspace, std::slice::from_mut(&mut stored.case)).await?;
        if let (Some((_, payload)), Some(plain), Some(blind)) =
            (&mut stored.event, &change.case.identity_key, &stored.case.identity_key)
        {
            crate::sealing::replace_in_json(payload, &[(plain.clone(), blind.clone())]);
        }
        Ok(dispatch!(self.backend(), sql => sql.change_case(workspace, read_at_ms, &stored).await)?)
    }

    pub async fn case(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<CaseRecord>, StoreError> {
        let case = dispatch!(self.backend(), sql => sql.case(workspace, id).await)?;
        self.reveal_case(workspace, case).await
    }

    /// Cases newest first, only in `state`, for `assignee` and about one of `identity_keys` when
    /// given.
    pub async fn cases(
        &self,
        workspace: &WorkspaceId,
        state: Option<&str>,
        assignee: Option<&str>,
        identity_keys: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<CaseRecord>, StoreError> {
        let keys = identity_keys.map(|keys| self.blind_keys(workspace, keys));
        let mut cases =
            dispatch!(self.backend(), sql => sql.cases(workspace, state, assignee, keys.as_deref(), limit).await)?;
        self.reveal_records(workspace, &mut cases).await?;
        Ok(cases)
    }

    pub async fn case_history(&self, id: &str) -> Result<Vec<CaseEntry>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.case_history(id).await)?)
    }

    /// Open, unpaused cases of every workspace past a target at `now_ms`.
    pub async fn cases_past_due(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<(WorkspaceId, CaseRecord)>, StoreError> {
        let mut cases = dispatch!(self.backend(), sql => sql.cases_past_due(now_ms, limit).await)?;
        for (workspace, case) in &mut cases {
            self.reveal_records(workspace, std::slice::from_mut(case)).await?;
        }
        Ok(cases)
    }

    /// The workspace's saved case settings (JSON), if any.
    pub async fn case_settings(&self, workspace: &WorkspaceId) -> Result<Option<Value>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.workspace_document("case_settings", "settings", workspace).await)?)
    }

    pub async fn put_case_settings(&self, workspace: &WorkspaceId, settings: &Value) -> Result<(), StoreError> {
        Ok(
            dispatch!(self.backend(), sql => sql.put_workspace_document("case_settings", "settings", workspace, settings).await)?,
        )
    }

    /// Every scored answer received in `from..to`, oldest first.
    pub async fn scored_answers(
        &self,
        workspace: &WorkspaceId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<rapport_core::cases::ScoredAnswer>, StoreError> {
        let rows = dispatch!(self.backend(), sql => sql.scored_answers(workspace, from_ms, to_ms).await)?;
        let mut answers: Vec<rapport_core::cases::ScoredAnswer> = rows
            .into_iter()
            .map(|(survey, identity, at_ms, question, score)| rapport_core::cases::ScoredAnswer {
                survey,
                identity,
                at_ms,
                question,
                score,
            })
            .collect();
        self.reveal_records(workspace, &mut answers).await?;
        Ok(answers)
    }

    /// Each response's score on its `question_type` question in `from..to`, with its touchpoint,
    /// channel and the topics its comments mention.
    pub async fn scores_with_topics(
        &self,
        workspace: &WorkspaceId,
        question_type: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<crate::case_records::ScoredResponse>, StoreError> {
        let rows =
            dispatch!(self.backend(), sql => sql.scores_with_topics(workspace, question_type, from_ms, to_ms).await)?;
        let mut responses: Vec<crate::case_records::ScoredResponse> = Vec::new();
        for (id, submitted_at_ms, identity_key, touchpoint, channel, score, topic, sentiment) in rows {
            if responses.last().is_none_or(|last| last.id != id) {
                responses.push(crate::case_records::ScoredResponse {
                    id,
                    submitted_at_ms,
                    identity_key,
                    touchpoint,
                    channel,
                    score,
                    topics: Vec::new(),
                    topic_sentiment: Vec::new(),
                });
            }
            if let (Some(topic), Some(last)) = (topic, responses.last_mut())
                && !last.topics.contains(&topic)
            {
                last.topics.push(topic);
                last.topic_sentiment.push(sentiment.unwrap_or(0.0));
            }
        }
        self.reveal_records(workspace, &mut responses).await?;
        Ok(responses)
    }

    async fn reveal_case(
        &self,
        workspace: &WorkspaceId,
        mut case: Option<CaseRecord>,
    ) -> Result<Option<CaseRecord>, StoreError> {
        if let Some(case) = &mut case {
            self.reveal_records(workspace, std::slice::from_mut(case)).await?;
        }
        Ok(case)
    }

    /// Adds history entries to a case without changing it; false when there is no such case.
    pub async fn add_case_entries(
        &self,
        workspace: &WorkspaceId,
        case_id: &str,
        entries: &[CaseEntry],
    ) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.add_case_entries(workspace, case_id, entries).await)?)
    }

    pub async fn create_action_plan(&self, workspace: &WorkspaceId, plan: &Value) -> Result<String, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.create_document("action_plans", "plan", workspace, plan).await)?)
    }

    /// Replaces a plan; false when there is none.
    pub async fn put_action_plan(&self, workspace: &WorkspaceId, id: &str, plan: &Value) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.put_document("action_plans", "plan", workspace, id, plan).await)?)
    }

    /// The workspace's plans as (id, plan, created, updated), or the one with `id`.
    pub async fn action_plans(
        &self,
        workspace: &WorkspaceId,
        id: Option<&str>,
    ) -> Result<Vec<(String, Value, i64, i64)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.documents("action_plans", "plan", workspace, id).await)?)
    }

    /// Service-dimension scores of responses submitted in `from..to`: (response, dimension, score).
    pub async fn dimension_scores(
        &self,
        workspace: &WorkspaceId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.dimension_scores(workspace, from_ms, to_ms).await)?)
    }
}
