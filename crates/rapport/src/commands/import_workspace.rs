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

/// Refuses the import for the problems of one file (the first ten shown).
fn refuse(file: &str, problems: &[RowProblem]) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = problems.iter().take(10).map(RowProblem::to_string).collect();
    let count = rapport_server::error::problems_phrase(problems.len());
    anyhow::bail!("{file}: {count}; nothing was imported: {}", shown.join("; "))
}

/// Each field's problem, on one line.
fn fields(problems: &[rapport_core::problem::FieldProblem]) -> String {
    problems.iter().map(|p| format!("{}: {}", p.field, p.problem)).collect::<Vec<_>>().join("; ")
}

/// Checks every exported setting with the parser the API uses, before anything is written.
fn check_settings(settings: &Value) -> anyhow::Result<()> {
    let bad = |what: &str, problems: String| anyhow::anyhow!("settings.json: {what}: {problems}");
    rapport_core::metrics::settings::parse_settings(&settings["metrics"]).map_err(|p| bad("metrics", fields(&p)))?;
    let mut problems = Vec::new();
    if rapport_core::contact_policy::parse_policy(&settings["contactPolicy"], "", false, &mut problems).is_none() {
        return Err(bad("contactPolicy", fields(&problems)));
    }
    let feedback = match &settings["feedback"] {
        Value::Null => rapport_text::feedback::FeedbackSettings::default(),
        value => rapport_text::feedback::FeedbackSettings::parse(value).map_err(|p| bad("feedback", fields(&p)))?,
    };
    let taxonomy: rapport_text::topics::Taxonomy =
        serde_json::from_value(settings["taxonomy"].clone()).map_err(|e| bad("taxonomy", e.to_string()))?;
    rapport_text::topics::Topics::compile(&taxonomy, feedback.thresholds()).map_err(|p| bad("taxonomy", fields(&p)))?;
    if !settings["churn"].is_null() {
        rapport_predict::features::ChurnSettings::parse(&settings["churn"]).map_err(|p| {
            bad("churn", p.iter().map(|(f, problem)| format!("{f}: {problem}")).collect::<Vec<_>>().join("; "))
        })?;
    }
    if !settings["cases"].is_null() {
        rapport_core::cases::CaseSettings::parse(&settings["cases"]).map_err(|p| bad("cases", fields(&p)))?;
    }
    for (i, journey) in settings["journeys"].as_array().into_iter().flatten().enumerate() {
        rapport_core::journey::definition::parse(journey).map_err(|p| bad(&format!("journeys[{i}]"), fields(&p)))?;
    }
    Ok(())
}

/// Saves the exported settings (checked by `check_settings`) as the API's PUTs do; those never
/// changed stay at their defaults.
async fn apply_settings(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    settings: &Value,
) -> anyhow::Result<()> {
    use rapport_server::services;
    services::metrics::save_settings(store, workspace, &settings["metrics"]).await?;
    if let Some(feedback) = settings["feedback"].as_object() {
        let parsed = rapport_text::feedback::FeedbackSettings::parse(&Value::Object(feedback.clone()))
            .map_err(|p| anyhow::anyhow!("settings.json: feedback: {}", fields(&p)))?;
        store.put_feedback_settings(workspace, &serde_json::to_value(parsed)?).await?;
    }
    services::feedback::replace_taxonomy(store, workspace, &settings["taxonomy"]).await?;
    let mut problems = Vec::new();
    if let Some(policy) =
        rapport_core::contact_policy::parse_policy(&settings["contactPolicy"], "", false, &mut problems)
    {
        store.put_contact_policy(workspace, &policy).await?;
    }
    if !settings["churn"].is_null() {
        services::prediction::save_settings(store, workspace, &settings["churn"]).await?;
    }
    if !settings["cases"].is_null() {
        services::cases::save_settings(store, workspace, &settings["cases"]).await?;
    }
    for journey in settings["journeys"].as_array().into_iter().flatten() {
        services::journeys::create(store, workspace, journey).await?;
    }
    Ok(())
}

/// The exported surveys, each as (its id in the export, every version's definition), checked.
fn parse_surveys(text: &str) -> anyhow::Result<Vec<(String, Vec<rapport_core::survey::SurveyDefinition>)>> {
    let mut surveys = Vec::new();
    for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = || format!("surveys.jsonl line {}", index + 1);
        let survey: Value = serde_json::from_str(line).with_context(at)?;
        let id = survey["id"].as_str().with_context(|| format!("{}: id: required", at()))?.to_owned();
        let mut versions = Vec::new();
        for version in survey["versions"].as_array().into_iter().flatten() {
            versions.push(
                rapport_core::survey::parse_definition(version)
                    .map_err(|p| anyhow::anyhow!("{}: survey `{id}`: {}", at(), fields(&p)))?,
            );
        }
        anyhow::ensure!(!versions.is_empty(), "{}: survey `{id}` has no versions", at());
        surveys.push((id, versions));
    }
    Ok(surveys)
}

pub async fn run(settings: Settings, directory: &Path, workspace: &str) -> anyhow::Result<()> {
    rapport_core::ids::validate_workspace_name(workspace).map_err(anyhow::Error::msg)?;
    let manifest: Value = serde_json::from_str(&read(directory, "manifest.json")?).context("manifest.json")?;
    if manifest["format"] != FORMAT || manifest["version"] != VERSION {
        anyhow::bail!("{}: not a {FORMAT} version {VERSION} manifest", directory.join("manifest.json").display());
    }
    let received_at = time::OffsetDateTime::now_utc();
    // Everything is read and checked before anything is written.
    let events = directory.join("events.jsonl");
    let (rows, problems) = check_event_file(&events, received_at).await?;
    refuse("events.jsonl", &problems)?;
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
    refuse("feedback.jsonl", &problems)?;
    let settings_document: Value = serde_json::from_str(&read(directory, "settings.json")?).context("settings.json")?;
    check_settings(&settings_document)?;
    let surveys = parse_surveys(&read(directory, "surveys.jsonl")?)?;
    // The answers checked against their survey's newest version, as they will be once it exists.
    for (old, rows) in &answers {
        let (_, versions) = surveys
            .iter()
            .find(|(id, _)| id == old)
            .with_context(|| format!("responses.jsonl: no survey `{old}` in surveys.jsonl"))?;
        let newest = versions.len() as i64;
        let survey = rapport_store::records::SurveyRecord {
            id: old.clone(),
            version: newest,
            current_version: newest,
            definition: versions[versions.len() - 1].clone(),
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        refuse(
            "responses.jsonl",
            &rapport_server::services::import::responses_from_rows(&survey, rows, received_at).1,
        )?;
    }

    crate::commands::with_store(&settings, async |store| {
        let target = store.ensure_workspace(workspace).await?;
        let id = &target.id;
        if !store.surveys(id).await?.is_empty() || !store.events_after(id, 0, 1).await?.is_empty() {
            anyhow::bail!("workspace `{workspace}` already holds data: import an export into a new workspace");
        }
        apply_settings(store, id, &settings_document).await?;
        let mut survey_ids = HashMap::new();
        for (old, versions) in &surveys {
            let mut created = store.create_survey(id, &versions[0]).await?;
            for definition in &versions[1..] {
                created = store
                    .add_survey_version(id, &created.id, definition)
                    .await?
                    .context("the survey just created is missing")?;
            }
            survey_ids.insert(old.clone(), created);
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
