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
use rapport_server::services::import::{
    AnswerRow, RowProblem, answer_rows_from_csv, answer_rows_from_jsonl, responses_from_rows,
};
use rapport_server::services::import_customers::{customers_from_csv, customers_from_jsonl};
use rapport_server::services::import_events::{EVENT_COLUMNS, call_from_row};
use rapport_server::services::import_feedback::{feedback_from_csv, feedback_from_jsonl};
use rapport_server::services::import_orders::{orders_from_csv, orders_from_jsonl};
use rapport_store::records::IngestReceipt;
use rapport_store::{Store, StoreError};

use crate::commands::{with_store, workspace_named};
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
            "{} in {}; nothing was imported (fix them, or pass --skip-bad-rows to import the rest)",
            count(problems.len(), "problem", "problems"),
            count(rows, "row", "rows")
        );
    }
    Ok(())
}

/// A progress bar for `total` things on stderr (`message`, count and time left) when stderr is a
/// terminal; nothing is drawn otherwise (pipes and logs get the summary line only).
pub(crate) fn progress(total: usize, message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {human_pos}/{human_len}, {eta} left") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
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

/// Events per ingested batch: the writer commits up to 5,000 queued events in one transaction
/// with identity resolution.
pub(crate) const EVENT_BATCH: usize = 5_000;
/// Batches queued at once: the next waits in the queue while the writer commits the last, so the
/// writer never waits for the importer.
const IN_FLIGHT: usize = 3;

/// Event batches on their way to the store, `IN_FLIGHT` at a time: `push` queues batches and
/// waits only for the oldest when too many are out; `finish` waits for the rest.
pub(crate) struct IngestPipeline<'a> {
    store: &'a Store,
    workspace: rapport_core::ids::WorkspaceId,
    pending: std::collections::VecDeque<(usize, tokio::task::JoinHandle<Result<IngestReceipt, StoreError>>)>,
    /// Events new to the store so far.
    added: usize,
}

