//! `rapport import responses FILE`: survey responses from another tool, one row per answer, in
//! CSV or JSONL; `rapport import events FILE`: Segment calls, one per line; `rapport import
//! feedback FILE`: comments, reviews, mentions and transcripts, in CSV or JSONL; `rapport import
//! orders FILE`: one row per order, in CSV or JSONL, as the workspace's order events; `rapport
//! import customers FILE`: one row per customer, in CSV or JSONL, as identify calls. Every bad row is
//! reported with its line; nothing is imported while any row is bad unless `--skip-bad-rows` is
//! given (then the bad rows, or the responses with a bad row, are left out). Re-running the same
//! file adds nothing twice.

use std::path::Path;

use anyhow::Context;
use rapport_server::services::feedback::{analyse_all, attach_survey_comments, text_context};
use rapport_server::services::import::{AnswerRow, COLUMNS, RowProblem, responses_from_rows};
use rapport_server::services::import_customers::{customers_from_csv, customers_from_jsonl};
use rapport_server::services::import_feedback::{feedback_from_csv, feedback_from_jsonl};
use rapport_server::services::import_orders::{orders_from_csv, orders_from_jsonl};
use rapport_store::{Store, StoreOptions};

use crate::settings::Settings;

pub struct ImportArgs<'a> {
    pub file: &'a Path,
    pub workspace: &'a str,
    pub skip_bad_rows: bool,
}

/// Prints the problems (the first `SHOWN_PROBLEMS`) and refuses to go on when there are any and
/// bad rows are not to be skipped.
fn report_problems(problems: &[RowProblem], rows: usize, skip_bad_rows: bool) -> anyhow::Result<()> {
    for problem in problems.iter().take(SHOWN_PROBLEMS) {
        eprintln!("{problem}");
    }
    if problems.len() > SHOWN_PROBLEMS {
        eprintln!("… and {} more problems", problems.len() - SHOWN_PROBLEMS);
    }
    if !problems.is_empty() && !skip_bad_rows {
        anyhow::bail!(
            "{} problems in {rows} rows; nothing was imported (fix them, or pass --skip-bad-rows to import the rest)",
            problems.len()
        );
    }
    Ok(())
}

/// A progress bar for `total` rows on stderr (count and time left) when stderr is a terminal;
/// nothing is drawn otherwise (pipes and logs get the summary line only).
fn progress(total: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {human_pos}/{human_len}, {eta} left") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("importing {what}"));
    bar
}

/// Reads `file` with `csv` or `jsonl` by its extension (`.csv`, `.jsonl` or `.ndjson`); a CSV
/// whose header is unusable is an error naming the file.
fn read_by_extension<T>(
    file: &Path,
    csv: impl FnOnce(&str) -> Result<T, String>,
    jsonl: impl FnOnce(&str) -> T,
) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match file.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "csv" => csv(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display())),
        "jsonl" | "ndjson" => Ok(jsonl(&text)),
        other => anyhow::bail!("`{}`: .csv or .jsonl expected, not `.{other}`", file.display()),
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Events per ingested batch: each is one group commit with identity resolution.
const EVENT_BATCH: usize = 2_000;

/// Ingests `events` in batches with progress, printing how many were new.
pub(crate) async fn ingest_events(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    events: Vec<rapport_core::event::Event>,
    what: (&str, &str),
) -> anyhow::Result<()> {
    let (total, mut added) = (events.len(), 0);
    let bar = progress(total, what.1);
    let mut rest = events;
    while !rest.is_empty() {
        let batch: Vec<_> = rest.drain(..rest.len().min(EVENT_BATCH)).collect();
        bar.inc(batch.len() as u64);
        added +=
            store.ingest(rapport_store::IngestBatch { workspace: workspace.clone(), events: batch }).await?.accepted;
    }
    bar.finish_and_clear();
    eprintln!("{} added, {} already there", count(added, what.0, what.1), total - added);
    println!("{added}");
    Ok(())
}

pub async fn customers(settings: Settings, args: ImportArgs<'_>) -> anyhow::Result<()> {
    let received_at = time::OffsetDateTime::now_utc();
    let (events, problems) = read_by_extension(
        args.file,
        |text| customers_from_csv(text, received_at),
        |text| customers_from_jsonl(text, received_at),
    )?;
    report_problems(&problems, events.len() + problems.len(), args.skip_bad_rows)?;
    let store = Store::connect(&settings.database_url.value, StoreOptions::default()).await?;
    let result = async {
        let workspace = crate::commands::workspace_named(&store, args.workspace).await?;
        ingest_events(&store, &workspace.id, events, ("customer", "customers")).await
    }
    .await;
    store.close().await;
    result
}

