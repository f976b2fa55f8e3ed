//! `/v1/surveys…`: survey definitions (versioned) and their responses.

use crate::services::privacy::WITHHELD;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rapport_core::auth::Permission;
use rapport_core::privacy::Purpose;
use rapport_core::survey::{SurveyDefinition, parse_definition};
use rapport_store::records::{InvitationRecord, ResponseCursor, ResponseRecord, SurveyRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::params;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::services::hosted_survey::link_path;
use crate::services::invitations::{DryRunEntry, dry_run_audience};
use crate::services::json_body::read_json;
use crate::services::rfc3339;
use crate::services::surveys::{
    MAX_IDEMPOTENCY_KEY, answers_json, check_response, csv_columns, csv_header, csv_row, invalid_survey,
    record_response, requested_version,
};

/// Largest survey definition or response body, in bytes.
const MAX_SURVEY_BYTES: usize = 256 * 1024;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SurveyView {
    pub id: String,
    /// The version shown.
    pub version: i64,
    /// The newest version: the one new responses answer.
    pub current_version: i64,
    /// `name`, `kind` (`transactional` or `relational`), `touchpoint`, `questions`, `thankYou`.
    #[schema(value_type = Object)]
    pub definition: SurveyDefinition,
    pub created_at: String,
    pub updated_at: String,
}

impl From<SurveyRecord> for SurveyView {
    fn from(record: SurveyRecord) -> SurveyView {
        SurveyView {
            id: record.id,
            version: record.version,
            current_version: record.current_version,
            definition: record.definition,
            created_at: rfc3339(record.created_at_ms),
            updated_at: rfc3339(record.updated_at_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyList {
    pub data: Vec<SurveyView>,
}

fn survey_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no survey `{id}` in this workspace"))
}

fn definition_from(headers: &HeaderMap, body: &[u8]) -> Result<SurveyDefinition, ApiError> {
    let value = read_json(content_type(headers), body, MAX_SURVEY_BYTES)?;
    parse_definition(&value).map_err(invalid_survey)
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok())
}

/// Creates a survey (admin). Every problem of the definition is named by field.
#[utoipa::path(post, path = "/v1/surveys", tag = "surveys", request_body(content = Object, description = "A survey definition: `name`, `kind`, `touchpoint`, `questions`, `thankYou`"),
    responses((status = 201, body = SurveyView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create_survey(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<SurveyView>), ApiError> {
    caller.require(Permission::Analyse)?;
    let definition = definition_from(&headers, &body)?;
    let record = state.store.create_survey(&caller.workspace, &definition).await?;
    state.triggers.forget(&caller.workspace);
    crate::services::audit::record(
        &state.store,
        &caller,
        "survey.created",
        &format!("survey:{}", record.id),
        serde_json::json!({"version": record.version}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Every survey of the workspace, at its current version.
#[utoipa::path(get, path = "/v1/surveys", tag = "surveys",
    responses((status = 200, body = SurveyList)), security(("bearer" = []), ("basic" = [])))]
pub async fn list_surveys(State(state): State<AppState>, caller: Caller) -> Result<Json<SurveyList>, ApiError> {
    caller.require(Permission::Read)?;
    let surveys = state.store.surveys(&caller.workspace).await?;
    Ok(Json(SurveyList { data: surveys.into_iter().map(SurveyView::from).collect() }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct VersionQuery {
    /// A version number; the current version when absent.
    pub version: Option<String>,
}

fn parse_version(text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|version| *version >= 1)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_parameter("version", format!("`{text}` is not a version number"))),
    }
}

/// One survey, at its current version or at `version`.
#[utoipa::path(get, path = "/v1/surveys/{id}", tag = "surveys",
    params(("id" = String, Path, description = "A survey id"), VersionQuery),
    responses((status = 200, body = SurveyView), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_survey(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Json<SurveyView>, ApiError> {
    caller.require(Permission::Read)?;
    let version = parse_version(query.version.as_deref())?;
    match state.store.survey(&caller.workspace, &id, version).await? {
        Some(record) => Ok(Json(record.into())),
        None if version.is_some() && state.store.survey(&caller.workspace, &id, None).await?.is_some() => {
            Err(ApiError::not_found(format!("survey `{id}` has no version {}", version.unwrap_or_default())))
        }
        None => Err(survey_not_found(&id)),
    }
}

/// Replaces the survey's definition (admin) by adding a version: responses keep the version
/// they answered, and new responses answer the new one.
#[utoipa::path(put, path = "/v1/surveys/{id}", tag = "surveys",
    params(("id" = String, Path, description = "A survey id")),
    request_body(content = Object, description = "The new survey definition"),
    responses((status = 200, body = SurveyView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn update_survey(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SurveyView>, ApiError> {
    caller.require(Permission::Analyse)?;
    let definition = definition_from(&headers, &body)?;
    let record = state.store.add_survey_version(&caller.workspace, &id, &definition).await?;
    state.triggers.forget(&caller.workspace);
    let record = record.ok_or_else(|| survey_not_found(&id))?;
    crate::services::audit::record(
        &state.store,
        &caller,
        "survey.edited",
        &format!("survey:{id}"),
        serde_json::json!({"version": record.version}),
    )
    .await;
    Ok(Json(record.into()))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseView {
    pub id: String,
    pub survey_id: String,
    pub version: i64,
    /// The respondent as sent, normalised (`email:jane@example.com`); `withheld` when they
    /// refused analytics.
    pub customer: String,
    pub channel: Option<String>,
    pub touchpoint: Option<String>,
    pub agent: Option<String>,
    pub submitted_at: String,
    pub received_at: String,
    /// Question id → answer, shaped as sent.
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
}

impl From<ResponseRecord> for ResponseView {
    fn from(record: ResponseRecord) -> ResponseView {
        ResponseView {
            answers: answers_json(&record.answers),
            id: record.id,
            survey_id: record.survey_id,
            version: record.version,
            customer: record.identity_key,
            channel: record.channel,
            touchpoint: record.touchpoint,
            agent: record.agent,
            submitted_at: rfc3339(record.submitted_at_ms),
            received_at: rfc3339(record.received_at_ms),
        }
    }
}

/// Records a response (write or admin key): checked against the survey's current version (or
/// `version`), stored with every answer typed, and put on the customer's timeline as a `Survey
/// Answered` event. With an `Idempotency-Key` header, a repeat returns the first response (200)
/// instead of storing another.
#[utoipa::path(post, path = "/v1/surveys/{id}/responses", tag = "surveys",
    params(("id" = String, Path, description = "A survey id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key stores once")),
    request_body(content = Object, description = "`customer` (TYPE:VALUE), `answers` (question id → answer), and optional `channel`, `touchpoint`, `agent`, `submittedAt`, `version`"),
    responses((status = 201, body = ResponseView), (status = 200, body = ResponseView, description = "A repeat of an idempotency key"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn submit_response(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ResponseView>), ApiError> {
    caller.require(Permission::Ingest)?;
    let received_at = OffsetDateTime::now_utc();
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => match value.to_str().map(str::trim) {
            Ok(key) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY => Some(key.to_owned()),
            _ => {
                return Err(ApiError::invalid_parameter(
                    "Idempotency-Key",
                    format!("must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
                ));
            }
        },
    };
    let value = read_json(content_type(&headers), &body, MAX_SURVEY_BYTES)?;
    let version = requested_version(&value)?;
    let Some(survey) = state.store.survey(&caller.workspace, &id, version).await? else {
        return Err(match version {
            Some(version) if state.store.survey(&caller.workspace, &id, None).await?.is_some() => {
                ApiError::invalid_parameter("version", format!("survey `{id}` has no version {version}"))
            }
            _ => survey_not_found(&id),
        });
    };
    let checked = check_response(&survey, &value, idempotency_key, received_at)?;
    let (record, created) = record_response(&state.store, &caller.workspace, &survey, &checked).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(record.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ResponsesQuery {
    /// `json` (default, paginated) or `csv` (every response, one row each).
    pub format: Option<String>,
    /// Responses per JSON page, 1 to 1000 (default 100).
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseList {
    pub data: Vec<ResponseView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

const DEFAULT_RESPONSES_LIMIT: usize = 100;
const MAX_RESPONSES_LIMIT: usize = 1_000;

/// A survey's responses, oldest first: JSON pages, or all of them as CSV (`format=csv`).
#[utoipa::path(get, path = "/v1/surveys/{id}/responses", tag = "surveys",
    params(("id" = String, Path, description = "A survey id"), ResponsesQuery),
    responses((status = 200, body = ResponseList, description = "JSON, or text/csv with format=csv"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list_responses(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ResponsesQuery>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    let Some(survey) = state.store.survey(&caller.workspace, &id, None).await? else {
        return Err(survey_not_found(&id));
    };
    let limit = params::limit(query.limit.as_deref(), DEFAULT_RESPONSES_LIMIT, MAX_RESPONSES_LIMIT)?;
    let mut cursor = params::cursor(query.cursor.as_deref(), ResponseCursor::decode)?;
    // Respondents who refused analytics are exported without their identity.
    let refusing = state.store.refusing_identity_keys(&caller.workspace, Purpose::Analytics).await?;
    let withhold = |mut response: ResponseRecord| {
        if refusing.contains(&response.identity_key) {
            response.identity_key = WITHHELD.to_owned();
        }
        response
    };
    match query.format.as_deref().unwrap_or("json") {
        "json" => {
            let page = state.store.responses(&caller.workspace, &id, cursor.as_ref(), limit + 1).await?;
            let more = page.len() > limit;
            let page: Vec<ResponseRecord> = page.into_iter().take(limit).map(withhold).collect();
            let next_cursor = page
                .last()
                .filter(|_| more)
                .map(|last| ResponseCursor { submitted_at_ms: last.submitted_at_ms, id: last.id.clone() }.encode());
            let data = page.into_iter().map(ResponseView::from).collect();
            Ok(Json(ResponseList { data, next_cursor }).into_response())
        }
        "csv" => {
            let columns = csv_columns(&survey.definition);
            let mut writer = csv::Writer::from_writer(Vec::new());
            let csv_error = |error: csv::Error| ApiError::internal(format!("writing CSV failed: {error}"));
            writer.write_record(csv_header(&columns)).map_err(csv_error)?;
            loop {
                let page = state.store.responses(&caller.workspace, &id, cursor.as_ref(), MAX_RESPONSES_LIMIT).await?;
                for response in page.iter().cloned().map(withhold) {
                    writer
                        .write_record(csv_row(&response, &columns, rfc3339(response.submitted_at_ms)))
                        .map_err(csv_error)?;
                }
                match page.last() {
                    Some(last) if page.len() == MAX_RESPONSES_LIMIT => {
                        cursor = Some(ResponseCursor { submitted_at_ms: last.submitted_at_ms, id: last.id.clone() });
                    }
                    _ => break,
                }
            }
            let body = writer.into_inner().map_err(|error| csv_error(error.into_error().into()))?;
            let mut response = body.into_response();
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            let disposition = format!("attachment; filename=\"survey-{id}-responses.csv\"");
            if let Ok(disposition) = HeaderValue::from_str(&disposition) {
                response.headers_mut().insert(CONTENT_DISPOSITION, disposition);
            }
            Ok(response)
        }
        other => Err(ApiError::invalid_parameter("format", format!("`{other}` is not json or csv"))),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    pub id: String,
    pub survey_id: String,
    pub version: i64,
    /// Who the triggering event belonged to.
    pub identity: String,
    pub customer_id: Option<String>,
    pub channel: String,
    /// `pending`, `dispatching`, `sent`, `responded`, `suppressed` or `failed`.
    pub state: String,
    /// For a suppression or failure: the rule's stable code, and a sentence.
    pub reason: Option<String>,
    pub explanation: Option<String>,
    /// The event that triggered it.
    pub message_id: String,
    pub due_at: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    /// The hosted survey page of a sent invitation (a signed link, valid for 14 days).
    pub url: Option<String>,
}

impl From<InvitationRecord> for InvitationView {
    fn from(record: InvitationRecord) -> InvitationView {
        InvitationView {
            id: record.id,
            survey_id: record.survey_id,
            version: record.version,
            identity: record.identity_key,
            customer_id: record.customer_id.map(|customer| customer.0),
            channel: record.channel,
            state: record.state,
            reason: record.reason,
            explanation: record.explanation,
            message_id: record.trigger_message_id,
            due_at: rfc3339(record.due_at_ms),
            created_at: rfc3339(record.created_at_ms),
            sent_at: record.sent_at_ms.map(rfc3339),
            url: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    pub data: Vec<InvitationView>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InvitationsQuery {
    /// Invitations to return, newest first, 1 to 1000 (default 100).
    pub limit: Option<String>,
}

/// A survey's invitations, newest first, each with its state and, when suppressed, the rule.
#[utoipa::path(get, path = "/v1/surveys/{id}/invitations", tag = "surveys",
    params(("id" = String, Path, description = "A survey id"), InvitationsQuery),
    responses((status = 200, body = InvitationList), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<InvitationsQuery>,
) -> Result<Json<InvitationList>, ApiError> {
    caller.require(Permission::Read)?;
    let limit = params::limit(query.limit.as_deref(), DEFAULT_RESPONSES_LIMIT, MAX_RESPONSES_LIMIT)?;
    if state.store.survey(&caller.workspace, &id, None).await?.is_none() {
        return Err(survey_not_found(&id));
    }
    let invitations = state.store.invitations(&caller.workspace, &id, limit).await?;
    let secret = state.link_secret().await?;
    let data = invitations
        .into_iter()
        .map(|record| {
            let url = link_path(&secret, &record).filter(|_| record.state == "sent");
            InvitationView { url, ..InvitationView::from(record) }
        })
        .collect();
    Ok(Json(InvitationList { data }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    /// The audience: identities as `TYPE:VALUE` (at most 1000).
    pub customers: Vec<String>,
    /// The channel to decide for; the survey's delivery channel by default.
    pub channel: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunResult {
    pub data: Vec<DryRunEntry>,
}

/// Who would be invited to this survey now, and for each one suppressed, the rule that
/// suppressed them. Nothing is sent or recorded.
#[utoipa::path(post, path = "/v1/surveys/{id}/dry-run", tag = "surveys",
    params(("id" = String, Path, description = "A survey id")), request_body = DryRunRequest,
    responses((status = 200, body = DryRunResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn dry_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DryRunResult>, ApiError> {
    caller.require(Permission::Read)?;
    let value = read_json(content_type(&headers), &body, MAX_SURVEY_BYTES)?;
    let request: DryRunRequest = serde_json::from_value(value)
        .map_err(|error| ApiError::new(ErrorCode::InvalidParameter, format!("invalid dry run: {error}")))?;
    let data = dry_run_audience(&state.store, &caller.workspace, &id, request.customers, request.channel).await?;
    Ok(Json(DryRunResult { data }))
}
