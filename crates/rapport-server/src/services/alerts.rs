//! Spike alerts as a service: one evaluation of a workspace reads hourly counts of negative
//! mentions per topic and per source, tests the last hour and the last day against a seasonal
//! baseline (`rapport_text::spikes`), keeps only what the more specific alerts do not explain,
//! and raises, extends or closes alerts (one per topic or source while its spike lasts), with an
//! `alert.raised` domain event for each new one in the same transaction.
//!
//! "Explained": each alerting topic (sub-topics first, then the most significant) is tested again
//! without the items of the topics already kept, and each source without the items of every kept
//! topic; it alerts only if still significant at the evaluation's Benjamini-Hochberg threshold. A
//! burst of "login bug" complaints from the app raises one alert, on login, not also one on app
//! performance and one on the app as a source.

use std::collections::{BTreeMap, BTreeSet};

use rapport_core::ids::WorkspaceId;
use rapport_store::Store;
use rapport_store::feedback_records::{AlertChanges, AlertRecord, CountBy};
use rapport_text::spikes::{self, Detection, HOUR_MS, Seasonality, SpikeTest};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::services::feedback::{settings, taxonomy};
use crate::services::rfc3339;

/// Negative items shown with an alert.
const EXAMPLES: usize = 3;

/// What one evaluation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub at_ms: i64,
    pub tests: usize,
    pub raised: Vec<AlertRecord>,
    pub extended: usize,
    pub closed: usize,
}

fn split_key(key: &str) -> (&str, &str) {
    key.split_once(':').unwrap_or(("topic", key))
}

fn test_json(test: &SpikeTest) -> Value {
    json!({
        "granularity": test.granularity,
        "start": rfc3339(test.window_start_ms),
        "end": rfc3339(test.window_end_ms),
        "observed": test.observed,
        "expected": (test.expected * 100.0).round() / 100.0,
        "baseline": test.baseline,
        "pValue": test.p_value,
        "qValue": test.q_value,
    })
}

