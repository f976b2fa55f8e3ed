//! `rapport import workspace DIR --workspace W`: loads a `rapport export` into a new (or empty)
//! workspace, here or in another database: the settings and topic taxonomy, every survey version,
//! the events (resolved into customers again, so identities, traits and merges come back), the
//! responses against their surveys (their comments become feedback again), and the feedback
//! (analysed again, with the exported taxonomy). Cases are exported for the record but not loaded:
//! they belong to the people who worked them.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use rapport_server::services::import::{AnswerRow, RowProblem};
use rapport_store::Store;
use serde_json::Value;

use crate::commands::export::{FORMAT, VERSION};
use crate::commands::import::{check_event_file, import_answer_rows, import_feedback_inputs, ingest_event_file};
use crate::settings::Settings;

fn read(directory: &Path, name: &str) -> anyhow::Result<String> {
    let path = directory.join(name);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// Applies the exported settings that were saved (those never changed stay at their defaults).
async fn apply_settings(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    settings: &Value,
) -> anyhow::Result<()> {
    use rapport_server::services;
    services::metrics::save_settings(store, workspace, &settings["metrics"]).await.context("metric settings")?;
    services::feedback::replace_taxonomy(store, workspace, &settings["taxonomy"]).await.context("taxonomy")?;
    let mut problems = Vec::new();
    match rapport_core::contact_policy::parse_policy(&settings["contactPolicy"], "", false, &mut problems) {
        Some(policy) => store.put_contact_policy(workspace, &policy).await?,
        None => anyhow::bail!("settings.json: contactPolicy: {problems:?}"),
    }
    if !settings["feedback"].is_null() {
        store.put_feedback_settings(workspace, &settings["feedback"]).await?;
    }
    if !settings["churn"].is_null() {
        services::prediction::save_settings(store, workspace, &settings["churn"]).await.context("churn settings")?;
    }
    if !settings["cases"].is_null() {
        services::cases::save_settings(store, workspace, &settings["cases"]).await.context("case settings")?;
    }
    Ok(())
}

pub async fn run(settings: Settings, directory: &Path, workspace: &str) -> anyhow::Result<()> {
    let manifest: Value = serde_json::from_str(&read(directory, "manifest.json")?).context("manifest.json")?;
    if manifest["format"] != FORMAT || manifest["version"] != VERSION {
        anyhow::bail!("{}: not a {FORMAT} version {VERSION} manifest", directory.join("manifest.json").display());
    }
    let received_at = time::OffsetDateTime::now_utc();
    // Everything is read and checked before anything is written.
    let events = directory.join("events.jsonl");
    let (rows, problems) = check_event_file(&events, received_at).await?;
    if !problems.is_empty() {
        let shown: Vec<String> = problems.iter().take(10).map(RowProblem::to_string).collect();
        anyhow::bail!("events.jsonl: {} problems in {rows} rows: {}", problems.len(), shown.join("; "));
    }
    let mut answers: HashMap<String, Vec<AnswerRow>> = HashMap::new();
    for (index, line) in read(directory, "responses.jsonl")?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: AnswerRow =
            serde_json::from_str(line).with_context(|| format!("responses.jsonl line {}", index + 1))?;
        let survey = row.survey.clone().unwrap_or_default();
        answers.entry(survey).or_default().push(AnswerRow { line: index + 1, survey: None, ..row });
    }
    let (feedback, problems) = rapport_server::services::import_feedback::feedback_from_jsonl(
        &read(directory, "feedback.jsonl")?,
        received_at,
    );
    if !problems.is_empty() {
        let shown: Vec<String> = problems.iter().take(10).map(RowProblem::to_string).collect();
        anyhow::bail!("feedback.jsonl: {} problems: {}", problems.len(), shown.join("; "));
    }
    let settings_document: Value = serde_json::from_str(&read(directory, "settings.json")?).context("settings.json")?;
    let surveys: Vec<Value> = read(directory, "surveys.jsonl")?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("surveys.jsonl")?;

    crate::commands::with_store(&settings, async |store| {
        rapport_core::ids::validate_workspace_name(workspace).map_err(anyhow::Error::msg)?;
        let target = store.ensure_workspace(workspace).await?;
        let id = &target.id;
        if !store.surveys(id).await?.is_empty() || !store.events_after(id, 0, 1).await?.is_empty() {
            anyhow::bail!("workspace `{workspace}` already holds data: import an export into a new workspace");
        }
        apply_settings(store, id, &settings_document).await?;
        let mut survey_ids = HashMap::new();
        for survey in &surveys {
            let versions = survey["versions"].as_array().cloned().unwrap_or_default();
            let mut created: Option<rapport_store::records::SurveyRecord> = None;
            for version in &versions {
                let definition = rapport_core::survey::parse_definition(version)
                    .map_err(|p| anyhow::anyhow!("survey {}: {p:?}", survey["id"]))?;
                created = Some(match &created {
                    None => store.create_survey(id, &definition).await?,
                    Some(record) => store
                        .add_survey_version(id, &record.id, &definition)
                        .await?
                        .context("the survey just created is missing")?,
                });
            }
            if let (Some(old), Some(record)) = (survey["id"].as_str(), created) {
                survey_ids.insert(old.to_owned(), record);
            }
        }
        ingest_event_file(store, id, &events, rows, received_at).await?;
        for (old, rows) in &answers {
            let survey =
                survey_ids.get(old).with_context(|| format!("responses.jsonl: no survey `{old}` in surveys.jsonl"))?;
            import_answer_rows(store, id, survey, rows, Vec::new(), false).await?;
        }
        let inputs = feedback.into_iter().map(|(_, input)| input).collect();
        import_feedback_inputs(store, id, inputs, received_at).await?;
        Ok(())
    })
    .await
}
