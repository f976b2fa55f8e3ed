//! Ingestion benchmark: `/v1/batch` (100 events per batch, concurrent clients) on SQLite and on
//! PostgreSQL, next to raw inserts of the same rows into the same database, in one run.
//!
//! Run: `cargo run --release -p rapport-bench -- --write BENCHMARKS.md`
//! (PostgreSQL at RAPPORT_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres).

mod decisions;
mod demo;
mod hosted;
mod journeys;
mod metrics;
mod pages;
mod prediction;
mod text;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rapport_core::auth::Role;
use rapport_core::event::{BatchEnvelope, Event, parse_event};
use rapport_server::{Application, ServerConfig};
use rapport_store::testing::TestDatabase;
use rapport_store::{BackendKind, Store};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(about = "Ingestion throughput: /v1/batch against raw inserts of the same rows")]
struct Args {
    /// Batches per measured run.
    #[arg(long, default_value_t = 1_500)]
    batches: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Concurrent HTTP clients, each with one batch in flight; one row per count.
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    clients: Vec<usize>,
    /// Concurrent writers of the raw inserts.
    #[arg(long, default_value_t = 8)]
    raw_writers: usize,
    /// Runs per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Distinct customers the events come from.
    #[arg(long, default_value_t = 20_000)]
    customers: usize,
    /// Backends to measure.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// Measure only `/v1/batch`, not the raw inserts (for profiling the server).
    #[arg(long)]
    api_only: bool,
    /// `ingestion` (/v1/batch against raw inserts) or `decisions` (survey invitation decisions
    /// against a store of past invitations).
    #[arg(long, default_value = "ingestion", value_parser = ["ingestion", "decisions", "hosted", "metrics", "text", "prediction", "demo", "journeys", "pages"])]
    suite: String,
    /// Hosted suite: submissions per second (open loop).
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Hosted suite: seconds of load.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Decisions suite: past invitations in the store.
    #[arg(long, default_value_t = 1_000_000)]
    invitations: usize,
    /// Decisions suite: customers the invitations went to.
    #[arg(long, default_value_t = 100_000)]
    decision_customers: usize,
    /// Decisions suite: decisions measured.
    #[arg(long, default_value_t = 20_000)]
    decisions: usize,
    /// Metrics suite: responses in the store.
    #[arg(long, default_value_t = 10_000_000)]
    responses: usize,
    /// Metrics suite: customers the responses come from.
    #[arg(long, default_value_t = 1_000_000)]
    metric_customers: usize,
    /// Metrics suite: keep the seeded SQLite database in this directory and reuse it next time.
    #[arg(long)]
    keep_database: Option<std::path::PathBuf>,
    /// Text suite: the human-rated sentiment ground truth.
    #[arg(long, default_value = "../shared/data/sentiment")]
    text_data: std::path::PathBuf,
    /// Text suite: the Python peers' directory (sentiment.py).
    #[arg(long, default_value = "../shared/bench/peers")]
    peers: std::path::PathBuf,
    /// Text suite: the Python with the peers' requirements installed.
    #[arg(long, env = "RAPPORT_PEER_PYTHON", default_value = "/tmp/peers/bin/python")]
    python: String,
    /// Prediction suite: the CDNOW data (the published summaries).
    #[arg(long, default_value = "../shared/data/cdnow")]
    cdnow: std::path::PathBuf,
    /// Prediction suite: customers in the synthetic CLV set.
    #[arg(long, default_value_t = 1_000_000)]
    synthetic_customers: usize,
    /// Journeys suite: customers of the generated visits.
    #[arg(long, default_value_t = 500_000)]
    journey_customers: usize,
    /// Journeys suite: visits analysed in memory.
    #[arg(long, default_value_t = 10_000_000)]
    journey_events: usize,
    /// Journeys suite: events imported into SQLite and analysed through the service (0: skip).
    #[arg(long, default_value_t = 10_000_000)]
    journey_store_events: usize,
    /// Replace this suite's section of this markdown file with the results.
    #[arg(long)]
    write: Option<std::path::PathBuf>,
}

