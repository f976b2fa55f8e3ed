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
        let (key, record) = rapport_server::services::keys::create(store, &workspace, role, "cli").await?;
        Ok((key, record, workspace))
    })
    .await?;
    eprintln!("created {} key {}… in workspace `{}`", role.as_str(), record.display_prefix, workspace.name);
    println!("{key}");
    Ok(())
}
