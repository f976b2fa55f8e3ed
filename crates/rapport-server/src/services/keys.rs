//! Making an API key, from the API, the dashboard or the CLI: the key is shown once, its creation
//! logged and audited in one place.

use rapport_core::auth::Role;
use rapport_store::Store;
use rapport_store::records::{ApiKeyRecord, Workspace};

use crate::error::ApiError;
use crate::services::audit;

/// Makes a key with `role` in `workspace` on behalf of `actor` (as the audit log names them).
pub async fn create(
    store: &Store,
    workspace: &Workspace,
    role: Role,
    actor: &str,
) -> Result<(String, ApiKeyRecord), ApiError> {
    let (key, record) = store.create_api_key(workspace, role).await?;
    tracing::info!(workspace = %workspace.name, role = role.as_str(), key = %record.display_prefix, "api key created");
    let target = format!("key:{}", record.display_prefix);
    audit::record_as(store, &workspace.id, actor, "key.created", &target, serde_json::json!({"role": role.as_str()}))
        .await;
    Ok((key, record))
}
