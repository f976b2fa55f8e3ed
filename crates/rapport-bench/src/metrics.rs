//! The metrics engine: reports over a store of many responses (rollup against a full scan of the
//! raw answers, in the same run), a report grouped by a customer trait, and what keeping the
//! rollup current costs response ingestion.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rapport_core::event::{BatchEnvelope, Event, parse_event};
use rapport_core::ids::WorkspaceId;
use rapport_core::metrics::query::{MS_PER_DAY, RawQuery};
use rapport_core::survey::{SurveyDefinition, parse_definition};
use rapport_core::survey_answers::check_answers;
use rapport_server::services::metrics::{MetricReport, metric_report};
use rapport_server::services::surveys::{check_response, record_response};
use rapport_store::records::{NewResponse, TallySource};
use rapport_store::testing::TestDatabase;
use rapport_store::{BackendKind, IngestBatch, Store, StoreOptions};
use serde_json::{Value, json};

pub struct MetricArgs {
    pub responses: usize,
    pub customers: usize,
    pub repeats: usize,
    /// Keep (and reuse) the seeded SQLite database in this directory.
    pub keep: Option<PathBuf>,
}

const PLANS: [&str; 3] = ["free", "pro", "enterprise"];
const CHANNELS: [&str; 4] = ["email", "web", "sms", "in-app"];
const DAYS: i64 = 730;

fn definition(value: Value) -> anyhow::Result<SurveyDefinition> {
    parse_definition(&value).map_err(|problems| anyhow::anyhow!("bad benchmark survey: {problems:?}"))
}

/// Customers with a plan and a country, through real ingestion (identity resolution included).
async fn seed_customers(store: &Store, workspace: &WorkspaceId, customers: usize) -> anyhow::Result<()> {
    let received_at = time::OffsetDateTime::now_utc();
    let mut next = crate::xorshift(0xC0FF_EE00_1234_5678);
    for first in (0..customers).step_by(5_000) {
        let events: Vec<Event> = (first..(first + 5_000).min(customers))
            .map(|n| {
                let plan = PLANS[[0, 0, 0, 0, 0, 0, 1, 1, 1, 2][(next() % 10) as usize]];
                let call = json!({"type": "identify", "userId": format!("u{n}"), "messageId": format!("c{n}"),
                                  "traits": {"email": format!("u{n}@example.com"), "plan": plan,
                                             "country": format!("C{}", next() % 20)}});
                parse_event(&call, 0, None, &BatchEnvelope::default(), received_at).map(|parsed| parsed.0)
            })
            .collect::<Result<_, _>>()
            .map_err(|problems| anyhow::anyhow!("bad benchmark event: {problems:?}"))?;
        store.ingest(IngestBatch { workspace: workspace.clone(), events }).await?;
    }
    Ok(())
}

