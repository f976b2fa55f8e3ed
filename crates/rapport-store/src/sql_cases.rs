// Cases' SQL: opening one (assignment by round-robin decided in `rapport-core` inside the
// transaction), changing one (optimistically, with its history and domain event in the same
// transaction), reading them. `include!`d after `sql_backend.rs` by `sqlite.rs` and `postgres.rs`
// (see the note at the top of that file).

use rapport_core::cases::{Team, next_assignee};

use crate::case_records::{CaseChange, CaseEntry, CaseRecord};

/// (response, submitted at, identity, touchpoint, channel, score, topic, the topic's sentiment).
type ScoreTopicRow = (String, i64, String, Option<String>, Option<String>, i64, Option<String>, Option<f64>);

const CASE_COLUMNS: &str = "id, identity_key, rule_id, response_id, title, priority, state, team, assignee, opened_at, \
     updated_at, first_response_due, resolution_due, first_contact_at, paused_at, resolved_at, closed_at, root_cause, \
     resolution, breached, escalated_at, open_key";

fn case_record(row: &<Db as sqlx::Database>::Row) -> Result<CaseRecord, sqlx::Error> {
    use sqlx::Row;
    Ok(CaseRecord {
        id: row.try_get("id")?,
        identity_key: row.try_get("identity_key")?,
        rule_id: row.try_get("rule_id")?,
        response_id: row.try_get("response_id")?,
        title: row.try_get("title")?,
        priority: row.try_get("priority")?,
        state: row.try_get("state")?,
        team: row.try_get("team")?,
        assignee: row.try_get("assignee")?,
        opened_at_ms: row.try_get("opened_at")?,
        updated_at_ms: row.try_get("updated_at")?,
        first_response_due_ms: row.try_get("first_response_due")?,
        resolution_due_ms: row.try_get("resolution_due")?,
        first_contact_at_ms: row.try_get("first_contact_at")?,
        paused_at_ms: row.try_get("paused_at")?,
        resolved_at_ms: row.try_get("resolved_at")?,
        closed_at_ms: row.try_get("closed_at")?,
        root_cause: row.try_get("root_cause")?,
        resolution: row.try_get("resolution")?,
        breached: row.try_get("breached")?,
        escalated_at_ms: row.try_get("escalated_at")?,
        open_key: row.try_get("open_key")?,
    })
}

