// Surveys, their versions and responses: SQL both backends share, `include!`d after
// `sql_backend.rs` by `sqlite.rs` and `postgres.rs` (see the note at the top of that file).

use rapport_core::survey::{SurveyDefinition, SurveyKind};
use rapport_core::survey_answers::{Answer, AnswerValue};

use crate::records::{NewResponse, ResponseCursor, ResponseRecord, StoredAnswer, SurveyRecord};

type SurveyRow = (String, i64, i64, Json<SurveyDefinition>, i64, i64);
const SURVEY_COLUMNS: &str = "s.id, v.version, s.current_version, v.definition, s.created_at, s.updated_at";

fn survey_record(row: SurveyRow) -> SurveyRecord {
    let (id, version, current_version, Json(definition), created_at_ms, updated_at_ms) = row;
    SurveyRecord { id, version, current_version, definition, created_at_ms, updated_at_ms }
}

type ResponseRow = (String, String, i64, String, Option<String>, Option<String>, Option<String>, i64, i64);
const RESPONSE_COLUMNS: &str =
    "id, survey_id, version, identity_key, channel, touchpoint, agent, submitted_at, received_at";

fn response_record(row: ResponseRow) -> ResponseRecord {
    let (id, survey_id, version, identity_key, channel, touchpoint, agent, submitted_at_ms, received_at_ms) = row;
    ResponseRecord {
        id,
        survey_id,
        version,
        identity_key,
        channel,
        touchpoint,
        agent,
        submitted_at_ms,
        received_at_ms,
        answers: Vec::new(),
    }
}

/// The columns of one answer row: score, choice, text (a multiple choice is a row per choice).
fn answer_rows(answer: &Answer) -> Vec<(Option<i64>, Option<String>, Option<String>)> {
    match &answer.value {
        AnswerValue::Score(score) => vec![(Some(*score), None, None)],
        AnswerValue::Choice(choice) => vec![(None, Some(choice.clone()), None)],
        AnswerValue::Choices(choices) => choices.iter().map(|choice| (None, Some(choice.clone()), None)).collect(),
        AnswerValue::Text(text) => vec![(None, None, Some(text.clone()))],
    }
}

/// A response's open-text answers as feedback items, in the response's transaction: keyed by the
/// response, so an item is never stored twice, and naming the response in their details.
async fn insert_response_feedback(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    response_id: &str,
    response: &NewResponse,
) -> Result<(), sqlx::Error> {
    if response.feedback.is_empty() {
        return Ok(());
    }
    let items: Vec<NewFeedback> = response
        .feedback
        .iter()
        .enumerate()
        .map(|(n, item)| {
            let mut item = item.clone();
            item.idempotency_key = Some(format!("response:{response_id}:{n}"));
            if let Value::Object(details) = &mut item.details {
                details.insert("responseId".to_owned(), Value::from(response_id));
            }
            item
        })
        .collect();
    insert_feedback_in(tx, workspace, &items, Some(response_id)).await?;
    Ok(())
}

