use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rapport_core::identity::Identity;
use rapport_core::metrics::figures::{FigureOptions, Metric};
use rapport_core::metrics::query::{Bucket, Dimension, Filter, MS_PER_DAY, MetricQuery};
use rapport_core::metrics::report::TallyRow;
use rapport_core::metrics::settings::parse_settings;
use rapport_core::survey::{SurveyDefinition, parse_definition};
use rapport_core::survey_answers::check_answers;
use rapport_store::Store;
use rapport_store::records::{NewResponse, TallySource};
use serde_json::{Map, Value, json};

use crate::{ingest, workspace};

const DAY0: i64 = 20_000; // 2024-10-04

fn definition() -> SurveyDefinition {
    parse_definition(&json!({
        "name": "Metrics", "kind": "transactional",
        "questions": [
            {"id": "nps", "type": "nps"},
            {"id": "csat", "type": "csat", "dimensions": ["knowledge", "communication"]},
            {"id": "ces", "type": "ces"}
        ]
    }))
    .expect("valid definition")
}

fn query(dimensions: Vec<Dimension>, filters: Vec<Filter>, bucket: Option<Bucket>, from: i64, to: i64) -> MetricQuery {
    MetricQuery {
        metric: Metric::Nps,
        from_day: from,
        to_day: to,
        bucket,
        dimensions,
        filters,
        options: FigureOptions::default(),
        journey: None,
    }
}

async fn tallies(
    store: &Store,
    workspace: &rapport_core::ids::WorkspaceId,
    kind: &str,
    query: &MetricQuery,
    source: TallySource,
) -> Vec<TallyRow> {
    let mut rows = store.answer_tallies(workspace, kind, query, None, source).await.expect("tallies");
    rows.sort();
    rows
}