impl<'a> IngestPipeline<'a> {
    pub(crate) fn new(store: &'a Store, workspace: &rapport_core::ids::WorkspaceId) -> IngestPipeline<'a> {
        IngestPipeline { store, workspace: workspace.clone(), pending: Default::default(), added: 0 }
    }

    /// Queues `events`; `done` hears each batch's size as it commits.
    pub(crate) async fn push(
        &mut self,
        events: Vec<rapport_core::event::Event>,
        done: &mut impl FnMut(usize),
    ) -> anyhow::Result<()> {
        let mut events = events.into_iter();
        loop {
            let batch: Vec<_> = events.by_ref().take(EVENT_BATCH).collect();
            if batch.is_empty() {
                return Ok(());
            }
            let (store, workspace, size) = (self.store.clone(), self.workspace.clone(), batch.len());
            let ingest = async move { store.ingest(rapport_store::IngestBatch { workspace, events: batch }).await };
            self.pending.push_back((size, tokio::spawn(ingest)));
            while self.pending.len() > IN_FLIGHT {
                self.wait_oldest(done).await?;
            }
        }
    }

    async fn wait_oldest(&mut self, done: &mut impl FnMut(usize)) -> anyhow::Result<()> {
        if let Some((size, oldest)) = self.pending.pop_front() {
            self.added += oldest.await??.accepted;
            done(size);
        }
        Ok(())
    }

    /// Waits for every batch; returns how many events were new.
    pub(crate) async fn finish(mut self, done: &mut impl FnMut(usize)) -> anyhow::Result<usize> {
        while !self.pending.is_empty() {
            self.wait_oldest(done).await?;
        }
        Ok(self.added)
    }
}

/// Ingests `events` through a pipeline; returns how many were new.
pub(crate) async fn ingest_batches(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    events: Vec<rapport_core::event::Event>,
    mut done: impl FnMut(usize),
) -> anyhow::Result<usize> {
    let mut pipeline = IngestPipeline::new(store, workspace);
    pipeline.push(events, &mut done).await?;
    pipeline.finish(&mut done).await
}

/// Ingests `events` in batches with progress, printing how many were new.
pub(crate) async fn ingest_events(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    events: Vec<rapport_core::event::Event>,
    what: (&str, &str),
) -> anyhow::Result<()> {
    let total = events.len();
    let bar = progress(total, format!("importing {}", what.1));
    let added = ingest_batches(store, workspace, events, |size| bar.inc(size as u64)).await?;
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
    with_store(&settings, async |store| {
        let workspace = workspace_named(store, args.workspace).await?;
        ingest_events(store, &workspace.id, events, ("customer", "customers")).await
    })
    .await
}

pub async fn orders(settings: Settings, args: ImportArgs<'_>) -> anyhow::Result<()> {
    let received_at = time::OffsetDateTime::now_utc();
    with_store(&settings, async |store| {
        let workspace = workspace_named(store, args.workspace).await?;
        let churn = rapport_server::services::prediction::settings(store, &workspace.id).await?;
        let (events, problems) = read_by_extension(
            args.file,
            |text| orders_from_csv(text, &churn.order_event, received_at),
            |text| orders_from_jsonl(text, &churn.order_event, received_at),
        )?;
        report_problems(&problems, events.len() + problems.len(), args.skip_bad_rows)?;
        ingest_events(store, &workspace.id, events, ("order", "orders")).await
    })
    .await
}

/// A row of an event file as read: a JSONL line, or a CSV record (read with the file's header).
enum RawEvent {
    Json(String),
    Csv(csv::StringRecord),
}

/// Parses events, each with its line number, on every core: the events in the file's order, and
/// every problem with its line. `headers`: a CSV file's header.
fn parse_event_lines(
    rows: &[NumberedRow],
    headers: Option<&csv::StringRecord>,
    received_at: time::OffsetDateTime,
) -> (Vec<rapport_core::event::Event>, Vec<RowProblem>) {
    use rayon::prelude::*;
    let envelope = rapport_core::event::BatchEnvelope::default();
    let empty = csv::StringRecord::new();
    let parsed: Vec<Result<rapport_core::event::Event, Vec<RowProblem>>> = rows
        .par_iter()
        .map(|(number, row)| {
            let problem = |field: String, problem: String| RowProblem { lines: vec![*number], field, problem };
            let value = match row {
                RawEvent::Json(line) => serde_json::from_str::<serde_json::Value>(line)
                    .map_err(|error| vec![problem("row".into(), error.to_string())])?,
                RawEvent::Csv(record) => call_from_row(headers.unwrap_or(&empty), record, *number)?,
            };
            rapport_core::event::parse_event(&value, number - 1, None, &envelope, received_at)
                .map(|(event, _)| event)
                .map_err(|found| found.into_iter().map(|p| problem(p.field, p.problem)).collect())
        })
        .collect();
    let (mut events, mut problems) = (Vec::with_capacity(parsed.len()), Vec::new());
    for result in parsed {
        match result {
            Ok(event) => events.push(event),
            Err(found) => problems.extend(found),
        }
    }
    (events, problems)
}

/// A row of an event file with its line number.
type NumberedRow = (usize, RawEvent);

/// Rows of an event file read this many at a time: memory stays flat whatever the file's size.
const CHUNK_LINES: usize = 20_000;

/// Calls `each` with an event file's rows, `CHUNK_LINES` at a time, with their line numbers (and
/// a CSV file's header): Segment calls one per line (`.jsonl`, `.ndjson`), or `.csv` rows in
/// `EVENT_COLUMNS` (a header naming any other column is refused before anything is read).
async fn for_each_chunk<F>(file: &Path, mut each: F) -> anyhow::Result<()>
where
    F: AsyncFnMut(&[NumberedRow], Option<&csv::StringRecord>) -> anyhow::Result<()>,
{
    use std::io::BufRead;
    let unreadable = || format!("cannot read {}", file.display());
    let (rows, headers): (Box<dyn Iterator<Item = anyhow::Result<NumberedRow>>>, _) =
        match file.extension().and_then(|e| e.to_str()).unwrap_or_default() {
            "jsonl" | "ndjson" => {
                let lines = std::io::BufReader::new(std::fs::File::open(file).with_context(unreadable)?).lines();
                let rows = lines.enumerate().filter_map(move |(index, line)| match line {
                    Ok(line) if line.trim().is_empty() => None,
                    Ok(line) => Some(Ok((index + 1, RawEvent::Json(line)))),
                    Err(error) => Some(Err(anyhow::Error::new(error).context(format!("line {}", index + 1)))),
                });
                (Box::new(rows), None)
            }
            "csv" => {
                let mut reader = csv::Reader::from_path(file).with_context(unreadable)?;
                let headers = reader.headers()?.clone();
                let unknown: Vec<&str> = headers.iter().filter(|c| !EVENT_COLUMNS.contains(c)).collect();
                if !unknown.is_empty() {
                    anyhow::bail!(
                        "{}: unknown columns in the header: {}; expected {}",
                        file.display(),
                        unknown.join(", "),
                        EVENT_COLUMNS.join(", ")
                    );
                }
                let rows = reader.into_records().map(|record| {
                    let record = record?;
                    Ok((record.position().map_or(0, |p| p.line() as usize), RawEvent::Csv(record)))
                });
                (Box::new(rows), Some(headers))
            }
            other => anyhow::bail!("`{}`: .jsonl, .ndjson or .csv expected, not `.{other}`", file.display()),
        };
    let mut chunk = Vec::with_capacity(CHUNK_LINES);
    for row in rows {
        chunk.push(row.with_context(unreadable)?);
        if chunk.len() == CHUNK_LINES {
            each(&chunk, headers.as_ref()).await?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        each(&chunk, headers.as_ref()).await?;
    }
    Ok(())
}

/// Checks every event of an event file without keeping them: how many rows, and every
/// problem with its line.
pub(crate) async fn check_event_file(
    file: &Path,
    received_at: time::OffsetDateTime,
) -> anyhow::Result<(usize, Vec<RowProblem>)> {
    let (mut rows, mut problems) = (0, Vec::new());
    for_each_chunk(file, async |chunk: &[NumberedRow], headers: Option<&csv::StringRecord>| {
        rows += chunk.len();
        problems.extend(parse_event_lines(chunk, headers, received_at).1);
        Ok(())
    })
    .await?;
    Ok((rows, problems))
}

/// Reads an event file again, chunk by chunk, and ingests its good rows (checked
/// by `check_event_file` first), the next chunk parsed while the last is written; prints how many
/// were new.
pub(crate) async fn ingest_event_file(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    file: &Path,
    rows: usize,
    received_at: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let bar = progress(rows, "importing events".into());
    let mut done = |size: usize| bar.inc(size as u64);
    let mut pipeline = IngestPipeline::new(store, workspace);
    for_each_chunk(file, async |chunk: &[NumberedRow], headers: Option<&csv::StringRecord>| {
        let (events, _) = parse_event_lines(chunk, headers, received_at);
        pipeline.push(events, &mut done).await
    })
    .await?;
    let added = pipeline.finish(&mut done).await?;
    bar.finish_and_clear();
    eprintln!("{} added, {} already there", count(added, "event", "events"), rows - added);
    println!("{added}");
    Ok(())
}

/// Events (Segment calls, one per line, or CSV rows): checked whole first (nothing is written while a row is bad, unless
/// bad rows are skipped), then streamed into the store.
pub async fn events(settings: Settings, args: ImportArgs<'_>) -> anyhow::Result<()> {
    let received_at = time::OffsetDateTime::now_utc();
    let (rows, problems) = check_event_file(args.file, received_at).await?;
    report_problems(&problems, rows, args.skip_bad_rows)?;
    with_store(&settings, async |store| {
        let workspace = workspace_named(store, args.workspace).await?;
        ingest_event_file(store, &workspace.id, args.file, rows, received_at).await
    })
    .await
}

/// Responses per transaction.
const BATCH: usize = 5_000;
/// Bad rows printed before the rest are only counted.
const SHOWN_PROBLEMS: usize = 50;

/// The file's rows, or the problems that stop it being read at all (unknown columns, broken lines).
fn read_rows(file: &Path) -> anyhow::Result<(Vec<AnswerRow>, Vec<RowProblem>)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let extension = file.extension().and_then(|extension| extension.to_str()).unwrap_or_default();
    match extension {
        "csv" => answer_rows_from_csv(&text).map_err(anyhow::Error::msg),
        "jsonl" | "ndjson" => Ok(answer_rows_from_jsonl(&text)),
        other => anyhow::bail!("`{}`: .csv or .jsonl expected, not `.{other}`", file.display()),
    }
}

/// Imports the responses to `survey` in `args.file`.
pub async fn responses(settings: Settings, args: ImportArgs<'_>, survey: &str) -> anyhow::Result<()> {
    let (rows, problems) = read_rows(args.file)?;
    with_store(&settings, async |store| {
        let workspace = workspace_named(store, args.workspace).await?;
        let survey = store
            .survey(&workspace.id, survey, None)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no survey `{survey}` in workspace `{}`", args.workspace))?;
        import_answer_rows(store, &workspace.id, &survey, &rows, problems, args.skip_bad_rows).await
    })
    .await
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
    let context = text_context(store, workspace).await?;
    for response in &mut responses {
        attach_survey_comments(&context, response, received_at);
    }
    let mut added = 0;
    let bar = progress(responses.len(), "importing responses".into());
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
    with_store(&settings, async |store| {
        let workspace = workspace_named(store, args.workspace).await?;
        let inputs: Vec<_> = items.into_iter().map(|(_, input)| input).collect();
        import_feedback_inputs(store, &workspace.id, inputs, received_at).await
    })
    .await
}

/// Analyses and stores feedback items in batches; prints how many were added.
pub(crate) async fn import_feedback_inputs(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    inputs: Vec<rapport_text::feedback::FeedbackInput>,
    received_at: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let context = text_context(store, workspace).await?;
    let (total, mut added) = (inputs.len(), 0);
    let bar = progress(total, "importing feedback items".into());
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
