// The metrics engine's reads: counts of scored answers by day and dimension values, from the
// daily rollup when it holds every dimension a query reads, else from the raw answers (traits
// resolved through the identity graph); counts of invitations for the response rate; and the
// workspace's metric settings. `include!`d after `sql_backend.rs` by `sqlite.rs` and
// `postgres.rs` (see the note at the top of that file). The rollup is written by
// `insert_response` (`sql_surveys.rs`), in the response's transaction.

use rapport_core::metrics::query::{Dimension, MS_PER_DAY, MetricQuery};
use rapport_core::metrics::report::TallyRow;
use rapport_core::metrics::settings::MetricSettings;

use sqlx::Row;

use crate::records::RollupGrain;

/// The rollup's column for a dimension (the grain chosen holds it).
fn rollup_column(dimension: &Dimension) -> &'static str {
    match dimension {
        Dimension::Survey => "survey_id",
        Dimension::Question => "question_id",
        Dimension::ServiceDimension => "dimension",
        Dimension::Channel => "channel",
        // The service reads a journey stage as its touchpoints (`MetricQuery::by_touchpoint`).
        Dimension::Touchpoint | Dimension::JourneyStage => "touchpoint",
        Dimension::Agent => "agent",
        Dimension::Account | Dimension::Trait(_) => "''",
    }
}

/// The raw answers' column for a dimension (`traits` are the joined `t<i>` tables).
fn raw_column(dimension: &Dimension, traits: &[&str]) -> String {
    match dimension {
        Dimension::Survey => "r.survey_id".into(),
        Dimension::Question => "a.question_id".into(),
        Dimension::ServiceDimension => "a.dimension".into(),
        Dimension::Channel => "r.channel".into(),
        Dimension::Touchpoint | Dimension::JourneyStage => "r.touchpoint".into(),
        Dimension::Agent => "r.agent".into(),
        Dimension::Account => "acct.value".into(),
        Dimension::Trait(key) => {
            let index = traits.iter().position(|candidate| candidate == key).unwrap_or_default();
            json_text(&format!("t{index}.value"))
        }
    }
}

/// The JSON texts a trait filter value may be stored as: the string, and the value itself when it
/// reads as a number or boolean (`traits.seats:5`).
fn trait_candidates(value: &str) -> Vec<String> {
    let mut candidates = vec![Value::String(value.to_owned()).to_string()];
    if let Ok(scalar @ (Value::Number(_) | Value::Bool(_))) = serde_json::from_str::<Value>(value) {
        candidates.push(scalar.to_string());
    }
    candidates
}

/// A trait value as the report shows it: strings without their quotes, anything else as JSON.
fn trait_display(text: String) -> String {
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(string)) => string,
        Ok(other) => other.to_string(),
        Err(_) => text,
    }
}

type TallyTuple = (i64, Vec<Option<String>>, i64, i64);

/// `(root_id, value)`: each customer's latest value of the trait `key`, set on any of its merged
/// nodes.
fn push_latest_traits(sql: &mut QueryBuilder<Db>, workspace: &WorkspaceId, key: &str) {
    sql.push(
        "(SELECT root_id, value FROM (SELECT c2.root_id, t.value, ROW_NUMBER() OVER \
         (PARTITION BY c2.root_id ORDER BY t.updated_at DESC, t.message_id DESC) AS latest \
         FROM customer_traits t JOIN customers c2 ON c2.id = t.customer_id WHERE c2.workspace_id = ",
    );
    sql.push_bind(workspace.as_str().to_owned());
    sql.push(" AND t.trait_key = ");
    sql.push_bind(key.to_owned());
    sql.push(") ranked WHERE latest = 1)");
}

/// `(root_id, value)`: each customer's account, the group of its latest `group` call from any of
/// its nodes.
fn push_latest_accounts(sql: &mut QueryBuilder<Db>, workspace: &WorkspaceId) {
    sql.push(
        "(SELECT root_id, group_id AS value FROM (SELECT c3.root_id, g.group_id, ROW_NUMBER() OVER \
         (PARTITION BY c3.root_id ORDER BY g.timestamp DESC, g.message_id DESC) AS latest FROM events g \
         JOIN identities i3 ON i3.workspace_id = g.workspace_id AND i3.identity_key = CASE WHEN \
         g.user_id IS NOT NULL THEN 'userId:' || g.user_id ELSE 'anonymousId:' || g.anonymous_id END \
         JOIN customers c3 ON c3.id = i3.customer_id WHERE g.event_type = 'group' AND g.workspace_id = ",
    );
    sql.push_bind(workspace.as_str().to_owned());
    sql.push(") ranked_accounts WHERE latest = 1)");
}

