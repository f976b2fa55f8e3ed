// The feedback store's SQL: items with their analysis, one row per topic hit for counting, the
// workspace's taxonomy and settings, spike alerts and the domain events announcing them.
// `include!`d after `sql_backend.rs` by `sqlite.rs` and `postgres.rs` (see the note at the top of
// that file).

use crate::feedback_records::{
    AlertChanges, AlertRecord, BucketCount, DomainEventRecord, FeedbackFilter, FeedbackRecord, FeedbackText,
    NewFeedback, NewFeedbackTopic,
};

type FeedbackRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    String,
    Option<String>,
    f64,
    String,
    Json<Value>,
    Json<Value>,
    Json<Value>,
);
const FEEDBACK_COLUMNS: &str = "id, kind, source, channel, touchpoint, identity_key, occurred_at, received_at, text, \
     language, score, label, details, analysis, redactions";

fn feedback_record(row: FeedbackRow) -> FeedbackRecord {
    let (
        id,
        kind,
        source,
        channel,
        touchpoint,
        identity_key,
        occurred,
        received,
        text,
        language,
        score,
        label,
        d,
        a,
        r,
    ) = row;
    FeedbackRecord {
        id,
        kind,
        source,
        channel,
        touchpoint,
        identity_key,
        occurred_at_ms: occurred,
        received_at_ms: received,
        text,
        language,
        score,
        label,
        details: d.0,
        analysis: a.0,
        redactions: r.0,
    }
}

type AlertRow = (String, String, String, String, i64, i64, i64, i64, Json<Value>);
const ALERT_COLUMNS: &str = "id, scope, subject, status, raised_at, updated_at, window_start, window_end, detail";

fn alert_record(row: AlertRow) -> AlertRecord {
    let (id, scope, subject, status, raised, updated, start, end, Json(detail)) = row;
    AlertRecord {
        id,
        scope,
        subject,
        status,
        raised_at_ms: raised,
        updated_at_ms: updated,
        window_start_ms: start,
        window_end_ms: end,
        detail,
    }
}

/// Stores items in an open transaction; an item whose idempotency key the workspace has seen is
/// not stored again. Returns each item's id and whether it is new.
async fn insert_feedback_in(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    items: &[NewFeedback],
    response_id: Option<&str>,
) -> Result<Vec<(String, bool)>, sqlx::Error> {
    let mut stored = Vec::with_capacity(items.len());
    for item in items {
        let id = new_id();
        let inserted = sqlx::query(
            "INSERT INTO feedback (id, workspace_id, kind, source, channel, touchpoint, identity_key, occurred_at, \
             received_at, text, language, score, label, details, analysis, redactions, idempotency_key, response_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
        )
        .bind(&id)
        .bind(workspace.as_str())
        .bind(&item.kind)
        .bind(&item.source)
        .bind(&item.channel)
        .bind(&item.touchpoint)
        .bind(&item.identity_key)
        .bind(item.occurred_at_ms)
        .bind(item.received_at_ms)
        .bind(&item.text)
        .bind(&item.language)
        .bind(item.score)
        .bind(&item.label)
        .bind(Json(&item.details))
        .bind(Json(&item.analysis))
        .bind(Json(&item.redactions))
        .bind(&item.idempotency_key)
        .bind(response_id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            let earlier: String =
                sqlx::query_scalar("SELECT id FROM feedback WHERE workspace_id = $1 AND idempotency_key = $2")
                    .bind(workspace.as_str())
                    .bind(&item.idempotency_key)
                    .fetch_one(&mut **tx)
                    .await?;
            stored.push((earlier, false));
            continue;
        }
        insert_topics_in(tx, workspace, &id, item.occurred_at_ms, &item.source, &item.topics).await?;
        stored.push((id, true));
    }
    Ok(stored)
}

