//! Churn risk, health and lifetime value over what a workspace holds: histories loaded from the
//! store, features and models from `rapport_predict`. Training splits by time: a model fitted on
//! the customers as they were two churn windows ago is validated on them one window ago; the model
//! kept is refitted on both snapshots. Refreshing scores every current customer's churn risk and
//! health and announces the newly flagged.

use std::collections::HashMap;

use rapport_core::ids::WorkspaceId;
use rapport_core::metrics::query::Dimension;
use rapport_predict::churn::{ChurnModel, Scored, permutation_importance};
use rapport_predict::clv::{Projection, Rfm, TimeUnit, Transaction, customer_value, summarise};
use rapport_predict::dataset::Dataset;
use rapport_predict::evaluation::{average_precision, brier, calibration, roc_auc, roc_auc_interval};
use rapport_predict::features::{
    ChurnSettings, CustomerHistory, DAY_MS, FEATURES, ORDER_AMOUNT_PROPERTIES, best_threshold,
};
use rapport_predict::health::{health, percentile};
use rapport_store::Store;
use rapport_store::feedback_records::FeedbackFilter;
use rapport_store::prediction_records::CustomerPrediction;
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorCode, ErrorDetail, problems_phrase};
use crate::services::rfc3339;

/// Churners and others each snapshot needs before a model is trained.
const MIN_PER_CLASS: usize = 10;
/// Factors kept per customer.
const TOP_FACTORS: usize = 3;

pub async fn settings(store: &Store, workspace: &WorkspaceId) -> Result<ChurnSettings, ApiError> {
    match store.churn_settings(workspace).await? {
        None => Ok(ChurnSettings::default()),
        Some(value) => {
            ChurnSettings::parse(&value).map_err(|_| ApiError::internal("stored churn settings do not parse"))
        }
    }
}

pub async fn save_settings(store: &Store, workspace: &WorkspaceId, value: &Value) -> Result<ChurnSettings, ApiError> {
    let settings = ChurnSettings::parse(value).map_err(|problems| {
        let message = format!("the churn settings have {}; nothing was saved", problems_phrase(problems.len()));
        ApiError::new(ErrorCode::InvalidSettings, message).with_details(
            problems.into_iter().map(|(field, problem)| ErrorDetail { index: None, field, problem }).collect(),
        )
    })?;
    store.put_churn_settings(workspace, &serde_json::to_value(&settings).map_err(ApiError::internal)?).await?;
    Ok(settings)
}