async fn add_entries(
    tx: &mut Transaction<'static, Db>,
    case_id: &str,
    entries: &[CaseEntry],
) -> Result<(), sqlx::Error> {
    for entry in entries {
        sqlx::query(
            "INSERT INTO case_history (case_id, seq, at, actor, kind, detail) \
             SELECT $1, COUNT(*) + 1, $2, $3, $4, $5 FROM case_history WHERE case_id = $1",
        )
        .bind(case_id)
        .bind(entry.at_ms)
        .bind(&entry.actor)
        .bind(&entry.kind)
        .bind(Json(&entry.detail))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn announce(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    event: &Option<(String, Value)>,
) -> Result<(), sqlx::Error> {
    if let Some((kind, payload)) = event {
        sqlx::query("INSERT INTO domain_events (workspace_id, type, payload, created_at) VALUES ($1, $2, $3, $4)")
            .bind(workspace.as_str())
            .bind(kind)
            .bind(Json(payload))
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl SqlBackend {
    /// Opens a case unless one with its `open_key` is open; its assignee is the next member of
    /// `team` (round-robin, skipping who is away) unless it has one. Returns the case, or `None`
    /// when one was open already.
    pub async fn open_case(
        &self,
        workspace: &WorkspaceId,
        case: &CaseRecord,
        team: Option<&Team>,
        entry: &CaseEntry,
        event: impl Fn(&CaseRecord) -> (String, Value),
    ) -> Result<Option<CaseRecord>, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        lock_workspace(&mut tx, workspace).await?;
        // One open case per customer and trigger, and one case per response and rule (a retried
        // response opens nothing twice).
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT id FROM cases WHERE workspace_id = $1 AND (open_key = $2 OR (response_id = $3 AND rule_id = $4))",
        )
        .bind(workspace.as_str())
        .bind(&case.open_key)
        .bind(&case.response_id)
        .bind(&case.rule_id)
        .fetch_optional(&mut *tx)
        .await?;
        if existing.is_some() {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut case = case.clone();
        if let (None, Some(team), Some(name)) = (&case.assignee, team, &case.team) {
            let last: Option<String> =
                sqlx::query_scalar("SELECT last_assignee FROM case_round_robin WHERE workspace_id = $1 AND team = $2")
                    .bind(workspace.as_str())
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
            case.assignee = next_assignee(team, last.as_deref());
            if let Some(assignee) = &case.assignee {
                sqlx::query(
                    "INSERT INTO case_round_robin (workspace_id, team, last_assignee) VALUES ($1, $2, $3) \
                     ON CONFLICT (workspace_id, team) DO UPDATE SET last_assignee = excluded.last_assignee",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(assignee)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO cases ({CASE_COLUMNS}, workspace_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
        )))
        .bind(&case.id)
        .bind(&case.identity_key)
        .bind(&case.rule_id)
        .bind(&case.response_id)
        .bind(&case.title)
        .bind(&case.priority)
        .bind(&case.state)
        .bind(&case.team)
        .bind(&case.assignee)
        .bind(case.opened_at_ms)
        .bind(case.updated_at_ms)
        .bind(case.first_response_due_ms)
        .bind(case.resolution_due_ms)
        .bind(case.first_contact_at_ms)
        .bind(case.paused_at_ms)
        .bind(case.resolved_at_ms)
        .bind(case.closed_at_ms)
        .bind(&case.root_cause)
        .bind(&case.resolution)
        .bind(&case.breached)
        .bind(case.escalated_at_ms)
        .bind(&case.open_key)
        .bind(workspace.as_str())
        .execute(&mut *tx)
        .await?;
        let mut entry = entry.clone();
        entry.detail["assignee"] = Value::from(case.assignee.clone());
        add_entries(&mut tx, &case.id, &[entry]).await?;
        announce(&mut tx, workspace, &Some(event(&case))).await?;
        tx.commit().await?;
        Ok(Some(case))
    }

    /// Applies a change if the case is still as it was read (`updated_at`); false when it was
    /// changed meanwhile (or another case took its open key).
    pub async fn change_case(
        &self,
        workspace: &WorkspaceId,
        read_at_ms: i64,
        change: &CaseChange,
    ) -> Result<bool, sqlx::Error> {
        let case = &change.case;
        let mut tx = begin_write(&self.write_pool).await?;
        let updated = sqlx::query(
            "UPDATE cases SET state = $1, assignee = $2, updated_at = $3, first_response_due = $4, resolution_due = $5, \
             first_contact_at = $6, paused_at = $7, resolved_at = $8, closed_at = $9, root_cause = $10, resolution = $11, \
             breached = $12, escalated_at = $13, open_key = $14 \
             WHERE workspace_id = $15 AND id = $16 AND updated_at = $17",
        )
        .bind(&case.state)
        .bind(&case.assignee)
        .bind(case.updated_at_ms)
        .bind(case.first_response_due_ms)
        .bind(case.resolution_due_ms)
        .bind(case.first_contact_at_ms)
        .bind(case.paused_at_ms)
        .bind(case.resolved_at_ms)
        .bind(case.closed_at_ms)
        .bind(&case.root_cause)
        .bind(&case.resolution)
        .bind(&case.breached)
        .bind(case.escalated_at_ms)
        .bind(&case.open_key)
        .bind(workspace.as_str())
        .bind(&case.id)
        .bind(read_at_ms)
        .execute(&mut *tx)
        .await;
        let updated = match updated {
            Ok(result) => result.rows_affected() == 1,
            // Reopening while another case holds the open key.
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => false,
            Err(error) => return Err(error),
        };
        if !updated {
            tx.rollback().await?;
            return Ok(false);
        }
        add_entries(&mut tx, &case.id, &change.entries).await?;
        announce(&mut tx, workspace, &change.event).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn case(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<CaseRecord>, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE workspace_id = $1 AND id = $2"
        )))
        .bind(workspace.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(case_record).transpose()
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
    ) -> Result<Vec<CaseRecord>, sqlx::Error> {
        let mut query = QueryBuilder::<Db>::new(format!("SELECT {CASE_COLUMNS} FROM cases WHERE workspace_id = "));
        query.push_bind(workspace.as_str());
        if let Some(state) = state {
            query.push(" AND state = ").push_bind(state.to_owned());
        }
        if let Some(assignee) = assignee {
            query.push(" AND assignee = ").push_bind(assignee.to_owned());
        }
        if let Some(keys) = identity_keys {
            query.push(" AND ");
            push_in_list(&mut query, "identity_key", keys.to_vec());
        }
        query.push(" ORDER BY opened_at DESC, id DESC LIMIT ").push_bind(limit as i64);
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(case_record).collect()
    }

    pub async fn case_history(&self, id: &str) -> Result<Vec<CaseEntry>, sqlx::Error> {
        let rows: Vec<(i64, String, String, Json<Value>)> =
            sqlx::query_as("SELECT at, actor, kind, detail FROM case_history WHERE case_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(at_ms, actor, kind, Json(detail))| CaseEntry { at_ms, actor, kind, detail })
            .collect())
    }

    /// Open cases (of every workspace) whose first-response or resolution target is before `now`.
    pub async fn cases_past_due(&self, now: i64, limit: usize) -> Result<Vec<(WorkspaceId, CaseRecord)>, sqlx::Error> {
        use sqlx::Row;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS}, workspace_id FROM cases WHERE open_key IS NOT NULL AND paused_at IS NULL \
             AND (resolution_due < $1 OR (first_contact_at IS NULL AND first_response_due < $1)) \
             ORDER BY resolution_due LIMIT $2"
        )))
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((WorkspaceId(row.try_get("workspace_id")?), case_record(row)?))).collect()
    }

    /// Every scored answer (not a service dimension's) received in `from..to`: survey, identity,
    /// time, question, score.
    pub async fn scored_answers(
        &self,
        workspace: &WorkspaceId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, String, i64, String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT r.survey_id, r.identity_key, r.received_at, a.question_id, a.score FROM survey_responses r \
             JOIN survey_answers a ON a.response_id = r.id WHERE r.workspace_id = $1 AND r.received_at >= $2 \
             AND r.received_at < $3 AND a.score IS NOT NULL AND a.dimension IS NULL ORDER BY r.received_at",
        )
        .bind(workspace.as_str())
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await
    }

    /// Each scored answer of `question_type` (not a service dimension's) submitted in `from..to`
    /// with the topics of its response's comments: (response, touchpoint, channel, score, topic),
    /// one row per topic (or one with no topic), ordered by response.
    pub async fn scores_with_topics(
        &self,
        workspace: &WorkspaceId,
        question_type: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<ScoreTopicRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT r.id, r.submitted_at, r.identity_key, r.touchpoint, r.channel, a.score, t.topic, t.score \
             FROM survey_responses r \
             JOIN survey_answers a ON a.response_id = r.id \
             LEFT JOIN feedback f ON f.workspace_id = r.workspace_id AND f.response_id = r.id \
             LEFT JOIN feedback_topics t ON t.feedback_id = f.id \
             WHERE r.workspace_id = $1 AND r.submitted_at >= $2 AND r.submitted_at < $3 AND a.question_type = $4 \
             AND a.score IS NOT NULL AND a.dimension IS NULL ORDER BY r.id",
        )
        .bind(workspace.as_str())
        .bind(from_ms)
        .bind(to_ms)
        .bind(question_type)
        .fetch_all(&self.pool)
        .await
    }

    /// Adds history entries to a case without changing it (a link to another system); false when
    /// the workspace has no such case.
    pub async fn add_case_entries(
        &self,
        workspace: &WorkspaceId,
        case_id: &str,
        entries: &[CaseEntry],
    ) -> Result<bool, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM cases WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.as_str())
            .bind(case_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
        add_entries(&mut tx, case_id, entries).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Service-dimension scores (CSAT dimensions) of responses submitted in `from..to`:
    /// (response, dimension, score).
    pub async fn dimension_scores(
        &self,
        workspace: &WorkspaceId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT r.id, a.dimension, a.score FROM survey_responses r JOIN survey_answers a ON a.response_id = r.id \
             WHERE r.workspace_id = $1 AND r.submitted_at >= $2 AND r.submitted_at < $3 AND a.dimension IS NOT NULL \
             AND a.score IS NOT NULL",
        )
        .bind(workspace.as_str())
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await
    }
}
