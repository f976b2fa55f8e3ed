//! `/v1/customers…` and `/v1/merges…`: one customer across channels, its timeline and merge log.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use rapport_core::auth::Permission;
use rapport_core::identity::Identity;
use rapport_core::ids::{CustomerId, MergeId};
use rapport_store::UndoOutcome;
use rapport_store::records::{CustomerProfile, MergeRecord, TimelineCursor, TimelineEntry};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::params;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::services::rfc3339;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub id: String,
    pub created_at: String,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Channels the customer used, with event counts.
    pub channels: Vec<ChannelView>,
    pub identities: Vec<IdentityView>,
    /// Each trait's latest value, with the channel and time it was set.
    pub traits: BTreeMap<String, TraitView>,
    /// Ids of customers merged into this one; each still resolves to this customer.
    pub merged_ids: Vec<String>,
    /// The latest churn risk (probability, flagged, top factors) and health score, once
    /// predictions have been refreshed (`GET /v1/customers/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub prediction: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub channel: String,
    pub events: i64,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityView {
    /// `userId`, `anonymousId`, `email`, `phone`, `external:<system>` or `social:<platform>`.
    pub r#type: String,
    pub value: String,
    pub first_seen: String,
    /// The event that first linked it.
    pub message_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraitView {
    pub value: Value,
    pub channel: String,
    pub updated_at: String,
    pub message_id: String,
}

impl From<CustomerProfile> for CustomerView {
    fn from(profile: CustomerProfile) -> CustomerView {
        CustomerView {
            first_seen: profile.first_seen_ms().map(rfc3339),
            last_seen: profile.last_seen_ms().map(rfc3339),
            id: profile.id.0.clone(),
            created_at: rfc3339(profile.created_at_ms),
            channels: profile
                .channels
                .into_iter()
                .map(|usage| ChannelView {
                    channel: usage.channel,
                    events: usage.events,
                    first_seen: rfc3339(usage.first_seen_ms),
                    last_seen: rfc3339(usage.last_seen_ms),
                })
                .collect(),
            identities: profile
                .identities
                .into_iter()
                .map(|identity| IdentityView {
                    r#type: identity.kind,
                    value: identity.value,
                    first_seen: rfc3339(identity.first_seen_ms),
                    message_id: identity.message_id,
                })
                .collect(),
            traits: profile
                .traits
                .into_iter()
                .map(|record| {
                    let view = TraitView {
                        value: record.value,
                        channel: record.channel,
                        updated_at: rfc3339(record.updated_at_ms),
                        message_id: record.message_id,
                    };
                    (record.key, view)
                })
                .collect(),
            merged_ids: profile.nodes.into_iter().filter(|node| *node != profile.id).map(|node| node.0).collect(),
            prediction: None,
        }
    }
}

fn customer_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no customer `{id}` in this workspace"))
}