/// A property as a number (also from a numeric string).
fn number_property(properties: &Value, names: &[&str]) -> Option<f64> {
    names.iter().find_map(|name| match &properties[*name] {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

/// Every customer's history before `until_ms`, keyed by customer (root).
async fn histories(
    store: &Store,
    workspace: &WorkspaceId,
    settings: &ChurnSettings,
    until_ms: i64,
) -> Result<HashMap<String, CustomerHistory>, ApiError> {
    let mut histories: HashMap<String, CustomerHistory> = HashMap::new();
    store
        .each_customer_event(workspace, until_ms, |event| {
            let name = event.name.as_deref().unwrap_or("");
            let detail: Vec<&str> =
                ["path", "title", "url", "name"].iter().filter_map(|key| event.properties[*key].as_str()).collect();
            let amount = number_property(&event.properties, &ORDER_AMOUNT_PROPERTIES);
            let kind = settings.classify(&event.event_type, name, &detail.join(" "), amount);
            histories.entry(event.customer_id).or_default().events.push((event.timestamp_ms, kind));
        })
        .await?;
    let roots: HashMap<String, String> = store.identity_roots(workspace).await?.into_iter().collect();
    for (question_type, scale) in [("nps", false), ("csat", true)] {
        for response in store.scores_with_topics(workspace, question_type, 0, until_ms).await? {
            if let Some(root) = roots.get(&response.identity_key)
                && let Some(history) = histories.get_mut(root)
            {
                let entry = (response.submitted_at_ms, response.score as f64);
                if scale { history.csat.push(entry) } else { history.nps.push(entry) }
            }
        }
    }
    for case in store.cases(workspace, None, None, None, 1_000_000).await? {
        if let Some(history) =
            case.identity_key.as_ref().and_then(|key| roots.get(key)).and_then(|root| histories.get_mut(root))
        {
            history.cases.push((case.opened_at_ms, case.closed_at_ms.or(case.resolved_at_ms)));
        }
    }
    let filter = FeedbackFilter { to_ms: Some(until_ms), limit: 1_000_000, ..FeedbackFilter::default() };
    for item in store.list_feedback(workspace, &filter).await? {
        if let Some(history) =
            item.identity_key.as_ref().and_then(|key| roots.get(key)).and_then(|root| histories.get_mut(root))
        {
            history.feedback.push((item.occurred_at_ms, item.label == "negative"));
        }
    }
    for (root, plan) in store.customer_values(workspace, &Dimension::Trait(settings.plan_trait.clone())).await? {
        if let Some(history) = histories.get_mut(&root) {
            history.plan = Some(plan);
        }
    }
    for history in histories.values_mut() {
        history.events.sort_by_key(|(at, _)| *at);
        history.nps.sort_by_key(|(at, _)| *at);
        history.csat.sort_by_key(|(at, _)| *at);
    }
    Ok(histories)
}

/// The customers active at `at` whose churn window has passed by `now`: ids, feature rows, labels.
fn snapshot(
    histories: &HashMap<String, CustomerHistory>,
    settings: &ChurnSettings,
    at: i64,
    now: i64,
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut ids: Vec<&String> = histories.keys().collect();
    ids.sort();
    let mut kept = Vec::new();
    let mut rows = Vec::new();
    for id in ids {
        if let Some(churned) = histories[id].churned_after(at, now, settings) {
            let mut row = histories[id].features_at(at);
            row.push(if churned { "yes" } else { "no" }.into());
            kept.push(id.clone());
            rows.push(row);
        }
    }
    (kept, rows)
}

fn headers() -> Vec<String> {
    FEATURES.iter().map(|f| f.to_string()).chain(["churned".to_string()]).collect()
}

fn not_enough(what: &str, at: i64, rows: &[Vec<String>], settings: &ChurnSettings) -> Option<ApiError> {
    let churners = rows.iter().filter(|row| row.last().is_some_and(|l| l == "yes")).count();
    let others = rows.len() - churners;
    (churners < MIN_PER_CLASS || others < MIN_PER_CLASS).then(|| {
        let definition = match &settings.cancellation_event {
            Some(event) => format!("`{event}` within {} days", settings.horizon_days),
            None => format!("no activity for {} days", settings.inactive_days),
        };
        ApiError::new(
            ErrorCode::Conflict,
            format!(
                "not enough history to train: the {what} snapshot ({}) has {churners} churners and {others} other \
                 customers; at least {MIN_PER_CLASS} of each are needed (churn is {definition})",
                rfc3339(at)
            ),
        )
    })
}

/// Trains and validates a churn model (time-based split) and saves it as the next version.
pub async fn train(store: &Store, workspace: &WorkspaceId, now: i64) -> Result<Value, ApiError> {
    train_on(store, workspace, &Known::read(store, workspace, now).await?).await
}

/// What training and scoring read: the workspace's churn settings and every customer's history
/// before `now`.
struct Known {
    settings: ChurnSettings,
    histories: HashMap<String, CustomerHistory>,
    now: i64,
}

impl Known {
    async fn read(store: &Store, workspace: &WorkspaceId, now: i64) -> Result<Known, ApiError> {
        let settings = settings(store, workspace).await?;
        let histories = histories(store, workspace, &settings, now).await?;
        Ok(Known { settings, histories, now })
    }
}

/// Trains a model, then scores every current customer with it, from one read of the workspace's
/// histories (the two apart read them twice): what a bulk load does at its end. The scoring
/// report is `refreshed` in the training report.
pub async fn train_and_refresh(store: &Store, workspace: &WorkspaceId, now: i64) -> Result<Value, ApiError> {
    let known = Known::read(store, workspace, now).await?;
    let mut model = train_on(store, workspace, &known).await?;
    model["refreshed"] = refresh_on(store, workspace, &known).await?;
    Ok(model)
}

async fn train_on(store: &Store, workspace: &WorkspaceId, known: &Known) -> Result<Value, ApiError> {
    let Known { settings, histories, now } = known;
    let now = *now;
    let window = i64::from(settings.window_days()) * DAY_MS;
    let (validate_at, train_at) = (now - window, now - 2 * window);
    let (_, train_rows) = snapshot(histories, settings, train_at, validate_at);
    let (_, validation_rows) = snapshot(histories, settings, validate_at, now);
    if let Some(error) = not_enough("training", train_at, &train_rows, settings)
        .or_else(|| not_enough("validation", validate_at, &validation_rows, settings))
    {
        return Err(error);
    }
    let dataset = |rows: &[Vec<String>]| {
        Dataset::from_cells(&headers(), rows, "churned", None).map_err(|error| ApiError::internal(error.to_string()))
    };
    let (train_data, validation_data) = (dataset(&train_rows)?, dataset(&validation_rows)?);
    let trained =
        ChurnModel::fit(&train_data, settings.model, 0).map_err(|error| ApiError::internal(error.to_string()))?;
    let probabilities = trained.probabilities(&validation_data);
    let labels = &validation_data.labels;
    let churners = labels.iter().filter(|&&l| l).count();
    let auc = roc_auc(&probabilities, labels).unwrap_or(0.5);
    let (auc_low, auc_high) = roc_auc_interval(auc, churners, labels.len() - churners);
    let pairs: Vec<(f64, bool)> = probabilities.iter().copied().zip(labels.iter().copied()).collect();
    let (threshold, chosen_by) = match settings.flag_threshold {
        Some(threshold) => (threshold, "settings"),
        None => (best_threshold(&pairs).map_or(0.5, |(t, _, _)| t), "f1"),
    };
    let flagged: Vec<&(f64, bool)> = pairs.iter().filter(|(p, _)| *p >= threshold).collect();
    let caught = flagged.iter().filter(|(_, l)| *l).count();
    // What the model relies on: the validation AUC lost when a column is shuffled; and how far
    // each column moves customers' scores on average.
    let pull: HashMap<&str, f64> = FEATURES
        .iter()
        .copied()
        .zip(trained.total_abs_contributions(&validation_data))
        .map(|(column, total)| (column, total / validation_data.len() as f64))
        .collect();
    let importance = permutation_importance(&trained, &validation_data, 7);
    // The model kept learns from both snapshots.
    let mut all_rows = train_rows.clone();
    all_rows.extend(validation_rows.iter().cloned());
    let model = ChurnModel::fit(&dataset(&all_rows)?, settings.model, 0)
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let round = |v: f64| (v * 1e4).round() / 1e4;
    let mut summary = json!({
        "trainedAt": rfc3339(now),
        "model": model.learner.name(),
        "definition": {"cancellationEvent": settings.cancellation_event, "windowDays": settings.window_days()},
        "split": {
            "trainAt": rfc3339(train_at), "trainCustomers": train_data.len(),
            "trainChurners": train_data.labels.iter().filter(|&&l| l).count(),
            "validateAt": rfc3339(validate_at), "validationCustomers": validation_data.len(),
            "validationChurners": churners,
        },
        "validation": {
            "n": labels.len(), "churners": churners, "model": trained.learner.name(),
            "rocAuc": round(auc), "rocAucInterval": [round(auc_low), round(auc_high)],
            "prAuc": round(average_precision(&probabilities, labels).unwrap_or(0.0)),
            "brier": round(brier(&probabilities, labels)),
            "calibration": calibration(&probabilities, labels).iter().map(|bin| json!({
                "from": bin.from, "to": bin.to, "n": bin.n,
                "meanPredicted": round(bin.mean_predicted), "observed": round(bin.observed),
            })).collect::<Vec<_>>(),
        },
        "threshold": {
            "value": round(threshold), "chosenBy": chosen_by, "flagged": flagged.len(),
            "precision": if flagged.is_empty() { 0.0 } else { round(caught as f64 / flagged.len() as f64) },
            "recall": if churners == 0 { 0.0 } else { round(caught as f64 / churners as f64) },
        },
        "importance": importance.iter().map(|(column, drop)| json!({
            "column": column, "aucDrop": round(*drop),
            "meanAbsContribution": round(pull.get(column.as_str()).copied().unwrap_or(0.0)),
        })).collect::<Vec<_>>(),
    });
    let document = json!({"model": model, "threshold": threshold});
    let version = store.save_churn_model(workspace, &document, &summary).await?;
    summary["version"] = json!(version);
    Ok(summary)
}

/// The newest model's summary, or 404 before the first training.
pub async fn latest_model(store: &Store, workspace: &WorkspaceId) -> Result<Value, ApiError> {
    let record = store
        .latest_churn_model(workspace)
        .await?
        .ok_or_else(|| ApiError::not_found("no churn model yet: POST /v1/churn/train trains one"))?;
    let mut summary = record.summary;
    summary["version"] = json!(record.version);
    Ok(summary)
}

fn factors_json(scored: &Scored) -> Value {
    serde_json::to_value(&scored.factors).unwrap_or(Value::Null)
}

/// Scores every current customer's churn risk (when a model exists) and health at `now`, replaces
/// the stored predictions and announces the newly flagged.
pub async fn refresh(store: &Store, workspace: &WorkspaceId, now: i64) -> Result<Value, ApiError> {
    refresh_on(store, workspace, &Known::read(store, workspace, now).await?).await
}

async fn refresh_on(store: &Store, workspace: &WorkspaceId, known: &Known) -> Result<Value, ApiError> {
    let Known { settings, histories, now } = known;
    let now = *now;
    let mut ids: Vec<&String> = histories.keys().filter(|id| histories[*id].active_at(now, settings)).collect();
    ids.sort();
    let record = store.latest_churn_model(workspace).await?;
    let model: Option<(ChurnModel, f64, i64)> = match &record {
        Some(record) => {
            let model = serde_json::from_value(record.model["model"].clone()).map_err(ApiError::internal)?;
            Some((model, record.model["threshold"].as_f64().unwrap_or(0.5), record.version))
        }
        None => None,
    };
    let rows: Vec<Vec<String>> = ids.iter().map(|id| histories[*id].features_at(now)).collect();
    let scored: Vec<Option<Scored>> = match &model {
        Some((model, _, _)) => {
            let features: Vec<String> = FEATURES.iter().map(|f| f.to_string()).collect();
            model.score(&Dataset::unlabelled(&features, &rows), TOP_FACTORS).into_iter().map(Some).collect()
        }
        None => vec![None; ids.len()],
    };
    let values = lifetime_values(histories, settings, now);
    // Activity percentiles among the current customers.
    let activity: Vec<f64> = ids.iter().map(|id| histories[*id].activity_30d(now) as f64).collect();
    let mut sorted = activity.clone();
    sorted.sort_by(f64::total_cmp);
    let predictions: Vec<CustomerPrediction> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let score = scored[i].as_ref();
            let inputs =
                histories[*id].health_inputs(now, percentile(&sorted, activity[i]), score.map(|s| s.probability));
            let health = health(&inputs);
            CustomerPrediction {
                customer_id: (*id).clone(),
                churn_probability: score.map(|s| (s.probability * 1e4).round() / 1e4),
                flagged: match (score, &model) {
                    (Some(s), Some((_, threshold, _))) => s.probability >= *threshold,
                    _ => false,
                },
                factors: score.map_or(json!([]), factors_json),
                health_score: health.score,
                health: serde_json::to_value(&health).unwrap_or(Value::Null),
                model_version: model.as_ref().map(|(_, _, version)| *version),
                scored_at_ms: now,
                lifetime_value: values.get(id.as_str()).cloned(),
            }
        })
        .collect();
    let announce = |prediction: &CustomerPrediction| {
        json!({
            "customerId": prediction.customer_id,
            "probability": prediction.churn_probability,
            "factors": prediction.factors,
            "modelVersion": prediction.model_version,
            "healthScore": prediction.health_score,
        })
    };
    let newly = store.replace_predictions(workspace, &predictions, &announce).await?;
    let mut cases_opened = 0;
    for customer in &newly {
        if let Some(prediction) = predictions.iter().find(|p| &p.customer_id == customer) {
            cases_opened += crate::services::cases::open_from_churn_risk(store, workspace, prediction).await?.len();
        }
    }
    let newly = newly.len();
    Ok(json!({
        "scoredAt": rfc3339(now),
        "customers": predictions.len(),
        "modelVersion": model.as_ref().map(|(_, _, version)| *version),
        "flagged": predictions.iter().filter(|p| p.flagged).count(),
        "newlyFlagged": newly,
        "casesOpened": cases_opened,
    }))
}

/// The daily refresh of every workspace that uses prediction (it has churn settings or a model)
/// and was not refreshed in the last day; returns how many customers were newly flagged.
pub async fn refresh_all(store: &Store, now: i64) -> Result<u64, ApiError> {
    let mut newly = 0;
    for workspace in store.workspace_ids().await? {
        if store.churn_settings(&workspace).await?.is_none() && store.latest_churn_model(&workspace).await?.is_none() {
            continue;
        }
        // Refreshed within the day (by another process, or before a restart): nothing to do. A
        // refresh writes one time on every row.
        let last = store.predictions(&workspace, false, None, 1).await?;
        if last.first().is_some_and(|p| (0..86_400_000).contains(&(now - p.scored_at_ms))) {
            continue;
        }
        match refresh(store, &workspace, now).await {
            Ok(report) => newly += report["newlyFlagged"].as_u64().unwrap_or(0),
            Err(error) => {
                tracing::warn!(workspace = %workspace.as_str(), error = %error.message, "refreshing predictions failed")
            }
        }
    }
    Ok(newly)
}

pub fn prediction_json(prediction: &CustomerPrediction) -> Value {
    json!({
        "customerId": prediction.customer_id,
        "churnRisk": prediction.churn_probability.map(|probability| json!({
            "probability": probability,
            "flagged": prediction.flagged,
            "factors": prediction.factors,
            "modelVersion": prediction.model_version,
        })),
        "health": prediction.health,
        "lifetimeValue": prediction.lifetime_value,
        "scoredAt": rfc3339(prediction.scored_at_ms),
    })
}

/// Each account's health: the mean of its scored customers' health scores, with n and the mean
/// of each part.
pub async fn account_health(store: &Store, workspace: &WorkspaceId) -> Result<Value, ApiError> {
    let accounts = store.customer_values(workspace, &Dimension::Account).await?;
    let predictions: HashMap<String, CustomerPrediction> = store
        .predictions(workspace, false, None, 10_000_000)
        .await?
        .into_iter()
        .map(|p| (p.customer_id.clone(), p))
        .collect();
    let mut by_account: std::collections::BTreeMap<String, Vec<&CustomerPrediction>> = Default::default();
    for (customer, account) in &accounts {
        if let Some(prediction) = predictions.get(customer) {
            by_account.entry(account.clone()).or_default().push(prediction);
        }
    }
    let mut rows: Vec<Value> = by_account
        .into_iter()
        .map(|(account, customers)| {
            let n = customers.len() as f64;
            let score = customers.iter().map(|p| p.health_score).sum::<f64>() / n;
            let mut parts: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
            for prediction in &customers {
                for part in prediction.health["parts"].as_array().into_iter().flatten() {
                    let entry = parts.entry(part["part"].as_str().unwrap_or("").to_string()).or_default();
                    entry.0 += part["score"].as_f64().unwrap_or(0.0);
                    entry.1 += 1;
                }
            }
            let flagged = customers.iter().filter(|p| p.flagged).count();
            json!({
                "account": account,
                "customers": customers.len(),
                "score": (score * 10.0).round() / 10.0,
                "band": rapport_predict::health::band(score),
                "flaggedCustomers": flagged,
                "parts": parts.into_iter().map(|(part, (sum, n))| json!({"part": part, "score": (sum / n as f64 * 10.0).round() / 10.0, "customers": n})).collect::<Vec<_>>(),
            })
        })
        .collect();
    rows.sort_by(|a, b| a["score"].as_f64().unwrap_or(0.0).total_cmp(&b["score"].as_f64().unwrap_or(0.0)));
    Ok(json!({"accounts": rows}))
}

/// Fits BG/NBD and Gamma-Gamma on an order log summarised up to `calibration_end`, and values
/// every customer over `horizon` units discounted at `discount_rate` a year.
fn fit_values(
    log: &[Transaction],
    calibration_end: time::Date,
    unit: TimeUnit,
    horizon: f64,
    discount_rate: f64,
) -> Result<Fitted, rapport_predict::clv::ClvError> {
    use rapport_predict::bgnbd::BgNbd;
    use rapport_predict::gamma_gamma::GammaGamma;
    let summary = summarise(log, calibration_end, unit);
    let customers: Vec<Rfm> = summary.iter().map(|c| c.rfm).collect();
    let bgnbd = BgNbd::fit(&customers)?;
    let spend = GammaGamma::fit(&customers)?;
    let year = 365.25 / unit.days();
    let steps = (horizon * unit.days() / 30.4375).round().max(1.0) as u32;
    let projection = Projection {
        horizon,
        steps,
        discount_per_step: (1.0 + discount_rate).powf(horizon / year / f64::from(steps)) - 1.0,
    };
    let values = customers.iter().map(|rfm| customer_value(&bgnbd.params, &spend.params, rfm, &projection)).collect();
    Ok(Fitted { summary, bgnbd, spend, values })
}

struct Fitted {
    summary: Vec<rapport_predict::clv::CustomerSummary>,
    bgnbd: rapport_predict::bgnbd::BgNbdFit,
    spend: rapport_predict::gamma_gamma::GammaGammaFit,
    values: Vec<rapport_predict::clv::CustomerValue>,
}

/// Each customer's lifetime value over the next year (weeks, 10% a year: `GET /v1/clv`'s
/// defaults), fitted on every customer's orders up to now; none when the orders do not fit (too
/// few customers or repeat buyers), which the refresh logs.
fn lifetime_values(
    histories: &HashMap<String, CustomerHistory>,
    settings: &ChurnSettings,
    now: i64,
) -> HashMap<String, Value> {
    let mut log = Vec::new();
    for (customer, history) in histories {
        for (at, kind) in &history.events {
            if let (rapport_predict::features::EventKind::Order(amount), Ok(at)) =
                (kind, time::OffsetDateTime::from_unix_timestamp(at.div_euclid(1000)))
            {
                log.push(Transaction { customer: customer.clone(), day: at.date(), amount: *amount });
            }
        }
    }
    if log.is_empty() {
        return HashMap::new();
    }
    let today = time::OffsetDateTime::from_unix_timestamp(now.div_euclid(1000)).map_or(time::Date::MIN, |t| t.date());
    let unit = TimeUnit::Weeks;
    match fit_values(&log, today, unit, 365.25 / unit.days(), 0.1) {
        Ok(fitted) => fitted
            .summary
            .iter()
            .zip(&fitted.values)
            .map(|(customer, value)| {
                let rounded = |x: f64, places: i32| (x * 10f64.powi(places)).round() / 10f64.powi(places);
                let json = json!({
                    "horizonMonths": 12,
                    "probabilityAlive": rounded(value.probability_alive, 4),
                    "expectedPurchases": rounded(value.expected_purchases, 3),
                    "expectedValue": rounded(value.expected_value, 2),
                });
                (customer.customer.clone(), json)
            })
            .collect(),
        Err(error) => {
            tracing::info!(%error, order_event = %settings.order_event, "no lifetime values: the orders do not fit");
            HashMap::new()
        }
    }
}

/// How customer lifetime value is fitted from `Order Completed` events.
pub struct ClvQuery {
    pub calibration_end: time::Date,
    pub unit: TimeUnit,
    pub horizon: f64,
    pub discount_rate: f64,
}

/// BG/NBD and Gamma-Gamma fitted on the workspace's orders (its order event, amount from
/// `revenue`, `total` or `value`) up to the calibration end, and the most valuable customers.
pub async fn clv(store: &Store, workspace: &WorkspaceId, query: &ClvQuery, top: usize) -> Result<Value, ApiError> {
    let settings = settings(store, workspace).await?;
    let until = (query.calibration_end.midnight().assume_utc().unix_timestamp() + 86_400) * 1000;
    let mut log = Vec::new();
    store
        .each_customer_event(workspace, until, |event| {
            if event.event_type == "track"
                && event.name.as_deref() == Some(settings.order_event.as_str())
                && let Ok(at) = time::OffsetDateTime::from_unix_timestamp(event.timestamp_ms.div_euclid(1000))
            {
                let amount = number_property(&event.properties, &ORDER_AMOUNT_PROPERTIES).unwrap_or(0.0);
                log.push(Transaction { customer: event.customer_id, day: at.date(), amount });
            }
        })
        .await?;
    let unfit = |error: rapport_predict::clv::ClvError| {
        let customers = log.iter().map(|t| t.customer.as_str()).collect::<std::collections::HashSet<_>>().len();
        ApiError::new(
            ErrorCode::Conflict,
            format!("cannot fit lifetime value from {customers} customers' `{}` events: {error}", settings.order_event),
        )
    };
    let Fitted { summary, bgnbd, spend, values } =
        fit_values(&log, query.calibration_end, query.unit, query.horizon, query.discount_rate).map_err(unfit)?;
    let mut values: Vec<(usize, rapport_predict::clv::CustomerValue)> = values.into_iter().enumerate().collect();
    let total: f64 = values.iter().map(|(_, v)| v.expected_value).sum();
    values.sort_by(|a, b| b.1.expected_value.total_cmp(&a.1.expected_value));
    let customers_json: Vec<Value> = values
        .iter()
        .take(top)
        .map(|(i, value)| {
            let c = &summary[*i];
            json!({"customerId": c.customer, "frequency": c.rfm.frequency, "recency": c.rfm.recency, "T": c.rfm.age,
                   "monetaryValue": c.rfm.monetary_value, "value": value})
        })
        .collect();
    Ok(json!({
        "orderEvent": settings.order_event,
        "calibrationEnd": query.calibration_end.to_string(),
        "timeUnit": query.unit,
        "bgnbd": bgnbd,
        "gamma_gamma": spend,
        "warnings": bgnbd.warnings().into_iter().chain(spend.warnings()).collect::<Vec<_>>(),
        "projection": {"horizon": query.horizon, "discountRate": query.discount_rate, "totalExpectedValue": (total * 100.0).round() / 100.0},
        "customers": customers_json,
    }))
}