impl SqlBackend {
    /// (submitted at, question type, score) of every NPS, CSAT and CES answer (not a CSAT
    /// dimension) filed under one of `identity_keys`, oldest first: a customer's scores over time.
    pub async fn scores_of(
        &self,
        workspace: &WorkspaceId,
        identity_keys: Vec<String>,
    ) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT r.submitted_at, a.question_type, a.score FROM survey_responses r \
             JOIN survey_answers a ON a.response_id = r.id WHERE r.workspace_id = ",
        );
        query.push_bind(workspace.as_str());
        query.push(" AND ");
        push_in_list(&mut query, "r.identity_key", identity_keys);
        query.push(
            " AND a.dimension IS NULL AND a.score IS NOT NULL AND a.question_type IN ('nps', 'csat', 'ces') \
             ORDER BY r.submitted_at, r.id, a.position",
        );
        query.build_query_as().fetch_all(&self.pool).await
    }

    pub async fn create_survey(
        &self,
        workspace: &WorkspaceId,
        definition: &SurveyDefinition,
    ) -> Result<SurveyRecord, sqlx::Error> {
        let (id, now) = (new_id(), now_ms());
        let mut tx = begin_write(&self.write_pool).await?;
        sqlx::query(
            "INSERT INTO surveys (id, workspace_id, name, kind, current_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5)",
        )
        .bind(&id)
        .bind(workspace.as_str())
        .bind(&definition.name)
        .bind(survey_kind(definition))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_version(&mut tx, &id, 1, definition, now).await?;
        tx.commit().await?;
        Ok(SurveyRecord {
            id,
            version: 1,
            current_version: 1,
            definition: definition.clone(),
            created_at_ms: now,
            updated_at_ms: now,
        })
    }

    /// Adds `definition` as the survey's next version (versions never change once stored).
    pub async fn add_survey_version(
        &self,
        workspace: &WorkspaceId,
        survey: &str,
        definition: &SurveyDefinition,
    ) -> Result<Option<SurveyRecord>, sqlx::Error> {
        let now = now_ms();
        let mut tx = begin_write(&self.write_pool).await?;
        // The update takes the survey's row lock: concurrent edits get consecutive versions.
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE surveys SET current_version = current_version + 1, name = $1, kind = $2, updated_at = $3 \
             WHERE workspace_id = $4 AND id = $5 RETURNING current_version",
        )
        .bind(&definition.name)
        .bind(survey_kind(definition))
        .bind(now)
        .bind(workspace.as_str())
        .bind(survey)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(version) = version else { return Ok(None) };
        insert_version(&mut tx, survey, version, definition, now).await?;
        tx.commit().await?;
        self.survey(workspace, survey, Some(version)).await
    }

    /// A survey at `version`, or at its current version.
    pub async fn survey(
        &self,
        workspace: &WorkspaceId,
        survey: &str,
        version: Option<i64>,
    ) -> Result<Option<SurveyRecord>, sqlx::Error> {
        let row: Option<SurveyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SURVEY_COLUMNS} FROM surveys s JOIN survey_versions v ON v.survey_id = s.id \
             WHERE s.workspace_id = $1 AND s.id = $2 AND v.version = COALESCE($3, s.current_version)"
        )))
        .bind(workspace.as_str())
        .bind(survey)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(survey_record))
    }

    /// Every survey of the workspace at its current version, oldest first.
    pub async fn surveys(&self, workspace: &WorkspaceId) -> Result<Vec<SurveyRecord>, sqlx::Error> {
        let rows: Vec<SurveyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SURVEY_COLUMNS} FROM surveys s JOIN survey_versions v \
             ON v.survey_id = s.id AND v.version = s.current_version \
             WHERE s.workspace_id = $1 ORDER BY s.created_at, s.id"
        )))
        .bind(workspace.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(survey_record).collect())
    }

    /// Stores a response and its answers in one transaction. With an idempotency key already
    /// used for this survey, stores nothing and returns the earlier response with `false`.
    pub async fn insert_response(
        &self,
        workspace: &WorkspaceId,
        response: &NewResponse,
    ) -> Result<(ResponseRecord, bool), sqlx::Error> {
        let id = new_id();
        let mut tx = begin_write(&self.write_pool).await?;
        let inserted = sqlx::query(
            "INSERT INTO survey_responses (id, workspace_id, survey_id, version, identity_key, channel, touchpoint, \
             agent, submitted_at, received_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (workspace_id, survey_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
        )
        .bind(&id)
        .bind(workspace.as_str())
        .bind(&response.survey_id)
        .bind(response.version)
        .bind(&response.identity_key)
        .bind(&response.channel)
        .bind(&response.touchpoint)
        .bind(&response.agent)
        .bind(response.submitted_at_ms)
        .bind(response.received_at_ms)
        .bind(&response.idempotency_key)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            tx.rollback().await?;
            let earlier: Option<String> = sqlx::query_scalar(
                "SELECT id FROM survey_responses WHERE workspace_id = $1 AND survey_id = $2 AND idempotency_key = $3",
            )
            .bind(workspace.as_str())
            .bind(&response.survey_id)
            .bind(&response.idempotency_key)
            .fetch_optional(&self.pool)
            .await?;
            let earlier = match earlier {
                Some(earlier) => self.response(workspace, &earlier).await?,
                None => None,
            };
            return earlier.map(|record| (record, false)).ok_or(sqlx::Error::RowNotFound);
        }
        let mut position: i64 = 0;
        for answer in &response.answers {
            for (score, choice, text) in answer_rows(answer) {
                sqlx::query(
                    "INSERT INTO survey_answers (response_id, position, question_id, question_type, dimension, score, \
                     choice, text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&id)
                .bind(position)
                .bind(&answer.question)
                .bind(answer.question_type)
                .bind(&answer.dimension)
                .bind(score)
                .bind(choice)
                .bind(text)
                .execute(&mut *tx)
                .await?;
                position += 1;
            }
        }
        if let Some(invitation) = &response.invitation {
            // An invitation whose link is still valid is answered even if the sweep just
            // expired it (both end 14 days after sending).
            sqlx::query(
                "UPDATE invitations SET state = 'responded', responded_at = $1 \
                 WHERE workspace_id = $2 AND id = $3 AND state IN ('sent', 'dispatching', 'expired')",
            )
            .bind(response.received_at_ms)
            .bind(workspace.as_str())
            .bind(invitation)
            .execute(&mut *tx)
            .await?;
        }
        add_to_rollup(&mut tx, workspace, response).await?;
        insert_response_feedback(&mut tx, workspace, &id, response).await?;
        // Announced with the response: webhooks deliver it (imports of history announce nothing).
        let payload = serde_json::json!({
            "type": "response.created",
            "responseId": id,
            "surveyId": response.survey_id,
            "version": response.version,
            "identity": response.identity_key,
            "channel": response.channel,
            "touchpoint": response.touchpoint,
            "submittedAt": response.submitted_at_ms,
        });
        sqlx::query("INSERT INTO domain_events (workspace_id, type, payload, created_at) VALUES ($1, $2, $3, $4)")
            .bind(workspace.as_str())
            .bind("response.created")
            .bind(Json(payload))
            .bind(response.received_at_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // What was just written, as a read of it returns it (rows in position order), without
        // reading it back.
        let answers = response
            .answers
            .iter()
            .flat_map(|answer| {
                answer_rows(answer).into_iter().map(|(score, choice, text)| StoredAnswer {
                    question: answer.question.clone(),
                    question_type: answer.question_type.to_owned(),
                    dimension: answer.dimension.clone(),
                    score,
                    choice,
                    text,
                })
            })
            .collect();
        let record = ResponseRecord {
            id,
            survey_id: response.survey_id.clone(),
            version: response.version,
            identity_key: response.identity_key.clone(),
            channel: response.channel.clone(),
            touchpoint: response.touchpoint.clone(),
            agent: response.agent.clone(),
            submitted_at_ms: response.submitted_at_ms,
            received_at_ms: response.received_at_ms,
            answers,
        };
        Ok((record, true))
    }

    /// Imports historical responses in one transaction, skipping those whose idempotency key the
    /// survey has seen, with the rollup updated once per (day, survey, question…) with the sum of
    /// the batch's answers instead of once per answer. For bulk loads (imports, the demo,
    /// benchmarks). Returns how many were new.
    pub async fn import_responses(
        &self,
        workspace: &WorkspaceId,
        responses: &[NewResponse],
    ) -> Result<usize, sqlx::Error> {
        let ids: Vec<String> = responses.iter().map(|_| new_id()).collect();
        let rows: Vec<(&String, &NewResponse)> = ids.iter().zip(responses).collect();
        let mut tx = begin_write(&self.write_pool).await?;
        // A response whose idempotency key the survey has seen is skipped: re-running an import
        // adds nothing twice.
        let mut inserted: std::collections::HashSet<String> = std::collections::HashSet::new();
        for chunk in cached_chunks(&rows) {
            let mut sql = QueryBuilder::<Db>::new(
                "INSERT INTO survey_responses (id, workspace_id, survey_id, version, identity_key, channel, touchpoint, \
                 agent, submitted_at, received_at, idempotency_key) ",
            );
            sql.push_values(chunk, |mut row, (id, response)| {
                row.push_bind((*id).clone())
                    .push_bind(workspace.as_str().to_owned())
                    .push_bind(response.survey_id.clone())
                    .push_bind(response.version)
                    .push_bind(response.identity_key.clone())
                    .push_bind(response.channel.clone())
                    .push_bind(response.touchpoint.clone())
                    .push_bind(response.agent.clone())
                    .push_bind(response.submitted_at_ms)
                    .push_bind(response.received_at_ms)
                    .push_bind(response.idempotency_key.clone());
            });
            sql.push(
                " ON CONFLICT (workspace_id, survey_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
                 RETURNING id",
            );
            inserted.extend(sql.build_query_scalar::<String>().fetch_all(&mut *tx).await?);
        }
        let mut answers = Vec::new();
        let mut rollup: BTreeMap<RollupKey, i64> = BTreeMap::new();
        for (id, response) in rows.iter().filter(|(id, _)| inserted.contains(*id)) {
            let mut position: i64 = 0;
            for answer in &response.answers {
                if let AnswerValue::Score(score) = answer.value {
                    for key in rollup_keys(response, answer, score) {
                        *rollup.entry(key).or_default() += 1;
                    }
                }
                for (score, choice, text) in answer_rows(answer) {
                    answers.push((*id, position, answer, score, choice, text));
                    position += 1;
                }
            }
        }
        for chunk in cached_chunks(&answers) {
            let mut sql = QueryBuilder::<Db>::new(
                "INSERT INTO survey_answers (response_id, position, question_id, question_type, dimension, score, choice, \
                 text) ",
            );
            sql.push_values(chunk, |mut row, (id, position, answer, score, choice, text)| {
                row.push_bind((*id).clone())
                    .push_bind(*position)
                    .push_bind(answer.question.clone())
                    .push_bind(answer.question_type)
                    .push_bind(answer.dimension.clone())
                    .push_bind(*score)
                    .push_bind(choice.clone())
                    .push_bind(text.clone());
            });
            sql.build().execute(&mut *tx).await?;
        }
        let rollup: Vec<(RollupKey, i64)> = rollup.into_iter().collect();
        for chunk in cached_chunks(&rollup) {
            push_rollup_rows(&mut tx, workspace, chunk).await?;
        }
        for (id, response) in rows.iter().filter(|(id, _)| inserted.contains(*id)) {
            insert_response_feedback(&mut tx, workspace, id, response).await?;
        }
        tx.commit().await?;
        Ok(inserted.len())
    }

    pub async fn response(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<ResponseRecord>, sqlx::Error> {
        let row: Option<ResponseRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RESPONSE_COLUMNS} FROM survey_responses WHERE workspace_id = $1 AND id = $2"
        )))
        .bind(workspace.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut records = vec![response_record(row)];
        self.attach_answers(&mut records).await?;
        Ok(records.pop())
    }

    /// A page of a survey's responses, oldest first, after `after` when given.
    pub async fn responses(
        &self,
        workspace: &WorkspaceId,
        survey: &str,
        after: Option<&ResponseCursor>,
        limit: i64,
    ) -> Result<Vec<ResponseRecord>, sqlx::Error> {
        let (after_ms, after_id) = match after {
            Some(cursor) => (cursor.submitted_at_ms, cursor.id.clone()),
            None => (i64::MIN, String::new()),
        };
        let rows: Vec<ResponseRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RESPONSE_COLUMNS} FROM survey_responses WHERE workspace_id = $1 AND survey_id = $2 \
             AND (submitted_at > $3 OR (submitted_at = $3 AND id > $4)) ORDER BY submitted_at, id LIMIT $5"
        )))
        .bind(workspace.as_str())
        .bind(survey)
        .bind(after_ms)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut records: Vec<ResponseRecord> = rows.into_iter().map(response_record).collect();
        self.attach_answers(&mut records).await?;
        Ok(records)
    }

    async fn attach_answers(&self, records: &mut [ResponseRecord]) -> Result<(), sqlx::Error> {
        if records.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = records.iter().map(|record| record.id.clone()).collect();
        let mut query = QueryBuilder::<Db>::new(
            "SELECT response_id, question_id, question_type, dimension, score, choice, text FROM survey_answers WHERE ",
        );
        push_in_list(&mut query, "response_id", ids);
        query.push(" ORDER BY response_id, position");
        type AnswerRow = (String, String, String, Option<String>, Option<i64>, Option<String>, Option<String>);
        let rows: Vec<AnswerRow> = query.build_query_as().fetch_all(&self.pool).await?;
        let mut by_response: BTreeMap<String, Vec<StoredAnswer>> = BTreeMap::new();
        for (response, question, question_type, dimension, score, choice, text) in rows {
            by_response.entry(response).or_default().push(StoredAnswer {
                question,
                question_type,
                dimension,
                score,
                choice,
                text,
            });
        }
        for record in records {
            record.answers = by_response.remove(&record.id).unwrap_or_default();
        }
        Ok(())
    }
}

