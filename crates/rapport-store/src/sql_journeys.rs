// The journey SQL both backends share (`include!`d by `sqlite.rs` and `postgres.rs`): the events
// journey analytics read (definitions are documents: `SqlBackend::documents`).

impl SqlBackend {
    /// Streams the workspace's track, page and screen events named in `names` with sequence
    /// numbers in `after..=up_to`, with their customer (root) and channel; properties (as JSON
    /// text) only when `with_properties`.
    pub async fn each_touchpoint_event(
        &self,
        workspace: &WorkspaceId,
        names: &[String],
        with_properties: bool,
        (after, up_to): (i64, i64),
        mut each: impl FnMut(crate::journey_records::TouchpointEvent),
    ) -> Result<(), sqlx::Error> {
        use futures::TryStreamExt;
        let properties = if with_properties { json_text("e.properties") } else { "NULL".to_owned() };
        // After a sequence number, the range is what to search by: `|| ''` keeps a planner
        // without statistics from scanning the workspace's index instead (measured: 150 ms for
        // 1,000 new events among 2.5 million on SQLite, against under 1 ms by the range).
        let workspace_term = if after > 0 { "e.workspace_id || ''" } else { "e.workspace_id" };
        let mut query = QueryBuilder::<Db>::new(format!(
            "SELECT c.root_id, e.name, e.channel, e.timestamp, {properties} FROM events e JOIN identities i \
             ON i.workspace_id = e.workspace_id AND i.identity_key = CASE WHEN e.user_id IS NOT NULL \
             THEN 'userId:' || e.user_id ELSE 'anonymousId:' || e.anonymous_id END \
             JOIN customers c ON c.id = i.customer_id WHERE {workspace_term} = "
        ));
        query.push_bind(workspace.as_str());
        query.push(" AND e.seq > ").push_bind(after);
        query.push(" AND e.seq <= ").push_bind(up_to);
        query.push(" AND e.event_type IN ('track', 'page', 'screen') AND ");
        push_in_list(&mut query, "e.name", names.to_vec());
        let mut rows = query.build_query_as::<(String, String, String, i64, Option<String>)>().fetch(&self.pool);
        while let Some((customer_id, name, channel, timestamp_ms, properties)) = rows.try_next().await? {
            each(crate::journey_records::TouchpointEvent { customer_id, name, channel, timestamp_ms, properties });
        }
        Ok(())
    }

    /// Every customer node (node, root) under the roots of the events with sequence numbers in
    /// `after..=up_to`: what those events may have merged.
    pub async fn nodes_under_roots_of_events(
        &self,
        workspace: &WorkspaceId,
        (after, up_to): (i64, i64),
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT n.id, n.root_id FROM customers n WHERE n.workspace_id = $1 AND n.root_id IN (\
             SELECT c.root_id FROM events e JOIN identities i ON i.workspace_id = e.workspace_id \
             AND i.identity_key = CASE WHEN e.user_id IS NOT NULL THEN 'userId:' || e.user_id \
             ELSE 'anonymousId:' || e.anonymous_id END JOIN customers c ON c.id = i.customer_id \
             WHERE e.workspace_id || '' = $1 AND e.seq > $2 AND e.seq <= $3)",
        )
        .bind(workspace.as_str())
        .bind(after)
        .bind(up_to)
        .fetch_all(&self.pool)
        .await
    }

    /// (identity key, customer root) for each of `keys` the workspace knows.
    pub async fn roots_of_identities(
        &self,
        workspace: &WorkspaceId,
        keys: Vec<String>,
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT i.identity_key, c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
             WHERE i.workspace_id = ",
        );
        query.push_bind(workspace.as_str());
        query.push(" AND ");
        push_in_list(&mut query, "i.identity_key", keys);
        query.build_query_as().fetch_all(&self.pool).await
    }

    /// What changes when events or the identity graph change: the newest event's sequence number
    /// (any workspace's) and the workspace's undone merges (undo is an admin action, not an event).
    pub async fn journey_stamp(&self, workspace: &WorkspaceId) -> Result<(i64, i64), sqlx::Error> {
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events").fetch_one(&self.pool).await?;
        let undone: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM merges WHERE workspace_id = $1 AND undone_at IS NOT NULL")
                .bind(workspace.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok((seq, undone))
    }
}
