// The trust SQL both backends share (`include!`d like `sql_backend.rs`): API keys, users, sign-in
// sessions, and the hash-chained audit log.

use rapport_core::audit::{AuditEntry, ChainedEntry};

use crate::trust_records::{NewUserRow, UserCredentials, UserRecord, UserUpdate};

type UserRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i32,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    String,
    Option<i64>,
);
const USER_COLUMNS: &str = "u.id, u.workspace_id, w.name, u.email, u.name, u.role, u.totp_secret, u.failed_attempts, \
     u.locked_until, u.disabled_at, u.last_sign_in_at, u.created_at, u.updated_at, u.password_hash, u.totp_last_step";

fn user_record(row: UserRow) -> Option<(UserRecord, UserCredentials)> {
    let (
        id,
        workspace,
        workspace_name,
        email,
        name,
        role,
        totp_secret,
        failures,
        locked,
        disabled,
        last,
        created,
        updated,
        password_hash,
        last_step,
    ) = row;
    let credentials = UserCredentials {
        password_hash,
        totp_secret: totp_secret.clone(),
        totp_last_step: last_step.and_then(|step| u64::try_from(step).ok()),
    };
    let user = UserRecord {
        id,
        workspace_id: WorkspaceId(workspace),
        workspace_name,
        email,
        name,
        role: Role::parse(&role)?,
        totp_enabled: totp_secret.is_some(),
        failed_attempts: u32::try_from(failures).unwrap_or(0),
        locked_until_ms: locked,
        disabled_at_ms: disabled,
        last_sign_in_at_ms: last,
        created_at_ms: created,
        updated_at_ms: updated,
    };
    Some((user, credentials))
}

type AuditRow = (i64, i64, String, String, String, String, String, String);

fn chained_entry((seq, at_ms, actor, action, target, detail, prev_hash, hash): AuditRow) -> ChainedEntry {
    ChainedEntry { entry: AuditEntry { seq, at_ms, actor, action, target, detail }, prev_hash, hash }
}

impl SqlBackend {
    // ---- API keys ----

