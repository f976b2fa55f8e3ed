//! `/v1/churn…`, `/v1/predictions`, `/v1/customers/{id}/prediction`, `/v1/accounts/health` and
//! `/v1/clv`: churn risk, health and lifetime value.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use rapport_core::auth::Permission;
use rapport_predict::clv::TimeUnit;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::params;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::services::json_body::read_json_request;
use crate::services::prediction;

/// How the workspace defines churn (`cancellationEvent` or `inactiveDays`, `horizonDays`), which
/// events are logins, orders and help articles, the plan trait, the model and the flag threshold.
#[utoipa::path(get, path = "/v1/churn/settings", tag = "prediction",
    responses((status = 200, description = "The settings")), security(("bearer" = []), ("basic" = [])))]
pub async fn get_settings(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    let settings = prediction::settings(&state.store, &caller.workspace).await?;
    Ok(Json(serde_json::to_value(settings).map_err(ApiError::internal)?))
}

/// Replaces the churn settings (admin); fields left out take their defaults.
#[utoipa::path(put, path = "/v1/churn/settings", tag = "prediction",
    request_body(content = Object, description = "The settings, as GET returns them"),
    responses((status = 200, description = "The settings"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Analyse)?;
    let value = read_json_request(&headers, &body, 64 * 1024)?;
    let settings = prediction::save_settings(&state.store, &caller.workspace, &value).await?;
    crate::services::audit::record(&state.store, &caller, "settings.churn", "", Value::Null).await;
    Ok(Json(serde_json::to_value(settings).map_err(ApiError::internal)?))
}

fn at_parameter(parameters: &BTreeMap<String, String>) -> Result<i64, ApiError> {
    params::only(parameters, &["at"])?;
    Ok(params::time_parameter("at", parameters.get("at"), false)?.unwrap_or_else(rapport_store::now_ms))
}

/// Trains a churn model (admin) as of now or `at`: fitted on the customers as they were two churn
/// windows before, validated on them one window before (ROC AUC with its 95% interval, PR AUC,
/// Brier score, calibration, the flag threshold's precision and recall), refitted on both and saved
/// as the next version. 409 when either snapshot has fewer than 10 churners or 10 others.
#[utoipa::path(post, path = "/v1/churn/train", tag = "prediction",
    responses((status = 200, description = "The model's summary and version"), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn train(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Analyse)?;
    let at = at_parameter(&parameters)?;
    let trained = prediction::train(&state.store, &caller.workspace, at).await?;
    crate::services::audit::record(&state.store, &caller, "churn.trained", "", Value::Null).await;
    Ok(Json(trained))
}

/// The newest churn model's summary (404 before the first training).
#[utoipa::path(get, path = "/v1/churn/model", tag = "prediction",
    responses((status = 200, description = "The summary"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn model(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(prediction::latest_model(&state.store, &caller.workspace).await?))
}

/// Scores every current customer now or as of `at` (admin): churn risk with the newest model and
/// health; announces newly flagged customers as `customer.churn_risk`. The server does this daily.
#[utoipa::path(post, path = "/v1/predictions/refresh", tag = "prediction",
    responses((status = 200, description = "`customers`, `flagged`, `newlyFlagged`")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Analyse)?;
    let at = at_parameter(&parameters)?;
    Ok(Json(prediction::refresh(&state.store, &caller.workspace, at).await?))
}

/// Customers' latest predictions, highest churn risk first; `flagged=true` for the flagged only.
#[utoipa::path(get, path = "/v1/predictions", tag = "prediction",
    responses((status = 200, description = "`predictions`")), security(("bearer" = []), ("basic" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(&parameters, &["flagged", "limit"])?;
    let flagged = match parameters.get("flagged").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(ApiError::invalid_parameter("flagged", format!("`{other}` is not true or false"))),
    };
    let limit = params::limit(parameters.get("limit").map(String::as_str), 100, 10_000)?;
    let rows = state.store.predictions(&caller.workspace, flagged, None, limit).await?;
    Ok(Json(json!({"predictions": rows.iter().map(prediction::prediction_json).collect::<Vec<_>>()})))
}

/// One customer's churn risk (probability, flagged, top factors with their direction) and health
/// score with its parts, from the latest refresh.
#[utoipa::path(get, path = "/v1/customers/{id}/prediction", tag = "prediction",
    responses((status = 200, description = "The prediction"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    let profile = state.store.customer_profile(&caller.workspace, &rapport_core::ids::CustomerId(id.clone())).await?;
    let profile = profile.ok_or_else(|| ApiError::not_found(format!("no customer `{id}` in this workspace")))?;
    let rows = state.store.predictions(&caller.workspace, false, Some(&profile.id.0), 1).await?;
    let row = rows.first().ok_or_else(|| {
        ApiError::not_found(format!(
            "customer `{id}` has no prediction yet: predictions are refreshed daily (POST /v1/predictions/refresh)"
        ))
    })?;
    Ok(Json(prediction::prediction_json(row)))
}

/// Each account's health: its customers' mean health score, n, flagged customers and each part's
/// mean; least healthy first.
#[utoipa::path(get, path = "/v1/accounts/health", tag = "prediction",
    responses((status = 200, description = "`accounts`")), security(("bearer" = []), ("basic" = [])))]
pub async fn accounts(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(prediction::account_health(&state.store, &caller.workspace).await?))
}

/// Customer lifetime value from the workspace's order events: BG/NBD and Gamma-Gamma fitted on
/// orders up to `calibrationEnd` (YYYY-MM-DD, default today), in `timeUnit` (`weeks`, default, or
/// `days`), each customer's value over `horizon` time units (default one year) discounted at
/// `discountRate` a year (default 0.1); the `top` most valuable customers (default 20).
#[utoipa::path(get, path = "/v1/clv", tag = "prediction",
    responses((status = 200, description = "Parameters, log-likelihoods, total and top customers"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn clv(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(&parameters, &["calibrationEnd", "timeUnit", "horizon", "discountRate", "top"])?;
    let calibration_end = match parameters.get("calibrationEnd") {
        None => time::OffsetDateTime::now_utc().date(),
        Some(text) => {
            time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| {
                ApiError::invalid_parameter("calibrationEnd", format!("`{text}` is not a date (YYYY-MM-DD)"))
            })?
        }
    };
    let unit_text = parameters.get("timeUnit").map_or("weeks", String::as_str);
    let unit = TimeUnit::parse(unit_text)
        .ok_or_else(|| ApiError::invalid_parameter("timeUnit", format!("`{unit_text}` is not days or weeks")))?;
    let positive = |name: &str, default: f64, above: f64| match parameters.get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite() && *value > above)
            .ok_or_else(|| ApiError::invalid_parameter(name, format!("`{text}` is not a number above {above}"))),
    };
    let query = prediction::ClvQuery {
        calibration_end,
        unit,
        horizon: positive("horizon", 365.25 / unit.days(), 0.0)?,
        discount_rate: positive("discountRate", 0.1, -1.0)?,
    };
    let top = params::limit(parameters.get("top").map(String::as_str), 20, 1_000)?;
    Ok(Json(prediction::clv(&state.store, &caller.workspace, &query, top).await?))
}
