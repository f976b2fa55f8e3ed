// Survey invitations and the kept pages of hosted surveys: SQL both backends share, `include!`d
// after `sql_backend.rs` by `sqlite.rs` and `postgres.rs`. What a contact decision reads is in
// `contact_reads.rs`.

use rapport_core::contact_policy::ContactPolicy;

use crate::records::{InvitationOutcome, InvitationRecord, NewInvitation};

// `SurveyDefinition` and `SurveyRecord` come from `sql_surveys.rs`, included alongside.

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: String,
    workspace_id: String,
    survey_id: String,
    version: i64,
    identity_key: String,
    customer_id: Option<String>,
    channel: String,
    address: Option<String>,
    state: String,
    reason: Option<String>,
    explanation: Option<String>,
    trigger_message_id: String,
    due_at: i64,
    created_at: i64,
    sent_at: Option<i64>,
    responded_at: Option<i64>,
    remind_at: Option<i64>,
    reminded_at: Option<i64>,
}
const INVITATION_COLUMNS: &str = "id, workspace_id, survey_id, version, identity_key, customer_id, channel, address, \
     state, reason, explanation, trigger_message_id, due_at, created_at, sent_at, responded_at, remind_at, reminded_at";

fn invitation_record(row: InvitationRow) -> InvitationRecord {
    InvitationRecord {
        id: row.id,
        workspace_id: WorkspaceId(row.workspace_id),
        survey_id: row.survey_id,
        version: row.version,
        identity_key: row.identity_key,
        customer_id: row.customer_id.map(CustomerId),
        channel: row.channel,
        address: row.address,
        state: row.state,
        reason: row.reason,
        explanation: row.explanation,
        trigger_message_id: row.trigger_message_id,
        due_at_ms: row.due_at,
        created_at_ms: row.created_at,
        sent_at_ms: row.sent_at,
        responded_at_ms: row.responded_at,
        remind_at_ms: row.remind_at,
        reminded_at_ms: row.reminded_at,
    }
}

