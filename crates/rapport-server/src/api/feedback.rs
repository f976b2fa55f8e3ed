//! `/v1/feedback…`: the feedback store (items in, items out, one item), its taxonomy and settings,
//! topic figures and emerging themes; `/v1/alerts…`: spike alerts; `/v1/domain-events`: what
//! Rapport announced (`alert.raised`).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use rapport_core::auth::Permission;
use rapport_core::event::MAX_BATCH_BYTES;
use rapport_core::identity::Identity;
use rapport_store::feedback_records::FeedbackFilter;
use rapport_text::feedback::{FeedbackSettings, KINDS};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::AppState;
use crate::api::params;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::services::feedback::{self, feedback_json};
use crate::services::json_body::read_json_request;
use crate::services::metrics::invalid_settings;
use crate::services::{alerts, rfc3339};

/// Stores feedback: one item, or `{"items": [...]}` (up to 1,000), all or none. Each item:
/// `source` (required), `text` (or `turns` for a transcript: `[{"speaker": "customer"|"agent"|"bot"|"other", "text"}]`),
/// and optional `kind` (`direct`, `review`, `social`, `transcript`), `customer` (TYPE:VALUE),
/// `channel`, `touchpoint`, `occurredAt`, `rating`, `title`, `url`, `author`, `platform`,
/// `reach`, `idempotencyKey`. Text is redacted and analysed (sentiment, topics) before it is stored.
#[utoipa::path(post, path = "/v1/feedback", tag = "feedback",
    request_body(content = Object, description = "One item or `{\"items\": [...]}`"),
    responses((status = 200, description = "`accepted` (new items) and each item's `id` and `created`"),
        (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Ingest)?;
    let value = read_json_request(&headers, &body, MAX_BATCH_BYTES)?;
    let stored = feedback::submit(&state.store, &caller.workspace, &value, OffsetDateTime::now_utc()).await?;
    let accepted = stored.iter().filter(|(_, created)| *created).count();
    let items: Vec<Value> = stored.into_iter().map(|(id, created)| json!({"id": id, "created": created})).collect();
    Ok(Json(json!({"accepted": accepted, "items": items})))
}

/// The customer an item's identity belongs to now (following merges), if any.
async fn customer_of(
    state: &AppState,
    caller: &Caller,
    identity_key: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(identity) = identity_key.and_then(|key| Identity::parse_typed(key).ok()) else { return Ok(None) };
    Ok(state.store.customer_by_identity(&caller.workspace, &identity).await?.map(|id| id.0))
}

/// Feedback, newest first: `from`, `to` (RFC 3339 or YYYY-MM-DD; default the last 30 days),
/// `q` (words the text contains), `topic`, `source`, `channel`, `kind`, `label` (`negative`, `neutral`, `positive`), `customer` (a customer
/// id: every identity it holds), `limit` (1-200, default 50), `cursor` (`next` of the previous page).
#[utoipa::path(get, path = "/v1/feedback", tag = "feedback",
    responses((status = 200, description = "`data` (items) and `next` (a cursor, or null)"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(
        &parameters,
        &["from", "to", "q", "topic", "source", "channel", "kind", "label", "customer", "limit", "cursor"],
    )?;
    let (from, to) = params::range(&parameters, 30)?;
    let limit = params::limit(parameters.get("limit").map(String::as_str), 50, 200)?;
    let before = params::cursor(parameters.get("cursor").map(String::as_str), |text| {
        let (at, id) = text.split_once('_')?;
        Some((at.parse::<i64>().ok()?, id.to_owned()))
    })?;
    if let Some(kind) = parameters.get("kind").filter(|kind| !KINDS.contains(&kind.as_str())) {
        return Err(ApiError::invalid_parameter("kind", format!("`{kind}`: expected {}", KINDS.join(", "))));
    }
    if let Some(label) = parameters.get("label").filter(|l| !["negative", "neutral", "positive"].contains(&l.as_str()))
    {
        return Err(ApiError::invalid_parameter("label", format!("`{label}`: expected negative, neutral or positive")));
    }
    let identity_keys = match parameters.get("customer") {
        None => None,
        Some(id) => Some(crate::services::customer_identity_keys(&state.store, &caller.workspace, id).await?),
    };
    let filter = FeedbackFilter {
        from_ms: Some(from),
        to_ms: Some(to),
        topic: parameters.get("topic").cloned(),
        source: parameters.get("source").map(|s| s.to_lowercase()),
        channel: parameters.get("channel").map(|c| c.to_lowercase()),
        text: parameters.get("q").map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()),
        kind: parameters.get("kind").cloned(),
        label: parameters.get("label").cloned(),
        identity_keys,
        before,
        limit: limit + 1,
    };
    let mut records = state.store.list_feedback(&caller.workspace, &filter).await?;
    let next = (records.len() > limit).then(|| {
        records.truncate(limit);
        records.last().map(|r| format!("{}_{}", r.occurred_at_ms, r.id))
    });
    let mut data = Vec::with_capacity(records.len());
    for record in &records {
        let customer = customer_of(&state, &caller, record.identity_key.as_deref()).await?;
        data.push(feedback_json(record, customer.as_deref()));
    }
    Ok(Json(json!({"data": data, "next": next.flatten()})))
}

