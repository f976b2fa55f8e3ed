//! `/v1/metrics…`: CX metrics with their n, interval and change (`/v1/metrics/{metric}`), two
//! groups compared (`…/compare`), and the workspace's metric settings (targets, benchmarks).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use rapport_core::auth::Permission;
use rapport_core::metrics::query::RawQuery;
use rapport_core::metrics::settings::MetricSettings;
use rapport_store::records::TallySource;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::services::json_body::read_json;
use crate::services::metrics::{ComparisonReport, MetricReport, compare_groups, metric_report, save_settings};

const REPORT_PARAMETERS: [&str; 7] = ["from", "to", "group_by", "filter", "min_n", "satisfied_from", "journey"];

/// The query string of a metric report (documentation; the handler reads the raw pairs so that a
/// misspelt parameter is an error, not silently ignored).
#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportParams {
    /// First day, `YYYY-MM-DD` (UTC, inclusive). Default: 364 days before `to`.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC, inclusive). Default: today.
    pub to: Option<String>,
    /// Comma-separated: at most one of `day`, `week`, `month`, `quarter`, and any of `survey`,
    /// `question`, `dimension`, `touchpoint`, `channel`, `agent`, `account`, `journey_stage` (with
    /// `journey`), `traits.<key>` (4 at most).
    pub group_by: Option<String>,
    /// Comma-separated `field:value|value…` on the same fields as `group_by`.
    pub filter: Option<String>,
    /// Figures on fewer answers are flagged `low_n` (default: the workspace's setting, 30).
    pub min_n: Option<String>,
    /// CSAT: the lowest score counted as satisfied (default: the workspace's setting, 4).
    pub satisfied_from: Option<String>,
    /// The journey (id) whose stages `journey_stage` means: each answer's touchpoint is placed in
    /// the stage of the journey touchpoint whose `feedbackTouchpoint` it is.
    pub journey: Option<String>,
}

/// `parameters` to a `RawQuery`, rejecting any name that is neither a report parameter nor in `extra`.
fn raw_query(parameters: &BTreeMap<String, String>, extra: &[&str]) -> Result<RawQuery, ApiError> {
    if let Some(unknown) =
        parameters.keys().find(|key| !REPORT_PARAMETERS.contains(&key.as_str()) && !extra.contains(&key.as_str()))
    {
        let expected: Vec<&str> = REPORT_PARAMETERS.iter().chain(extra).copied().collect();
        return Err(ApiError::invalid_parameter(
            unknown,
            format!("unknown parameter: expected {}", expected.join(", ")),
        ));
    }
    let get = |name: &str| parameters.get(name).cloned();
    Ok(RawQuery {
        from: get("from"),
        to: get("to"),
        group_by: get("group_by"),
        filter: get("filter"),
        min_n: get("min_n"),
        satisfied_from: get("satisfied_from"),
        journey: get("journey"),
    })
}

/// A metric (`nps`, `enps`, `csat`, `ces`, `rating`, `response_rate`, `churn_rate`) over a date range, grouped
/// and filtered: each group with `n`, `score`, a 95% interval (`ci_low`, `ci_high`), the counts
/// behind it, `low_n` below the minimum n, the previous period and the change (difference,
/// interval, p-value, Benjamini-Hochberg q-value over the groups), and the gaps to the target and
/// benchmarks. Formulas: METRICS.md.
#[utoipa::path(get, path = "/v1/metrics/{metric}", tag = "metrics",
    params(("metric" = String, Path, description = "nps, enps, csat, ces, rating, response_rate or churn_rate"), ReportParams),
    responses((status = 200, body = MetricReport), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(metric): Path<String>,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<MetricReport>, ApiError> {
    caller.require(Permission::Read)?;
    let raw = raw_query(&parameters, &[])?;
    let now = rapport_store::now_ms();
    Ok(Json(metric_report(&state.store, &caller.workspace, &metric, &raw, now, TallySource::Fastest).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CompareParams {
    /// The first group, in `filter` syntax (`channel:email`).
    pub a: String,
    /// The second group (`channel:sms|web`).
    pub b: String,
    /// `from`, `to`, `filter` (applied to both), `min_n`, `satisfied_from` as for a report.
    pub from: Option<String>,
}

/// Two groups of one metric over the same range: each figure, and `b − a` with its 95% interval
/// and the two-sided z-test p-value.
#[utoipa::path(get, path = "/v1/metrics/{metric}/compare", tag = "metrics",
    params(("metric" = String, Path, description = "nps, enps, csat, ces, rating, response_rate or churn_rate"), CompareParams),
    responses((status = 200, body = ComparisonReport), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn compare(
    State(state): State<AppState>,
    caller: Caller,
    Path(metric): Path<String>,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<ComparisonReport>, ApiError> {
    caller.require(Permission::Read)?;
    let raw = raw_query(&parameters, &["a", "b"])?;
    if raw.group_by.is_some() {
        return Err(ApiError::invalid_parameter("group_by", "a comparison is of two groups: give them as `a` and `b`"));
    }
    let group = |name: &str| {
        parameters
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::invalid_parameter(name, "required: a group in filter syntax (`channel:email`)"))
    };
    let (a, b) = (group("a")?, group("b")?);
    let now = rapport_store::now_ms();
    Ok(Json(compare_groups(&state.store, &caller.workspace, &metric, &raw, (&a, &b), now).await?))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub min_n: u64,
    pub satisfied_from: i64,
    #[schema(value_type = Object)]
    pub targets: BTreeMap<String, f64>,
    #[schema(value_type = Vec<Object>)]
    pub benchmarks: Vec<rapport_core::metrics::settings::Benchmark>,
    /// `activeEvents` and `cancelEvents`: what churn means here (null until set).
    #[schema(value_type = Option<Object>)]
    pub churn: Option<rapport_core::metrics::settings::ChurnDefinition>,
}

impl From<MetricSettings> for SettingsView {
    fn from(settings: MetricSettings) -> SettingsView {
        SettingsView {
            min_n: settings.min_n,
            satisfied_from: settings.satisfied_from,
            targets: settings.targets,
            benchmarks: settings.benchmarks,
            churn: settings.churn,
        }
    }
}

/// The workspace's metric settings (the defaults until saved).
#[utoipa::path(get, path = "/v1/metrics/settings", tag = "metrics",
    responses((status = 200, body = SettingsView)), security(("bearer" = []), ("basic" = [])))]
pub async fn get_settings(State(state): State<AppState>, caller: Caller) -> Result<Json<SettingsView>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(state.store.metric_settings(&caller.workspace).await?.into()))
}

/// Replaces the workspace's metric settings (admin): `minN`, `satisfiedFrom`, `targets`
/// (metric → score), `benchmarks` (`metric`, `name`, `score`, `source`) and `churn`
/// (`activeEvents`, `cancelEvents`: the events that make a customer active and those that mean
/// they cancelled). Fields left out take their defaults.
#[utoipa::path(put, path = "/v1/metrics/settings", tag = "metrics",
    request_body(content = Object, description = "`minN`, `satisfiedFrom`, `targets`, `benchmarks`"),
    responses((status = 200, body = SettingsView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SettingsView>, ApiError> {
    caller.require(Permission::Analyse)?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let value = read_json(content_type, &body, 64 * 1024)?;
    let saved = save_settings(&state.store, &caller.workspace, &value).await?;
    crate::services::audit::record(&state.store, &caller, "settings.metrics", "", serde_json::Value::Null).await;
    Ok(Json(saved.into()))
}
