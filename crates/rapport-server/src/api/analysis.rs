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
/// CSAT; `touchpoint:NAME`; `channel:NAME`) over `from..to` (default the last 90 days), each
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

/// Key drivers of `metric` (`nps` or `csat`) over `from..to` (default the last 90 days): Johnson's
/// relative weights of the taxonomy's topics (mentioned in a response's comments or not), which
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
    params::only(&parameters, &["from", "to", "metric", "bootstrap"])?;
    let (from, to) = params::range(&parameters, 90)?;
    let metric = parameters.get("metric").map_or("nps", String::as_str);
    let rounds = match parameters.get("bootstrap") {
        None => 200,
        Some(text) => text.parse::<usize>().ok().filter(|n| (20..=2_000).contains(n)).ok_or_else(|| {
            ApiError::invalid_parameter("bootstrap", format!("`{text}` is not a number from 20 to 2000"))
        })?,
    };
    Ok(Json(analysis::driver_report(&state.store, &caller.workspace, metric, from, to, rounds).await?))
}
