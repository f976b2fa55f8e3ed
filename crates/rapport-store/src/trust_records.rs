//! What the trust part of the store takes and returns: people who sign in, their sessions, and
//! audit entries.

use rapport_core::auth::Role;
use rapport_core::ids::WorkspaceId;

/// A person who signs in (never their password or TOTP secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub totp_enabled: bool,
    pub failed_attempts: u32,
    pub locked_until_ms: Option<i64>,
    pub disabled_at_ms: Option<i64>,
    pub last_sign_in_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// What signing in checks: the stored password hash and the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCredentials {
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<u64>,
}

/// A new user as stored (the password already hashed).
#[derive(Debug, Clone)]
pub struct NewUserRow {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

/// A change to a user as stored; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub name: Option<String>,
    /// `Some(Some(at))` disables, `Some(None)` enables again.
    pub disabled_at_ms: Option<Option<i64>>,
    pub password_hash: Option<String>,
}