    pub async fn insert_api_key(
        &self,
        workspace: &Workspace,
        role: Role,
        key_hash: &str,
        display_prefix: &str,
    ) -> Result<ApiKeyRecord, sqlx::Error> {
        let record = ApiKeyRecord {
            id: new_id(),
            workspace_id: workspace.id.clone(),
            workspace_name: workspace.name.clone(),
            role,
            display_prefix: display_prefix.to_owned(),
            created_at_ms: now_ms(),
        };
        sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, role, key_hash, display_prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&record.id)
        .bind(workspace.id.as_str())
        .bind(role.as_str())
        .bind(key_hash)
        .bind(display_prefix)
        .bind(record.created_at_ms)
        .execute(&self.write_pool)
        .await?;
        Ok(record)
    }

    pub async fn count_api_keys(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM api_keys").fetch_one(&self.pool).await
    }

    /// The keys matching `condition` on `value` (`k.key_hash = $1`, `k.workspace_id = $1`). One
    /// plain equality per query, not `($1 IS NULL OR …)`: SQLite plans a statement before it sees
    /// its values, and the optional form scanned every key on every authenticated request.
    async fn api_keys_where(&self, condition: &str, value: &str) -> Result<Vec<ApiKeyRecord>, sqlx::Error> {
        let rows: Vec<(String, String, String, String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT k.id, k.workspace_id, w.name, k.role, k.display_prefix, k.created_at \
             FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE {condition} \
             ORDER BY k.created_at, k.id"
        )))
        .bind(value)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, workspace_id, workspace_name, role, display_prefix, created_at_ms)| {
                Some(ApiKeyRecord {
                    id,
                    workspace_id: WorkspaceId(workspace_id),
                    workspace_name,
                    role: Role::parse(&role)?,
                    display_prefix,
                    created_at_ms,
                })
            })
            .collect())
    }

    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, sqlx::Error> {
        Ok(self.api_keys_where("k.key_hash = $1", key_hash).await?.pop())
    }

    pub async fn api_keys(&self, workspace: &WorkspaceId) -> Result<Vec<ApiKeyRecord>, sqlx::Error> {
        self.api_keys_where("k.workspace_id = $1", workspace.as_str()).await
    }

    // ---- users ----

    /// Stores a new user; None when the e-mail address is taken (in any workspace).
    pub async fn insert_user(&self, workspace: &WorkspaceId, user: &NewUserRow) -> Result<Option<String>, sqlx::Error> {
        let id = new_id();
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO users (id, workspace_id, email, name, role, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&id)
        .bind(workspace.as_str())
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(now)
        .execute(&self.write_pool)
        .await?;
        Ok((inserted.rows_affected() == 1).then_some(id))
    }

    /// Users matching the conditions (each `None` matches all), by e-mail address.
    async fn users_where(
        &self,
        condition: &str,
        values: &[&str],
    ) -> Result<Vec<(UserRecord, UserCredentials)>, sqlx::Error> {
        // Plain equalities, as for keys: each lookup uses its index on SQLite too.
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN workspaces w ON w.id = u.workspace_id WHERE {condition} \
             ORDER BY u.email"
        );
        let mut query = sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql));
        for value in values {
            query = query.bind(*value);
        }
        Ok(query.fetch_all(&self.pool).await?.into_iter().filter_map(user_record).collect())
    }

    pub async fn users(&self, workspace: &WorkspaceId, id: Option<&str>) -> Result<Vec<UserRecord>, sqlx::Error> {
        let found = match id {
            Some(id) => self.users_where("u.workspace_id = $1 AND u.id = $2", &[workspace.as_str(), id]).await?,
            None => self.users_where("u.workspace_id = $1", &[workspace.as_str()]).await?,
        };
        Ok(found.into_iter().map(|(user, _)| user).collect())
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<(UserRecord, UserCredentials)>, sqlx::Error> {
        Ok(self.users_where("u.email = $1", &[email]).await?.pop())
    }

    pub async fn user_credentials(
        &self,
        workspace: &WorkspaceId,
        id: &str,
    ) -> Result<Option<(UserRecord, UserCredentials)>, sqlx::Error> {
        Ok(self.users_where("u.workspace_id = $1 AND u.id = $2", &[workspace.as_str(), id]).await?.pop())
    }

    /// Changes a user; false when there is none. Disabling a user or changing their password
    /// ends their sessions in the same transaction.
    pub async fn update_user(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        update: &UserUpdate,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        let (disable, disabled_at) = match update.disabled_at_ms {
            Some(at) => (true, at),
            None => (false, None),
        };
        let changed = sqlx::query(
            "UPDATE users SET role = COALESCE($3, role), name = COALESCE($4, name), \
             password_hash = COALESCE($5, password_hash), \
             disabled_at = CASE WHEN $6 THEN $7 ELSE disabled_at END, \
             failed_attempts = CASE WHEN $5 IS NULL THEN failed_attempts ELSE 0 END, \
             locked_until = CASE WHEN $5 IS NULL THEN locked_until ELSE NULL END, updated_at = $8 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(update.role.map(Role::as_str))
        .bind(update.name.as_deref())
        .bind(update.password_hash.as_deref())
        .bind(disable)
        .bind(disabled_at)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if changed && (disabled_at.is_some() || update.password_hash.is_some()) {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Notes a failed sign-in: the failures in a row and the lock they lead to.
    pub async fn record_sign_in_failure(
        &self,
        id: &str,
        failures: u32,
        locked_until_ms: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET failed_attempts = $2, locked_until = COALESCE($3, locked_until) WHERE id = $1")
            .bind(id)
            .bind(i64::from(failures))
            .bind(locked_until_ms)
            .execute(&self.write_pool)
            .await
            .map(|_| ())
    }

    /// Notes a successful sign-in and starts its session, in one transaction: failures reset,
    /// the TOTP step used remembered (a code is good once).
    pub async fn start_session(
        &self,
        user: &UserRecord,
        token_hash: &str,
        totp_step: Option<u64>,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        sqlx::query(
            "UPDATE users SET failed_attempts = 0, locked_until = NULL, last_sign_in_at = $2, \
             totp_last_step = COALESCE($3, totp_last_step) WHERE id = $1",
        )
        .bind(&user.id)
        .bind(now_ms)
        .bind(totp_step.and_then(|step| i64::try_from(step).ok()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2")
            .bind(&user.id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, workspace_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user.workspace_id.as_str())
        .bind(&user.id)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The user a live session belongs to (not expired, user not disabled).
    pub async fn session_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<UserRecord>, sqlx::Error> {
        let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
             JOIN workspaces w ON w.id = u.workspace_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL"
        )))
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(user_record).map(|(user, _)| user))
    }

    pub async fn end_session(&self, token_hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write_pool)
            .await
            .map(|_| ())
    }

    /// Turns a user's second factor on (with the step its set-up code used) or off.
    pub async fn set_totp(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        secret: Option<&str>,
        step: Option<u64>,
    ) -> Result<bool, sqlx::Error> {
        let changed = sqlx::query(
            "UPDATE users SET totp_secret = $3, totp_last_step = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(secret)
        .bind(step.and_then(|step| i64::try_from(step).ok()))
        .bind(now_ms())
        .execute(&self.write_pool)
        .await?;
        Ok(changed.rows_affected() == 1)
    }

    // ---- the audit log ----

    /// Appends an entry to the workspace's chain. Appends of one workspace take turns (the
    /// chain's head is read and extended in one transaction).
    pub async fn append_audit(
        &self,
        workspace: &WorkspaceId,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
        at_ms: i64,
    ) -> Result<ChainedEntry, sqlx::Error> {
        let mut tx = begin_write(&self.write_pool).await?;
        // A lock of the log's own (not the workspace's, which ingestion holds while resolving).
        lock_workspace(&mut tx, &WorkspaceId(format!("audit/{}", workspace.as_str()))).await?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log WHERE workspace_id = $1 ORDER BY seq DESC LIMIT 1")
                .bind(workspace.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let (last_seq, prev_hash) = head.unwrap_or((0, rapport_core::audit::GENESIS.to_owned()));
        let entry = AuditEntry {
            seq: last_seq + 1,
            at_ms,
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        };
        let hash = rapport_core::audit::link_hash(&prev_hash, &entry);
        sqlx::query(
            "INSERT INTO audit_log (workspace_id, seq, at, actor, action, target, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(workspace.as_str())
        .bind(entry.seq)
        .bind(entry.at_ms)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.detail)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ChainedEntry { entry, prev_hash, hash })
    }

    /// Up to `limit` entries after sequence number `after`, oldest first.
    pub async fn audit_entries(
        &self,
        workspace: &WorkspaceId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ChainedEntry>, sqlx::Error> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_log \
             WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(workspace.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(chained_entry).collect())
    }
}