/// A realistic mix of touchpoints: page views, product events, identifies with an e-mail address,
/// app screens, across channels, from a pool of customers.
fn generate_batches(args: &Args) -> Vec<Value> {
    let channels = ["web", "mobile", "email", "chat", "store"];
    let events = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Help Article Viewed"];
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
    (0..args.batches)
        .map(|batch| {
            let items: Vec<Value> = (0..args.batch_size)
                .map(|position| {
                    let customer = (next() % args.customers as u64) as usize;
                    let message_id = format!("bench-{batch}-{position}");
                    let channel = channels[(next() % channels.len() as u64) as usize];
                    let context = json!({"channel": channel, "library": {"name": "rapport-bench"}});
                    match next() % 20 {
                        0..=1 => json!({"type": "identify", "anonymousId": format!("anon-{customer}"), "messageId": message_id,
                                        "traits": {"email": format!("customer{customer}@example.com"), "plan": "pro"}, "context": context}),
                        2..=5 => json!({"type": "page", "anonymousId": format!("anon-{customer}"), "messageId": message_id,
                                        "name": "Product", "properties": {"path": format!("/p/{}", next() % 500)}, "context": context}),
                        6 => json!({"type": "screen", "userId": format!("user-{customer}"), "messageId": message_id,
                                    "name": "Cart", "context": context}),
                        _ => json!({"type": "track", "anonymousId": format!("anon-{customer}"), "messageId": message_id,
                                    "event": events[(next() % events.len() as u64) as usize],
                                    "properties": {"sku": format!("SKU-{}", next() % 2_000), "price": (next() % 20_000) as f64 / 100.0},
                                    "context": context}),
                    }
                })
                .collect();
            json!({"batch": items, "sentAt": "2026-11-23T12:00:00Z"})
        })
        .collect()
}

struct Measurement {
    events_per_second: f64,
    latency_p50: Duration,
    latency_p99: Duration,
}

/// Runs a Python peer script from `../shared/bench/peers` and returns its stdout, or says how to
/// install the peers.
pub fn run_peer(python: &str, peers: &std::path::Path, script: &str, script_args: &[&str]) -> anyhow::Result<String> {
    let path = peers.join(script);
    let output = std::process::Command::new(python)
        .arg(&path)
        .args(script_args)
        .output()
        .with_context(|| format!("run {python} {}", path.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "{} failed: {}\n(install the peers: python3 -m venv /tmp/peers && /tmp/peers/bin/pip install -r {})",
        path.display(),
        String::from_utf8_lossy(&output.stderr),
        peers.join("requirements.txt").display()
    );
    Ok(String::from_utf8(output.stdout)?)
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `/v1/batch` through the real server (port 0), `clients` at a time.
async fn measure_api(
    kind: BackendKind,
    bodies: &Arc<Vec<Vec<u8>>>,
    clients: usize,
    args: &Args,
) -> anyhow::Result<Measurement> {
    let database = TestDatabase::create(kind).await;
    let store = database.connect().await;
    let workspace = store.ensure_workspace("bench").await?;
    let (key, _) = store.create_api_key(&workspace, Role::Write).await?;
    let application =
        Application::build(ServerConfig { listen: "127.0.0.1:0".to_owned(), ..ServerConfig::default() }, store.clone())
            .await?;
    let url = format!("http://{}/v1/batch", application.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async { stopped.await.unwrap_or(()) }));

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (bodies, next, url, key) = (bodies.clone(), next.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(index) else { return Ok::<_, anyhow::Error>(latencies) };
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                anyhow::ensure!(response.status().is_success(), "batch {index}: {}", response.status());
                latencies.push(sent.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    let stored = store.count_events(&workspace.id).await? as usize;
    anyhow::ensure!(stored == bodies.len() * args.batch_size, "stored {stored} events");
    let _ = stop.send(());
    server.await??;
    latencies.sort();
    Ok(Measurement {
        events_per_second: stored as f64 / elapsed.as_secs_f64(),
        latency_p50: latencies[latencies.len() / 2],
        latency_p99: latencies[latencies.len() * 99 / 100],
    })
}

/// The same rows inserted straight into `events`, `rows_per_commit` per transaction, `raw_writers`
/// transactions at a time: no HTTP, no validation, no identity resolution, no queue. (SQLite
/// commits one at a time on the ingest writer's connection whatever the count.)
async fn measure_raw(
    kind: BackendKind,
    events: &Arc<Vec<Event>>,
    rows_per_commit: usize,
    args: &Args,
) -> anyhow::Result<f64> {
    let database = TestDatabase::create(kind).await;
    let store: Store = database.connect().await;
    let workspace = store.ensure_workspace("bench").await?.id;
    let chunks = events.len().div_ceil(rows_per_commit);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..args.raw_writers {
        let (store, events, next, workspace) = (store.clone(), events.clone(), next.clone(), workspace.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let chunk = next.fetch_add(1, Ordering::Relaxed);
                if chunk >= chunks {
                    return Ok::<_, anyhow::Error>(());
                }
                let end = ((chunk + 1) * rows_per_commit).min(events.len());
                store.insert_events_raw(&workspace, &events[chunk * rows_per_commit..end]).await?;
            }
        }));
    }
    for writer in writers {
        writer.await??;
    }
    let elapsed = started.elapsed();
    let stored = store.count_events(&workspace).await? as usize;
    anyhow::ensure!(stored == events.len(), "stored {stored} rows");
    Ok(stored as f64 / elapsed.as_secs_f64())
}

