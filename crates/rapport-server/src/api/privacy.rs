//! Privacy endpoints: consent (`PUT /v1/consent`, `GET /v1/customers/{id}/consent`), the
//! data-subject export and erasure (`POST /v1/privacy/export`, `POST /v1/privacy/erase`), and
//! retention (`GET|PUT /v1/privacy/settings`, `POST /v1/privacy/retention/run`). A person is
//! named in the body, never in the URL: addresses stay out of access logs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use rapport_core::auth::Permission;
use rapport_core::ids::CustomerId;
use rapport_core::privacy;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode, ErrorDetail, problems_phrase};
use crate::services::audit;
use crate::services::json_body::read_json_request;
use crate::services::metrics::invalid_settings;
use crate::services::privacy::{self as service, counts_json, identity_field};

const MAX_BODY: usize = 16 * 1024;

/// A request body that names a person (`identity`), with the rest of it.
fn person_request(headers: &HeaderMap, body: &Bytes) -> Result<(Value, rapport_core::identity::Identity), ApiError> {
    let value = read_json_request(headers, body, MAX_BODY)?;
    let identity = identity_field(&value)?;
    Ok((value, identity))
}

fn subject_target(subject: &rapport_store::privacy_records::DataSubject) -> String {
    subject
        .customer
        .as_ref()
        .map_or_else(|| "unknown-customer".to_owned(), |customer| format!("customer:{}", customer.as_str()))
}

/// Records what a person said about a purpose, on one channel or (channel null) on all. The
/// person need not be known yet: the statement applies once their identity arrives.
#[utoipa::path(put, path = "/v1/consent", tag = "privacy",
    request_body(content = Object, description = "`{\"identity\": \"email:jane@example.com\", \"choices\": [{\"purpose\": \"surveys|analytics|marketing\", \"channel\": \"email\"|null, \"granted\": false}]}`"),
    responses((status = 200, body = Object, description = "the person's consent after the change"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_consent(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::WorkCases)?;
    let (value, identity) = person_request(&headers, &body)?;
    let stated = privacy::parse_choices(value.get("choices")).map_err(|problems| {
        ApiError::new(
            ErrorCode::InvalidConsent,
            format!("the consent has {}; nothing was saved", problems_phrase(problems.len())),
        )
        .with_details(problems.into_iter().map(ErrorDetail::from).collect())
    })?;
    let choices = service::choices(&stated, "api", rapport_store::now_ms());
    state.store.record_consents(&caller.workspace, &identity.key(), &choices).await?;
    let subject = state.store.data_subject(&caller.workspace, &identity.key()).await?;
    let changed: Vec<Value> = stated
        .iter()
        .map(|s| json!({"purpose": s.purpose.as_str(), "channel": s.channel, "granted": s.granted}))
        .collect();
    audit::record(&state.store, &caller, "privacy.consent", &subject_target(&subject), json!({"choices": changed}))
        .await;
    Ok(Json(service::report(&state.store, &caller.workspace, &identity.key()).await?))
}

/// A customer's consent: each purpose's answer (with the channels someone stated something
/// for) and every statement, where it came from and when.
#[utoipa::path(get, path = "/v1/customers/{id}/consent", tag = "privacy",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn customer_consent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    let not_found = || ApiError::not_found(format!("no customer `{id}` in this workspace"));
    let profile =
        state.store.customer_profile(&caller.workspace, &CustomerId(id.clone())).await?.ok_or_else(not_found)?;
    let Some(identity) = profile.identities.first() else { return Err(not_found()) };
    let key = format!("{}:{}", identity.kind, identity.value);
    Ok(Json(service::report(&state.store, &caller.workspace, &key).await?))
}

/// Everything Rapport holds about a person, found by any of their identities, as one JSON
/// document (admin). Audited, without the data.
#[utoipa::path(post, path = "/v1/privacy/export", tag = "privacy",
    request_body(content = Object, description = "`{\"identity\": \"email:jane@example.com\"}`"),
    responses((status = 200, body = Object, description = "`subject`, `consent`, and `data`: rows by table"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let (_, identity) = person_request(&headers, &body)?;
    let (document, subject) =
        service::export(&state.store, &caller.workspace, &identity, rapport_store::now_ms()).await?;
    let rows: usize =
        document["data"].as_object().map_or(0, |data| data.values().filter_map(Value::as_array).map(Vec::len).sum());
    audit::record(&state.store, &caller, "privacy.export", &subject_target(&subject), json!({"rows": rows})).await;
    Ok(Json(document))
}

/// Erases a person everywhere (profile, identities, events, responses, feedback, cases,
/// invitations, consent, predictions) and takes their e-mail addresses, phone numbers and full
/// name out of other people's free text (admin). Aggregates stay equal to what remains. Audited
/// with counts only.
#[utoipa::path(post, path = "/v1/privacy/erase", tag = "privacy",
    request_body(content = Object, description = "`{\"identity\": \"email:jane@example.com\"}`"),
    responses((status = 200, body = Object, description = "`rows` removed or rewritten, by table"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let (_, identity) = person_request(&headers, &body)?;
    let (counts, subject) = service::erase(&state.store, &caller.workspace, &identity).await?;
    let report = counts_json(&counts);
    audit::record(&state.store, &caller, "privacy.erase", &subject_target(&subject), report.clone()).await;
    Ok(Json(report))
}

/// The workspace's privacy settings: how many days each kind of data is kept (null: until erased).
#[utoipa::path(get, path = "/v1/privacy/settings", tag = "privacy",
    responses((status = 200, body = Object)), security(("bearer" = []), ("basic" = [])))]
pub async fn get_settings(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(service::retention(&state.store, &caller.workspace).await?.to_json()))
}

/// Replaces the retention rules (admin): `{"retention_days": {"events": 730, "responses": null, …}}`
/// for events, responses, feedback, invitations and cases. Applied daily.
#[utoipa::path(put, path = "/v1/privacy/settings", tag = "privacy",
    request_body(content = Object, description = "`{\"retention_days\": {\"events\": 730}}`"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let value = read_json_request(&headers, &body, MAX_BODY)?;
    let rules = privacy::parse_retention(&value).map_err(invalid_settings)?;
    state.store.put_privacy_settings(&caller.workspace, &rules.to_json()).await?;
    audit::record(&state.store, &caller, "settings.privacy", "", rules.to_json()).await;
    Ok(Json(rules.to_json()))
}

/// Applies the retention rules now (they also run daily) and says what went (admin).
#[utoipa::path(post, path = "/v1/privacy/retention/run", tag = "privacy",
    responses((status = 200, body = Object, description = "`rows` removed, by table"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn run_retention(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Administer)?;
    let counts = service::enforce_retention(&state.store, &caller.workspace, rapport_store::now_ms()).await?;
    let report = counts_json(&counts);
    audit::record(&state.store, &caller, "privacy.retention", "", report.clone()).await;
    Ok(Json(report))
}