/// Random responses (surveys, channels, touchpoints, agents, days, skipped answers), then random
/// queries: the rollup must return exactly what the raw answers return.
pub async fn rollups_return_exactly_what_the_raw_answers_return(store: Store) {
    let acme = workspace(&store, "acme").await;
    let other = workspace(&store, "other").await;
    let mut surveys = Vec::new();
    for _ in 0..3 {
        surveys.push(store.create_survey(&acme, &definition()).await.unwrap().id);
    }
    let noise = store.create_survey(&other, &definition()).await.unwrap().id;
    let mut rng = StdRng::seed_from_u64(4);
    let channels = [Some("email"), Some("sms"), Some("web"), None];
    let touchpoints = [Some("delivery"), Some("support"), None];
    let agents = [Some("ann"), Some("bob"), None];
    let mut imported = Vec::new();
    for index in 0..240 {
        let mut answers = Map::new();
        if rng.random_bool(0.9) {
            answers.insert("nps".into(), json!(rng.random_range(0..=10)));
        }
        if rng.random_bool(0.7) {
            let mut csat = json!({"score": rng.random_range(1..=5)});
            if rng.random_bool(0.5) {
                csat["knowledge"] = json!(rng.random_range(1..=5));
            }
            answers.insert("csat".into(), csat);
        }
        if rng.random_bool(0.5) {
            answers.insert("ces".into(), json!(rng.random_range(1..=7)));
        }
        let definition = definition();
        let typed = check_answers(&definition, &answers).unwrap_or_else(|problems| panic!("{answers:?}: {problems:?}"));
        let (target, survey) =
            if index % 20 == 0 { (&other, &noise) } else { (&acme, surveys.choose(&mut rng).unwrap()) };
        let response = NewResponse {
            survey_id: survey.clone(),
            version: 1,
            identity_key: format!("email:c{}@example.com", rng.random_range(0..30)),
            channel: channels.choose(&mut rng).unwrap().map(str::to_owned),
            touchpoint: touchpoints.choose(&mut rng).unwrap().map(str::to_owned),
            agent: agents.choose(&mut rng).unwrap().map(str::to_owned),
            submitted_at_ms: (DAY0 + rng.random_range(0..120)) * MS_PER_DAY + rng.random_range(0..MS_PER_DAY),
            received_at_ms: 0,
            idempotency_key: None,
            answers: typed,
            feedback: Vec::new(),
            invitation: None,
        };
        // A third of acme's responses arrive by bulk import, which adds to the rollup in aggregate.
        if index % 3 == 1 && target == &acme {
            imported.push(NewResponse { idempotency_key: Some(format!("import-{index}")), ..response });
        } else {
            store.insert_response(target, &response).await.unwrap();
        }
    }
    let (first, second) = imported.split_at(imported.len() / 2);
    assert_eq!(store.import_responses(&acme, first).await.unwrap(), first.len());
    assert_eq!(store.import_responses(&acme, second).await.unwrap(), second.len());
    // Importing the same responses again adds nothing (the comparisons below would see doubles).
    assert_eq!(store.import_responses(&acme, first).await.unwrap(), 0);

    let fast_dimensions = [
        Dimension::Survey,
        Dimension::Question,
        Dimension::ServiceDimension,
        Dimension::Channel,
        Dimension::Touchpoint,
    ];
    let all_dimensions: Vec<Dimension> = fast_dimensions.iter().cloned().chain([Dimension::Agent]).collect();
    let agent_dimensions = [Dimension::Survey, Dimension::Question, Dimension::ServiceDimension, Dimension::Agent];
    let values = |dimension: &Dimension| -> Vec<String> {
        match dimension {
            Dimension::Survey => surveys.clone(),
            Dimension::Question => vec!["nps".into(), "csat".into()],
            Dimension::ServiceDimension => vec!["knowledge".into()],
            Dimension::Channel => vec!["email".into(), "sms".into()],
            Dimension::Touchpoint => vec!["support".into()],
            _ => vec!["ann".into()],
        }
    };
    let (mut compared_rows, mut by_grain) = (0, BTreeMap::new());
    for _ in 0..90 {
        // The channel grain's fields, the agent grain's, or any mix (which reads the raw answers).
        let pool: &[Dimension] = match rng.random_range(0..3) {
            0 => &fast_dimensions,
            1 => &agent_dimensions,
            _ => &all_dimensions,
        };
        let (grouped, filtered) = (rng.random_range(0..=3), rng.random_range(0..=2));
        let dimensions: Vec<Dimension> = pool.choose_multiple(&mut rng, grouped).cloned().collect();
        let mut filters: Vec<Filter> = Vec::new();
        for dimension in pool.choose_multiple(&mut rng.clone(), filtered) {
            let all = values(dimension);
            let count = rng.random_range(1..=all.len());
            let chosen = all.choose_multiple(&mut rng, count).cloned().collect();
            filters.push(Filter { dimension: dimension.clone(), values: chosen });
        }
        let bucket =
            [None, Some(Bucket::Day), Some(Bucket::Week), Some(Bucket::Month)].choose(&mut rng).copied().flatten();
        let from = DAY0 + rng.random_range(-5..60);
        let to = from + rng.random_range(0..80);
        let kind = *["nps", "csat", "ces"].choose(&mut rng).unwrap();
        let query = query(dimensions, filters, bucket, from, to);
        let fast = tallies(&store, &acme, kind, &query, TallySource::Fastest).await;
        let raw = tallies(&store, &acme, kind, &query, TallySource::RawAnswers).await;
        assert_eq!(fast, raw, "{kind} {query:?}");
        compared_rows += raw.len();
        *by_grain.entry(format!("{:?}", Store::rollup_grain(&query))).or_insert(0) += 1;
    }
    assert!(compared_rows > 500, "the queries compared real data ({compared_rows} rows)");
    assert_eq!(by_grain.len(), 3, "both grains and the raw answers were compared: {by_grain:?}");

    // An independent count: NPS answers per channel over everything, by hand.
    let everything = query(vec![Dimension::Channel], vec![], None, DAY0, DAY0 + 200);
    let rows = tallies(&store, &acme, "nps", &everything, TallySource::Fastest).await;
    let total: u64 = rows.iter().map(|row| row.count).sum();
    let raw_total =
        store.answer_tallies(&acme, "nps", &everything, Some(&surveys), TallySource::RawAnswers).await.unwrap();
    assert_eq!(total, raw_total.iter().map(|row| row.count).sum::<u64>());
    assert!(total > 150 && total < 240, "about 90% of acme's responses answered NPS: {total}");
    // The other workspace's answers never show.
    let theirs = tallies(&store, &other, "nps", &everything, TallySource::Fastest).await;
    assert!(theirs.iter().map(|row| row.count).sum::<u64>() <= 12);
}