fn machine_description() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("MemTotal"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    format!("{cores} cores ({model}), {:.0} GiB RAM", memory_kb as f64 / 1024.0 / 1024.0)
}

/// mimalloc instead of the system allocator: ingestion allocates and frees many small JSON values
/// per event, and glibc's malloc was 16% of the server's profile (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.suite == "decisions" {
        return run_decisions(&args).await;
    }
    if args.suite == "hosted" {
        return run_hosted(&args).await;
    }
    if args.suite == "metrics" {
        return run_metrics(&args).await;
    }
    if args.suite == "text" {
        return run_text(&args);
    }
    if args.suite == "prediction" {
        return run_prediction(&args);
    }
    if args.suite == "demo" {
        return run_demo(&args).await;
    }
    if args.suite == "journeys" {
        return run_journeys(&args).await;
    }
    if args.suite == "pages" {
        return run_pages(&args).await;
    }
    let batches = generate_batches(&args);
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(batches.iter().map(|batch| serde_json::to_vec(batch).unwrap()).collect());
    let received_at = time::OffsetDateTime::now_utc();
    let events: Arc<Vec<Event>> = Arc::new(
        batches
            .iter()
            .flat_map(|batch| batch["batch"].as_array().unwrap().clone())
            .enumerate()
            .map(|(index, value)| {
                parse_event(&value, index, None, &BatchEnvelope::default(), received_at).map(|parsed| parsed.0)
            })
            .collect::<Result<_, _>>()
            .map_err(|problems| anyhow::anyhow!("generated an invalid event: {problems:?}"))?,
    );
    let total_events = events.len();
    let client_counts = args.clients.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    eprintln!(
        "{} batches of {} events, {client_counts} clients, {} repeats",
        args.batches, args.batch_size, args.repeats
    );

    let mut rows = String::new();
    for backend in &args.backends {
        let kind = backend_kind(backend)?;
        // Per client count: events/s, p50 and p99 of each run.
        let mut api: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![Default::default(); args.clients.len()];
        let (mut raw_batch, mut raw_bulk) = (vec![], vec![]);
        for repeat in 0..args.repeats {
            for (position, &clients) in args.clients.iter().enumerate() {
                let measured = measure_api(kind, &bodies, clients, &args)
                    .await
                    .with_context(|| format!("{backend}: /v1/batch, {clients} clients"))?;
                eprintln!(
                    "{backend} run {}, {clients} clients: /v1/batch {:.0} events/s (p50 {:?}, p99 {:?})",
                    repeat + 1,
                    measured.events_per_second,
                    measured.latency_p50,
                    measured.latency_p99,
                );
                api[position].0.push(measured.events_per_second);
                api[position].1.push(measured.latency_p50.as_secs_f64() * 1000.0);
                api[position].2.push(measured.latency_p99.as_secs_f64() * 1000.0);
            }
            if !args.api_only {
                raw_batch.push(measure_raw(kind, &events, args.batch_size, &args).await?);
                raw_bulk.push(measure_raw(kind, &events, 5_000, &args).await?);
                eprintln!(
                    "{backend} run {}: raw {} rows/commit {:.0}/s; raw 5000 rows/commit {:.0}/s",
                    repeat + 1,
                    args.batch_size,
                    raw_batch[repeat],
                    raw_bulk[repeat]
                );
            }
        }
        let (raw_batch, raw_bulk) =
            if args.api_only { (f64::NAN, f64::NAN) } else { (median(raw_batch), median(raw_bulk)) };
        for (&clients, (throughput, p50, p99)) in args.clients.iter().zip(api) {
            let throughput = median(throughput);
            writeln!(
                rows,
                "| {backend} | {clients} | {throughput:.0} | {:.0} / {:.0} ms | {raw_batch:.0} | {raw_bulk:.0} | {:.2} | {:.2} |",
                median(p50),
                median(p99),
                throughput / raw_batch,
                throughput / raw_bulk
            )?;
        }
    }

    let command = format!(
        "cargo run --release -p rapport-bench -- --batches {} --batch-size {} --clients {client_counts} \
         --raw-writers {} --repeats {}{}",
        args.batches,
        args.batch_size,
        args.raw_writers,
        args.repeats,
        args.write.as_ref().map(|path| format!(" --write {}", path.display())).unwrap_or_default()
    );
    let section = format!(
        "## Ingestion\n\n\
         Measured {date} on {machine}, with `{command}`.\n\n\
         {total_events} events per run ({batches} batches of {size}) from {customers} customers; the clients run on \
         the same machine, each with one batch in flight; median of {repeats} runs, each on a fresh database. \
         `/v1/batch` is the real server: HTTP, validation, idempotency on `messageId`, identity resolution, and a \
         durable commit before each `200` (SQLite WAL with `synchronous=FULL`; PostgreSQL default \
         `fsync`/`synchronous_commit`). The raw columns insert the same rows into `events` of the same database, \
         {raw_writers} transactions at a time, and nothing else (SQLite through the ingest writer's connection).\n\n\
         | backend | clients | /v1/batch events/s | latency p50 / p99 per batch | raw, {size} rows per commit, rows/s | raw, 5000 rows per commit, rows/s | API ÷ raw {size} | API ÷ raw 5000 |\n\
         |---|---|---|---|---|---|---|---|\n{rows}\n",
        date = time::OffsetDateTime::now_utc().date(),
        machine = machine_description(),
        batches = args.batches,
        size = args.batch_size,
        customers = args.customers,
        raw_writers = args.raw_writers,
        repeats = args.repeats,
    );
    print!("{section}");
    if let Some(path) = &args.write {
        anyhow::ensure!(!args.api_only, "--write needs the raw ceilings: drop --api-only");
        write_section(path, "## Ingestion", &section)?;
    }
    Ok(())
}

