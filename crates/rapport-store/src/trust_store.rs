//! The trust half of [`Store`]: API keys, users, sign-in sessions and the audit log. The SQL is
//! in `sql_trust.rs`.

use rand::RngCore;
use rapport_core::audit::ChainedEntry;
use rapport_core::auth::{self, Role};
use rapport_core::ids::WorkspaceId;

use crate::records::{ApiKeyRecord, Workspace};
use crate::trust_records::{NewUserRow, UserCredentials, UserRecord, UserUpdate};
use crate::{Backend, Store, StoreError};

impl Store {
    /// Creates a key with `role` in `workspace`. The key itself is returned once and stored only
    /// as its hash.
    pub async fn create_api_key(
        &self,
        workspace: &Workspace,
        role: Role,
    ) -> Result<(String, ApiKeyRecord), StoreError> {
        let mut random = [0_u8; 32];
        rand::rng().fill_bytes(&mut random);
        let key = auth::key_from_random_bytes(random);
        let (hash, prefix) = (auth::hash_key(&key), auth::key_display_prefix(&key));
        let record = dispatch!(self.backend(), sql => sql.insert_api_key(workspace, role, &hash, &prefix).await)?;
        Ok((key, record))
    }

    /// How many API keys exist across all workspaces.
    pub async fn count_api_keys(&self) -> Result<i64, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.count_api_keys().await)?)
    }

    /// The key record for a presented key, if it exists.
    pub async fn authenticate(&self, key: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let hash = auth::hash_key(key);
        Ok(dispatch!(self.backend(), sql => sql.api_key_by_hash(&hash).await)?)
    }

    /// The workspace's keys (their display prefixes and roles; keys themselves are not kept).
    pub async fn api_keys(&self, workspace: &WorkspaceId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.api_keys(workspace).await)?)
    }

    /// Stores a new user; None when the e-mail address is taken (in any workspace).
    pub async fn create_user(&self, workspace: &WorkspaceId, user: &NewUserRow) -> Result<Option<String>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.insert_user(workspace, user).await)?)
    }

    /// The workspace's users by e-mail address, or the one with `id`.
    pub async fn users(&self, workspace: &WorkspaceId, id: Option<&str>) -> Result<Vec<UserRecord>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.users(workspace, id).await)?)
    }

    /// The user who signs in as `email` (normalised), with what signing in checks.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<(UserRecord, UserCredentials)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.user_by_email(email).await)?)
    }

    /// A user of the workspace with what signing in checks (for changing a password or TOTP).
    pub async fn user_credentials(
        &self,
        workspace: &WorkspaceId,
        id: &str,
    ) -> Result<Option<(UserRecord, UserCredentials)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.user_credentials(workspace, id).await)?)
    }

    /// Changes a user; false when there is none. Disabling or a new password ends their sessions.
    pub async fn update_user(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        update: &UserUpdate,
    ) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.update_user(workspace, id, update).await)?)
    }

    pub async fn record_sign_in_failure(
        &self,
        id: &str,
        failures: u32,
        locked_until_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.record_sign_in_failure(id, failures, locked_until_ms).await)?)
    }

    /// Starts a session (stored as the token's hash) for a user who signed in.
    pub async fn start_session(
        &self,
        user: &UserRecord,
        token: &str,
        totp_step: Option<u64>,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let hash = auth::hash_key(token);
        Ok(dispatch!(self.backend(), sql => sql.start_session(user, &hash, totp_step, now_ms, expires_at_ms).await)?)
    }

    /// The user a presented session token belongs to, while it lasts.
    pub async fn session_user(&self, token: &str, now_ms: i64) -> Result<Option<UserRecord>, StoreError> {
        let hash = auth::hash_key(token);
        Ok(dispatch!(self.backend(), sql => sql.session_user(&hash, now_ms).await)?)
    }

    pub async fn end_session(&self, token: &str) -> Result<(), StoreError> {
        let hash = auth::hash_key(token);
        Ok(dispatch!(self.backend(), sql => sql.end_session(&hash).await)?)
    }

    /// Turns a user's second factor on (`secret`, with the step its set-up code used) or off.
    pub async fn set_totp(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        secret: Option<&str>,
        step: Option<u64>,
    ) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.set_totp(workspace, id, secret, step).await)?)
    }

    /// Appends an entry to the workspace's audit chain.
    pub async fn append_audit(
        &self,
        workspace: &WorkspaceId,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
        at_ms: i64,
    ) -> Result<ChainedEntry, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.append_audit(workspace, actor, action, target, detail, at_ms).await)?)
    }

    /// Up to `limit` audit entries after sequence number `after`, oldest first.
    pub async fn audit_entries(
        &self,
        workspace: &WorkspaceId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ChainedEntry>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.audit_entries(workspace, after, limit).await)?)
    }
}
