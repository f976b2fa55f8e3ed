//! Survey invitation decisions: how many "may this customer be invited now?" answers per second,
//! each reading the customer and its contact history, against a store holding many past
//! invitations. One decision at a time, on one task.

use std::time::Instant;

use rapport_core::event::{BatchEnvelope, Event, parse_event};
use rapport_core::identity::Identity;
use rapport_core::survey::parse_definition;
use rapport_server::services::invitations::{Ask, DISPATCH_BATCH, SentInPass, decide, decide_from};
use rapport_store::testing::TestDatabase;
use rapport_store::{BackendKind, IngestBatch};
use serde_json::json;

pub struct DecisionArgs {
    pub customers: usize,
    pub invitations: usize,
    pub decisions: usize,
}

/// Runs the benchmark on `kind` and returns its markdown table row.
pub async fn measure(kind: BackendKind, args: &DecisionArgs) -> anyhow::Result<String> {
    let database = TestDatabase::create(kind).await;
    let store = database.connect().await;
    let workspace = store.ensure_workspace("bench").await?.id;
    let definition = parse_definition(&json!({"name": "NPS", "kind": "relational",
        "questions": [{"id": "nps", "type": "nps"}],
        "delivery": {"channel": "link", "notAgainWithinDays": 90}}))
    .map_err(|problems| anyhow::anyhow!("bad benchmark survey: {problems:?}"))?;
    let survey = store.create_survey(&workspace, &definition).await?;

    let started = Instant::now();
    let received_at = time::OffsetDateTime::now_utc();
    for first in (0..args.customers).step_by(1_000) {
        let events: Vec<Event> = (first..(first + 1_000).min(args.customers))
            .map(|n| {
                let call = json!({"type": "identify", "userId": format!("u{n}"), "messageId": format!("c{n}"),
                                  "traits": {"email": format!("u{n}@example.com")}});
                parse_event(&call, 0, None, &BatchEnvelope::default(), received_at).map(|parsed| parsed.0)
            })
            .collect::<Result<_, _>>()
            .map_err(|problems| anyhow::anyhow!("bad benchmark event: {problems:?}"))?;
        store.ingest(IngestBatch { workspace: workspace.clone(), events }).await?;
    }
    let mut customers = Vec::with_capacity(args.customers);
    let mut after = String::new();
    loop {
        let page = store.customer_contacts(&workspace, &after, 1_000).await?;
        let Some((last, _)) = page.last() else { break };
        after = last.0.clone();
        customers.extend(page.into_iter().filter_map(|(id, identity)| Some((id, identity?))));
    }
    anyhow::ensure!(customers.len() == args.customers, "{} customers stored", customers.len());

    // Past invitations: a deterministic mix over five surveys and the last year.
    let mut next = crate::xorshift(0x2545_F491_4F6C_DD1D);
    let now = rapport_store::now_ms();
    let year_ms = 365 * 24 * 60 * 60 * 1000_u64;
    let surveys = [survey.id.clone(), "s2".to_owned(), "s3".to_owned(), "s4".to_owned(), "s5".to_owned()];
    let mut seeded = 0;
    while seeded < args.invitations {
        let rows: Vec<_> = (0..(args.invitations - seeded).min(10_000))
            .map(|_| {
                let (customer, identity) = &customers[(next() % customers.len() as u64) as usize];
                let survey = surveys[(next() % surveys.len() as u64) as usize].clone();
                (survey, customer.clone(), identity.clone(), now - (next() % year_ms) as i64)
            })
            .collect();
        seeded += rows.len();
        store.seed_sent_invitations(&workspace, &rows).await?;
    }
    let seeding = started.elapsed();

    let delivery = definition.delivery.as_ref().expect("the survey has delivery settings");
    let policy = store.contact_policy(&workspace).await?;
    // Each way asks about its own random customers, so neither finds the other's reads cached.
    let mut draw = || -> anyhow::Result<Vec<Identity>> {
        Ok((0..args.decisions)
            .map(|_| Identity::parse_typed(&customers[(next() % customers.len() as u64) as usize].1))
            .collect::<Result<_, _>>()?)
    };
    let (asked, asked_in_passes) = (draw()?, draw()?);
    let ask = |identity| Ask {
        workspace: &workspace,
        survey_id: &survey.id,
        delivery,
        channel: "link",
        identity,
        now_ms: now,
        reminder: false,
        policy: &policy,
    };

    // One at a time, as the widget asks: a read per decision.
    let mut latencies = Vec::with_capacity(args.decisions);
    let mut invited = 0;
    let measured = Instant::now();
    for identity in &asked {
        let one = Instant::now();
        invited += usize::from(decide(&store, ask(identity)).await?.outcome.is_ok());
        latencies.push(one.elapsed());
    }
    let one_at_a_time = args.decisions as f64 / measured.elapsed().as_secs_f64();

    // In dispatcher passes: one read for a pass's invitations, then each decided.
    let mut outcomes = Vec::with_capacity(args.decisions);
    let measured = Instant::now();
    for pass in asked_in_passes.chunks(DISPATCH_BATCH) {
        let facts = store.contact_facts_of_many(&workspace, pass).await?;
        for (identity, facts) in pass.iter().zip(facts) {
            outcomes.push(decide_from(facts, &ask(identity), &SentInPass::default()).outcome);
        }
    }
    let in_passes = args.decisions as f64 / measured.elapsed().as_secs_f64();
    // Both ways decide alike: the first passes' customers asked again one at a time.
    for (identity, outcome) in asked_in_passes.iter().zip(&outcomes).take(2_000) {
        anyhow::ensure!(decide(&store, ask(identity)).await?.outcome == *outcome, "{identity:?} decided otherwise");
    }

    latencies.sort();
    let percentile = |p: usize| latencies[latencies.len() * p / 100].as_secs_f64() * 1_000.0;
    eprintln!(
        "{kind:?}: seeded {} customers and {} invitations in {:.0?}; {} decisions: {one_at_a_time:.0}/s one at a time, \
         {in_passes:.0}/s in passes of {DISPATCH_BATCH} ({invited} invited)",
        args.customers, args.invitations, seeding, args.decisions
    );
    Ok(format!(
        "| {} | {} | {} | {one_at_a_time:.0} | {:.2} / {:.2} ms | {in_passes:.0} | {:.0}% |",
        crate::backend_name(kind),
        args.customers,
        args.invitations,
        percentile(50),
        percentile(99),
        invited as f64 * 100.0 / args.decisions as f64
    ))
}
