//! Hosted survey page submissions: answers posted to `/s/{token}` at a fixed rate (open loop:
//! each request leaves on schedule, whether or not earlier ones have returned), through the real
//! server, each a distinct invitation answered once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rapport_core::ids::CustomerId;
use rapport_core::survey::parse_definition;
use rapport_server::services::hosted_survey::{LINK_SECRET, link_path};
use rapport_server::{Application, ServerConfig};
use rapport_store::BackendKind;
use rapport_store::testing::TestDatabase;
use serde_json::json;

pub struct HostedArgs {
    pub rate: u32,
    pub seconds: u32,
}

/// Runs the benchmark on `kind` and returns its markdown table row.
pub async fn measure(kind: BackendKind, args: &HostedArgs) -> anyhow::Result<String> {
    let database = TestDatabase::create(kind).await;
    let store = database.connect().await;
    let workspace = store.ensure_workspace("bench").await?.id;
    let definition = parse_definition(&json!({"name": "After delivery", "kind": "transactional",
        "questions": [{"id": "nps", "type": "nps", "required": true},
                      {"id": "why", "type": "text", "text": "Why?", "showIf": {"question": "nps", "min": 0, "max": 6}}],
        "delivery": {"channel": "link", "trigger": {"event": "Order Delivered"}}}))
    .map_err(|problems| anyhow::anyhow!("bad benchmark survey: {problems:?}"))?;
    let survey = store.create_survey(&workspace, &definition).await?;
    let total = (args.rate * args.seconds) as usize;
    let now = rapport_store::now_ms();
    let rows: Vec<_> =
        (0..total).map(|n| (survey.id.clone(), CustomerId(format!("c{n}")), format!("userId:u{n}"), now)).collect();
    store.seed_sent_invitations(&workspace, &rows).await?;
    let secret = store.secret(LINK_SECRET).await?;
    let invitations = store.invitations(&workspace, &survey.id, total).await?;
    anyhow::ensure!(invitations.len() == total, "{} invitations seeded", invitations.len());

    let application =
        Application::build(ServerConfig { listen: "127.0.0.1:0".to_owned(), ..ServerConfig::default() }, store.clone())
            .await?;
    let base = format!("http://{}", application.local_addr());
    let links: Arc<Vec<String>> = Arc::new(
        invitations
            .iter()
            .map(|invitation| format!("{base}{}", link_path(&secret, invitation).unwrap_or_default()))
            .collect(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async { stopped.await.unwrap_or(()) }));

    let http = reqwest::Client::new();
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let started = Instant::now();
    let mut requests = Vec::with_capacity(total);
    for index in 0..total {
        let due = started + interval * index as u32;
        tokio::time::sleep_until(due.into()).await;
        let (http, links) = (http.clone(), links.clone());
        requests.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answers = [("q.nps", (index % 11).to_string()), ("q.why", "Benchmark".to_owned())];
            let response = http.post(&links[index]).form(&answers).send().await?;
            anyhow::ensure!(response.status().is_success(), "submission {index}: {}", response.status());
            Ok::<_, anyhow::Error>(sent.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for request in requests {
        latencies.push(request.await??);
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    // Counted before the server stops: stopping closes the store.
    let responses = store.responses(&workspace, &survey.id, None, total + 1).await?.len();
    let _ = stop.send(());
    server.await??;
    anyhow::ensure!(responses == total, "{responses} responses stored of {total}");
    latencies.sort();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)].as_secs_f64() * 1_000.0;
    eprintln!(
        "{kind:?}: {total} submissions at {} /s (achieved {achieved:.0}/s): p50 {:.2} ms, p99 {:.2} ms",
        args.rate,
        percentile(50),
        percentile(99)
    );
    Ok(format!(
        "| {} | {} | {achieved:.0} | {total} | {:.2} ms | {:.2} ms | {:.2} ms |",
        crate::backend_name(kind),
        args.rate,
        percentile(50),
        percentile(99),
        latencies.last().map(|max| max.as_secs_f64() * 1_000.0).unwrap_or_default()
    ))
}
