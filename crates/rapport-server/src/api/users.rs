//! `/v1/users…` (admin): the people who sign in to the dashboard. `/v1/audit…` (admin): the
//! audit log and its verification. `GET /v1/keys` (admin): the workspace's keys.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use rapport_core::auth::Permission;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::params;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::services::json_body::read_json_request;
use crate::services::{audit, rfc3339, users};

const USER_LIMIT: usize = 16 * 1024;

/// Creates a user (admin): `email` (their sign-in name, unique on this server), `role` (`admin`,
/// `analyst`, `agent` or `viewer`), `name`, and `password` (at least 12 characters; without it
/// Rapport makes one and returns it once as `password`).
#[utoipa::path(post, path = "/v1/users", tag = "users",
    request_body(content = Object, description = "The user"),
    responses((status = 201, description = "`user`, and `password` when Rapport made it"),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::Administer)?;
    let value = read_json_request(&headers, &body, USER_LIMIT)?;
    Ok((StatusCode::CREATED, Json(users::create(&state.store, &caller, &value).await?)))
}

#[utoipa::path(get, path = "/v1/users", tag = "users",
    responses((status = 200, description = "`data`: the workspace's users")), security(("bearer" = []), ("basic" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    Ok(Json(users::list(&state.store, &caller.workspace).await?))
}

#[utoipa::path(get, path = "/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The user"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    Ok(Json(users::get(&state.store, &caller.workspace, &id).await?))
}

/// Changes a user (admin): any of `role`, `name`, `disabled` (true ends their sessions),
/// `password` (a new one ends their sessions and lifts a lockout).
#[utoipa::path(put, path = "/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = Object, description = "The changes"),
    responses((status = 200, description = "The user"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let value = read_json_request(&headers, &body, USER_LIMIT)?;
    Ok(Json(users::change(&state.store, &caller, &id, &value).await?))
}

/// The audit log (admin), oldest first: `after` a sequence number (default 0), at most `limit`
/// (default and most 1000); `next` is the `after` of the next page.
#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    params(("after" = Option<i64>, Query, description = "Entries after this sequence number"),
        ("limit" = Option<i64>, Query, description = "At most this many (1000)")),
    responses((status = 200, description = "`data`: entries (seq, at, actor, action, target, detail, hash); `next`"),
        (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    params::only(&parameters, &["after", "limit"])?;
    let after = params::after(parameters.get("after").map(String::as_str))?;
    let limit = params::limit(parameters.get("limit").map(String::as_str), audit::PAGE_LIMIT, audit::PAGE_LIMIT)?;
    Ok(Json(audit::entries(&state.store, &caller.workspace, after, limit).await?))
}

/// Walks the whole hash chain (admin): `intact`, `entries`, `head` (write it down elsewhere: a
/// later verification that does not reach it shows the log was cut short), or `broken`
/// (`seq`, `problem`).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, description = "`intact`, `entries`, `head` or `broken`")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn verify(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    Ok(Json(audit::verify(&state.store, &caller.workspace).await?))
}

/// The workspace's API keys (admin): id, role, the key's first characters, when made. Keys
/// themselves are never kept.
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, description = "`data`: keys")), security(("bearer" = []), ("basic" = [])))]
pub async fn keys(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let keys = state.store.api_keys(&caller.workspace).await?;
    let data: Vec<Value> = keys
        .iter()
        .map(|key| {
            json!({"id": key.id, "role": key.role.as_str(), "prefix": key.display_prefix, "createdAt": rfc3339(key.created_at_ms)})
        })
        .collect();
    Ok(Json(json!({"data": data})))
}