/// Evaluates one workspace at `now_ms` (windows end at the last whole hour before it).
pub async fn evaluate(store: &Store, workspace: &WorkspaceId, now_ms: i64) -> Result<Evaluation, ApiError> {
    let settings = settings(store, workspace).await?.alerts;
    let (from, to) = spikes::read_span(&settings, now_ms);
    let [_, (_, day_start, _)] = spikes::windows(now_ms);
    let volume: BTreeMap<i64, u64> = store
        .feedback_counts(workspace, CountBy::All, from, to, HOUR_MS)
        .await?
        .into_iter()
        .map(|c| (c.bucket_ms, c.total))
        .collect();
    let Some(&data_start) = volume.keys().next() else {
        return close_all(store, workspace, now_ms, 0).await;
    };
    let seasonality = Seasonality::from_volume(&volume, data_start.max(from), day_start);
    let mut series: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    for (by, scope) in [(CountBy::Topic, "topic"), (CountBy::Source, "source")] {
        for count in store.feedback_counts(workspace, by, from, to, HOUR_MS).await? {
            if count.negative > 0 {
                series.entry(format!("{scope}:{}", count.key)).or_default().insert(count.bucket_ms, count.negative);
            }
        }
    }
    let series: Vec<(String, BTreeMap<i64, u64>)> = series.into_iter().collect();
    let detection = spikes::detect(&settings, now_ms, &seasonality, data_start, &series);
    let candidates = explained_away(store, workspace, &settings, &seasonality, data_start, &detection, now_ms).await?;

    let open = store.alerts(workspace, Some("open"), 10_000).await?;
    let mut changes = AlertChanges::default();
    let mut payloads = Vec::new();
    let mut continuing = BTreeSet::new();
    for (key, tests) in &candidates {
        let (scope, subject) = split_key(key);
        // The narrowest significant window is the alert's.
        let window = tests.iter().min_by_key(|t| t.granularity).expect("a candidate has a test");
        let examples = store
            .negative_examples(workspace, scope, subject, window.window_start_ms, window.window_end_ms, EXAMPLES)
            .await?;
        let detail = json!({
            "granularity": window.granularity,
            "observed": window.observed,
            "expected": (window.expected * 100.0).round() / 100.0,
            "pValue": window.p_value,
            "qValue": window.q_value,
            "windows": tests.iter().map(test_json).collect::<Vec<_>>(),
            "examples": examples.iter().map(|e| json!({"id": e.id, "text": e.text, "source": e.source, "occurredAt": rfc3339(e.occurred_at_ms)})).collect::<Vec<_>>(),
        });
        match open.iter().find(|a| a.scope == scope && a.subject == subject) {
            Some(alert) => {
                continuing.insert(alert.id.clone());
                let mut detail = detail;
                detail["evaluations"] = Value::from(alert.detail["evaluations"].as_u64().unwrap_or(1) + 1);
                detail["first"] = alert.detail.get("first").cloned().unwrap_or_else(|| alert.detail.clone());
                changes.extended.push(AlertRecord {
                    updated_at_ms: now_ms,
                    window_end_ms: alert.window_end_ms.max(window.window_end_ms),
                    detail,
                    ..alert.clone()
                });
            }
            None => {
                let mut detail = detail;
                detail["evaluations"] = Value::from(1);
                let alert = AlertRecord {
                    id: uuid::Uuid::now_v7().to_string(),
                    scope: scope.to_owned(),
                    subject: subject.to_owned(),
                    status: "open".to_owned(),
                    raised_at_ms: now_ms,
                    updated_at_ms: now_ms,
                    window_start_ms: window.window_start_ms,
                    window_end_ms: window.window_end_ms,
                    detail,
                };
                payloads.push(
                    json!({"type": "alert.raised", "workspace": workspace.as_str(), "alert": alert_json(&alert)}),
                );
                changes.raised.push(alert);
            }
        }
    }
    changes.closed = open.iter().filter(|a| !continuing.contains(&a.id)).map(|a| a.id.clone()).collect();
    let raised_ids = store.apply_alert_changes(workspace, &changes, &payloads).await?;
    for alert in changes.raised.iter().filter(|a| raised_ids.contains(&a.id)) {
        crate::services::cases::open_from_alert(store, workspace, alert).await?;
    }
    Ok(Evaluation {
        at_ms: now_ms,
        tests: detection.tests.len(),
        extended: changes.extended.len(),
        closed: changes.closed.len(),
        raised: changes.raised.into_iter().filter(|a| raised_ids.contains(&a.id)).collect(),
    })
}

/// No feedback in the read span: every open alert is over.
async fn close_all(store: &Store, workspace: &WorkspaceId, now_ms: i64, tests: usize) -> Result<Evaluation, ApiError> {
    let open = store.alerts(workspace, Some("open"), 10_000).await?;
    let changes = AlertChanges { closed: open.iter().map(|a| a.id.clone()).collect(), ..AlertChanges::default() };
    store.apply_alert_changes(workspace, &changes, &[]).await?;
    Ok(Evaluation { at_ms: now_ms, tests, raised: Vec::new(), extended: 0, closed: changes.closed.len() })
}

