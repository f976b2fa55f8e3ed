//! One module per subcommand.

pub mod churn;
pub mod clv;
pub mod data_key;
pub mod demo;
pub mod export;
pub mod import;
pub mod import_workspace;
pub mod journeys;
pub mod keys;
pub mod metrics;
pub mod serve;
pub mod table;
pub mod text;
pub mod users;

/// Opens the database `settings` name, runs `work` on it, and closes it whatever `work` returns.
pub async fn with_store<T>(
    settings: &crate::settings::Settings,
    work: impl AsyncFnOnce(&rapport_store::Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let options =
        rapport_store::StoreOptions { keys: std::sync::Arc::new(data_key::load(settings)?), ..Default::default() };
    let store = rapport_store::Store::connect(&settings.database_url.value, options).await?;
    let result = work(&store).await;
    store.close().await;
    result
}

/// The workspace called `name`, or an error saying there is none (commands that read never
/// create one).
pub async fn workspace_named(
    store: &rapport_store::Store,
    name: &str,
) -> anyhow::Result<rapport_store::records::Workspace> {
    store.workspace_by_name(name).await?.ok_or_else(|| anyhow::anyhow!("no workspace `{name}` in this database"))
}
