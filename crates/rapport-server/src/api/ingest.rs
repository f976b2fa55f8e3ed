//! `POST /v1/track|identify|page|screen|group|alias|batch`: the Segment HTTP Tracking API.
//!
//! analytics.js (Segment's browser SDK) posts to one-letter aliases (`/v1/t`, `/v1/i`, `/v1/p`,
//! `/v1/s`, `/v1/g`, `/v1/a`, and `/v1/b` for batches), as `text/plain`, with its key as
//! `writeKey` in the body instead of an Authorization header: all three are accepted.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use rapport_core::auth::Permission;
use rapport_core::event::{EventType, MAX_BATCH_BYTES};
use rapport_store::IngestBatch;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Caller, caller_for_workspace_key};
use crate::error::{ApiError, ErrorBody, ErrorCode, ErrorDetail};
use crate::services::ingest::{Endpoint, parse_body, write_key_in_body};
use crate::services::invitations::{confirm_trait_conditions, triggered_invitations};

/// The answer to an accepted request: everything in it is durably stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResponse {
    /// Always true: failures are errors, never a 200.
    pub success: bool,
    /// Events stored by this request.
    pub accepted: usize,
    /// Events already stored earlier (same `messageId`): stored once, not twice.
    pub duplicates: usize,
    /// Accepted with reservations: e.g. a `traits.email` that is not an address is kept as a
    /// trait but not used to link the customer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<ErrorDetail>,
}

/// A Segment call, as documented at segment.com/docs/connections/spec. Described here for the
/// OpenAPI document; the server validates fields one by one to name every problem.
#[derive(Debug, ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct SegmentEvent {
    /// `track`, `identify`, `page`, `screen`, `group` or `alias`; required in a batch.
    r#type: Option<String>,
    /// The user's id in your system. `userId` or `anonymousId` is required.
    userId: Option<String>,
    anonymousId: Option<String>,
    /// Idempotency key: a resent message with the same id is stored once.
    messageId: Option<String>,
    /// Track: the event's name.
    event: Option<String>,
    /// Page and screen: the page's name.
    name: Option<String>,
    groupId: Option<String>,
    previousId: Option<String>,
    properties: Option<serde_json::Map<String, serde_json::Value>>,
    /// Identify: the customer's traits (`email` and `phone` link identities).
    traits: Option<serde_json::Map<String, serde_json::Value>>,
    /// `context.channel` names the touchpoint's channel; `context.traits` are customer traits.
    context: Option<serde_json::Map<String, serde_json::Value>>,
    /// ISO-8601 with offset.
    timestamp: Option<String>,
    originalTimestamp: Option<String>,
    sentAt: Option<String>,
}

/// `{"batch": [...]}` with optional batch-level `context` and `sentAt`.
#[derive(Debug, ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct BatchRequest {
    batch: Vec<SegmentEvent>,
    context: Option<serde_json::Map<String, serde_json::Value>>,
    sentAt: Option<String>,
}

async fn ingest(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    let caller = match caller {
        Ok(caller) => caller,
        // analytics.js sends no Authorization header: its key is `writeKey` in the body.
        Err(missing) if missing.code == ErrorCode::MissingApiKey => {
            let key = body.as_ref().ok().and_then(|body| write_key_in_body(body)).ok_or(missing)?;
            caller_for_workspace_key(state, &key).await?
        }
        Err(other) => return Err(other),
    };
    caller.require(Permission::Ingest)?;
    let body = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, format!("the body is over the {MAX_BATCH_BYTES}-byte limit"))
        } else {
            ApiError::new(ErrorCode::MalformedJson, format!("the body could not be read: {rejection}"))
        }
    })?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let parsed = parse_body(endpoint, content_type, &body, OffsetDateTime::now_utc())?;
    let event_count = parsed.events.len();
    let triggers = state.triggers.triggers(&state.store, &caller.workspace).await?;
    let triggered = triggered_invitations(&triggers, &parsed.events);
    let consents = crate::services::privacy::segment_consents(&parsed.events);
    let receipt =
        state.store.ingest(IngestBatch { workspace: caller.workspace.clone(), events: parsed.events }).await?;
    // Consent from `context.consent`, before the 200: a failure here fails the request, and the
    // retry stores no event twice and records the consent again (a statement never replaces a
    // newer one).
    if !consents.is_empty() {
        crate::services::privacy::record_segment_consents(&state.store, &caller.workspace, consents).await?;
    }
    // After the events: trait conditions see the traits this batch set; a crash in between loses
    // no event, and the client's retry (it got no 200) triggers again; an invitation is made once
    // per survey and event however often.
    if !triggered.is_empty() {
        let invitations = confirm_trait_conditions(&state.store, &caller.workspace, triggered).await?;
        state.store.create_invitations(&caller.workspace, &invitations).await?;
    }
    metrics::counter!("rapport_events_accepted_total").increment(receipt.accepted as u64);
    metrics::counter!("rapport_events_duplicate_total").increment(receipt.duplicates as u64);
    tracing::debug!(workspace = %caller.workspace_name, events = event_count, accepted = receipt.accepted, "ingested");
    Ok(Json(IngestResponse {
        success: true,
        accepted: receipt.accepted,
        duplicates: receipt.duplicates,
        warnings: parsed
            .warnings
            .into_iter()
            .map(|warning| ErrorDetail { index: Some(warning.index), field: warning.field, problem: warning.problem })
            .collect(),
    }))
}

macro_rules! single_call_handler {
    ($handler:ident, $event_type:expr, $path:literal, $summary:literal) => {
        #[utoipa::path(post, path = $path, tag = "ingestion", summary = $summary,
                    request_body(content = SegmentEvent, content_type = "application/json"),
                    responses(
                        (status = 200, description = "Stored durably", body = IngestResponse),
                        (status = 400, description = "Invalid event; details name each field", body = ErrorBody),
                        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
                        (status = 403, description = "The key's role cannot ingest", body = ErrorBody),
                        (status = 413, description = "Event over 32 KB", body = ErrorBody),
                        (status = 415, description = "Body is not JSON", body = ErrorBody),
                    ),
                    security(("bearer" = []), ("basic" = [])))]
        pub async fn $handler(
            State(state): State<AppState>,
            caller: Result<Caller, ApiError>,
            headers: HeaderMap,
            body: Result<Bytes, BytesRejection>,
        ) -> Result<Json<IngestResponse>, ApiError> {
            ingest(&state, caller, Endpoint::Single($event_type), &headers, body).await
        }
    };
}

single_call_handler!(track, EventType::Track, "/v1/track", "Record an action a customer took");
single_call_handler!(identify, EventType::Identify, "/v1/identify", "Say who a customer is and set traits");
single_call_handler!(page, EventType::Page, "/v1/page", "Record a web page view");
single_call_handler!(screen, EventType::Screen, "/v1/screen", "Record an app screen view");
single_call_handler!(group, EventType::Group, "/v1/group", "Associate a customer with an account");
single_call_handler!(alias, EventType::Alias, "/v1/alias", "Link a previous id to a user id");

/// Send many calls at once. All or nothing: one invalid event rejects the batch.
#[utoipa::path(post, path = "/v1/batch", tag = "ingestion",
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Every event stored durably", body = IngestResponse),
        (status = 400, description = "Invalid events; details name each by index and field", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role cannot ingest", body = ErrorBody),
        (status = 413, description = "An event over 32 KB or the batch over 4 MB", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = [])))]
pub async fn batch(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    ingest(&state, caller, Endpoint::Batch, &headers, body).await
}
