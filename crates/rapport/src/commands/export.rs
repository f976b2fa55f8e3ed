//! `rapport export --workspace W DIR`: everything in a workspace as files, with a manifest:
//! events as Segment calls (`rapport import events` reads them back), customers with their
//! identities and traits, survey definitions (every version), responses one row per answer in the
//! import format, feedback as `POST /v1/feedback` takes it (survey comments come back with their
//! responses) with its analysis beside it, cases with their history, and the settings. `rapport
//! import workspace DIR` loads an export into another workspace or database.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use rapport_core::ids::WorkspaceId;
use rapport_server::api::contact_policy::PolicyView;
use rapport_server::api::metrics::SettingsView;
use rapport_server::services::import::COLUMNS;
use rapport_server::services::import_events::EVENT_COLUMNS;
use rapport_server::services::import_feedback::FEEDBACK_COLUMNS;
use rapport_server::services::rfc3339;
use rapport_store::Store;
use rapport_store::feedback_records::{FeedbackFilter, FeedbackRecord};
use rapport_store::records::StoredEvent;
use serde_json::{Map, Value, json};

use crate::settings::Settings;

/// The manifest's format name and version: an import checks them.
pub const FORMAT: &str = "rapport-export";
pub const VERSION: u64 = 1;
/// Rows read per query.
const PAGE: usize = 10_000;

/// A file's line in the manifest.
fn manifest_entry(file: &str, rows: usize, what: &str) -> Value {
    json!({"file": file, "rows": rows, "what": what})
}

/// A file of the export being written: JSON lines, counted.
struct Lines {
    name: &'static str,
    what: &'static str,
    writer: std::io::BufWriter<std::fs::File>,
    rows: usize,
}

impl Lines {
    fn create(directory: &Path, name: &'static str, what: &'static str) -> anyhow::Result<Lines> {
        let file = std::fs::File::create(directory.join(name)).with_context(|| format!("cannot create {name}"))?;
        Ok(Lines { name, what, writer: std::io::BufWriter::new(file), rows: 0 })
    }

    fn write(&mut self, value: &Value) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.writer, value)?;
        self.writer.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<Value> {
        self.writer.flush()?;
        Ok(manifest_entry(self.name, self.rows, self.what))
    }
}

/// A CSV file of the export being written, for spreadsheets and BI tools (and, for responses and
/// feedback, `rapport import` itself), counted.
struct Table {
    name: &'static str,
    what: &'static str,
    writer: csv::Writer<std::fs::File>,
    rows: usize,
}

impl Table {
    fn create(directory: &Path, name: &'static str, what: &'static str, header: &[&str]) -> anyhow::Result<Table> {
        let mut writer =
            csv::Writer::from_path(directory.join(name)).with_context(|| format!("cannot create {name}"))?;
        writer.write_record(header)?;
        Ok(Table { name, what, writer, rows: 0 })
    }