impl SqlBackend {
    /// Counts of the scored answers of `question_type` over the days `query` reads, by day, the
    /// query's dimensions (in order) and score, from the rollup at `grain` or, without one, the
    /// raw answers; only surveys in `surveys` when given; only overall answers (no CSAT service
    /// dimension) unless the query groups or filters by `dimension`.
    pub async fn answer_tallies(
        &self,
        workspace: &WorkspaceId,
        question_type: &str,
        query: &MetricQuery,
        surveys: Option<&[String]>,
        grain: Option<RollupGrain>,
    ) -> Result<Vec<TallyRow>, sqlx::Error> {
        let (from_day, to_day) = query.read_range();
        let mut sql = QueryBuilder::<Db>::new("SELECT ");
        let traits = query.traits_read();
        let columns: Vec<String> = if grain.is_some() {
            query.dimensions.iter().map(|dimension| format!("NULLIF({}, '')", rollup_column(dimension))).collect()
        } else {
            query.dimensions.iter().map(|dimension| raw_column(dimension, &traits)).collect()
        };
        if grain.is_some() {
            sql.push("day");
        } else {
            sql.push("r.submitted_at / 86400000");
        }
        for column in &columns {
            sql.push(", ");
            sql.push(column);
        }
        if let Some(grain) = grain {
            sql.push(", score, CAST(SUM(answers) AS BIGINT) FROM answer_rollups WHERE workspace_id = ");
            sql.push_bind(workspace.as_str().to_owned());
            sql.push(" AND question_type = ");
            sql.push_bind(question_type.to_owned());
            sql.push(" AND grain = ");
            sql.push_bind(grain.name());
            sql.push(" AND day >= ");
            sql.push_bind(from_day);
            sql.push(" AND day <= ");
            sql.push_bind(to_day);
            if let Some(surveys) = surveys {
                sql.push(" AND ");
                push_in_list(&mut sql, "survey_id", surveys.to_vec());
            }
            if !query.reads_service_dimensions() {
                sql.push(" AND dimension = ''");
            }
            for filter in &query.filters {
                sql.push(" AND ");
                push_in_list(&mut sql, rollup_column(&filter.dimension), filter.values.clone());
            }
        } else {
            sql.push(", a.score, COUNT(*) FROM survey_responses r JOIN survey_answers a ON a.response_id = r.id");
            let reads_account = query.dimensions_read().any(|dimension| *dimension == Dimension::Account);
            if !traits.is_empty() || reads_account {
                sql.push(
                    " LEFT JOIN identities i ON i.workspace_id = r.workspace_id AND i.identity_key = r.identity_key \
                     LEFT JOIN customers c ON c.id = i.customer_id",
                );
            }
            if reads_account {
                // The customer's account is the group of its latest `group` call from any of its nodes.
                sql.push(" LEFT JOIN ");
                push_latest_accounts(&mut sql, workspace);
                sql.push(" acct ON acct.root_id = c.root_id");
            }
            for (index, key) in traits.iter().enumerate() {
                sql.push(" LEFT JOIN ");
                push_latest_traits(&mut sql, workspace, key);
                sql.push(format!(" t{index} ON t{index}.root_id = c.root_id"));
            }
            sql.push(" WHERE r.workspace_id = ");
            sql.push_bind(workspace.as_str().to_owned());
            sql.push(" AND r.submitted_at >= ");
            sql.push_bind(from_day * MS_PER_DAY);
            sql.push(" AND r.submitted_at < ");
            sql.push_bind((to_day + 1) * MS_PER_DAY);
            sql.push(" AND a.question_type = ");
            sql.push_bind(question_type.to_owned());
            sql.push(" AND a.score IS NOT NULL");
            if let Some(surveys) = surveys {
                sql.push(" AND ");
                push_in_list(&mut sql, "r.survey_id", surveys.to_vec());
            }
            if !query.reads_service_dimensions() {
                sql.push(" AND a.dimension IS NULL");
            }
            for filter in &query.filters {
                sql.push(" AND ");
                let column = raw_column(&filter.dimension, &traits);
                let values = match filter.dimension {
                    Dimension::Trait(_) => filter.values.iter().flat_map(|value| trait_candidates(value)).collect(),
                    _ => filter.values.clone(),
                };
                push_in_list(&mut sql, &column, values);
            }
        }
        sql.push(" GROUP BY ");
        let positions: Vec<String> = (1..=columns.len() + 2).map(|position| position.to_string()).collect();
        sql.push(positions.join(", "));

        let rows = sql.build().fetch_all(&self.pool).await?;
        let dimension_count = query.dimensions.len();
        let mut tallies = Vec::with_capacity(rows.len());
        for row in rows {
            let mut tuple: TallyTuple = (row.try_get(0)?, Vec::with_capacity(dimension_count), 0, 0);
            for (offset, dimension) in query.dimensions.iter().enumerate() {
                let value: Option<String> = row.try_get(offset + 1)?;
                tuple.1.push(match dimension {
                    Dimension::Trait(_) => value.map(trait_display),
                    _ => value,
                });
            }
            tuple.2 = row.try_get(dimension_count + 1)?;
            tuple.3 = row.try_get(dimension_count + 2)?;
            let (day, values, score, count) = tuple;
            tallies.push(TallyRow { day, values, score, count: count.max(0) as u64 });
        }
        Ok(tallies)
    }