/// A rollup row's key ('' for none, and for what its grain does not hold).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RollupKey {
    question_type: &'static str,
    grain: &'static str,
    survey: String,
    day: i64,
    question: String,
    dimension: String,
    channel: String,
    touchpoint: String,
    agent: String,
    score: i64,
}

/// The answer's row at each grain: by channel and touchpoint, and by agent.
fn rollup_keys(response: &NewResponse, answer: &Answer, score: i64) -> [RollupKey; 2] {
    let by_channel = RollupKey {
        question_type: answer.question_type,
        grain: "channel",
        survey: response.survey_id.clone(),
        day: rapport_core::metrics::query::day_of_ms(response.submitted_at_ms),
        question: answer.question.clone(),
        dimension: answer.dimension.clone().unwrap_or_default(),
        channel: response.channel.clone().unwrap_or_default(),
        touchpoint: response.touchpoint.clone().unwrap_or_default(),
        agent: String::new(),
        score,
    };
    let by_agent = RollupKey {
        grain: "agent",
        channel: String::new(),
        touchpoint: String::new(),
        agent: response.agent.clone().unwrap_or_default(),
        ..by_channel.clone()
    };
    [by_channel, by_agent]
}

/// Counts the response's scored answers into the daily rollup (`sql_metrics.rs` reads it).
async fn add_to_rollup(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    response: &NewResponse,
) -> Result<(), sqlx::Error> {
    // One row per (question, dimension) and grain of one response: no two rows collide. Sorted,
    // so concurrent transactions lock rollup rows in one order (no deadlock on PostgreSQL).
    let mut rows: Vec<(RollupKey, i64)> = response
        .answers
        .iter()
        .filter_map(|answer| match answer.value {
            AnswerValue::Score(score) => Some(rollup_keys(response, answer, score)),
            _ => None,
        })
        .flatten()
        .map(|key| (key, 1))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort();
    push_rollup_rows(tx, workspace, &rows).await
}