/// One item with its analysis: sentences and topics with byte offsets into `text`, sentiment per
/// sentence (and per speaker for a transcript), redactions.
#[utoipa::path(get, path = "/v1/feedback/{id}", tag = "feedback",
    params(("id" = String, Path, description = "The item's id")),
    responses((status = 200, description = "The item"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    let record = state
        .store
        .feedback(&caller.workspace, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no feedback `{id}` in this workspace")))?;
    let customer = customer_of(&state, &caller, record.identity_key.as_deref()).await?;
    Ok(Json(feedback_json(&record, customer.as_deref())))
}

/// The workspace's topic taxonomy (the default customer-experience taxonomy until one is saved).
#[utoipa::path(get, path = "/v1/feedback/taxonomy", tag = "feedback",
    responses((status = 200, description = "`{\"topics\": [{\"id\", \"name\", \"parent\"?, \"query\"}]}`")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_taxonomy(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    let taxonomy = feedback::taxonomy(&state.store, &caller.workspace).await?;
    Ok(Json(serde_json::to_value(taxonomy).map_err(ApiError::internal)?))
}

/// Replaces the taxonomy (admin) and finds topics again in every stored item. Each topic: `id`
/// (lower-case letters, digits, `-`), `name`, optional `parent` (a topic's id: two levels), and
/// `query`: words (matched by stem), `prefix*`, `"phrases"`, AND, OR, NOT, parentheses.
#[utoipa::path(put, path = "/v1/feedback/taxonomy", tag = "feedback",
    request_body(content = Object, description = "`{\"topics\": [...]}`"),
    responses((status = 200, description = "The taxonomy and `retagged`, the items re-read"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_taxonomy(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Analyse)?;
    let value = read_json_request(&headers, &body, 1024 * 1024)?;
    let (taxonomy, retagged) = feedback::replace_taxonomy(&state.store, &caller.workspace, &value).await?;
    crate::services::audit::record(&state.store, &caller, "settings.taxonomy", "", json!({"retagged": retagged})).await;
    let mut body = serde_json::to_value(taxonomy).map_err(ApiError::internal)?;
    body["retagged"] = Value::from(retagged);
    Ok(Json(body))
}

/// The workspace's feedback settings: `redact` (any of `email`, `phone`, `card`, `iban`),
/// `negativeBelow`, `positiveAbove`, and `alerts` (`falseDiscoveryRate`, `minMentions`,
/// `minRatio`, `baselineDays`).
#[utoipa::path(get, path = "/v1/feedback/settings", tag = "feedback",
    responses((status = 200, description = "The settings")), security(("bearer" = []), ("basic" = [])))]
pub async fn get_settings(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    let settings = feedback::settings(&state.store, &caller.workspace).await?;
    Ok(Json(serde_json::to_value(settings).map_err(ApiError::internal)?))
}

/// Replaces the feedback settings (admin); they apply to feedback stored from now on.
#[utoipa::path(put, path = "/v1/feedback/settings", tag = "feedback",
    request_body(content = Object, description = "The whole settings object, as GET returns it"),
    responses((status = 200, description = "The settings"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Analyse)?;
    let value = read_json_request(&headers, &body, 16 * 1024)?;
    let settings = FeedbackSettings::parse(&value).map_err(invalid_settings)?;
    let saved = serde_json::to_value(&settings).map_err(ApiError::internal)?;
    state.store.put_feedback_settings(&caller.workspace, &saved).await?;
    crate::services::audit::record(&state.store, &caller, "settings.feedback", "", Value::Null).await;
    Ok(Json(saved))
}

/// Per topic over `from..to` (default the last 30 days): mentions, their share of all feedback
/// and the negative share of the mentions, each with n and a 95% Wilson interval.
#[utoipa::path(get, path = "/v1/feedback/topics", tag = "feedback",
    responses((status = 200, description = "`feedback` (items in the range) and `topics`"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn topics(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(&parameters, &["from", "to"])?;
    let (from, to) = params::range(&parameters, 30)?;
    Ok(Json(feedback::topic_summary(&state.store, &caller.workspace, from, to).await?))
}

/// Emerging themes over `from..to` (default the last 30 days): frequent key phrases in sentences
/// no topic covers, with the count of items and up to three examples, to promote to topics.
/// `minCount` (default 3) and `limit` (default 20, at most 100).
#[utoipa::path(get, path = "/v1/feedback/themes", tag = "feedback",
    responses((status = 200, description = "`themes`: phrase, items, examples"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn themes(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(&parameters, &["from", "to", "minCount", "limit"])?;
    let (from, to) = params::range(&parameters, 30)?;
    let limit = params::limit(parameters.get("limit").map(String::as_str), 20, 100)?;
    let min_count = match parameters.get("minCount") {
        None => 3,
        Some(text) => text.parse::<usize>().ok().filter(|n| (2..=10_000).contains(n)).ok_or_else(|| {
            ApiError::invalid_parameter("minCount", format!("`{text}` is not a number from 2 to 10000"))
        })?,
    };
    Ok(Json(feedback::emerging_themes(&state.store, &caller.workspace, from, to, min_count, limit).await?))
}

/// Spike alerts, newest first: `status` (`open` or `closed`), `limit` (1-200, default 50).
#[utoipa::path(get, path = "/v1/alerts", tag = "feedback",
    responses((status = 200, description = "`data`: alerts with topic or source, window, observed, expected, p and q values, examples"),
        (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(&parameters, &["status", "limit"])?;
    let status = parameters.get("status").map(String::as_str);
    if let Some(status) = status.filter(|s| !["open", "closed"].contains(s)) {
        return Err(ApiError::invalid_parameter("status", format!("`{status}`: expected open or closed")));
    }
    let limit = params::limit(parameters.get("limit").map(String::as_str), 50, 200)?;
    let alerts = state.store.alerts(&caller.workspace, status, limit).await?;
    Ok(Json(json!({"data": alerts.iter().map(alerts::alert_json).collect::<Vec<_>>()})))
}

/// Runs a spike evaluation now (admin), or as of `at` (RFC 3339: windows end at the last whole
/// hour before it). The server also evaluates every workspace each hour.
#[utoipa::path(post, path = "/v1/alerts/evaluate", tag = "feedback",
    responses((status = 200, description = "`tests` run, alerts `raised`, `extended`, `closed`"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn evaluate(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Analyse)?;
    params::only(&parameters, &["at"])?;
    let at = params::time_parameter("at", parameters.get("at"), false)?.unwrap_or_else(rapport_store::now_ms);
    let evaluation = alerts::evaluate(&state.store, &caller.workspace, at).await?;
    let mut body = json!({
        "evaluatedAt": rfc3339(evaluation.at_ms),
        "tests": evaluation.tests,
        "raised": evaluation.raised.iter().map(alerts::alert_json).collect::<Vec<_>>(),
        "extended": evaluation.extended,
        "closed": evaluation.closed,
    });
    if evaluation.tests == 0 {
        body["note"] = Value::from(format!(
            "nothing to test: a window is judged against at least {} hours of feedback history before it, \
             and only topics and sources with negative mentions are tested",
            rapport_text::spikes::MIN_BASELINE_HOURS
        ));
    }
    Ok(Json(body))
}

/// What Rapport announced, oldest first after `after` (a `seq`): `type` (e.g. `alert.raised`),
/// `limit` (1-1000, default 100). Webhooks deliver from the same log.
#[utoipa::path(get, path = "/v1/domain-events", tag = "feedback",
    responses((status = 200, description = "`data`: seq, type, payload, createdAt"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn domain_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    params::only(&parameters, &["after", "type", "limit"])?;
    let after = params::after(parameters.get("after").map(String::as_str))?;
    let limit = params::limit(parameters.get("limit").map(String::as_str), 100, 1000)?;
    let events =
        state.store.domain_events(&caller.workspace, after, parameters.get("type").map(String::as_str), limit).await?;
    let data: Vec<Value> = events
        .iter()
        .map(|e| json!({"seq": e.seq, "type": e.event_type, "payload": e.payload, "createdAt": rfc3339(e.created_at_ms)}))
        .collect();
    Ok(Json(json!({"data": data})))
}
