//! The survey widget: `GET /widget.js` (Rapport's own script, embedded by a website with a write
//! key), `POST /v1/widget/eligibility` (should this visitor see a survey now?) and
//! `POST /v1/widget/answers/{token}` (the visitor's answers). Both take a write key: the widget
//! runs in visitors' browsers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use rapport_core::auth::Permission;
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::services::json_body::read_json_request;
use crate::services::widget;

const MAX_BODY: usize = 64 * 1024;

/// The widget's script (see its header for how a page embeds it).
const SCRIPT: &str = include_str!("widget.js");

/// `GET /widget.js`: the survey widget's script.
pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=300")], SCRIPT)
}

/// Whether the visitor should see a survey now. `{"userId"|"anonymousId", "survey"?}`: the
/// contact rules decide as for any invitation (consent, sampling, cooldowns, caps); a survey shown
/// counts as an invitation sent. `{"show": true, "token", "survey": {…questions}}` or
/// `{"show": false, "reason", "explanation"}`.
#[utoipa::path(post, path = "/v1/widget/eligibility", tag = "surveys",
    request_body(content = Object, description = "`{\"userId\": \"u1\"}` or `{\"anonymousId\": \"a1\"}`, optionally `\"survey\": ID`"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn eligibility(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Ingest)?;
    let value = read_json_request(&headers, &body, MAX_BODY)?;
    let identity = widget::visitor(&value)?;
    let survey = value.get("survey").and_then(Value::as_str);
    let answer = widget::eligibility(&state, &caller.workspace, &identity, survey, rapport_store::now_ms()).await?;
    Ok(Json(answer))
}

/// The visitor's answers to the survey the widget showed: `{"answers": {"nps": 9, …},
/// "channel"?: "web"}`, checked as any response; a second answer is refused (409).
#[utoipa::path(post, path = "/v1/widget/answers/{token}", tag = "surveys",
    params(("token" = String, Path, description = "The token the eligibility answer gave")),
    request_body(content = Object, description = "`{\"answers\": {\"nps\": 9}}`"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn answers(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Ingest)?;
    let value = read_json_request(&headers, &body, MAX_BODY)?;
    let stored = widget::answer(&state, &caller.workspace, &token, &value, time::OffsetDateTime::now_utc()).await?;
    Ok(Json(stored))
}