async fn insert_topics_in(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    id: &str,
    occurred_at_ms: i64,
    source: &str,
    topics: &[NewFeedbackTopic],
) -> Result<(), sqlx::Error> {
    for topic in topics {
        sqlx::query(
            "INSERT INTO feedback_topics (workspace_id, topic, occurred_at, feedback_id, source, score, label) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(workspace.as_str())
        .bind(&topic.topic)
        .bind(occurred_at_ms)
        .bind(id)
        .bind(source)
        .bind(topic.score)
        .bind(&topic.label)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl SqlBackend {
    pub async fn insert_feedback(
        &self,
        workspace: &WorkspaceId,
        items: &[NewFeedback],
    ) -> Result<Vec<(String, bool)>, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        let stored = insert_feedback_in(&mut tx, workspace, items, None).await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn feedback(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<FeedbackRecord>, sqlx::Error> {
        let row: Option<FeedbackRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE workspace_id = $1 AND id = $2"
        )))
        .bind(workspace.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(feedback_record))
    }

    /// Items matching `filter`, newest first.
    pub async fn list_feedback(
        &self,
        workspace: &WorkspaceId,
        filter: &FeedbackFilter,
    ) -> Result<Vec<FeedbackRecord>, sqlx::Error> {
        let mut query =
            QueryBuilder::<Db>::new(format!("SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE workspace_id = "));
        query.push_bind(workspace.as_str());
        if let Some(from) = filter.from_ms {
            query.push(" AND occurred_at >= ").push_bind(from);
        }
        if let Some(to) = filter.to_ms {
            query.push(" AND occurred_at < ").push_bind(to);
        }
        for (column, value) in
            [("source", &filter.source), ("channel", &filter.channel), ("kind", &filter.kind), ("label", &filter.label)]
        {
            if let Some(value) = value {
                query.push(format!(" AND {column} = ")).push_bind(value.clone());
            }
        }
        if let Some(text) = &filter.text {
            // A substring, its LIKE wildcards taken literally.
            let escaped: String = text
                .to_lowercase()
                .chars()
                .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
                .collect();
            query.push(" AND LOWER(text) LIKE ").push_bind(format!("%{escaped}%")).push(" ESCAPE '\\'");
        }
        if let Some(topic) = &filter.topic {
            query.push(
                " AND EXISTS (SELECT 1 FROM feedback_topics t WHERE t.workspace_id = feedback.workspace_id \
                 AND t.topic = ",
            );
            query.push_bind(topic.clone());
            query.push(" AND t.occurred_at = feedback.occurred_at AND t.feedback_id = feedback.id)");
        }
        if let Some(keys) = &filter.identity_keys {
            query.push(" AND ");
            push_in_list(&mut query, "identity_key", keys.clone());
        }
        if let Some((at, id)) = &filter.before {
            query.push(" AND (occurred_at < ").push_bind(*at);
            query.push(" OR (occurred_at = ").push_bind(*at);
            query.push(" AND id < ").push_bind(id.clone());
            query.push("))");
        }
        query.push(" ORDER BY occurred_at DESC, id DESC LIMIT ").push_bind(filter.limit as i64);
        let rows: Vec<FeedbackRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(feedback_record).collect())
    }

    /// Per topic (`by = Topic`), per source, or for all feedback (key ""), per bucket of
    /// `bucket_ms` (aligned to the epoch): items and negative items that occurred in `from..to`.
    pub async fn feedback_counts(
        &self,
        workspace: &WorkspaceId,
        by: crate::feedback_records::CountBy,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<BucketCount>, sqlx::Error> {
        use crate::feedback_records::CountBy;
        let (table, key) = match by {
            CountBy::Topic => ("feedback_topics", "topic"),
            CountBy::Source => ("feedback", "source"),
            CountBy::All => ("feedback", "''"),
            CountBy::TopicAndSource => ("feedback_topics", "topic || '/' || source"),
        };
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {key} AS k, (occurred_at / $4) * $4 AS bucket, COUNT(*), \
             SUM(CASE WHEN label = 'negative' THEN 1 ELSE 0 END) FROM {table} \
             WHERE workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3 GROUP BY k, bucket ORDER BY k, bucket"
        )))
        .bind(workspace.as_str())
        .bind(from_ms)
        .bind(to_ms)
        .bind(bucket_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key, bucket, total, negative)| BucketCount {
                key,
                bucket_ms: bucket,
                total: total as u64,
                negative: negative as u64,
            })
            .collect())
    }

    /// Hourly negative mentions of a topic (`scope` "topic": the topic's own label) or a source
    /// (the item's label) in `from..to`, leaving out items that have any topic in `excluded`.
    pub async fn negative_counts_excluding(
        &self,
        workspace: &WorkspaceId,
        scope: &str,
        subject: &str,
        excluded: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT (occurred_at / 3600000) * 3600000 AS bucket, COUNT(*) FROM feedback f WHERE workspace_id = ",
        );
        query.push_bind(workspace.as_str());
        query.push(" AND occurred_at >= ").push_bind(from_ms);
        query.push(" AND occurred_at < ").push_bind(to_ms);
        if scope == "topic" {
            query.push(
                " AND EXISTS (SELECT 1 FROM feedback_topics t WHERE t.workspace_id = f.workspace_id AND t.topic = ",
            );
            query.push_bind(subject.to_owned());
            query.push(" AND t.occurred_at = f.occurred_at AND t.feedback_id = f.id AND t.label = 'negative')");
        } else {
            query.push(" AND source = ").push_bind(subject.to_owned());
            query.push(" AND label = 'negative'");
        }
        if !excluded.is_empty() {
            query.push(" AND NOT EXISTS (SELECT 1 FROM feedback_topics x WHERE x.feedback_id = f.id AND ");
            push_in_list(&mut query, "x.topic", excluded.to_vec());
            query.push(")");
        }
        query.push(" GROUP BY bucket");
        query.build_query_as().fetch_all(&self.pool).await
    }

    /// Up to `limit` negative items of a topic or source in `from..to`, newest first.
    pub async fn negative_examples(
        &self,
        workspace: &WorkspaceId,
        scope: &str,
        subject: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<FeedbackRecord>, sqlx::Error> {
        let condition = if scope == "topic" {
            "EXISTS (SELECT 1 FROM feedback_topics t WHERE t.workspace_id = feedback.workspace_id AND t.topic = $2 \
             AND t.occurred_at = feedback.occurred_at AND t.feedback_id = feedback.id AND t.label = 'negative')"
        } else {
            "source = $2 AND label = 'negative'"
        };
        let rows: Vec<FeedbackRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE workspace_id = $1 AND {condition} \
             AND occurred_at >= $3 AND occurred_at < $4 ORDER BY occurred_at DESC, id DESC LIMIT $5"
        )))
        .bind(workspace.as_str())
        .bind(subject)
        .bind(from_ms)
        .bind(to_ms)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(feedback_record).collect())
    }

    /// Items in id order after `after`, for re-tagging with a new taxonomy.
    pub async fn feedback_texts(
        &self,
        workspace: &WorkspaceId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<FeedbackText>, sqlx::Error> {
        type Row = (String, String, String, i64, String, Json<Value>, Json<Value>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, kind, source, occurred_at, text, details, analysis FROM feedback \
             WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(workspace.as_str())
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, source, occurred_at_ms, text, Json(details), Json(analysis))| FeedbackText {
                id,
                kind,
                source,
                occurred_at_ms,
                text,
                details,
                analysis,
            })
            .collect())
    }

    /// Replaces items' analysis and topic rows (after a taxonomy change), in one transaction.
    pub async fn retag_feedback(
        &self,
        workspace: &WorkspaceId,
        items: &[(FeedbackText, Vec<NewFeedbackTopic>)],
    ) -> Result<(), sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        for (item, topics) in items {
            sqlx::query("DELETE FROM feedback_topics WHERE feedback_id = $1").bind(&item.id).execute(&mut *tx).await?;
            sqlx::query("UPDATE feedback SET analysis = $1 WHERE workspace_id = $2 AND id = $3")
                .bind(Json(&item.analysis))
                .bind(workspace.as_str())
                .bind(&item.id)
                .execute(&mut *tx)
                .await?;
            insert_topics_in(&mut tx, workspace, &item.id, item.occurred_at_ms, &item.source, topics).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn alerts(
        &self,
        workspace: &WorkspaceId,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, sqlx::Error> {
        let rows: Vec<AlertRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE workspace_id = $1 AND ($2 IS NULL OR status = $2) \
             ORDER BY raised_at DESC, id DESC LIMIT $3"
        )))
        .bind(workspace.as_str())
        .bind(status)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(alert_record).collect())
    }

    /// Applies an evaluation's alert changes and writes an `alert.raised` domain event for each new
    /// alert, all in one transaction.
    pub async fn apply_alert_changes(
        &self,
        workspace: &WorkspaceId,
        changes: &AlertChanges,
        raised_payloads: &[Value],
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        // Two evaluations at once (the hourly one and one asked for, or two processes) must not
        // raise one spike twice: the second finds the first's alert open and raises nothing.
        lock_workspace(&mut tx, workspace).await?;
        let mut raised = Vec::new();
        for (alert, payload) in changes.raised.iter().zip(raised_payloads) {
            let open: Option<String> = sqlx::query_scalar(
                "SELECT id FROM alerts WHERE workspace_id = $1 AND scope = $2 AND subject = $3 AND status = 'open'",
            )
            .bind(workspace.as_str())
            .bind(&alert.scope)
            .bind(&alert.subject)
            .fetch_optional(&mut *tx)
            .await?;
            if open.is_some() {
                continue;
            }
            raised.push(alert.id.clone());
            sqlx::query(
                "INSERT INTO alerts (id, workspace_id, scope, subject, status, raised_at, updated_at, window_start, \
                 window_end, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&alert.id)
            .bind(workspace.as_str())
            .bind(&alert.scope)
            .bind(&alert.subject)
            .bind(&alert.status)
            .bind(alert.raised_at_ms)
            .bind(alert.updated_at_ms)
            .bind(alert.window_start_ms)
            .bind(alert.window_end_ms)
            .bind(Json(&alert.detail))
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO domain_events (workspace_id, type, payload, created_at) VALUES ($1, $2, $3, $4)")
                .bind(workspace.as_str())
                .bind("alert.raised")
                .bind(Json(payload))
                // When it was announced (an evaluation may be as of another time).
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        for alert in &changes.extended {
            sqlx::query(
                "UPDATE alerts SET updated_at = $1, window_end = $2, detail = $3 WHERE workspace_id = $4 AND id = $5",
            )
            .bind(alert.updated_at_ms)
            .bind(alert.window_end_ms)
            .bind(Json(&alert.detail))
            .bind(workspace.as_str())
            .bind(&alert.id)
            .execute(&mut *tx)
            .await?;
        }
        for id in &changes.closed {
            sqlx::query("UPDATE alerts SET status = 'closed', updated_at = $1 WHERE workspace_id = $2 AND id = $3")
                .bind(now_ms())
                .bind(workspace.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(raised)
    }

    pub async fn domain_events(
        &self,
        workspace: &WorkspaceId,
        after: i64,
        event_type: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DomainEventRecord>, sqlx::Error> {
        let rows: Vec<(i64, String, Json<Value>, i64)> = sqlx::query_as(
            "SELECT seq, type, payload, created_at FROM domain_events WHERE workspace_id = $1 AND seq > $2 \
             AND ($3 IS NULL OR type = $3) ORDER BY seq LIMIT $4",
        )
        .bind(workspace.as_str())
        .bind(after)
        .bind(event_type)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, event_type, Json(payload), created_at_ms)| DomainEventRecord {
                seq,
                event_type,
                payload,
                created_at_ms,
            })
            .collect())
    }

    /// Every workspace's id (the alert evaluator visits each).
    pub async fn workspace_ids(&self) -> Result<Vec<WorkspaceId>, sqlx::Error> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM workspaces ORDER BY id").fetch_all(&self.pool).await?;
        Ok(ids.into_iter().map(WorkspaceId).collect())
    }
}