    /// Invitations delivered (sent) on the days `query` reads, by day and the query's dimensions
    /// (survey, channel), counted as score 1 when answered and 0 when not.
    pub async fn invitation_tallies(
        &self,
        workspace: &WorkspaceId,
        query: &MetricQuery,
    ) -> Result<Vec<TallyRow>, sqlx::Error> {
        let (from_day, to_day) = query.read_range();
        let column = |dimension: &Dimension| match dimension {
            Dimension::Survey => "survey_id",
            _ => "channel",
        };
        let mut sql = QueryBuilder::<Db>::new("SELECT sent_at / 86400000");
        for dimension in &query.dimensions {
            sql.push(", ");
            sql.push(column(dimension));
        }
        sql.push(
            ", CAST(CASE WHEN responded_at IS NULL THEN 0 ELSE 1 END AS BIGINT), COUNT(*) FROM invitations \
             WHERE sent_at IS NOT NULL AND workspace_id = ",
        );
        sql.push_bind(workspace.as_str().to_owned());
        sql.push(" AND sent_at >= ");
        sql.push_bind(from_day * MS_PER_DAY);
        sql.push(" AND sent_at < ");
        sql.push_bind((to_day + 1) * MS_PER_DAY);
        for filter in &query.filters {
            sql.push(" AND ");
            push_in_list(&mut sql, column(&filter.dimension), filter.values.clone());
        }
        sql.push(" GROUP BY ");
        let positions: Vec<String> = (1..=query.dimensions.len() + 2).map(|position| position.to_string()).collect();
        sql.push(positions.join(", "));
        let rows = sql.build().fetch_all(&self.pool).await?;
        let mut tallies = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(query.dimensions.len());
            for offset in 0..query.dimensions.len() {
                values.push(row.try_get::<Option<String>, _>(offset + 1)?);
            }
            let score: i64 = row.try_get(query.dimensions.len() + 1)?;
            let count: i64 = row.try_get(query.dimensions.len() + 2)?;
            tallies.push(TallyRow { day: row.try_get(0)?, values, score, count: count.max(0) as u64 });
        }
        Ok(tallies)
    }

    /// Every `track` event named in `names` before `until_ms`, as (customer, name, time): the
    /// customer is the root its sender resolves to now (by `userId`, else `anonymousId`).
    pub async fn customer_activity(
        &self,
        workspace: &WorkspaceId,
        names: &[String],
        until_ms: i64,
    ) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
        let mut sql = QueryBuilder::<Db>::new(
            "SELECT c.root_id, e.name, e.timestamp FROM events e JOIN identities i ON i.workspace_id = e.workspace_id \
             AND i.identity_key = CASE WHEN e.user_id IS NOT NULL THEN 'userId:' || e.user_id \
             ELSE 'anonymousId:' || e.anonymous_id END JOIN customers c ON c.id = i.customer_id \
             WHERE e.event_type = 'track' AND e.workspace_id = ",
        );
        sql.push_bind(workspace.as_str().to_owned());
        sql.push(" AND e.timestamp < ");
        sql.push_bind(until_ms);
        sql.push(" AND ");
        push_in_list(&mut sql, "e.name", names.to_vec());
        sql.build_query_as().fetch_all(&self.pool).await
    }

    /// Every customer (root) with a value of `dimension` (a trait or the account), as shown in
    /// reports, only those in `roots` when given; customers without one are left out.
    pub async fn customer_values(
        &self,
        workspace: &WorkspaceId,
        dimension: &Dimension,
        roots: Option<Vec<String>>,
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        let mut sql = QueryBuilder::<Db>::new("SELECT root_id, ");
        match dimension {
            Dimension::Trait(key) => {
                sql.push(json_text("latest_values.value"));
                sql.push(" FROM ");
                push_latest_traits(&mut sql, workspace, key);
            }
            _ => {
                sql.push("latest_values.value FROM ");
                push_latest_accounts(&mut sql, workspace);
            }
        }
        sql.push(" latest_values");
        if let Some(roots) = roots {
            sql.push(" WHERE ");
            push_in_list(&mut sql, "latest_values.root_id", roots);
        }
        let rows: Vec<(String, String)> = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(match dimension {
            Dimension::Trait(_) => rows.into_iter().map(|(root, value)| (root, trait_display(value))).collect(),
            _ => rows,
        })
    }

    /// Refreshes the query planner's statistics (`ANALYZE`): after a bulk load, plans chosen
    /// for empty tables (nested loops over "a few rows") are far off.
    pub async fn refresh_statistics(&self) -> Result<(), sqlx::Error> {
        sqlx::query("ANALYZE").execute(&self.write_pool).await?;
        Ok(())
    }

    pub async fn metric_settings(&self, workspace: &WorkspaceId) -> Result<Option<MetricSettings>, sqlx::Error> {
        self.workspace_document("metric_settings", "settings", workspace).await
    }

    pub async fn put_metric_settings(
        &self,
        workspace: &WorkspaceId,
        settings: &MetricSettings,
    ) -> Result<(), sqlx::Error> {
        self.put_workspace_document("metric_settings", "settings", workspace, settings).await
    }
}