pub async fn orders(settings: Settings, args: ImportArgs<'_>) -> anyhow::Result<()> {
    let received_at = time::OffsetDateTime::now_utc();
    let store = Store::connect(&settings.database_url.value, StoreOptions::default()).await?;
    let result = async {
        let workspace = crate::commands::workspace_named(&store, args.workspace).await?;
        let churn = rapport_server::services::prediction::settings(&store, &workspace.id)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        let (events, problems) = read_by_extension(
            args.file,
            |text| orders_from_csv(text, &churn.order_event, received_at),
            |text| orders_from_jsonl(text, &churn.order_event, received_at),
        )?;
        report_problems(&problems, events.len() + problems.len(), args.skip_bad_rows)?;
        ingest_events(&store, &workspace.id, events, ("order", "orders")).await
    }
    .await;
    store.close().await;
    result
}

/// Segment calls, one JSON object per line: the events, every problem with its line, and how many
/// rows there were.
pub(crate) fn parse_event_lines(
    text: &str,
    received_at: time::OffsetDateTime,
) -> (Vec<rapport_core::event::Event>, Vec<RowProblem>, usize) {
    let envelope = rapport_core::event::BatchEnvelope::default();
    let (mut events, mut problems, mut rows) = (Vec::new(), Vec::new(), 0);
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        rows += 1;
        let parsed = serde_json::from_str::<serde_json::Value>(line)
            .map_err(|error| {
                vec![RowProblem { lines: vec![index + 1], field: "row".into(), problem: error.to_string() }]
            })
            .and_then(|value| {
                rapport_core::event::parse_event(&value, index, None, &envelope, received_at).map_err(|found| {
                    let row = |problem: rapport_core::problem::FieldProblem| RowProblem {
                        lines: vec![index + 1],
                        field: problem.field,
                        problem: problem.problem,
                    };
                    found.into_iter().map(row).collect()
                })
            });
        match parsed {
            Ok((event, _warnings)) => events.push(event),
            Err(found) => problems.extend(found),
        }
    }
    (events, problems, rows)
}

pub async fn events(settings: Settings, args: ImportArgs<'_>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let (events, problems, rows) = parse_event_lines(&text, time::OffsetDateTime::now_utc());
    report_problems(&problems, rows, args.skip_bad_rows)?;
    let store = Store::connect(&settings.database_url.value, StoreOptions::default()).await?;
    let result = async {
        let workspace = crate::commands::workspace_named(&store, args.workspace).await?;
        ingest_events(&store, &workspace.id, events, ("event", "events")).await
    }
    .await;
    store.close().await;
    result
}

/// Responses per transaction.
const BATCH: usize = 5_000;
/// Bad rows printed before the rest are only counted.
const SHOWN_PROBLEMS: usize = 50;

/// The file's rows, or the problems that stop it being read at all (unknown columns, broken lines).
fn read_rows(file: &Path) -> anyhow::Result<(Vec<AnswerRow>, Vec<RowProblem>)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let extension = file.extension().and_then(|extension| extension.to_str()).unwrap_or_default();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    match extension {
        "csv" => {
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            // A misspelt column would lose its data row by row: it stops the import whatever else.
            let unknown: Vec<&str> = reader.headers()?.iter().filter(|column| !COLUMNS.contains(column)).collect();
            if !unknown.is_empty() {
                anyhow::bail!("unknown columns in the header: {}; expected {}", unknown.join(", "), COLUMNS.join(", "));
            }
            let headers = reader.headers()?.clone();
            for record in reader.records() {
                // The file's line, as an editor numbers it (the header is line 1).
                let parsed = record.and_then(|record| {
                    let line = record.position().map_or(0, |p| p.line() as usize);
                    record.deserialize::<AnswerRow>(Some(&headers)).map(|row| AnswerRow { line, ..row })
                });
                match parsed {
                    Ok(row) => rows.push(row),
                    Err(error) => problems.push(RowProblem {
                        lines: vec![error.position().map_or(0, |p| p.line() as usize)],
                        field: "row".into(),
                        problem: error.to_string(),
                    }),
                }
            }
        }
        "jsonl" | "ndjson" => {
            for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
                let parsed = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line)
                    .map_err(|error| error.to_string())
                    .and_then(|object| {
                        if let Some(column) = object.keys().find(|key| !COLUMNS.contains(&key.as_str())) {
                            return Err(format!("unknown field `{column}`: expected {}", COLUMNS.join(", ")));
                        }
                        // Numbers are as good as strings in JSON: `"value": 9`.
                        let strings: serde_json::Map<String, serde_json::Value> = object
                            .into_iter()
                            .map(|(key, value)| match value {
                                serde_json::Value::Number(number) => (key, serde_json::Value::from(number.to_string())),
                                other => (key, other),
                            })
                            .collect();
                        serde_json::from_value::<AnswerRow>(serde_json::Value::Object(strings))
                            .map_err(|error| error.to_string())
                    });
                match parsed {
                    Ok(row) => rows.push(AnswerRow { line: index + 1, ..row }),
                    Err(problem) => problems.push(RowProblem { lines: vec![index + 1], field: "row".into(), problem }),
                }
            }
        }
        other => anyhow::bail!("`{}`: .csv or .jsonl expected, not `.{other}`", file.display()),
    }
    Ok((rows, problems))
}

