//! `/v1/journeys…`: journey definitions, their analytics and the journey map.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use rapport_core::auth::Permission;
use rapport_core::journey::query::RawJourneyQuery;
use serde_json::Value;

use crate::AppState;
use crate::api::params;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::services::{journey_map, journeys};

const DEFINITION_LIMIT: usize = 256 * 1024;

/// The workspace's journeys.
#[utoipa::path(get, path = "/v1/journeys", tag = "journeys",
    responses((status = 200, description = "`data`: journeys")), security(("bearer" = []), ("basic" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(journeys::list(&state.store, &caller.workspace).await?))
}

/// Creates a journey (admin): `name`, `description`, `stages` (default awareness,
/// consideration, decision, adoption, advocacy), `touchpoints` [{`key`, `name`, `stage`,
/// `event`, `channel`, `conditions` [{`property`, one of `equals`, `notEquals`, `oneOf`,
/// `exists`, `atLeast`, `atMost`, `contains`}], `feedbackTouchpoint`}], `goal` (a touchpoint's
/// key; default the first of the last stage) and `stepWindowHours` (default 24).
#[utoipa::path(post, path = "/v1/journeys", tag = "journeys",
    request_body(content = Object, description = "The journey definition"),
    responses((status = 201, description = "The journey with its id"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::Analyse)?;
    let value = crate::services::json_body::read_json_request(&headers, &body, DEFINITION_LIMIT)?;
    let created = journeys::create(&state.store, &caller.workspace, &value).await?;
    let target = format!("journey:{}", created["id"].as_str().unwrap_or_default());
    crate::services::audit::record(&state.store, &caller, "journey.created", &target, Value::Null).await;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/v1/journeys/{id}", tag = "journeys",
    params(("id" = String, Path, description = "The journey's id")),
    responses((status = 200, description = "The journey"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(journeys::get(&state.store, &caller.workspace, &id).await?))
}

/// Replaces a journey's definition whole (admin).
#[utoipa::path(put, path = "/v1/journeys/{id}", tag = "journeys",
    params(("id" = String, Path, description = "The journey's id")),
    request_body(content = Object, description = "The whole definition"),
    responses((status = 200, description = "The journey"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Analyse)?;
    let value = crate::services::json_body::read_json_request(&headers, &body, DEFINITION_LIMIT)?;
    let replaced = journeys::replace(&state.store, &caller.workspace, &id, &value).await?;
    crate::services::audit::record(&state.store, &caller, "journey.edited", &format!("journey:{id}"), Value::Null)
        .await;
    Ok(Json(replaced))
}

#[utoipa::path(delete, path = "/v1/journeys/{id}", tag = "journeys",
    params(("id" = String, Path, description = "The journey's id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::Analyse)?;
    journeys::delete(&state.store, &caller.workspace, &id).await?;
    crate::services::audit::record(&state.store, &caller, "journey.deleted", &format!("journey:{id}"), Value::Null)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

fn raw_query(parameters: &BTreeMap<String, String>) -> Result<RawJourneyQuery, ApiError> {
    params::only(parameters, &["from", "to", "segment", "compare", "minN"])?;
    let get = |key: &str| parameters.get(key).cloned();
    Ok(RawJourneyQuery {
        from: get("from"),
        to: get("to"),
        segment: get("segment"),
        compare: get("compare"),
        min_n: get("minN"),
    })
}

/// A journey's analytics over `from..to` (UTC days, both included; default the 90 days to today)
/// for `segment` (`all`, `new`, `returning`, `channel:NAME`, `trait:KEY=VALUE`), and beside it
/// `compare` with the differences: customers reaching each stage, conversion and drop-off with
/// Wilson intervals, median and 90th-percentile time to the next stage, the most common paths to
/// the goal and their conversion, loops and backtracking, per touchpoint drop-off, repeats,
/// sentiment, CSAT and CES (the emotional curve), and the friction ranking with its components
/// (touchpoints below `minN` visits, default the workspace's minimum n, are not ranked).
#[utoipa::path(get, path = "/v1/journeys/{id}/analytics", tag = "journeys",
    params(("id" = String, Path, description = "The journey's id")),
    responses((status = 200, description = "The analytics"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn analytics(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    let raw = raw_query(&parameters)?;
    let report = journeys::analytics(&state.store, &caller.workspace, &id, &raw, rapport_store::now_ms()).await?;
    Ok(Json(report.document))
}

/// The journey map as SVG (same parameters as the analytics, without `compare`): stages as
/// columns, touchpoints with their visits, drop-off and friction (the worst three highlighted),
/// and the emotional curve across them.
#[utoipa::path(get, path = "/v1/journeys/{id}/map.svg", tag = "journeys",
    params(("id" = String, Path, description = "The journey's id")),
    responses((status = 200, description = "image/svg+xml"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn map(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Permission::Read)?;
    let mut raw = raw_query(&parameters)?;
    if raw.compare.take().is_some() {
        return Err(ApiError::invalid_parameter("compare", "the map shows one segment: leave out `compare`"));
    }
    let report = journeys::analytics(&state.store, &caller.workspace, &id, &raw, rapport_store::now_ms()).await?;
    let svg = journey_map::render(&report.journey, &report.analytics, &journeys::subtitle(&report.query));
    Ok(([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg))
}