/// Three surveys (relational NPS 40%, support CSAT with three dimensions 40%, returns CES 20%)
/// answered over the last 730 days, imported in bulk in time order. Returns the NPS survey's id.
async fn seed_responses(
    store: &Store,
    workspace: &WorkspaceId,
    args: &MetricArgs,
    today: i64,
) -> anyhow::Result<String> {
    let nps = definition(
        json!({"name": "Relationship NPS", "kind": "relational", "questions": [{"id": "nps", "type": "nps"}]}),
    )?;
    let csat = definition(json!({"name": "Support CSAT", "kind": "transactional", "touchpoint": "support",
        "questions": [{"id": "csat", "type": "csat", "dimensions": ["knowledge", "communication", "timely_resolution"]}]}))?;
    let ces = definition(json!({"name": "Returns CES", "kind": "transactional", "touchpoint": "returns",
        "questions": [{"id": "ces", "type": "ces"}]}))?;
    let ids = [
        store.create_survey(workspace, &nps).await?.id,
        store.create_survey(workspace, &csat).await?.id,
        store.create_survey(workspace, &ces).await?.id,
    ];
    let definitions = [nps, csat, ces];
    let mut next = crate::xorshift(0x5EED_0000_ABCD_0001);
    let started = Instant::now();
    let mut imported = 0;
    while imported < args.responses {
        let batch: Vec<NewResponse> = (imported..(imported + 20_000).min(args.responses))
            .map(|index| {
                let which = [0, 0, 1, 1, 2][(next() % 5) as usize];
                let skewed = |low: u64, high: u64, next: &mut dyn FnMut() -> u64| {
                    // The higher of two draws: scores lean positive, as real ones do.
                    let span = high - low + 1;
                    (low + (next() % span).max(next() % span)) as i64
                };
                let answers = match which {
                    0 => json!({"nps": skewed(0, 10, &mut next)}),
                    1 => json!({"csat": {"score": skewed(1, 5, &mut next), "knowledge": skewed(1, 5, &mut next),
                                         "communication": skewed(1, 5, &mut next), "timely_resolution": skewed(1, 5, &mut next)}}),
                    _ => json!({"ces": skewed(1, 7, &mut next)}),
                };
                // In time order, as a history exported from another tool would come.
                let day = today - DAYS + (index as i64 * DAYS / args.responses as i64);
                let at = day * MS_PER_DAY + (next() % MS_PER_DAY as u64) as i64;
                let identity_key = format!("userId:u{}", next() % args.customers as u64);
                // E-mail 45%, web 22.5%, SMS 22.5%, in-app 10%.
                let channel = CHANNELS[[0, 0, 1, 2][(next() % 4) as usize]];
                let channel = if next().is_multiple_of(10) { "in-app" } else { channel };
                NewResponse {
                    survey_id: ids[which].clone(),
                    version: 1,
                    identity_key,
                    channel: Some(channel.to_owned()),
                    touchpoint: definitions[which].touchpoint.clone(),
                    agent: (which == 1).then(|| format!("agent-{}", next() % 40)),
                    submitted_at_ms: at,
                    received_at_ms: at,
                    idempotency_key: None,
                    answers: check_answers(&definitions[which], answers.as_object().expect("an object"))
                        .expect("valid benchmark answers"),
                    feedback: Vec::new(),
                    invitation: None,
                }
            })
            .collect();
        imported += batch.len();
        store.import_responses(workspace, &batch).await?;
        if imported % 1_000_000 < 20_000 {
            eprintln!("  {imported} responses imported ({:.0?})", started.elapsed());
        }
    }
    Ok(ids[0].clone())
}

struct Timed {
    p50: Duration,
    p90: Duration,
    report: MetricReport,
}

async fn time_report(
    store: &Store,
    workspace: &WorkspaceId,
    metric: &str,
    query: &RawQuery,
    source: TallySource,
    repeats: usize,
) -> anyhow::Result<Timed> {
    let mut times = Vec::with_capacity(repeats);
    let mut last = None;
    for _ in 0..repeats {
        let started = Instant::now();
        let report = metric_report(store, workspace, metric, query, rapport_store::now_ms(), source)
            .await
            .map_err(|error| anyhow::anyhow!("{}: {:?}", error.message, error.details))?;
        times.push(started.elapsed());
        last = Some(report);
    }
    times.sort();
    Ok(Timed {
        p50: times[times.len() / 2],
        p90: times[times.len() * 9 / 10],
        report: last.ok_or_else(|| anyhow::anyhow!("no repeats"))?,
    })
}

fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1_000.0;
    if ms < 10.0 { format!("{ms:.1} ms") } else { format!("{ms:.0} ms") }
}

/// How a response is stored in the ingestion-cost comparison.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    /// `Store::insert_response` alone: one transaction with the answers (and the rollup).
    Store,
    /// What `POST /v1/surveys/{id}/responses` does after reading the body: the response checked
    /// against its survey, stored, and its `Survey Answered` event ingested.
    Service,
}