pub fn backend_name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Sqlite => "sqlite",
        BackendKind::Postgres => "postgres",
    }
}

fn backend_kind(name: &str) -> anyhow::Result<BackendKind> {
    match name {
        "sqlite" => Ok(BackendKind::Sqlite),
        "postgres" => Ok(BackendKind::Postgres),
        other => anyhow::bail!("unknown backend `{other}`: sqlite or postgres"),
    }
}

/// A deterministic stream of pseudo-random numbers (xorshift64*), so every run measures the
/// same data without a dependency.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Replaces the section starting at `heading` (up to the next `## `) in the markdown file at
/// `path`, or appends it.
fn write_section(path: &std::path::Path, heading: &str, section: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n\n".to_owned());
    let updated = match existing.find(heading) {
        Some(start) => {
            let end =
                existing[start + 1..].find("\n## ").map(|offset| start + 1 + offset + 1).unwrap_or(existing.len());
            // A blank line before whatever follows (a hand-written analysis).
            let rest = &existing[end..];
            if rest.is_empty() {
                format!("{}{section}", &existing[..start])
            } else {
                format!("{}{}\n\n{rest}", &existing[..start], section.trim_end())
            }
        }
        None => format!("{}\n\n{section}", existing.trim_end()),
    };
    std::fs::write(path, updated).with_context(|| format!("write {}", path.display()))
}

/// Prints a suite's section and, with `--write`, puts it in place of its old one.
fn finish_suite(args: &Args, heading: &str, command: &str, intro: &str, table: &str) -> anyhow::Result<()> {
    let section = format!(
        "{heading}\n\nMeasured {date} on {machine}, with `{command}{write}`.\n\n{intro}\n\n{table}\n",
        date = time::OffsetDateTime::now_utc().date(),
        machine = machine_description(),
        write = args.write.as_ref().map(|path| format!(" --write {}", path.display())).unwrap_or_default(),
    );
    print!("{section}");
    if let Some(path) = &args.write {
        write_section(path, heading, &section)?;
    }
    Ok(())
}