impl SqlBackend {
    /// Creates pending invitations; one already made for the same survey and triggering event is
    /// kept as it is (a resent event triggers nothing twice). Returns how many were created.
    pub async fn create_invitations(
        &self,
        workspace: &WorkspaceId,
        invitations: &[NewInvitation],
    ) -> Result<u64, sqlx::Error> {
        let mut created = 0;
        let mut tx = begin_write(&self.write_pool).await?;
        for invitation in invitations {
            created += sqlx::query(
                "INSERT INTO invitations (id, workspace_id, survey_id, version, identity_key, channel, state, \
                 trigger_message_id, due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9) \
                 ON CONFLICT (workspace_id, survey_id, trigger_message_id) DO NOTHING",
            )
            .bind(new_id())
            .bind(workspace.as_str())
            .bind(&invitation.survey_id)
            .bind(invitation.version)
            .bind(&invitation.identity_key)
            .bind(&invitation.channel)
            .bind(&invitation.trigger_message_id)
            .bind(invitation.due_at_ms)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(created)
    }

    /// Records an invitation shown now (the widget's): sent at `now_ms`, to `customer` if known.
    /// Returns its id.
    pub async fn insert_shown_invitation(
        &self,
        workspace: &WorkspaceId,
        invitation: &NewInvitation,
        customer: Option<&CustomerId>,
        now_ms: i64,
    ) -> Result<String, sqlx::Error> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO invitations (id, workspace_id, survey_id, version, identity_key, customer_id, channel, state, \
             trigger_message_id, due_at, created_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'sent', $8, $9, $9, $9)",
        )
        .bind(&id)
        .bind(workspace.as_str())
        .bind(&invitation.survey_id)
        .bind(invitation.version)
        .bind(&invitation.identity_key)
        .bind(customer.map(CustomerId::as_str))
        .bind(&invitation.channel)
        .bind(&invitation.trigger_message_id)
        .bind(now_ms)
        .execute(&self.write_pool)
        .await?;
        Ok(id)
    }

    /// Keeps the answers of a hosted survey's pages sent so far (replacing what was kept).
    pub async fn save_draft(
        &self,
        workspace: &WorkspaceId,
        invitation: &str,
        answers: &Value,
        page: i64,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO response_drafts (invitation_id, workspace_id, answers, page, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (invitation_id) DO UPDATE SET answers = excluded.answers, page = excluded.page, \
             updated_at = excluded.updated_at",
        )
        .bind(invitation)
        .bind(workspace.as_str())
        .bind(Json(answers))
        .bind(page)
        .bind(now_ms)
        .execute(&self.write_pool)
        .await?;
        Ok(())
    }

    /// The answers kept for an invitation and the last page they complete.
    pub async fn draft(&self, workspace: &WorkspaceId, invitation: &str) -> Result<Option<(Value, i64)>, sqlx::Error> {
        let row: Option<(Json<Value>, i64)> =
            sqlx::query_as("SELECT answers, page FROM response_drafts WHERE workspace_id = $1 AND invitation_id = $2")
                .bind(workspace.as_str())
                .bind(invitation)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(Json(answers), page)| (answers, page)))
    }

    pub async fn delete_draft(&self, workspace: &WorkspaceId, invitation: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM response_drafts WHERE workspace_id = $1 AND invitation_id = $2")
            .bind(workspace.as_str())
            .bind(invitation)
            .execute(&self.write_pool)
            .await?;
        Ok(())
    }

    /// Pending invitations due at `now_ms`, oldest first, in every workspace.
    pub async fn due_invitations(&self, now_ms: i64, limit: i64) -> Result<Vec<InvitationRecord>, sqlx::Error> {
        let rows: Vec<InvitationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE state = 'pending' AND due_at <= $1 \
             ORDER BY due_at, id LIMIT $2"
        )))
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(invitation_record).collect())
    }

    /// Takes pending invitations for dispatch at `now_ms`, in one statement; returns the ids
    /// taken (an id another dispatcher, in this process or another, took first is not among them).
    pub async fn claim_invitations(&self, ids: &[&str], now_ms: i64) -> Result<Vec<String>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Db>::new("UPDATE invitations SET state = 'dispatching', claimed_at = ");
        query.push_bind(now_ms);
        query.push(" WHERE state = 'pending' AND id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(") RETURNING id");
        query.build_query_scalar().fetch_all(&self.write_pool).await
    }

    /// Puts invitations claimed before `before_ms` and never finished back to `pending` (their
    /// dispatcher stopped mid-pass); returns how many. Claims from before claims had a time are
    /// released too.
    pub async fn release_stale_claims(&self, before_ms: i64) -> Result<u64, sqlx::Error> {
        const STALE: &str = "state = 'dispatching' AND (claimed_at < $1 OR claimed_at IS NULL)";
        // Runs every dispatcher pass and almost never finds one: a read spares the single
        // writer (SQLite's) a turn.
        let any: Option<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT id FROM invitations WHERE {STALE} LIMIT 1")))
                .bind(before_ms)
                .fetch_optional(&self.pool)
                .await?;
        if any.is_none() {
            return Ok(0);
        }
        let released = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE invitations SET state = 'pending', claimed_at = NULL WHERE {STALE}"
        )))
        .bind(before_ms)
        .execute(&self.write_pool)
        .await?;
        Ok(released.rows_affected())
    }

    /// Records how a dispatch ended. The state changes only from `dispatching`: an answer that
    /// arrived first (`responded`) stays.
    pub async fn finish_invitation(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        outcome: &InvitationOutcome,
    ) -> Result<(), sqlx::Error> {
        let sent_at = (outcome.state == "sent").then_some(outcome.at_ms);
        sqlx::query(
            "UPDATE invitations SET state = CASE WHEN state = 'dispatching' THEN $1 ELSE state END, \
             customer_id = $2, address = $3, reason = $4, explanation = $5, sent_at = $6, remind_at = $9 \
             WHERE workspace_id = $7 AND id = $8",
        )
        .bind(outcome.state)
        .bind(outcome.customer_id.as_ref().map(CustomerId::as_str))
        .bind(&outcome.address)
        .bind(&outcome.reason)
        .bind(&outcome.explanation)
        .bind(sent_at)
        .bind(workspace.as_str())
        .bind(id)
        .bind(outcome.remind_at_ms)
        .execute(&self.write_pool)
        .await?;
        Ok(())
    }

    /// Sent invitations whose reminder is due at `now_ms`, in every workspace.
    pub async fn reminders_due(&self, now_ms: i64, limit: i64) -> Result<Vec<InvitationRecord>, sqlx::Error> {
        let rows: Vec<InvitationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE remind_at IS NOT NULL AND remind_at <= $1 \
             AND state = 'sent' ORDER BY remind_at, id LIMIT $2"
        )))
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(invitation_record).collect())
    }

    /// Takes a due reminder for sending (once, whoever asks first) and records it as sent.
    pub async fn claim_reminder(&self, workspace: &WorkspaceId, id: &str, now_ms: i64) -> Result<bool, sqlx::Error> {
        let sql = "UPDATE invitations SET remind_at = NULL, reminded_at = $1 \
             WHERE workspace_id = $2 AND id = $3 AND remind_at IS NOT NULL AND state = 'sent'";
        self.update_one_invitation(sql, now_ms, workspace, id).await
    }

    /// Sent invitations not answered by `sent_before_ms` become `expired` (their links no longer
    /// work). Returns how many.
    pub async fn expire_invitations(&self, sent_before_ms: i64) -> Result<u64, sqlx::Error> {
        let expired = sqlx::query(
            "UPDATE invitations SET state = 'expired', remind_at = NULL WHERE state = 'sent' AND sent_at <= $1",
        )
        .bind(sent_before_ms)
        .execute(&self.write_pool)
        .await?
        .rows_affected();
        Ok(expired)
    }

    pub async fn invitation(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<InvitationRecord>, sqlx::Error> {
        let row: Option<InvitationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE workspace_id = $1 AND id = $2"
        )))
        .bind(workspace.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(invitation_record))
    }

    /// A survey's invitations, newest first.
    pub async fn invitations(
        &self,
        workspace: &WorkspaceId,
        survey: &str,
        limit: i64,
    ) -> Result<Vec<InvitationRecord>, sqlx::Error> {
        let rows: Vec<InvitationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE workspace_id = $1 AND survey_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        )))
        .bind(workspace.as_str())
        .bind(survey)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(invitation_record).collect())
    }

    /// The invitation with this id, in whichever workspace (a signed link names only the id).
    pub async fn invitation_anywhere(&self, id: &str) -> Result<Option<InvitationRecord>, sqlx::Error> {
        let row: Option<InvitationRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1")))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(invitation_record))
    }

    /// Runs a conditional update of one invitation (`$1` a time, `$2` the workspace, `$3` the id);
    /// true if it applied.
    async fn update_one_invitation(
        &self,
        sql: &'static str,
        at_ms: i64,
        workspace: &WorkspaceId,
        id: &str,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(sql)
            .bind(at_ms)
            .bind(workspace.as_str())
            .bind(id)
            .execute(&self.write_pool)
            .await?
            .rows_affected();
        Ok(updated == 1)
    }

    /// The secret called `name`, made from `candidate` the first time it is asked for (every
    /// process sharing the database then reads the same one).
    pub async fn secret(&self, name: &str, candidate: &str) -> Result<String, sqlx::Error> {
        sqlx::query("INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .bind(now_ms())
            .execute(&self.write_pool)
            .await?;
        sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1").bind(name).fetch_one(&self.pool).await
    }

    /// Every relational survey, at its current version, in every workspace.
    pub async fn relational_surveys(&self) -> Result<Vec<(WorkspaceId, SurveyRecord)>, sqlx::Error> {
        #[derive(sqlx::FromRow)]
        struct Row {
            workspace_id: String,
            id: String,
            version: i64,
            current_version: i64,
            definition: Json<SurveyDefinition>,
            created_at: i64,
            updated_at: i64,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT s.workspace_id, s.id, v.version, s.current_version, v.definition, s.created_at, s.updated_at \
             FROM surveys s JOIN survey_versions v ON v.survey_id = s.id AND v.version = s.current_version \
             WHERE s.kind = 'relational' ORDER BY s.created_at, s.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let record = SurveyRecord {
                    id: row.id,
                    version: row.version,
                    current_version: row.current_version,
                    definition: row.definition.0,
                    created_at_ms: row.created_at,
                    updated_at_ms: row.updated_at,
                };
                (WorkspaceId(row.workspace_id), record)
            })
            .collect())
    }

    /// A page of a workspace's customers (roots, by id after `after`), each with the identity to
    /// address it by: a user id if it has one, else an e-mail, else any.
    pub async fn customer_contacts(
        &self,
        workspace: &WorkspaceId,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(CustomerId, Option<String>)>, sqlx::Error> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT c.id, (SELECT i.identity_key FROM identities i JOIN customers n ON n.id = i.customer_id \
             WHERE n.workspace_id = c.workspace_id AND n.root_id = c.id \
             ORDER BY CASE i.kind WHEN 'userId' THEN 0 WHEN 'email' THEN 1 ELSE 2 END, i.identity_key LIMIT 1) \
             FROM customers c WHERE c.workspace_id = $1 AND c.root_id = c.id AND c.id > $2 ORDER BY c.id LIMIT $3",
        )
        .bind(workspace.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id, identity)| (CustomerId(id), identity)).collect())
    }

    /// Benchmark seeding: stores invitations already sent to `customer` at `sent_at`, in one
    /// transaction, with no checks.
    pub async fn seed_sent_invitations(
        &self,
        workspace: &WorkspaceId,
        rows: &[(String, CustomerId, String, i64)],
    ) -> Result<(), sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        for chunk in cached_chunks(rows) {
            let mut query = QueryBuilder::<Db>::new(
                "INSERT INTO invitations (id, workspace_id, survey_id, version, identity_key, customer_id, channel, \
                 state, trigger_message_id, due_at, created_at, sent_at) ",
            );
            query.push_values(chunk, |mut row, (survey, customer, identity, sent_at)| {
                row.push_bind(new_id())
                    .push_bind(workspace.as_str().to_owned())
                    .push_bind(survey.clone())
                    .push_bind(1_i64)
                    .push_bind(identity.clone())
                    .push_bind(customer.0.clone())
                    .push_bind("link")
                    .push_bind("sent")
                    .push_bind(new_id())
                    .push_bind(*sent_at)
                    .push_bind(*sent_at)
                    .push_bind(*sent_at);
            });
            query.build().execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    pub async fn contact_policy(&self, workspace: &WorkspaceId) -> Result<Option<ContactPolicy>, sqlx::Error> {
        self.workspace_document("contact_policies", "policy", workspace).await
    }

    pub async fn put_contact_policy(&self, workspace: &WorkspaceId, policy: &ContactPolicy) -> Result<(), sqlx::Error> {
        self.put_workspace_document("contact_policies", "policy", workspace, policy).await
    }
}
