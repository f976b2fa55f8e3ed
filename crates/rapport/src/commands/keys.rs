//! `rapport keys create`: talks to the database directly, so it works before the first server
//! start and alongside a running server.

use rapport_core::auth::Role;
use rapport_core::ids::validate_workspace_name;

use crate::settings::Settings;

pub async fn create(settings: Settings, workspace: &str, role: &str) -> anyhow::Result<()> {
    validate_workspace_name(workspace).map_err(anyhow::Error::msg)?;
    let role =
        Role::parse_key_role(role).ok_or_else(|| anyhow::anyhow!("`{role}` is not a role: write, read or admin"))?;
    let (key, record, workspace) = crate::commands::with_store(&settings, async |store| {
        let workspace = store.ensure_workspace(workspace).await?;
        let (key, record) = store.create_api_key(&workspace, role).await?;
        let target = format!("key:{}", record.display_prefix);
        let detail = serde_json::json!({"role": role.as_str()});
        rapport_server::services::audit::record_as(store, &workspace.id, "cli", "key.created", &target, detail).await;
        Ok((key, record, workspace))
    })
    .await?;
    eprintln!("created {} key {}… in workspace `{}`", role.as_str(), record.display_prefix, workspace.name);
    println!("{key}");
    Ok(())
}
