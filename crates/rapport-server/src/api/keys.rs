//! `POST /v1/keys`: create an API key. The master key may create keys in any workspace (creating
//! it); a workspace admin key, in its own workspace only.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use rapport_core::auth::{Permission, Role};
use rapport_core::ids::validate_workspace_name;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody, ErrorCode};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// `write` (ingest only: safe in a website or app), `read` or `admin`.
    pub role: String,
    /// Required with the master key (the workspace is created if needed); with an admin key it
    /// may only name the key's own workspace.
    pub workspace: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    /// The key. It is shown once: Rapport keeps only its hash.
    pub key: String,
    pub id: String,
    pub workspace: String,
    pub role: String,
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKeyRequest,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<CreateKeyRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let Json(request) = body.map_err(|rejection| {
        let code = if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            ErrorCode::UnsupportedMediaType
        } else {
            ErrorCode::InvalidParameter
        };
        ApiError::new(code, rejection.body_text())
    })?;
    let role = Role::parse_key_role(&request.role).ok_or_else(|| {
        ApiError::invalid_parameter("role", format!("`{}` is not write, read or admin", request.role))
    })?;
    let actor = match &principal {
        Principal::Master => "master".to_owned(),
        Principal::Key(caller) => caller.actor.clone(),
    };
    let workspace = match (principal, request.workspace) {
        (Principal::Master, Some(name)) => {
            validate_workspace_name(&name).map_err(|problem| ApiError::invalid_parameter("workspace", problem))?;
            state.store.ensure_workspace(&name).await?
        }
        (Principal::Master, None) => {
            return Err(ApiError::invalid_parameter("workspace", "required with the master key"));
        }
        (Principal::Key(caller), requested) => {
            caller.require(Permission::Administer)?;
            if requested.as_deref().is_some_and(|name| name != caller.workspace_name) {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "a workspace key can only create keys in its own workspace",
                ));
            }
            let workspace = state.store.workspace_by_name(&caller.workspace_name).await?;
            workspace.ok_or_else(|| ApiError::not_found("the key's workspace no longer exists"))?
        }
    };
    let (key, record) = crate::services::keys::create(&state.store, &workspace, role, &actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey { key, id: record.id, workspace: workspace.name, role: role.as_str().to_owned() }),
    ))
}