/// Grouping by a trait reads the customer's latest value across merged identities.
pub async fn trait_groups_follow_the_identity_graph(store: Store) {
    let acme = workspace(&store, "acme").await;
    ingest(
        &store,
        &acme,
        &[
            json!({"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com", "plan": "free", "seats": 5},
                   "timestamp": "2025-01-01T00:00:00Z"}),
            json!({"type": "identify", "userId": "u2", "traits": {"email": "bob@example.com", "plan": "pro", "seats": 10},
                   "timestamp": "2025-01-01T00:00:00Z"}),
            // Ann's phone becomes hers later, and her plan changes on that channel.
            json!({"type": "identify", "anonymousId": "tablet", "traits": {"phone": "+49 151 1234567", "plan": "pro"},
                   "timestamp": "2025-02-01T00:00:00Z"}),
            json!({"type": "track", "userId": "u1", "anonymousId": "tablet", "event": "Signed In",
                   "timestamp": "2025-02-02T00:00:00Z"}),
        ],
    )
    .await;
    let survey = store.create_survey(&acme, &definition()).await.unwrap().id;
    let respond = |identity: &str, nps: i64| NewResponse {
        survey_id: survey.clone(),
        version: 1,
        identity_key: Identity::parse_typed(identity).unwrap().key(),
        channel: Some("email".into()),
        touchpoint: None,
        agent: None,
        submitted_at_ms: (DAY0 + 10) * MS_PER_DAY,
        received_at_ms: 0,
        idempotency_key: None,
        answers: check_answers(&definition(), json!({"nps": nps}).as_object().unwrap()).unwrap(),
        feedback: Vec::new(),
        invitation: None,
    };
    for (identity, nps) in [
        ("email:ann@example.com", 10),
        ("phone:+491511234567", 9),
        ("email:bob@example.com", 3),
        ("email:nobody@example.com", 7),
    ] {
        store.insert_response(&acme, &respond(identity, nps)).await.unwrap();
    }
    let by_plan = query(vec![Dimension::Trait("plan".into())], vec![], None, DAY0, DAY0 + 20);
    let rows = tallies(&store, &acme, "nps", &by_plan, TallySource::Fastest).await;
    let mut counts: BTreeMap<(Option<String>, i64), u64> = BTreeMap::new();
    for row in rows {
        *counts.entry((row.values[0].clone(), row.score)).or_default() += row.count;
    }
    // Ann's answers (by e-mail and by phone) count under her latest plan, pro, like Bob's.
    let expected = BTreeMap::from([
        ((None, 7), 1),
        ((Some("pro".to_string()), 3), 1),
        ((Some("pro".to_string()), 9), 1),
        ((Some("pro".to_string()), 10), 1),
    ]);
    assert_eq!(counts, expected);

    let pro_by_seats = query(
        vec![Dimension::Trait("seats".into())],
        vec![Filter { dimension: Dimension::Trait("plan".into()), values: vec!["pro".into()] }],
        None,
        DAY0,
        DAY0 + 20,
    );
    let rows = tallies(&store, &acme, "nps", &pro_by_seats, TallySource::Fastest).await;
    let seats: Vec<(Option<String>, i64)> = rows.iter().map(|row| (row.values[0].clone(), row.score)).collect();
    assert_eq!(seats, [(Some("10".into()), 3), (Some("5".into()), 9), (Some("5".into()), 10)]);
    let numeric_filter = query(
        vec![],
        vec![Filter { dimension: Dimension::Trait("seats".into()), values: vec!["10".into()] }],
        None,
        DAY0,
        DAY0 + 20,
    );
    let rows = tallies(&store, &acme, "nps", &numeric_filter, TallySource::Fastest).await;
    assert_eq!(rows.iter().map(|row| row.count).sum::<u64>(), 1);
}

pub async fn metric_settings_are_kept_per_workspace(store: Store) {
    let (acme, other) = (workspace(&store, "acme").await, workspace(&store, "other").await);
    assert_eq!(store.metric_settings(&acme).await.unwrap().min_n, 30, "defaults before anything is saved");
    let settings = parse_settings(
        &json!({"minN": 50, "targets": {"nps": 40}, "benchmarks": [{"metric": "nps", "name": "Retail", "score": 32}]}),
    )
    .unwrap();
    store.put_metric_settings(&acme, &settings).await.unwrap();
    let changed = parse_settings(&json!({"minN": 60})).unwrap();
    store.put_metric_settings(&acme, &changed).await.unwrap();
    assert_eq!(store.metric_settings(&acme).await.unwrap(), changed);
    assert_eq!(store.metric_settings(&other).await.unwrap().min_n, 30);
    let _: Value = serde_json::to_value(&settings).unwrap();
}

