// Churn prediction's SQL: what the features read (events with their customer, identities to
// customers), models and scores. Included by sqlite.rs and postgres.rs.

/// (customer, event type, name, timestamp, properties).
type EventRow = (String, String, Option<String>, i64, Json<Value>);
/// A `customer_predictions` row.
type PredictionRow = (String, Option<f64>, bool, Json<Value>, f64, Json<Value>, Option<i64>, i64, Option<Json<Value>>);

impl SqlBackend {
    /// Every track, page and screen event before `until_ms`, with the customer (root) it belongs
    /// to, oldest first.
    pub async fn each_customer_event(
        &self,
        workspace: &WorkspaceId,
        until_ms: i64,
        mut each: impl FnMut(crate::prediction_records::CustomerEvent),
    ) -> Result<(), sqlx::Error> {
        use futures::TryStreamExt;
        // Streamed, unordered: a workspace's events need not fit in memory, nor be sorted.
        let mut rows = sqlx::query_as::<_, EventRow>(
            "SELECT c.root_id, e.event_type, e.name, e.timestamp, e.properties FROM events e JOIN identities i \
             ON i.workspace_id = e.workspace_id AND i.identity_key = CASE WHEN e.user_id IS NOT NULL \
             THEN 'userId:' || e.user_id ELSE 'anonymousId:' || e.anonymous_id END \
             JOIN customers c ON c.id = i.customer_id \
             WHERE e.workspace_id = $1 AND e.timestamp < $2 AND e.event_type IN ('track', 'page', 'screen')",
        )
        .bind(workspace.as_str())
        .bind(until_ms)
        .fetch(&self.pool);
        while let Some((customer_id, event_type, name, timestamp_ms, Json(properties))) = rows.try_next().await? {
            each(crate::prediction_records::CustomerEvent { customer_id, event_type, name, timestamp_ms, properties });
        }
        Ok(())
    }

    /// Every identity of the workspace with the customer (root) it belongs to now.
    pub async fn identity_roots(&self, workspace: &WorkspaceId) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT i.identity_key, c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
             WHERE i.workspace_id = $1",
        )
        .bind(workspace.as_str())
        .fetch_all(&self.pool)
        .await
    }

    /// Saves a model as the next version; returns the version.
    pub async fn save_churn_model(
        &self,
        workspace: &WorkspaceId,
        model: &Value,
        summary: &Value,
    ) -> Result<i64, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM churn_models WHERE workspace_id = $1")
            .bind(workspace.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let version = latest.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO churn_models (workspace_id, version, created_at, model, summary) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(workspace.as_str())
        .bind(version)
        .bind(now_ms())
        .bind(Json(model))
        .bind(Json(summary))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// The newest model, or None before the first training.
    pub async fn latest_churn_model(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Option<crate::prediction_records::ChurnModelRecord>, sqlx::Error> {
        let row: Option<(i64, i64, Json<Value>, Json<Value>)> = sqlx::query_as(
            "SELECT version, created_at, model, summary FROM churn_models WHERE workspace_id = $1 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(workspace.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(version, created_at_ms, Json(model), Json(summary))| {
            crate::prediction_records::ChurnModelRecord { version, created_at_ms, model, summary }
        }))
    }

    /// Replaces every customer's prediction with `predictions` in one transaction, and announces
    /// each newly flagged customer with `customer.churn_risk` (`announce` makes its payload) in the
    /// same one. Returns the newly flagged customers.
    pub async fn replace_predictions(
        &self,
        workspace: &WorkspaceId,
        predictions: &[crate::prediction_records::CustomerPrediction],
        announce: &(dyn Fn(&crate::prediction_records::CustomerPrediction) -> Value + Send + Sync),
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        let flagged_before: Vec<String> =
            sqlx::query_scalar("SELECT customer_id FROM customer_predictions WHERE workspace_id = $1 AND flagged = $2")
                .bind(workspace.as_str())
                .bind(true)
                .fetch_all(&mut *tx)
                .await?;
        let flagged_before: std::collections::HashSet<String> = flagged_before.into_iter().collect();
        sqlx::query("DELETE FROM customer_predictions WHERE workspace_id = $1")
            .bind(workspace.as_str())
            .execute(&mut *tx)
            .await?;
        let mut newly = Vec::new();
        for prediction in predictions {
            sqlx::query(
                "INSERT INTO customer_predictions (workspace_id, customer_id, churn_probability, flagged, factors, \
                 health_score, health, model_version, scored_at, lifetime_value) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(workspace.as_str())
            .bind(&prediction.customer_id)
            .bind(prediction.churn_probability)
            .bind(prediction.flagged)
            .bind(Json(&prediction.factors))
            .bind(prediction.health_score)
            .bind(Json(&prediction.health))
            .bind(prediction.model_version)
            .bind(prediction.scored_at_ms)
            .bind(prediction.lifetime_value.as_ref().map(Json))
            .execute(&mut *tx)
            .await?;
            if prediction.flagged && !flagged_before.contains(&prediction.customer_id) {
                newly.push(prediction.customer_id.clone());
                sqlx::query(
                    "INSERT INTO domain_events (workspace_id, type, payload, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(workspace.as_str())
                .bind("customer.churn_risk")
                .bind(Json(announce(prediction)))
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(newly)
    }

    /// Predictions, highest churn probability first (customers without one last, then by health);
    /// only flagged ones, or only `customer`'s, when asked.
    pub async fn predictions(
        &self,
        workspace: &WorkspaceId,
        flagged_only: bool,
        customer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::prediction_records::CustomerPrediction>, sqlx::Error> {
        let mut sql = QueryBuilder::<Db>::new(
            "SELECT customer_id, churn_probability, flagged, factors, health_score, health, model_version, scored_at, \
             lifetime_value FROM customer_predictions WHERE workspace_id = ",
        );
        sql.push_bind(workspace.as_str().to_owned());
        if flagged_only {
            sql.push(" AND flagged = ");
            sql.push_bind(true);
        }
        if let Some(customer) = customer {
            sql.push(" AND customer_id = ");
            sql.push_bind(customer.to_owned());
        }
        sql.push(" ORDER BY COALESCE(churn_probability, -1) DESC, health_score, customer_id LIMIT ");
        sql.push_bind(limit as i64);
        let rows: Vec<PredictionRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    customer_id,
                    churn_probability,
                    flagged,
                    Json(factors),
                    health_score,
                    Json(health),
                    model_version,
                    scored_at_ms,
                    lifetime_value,
                )| {
                    crate::prediction_records::CustomerPrediction {
                        customer_id,
                        churn_probability,
                        flagged,
                        factors,
                        health_score,
                        health,
                        model_version,
                        scored_at_ms,
                        lifetime_value: lifetime_value.map(|Json(value)| value),
                    }
                },
            )
            .collect())
    }
}
