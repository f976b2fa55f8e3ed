//! `/v1/webhooks…` (admin): subscriptions to what Rapport announces, their delivery log, replay.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use rand::RngCore;
use rapport_core::auth::Permission;
use rapport_core::webhooks::{EVENT_TYPES, parse_subscription, secret_from};
use serde_json::{Value, json};

use crate::AppState;
use crate::api::params;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode, ErrorDetail, problems_phrase};
use crate::services::json_body::read_json_request;
use crate::services::rfc3339;
use crate::services::webhooks::{message_id, webhook_json};

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no webhook `{id}` in this workspace"))
}

/// Subscribes a URL to events: `{"url", "events": [...], "description"?}`. The response carries
/// the signing secret (`whsec_…`): each delivery has `webhook-id`, `webhook-timestamp` and
/// `webhook-signature` headers as the Standard Webhooks specification defines them.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks",
    request_body(content = Object, description = "`url`, `events` (alert.raised, response.created, case.opened, case.updated, case.closed, customer.churn_risk), `description`"),
    responses((status = 201, description = "The subscription with its secret"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::Administer)?;
    let value = read_json_request(&headers, &body, 16 * 1024)?;
    let subscription = parse_subscription(&value).map_err(|problems| {
        let message = format!("the subscription has {}; nothing was stored", problems_phrase(problems.len()));
        ApiError::new(ErrorCode::InvalidSettings, message)
            .with_details(problems.into_iter().map(ErrorDetail::from).collect())
    })?;
    let mut random = [0u8; 24];
    rand::rng().fill_bytes(&mut random);
    let webhook = state.store.create_webhook(&caller.workspace, &subscription, &secret_from(random)).await?;
    crate::services::audit::record(
        &state.store,
        &caller,
        "webhook.created",
        &format!("webhook:{}", webhook.id),
        json!({"kind": webhook.kind}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(webhook_json(&webhook, true))))
}

/// The workspace's subscriptions, with their status and consecutive failures.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "`data`: subscriptions; `events`: what can be subscribed to")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let webhooks = state.store.webhooks(&caller.workspace).await?;
    Ok(Json(
        json!({"data": webhooks.iter().map(|w| webhook_json(w, false)).collect::<Vec<_>>(), "events": EVENT_TYPES}),
    ))
}

/// One subscription, with its signing secret.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 200, description = "The subscription"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let webhook = state.store.webhook(&caller.workspace, &id).await?.ok_or_else(|| not_found(&id))?;
    Ok(Json(webhook_json(&webhook, true)))
}

/// Deletes a subscription and its delivery log.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::Administer)?;
    if state.store.delete_webhook(&caller.workspace, &id).await? {
        crate::services::audit::record(&state.store, &caller, "webhook.deleted", &format!("webhook:{id}"), Value::Null)
            .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}

async fn set_status(state: &AppState, caller: &Caller, id: &str, active: bool) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let reason = (!active).then_some("disabled by an admin");
    if !state.store.set_webhook_status(&caller.workspace, id, active, reason).await? {
        return Err(not_found(id));
    }
    let webhook = state.store.webhook(&caller.workspace, id).await?.ok_or_else(|| not_found(id))?;
    let action = if active { "webhook.enabled" } else { "webhook.disabled" };
    crate::services::audit::record(&state.store, caller, action, &format!("webhook:{id}"), Value::Null).await;
    Ok(Json(webhook_json(&webhook, false)))
}

/// Enables a subscription (its failure count starts again from 0); deliveries resume, and events of
/// the last 7 days it has no delivery for are sent.
#[utoipa::path(post, path = "/v1/webhooks/{id}/enable", tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 200, description = "The subscription"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(&state, &caller, &id, true).await
}

/// Disables a subscription: nothing is sent until it is enabled.
#[utoipa::path(post, path = "/v1/webhooks/{id}/disable", tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 200, description = "The subscription"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(&state, &caller, &id, false).await
}

/// The delivery log, newest event first: each delivery's state and every attempt (time, HTTP
/// status or error, duration). `limit` 1-200 (default 50).
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 200, description = "`data`: deliveries with their attempts"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    params::only(&parameters, &["limit"])?;
    let limit = params::limit(parameters.get("limit").map(String::as_str), 50, 200)?;
    state.store.webhook(&caller.workspace, &id).await?.ok_or_else(|| not_found(&id))?;
    let mut data = Vec::new();
    for delivery in state.store.webhook_deliveries(&caller.workspace, &id, limit).await? {
        let attempts: Vec<Value> = state
            .store
            .webhook_attempts(&delivery.id)
            .await?
            .iter()
            .map(|a| json!({"attempt": a.attempt, "at": rfc3339(a.at_ms), "status": a.status, "error": a.error, "durationMs": a.duration_ms}))
            .collect();
        data.push(json!({
            "id": delivery.id,
            "webhookId": message_id(&delivery.id),
            "eventSeq": delivery.event_seq,
            "type": delivery.event_type,
            "status": delivery.status,
            "nextAttemptAt": (delivery.status == "pending").then(|| rfc3339(delivery.next_attempt_at_ms)),
            "lastStatus": delivery.last_status,
            "lastError": delivery.last_error,
            "createdAt": rfc3339(delivery.created_at_ms),
            "deliveredAt": delivery.delivered_at_ms.map(rfc3339),
            "attempts": attempts,
        }));
    }
    Ok(Json(json!({"data": data})))
}

/// Sends a delivery again now, whatever became of it (the retry schedule starts over).
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery}/replay", tag = "webhooks",
    params(("id" = String, Path, description = "The subscription's id"), ("delivery" = String, Path, description = "The delivery's id")),
    responses((status = 202, description = "Queued"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::Administer)?;
    if !state.store.replay_delivery(&caller.workspace, &id, &delivery, rapport_store::now_ms()).await? {
        return Err(ApiError::not_found(format!("no delivery `{delivery}` of webhook `{id}`")));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"id": delivery, "status": "pending"}))))
}
