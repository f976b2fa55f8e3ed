//! Who is calling: an extractor that turns the presented API key into a [`Caller`].
//!
//! Keys arrive as `Authorization: Bearer KEY`, or as HTTP Basic with the key as the user name and
//! an empty password (what Segment and RudderStack SDKs send). The master key
//! (`RAPPORT_ADMIN_KEY`) acts as admin in the workspace named by the `X-Rapport-Workspace` header.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rapport_core::auth::{Permission, Role, hash_key};
use rapport_core::ids::WorkspaceId;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// The header naming the workspace a master-key request acts in.
pub const WORKSPACE_HEADER: &str = "x-rapport-workspace";

/// An authenticated caller: an API key, the master key, or a person signed in to the dashboard.
#[derive(Debug, Clone)]
pub struct Caller {
    pub workspace: WorkspaceId,
    pub workspace_name: String,
    pub role: Role,
    /// Who, as the audit log names them: `user:EMAIL`, `key:rpk_3f2a1b`, `master`.
    pub actor: String,
    /// The person signed in, when it is one.
    pub user_id: Option<String>,
    /// The session's CSRF token, which every form of the dashboard sends back.
    pub csrf: Option<String>,
}

impl Caller {
    /// Refuses with 403 unless the caller's role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.allows(permission) {
            return Ok(());
        }
        let roles: Vec<&str> = Role::allowed_to(permission)
            .into_iter()
            .filter(|role| {
                if self.user_id.is_some() { Role::USER_ROLES.contains(role) } else { Role::KEY_ROLES.contains(role) }
            })
            .map(Role::as_str)
            .collect();
        let who = if self.user_id.is_some() { "role" } else { "key" };
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the {} {who} may not {}; that needs the {} {who}",
                self.role.as_str(),
                permission.as_str(),
                roles.join(" or ")
            ),
        ))
    }
}

/// The key presented in the `Authorization` header, if any.
fn presented_key(parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else { return Ok(None) };
    let malformed = || {
        ApiError::new(
            ErrorCode::InvalidApiKey,
            "malformed Authorization header: expected `Bearer KEY` or Basic with the key as user name",
        )
    };
    let value = value.to_str().map_err(|_| malformed())?.trim();
    let (scheme, credentials) = value.split_once(' ').ok_or_else(malformed)?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(credentials.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(credentials).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (user, _password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        return Ok(Some(user.to_owned()));
    }
    Err(malformed())
}

/// Who presented a valid key: the master key, or a workspace key.
#[derive(Debug, Clone)]
pub enum Principal {
    Master,
    Key(Caller),
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Principal, ApiError> {
        let Some(key) = presented_key(parts)?.filter(|key| !key.is_empty()) else {
            return Err(ApiError::new(
                ErrorCode::MissingApiKey,
                "an API key is required: `Authorization: Bearer KEY` (create one with `rapport keys create`)",
            ));
        };
        // Comparing digests, not keys: the time taken says nothing about the master key.
        if state.admin_key_hash.as_deref() == Some(hash_key(&key).as_str()) {
            return Ok(Principal::Master);
        }
        Ok(Principal::Key(caller_for_workspace_key(state, &key).await?))
    }
}

/// The caller a workspace key (not the master key) stands for.
pub async fn caller_for_workspace_key(state: &AppState, key: &str) -> Result<Caller, ApiError> {
    match state.store.authenticate(key).await? {
        Some(record) => Ok(Caller {
            workspace: record.workspace_id,
            workspace_name: record.workspace_name,
            role: record.role,
            actor: format!("key:{}", record.display_prefix),
            user_id: None,
            csrf: None,
        }),
        None => Err(ApiError::new(ErrorCode::InvalidApiKey, "the API key is not valid")),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        match Principal::from_request_parts(parts, state).await? {
            Principal::Key(caller) => Ok(caller),
            Principal::Master => master_caller(parts, state).await,
        }
    }
}

async fn master_caller(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let name = parts.headers.get(WORKSPACE_HEADER).and_then(|value| value.to_str().ok()).map(str::trim);
    let Some(name) = name.filter(|name| !name.is_empty()) else {
        return Err(ApiError::invalid_parameter(
            WORKSPACE_HEADER,
            "the master key acts in the workspace this header names",
        ));
    };
    let workspace = state
        .store
        .workspace_by_name(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no workspace named `{name}`")))?;
    Ok(Caller {
        workspace: workspace.id,
        workspace_name: workspace.name,
        role: Role::Admin,
        actor: "master".to_owned(),
        user_id: None,
        csrf: None,
    })
}
