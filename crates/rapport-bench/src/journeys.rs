//! The journeys suite: full journey analytics (funnel, timing, paths, loops, the emotional curve,
//! friction; one segment, then two compared) over 10,000,000 touchpoint visits of 500,000
//! customers held in memory, the target being under 2 s; then the same through the service over
//! a SQLite store the events were imported into: the first request (reads and matches the
//! events) and the ones after it (visits kept in memory).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use rapport_core::journey::analytics::{Experience, Options, Segment, Signal, Visit, analyse};
use rapport_core::journey::definition::{Journey, parse};
use rapport_core::journey::query::RawJourneyQuery;
use serde_json::{Value, json};

use crate::xorshift;

const DAY: i64 = 86_400_000;
/// 2025-01-01T00:00:00Z: the generated history covers 2025.
const START: i64 = 1_735_689_600_000;

pub fn definition() -> Value {
    json!({"name": "Online purchase", "stages": ["checkout", "purchase", "delivery", "aftercare"], "goal": "order",
    "touchpoints": [
        {"key": "checkout_app", "stage": "checkout", "event": "Checkout Started", "channel": "mobile", "feedbackTouchpoint": "checkout"},
        {"key": "checkout_web", "stage": "checkout", "event": "Checkout Started", "feedbackTouchpoint": "checkout"},
        {"key": "payment", "stage": "checkout", "event": "Payment Info Entered"},
        {"key": "order", "stage": "purchase", "event": "Order Completed"},
        {"key": "shipped", "stage": "delivery", "event": "Order Shipped"},
        {"key": "delivered", "stage": "delivery", "event": "Order Delivered", "feedbackTouchpoint": "delivery"},
        {"key": "support", "stage": "aftercare", "event": "Support Ticket Created", "feedbackTouchpoint": "support"},
        {"key": "return", "stage": "aftercare", "event": "Return Requested", "feedbackTouchpoint": "returns"}
    ]})
}

const EVENTS: [&str; 8] = [
    "Checkout Started",
    "Checkout Started",
    "Payment Info Entered",
    "Order Completed",
    "Order Shipped",
    "Order Delivered",
    "Support Ticket Created",
    "Return Requested",
];

/// One customer's touchpoints, `per_customer` of them on average: (touchpoint, channel 0 web /
/// 1 mobile, time), orders through the year with the app's checkout failing more often.
fn customer_visits(next: &mut impl FnMut() -> u64, per_customer: usize) -> Vec<(u16, u16, i64)> {
    let app = next() % 100 < 60;
    // Orders come whole (about six touchpoints), so the budget aims a little low.
    let budget = (next() as usize % (2 * per_customer).saturating_sub(6).max(1)) + 1;
    let mut visits = Vec::with_capacity(budget + 8);
    let mut t = START + (next() % (300 * DAY as u64)) as i64;
    while visits.len() < budget {
        let mobile = app && next() % 100 < 75;
        let (checkout, channel) = if mobile { (0, 1) } else { (1, 0) };
        let fails = if mobile { 30 } else { 8 };
        for _attempt in 0..3 {
            visits.push((checkout, channel, t));
            if next() % 100 < fails {
                t += 600_000 + (next() % 3_600_000) as i64;
                if next() % 100 < 30 {
                    break;
                }
                continue;
            }
            visits.push((2, channel, t + 60_000));
            visits.push((3, channel, t + 120_000));
            visits.push((4, 0, t + DAY));
            visits.push((5, 0, t + 3 * DAY));
            if next() % 100 < 10 {
                visits.push((6, 0, t + 4 * DAY));
            }
            if next() % 100 < 6 {
                visits.push((7, 0, t + 6 * DAY));
            }
            break;
        }
        t += DAY + (next() % (40 * DAY as u64)) as i64;
    }
    visits
}

