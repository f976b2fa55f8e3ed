//! `rapport users create|list` and `rapport audit verify`: talk to the database directly, so
//! the first admin can be made before the first server start.

use rapport_core::ids::validate_workspace_name;
use rapport_core::users::{NewUser, normalise_email};
use rapport_server::services::{audit, users};

use crate::commands::{table, with_store, workspace_named};
use crate::settings::Settings;

/// Who the audit log names for what is done from a shell.
const CLI_ACTOR: &str = "cli";

pub async fn create(settings: Settings, workspace: &str, email: &str, role: &str, name: &str) -> anyhow::Result<()> {
    validate_workspace_name(workspace).map_err(anyhow::Error::msg)?;
    let email = normalise_email(email).map_err(|problem| anyhow::anyhow!("--email {problem}"))?;
    let role = rapport_core::auth::Role::parse_user_role(role)
        .ok_or_else(|| anyhow::anyhow!("`{role}` is not a role: admin, analyst, agent or viewer"))?;
    let created = with_store(&settings, async |store| {
        let workspace = store.ensure_workspace(workspace).await?;
        let user = NewUser { email: email.clone(), name: name.to_owned(), role, password: None };
        Ok(users::create_user(store, &workspace.id, CLI_ACTOR, user).await?)
    })
    .await?;
    eprintln!("created {} user {email} in workspace `{workspace}`; their password (shown once):", role.as_str());
    println!("{}", created["password"].as_str().unwrap_or_default());
    Ok(())
}

pub async fn list(settings: Settings, workspace: &str) -> anyhow::Result<()> {
    let listed = with_store(&settings, async |store| {
        let workspace = workspace_named(store, workspace).await?;
        Ok(users::list(store, &workspace.id).await?)
    })
    .await?;
    let rows: Vec<Vec<String>> = listed["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|user| {
            let text = |field: &str| user[field].as_str().unwrap_or("").to_owned();
            let status = if user["disabled"] == true {
                "disabled"
            } else if user["lockedUntil"].is_string() {
                "locked"
            } else {
                "active"
            };
            let two_factor = if user["twoFactor"] == true { "on" } else { "off" };
            vec![
                text("email"),
                text("name"),
                text("role"),
                two_factor.to_owned(),
                status.to_owned(),
                user["lastSignInAt"].as_str().unwrap_or("never").to_owned(),
            ]
        })
        .collect();
    print!("{}", table::columns(&["email", "name", "role", "two-factor", "status", "last sign-in"], &rows));
    Ok(())
}

/// Exits non-zero when the chain is broken.
pub async fn verify(settings: Settings, workspace: &str) -> anyhow::Result<()> {
    let verified = with_store(&settings, async |store| {
        let workspace = workspace_named(store, workspace).await?;
        Ok(audit::verify(store, &workspace.id).await?)
    })
    .await?;
    if verified["intact"] == true {
        println!("intact: {} entries; head {}", verified["entries"], verified["head"].as_str().unwrap_or_default());
        return Ok(());
    }
    anyhow::bail!(
        "the audit log of `{workspace}` is broken at entry {}: {} ({} entries before it verify)",
        verified["broken"]["seq"],
        verified["broken"]["problem"].as_str().unwrap_or_default(),
        verified["entries"]
    )
}
