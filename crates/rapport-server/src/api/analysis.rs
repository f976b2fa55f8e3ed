//! `/v1/analysis…`: the macro loop, what leadership should fix: root causes and key drivers.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use rapport_core::auth::Permission;
use serde_json::Value;

use crate::AppState;
use crate::api::params;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::services::analysis;

/// Root causes: for `group` (`detractors`, `passives`, `promoters` for NPS; `low`, `high` for
/// CSAT; `touchpoint:NAME`; `channel:NAME`; a segment `traits.KEY:VALUE`) over `from..to` (default the last 90 days), each
/// topic's share of the group's responses whose comments mention it against the rest's, with 95%
/// intervals, the difference, its interval and q-value; largest difference first. `metric`: `nps`
/// (default) or `csat`.
#[utoipa::path(get, path = "/v1/analysis/root-causes", tag = "analysis",
    responses((status = 200, description = "`topics`: shares compared"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn root_causes(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(&parameters, &["from", "to", "metric", "group"])?;
    let (from, to) = params::range(&parameters, 90)?;
    let metric = parameters.get("metric").map_or("nps", String::as_str);
    let group = parameters.get("group").map_or(if metric == "csat" { "low" } else { "detractors" }, String::as_str);
    Ok(Json(analysis::root_cause_report(&state.store, &caller.workspace, metric, group, from, to).await?))
}

/// Key drivers of `metric` (`nps` or `csat`) over `from..to` (default the last 90 days), `by`
/// `topics` (default: each top-level topic mentioned in a response's comments or not),
/// `topic_sentiment` (the sentiment of the sentences mentioning it), `touchpoints` or `dimensions`
/// (CSAT service-dimension scores): Johnson's
/// relative weights, which
/// sum to the model's R², with percentile-bootstrap 95% intervals (`bootstrap` resamples, 20-2000,
/// default 200), each driver's importance (share of R²), performance (the metric's mean where it is
/// mentioned minus the overall mean) and quadrant (`fix_first`, `keep`, `monitor`, `secondary`).
#[utoipa::path(get, path = "/v1/analysis/drivers", tag = "analysis",
    responses((status = 200, description = "`rSquared` and `drivers`, most important first"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn drivers(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(&parameters, &["from", "to", "metric", "by", "bootstrap"])?;
    let (from, to) = params::range(&parameters, 90)?;
    let metric = parameters.get("metric").map_or("nps", String::as_str);
    let rounds = match parameters.get("bootstrap") {
        None => 200,
        Some(text) => text.parse::<usize>().ok().filter(|n| (20..=2_000).contains(n)).ok_or_else(|| {
            ApiError::invalid_parameter("bootstrap", format!("`{text}` is not a number from 20 to 2000"))
        })?,
    };
    let by = parameters.get("by").map_or("topics", String::as_str);
    Ok(Json(analysis::driver_report(&state.store, &caller.workspace, metric, by, from, to, rounds).await?))
}

/// Action plans: initiatives tied to a topic or touchpoint (`GET` lists them; `POST` (admin)
/// creates one: `title`, `topic` and/or `touchpoint`, `owner`, `status` (planned, in_progress,
/// done, cancelled), `startsOn`, `dueOn`, `actions` [{`title`, `done`}]).
#[utoipa::path(get, path = "/v1/action-plans", tag = "analysis",
    responses((status = 200, description = "`data`: plans")), security(("bearer" = []), ("basic" = [])))]
pub async fn list_plans(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(analysis::plans(&state.store, &caller.workspace, None, 0).await?))
}

#[utoipa::path(post, path = "/v1/action-plans", tag = "analysis",
    request_body(content = Object, description = "The plan"),
    responses((status = 201, description = "The plan with its id"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create_plan(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::Analyse)?;
    let value = crate::services::json_body::read_json_request(&headers, &body, 64 * 1024)?;
    let plan = analysis::create_plan(&state.store, &caller.workspace, &value).await?;
    let target = format!("action_plan:{}", plan["id"].as_str().unwrap_or_default());
    crate::services::audit::record(&state.store, &caller, "action_plan.created", &target, Value::Null).await;
    Ok((axum::http::StatusCode::CREATED, Json(plan)))
}

/// One plan with its effect: NPS (with its interval) and the share of responses whose comments
/// mention the plan's topic (Wilson interval), over `days` days (default 30, 7-365) before and
/// after `startsOn`, only the plan's touchpoint's responses when it has one; the differences with
/// their intervals and p-values.
#[utoipa::path(get, path = "/v1/action-plans/{id}", tag = "analysis",
    params(("id" = String, Path, description = "The plan's id")),
    responses((status = 200, description = "The plan and `effect`"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_plan(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(&parameters, &["days"])?;
    let days =
        match parameters.get("days") {
            None => 30,
            Some(text) => text.parse::<i64>().ok().filter(|d| (7..=365).contains(d)).ok_or_else(|| {
                ApiError::invalid_parameter("days", format!("`{text}` is not a number from 7 to 365"))
            })?,
        };
    Ok(Json(analysis::plans(&state.store, &caller.workspace, Some(&id), days).await?))
}

/// Replaces a plan (admin): its status, owner, sub-actions done…
#[utoipa::path(put, path = "/v1/action-plans/{id}", tag = "analysis",
    params(("id" = String, Path, description = "The plan's id")),
    request_body(content = Object, description = "The whole plan"),
    responses((status = 200, description = "The plan"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_plan(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Analyse)?;
    let value = crate::services::json_body::read_json_request(&headers, &body, 64 * 1024)?;
    let plan = analysis::replace_plan(&state.store, &caller.workspace, &id, &value).await?;
    crate::services::audit::record(
        &state.store,
        &caller,
        "action_plan.edited",
        &format!("action_plan:{id}"),
        Value::Null,
    )
    .await;
    Ok(Json(plan))
}