/// What customers said: a CES after some checkouts, sentiment after some deliveries and support.
fn experiences_of(
    customer: u32,
    visits: &[(u16, u16, i64)],
    next: &mut impl FnMut() -> u64,
    out: &mut Vec<Experience>,
) {
    for &(touchpoint, _, at_ms) in visits {
        let roll = next() % 100;
        let signal = match touchpoint {
            0 | 1 if roll < 10 => Signal::Ces { score: (next() % 7 + 1) as u8 },
            5 | 6 if roll < 8 => {
                let score = (next() % 200) as f64 / 100.0 - 1.0;
                Signal::Sentiment { score, negative: score < -0.05 }
            }
            6 if roll < 40 => Signal::Csat { satisfied: next() % 100 < 80 },
            _ => continue,
        };
        out.push(Experience { customer: Some(customer), touchpoint, at_ms: at_ms + 3_600_000, signal });
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Analytics over `events` visits of `customers` in memory: the median seconds of one segment, and
/// of two compared.
pub fn engine(customers: usize, events: usize, repeats: usize) -> anyhow::Result<String> {
    let journey: Journey = parse(&definition()).map_err(|p| anyhow::anyhow!("{p:?}"))?;
    let mut next = xorshift(0x5EED_0000_0007);
    let per_customer = events / customers.max(1);
    let mut visits: Vec<Visit> = Vec::with_capacity(events + events / 10);
    let mut experiences = Vec::new();
    for customer in 0..customers as u32 {
        let mine = customer_visits(&mut next, per_customer);
        experiences_of(customer, &mine, &mut next, &mut experiences);
        visits.extend(mine.into_iter().map(|(touchpoint, channel, at_ms)| Visit {
            customer,
            touchpoint,
            channel,
            at_ms,
        }));
    }
    visits.sort_unstable_by_key(|v| (v.customer, v.at_ms, v.touchpoint));
    let period = (START, START + 366 * DAY);
    let options = Options::default();
    let mut one = Vec::new();
    let mut two = Vec::new();
    let mut friction = String::new();
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        let all = analyse(&journey, &visits, &experiences, period, &Segment::All, &options);
        one.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let web = analyse(&journey, &visits, &experiences, period, &Segment::FirstChannel(0), &options);
        let mobile = analyse(&journey, &visits, &experiences, period, &Segment::FirstChannel(1), &options);
        two.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(web.customers + mobile.customers == all.customers, "segments must split the customers");
        friction = all.friction_ranking.first().cloned().unwrap_or_default();
    }
    Ok(format!(
        "| in memory (`rapport_core::journey::analytics::analyse`) | {customers} | {} | {experiences} | {:.2} s | {:.2} s | {friction} |",
        visits.len(),
        median(one),
        median(two),
        experiences = experiences.len(),
    ))
}

/// The same journey through the service over SQLite: `events` Segment calls of `customers`
/// imported with `rapport import events` (the binary beside this one), then the first request,
/// and the median of the requests after it (one segment; two compared).
pub async fn through_the_store(customers: usize, events: usize, repeats: usize) -> anyhow::Result<String> {
    let directory = tempfile::tempdir()?;
    let file = directory.path().join("events.jsonl");
    let written = write_events(&file, customers, events)?;
    let database = directory.path().join("rapport.db");
    let url = format!("sqlite://{}", database.display());
    let binary = std::env::current_exe()?.with_file_name("rapport");
    anyhow::ensure!(binary.exists(), "{} is missing: cargo build --release -p rapport first", binary.display());
    for args in [
        vec!["keys", "create", "--workspace", "bench", "--role", "read"],
        vec!["import", "events", "--workspace", "bench", file.to_str().unwrap_or_default()],
    ] {
        let output =
            Command::new(&binary).args(&args).args(["--database-url", &url]).output().context("run rapport")?;
        anyhow::ensure!(output.status.success(), "rapport {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let store = rapport_store::Store::connect(&url, rapport_store::StoreOptions::default()).await?;
    let workspace = store.workspace_by_name("bench").await?.context("the workspace")?.id;
    let service = rapport_server::services::journeys::create(&store, &workspace, &definition())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = service["id"].as_str().unwrap_or_default().to_owned();
    let query = |compare: Option<&str>| RawJourneyQuery {
        from: Some("2025-01-01".into()),
        to: Some("2025-12-31".into()),
        compare: compare.map(str::to_owned),
        segment: compare.map(|_| "channel:web".to_owned()),
        min_n: None,
    };
    let now = START + 400 * DAY;
    let started = Instant::now();
    let first = rapport_server::services::journeys::analytics(&store, &workspace, &id, &query(None), now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cold = started.elapsed().as_secs_f64();
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..repeats.max(1) {
        for (compare, times) in [(None, &mut one), (Some("channel:mobile"), &mut two)] {
            let started = Instant::now();
            rapport_server::services::journeys::analytics(&store, &workspace, &id, &query(compare), now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(started.elapsed().as_secs_f64());
        }
    }
    // 1,000 more events arrive (a fifth of them anonymous visitors who then identify: merges);
    // the next request reads only those.
    let mut arriving = Vec::new();
    for i in 0..200_i64 {
        let customer = i as usize * (customers / 200).max(1);
        let at = |minutes: i64| rapport_server::services::rfc3339(START + 200 * DAY + minutes * 60_000);
        arriving.push(json!({"type": "track", "anonymousId": format!("late-{i}"), "event": "Checkout Started",
            "timestamp": at(i), "context": {"channel": "web"}}));
        arriving.push(json!({"type": "identify", "userId": format!("c{customer}"), "anonymousId": format!("late-{i}"),
            "timestamp": at(i + 1)}));
        for (offset, event) in [(2, "Payment Info Entered"), (3, "Order Completed"), (4, "Order Shipped")] {
            arriving.push(json!({"type": "track", "userId": format!("c{customer}"), "event": event,
                "timestamp": at(i + offset), "context": {"channel": "web"}}));
        }
    }
    let received = time::OffsetDateTime::now_utc();
    let parsed = arriving
        .iter()
        .enumerate()
        .map(|(i, value)| {
            rapport_core::event::parse_event(value, i, None, &rapport_core::event::BatchEnvelope::default(), received)
                .map(|parsed| parsed.0)
                .map_err(|problems| anyhow::anyhow!("{problems:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    store.ingest(rapport_store::IngestBatch { workspace: workspace.clone(), events: parsed }).await?;
    let started = Instant::now();
    let after = rapport_server::services::journeys::analytics(&store, &workspace, &id, &query(None), now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let incremental = started.elapsed().as_secs_f64();
    anyhow::ensure!(after.analytics.visits == first.analytics.visits + 800, "the new visits are in");
    store.close().await;
    Ok(format!(
        "| SQLite, {written} events imported, through the service (first request, reading them: {cold:.1} s; after 1,000 more events with 200 merges: {incremental:.2} s) | {customers} | {} | none | {:.2} s | {:.2} s | {} |",
        first.analytics.visits,
        median(one),
        median(two),
        first.analytics.friction_ranking.first().cloned().unwrap_or_default(),
    ))
}

/// The generated visits as Segment track calls, one JSON object a line; returns how many.
fn write_events(path: &Path, customers: usize, events: usize) -> anyhow::Result<usize> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut next = xorshift(0x5EED_0000_0007);
    let per_customer = events / customers.max(1);
    let mut written = 0;
    for customer in 0..customers {
        let mut ignored = Vec::new();
        let mine = customer_visits(&mut next, per_customer);
        experiences_of(customer as u32, &mine, &mut next, &mut ignored);
        for (i, (touchpoint, channel, at_ms)) in mine.into_iter().enumerate() {
            let timestamp = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)?
                .format(&time::format_description::well_known::Rfc3339)?;
            let call = json!({"type": "track", "userId": format!("c{customer}"), "event": EVENTS[touchpoint as usize],
                "timestamp": timestamp, "messageId": format!("j-{customer}-{i}"),
                "context": {"channel": if channel == 1 { "mobile" } else { "web" }}});
            writeln!(out, "{call}")?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}