/// Responses stored one at a time with five scored answers (the rollup is updated) against five
/// single-choice answers (it is not): the rollup's cost to ingestion. Rates are medians; the difference is
/// the median of each round's paired ratio (the two halves of a round run back to back, steadier
/// than a ratio of medians while the disk's flush times drift).
async fn ingestion_overhead(
    kind: BackendKind,
    path: Path,
    rounds: usize,
    per_round: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let database = TestDatabase::create(kind).await;
    let store = database.connect().await;
    let workspace = store.ensure_workspace("overhead").await?.id;
    let scored = store
        .create_survey(&workspace, &definition(json!({"name": "Scored", "kind": "transactional", "questions": [
            {"id": "nps", "type": "nps"}, {"id": "csat", "type": "csat", "dimensions": ["knowledge", "communication", "effectiveness"]}]}))?)
        .await?;
    // Choices, not open text: a text answer also becomes a feedback item (text analytics in the
    // response's transaction), which would make the control the slower of the two.
    let options = json!(["1", "2", "3", "4", "5", "6", "7"]);
    let choices = store
        .create_survey(&workspace, &definition(json!({"name": "Choices", "kind": "transactional", "questions": [
            {"id": "a", "type": "single_choice", "text": "A", "options": options}, {"id": "b", "type": "single_choice", "text": "B", "options": options},
            {"id": "c", "type": "single_choice", "text": "C", "options": options}, {"id": "d", "type": "single_choice", "text": "D", "options": options},
            {"id": "e", "type": "single_choice", "text": "E", "options": options}]}))?)
        .await?;
    let mut next = crate::xorshift(77);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let now = time::OffsetDateTime::now_utc();
    for _ in 0..rounds {
        for (survey, rates) in [(&scored, &mut with), (&choices, &mut without)] {
            let started = Instant::now();
            for _ in 0..per_round {
                let score = |next: &mut dyn FnMut() -> u64, high: u64| 1 + (next() % high) as i64;
                let answers = if survey.id == scored.id {
                    json!({"nps": score(&mut next, 10), "csat": {"score": score(&mut next, 5), "knowledge": score(&mut next, 5),
                           "communication": score(&mut next, 5), "effectiveness": score(&mut next, 5)}})
                } else {
                    json!({"a": "7", "b": "4", "c": "3", "d": "5", "e": "2"})
                };
                let at = now - time::Duration::minutes((next() % (90 * 24 * 60)) as i64);
                let body = json!({"customer": format!("userId:u{}", next() % 10_000), "channel": CHANNELS[(next() % 4) as usize],
                                  "touchpoint": "support", "agent": format!("agent-{}", next() % 40),
                                  "submittedAt": at.format(&time::format_description::well_known::Rfc3339)?, "answers": answers});
                let checked =
                    check_response(survey, &body, None, now).map_err(|error| anyhow::anyhow!("{}", error.message))?;
                match path {
                    Path::Store => {
                        store.insert_response(&workspace, &checked.response).await?;
                    }
                    Path::Service => {
                        record_response(&store, &workspace, survey, &checked)
                            .await
                            .map_err(|error| anyhow::anyhow!("{}", error.message))?;
                    }
                }
            }
            rates.push(per_round as f64 / started.elapsed().as_secs_f64());
        }
    }
    store.close().await;
    let ratios: Vec<f64> = with.iter().zip(&without).map(|(with, without)| with / without).collect();
    Ok((crate::median(with), crate::median(without), crate::median(ratios)))
}