    fn write<I: AsRef<[u8]>>(&mut self, record: impl IntoIterator<Item = I>) -> anyhow::Result<()> {
        self.writer.write_record(record)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<Value> {
        self.writer.flush()?;
        Ok(manifest_entry(self.name, self.rows, self.what))
    }
}

/// A JSON value as a CSV cell: strings bare, nothing empty, anything else as JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// An event as the Segment call that stores it again: its stored (skew-corrected) time, its
/// message id (so importing twice stores it once), its channel in `context`.
fn event_call(event: &StoredEvent) -> Value {
    let mut call = match &event.extra {
        Value::Object(extra) => extra.clone(),
        _ => Map::new(),
    };
    call.insert("type".into(), Value::from(event.event_type.clone()));
    call.insert("messageId".into(), Value::from(event.message_id.clone()));
    call.insert("timestamp".into(), Value::from(rfc3339(event.timestamp_ms)));
    for (key, value) in [
        ("userId", &event.user_id),
        ("anonymousId", &event.anonymous_id),
        ("groupId", &event.group_id),
        ("previousId", &event.previous_id),
    ] {
        if let Some(value) = value {
            call.insert(key.into(), Value::from(value.clone()));
        }
    }
    if let Some(name) = &event.name {
        let key = if event.event_type == "track" { "event" } else { "name" };
        call.insert(key.into(), Value::from(name.clone()));
    }
    for (key, value) in [("properties", &event.properties), ("traits", &event.traits)] {
        if value.as_object().is_some_and(|object| !object.is_empty()) {
            call.insert(key.into(), value.clone());
        }
    }
    let mut context = event.context.as_object().cloned().unwrap_or_default();
    context.entry("channel").or_insert_with(|| Value::from(event.channel.clone()));
    call.insert("context".into(), Value::Object(context));
    Value::Object(call)
}

/// A feedback item as `POST /v1/feedback` takes it (a transcript's turns rebuilt from their
/// offsets), keyed by its id so importing twice stores it once.
fn feedback_item(record: &FeedbackRecord) -> Value {
    let mut item = Map::new();
    item.insert("kind".into(), Value::from(record.kind.clone()));
    item.insert("source".into(), Value::from(record.source.clone()));
    let turns: Vec<Value> = record.details["turns"]
        .as_array()
        .map(|turns| {
            turns
                .iter()
                .filter_map(|turn| {
                    let (start, end) = (turn["start"].as_u64()? as usize, turn["end"].as_u64()? as usize);
                    Some(json!({"speaker": turn["speaker"], "text": record.text.get(start..end)?}))
                })
                .collect()
        })
        .unwrap_or_default();
    if record.kind == "transcript" {
        item.insert("turns".into(), Value::from(turns));
    } else {
        item.insert("text".into(), Value::from(record.text.clone()));
    }
    for (key, value) in
        [("customer", &record.identity_key), ("channel", &record.channel), ("touchpoint", &record.touchpoint)]
    {
        if let Some(value) = value {
            item.insert(key.into(), Value::from(value.clone()));
        }
    }
    item.insert("occurredAt".into(), Value::from(rfc3339(record.occurred_at_ms)));
    if let Value::Object(details) = &record.details {
        for key in ["rating", "title", "url", "author", "platform", "reach"] {
            if let Some(value) = details.get(key) {
                item.insert(key.into(), value.clone());
            }
        }
    }
    item.insert("idempotencyKey".into(), Value::from(format!("export:{}", record.id)));
    Value::Object(item)
}

/// An exported item as rows of `rapport import feedback`'s CSV: one, or one per transcript turn
/// (the item's key as the conversation).
fn feedback_rows(item: &Value) -> Vec<Vec<String>> {
    let key = cell(&item["idempotencyKey"]);
    let row = |text: &Value, conversation: &str, speaker: &Value| -> Vec<String> {
        FEEDBACK_COLUMNS
            .iter()
            .map(|column| match *column {
                "id" => key.clone(),
                "text" => cell(text),
                "occurred_at" => cell(&item["occurredAt"]),
                "conversation" => conversation.to_owned(),
                "speaker" => cell(speaker),
                other => cell(&item[other]),
            })
            .collect()
    };
    match item["turns"].as_array() {
        Some(turns) => turns.iter().map(|turn| row(&turn["text"], &key, &turn["speaker"])).collect(),
        None => vec![row(&item["text"], "", &Value::Null)],
    }
}

/// Survey comments are stored as feedback with their response: they come back with it.
fn is_survey_comment(record: &FeedbackRecord) -> bool {
    record.source == "survey" && record.details.get("surveyId").is_some()
}

/// When each identity's events (an event is its user id's, else its anonymous id's) first and
/// last happened: what customers' first and last seen are made of.
type Seen = std::collections::HashMap<String, (i64, i64)>;

async fn write_events(
    store: &Store,
    workspace: &WorkspaceId,
    directory: &Path,
    seen: &mut Seen,
) -> anyhow::Result<Vec<Value>> {
    let mut file = Lines::create(directory, "events.jsonl", "events as Segment calls, in the order they were stored")?;
    let mut table =
        Table::create(directory, "events.csv", "events, one row each (JSON columns as JSON)", &EVENT_COLUMNS)?;
    let mut after = 0;
    loop {
        let page = store.events_after(workspace, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for event in &page {
            let owner = match (&event.user_id, &event.anonymous_id) {
                (Some(user), _) => Some(format!("userId:{user}")),
                (None, Some(anonymous)) => Some(format!("anonymousId:{anonymous}")),
                (None, None) => None,
            };
            if let Some(owner) = owner {
                let span = seen.entry(owner).or_insert((event.timestamp_ms, event.timestamp_ms));
                *span = (span.0.min(event.timestamp_ms), span.1.max(event.timestamp_ms));
            }
            file.write(&event_call(event))?;
            let optional = |value: &Option<String>| value.clone().unwrap_or_default();
            table.write([
                event.seq.to_string(),
                event.event_type.clone(),
                optional(&event.name),
                optional(&event.user_id),
                optional(&event.anonymous_id),
                optional(&event.group_id),
                optional(&event.previous_id),
                event.channel.clone(),
                rfc3339(event.timestamp_ms),
                event.message_id.clone(),
                event.properties.to_string(),
                event.traits.to_string(),
                event.context.to_string(),
            ])?;
        }
    }
    Ok(vec![file.finish()?, table.finish()?])
}

async fn write_customers(
    store: &Store,
    workspace: &WorkspaceId,
    directory: &Path,
    seen: &Seen,
) -> anyhow::Result<Vec<Value>> {
    let mut file = Lines::create(directory, "customers.jsonl", "customers: identities and latest traits")?;
    // Three queries for the whole workspace, not one profile per customer.
    let mut identities: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for (key, root) in store.identity_roots(workspace).await? {
        identities.entry(root).or_default().push(key);
    }
    let mut traits = store.latest_traits(workspace).await?;
    let mut customers = Vec::new();
    for (root, mut keys) in identities {
        keys.sort();
        let spans: Vec<(i64, i64)> = keys.iter().filter_map(|key| seen.get(key).copied()).collect();
        let first = spans.iter().map(|span| span.0).min();
        let last = spans.iter().map(|span| span.1).max();
        let values: Map<String, Value> =
            traits.remove(&root).unwrap_or_default().into_values().map(|t| (t.key, t.value)).collect();
        let customer = json!({
            "id": root, "identities": keys, "traits": values,
            "firstSeen": first.map(rfc3339), "lastSeen": last.map(rfc3339),
        });
        file.write(&customer)?;
        customers.push(customer);
    }
    // One column per trait any customer has.
    let mut keys: Vec<&String> =
        customers.iter().filter_map(|c| c["traits"].as_object()).flat_map(|traits| traits.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut header = vec!["id".to_owned(), "identities".into(), "first_seen".into(), "last_seen".into()];
    header.extend(keys.iter().map(|key| format!("traits.{key}")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table =
        Table::create(directory, "customers.csv", "customers: identities (space-separated) and traits", &header)?;
    for customer in &customers {
        let identities: Vec<&str> =
            customer["identities"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let mut row = vec![
            cell(&customer["id"]),
            identities.join(" "),
            cell(&customer["firstSeen"]),
            cell(&customer["lastSeen"]),
        ];
        row.extend(keys.iter().map(|key| cell(&customer["traits"][key.as_str()])));
        table.write(row)?;
    }
    Ok(vec![file.finish()?, table.finish()?])
}

async fn write_surveys(store: &Store, workspace: &WorkspaceId, directory: &Path) -> anyhow::Result<Vec<Value>> {
    let mut definitions = Lines::create(directory, "surveys.jsonl", "surveys: every version of each definition")?;
    let mut answers =
        Lines::create(directory, "responses.jsonl", "survey answers, one per line, in the import format")?;
    let mut table =
        Table::create(directory, "responses.csv", "survey answers, one per row, in the import format", &COLUMNS)?;
    for survey in store.surveys(workspace).await? {
        let mut versions = Vec::new();
        for version in 1..=survey.current_version {
            if let Some(record) = store.survey(workspace, &survey.id, Some(version)).await? {
                versions.push(serde_json::to_value(&record.definition)?);
            }
        }
        definitions.write(&json!({"id": survey.id, "versions": versions}))?;
        let mut cursor = None;
        loop {
            let page = store.responses(workspace, &survey.id, cursor.as_ref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            cursor = Some(rapport_store::records::ResponseCursor {
                submitted_at_ms: last.submitted_at_ms,
                id: last.id.clone(),
            });
            for response in &page {
                for answer in &response.answers {
                    let value = match (&answer.score, &answer.choice, &answer.text) {
                        (Some(score), _, _) => score.to_string(),
                        (_, Some(choice), _) => choice.clone(),
                        (_, _, Some(text)) => text.clone(),
                        _ => continue,
                    };
                    let row = json!({
                        "survey": survey.id, "response": response.id, "customer": response.identity_key,
                        "submitted_at": rfc3339(response.submitted_at_ms), "channel": response.channel,
                        "touchpoint": response.touchpoint, "agent": response.agent, "question": answer.question,
                        "dimension": answer.dimension, "value": value,
                    });
                    table.write(COLUMNS.iter().map(|column| cell(&row[*column])))?;
                    answers.write(&row)?;
                }
            }
        }
    }
    Ok(vec![definitions.finish()?, answers.finish()?, table.finish()?])
}

async fn write_feedback(store: &Store, workspace: &WorkspaceId, directory: &Path) -> anyhow::Result<Vec<Value>> {
    let mut items = Lines::create(directory, "feedback.jsonl", "feedback as POST /v1/feedback takes it")?;
    let mut table = Table::create(
        directory,
        "feedback.csv",
        "feedback in the import's columns (a transcript: a row per turn)",
        &FEEDBACK_COLUMNS,
    )?;
    let mut annotations = Lines::create(
        directory,
        "feedback_analysis.jsonl",
        "each item's analysis: language, sentiment, topics, redactions",
    )?;
    let mut filter = FeedbackFilter { limit: PAGE, ..FeedbackFilter::default() };
    loop {
        let page = store.list_feedback(workspace, &filter).await?;
        let Some(last) = page.last() else { break };
        filter.before = Some((last.occurred_at_ms, last.id.clone()));
        for record in &page {
            annotations.write(&json!({
                "id": record.id, "surveyComment": is_survey_comment(record), "language": record.language,
                "score": record.score, "label": record.label, "analysis": record.analysis, "redactions": record.redactions,
            }))?;
            if !is_survey_comment(record) {
                let item = feedback_item(record);
                for row in feedback_rows(&item) {
                    table.write(row)?;
                }
                items.write(&item)?;
            }
        }
    }
    Ok(vec![items.finish()?, table.finish()?, annotations.finish()?])
}

async fn write_cases(store: &Store, workspace: &WorkspaceId, directory: &Path) -> anyhow::Result<Value> {
    let mut file = Lines::create(directory, "cases.jsonl", "follow-up cases with their history")?;
    for case in store.cases(workspace, None, None, None, usize::MAX / 2).await? {
        let case = rapport_server::services::cases::case_with_history(store, &case).await?;
        file.write(&case)?;
    }
    file.finish()
}

async fn settings_document(store: &Store, workspace: &WorkspaceId) -> anyhow::Result<Value> {
    let taxonomy = rapport_server::services::feedback::taxonomy(store, workspace).await?;
    Ok(json!({
        // As the API's GET shows them, which is what its PUT (and the import) takes.
        "metrics": serde_json::to_value(SettingsView::from(store.metric_settings(workspace).await?))?,
        "contactPolicy": serde_json::to_value(PolicyView::from(store.contact_policy(workspace).await?))?,
        "taxonomy": serde_json::to_value(&taxonomy)?,
        "feedback": store.feedback_settings(workspace).await?,
        "churn": store.churn_settings(workspace).await?,
        "cases": store.case_settings(workspace).await?,
        // Each journey's definition as `POST /v1/journeys` takes it, oldest first.
        "journeys": store.journeys(workspace, None).await?.into_iter().map(|j| j.definition).collect::<Vec<_>>(),
    }))
}

pub async fn run(settings: Settings, workspace: &str, directory: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(directory).with_context(|| format!("cannot create {}", directory.display()))?;
    if std::fs::read_dir(directory)?.next().is_some() {
        anyhow::bail!("{} is not empty: export into a new or empty directory", directory.display());
    }
    crate::commands::with_store(&settings, async |store| {
        let found = crate::commands::workspace_named(store, workspace).await?;
        let id = &found.id;
        let mut seen = Seen::new();
        let mut files = write_events(store, id, directory, &mut seen).await?;
        files.extend(write_customers(store, id, directory, &seen).await?);
        files.extend(write_surveys(store, id, directory).await?);
        files.extend(write_feedback(store, id, directory).await?);
        files.push(write_cases(store, id, directory).await?);
        std::fs::write(
            directory.join("settings.json"),
            serde_json::to_vec_pretty(&settings_document(store, id).await?)?,
        )?;
        files.push(manifest_entry(
            "settings.json",
            1,
            "metric, contact, feedback, churn and case settings; the topic taxonomy; journey definitions",
        ));
        let manifest = json!({
            "format": FORMAT, "version": VERSION, "workspace": workspace,
            "exportedAt": rfc3339((time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64),
            "files": files,
        });
        std::fs::write(directory.join("manifest.json"), serde_json::to_vec_pretty(&manifest)?)?;
        for file in &files {
            eprintln!("{:>10} {}", file["rows"], file["file"].as_str().unwrap_or_default());
        }
        Ok(())
    })
    .await
}