fn run_text(args: &Args) -> anyhow::Result<()> {
    let text_args = text::TextArgs {
        data: args.text_data.clone(),
        peers: args.peers.clone(),
        python: args.python.clone(),
        rounds: args.repeats.max(5),
    };
    let (accuracy, throughput) = text::measure(&text_args)?;
    let command = format!(
        "cargo run --release -p rapport-bench -- --suite text --text-data {} --peers {} --repeats {}",
        args.text_data.display(),
        args.peers.display(),
        text_args.rounds
    );
    let intro = "Rapport's sentiment (`rapport-text`) and vaderSentiment 3.3.2 (Python) in one run on the human-rated \
         ground truth of Hutto & Gilbert (2014): Pearson r between each system's score and the mean of 20 human raters, \
         and 3-class accuracy (human mean beyond ±0.5 positive/negative, score beyond ±0.05), both computed by the \
         peer's scorer (`../shared/bench/peers/sentiment.py score`). The targets: r at least VADER's (0.872 tweets, \
         0.427 movie reviews) and 300,000 sentences/s on one core. Throughput: each text scored one at a time on one \
         thread, the median of the rounds; vaderSentiment's figure is its own timing of the same texts in the same run.";
    let table = format!(
        "| set | texts | Rapport r | VADER r | Rapport 3-class acc | VADER 3-class acc |\n|---|---|---|---|---|---|\n{accuracy}\n{throughput}"
    );
    finish_suite(args, "## Sentiment", &command, intro, &table)
}

async fn run_demo(args: &Args) -> anyhow::Result<()> {
    let (demo, import) = demo::measure(args.customers, args.repeats).await?;
    let command = format!(
        "cargo build --release -p rapport && cargo run --release -p rapport-bench -- --suite demo --customers {} --repeats {}",
        args.customers, args.repeats
    );
    let intro = "`rapport demo --no-serve --seed 1` from an empty database to ready: the company generated on every \
         core, loaded through the same checks as the API (events resolved into customers, responses checked, \
         feedback analysed), spike checks over the release, the churn model trained and every customer scored, \
         an admin key made. Wall time of the child process; SQLite's is the median of the runs, each on a new \
         file. Target: the default demo (20,000 customers) in under 60 s.";
    let table = format!(
        "| database | customers | ready in | loaded | churn model |\n|---|---|---|---|---|\n{demo}\n\n\
         ### Import and export\n\n\
         The last SQLite company exported (`rapport export`), its `events.jsonl` imported into a new workspace of an \
         empty database (every row checked first, then streamed in chunks: the next parsed on every core while the \
         last is written), and the whole export imported (`rapport import workspace`). Wall time of the child \
         process; SQLite's import is the median of the runs. Target: 100,000 rows/s.\n\n\
         | command | database | rows | time | rows/s |\n|---|---|---|---|---|\n{import}"
    );
    finish_suite(args, "## Demo", &command, intro, &table)
}

async fn run_pages(args: &Args) -> anyhow::Result<()> {
    let rows = pages::measure(args.customers, args.repeats).await?;
    let command = format!(
        "cargo build --release -p rapport && cargo run --release -p rapport-bench -- --suite pages --customers {} --repeats {}",
        args.customers, args.repeats
    );
    let intro = "Each dashboard page of the demo company (`rapport demo --no-serve`, then `rapport serve`), signed in, \
         timed from a client on the same machine until the whole page is read, once the server says its caches are \
         warm (`/readyz`): the first request, and the median of the next ones. Target: under 300 ms each.";
    let table = format!("| page | path | first | median after |\n|---|---|---|---|\n{rows}");
    finish_suite(args, "## Dashboard pages", &command, intro, &table)
}