/// The alerting tests by key, without those that stronger alerts explain. Topics are taken
/// sub-topics first, then by p-value; each is tested again without the items of the topics already
/// kept (never its own parent), and a source without the items of every kept topic. What is no
/// longer significant at the evaluation's Benjamini-Hochberg threshold, or no longer large enough,
/// is the same spike seen through another word: a burst of "login bug" complaints is one alert on
/// login, not a second on app performance (for "bug") and a third on the app (their source).
async fn explained_away(
    store: &Store,
    workspace: &WorkspaceId,
    settings: &spikes::SpikeSettings,
    seasonality: &Seasonality,
    data_start: i64,
    detection: &Detection,
    now_ms: i64,
) -> Result<BTreeMap<String, Vec<SpikeTest>>, ApiError> {
    let mut candidates: BTreeMap<String, Vec<SpikeTest>> = BTreeMap::new();
    for &i in &detection.alerts {
        let test = &detection.tests[i];
        candidates.entry(test.key.clone()).or_default().push(test.clone());
    }
    let taxonomy = taxonomy(store, workspace).await?;
    let parent_of = |topic: &str| taxonomy.topics.iter().find(|t| t.id == topic).and_then(|t| t.parent.clone());
    let strongest = |tests: &[SpikeTest]| tests.iter().map(|t| t.p_value).fold(1.0, f64::min);
    let mut order: Vec<(String, Vec<SpikeTest>)> = candidates.into_iter().collect();
    // Topics before sources; sub-topics before topics; then the most significant first.
    order.sort_by(|(a, ta), (b, tb)| {
        let rank = |key: &str| match split_key(key) {
            ("topic", topic) if parent_of(topic).is_some() => 0,
            ("topic", _) => 1,
            _ => 2,
        };
        rank(a).cmp(&rank(b)).then(strongest(ta).total_cmp(&strongest(tb)))
    });
    let (from, to) = spikes::read_span(settings, now_ms);
    let mut kept: BTreeMap<String, Vec<SpikeTest>> = BTreeMap::new();
    let mut kept_topics: Vec<String> = Vec::new();
    for (key, tests) in order {
        let (scope, subject) = split_key(&key);
        let own_parent = if scope == "topic" { parent_of(subject) } else { None };
        let excluded: Vec<String> =
            kept_topics.iter().filter(|t| Some(t.as_str()) != own_parent.as_deref()).cloned().collect();
        let still = if excluded.is_empty() {
            tests
        } else {
            let rest = store.negative_counts_excluding(workspace, scope, subject, &excluded, from, to).await?;
            spikes::windows(now_ms)
                .into_iter()
                .filter_map(|window| spikes::test_window(settings, seasonality, data_start, &key, &rest, window))
                .filter(|test| test.p_value <= detection.p_threshold && settings.large_enough(test))
                .collect()
        };
        if still.is_empty() {
            tracing::debug!(workspace = %workspace.as_str(), key, "spike explained by a stronger alert");
            continue;
        }
        if scope == "topic" {
            kept_topics.push(subject.to_owned());
        }
        kept.insert(key, still);
    }
    Ok(kept)
}

/// An alert as the API shows it.
pub fn alert_json(alert: &AlertRecord) -> Value {
    let mut value = json!({
        "id": alert.id,
        "scope": alert.scope,
        "status": alert.status,
        "raisedAt": rfc3339(alert.raised_at_ms),
        "updatedAt": rfc3339(alert.updated_at_ms),
        "window": {"start": rfc3339(alert.window_start_ms), "end": rfc3339(alert.window_end_ms),
                   "granularity": alert.detail["granularity"]},
        "observed": alert.detail["observed"],
        "expected": alert.detail["expected"],
        "pValue": alert.detail["pValue"],
        "qValue": alert.detail["qValue"],
        "evaluations": alert.detail["evaluations"],
        "windows": alert.detail["windows"],
        "examples": alert.detail["examples"],
    });
    // `"topic": "login"` or `"source": "app-store"`.
    value[alert.scope.as_str()] = Value::from(alert.subject.clone());
    value
}

/// Evaluates every workspace (the server does this each hour); a workspace that fails is logged
/// and the others are still evaluated. Returns how many alerts were raised.
pub async fn evaluate_all(store: &Store, now_ms: i64) -> Result<usize, ApiError> {
    let mut raised = 0;
    for workspace in store.workspace_ids().await? {
        match evaluate(store, &workspace, now_ms).await {
            Ok(evaluation) => {
                for alert in &evaluation.raised {
                    tracing::info!(workspace = %workspace.as_str(), scope = %alert.scope, subject = %alert.subject, "alert raised");
                }
                raised += evaluation.raised.len();
            }
            Err(error) => {
                tracing::warn!(workspace = %workspace.as_str(), error = %error.message, "evaluating spike alerts failed");
            }
        }
    }
    Ok(raised)
}