/// Reports by trait and account while the identity graph and traits change between them (new
/// answers, new traits, merges, an undone merge): the fastest source (on SQLite, the in-memory
/// answer index, kept current incrementally) must return exactly what the raw answers return.
pub async fn trait_reports_stay_exact_as_the_graph_changes(store: Store) {
    let acme = workspace(&store, "acme").await;
    let survey = store.create_survey(&acme, &definition()).await.unwrap().id;
    let mut rng = StdRng::seed_from_u64(11);
    let plans = ["free", "pro", "enterprise"];
    let identify = |user: usize, plan: &str, at: &str| json!({"type": "identify", "userId": format!("u{user}"), "traits": {"plan": plan, "seats": user % 4}, "timestamp": at});
    let first: Vec<Value> = (0..20).map(|user| identify(user, plans[user % 3], "2025-01-01T00:00:00Z")).collect();
    ingest(&store, &acme, &first).await;
    let mut day = DAY0;
    let mut respond = |rng: &mut StdRng, identity: String| {
        day += 1;
        let (nps, csat): (i64, i64) = (rng.random_range(0..=10), rng.random_range(1..=5));
        let answers = json!({"nps": nps, "csat": {"score": csat, "knowledge": 3}});
        NewResponse {
            survey_id: survey.clone(),
            version: 1,
            identity_key: identity,
            channel: Some(if rng.random_bool(0.5) { "email" } else { "sms" }.to_owned()),
            touchpoint: None,
            agent: Some(if rng.random_bool(0.5) { "ann" } else { "bob" }.to_owned()),
            submitted_at_ms: (day % 60 + DAY0) * MS_PER_DAY,
            received_at_ms: 0,
            idempotency_key: None,
            answers: check_answers(&definition(), answers.as_object().unwrap()).unwrap(),
            feedback: Vec::new(),
            invitation: None,
        }
    };
    let queries = [
        (vec![Dimension::Trait("plan".into())], vec![], None),
        (vec![Dimension::Trait("seats".into()), Dimension::Channel], vec![], Some(Bucket::Month)),
        (
            vec![Dimension::Account],
            vec![Filter { dimension: Dimension::Trait("plan".into()), values: vec!["pro".into()] }],
            None,
        ),
        (
            vec![Dimension::Agent, Dimension::Channel],
            vec![Filter { dimension: Dimension::Account, values: vec!["acme-corp".into()] }],
            Some(Bucket::Week),
        ),
        (vec![Dimension::ServiceDimension, Dimension::Trait("plan".into())], vec![], None),
    ];
    for round in 0..6 {
        // New answers, from known users and from anonymous visitors who may be identified later.
        for _ in 0..25 {
            let identity = if rng.random_bool(0.7) {
                format!("userId:u{}", rng.random_range(0..20))
            } else {
                format!("anonymousId:visitor-{}", rng.random_range(0..10))
            };
            let response = respond(&mut rng, identity);
            store.insert_response(&acme, &response).await.unwrap();
        }
        // A server builds the index in the background at start: built ahead or on demand, the
        // same reports.
        if round % 3 == 0 {
            let sqlite = store.kind() == rapport_store::BackendKind::Sqlite;
            assert_eq!(store.warm_answer_indexes().await.unwrap(), usize::from(sqlite));
        }
        for (dimensions, filters, bucket) in &queries {
            for kind in ["nps", "csat"] {
                let query = query(dimensions.clone(), filters.clone(), *bucket, DAY0, DAY0 + 70);
                let fast = tallies(&store, &acme, kind, &query, TallySource::Fastest).await;
                let raw = tallies(&store, &acme, kind, &query, TallySource::RawAnswers).await;
                assert_eq!(fast, raw, "round {round}: {kind} {query:?}");
            }
        }
        // Then the graph changes: plans change, visitors are identified (merging them into a
        // user, whose plan they then share), customers join accounts; once, a merge is undone.
        let user = rng.random_range(0..20);
        let visitor = rng.random_range(0..10);
        let at = format!("2025-02-{:02}T00:00:00Z", round + 1);
        let account = ["acme-corp", "globex"][rng.random_range(0..2)];
        let changes = vec![
            identify(user, plans[rng.random_range(0..3)], &at),
            json!({"type": "identify", "userId": format!("u{}", rng.random_range(0..20)), "anonymousId": format!("visitor-{visitor}"), "timestamp": at}),
            json!({"type": "group", "userId": format!("u{}", rng.random_range(0..20)), "groupId": account, "timestamp": at}),
        ];
        ingest(&store, &acme, &changes).await;
        if round == 3 {
            let customer = store
                .customer_by_identity(
                    &acme,
                    &rapport_core::identity::Identity::parse_typed(&format!("anonymousId:visitor-{visitor}")).unwrap(),
                )
                .await
                .unwrap()
                .unwrap();
            let merges = store.merges_of(&acme, &customer).await.unwrap().unwrap_or_default();
            if let Some(merge) = merges.iter().find(|merge| merge.outcome == "merged") {
                store.undo_merge(&acme, &merge.id).await.unwrap();
            }
        }
    }
}