/// One customer: identities across channels, traits, first and last seen, channels used.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "A customer id (merged ids resolve to their customer)")),
    responses((status = 200, body = CustomerView), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    caller.require(Permission::Read)?;
    let profile = state.store.customer_profile(&caller.workspace, &CustomerId(id.clone())).await?;
    let mut view: CustomerView = profile.ok_or_else(|| customer_not_found(&id))?.into();
    let prediction = state.store.predictions(&caller.workspace, false, Some(&view.id), 1).await?;
    view.prediction = prediction.first().map(crate::services::prediction::prediction_json);
    crate::services::audit::record(
        &state.store,
        &caller,
        "customer.read",
        &format!("customer:{id}"),
        serde_json::Value::Null,
    )
    .await;
    Ok(Json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// `TYPE:VALUE`: `userId:42`, `email:jane@example.com`, `phone:+49 151 1234567`,
    /// `external:stripe:cus_1`, `social:twitter:@jane`. Normalised as at ingestion.
    pub identity: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerList {
    pub data: Vec<CustomerView>,
}

/// Finds the customer holding an identity. Returns a list with zero or one customer.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(SearchQuery),
    responses((status = 200, body = CustomerList), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn search_customers(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<CustomerList>, ApiError> {
    caller.require(Permission::Read)?;
    let Some(typed) = query.identity else {
        return Err(ApiError::invalid_parameter("identity", "required: TYPE:VALUE, e.g. email:jane@example.com"));
    };
    let identity =
        Identity::parse_typed(&typed).map_err(|error| ApiError::invalid_parameter("identity", error.to_string()))?;
    let mut data = Vec::new();
    if let Some(id) = state.store.customer_by_identity(&caller.workspace, &identity).await?
        && let Some(profile) = state.store.customer_profile(&caller.workspace, &id).await?
    {
        data.push(profile.into());
    }
    Ok(Json(CustomerList { data }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TimelineQuery {
    /// Entries per page, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntryView {
    pub r#type: String,
    /// The track event's or page's name.
    pub name: Option<String>,
    pub channel: String,
    pub timestamp: String,
    pub received_at: String,
    pub message_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub group_id: Option<String>,
    pub properties: Value,
    pub traits: Value,
    pub context: Value,
}

impl From<TimelineEntry> for TimelineEntryView {
    fn from(entry: TimelineEntry) -> TimelineEntryView {
        TimelineEntryView {
            r#type: entry.event_type,
            name: entry.name,
            channel: entry.channel,
            timestamp: rfc3339(entry.timestamp_ms),
            received_at: rfc3339(entry.received_at_ms),
            message_id: entry.message_id,
            user_id: entry.user_id,
            anonymous_id: entry.anonymous_id,
            group_id: entry.group_id,
            properties: entry.properties,
            traits: entry.traits,
            context: entry.context,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineView {
    pub data: Vec<TimelineEntryView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

pub const DEFAULT_TIMELINE_LIMIT: usize = 50;
pub const MAX_TIMELINE_LIMIT: usize = 500;

/// Every event of the customer across channels, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}/timeline", tag = "customers",
    params(("id" = String, Path, description = "A customer id"), TimelineQuery),
    responses((status = 200, body = TimelineView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<TimelineQuery>,
) -> Result<Json<TimelineView>, ApiError> {
    caller.require(Permission::Read)?;
    let limit = params::limit(query.limit.as_deref(), DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT)?;
    let cursor = params::cursor(query.cursor.as_deref(), TimelineCursor::decode)?;
    let page = state.store.timeline(&caller.workspace, &CustomerId(id.clone()), cursor, limit).await?;
    let page = page.ok_or_else(|| customer_not_found(&id))?;
    Ok(Json(TimelineView {
        data: page.entries.into_iter().map(TimelineEntryView::from).collect(),
        next_cursor: page.next_cursor.map(TimelineCursor::encode),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeView {
    pub id: String,
    /// `merged`, or `refused` when a guard kept the two customers apart.
    pub outcome: String,
    /// `identity_shared`, `conflicting_user_ids`, `too_many_identities` or `separated_by_admin`.
    pub reason: String,
    pub explanation: String,
    /// For a merge: the customer that absorbed the other. For a refusal: one of the two.
    pub survivor_id: String,
    pub absorbed_id: String,
    pub via_identity: String,
    pub message_id: String,
    pub event_type: String,
    pub created_at: String,
    pub undone_at: Option<String>,
}

impl From<MergeRecord> for MergeView {
    fn from(merge: MergeRecord) -> MergeView {
        MergeView {
            id: merge.id.0,
            outcome: merge.outcome,
            reason: merge.reason,
            explanation: merge.explanation,
            survivor_id: merge.survivor.0,
            absorbed_id: merge.absorbed.0,
            via_identity: merge.via_identity,
            message_id: merge.message_id,
            event_type: merge.event_type,
            created_at: rfc3339(merge.created_at_ms),
            undone_at: merge.undone_at_ms.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergeList {
    pub data: Vec<MergeView>,
}

/// Every merge decision about this customer, applied or refused, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}/merges", tag = "customers",
    params(("id" = String, Path, description = "A customer id")),
    responses((status = 200, body = MergeList), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn merges(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MergeList>, ApiError> {
    caller.require(Permission::Read)?;
    let merges = state.store.merges_of(&caller.workspace, &CustomerId(id.clone())).await?;
    let merges = merges.ok_or_else(|| customer_not_found(&id))?;
    Ok(Json(MergeList { data: merges.into_iter().map(MergeView::from).collect() }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UndoView {
    pub merge: MergeView,
    /// The two customers the undo leaves.
    pub customer_ids: [String; 2],
}

/// Undoes a merge (admin). The two customers are not merged again automatically.
#[utoipa::path(post, path = "/v1/merges/{id}/undo", tag = "customers",
    params(("id" = String, Path, description = "A merge id from the merge log")),
    responses((status = 200, body = UndoView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn undo_merge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UndoView>, ApiError> {
    caller.require(Permission::Administer)?;
    match state.store.undo_merge(&caller.workspace, &MergeId(id.clone())).await? {
        UndoOutcome::Undone(undone) => {
            tracing::info!(workspace = %caller.workspace_name, merge = %id, "merge undone");
            let detail = serde_json::json!({"customers": [undone.survivor_root.0, undone.absorbed_root.0]});
            crate::services::audit::record(&state.store, &caller, "merge.undone", &format!("merge:{id}"), detail).await;
            Ok(Json(UndoView {
                customer_ids: [undone.survivor_root.0, undone.absorbed_root.0],
                merge: undone.merge.into(),
            }))
        }
        UndoOutcome::NotFound => Err(ApiError::not_found(format!("no merge `{id}` in this workspace"))),
        UndoOutcome::NotUndoable(merge) => {
            let why =
                if merge.outcome == "refused" { "was refused, so nothing was merged" } else { "is already undone" };
            Err(ApiError::new(ErrorCode::Conflict, format!("merge `{id}` {why}")))
        }
    }
}
