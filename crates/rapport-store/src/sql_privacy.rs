// The privacy SQL both backends share (`include!`d like `sql_backend.rs`): consent statements,
// the person a data-subject request is about, their rows (export), erasing them (with the answer
// rollup kept equal to the answers that remain, and the person taken out of others' free text),
// retention, and the workspace's privacy settings.

use rapport_core::privacy::{self, ConsentChoice, Purpose};

use crate::privacy_records::{ConsentRecord, DataSubject, RowCounts};

type ConsentRow = (String, String, String, bool, String, i64);

fn consent_record((identity_key, purpose, channel, granted, source, at_ms): ConsentRow) -> Option<ConsentRecord> {
    let choice = crate::privacy_records::consent_choice((purpose, channel, granted, source, at_ms))?;
    Some(ConsentRecord { identity_key, choice })
}

/// Who a subject's row belongs to, pushed onto `query` after `WHERE … AND `.
#[derive(Debug, Clone, Copy)]
enum Owner {
    /// `column` holds one of the subject's graph nodes.
    Node(&'static str),
    /// `column` holds one of the subject's identity keys.
    Key(&'static str),
    /// An event: its user id, anonymous id or previous id is the subject's.
    Event,
    /// A merge either side of which is the subject's.
    Merge,
    /// A survey response's answers and the feedback made from them.
    ResponseChild(&'static str),
    /// Feedback about the subject, or made from their responses, and its topic rows.
    Feedback,
    FeedbackTopic,
    /// A case's history entry.
    CaseChild,
    /// The saved pages of a survey invitation of theirs.
    InvitationChild,
    /// A domain event that names the subject (an identity key or a node, as a JSON string).
    DomainEvent,
    /// What was delivered for such a domain event, and its attempts.
    Delivery,
    DeliveryChild,
}

/// Every table that holds a person's rows, children before parents: the export reads them in
/// this order and erasure deletes them in it. A new table holding personal data belongs here
/// (the erasure test checks the whole database for what it missed).
const SUBJECT_TABLES: [(&str, Owner); 20] = [
    ("survey_answers", Owner::ResponseChild("response_id")),
    ("response_drafts", Owner::InvitationChild),
    ("feedback_topics", Owner::FeedbackTopic),
    ("case_history", Owner::CaseChild),
    ("webhook_attempts", Owner::DeliveryChild),
    ("webhook_deliveries", Owner::Delivery),
    ("domain_events", Owner::DomainEvent),
    ("feedback", Owner::Feedback),
    ("survey_responses", Owner::Key("identity_key")),
    ("cases", Owner::Key("identity_key")),
    ("invitations", Owner::Key("identity_key")),
    ("consents", Owner::Key("identity_key")),
    ("customer_predictions", Owner::Node("customer_id")),
    ("events", Owner::Event),
    ("merges", Owner::Merge),
    ("customer_traits", Owner::Node("customer_id")),
    ("identities", Owner::Node("customer_id")),
    // The sealed keys of their blind indexes (`sealing.rs`).
    ("identity_vault", Owner::Key("blind_key")),
    ("customers", Owner::Node("id")),
    // Invitations resolved to one of the subject's nodes under an identity of someone else's
    // (before a merge was undone) are theirs too.
    ("invitations", Owner::Node("customer_id")),
];

/// Whether a table has a `workspace_id` column (the others are reached through their parent).
fn scoped(table: &str) -> bool {
    !matches!(table, "survey_answers" | "case_history" | "webhook_attempts" | "customer_traits")
}

/// Appends the condition that picks the subject's rows of `table`.
fn push_owner(query: &mut QueryBuilder<Db>, workspace: &WorkspaceId, owner: Owner, subject: &DataSubject) {
    let ws = workspace.as_str().to_owned();
    let keys = || subject.identity_keys.clone();
    let nodes = || subject.nodes.clone();
    let responses = |query: &mut QueryBuilder<Db>| {
        query.push("(SELECT id FROM survey_responses WHERE workspace_id = ").push_bind(ws.clone()).push(" AND ");
        push_in_list(query, "identity_key", keys());
        query.push(")");
    };
    match owner {
        Owner::Node(column) => push_in_list(query, column, nodes()),
        Owner::Key(column) => push_in_list(query, column, keys()),
        Owner::Event => {
            query.push("(");
            push_in_list(query, "user_id", subject.user_ids.clone());
            query.push(" OR ");
            push_in_list(query, "anonymous_id", subject.anonymous_ids.clone());
            query.push(" OR ");
            push_in_list(query, "previous_id", [subject.user_ids.clone(), subject.anonymous_ids.clone()].concat());
            query.push(")");
        }
        Owner::Merge => {
            query.push("(");
            push_in_list(query, "survivor_id", nodes());
            query.push(" OR ");
            push_in_list(query, "absorbed_id", nodes());
            query.push(")");
        }
        Owner::ResponseChild(column) => {
            query.push(column).push(" IN ");
            responses(query);
        }
        Owner::Feedback | Owner::FeedbackTopic => {
            let topic = matches!(owner, Owner::FeedbackTopic);
            if topic {
                query
                    .push("feedback_id IN (SELECT id FROM feedback WHERE workspace_id = ")
                    .push_bind(ws.clone())
                    .push(" AND ");
            }
            query.push("(");
            push_in_list(query, "identity_key", keys());
            query.push(" OR response_id IN ");
            responses(query);
            query.push(if topic { "))" } else { ")" });
        }
        Owner::CaseChild => {
            query.push("case_id IN (SELECT id FROM cases WHERE workspace_id = ").push_bind(ws).push(" AND ");
            push_in_list(query, "identity_key", keys());
            query.push(")");
        }
        Owner::InvitationChild => {
            query
                .push("invitation_id IN (SELECT id FROM invitations WHERE workspace_id = ")
                .push_bind(ws)
                .push(" AND (");
            push_in_list(query, "identity_key", keys());
            query.push(" OR ");
            push_in_list(query, "customer_id", nodes());
            query.push("))");
        }
        Owner::DomainEvent => push_names_subject(query, &json_text("payload"), subject),
        Owner::Delivery | Owner::DeliveryChild => {
            if matches!(owner, Owner::DeliveryChild) {
                query.push("delivery_id IN (SELECT id FROM webhook_deliveries WHERE workspace_id = ");
                query.push_bind(ws.clone()).push(" AND ");
            }
            query.push("event_seq IN (SELECT seq FROM domain_events WHERE workspace_id = ").push_bind(ws).push(" AND ");
            push_names_subject(query, &json_text("payload"), subject);
            query.push(if matches!(owner, Owner::DeliveryChild) { "))" } else { ")" });
        }
    }
}

/// `(text LIKE '%"key"%' OR …)` over the subject's identity keys and nodes: a JSON document that
/// names them as a string value.
fn push_names_subject(query: &mut QueryBuilder<Db>, text: &str, subject: &DataSubject) {
    query.push("(1 = 0");
    for name in subject.identity_keys.iter().chain(&subject.nodes) {
        let quoted = serde_json::Value::String(name.clone()).to_string();
        let pattern = format!("%{}%", quoted.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        query.push(" OR ").push(text).push(" LIKE ").push_bind(pattern).push(" ESCAPE '\\'");
    }
    query.push(")");
}

fn subject_query(
    prefix: &str,
    table: &str,
    workspace: &WorkspaceId,
    owner: Owner,
    subject: &DataSubject,
) -> QueryBuilder<Db> {
    let mut query = QueryBuilder::<Db>::new(format!("{prefix} {table} WHERE "));
    if scoped(table) {
        query.push("workspace_id = ").push_bind(workspace.as_str().to_owned()).push(" AND ");
    }
    push_owner(&mut query, workspace, owner, subject);
    query
}

/// A row as a JSON object, column by column, whatever the backend's types: numbers, text (JSON
/// documents stored as text are parsed back), booleans, JSONB.
fn row_json(row: &<Db as sqlx::Database>::Row) -> serde_json::Map<String, Value> {
    use sqlx::Column;
    let mut object = serde_json::Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        let value = if let Ok(number) = row.try_get::<Option<i64>, _>(index) {
            number.map_or(Value::Null, Value::from)
        } else if let Ok(number) = row.try_get::<Option<i32>, _>(index) {
            number.map_or(Value::Null, Value::from)
        } else if let Ok(number) = row.try_get::<Option<f64>, _>(index) {
            number.map_or(Value::Null, Value::from)
        } else if let Ok(flag) = row.try_get::<Option<bool>, _>(index) {
            flag.map_or(Value::Null, Value::Bool)
        } else if let Ok(text) = row.try_get::<Option<String>, _>(index) {
            match text {
                Some(text) if text.starts_with('{') || text.starts_with('[') => {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                }
                Some(text) => Value::String(text),
                None => Value::Null,
            }
        } else if let Ok(document) = row.try_get::<Option<Json<Value>>, _>(index) {
            document.map_or(Value::Null, |Json(document)| document)
        } else {
            Value::String("(unreadable)".to_owned())
        };
        object.insert(column.name().to_owned(), value);
    }
    object
}

/// Free text where other people may name the person being erased: (table, the row's key as
/// text, the rows of the workspace, the column, whether the column is a JSON document). Rows are
/// narrowed by the subject's hints (`LOWER(column) LIKE`) before the erasing function reads them.
const FREE_TEXT: [(&str, &str, &str, &str, bool); 12] = [
    ("feedback", "id", "workspace_id = $1", "text", false),
    ("feedback", "id", "workspace_id = $1", "analysis", true),
    ("feedback", "id", "workspace_id = $1", "details", true),
    (
        "survey_answers",
        "response_id || ':' || CAST(position AS TEXT)",
        "response_id IN (SELECT id FROM survey_responses WHERE workspace_id = $1)",
        "text",
        false,
    ),
    ("cases", "id", "workspace_id = $1", "title", false),
    ("cases", "id", "workspace_id = $1", "resolution", false),
    (
        "case_history",
        "case_id || ':' || CAST(seq AS TEXT)",
        "case_id IN (SELECT id FROM cases WHERE workspace_id = $1)",
        "detail",
        true,
    ),
    ("alerts", "id", "workspace_id = $1", "detail", true),
    ("domain_events", "CAST(seq AS TEXT)", "workspace_id = $1", "payload", true),
    // Others' events: a survey answer's own event carries its words, a referral an address.
    ("events", "CAST(seq AS TEXT)", "workspace_id = $1", "properties", true),
    ("events", "CAST(seq AS TEXT)", "workspace_id = $1", "traits", true),
    ("events", "CAST(seq AS TEXT)", "workspace_id = $1", "context", true),
];

impl SqlBackend {
    // ---- consent ----

    /// Records consent statements for `identity_key`; an older statement never replaces a newer one.
    pub async fn upsert_consents(
        &self,
        workspace: &WorkspaceId,
        identity_key: &str,
        choices: &[ConsentChoice],
    ) -> Result<(), sqlx::Error> {
        if choices.is_empty() {
            return Ok(());
        }
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO consents (workspace_id, identity_key, purpose, channel, granted, source, updated_at) ",
        );
        query.push_values(choices, |mut row, choice| {
            row.push_bind(workspace.as_str().to_owned())
                .push_bind(identity_key.to_owned())
                .push_bind(choice.purpose.as_str())
                .push_bind(choice.channel.clone().unwrap_or_default())
                .push_bind(choice.granted)
                .push_bind(choice.source.clone())
                .push_bind(choice.at_ms);
        });
        query.push(
            " ON CONFLICT (workspace_id, identity_key, purpose, channel) DO UPDATE SET granted = excluded.granted, \
             source = excluded.source, updated_at = excluded.updated_at WHERE excluded.updated_at >= consents.updated_at",
        );
        query.build().execute(&self.write_pool).await?;
        Ok(())
    }

    /// Every statement made for the person `identity_key` names: for any identity of their
    /// customer as the graph stands, or for the identity alone when the graph does not know it.
    pub async fn consents_of(
        &self,
        workspace: &WorkspaceId,
        identity_key: &str,
    ) -> Result<Vec<ConsentRecord>, sqlx::Error> {
        let rows: Vec<ConsentRow> = sqlx::query_as(
            "SELECT k.identity_key, k.purpose, k.channel, k.granted, k.source, k.updated_at FROM consents k \
             WHERE k.workspace_id = $1 AND (k.identity_key = $2 OR k.identity_key IN ( \
                 SELECT mi.identity_key FROM identities i JOIN customers c ON c.id = i.customer_id \
                 JOIN customers m ON m.workspace_id = c.workspace_id AND m.root_id = c.root_id \
                 JOIN identities mi ON mi.customer_id = m.id \
                 WHERE i.workspace_id = $1 AND i.identity_key = $2)) \
             ORDER BY k.updated_at, k.identity_key, k.purpose, k.channel",
        )
        .bind(workspace.as_str())
        .bind(identity_key)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().filter_map(consent_record).collect())
    }

    /// The identity keys of everyone whose consent refuses `purpose` on every channel: each
    /// customer's statements are gathered across its identities, decided by
    /// `privacy::allows`, and a refusing customer contributes all its identity keys.
    pub async fn refusing_identity_keys(
        &self,
        workspace: &WorkspaceId,
        purpose: Purpose,
    ) -> Result<std::collections::HashSet<String>, sqlx::Error> {
        let rows: Vec<(String, String, String, String, bool, String, i64)> = sqlx::query_as(
            "SELECT COALESCE(c.root_id, ''), k.identity_key, k.purpose, k.channel, k.granted, k.source, k.updated_at \
             FROM consents k LEFT JOIN identities i ON i.workspace_id = k.workspace_id AND i.identity_key = k.identity_key \
             LEFT JOIN customers c ON c.id = i.customer_id WHERE k.workspace_id = $1 AND k.purpose = $2",
        )
        .bind(workspace.as_str())
        .bind(purpose.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut by_person: BTreeMap<String, Vec<ConsentChoice>> = BTreeMap::new();
        let mut unknown_keys = std::collections::HashSet::new();
        for (root, key, purpose, channel, granted, source, at_ms) in rows {
            let person = if root.is_empty() {
                unknown_keys.insert(key.clone());
                format!("key:{key}")
            } else {
                format!("root:{root}")
            };
            if let Some(record) = consent_record((key, purpose, channel, granted, source, at_ms)) {
                by_person.entry(person).or_default().push(record.choice);
            }
        }
        let refusing: Vec<String> = by_person
            .into_iter()
            .filter(|(_, choices)| !privacy::allows(choices, purpose, None))
            .map(|(person, _)| person)
            .collect();
        let mut keys: std::collections::HashSet<String> =
            refusing.iter().filter_map(|person| person.strip_prefix("key:")).map(str::to_owned).collect();
        keys.retain(|key| unknown_keys.contains(key));
        let roots: Vec<String> = refusing.iter().filter_map(|p| p.strip_prefix("root:")).map(str::to_owned).collect();
        if !roots.is_empty() {
            let mut query = QueryBuilder::<Db>::new(
                "SELECT i.identity_key FROM customers c JOIN identities i ON i.customer_id = c.id WHERE c.workspace_id = ",
            );
            query.push_bind(workspace.as_str().to_owned()).push(" AND ");
            push_in_list(&mut query, "c.root_id", roots);
            let under: Vec<String> = query.build_query_scalar().fetch_all(&self.pool).await?;
            keys.extend(under);
        }
        Ok(keys)
    }

    // ---- retention ----

    /// Deletes what is older than each kind's cutoff (`privacy::RETENTION_KINDS`), one kind per
    /// transaction. Responses go by whole UTC days, with their rollup days: the rollup never
    /// counts an answer that is gone. Open cases and pending invitations are never removed.
    pub async fn enforce_retention(
        &self,
        workspace: &WorkspaceId,
        cutoffs: &[(&'static str, i64)],
    ) -> Result<RowCounts, sqlx::Error> {
        let mut counts = RowCounts::default();
        for (kind, cutoff_ms) in cutoffs {
            // (table, statement, whether `$2` is a day number rather than a moment)
            let statements: &[(&'static str, &str, bool)] = match *kind {
                "events" => &[("events", "DELETE FROM events WHERE workspace_id = $1 AND timestamp < $2", false)],
                "responses" => &[
                    ("answer_rollups", "DELETE FROM answer_rollups WHERE workspace_id = $1 AND day < $2", true),
                    (
                        "survey_answers",
                        "DELETE FROM survey_answers WHERE response_id IN (SELECT id FROM survey_responses \
                         WHERE workspace_id = $1 AND submitted_at < $2 * 86400000)",
                        true,
                    ),
                    (
                        "survey_responses",
                        "DELETE FROM survey_responses WHERE workspace_id = $1 AND submitted_at < $2 * 86400000",
                        true,
                    ),
                ],
                "feedback" => &[
                    (
                        "feedback_topics",
                        "DELETE FROM feedback_topics WHERE workspace_id = $1 AND occurred_at < $2",
                        false,
                    ),
                    ("feedback", "DELETE FROM feedback WHERE workspace_id = $1 AND occurred_at < $2", false),
                ],
                "invitations" => &[
                    (
                        "response_drafts",
                        "DELETE FROM response_drafts WHERE invitation_id IN (SELECT id FROM invitations \
                         WHERE workspace_id = $1 AND created_at < $2 AND state <> 'pending')",
                        false,
                    ),
                    (
                        "invitations",
                        "DELETE FROM invitations WHERE workspace_id = $1 AND created_at < $2 AND state <> 'pending'",
                        false,
                    ),
                ],
                "cases" => &[
                    (
                        "case_history",
                        "DELETE FROM case_history WHERE case_id IN (SELECT id FROM cases WHERE workspace_id = $1 \
                         AND open_key IS NULL AND COALESCE(closed_at, resolved_at, updated_at) < $2)",
                        false,
                    ),
                    (
                        "cases",
                        "DELETE FROM cases WHERE workspace_id = $1 AND open_key IS NULL \
                         AND COALESCE(closed_at, resolved_at, updated_at) < $2",
                        false,
                    ),
                ],
                _ => &[],
            };
            let mut tx = begin_write(&self.write_pool).await?;
            let day = rapport_core::metrics::query::day_of_ms(*cutoff_ms);
            for (table, statement, by_day) in statements {
                let deleted = sqlx::query(sqlx::AssertSqlSafe(*statement))
                    .bind(workspace.as_str())
                    .bind(if *by_day { day } else { *cutoff_ms })
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                counts.add(table, deleted);
            }
            tx.commit().await?;
        }
        Ok(counts)
    }

    // ---- data subjects ----

    /// The person `identity_key` names, with every identity their customer holds.
    pub async fn data_subject(&self, workspace: &WorkspaceId, identity_key: &str) -> Result<DataSubject, sqlx::Error> {
        let mut subject = DataSubject { identity_keys: vec![identity_key.to_owned()], ..DataSubject::default() };
        if let Some(root) = self.customer_by_identity(workspace, identity_key).await? {
            subject.nodes =
                sqlx::query_scalar("SELECT id FROM customers WHERE workspace_id = $1 AND root_id = $2 ORDER BY id")
                    .bind(workspace.as_str())
                    .bind(root.as_str())
                    .fetch_all(&self.pool)
                    .await?;
            let mut query = QueryBuilder::<Db>::new("SELECT identity_key FROM identities WHERE workspace_id = ");
            query.push_bind(workspace.as_str().to_owned()).push(" AND ");
            push_in_list(&mut query, "customer_id", subject.nodes.clone());
            query.push(" ORDER BY identity_key");
            subject.identity_keys = query.build_query_scalar().fetch_all(&self.pool).await?;
            subject.customer = Some(root);
        }
        for key in &subject.identity_keys {
            if let Some(id) = key.strip_prefix("userId:") {
                subject.user_ids.push(id.to_owned());
            } else if let Some(id) = key.strip_prefix("anonymousId:") {
                subject.anonymous_ids.push(id.to_owned());
            }
        }
        Ok(subject)
    }

    /// Every row the store holds about `subject`, table by table (tables with none left out).
    pub async fn subject_rows(
        &self,
        workspace: &WorkspaceId,
        subject: &DataSubject,
    ) -> Result<Vec<(&'static str, Vec<Value>)>, sqlx::Error> {
        let mut tables: Vec<(&'static str, Vec<Value>)> = Vec::new();
        for (table, owner) in SUBJECT_TABLES {
            let mut query = subject_query("SELECT * FROM", table, workspace, owner, subject);
            let rows = query.build().fetch_all(&self.pool).await?;
            let rows: Vec<Value> = rows.iter().map(|row| Value::Object(row_json(row))).collect();
            if rows.is_empty() {
                continue;
            }
            match tables.iter_mut().find(|(known, _)| *known == table) {
                Some((_, known)) => {
                    let new: Vec<Value> = rows.into_iter().filter(|row| !known.contains(row)).collect();
                    known.extend(new);
                }
                None => tables.push((table, rows)),
            }
        }
        Ok(tables)
    }

    /// Erases `subject` in one transaction: their rows everywhere (the answer rollup loses their
    /// answers first, so every figure still equals what the raw answers give), then `erase` runs
    /// over others' free text that contains one of `hints` and what it changes is written back.
    pub async fn erase_subject(
        &self,
        workspace: &WorkspaceId,
        subject: &DataSubject,
        hints: &[String],
        erase: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<RowCounts, sqlx::Error> {
        let mut counts = RowCounts::default();
        let mut tx = begin_write(&self.write_pool).await?;
        let keys = subject.identity_keys.clone();
        let rollups =
            subtract_answers(&mut tx, workspace, &|query| push_in_list(query, "r.identity_key", keys.clone())).await?;
        counts.add("answer_rollups", rollups);
        for (table, owner) in SUBJECT_TABLES {
            let mut query = subject_query("DELETE FROM", table, workspace, owner, subject);
            counts.add(table, query.build().execute(&mut *tx).await?.rows_affected());
        }
        if !hints.is_empty() {
            for (table, key, scope, column, is_json) in FREE_TEXT {
                let text = if is_json { format!("LOWER({})", json_text(column)) } else { format!("LOWER({column})") };
                // `scope` names the workspace as `$1`; the hints follow it.
                let (before, after) = scope.split_once("$1").unwrap_or((scope, ""));
                let mut query = QueryBuilder::<Db>::new(format!(
                    "SELECT {key}, {} FROM {table} WHERE {before}",
                    if is_json { json_text(column) } else { column.to_owned() }
                ));
                query.push_bind(workspace.as_str().to_owned()).push(after).push(" AND (1 = 0");
                for hint in hints {
                    query.push(format!(" OR {text} LIKE ")).push_bind(format!("%{hint}%"));
                }
                query.push(")");
                let rows: Vec<(String, Option<String>)> = query.build_query_as().fetch_all(&mut *tx).await?;
                for (row_key, text) in rows {
                    let Some(erased) = text.as_deref().and_then(erase) else { continue };
                    let update = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE {table} SET {column} = $3 WHERE {scope} AND {key} = $2"
                    )))
                    .bind(workspace.as_str())
                    .bind(row_key);
                    let update = match is_json {
                        // The placeholder replaces whole words inside string values: still JSON.
                        true => match serde_json::from_str::<Value>(&erased) {
                            Ok(document) => update.bind(Json(document)),
                            Err(_) => continue,
                        },
                        false => update.bind(erased),
                    };
                    counts.add_rewritten(table, update.execute(&mut *tx).await?.rows_affected());
                }
            }
        }
        tx.commit().await?;
        Ok(counts)
    }
}

/// A scored answer with its response: question type, survey, submitted at, question,
/// dimension, channel, touchpoint, agent, score.
type ScoredAnswerRow = (String, String, i64, String, String, String, String, String, i64);

/// A rollup row's key: question type, grain, survey, day, question, dimension, channel,
/// touchpoint, agent, score.
type RollupRowKey = (String, &'static str, String, i64, String, String, String, String, String, i64);

/// Takes the scored answers of the responses `condition` picks (over `survey_responses r`) out of
/// the daily rollup, in the transaction that deletes them; rows left at zero go. Returns how
/// many rollup rows changed.
async fn subtract_answers(
    tx: &mut Transaction<'static, Db>,
    workspace: &WorkspaceId,
    condition: &(dyn Fn(&mut QueryBuilder<Db>) + Sync),
) -> Result<u64, sqlx::Error> {
    let mut query = QueryBuilder::<Db>::new(
        "SELECT a.question_type, r.survey_id, r.submitted_at, a.question_id, COALESCE(a.dimension, ''), \
         COALESCE(r.channel, ''), COALESCE(r.touchpoint, ''), COALESCE(r.agent, ''), a.score \
         FROM survey_answers a JOIN survey_responses r ON r.id = a.response_id \
         WHERE a.score IS NOT NULL AND r.workspace_id = ",
    );
    query.push_bind(workspace.as_str().to_owned()).push(" AND ");
    condition(&mut query);
    let answers: Vec<ScoredAnswerRow> = query.build_query_as().fetch_all(&mut **tx).await?;
    // (question type, grain, survey, day, question, dimension, channel, touchpoint, agent, score)
    let mut losses: BTreeMap<RollupRowKey, i64> = BTreeMap::new();
    for (question_type, survey, submitted_at, question, dimension, channel, touchpoint, agent, score) in answers {
        let day = rapport_core::metrics::query::day_of_ms(submitted_at);
        let by_channel = (
            question_type.clone(),
            "channel",
            survey.clone(),
            day,
            question.clone(),
            dimension.clone(),
            channel,
            touchpoint,
            String::new(),
            score,
        );
        let by_agent =
            (question_type, "agent", survey, day, question, dimension, String::new(), String::new(), agent, score);
        *losses.entry(by_channel).or_default() += 1;
        *losses.entry(by_agent).or_default() += 1;
    }
    let mut changed = 0;
    for ((question_type, grain, survey, day, question, dimension, channel, touchpoint, agent, score), lost) in &losses {
        changed += sqlx::query(
            "UPDATE answer_rollups SET answers = answers - $1 WHERE workspace_id = $2 AND question_type = $3 \
             AND grain = $4 AND survey_id = $5 AND day = $6 AND question_id = $7 AND dimension = $8 AND channel = $9 \
             AND touchpoint = $10 AND agent = $11 AND score = $12",
        )
        .bind(lost)
        .bind(workspace.as_str())
        .bind(question_type)
        .bind(*grain)
        .bind(survey)
        .bind(day)
        .bind(question)
        .bind(dimension)
        .bind(channel)
        .bind(touchpoint)
        .bind(agent)
        .bind(score)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    if !losses.is_empty() {
        sqlx::query("DELETE FROM answer_rollups WHERE workspace_id = $1 AND answers <= 0")
            .bind(workspace.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(changed)
}
