//! `/v1/cases…`: follow-up cases (opened by rules from responses or by hand), their moves, notes
//! and history, the workspace's case settings, and the SLA check.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use rapport_core::auth::Permission;
use rapport_core::cases::STATES;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::params;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::services::cases::{self, case_json, case_with_history};
use crate::services::json_body::read_json_request;

/// Cases, newest first: `state`, `assignee`, `customer` (a customer id: cases about any identity it
/// holds), `limit` (1-200, default 50).
#[utoipa::path(get, path = "/v1/cases", tag = "cases",
    responses((status = 200, description = "`data`: cases"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::ReadCases)?;
    params::only(&parameters, &["state", "assignee", "customer", "limit"])?;
    let wanted = parameters.get("state").map(String::as_str);
    if let Some(bad) = wanted.filter(|s| !STATES.contains(s)) {
        return Err(ApiError::invalid_parameter("state", format!("`{bad}`: expected one of {}", STATES.join(", "))));
    }
    let limit = params::limit(parameters.get("limit").map(String::as_str), 50, 200)?;
    // A customer's cases: those about any identity the customer holds (following merges).
    let identity_keys: Option<Vec<String>> = match parameters.get("customer") {
        None => None,
        Some(id) => Some(crate::services::customer_identity_keys(&state.store, &caller.workspace, id).await?),
    };
    let assignee = parameters.get("assignee").map(String::as_str);
    let found = state.store.cases(&caller.workspace, wanted, assignee, identity_keys.as_deref(), limit).await?;
    Ok(Json(json!({"data": found.iter().map(case_json).collect::<Vec<_>>()})))
}

/// Opens a case by hand (admin): `{"title", "priority"?, "customer"?, "assignee"?, "actor"?}`.
#[utoipa::path(post, path = "/v1/cases", tag = "cases",
    request_body(content = Object, description = "`title`, `priority`, `customer`, `assignee`, `actor`"),
    responses((status = 201, description = "The case"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::WorkCases)?;
    let value = read_json_request(&headers, &body, 64 * 1024)?;
    let case = cases::open_manual(&state.store, &caller.workspace, &value, rapport_store::now_ms()).await?;
    crate::services::audit::record(&state.store, &caller, "case.opened", &format!("case:{}", case.id), json!({})).await;
    Ok((StatusCode::CREATED, Json(case_with_history(&state.store, &case).await?)))
}

/// One case with its history (every move, note, assignment, breach and escalation).
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases",
    params(("id" = String, Path, description = "The case's id")),
    responses((status = 200, description = "The case"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::ReadCases)?;
    let case = state
        .store
        .case(&caller.workspace, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no case `{id}` in this workspace")))?;
    Ok(Json(case_with_history(&state.store, &case).await?))
}

/// Moves a case (admin): `{"state", "note"?, "rootCause"?, "resolution"?, "actor"?}`. States: new →
/// open → in_progress ⇄ waiting_on_customer → resolved → closed, and reopening (`open`) a resolved
/// or closed case. Closing needs a root cause from the workspace's list and a resolution note.
#[utoipa::path(post, path = "/v1/cases/{id}/transition", tag = "cases",
    request_body(content = Object, description = "`state`, `note`, `rootCause`, `resolution`, `actor`"),
    params(("id" = String, Path, description = "The case's id")),
    responses((status = 200, description = "The case"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::WorkCases)?;
    let value = read_json_request(&headers, &body, 64 * 1024)?;
    let case = cases::transition(&state.store, &caller.workspace, &id, &value, rapport_store::now_ms()).await?;
    crate::services::audit::record(
        &state.store,
        &caller,
        "case.transition",
        &format!("case:{id}"),
        json!({"state": case.state}),
    )
    .await;
    Ok(Json(case_with_history(&state.store, &case).await?))
}

/// Adds a note (admin): `{"text", "actor"?}`.
#[utoipa::path(post, path = "/v1/cases/{id}/notes", tag = "cases",
    request_body(content = Object, description = "`text`, `actor`"),
    params(("id" = String, Path, description = "The case's id")),
    responses((status = 200, description = "The case"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::WorkCases)?;
    let value = read_json_request(&headers, &body, 64 * 1024)?;
    let case = cases::add_note(&state.store, &caller.workspace, &id, &value, rapport_store::now_ms()).await?;
    crate::services::audit::record(&state.store, &caller, "case.note", &format!("case:{id}"), json!({})).await;
    Ok(Json(case_with_history(&state.store, &case).await?))
}

/// The case settings: `rules`, `teams` (members, who is `away`), `calendar` (time zone, hours,
/// holidays), `sla` per priority, `escalateAfterMinutes`, `escalateTo`, `rootCauses`.
#[utoipa::path(get, path = "/v1/cases/settings", tag = "cases",
    responses((status = 200, description = "The settings")), security(("bearer" = []), ("basic" = [])))]
pub async fn get_settings(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::ReadCases)?;
    let (settings, _) = cases::settings(&state.store, &caller.workspace).await?;
    Ok(Json(serde_json::to_value(settings).map_err(ApiError::internal)?))
}

/// Replaces the case settings (admin).
#[utoipa::path(put, path = "/v1/cases/settings", tag = "cases",
    request_body(content = Object, description = "The whole settings object, as GET returns it"),
    responses((status = 200, description = "The settings"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let value = read_json_request(&headers, &body, 64 * 1024)?;
    let settings = cases::save_settings(&state.store, &caller.workspace, &value).await?;
    crate::services::audit::record(&state.store, &caller, "settings.cases", "", json!({})).await;
    Ok(Json(serde_json::to_value(settings).map_err(ApiError::internal)?))
}

/// Runs the SLA check now (admin), or as of `at` (RFC 3339); the server runs it every minute.
#[utoipa::path(post, path = "/v1/cases/check-sla", tag = "cases",
    responses((status = 200, description = "`changed`: cases marked breached or escalated"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn check_sla(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    params::only(&parameters, &["at"])?;
    let at = params::time_parameter("at", parameters.get("at"), false)?.unwrap_or_else(rapport_store::now_ms);
    let changed = cases::check_sla(&state.store, at).await?;
    Ok(Json(json!({"changed": changed})))
}

/// The micro loop over cases opened in `from..to` (RFC 3339 or YYYY-MM-DD; default the last 90
/// days): low scores and the share followed up (loop-closure rate), median minutes to first
/// contact, closed cases and the share whose customer's next answer recovered, repeat root causes.
#[utoipa::path(get, path = "/v1/cases/recovery", tag = "cases",
    responses((status = 200, description = "The figures, each rate with n and a 95% interval"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn recovery(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::ReadCases)?;
    params::only(&parameters, &["from", "to"])?;
    let (from, to) = params::range(&parameters, 90)?;
    Ok(Json(cases::recovery(&state.store, &caller.workspace, from, to).await?))
}