/// Imports the responses to `survey` in `args.file`.
pub async fn responses(settings: Settings, args: ImportArgs<'_>, survey: &str) -> anyhow::Result<()> {
    let (rows, problems) = read_rows(args.file)?;
    let store = Store::connect(&settings.database_url.value, StoreOptions::default()).await?;
    let result = async {
        let workspace = crate::commands::workspace_named(&store, args.workspace).await?;
        let survey = store
            .survey(&workspace.id, survey, None)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no survey `{survey}` in workspace `{}`", args.workspace))?;
        import_answer_rows(&store, &workspace.id, &survey, &rows, problems, args.skip_bad_rows).await
    }
    .await;
    store.close().await;
    result
}

/// Imports answer rows (`problems`: those found reading them) to `survey`: grouped into responses,
/// checked, their comments made feedback, stored in batches; prints how many were added.
pub(crate) async fn import_answer_rows(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    survey: &rapport_store::records::SurveyRecord,
    rows: &[AnswerRow],
    mut problems: Vec<RowProblem>,
    skip_bad_rows: bool,
) -> anyhow::Result<()> {
    let received_at = time::OffsetDateTime::now_utc();
    let (mut responses, found) = responses_from_rows(survey, rows, received_at);
    problems.extend(found);
    report_problems(&problems, rows.len(), skip_bad_rows)?;
    // Open-text answers become feedback, as they do through the API.
    let context = text_context(store, workspace).await.map_err(|e| anyhow::anyhow!(e.message))?;
    for response in &mut responses {
        attach_survey_comments(&context, response, received_at);
    }
    let mut added = 0;
    let bar = progress(responses.len(), "responses");
    for batch in responses.chunks(BATCH) {
        added += store.import_responses(workspace, batch).await?;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    if added > 0 {
        store.refresh_statistics().await?;
    }
    eprintln!(
        "{} added, {} already there{}",
        count(added, "response", "responses"),
        responses.len() - added,
        if problems.is_empty() {
            String::new()
        } else {
            format!(", {} skipped", count(problems.len(), "problem", "problems"))
        }
    );
    println!("{added}");
    Ok(())
}

/// Feedback items per transaction.
const FEEDBACK_BATCH: usize = 1_000;

/// Imports the feedback in `args.file`: redacted and analysed as the API does.
pub async fn feedback(settings: Settings, args: ImportArgs<'_>) -> anyhow::Result<()> {
    let received_at = time::OffsetDateTime::now_utc();
    let (items, problems) = read_by_extension(
        args.file,
        |text| feedback_from_csv(text, received_at),
        |text| feedback_from_jsonl(text, received_at),
    )?;
    report_problems(&problems, items.len() + problems.len(), args.skip_bad_rows)?;
    let store = Store::connect(&settings.database_url.value, StoreOptions::default()).await?;
    let result = async {
        let workspace = crate::commands::workspace_named(&store, args.workspace).await?;
        let inputs: Vec<_> = items.into_iter().map(|(_, input)| input).collect();
        import_feedback_inputs(&store, &workspace.id, inputs, received_at).await
    }
    .await;
    store.close().await;
    result
}

/// Analyses and stores feedback items in batches; prints how many were added.
pub(crate) async fn import_feedback_inputs(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    inputs: Vec<rapport_text::feedback::FeedbackInput>,
    received_at: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let context = text_context(store, workspace).await.map_err(|e| anyhow::anyhow!(e.message))?;
    let (total, mut added) = (inputs.len(), 0);
    let bar = progress(total, "feedback items");
    for batch in inputs.chunks(FEEDBACK_BATCH) {
        let analysed = analyse_all(&context, batch, received_at);
        added += store.insert_feedback(workspace, &analysed).await?.iter().filter(|(_, new)| *new).count();
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    eprintln!("{} added, {} already there", count(added, "item", "items"), total - added);
    println!("{added}");
    Ok(())
}
