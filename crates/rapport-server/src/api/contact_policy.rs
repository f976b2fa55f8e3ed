//! `/v1/contact-policy`: the workspace's contact-frequency policy, which every survey invitation
//! obeys unless the survey's `delivery.policy` replaces it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use rapport_core::auth::Permission;
use rapport_core::contact_policy::{ContactPolicy, parse_policy};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::services::json_body::read_json;
use crate::services::metrics::invalid_settings;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// At most this many invitations per customer in any `windowDays`.
    pub max_invitations: u32,
    pub window_days: u32,
    /// At least this many days between two invitations to one customer.
    pub min_days_between: u32,
    /// No invitation for this many days after the customer answered any survey.
    pub cooldown_after_response_days: u32,
}

impl From<ContactPolicy> for PolicyView {
    fn from(policy: ContactPolicy) -> PolicyView {
        PolicyView {
            max_invitations: policy.max_invitations,
            window_days: policy.window_days,
            min_days_between: policy.min_days_between,
            cooldown_after_response_days: policy.cooldown_after_response_days,
        }
    }
}

/// The workspace's contact policy (the defaults until one is saved: at most 2 invitations in 30
/// days, 7 days apart, 14 days of rest after an answer).
#[utoipa::path(get, path = "/v1/contact-policy", tag = "surveys",
    responses((status = 200, body = PolicyView)), security(("bearer" = []), ("basic" = [])))]
pub async fn get_policy(State(state): State<AppState>, caller: Caller) -> Result<Json<PolicyView>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(state.store.contact_policy(&caller.workspace).await?.into()))
}

/// Replaces the workspace's contact policy (admin); fields left out take the defaults. Each is a
/// whole number from 0 to 3650.
#[utoipa::path(put, path = "/v1/contact-policy", tag = "surveys",
    request_body(content = Object, description = "`maxInvitations`, `windowDays`, `minDaysBetween`, `cooldownAfterResponseDays`"),
    responses((status = 200, body = PolicyView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_policy(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PolicyView>, ApiError> {
    caller.require(Permission::Administer)?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let value = read_json(content_type, &body, 16 * 1024)?;
    let mut problems = Vec::new();
    let policy = parse_policy(&value, "", false, &mut problems).ok_or_else(|| invalid_settings(problems))?;
    state.store.put_contact_policy(&caller.workspace, &policy).await?;
    crate::services::audit::record(&state.store, &caller, "settings.contact_policy", "", serde_json::Value::Null).await;
    Ok(Json(policy.into()))
}