/// Adds `rows` (key, answers) to the rollup; keys must be distinct within one call.
async fn push_rollup_rows(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    rows: &[(RollupKey, i64)],
) -> Result<(), sqlx::Error> {
    let mut sql = QueryBuilder::<Db>::new(
        "INSERT INTO answer_rollups (workspace_id, question_type, grain, survey_id, day, question_id, dimension, \
         channel, touchpoint, agent, score, answers) ",
    );
    sql.push_values(rows, |mut row, (key, count)| {
        row.push_bind(workspace.as_str().to_owned())
            .push_bind(key.question_type)
            .push_bind(key.grain)
            .push_bind(key.survey.clone())
            .push_bind(key.day)
            .push_bind(key.question.clone())
            .push_bind(key.dimension.clone())
            .push_bind(key.channel.clone())
            .push_bind(key.touchpoint.clone())
            .push_bind(key.agent.clone())
            .push_bind(key.score)
            .push_bind(*count);
    });
    sql.push(
        " ON CONFLICT (workspace_id, question_type, grain, survey_id, day, question_id, dimension, channel, touchpoint, \
         agent, score) DO UPDATE SET answers = answer_rollups.answers + excluded.answers",
    );
    sql.build().execute(&mut **tx).await?;
    Ok(())
}

fn survey_kind(definition: &SurveyDefinition) -> &'static str {
    match definition.kind {
        SurveyKind::Transactional => "transactional",
        SurveyKind::Relational => "relational",
    }
}

async fn insert_version(
    tx: &mut Transaction<'static, Db>,
    survey: &str,
    version: i64,
    definition: &SurveyDefinition,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO survey_versions (survey_id, version, definition, created_at) VALUES ($1, $2, $3, $4)")
        .bind(survey)
        .bind(version)
        .bind(Json(definition))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