async fn run_journeys(args: &Args) -> anyhow::Result<()> {
    let mut rows = vec![journeys::engine(args.journey_customers, args.journey_events, args.repeats)?];
    if args.journey_store_events > 0 {
        rows.push(journeys::through_the_store(args.journey_customers, args.journey_store_events, args.repeats).await?);
    }
    let command = format!(
        "cargo build --release -p rapport && cargo run --release -p rapport-bench -- --suite journeys \
         --journey-customers {} --journey-events {} --journey-store-events {} --repeats {}",
        args.journey_customers, args.journey_events, args.journey_store_events, args.repeats
    );
    let intro = "Full journey analytics (stage funnel with intervals, time between stages, paths to the goal, loops and \
         backtracking, per-touchpoint drop-off and repeats, the emotional curve, friction ranked) of an 8-touchpoint \
         purchase journey over a year of generated orders (the app's checkout failing more often than the web's). \
         One segment, and two compared (web against mobile: two analyses); the median of the repeats. In memory: \
         the visits already matched and sorted, as the server keeps them. Through the service: the events imported \
         into SQLite with `rapport import events`; the first request reads and matches them, later ones reuse the \
         visits while nothing changes (and read the workspace's survey answers and feedback each time). \
         Target: under 2 s for 10,000,000 events of 500,000 customers.";
    let table = format!(
        "| data | customers | visits | answers and feedback | one segment | two compared | worst friction |\n|---|---|---|---|---|---|---|\n{}",
        rows.join("\n")
    );
    finish_suite(args, "## Journeys", &command, intro, &table)
}

fn run_prediction(args: &Args) -> anyhow::Result<()> {
    let prediction_args = prediction::PredictionArgs {
        cdnow: args.cdnow.clone(),
        peers: args.peers.clone(),
        python: args.python.clone(),
        rounds: args.repeats.max(21),
        synthetic: args.synthetic_customers,
    };
    let rows = prediction::measure(&prediction_args)?;
    let churn = prediction::measure_churn(&prediction_args)?;
    let command = format!(
        "cargo run --release -p rapport-bench -- --suite prediction --cdnow {} --peers {} --synthetic-customers {}",
        args.cdnow.display(),
        args.peers.display(),
        args.synthetic_customers
    );
    let intro = "Customer lifetime value fits by `rapport-predict` (L-BFGS on the analytic gradient, terms shared by \
         customers with the same frequency computed once, customers summed on every core) and by lifetimes 0.11.3 \
         (Python, `../shared/bench/peers/clv.py`) in one run, on the same files: CDNOW's published summary, and a \
         synthetic set the peer draws from the CDNOW fit. Rapport's time is the median of the rounds (21 on CDNOW, 3 \
         on the synthetic set); lifetimes' is its own timing of one fit. Targets: under 5 ms on CDNOW and under 1 s \
         on a million customers for both models.";
    let table = format!(
        "| data | model | customers | Rapport's fit | Rapport | lifetimes | speed-up |\n|---|---|---|---|---|---|---|\n{rows}\n\
         ### Churn models\n\n\
         `rapport-predict`'s 5-fold stratified cross-validation (model `auto`: logistic regression, boosted trees or \
         their blend, chosen in each fold on a fifth of its training rows) against scikit-learn's logistic regression \
         and HistGradientBoostingClassifier (`../shared/bench/peers/churn.py`, its own folds and timing) on the same \
         generated tables: telecom-like (churn mostly linear in its columns) and bank-like (a bump with age, a U in \
         products, interactions). Fit time is the mean per fold, Rapport's `auto` including its model choice; \
         `auto` is set against fitting both of scikit-learn's models (what choosing between them costs there), each \
         learner against its counterpart. Target: AUC at least scikit-learn's best minus 0.005, fitting faster.\n\n\
         | table, customers | Rapport model (chosen) | ROC AUC | PR AUC | fit per fold | scikit-learn | ROC AUC | fit per fold | speed-up |\n\
         |---|---|---|---|---|---|---|---|---|\n{churn}"
    );
    finish_suite(args, "## Prediction", &command, intro, &table)
}

async fn run_decisions(args: &Args) -> anyhow::Result<()> {
    let decision_args = decisions::DecisionArgs {
        customers: args.decision_customers,
        invitations: args.invitations,
        decisions: args.decisions,
    };
    let mut rows = String::new();
    for backend in &args.backends {
        writeln!(rows, "{}", decisions::measure(backend_kind(backend)?, &decision_args).await?)?;
    }
    let command = format!(
        "cargo run --release -p rapport-bench -- --suite decisions --backends {} --decision-customers {} \
         --invitations {} --decisions {}",
        args.backends.join(","),
        args.decision_customers,
        args.invitations,
        args.decisions,
    );
    let intro = "May this customer be invited to a survey now? Each decision reads what the contact policy needs \
         about the customer (by identity: its traits, consent, the invitations sent to any of its identities, its \
         last answer) from a store holding the past invitations, then applies the policy. On one task, two ways, \
         each over its own random customers: one at a time, a read per decision (the widget asks so), and in \
         passes of 200 with one read per pass (the dispatcher decides so). The run checks that both ways decide \
         alike (2,000 customers of the passes asked again one at a time). The target for this \
         machine is 20,000 decisions/s on one core against 1,000,000 past invitations.";
    let table = format!(
        "| backend | customers | past invitations | one at a time, decisions/s | latency p50 / p99 | in passes, \
         decisions/s | invited |\n|---|---|---|---|---|---|---|\n{rows}"
    );
    finish_suite(args, "## Survey decisions", &command, intro, &table)
}