/// Runs the suite on `kind`; returns the markdown rows of the query table and the ingestion row.
pub async fn measure(kind: BackendKind, args: &MetricArgs) -> anyhow::Result<(String, String)> {
    let today = rapport_store::now_ms().div_euclid(MS_PER_DAY);
    let (database, url, options) = match (&args.keep, kind) {
        (Some(directory), BackendKind::Sqlite) => {
            std::fs::create_dir_all(directory)?;
            // The kept database is read with the keys it was written with.
            let keys_file = directory.join("keys.json");
            let options = match std::fs::read_to_string(&keys_file) {
                Ok(text) => StoreOptions {
                    keys: std::sync::Arc::new(rapport_core::sealing::Keyring::from_json(&text)?),
                    ..StoreOptions::default()
                },
                Err(_) => {
                    let options = StoreOptions::default();
                    std::fs::write(&keys_file, options.keys.to_json())?;
                    options
                }
            };
            (None, format!("sqlite://{}", directory.join("rapport.db").display()), options)
        }
        _ => {
            let database = TestDatabase::create(kind).await;
            let url = database.url().to_owned();
            (Some(database), url, StoreOptions::default())
        }
    };
    let store = Store::connect(&url, options).await?;
    let existing = store.workspace_by_name("bench").await?;
    let workspace = store.ensure_workspace("bench").await?.id;
    let nps_survey = match existing {
        Some(_) => {
            eprintln!("{kind:?}: reusing the seeded database at {url}");
            store
                .surveys(&workspace)
                .await?
                .first()
                .map(|survey| survey.id.clone())
                .ok_or_else(|| anyhow::anyhow!("no survey"))?
        }
        None => {
            let started = Instant::now();
            seed_customers(&store, &workspace, args.customers).await?;
            eprintln!("{kind:?}: {} customers ingested in {:.0?}", args.customers, started.elapsed());
            let survey = seed_responses(&store, &workspace, args, today).await?;
            store.refresh_statistics().await?;
            eprintln!("{kind:?}: seeded in {:.0?}", started.elapsed());
            survey
        }
    };

    let from = rapport_core::metrics::query::date_of_day(today - DAYS).to_string();
    let to = rapport_core::metrics::query::date_of_day(today - 1).to_string();
    let range = |group_by: &str, filter: Option<String>| RawQuery {
        from: Some(from.clone()),
        to: Some(to.clone()),
        group_by: Some(group_by.to_owned()),
        filter,
        ..RawQuery::default()
    };
    let monthly = range("month", Some(format!("survey:{nps_survey},channel:email")));
    let by_plan = range("traits.plan", None);
    let by_agent = range("month,agent", None);
    let backend = crate::backend_name(kind);
    let mut rows = String::new();
    let reports = [
        ("NPS by month, 24 months, one survey, channel = email", "nps", &monthly, args.repeats),
        ("CSAT by month and agent, 24 months", "csat", &by_agent, args.repeats),
        ("NPS by `traits.plan`, 24 months", "nps", &by_plan, args.repeats),
    ];
    for (label, metric, query, repeats) in reports {
        // The first report of a kind no rollup holds builds SQLite's answer index: timed apart.
        let started = Instant::now();
        let first = time_report(&store, &workspace, metric, query, TallySource::Fastest, 1).await?;
        let cold = started.elapsed();
        let fast = time_report(&store, &workspace, metric, query, TallySource::Fastest, repeats).await?;
        let n: u64 = fast.report.groups.iter().map(|group| group.group.figure.n).sum();
        let groups = fast.report.groups.len();
        // The scan is slow where no rollup helps: once is enough there.
        let scan_repeats = if fast.report.source == "rollup" { repeats.min(3) } else { 1 };
        let scan = time_report(&store, &workspace, metric, query, TallySource::RawAnswers, scan_repeats).await?;
        anyhow::ensure!(
            serde_json::to_value(&fast.report.groups)? == serde_json::to_value(&scan.report.groups)?,
            "{label}: the {} and the full scan disagree",
            fast.report.source
        );
        let cold_note = if first.report.source == "index" {
            format!("; the first, building the index, {}", ms(cold))
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "| {backend} | {label} ({n} answers, {groups} groups; from the {}{cold_note}) | {} / {} | {} / {} | {:.0}× |\n",
            fast.report.source,
            ms(fast.p50),
            ms(fast.p90),
            ms(scan.p50),
            ms(scan.p90),
            scan.p50.as_secs_f64() / fast.p50.as_secs_f64()
        ));
    }
    store.close().await;
    drop(database);

    let mut ingestion = String::new();
    for (path, label) in [
        (Path::Store, "`insert_response` (answers and rollup)"),
        (Path::Service, "`record_response` (as the API: and the `Survey Answered` event)"),
    ] {
        let (with, without, ratio) = ingestion_overhead(kind, path, 10, 300).await?;
        ingestion.push_str(&format!(
            "| {backend} | {label} | {with:.0} | {without:.0} | {:+.1}% |\n",
            (ratio - 1.0) * 100.0
        ));
    }
    Ok((rows, ingestion))
}