async fn run_hosted(args: &Args) -> anyhow::Result<()> {
    let hosted_args = hosted::HostedArgs { rate: args.rate, seconds: args.seconds };
    let mut rows = String::new();
    for backend in &args.backends {
        writeln!(rows, "{}", hosted::measure(backend_kind(backend)?, &hosted_args).await?)?;
    }
    let command = format!(
        "cargo run --release -p rapport-bench -- --suite hosted --backends {} --rate {} --seconds {}",
        args.backends.join(","),
        args.rate,
        args.seconds
    );
    let intro = "Answers posted to the hosted survey page `/s/{token}` through the real server at a fixed rate \
         (open loop: each request leaves on schedule), each a distinct invitation answered once: the link is checked, \
         the answers stored, the `Survey Answered` event committed through the ingest queue and the invitation marked \
         answered before the thank-you page returns. Client on the same machine. The target: p99 under 10 ms at \
         500 requests/s.";
    let table = format!(
        "| backend | requests/s asked | achieved | submissions | p50 | p99 | max |\n|---|---|---|---|---|---|---|\n{rows}"
    );
    finish_suite(args, "## Hosted survey submissions", &command, intro, &table)
}

async fn run_metrics(args: &Args) -> anyhow::Result<()> {
    let metric_args = metrics::MetricArgs {
        responses: args.responses,
        customers: args.metric_customers,
        repeats: args.repeats.max(11),
        keep: args.keep_database.clone(),
    };
    let (mut queries, mut ingestion) = (String::new(), String::new());
    for backend in &args.backends {
        let (rows, overhead) = metrics::measure(backend_kind(backend)?, &metric_args).await?;
        queries.push_str(&rows);
        ingestion.push_str(&overhead);
    }
    let command = format!(
        "cargo run --release -p rapport-bench -- --suite metrics --backends {} --responses {} --metric-customers {} --repeats {}",
        args.backends.join(","),
        args.responses,
        args.metric_customers,
        args.repeats
    );
    let intro = format!(
        "{} survey responses (relational NPS 40%, support CSAT with three service dimensions 40%, returns CES 20%; \
         {} customers with a plan and a country, ingested as `identify` events) over 24 months, bulk-imported. Each \
         report is the API's (`metric_report`: settings, surveys, counts, figures with intervals, changes, q-values) \
         without HTTP, timed {} times after a first report (timed apart where it builds the index); full scans 3 times over \
         the rollup, once elsewhere; \
         p50 / p90. \"Full scan\" is \
         the same report computed from the raw answers (`TallySource::RawAnswers`: answers joined to responses, \
         GROUP BY day, dimensions and score), and the run checks it equals the rollup's or the index's (SQLite's \
         in-memory answer index serves what no rollup holds). Targets: the first row \
         under 50 ms (p50) on SQLite, a trait grouping under 1 s.",
        args.responses, args.metric_customers, metric_args.repeats
    );
    let table = format!(
        "| backend | report | p50 / p90 (rollup or index) | full scan p50 / p90 | scan ÷ fast |\n|---|---|---|---|---|\n{queries}\n\
         What keeping the rollup current costs: responses stored one at a time with five scored \
         answers, which update the rollup (a row at each of its two grains), against five single-choice answers, \
         which do not; 10 alternating rounds of 300. Rates are medians; the difference is the median of the rounds' paired \
         ratios. Measured at the store (one transaction per response) and as the API stores a response (also \
         committing its `Survey Answered` event through the ingest queue).\n\n\
         | backend | path | scored responses/s | choice responses/s | difference |\n|---|---|---|---|---|\n{ingestion}"
    );
    finish_suite(args, "## Metrics", &command, &intro, &table)
}
