//! Privacy in the dashboard: a customer's consent on their page, their data downloaded or erased
//! by an admin (with a typed confirmation), and the retention rules in Settings. Every action
//! calls `services::privacy`, as the API does, and is audited the same way.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rapport_core::auth::Permission;
use rapport_core::identity::Identity;
use rapport_core::ids::CustomerId;
use rapport_core::privacy::{self, Purpose, RETENTION_KINDS};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::pages::settings::Notice;
use crate::pages::{Viewer, failed, layout, may, not_allowed};
use crate::services::{audit, privacy as service};

/// The word an admin types to confirm an erasure.
const CONFIRMATION: &str = "ERASE";

/// The customer's consent, and for admins what can be done with their data.
pub async fn customer_section(
    state: &AppState,
    caller: &Caller,
    customer: &str,
    identity_key: &str,
) -> Result<Markup, ApiError> {
    let report = service::report(&state.store, &caller.workspace, identity_key).await?;
    let admin = caller.role.allows(Permission::Administer);
    Ok(html! {
        h2 id="consent" { "Consent" }
        div class="card" {
            table aria-labelledby="consent" {
                thead { tr { th scope="col" { "Purpose" } th scope="col" { "Every channel" } th scope="col" { "By channel" } } }
                tbody { @for purpose in Purpose::ALL {
                    @let answer = &report["purposes"][purpose.as_str()];
                    tr {
                        td { (purpose.as_str()) }
                        td class=(if answer["granted"] == true { "better" } else { "worse" }) {
                            (if answer["granted"] == true { "allowed" } else { "refused" })
                            @if answer["default"] == true { span class="hint" { " (not asked: the default)" } }
                        }
                        td { @for (channel, granted) in answer["channels"].as_object().into_iter().flatten() {
                            (channel) ": " (if *granted == true { "allowed" } else { "refused" }) " "
                        } }
                    }
                } }
            }
            @let statements = report["statements"].as_array().cloned().unwrap_or_default();
            @if statements.is_empty() {
                p class="hint" { "Nothing stated yet. Consent comes from PUT /v1/consent, the unsubscribe link, and Segment's context.consent." }
            } @else {
                p class="hint" { @for statement in &statements {
                    (statement["purpose"].as_str().unwrap_or_default()) " "
                    (if statement["granted"] == true { "given" } else { "refused" })
                    @if let Some(channel) = statement["channel"].as_str() { " on " (channel) }
                    " by " (statement["source"].as_str().unwrap_or_default())
                    " on " (layout::readable(statement["at"].as_str().unwrap_or_default())) ". "
                } }
            }
        }
        @if admin {
            h2 id="personal-data" { "Personal data" }
            div class="card" {
                p { a href={"/customers/" (customer) "/export"} download { "Download everything held about this person (JSON)" } }
                form method="post" action={"/customers/" (customer) "/erase"} class="filters" {
                    (layout::csrf_field(caller))
                    div {
                        label for="confirm" { "To erase this person everywhere, type " strong { (CONFIRMATION) } }
                        input id="confirm" name="confirm" type="text" autocomplete="off" required;
                    }
                    button type="submit" class="danger" { "Erase this person" }
                }
                p class="hint" { "Erasure removes their profile, identities, events, answers, feedback, cases and consent, and takes their e-mail addresses, phone numbers and full name out of what others wrote. It cannot be undone." }
            }
        }
    })
}

/// The identity a page names a customer by (any of theirs finds all of them).
async fn customer_identity(state: &AppState, caller: &Caller, id: &str) -> Result<Option<Identity>, ApiError> {
    let Some(profile) = state.store.customer_profile(&caller.workspace, &CustomerId(id.to_owned())).await? else {
        return Ok(None);
    };
    Ok(profile
        .identities
        .first()
        .and_then(|first| Identity::parse_typed(&format!("{}:{}", first.kind, first.value)).ok()))
}

fn no_customer(caller: &Caller, id: &str) -> Response {
    layout::problem(
        StatusCode::NOT_FOUND,
        Some(caller),
        "No such customer",
        &format!("There is no customer “{id}” in this workspace."),
    )
}

/// `GET /customers/{id}/export`: the data-subject export as a file (admin).
pub async fn export(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !may(&caller, Permission::Administer, &headers) {
        return not_allowed(&caller, "Exporting a person's data", Permission::Administer);
    }
    let identity = match customer_identity(&state, &caller, &id).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return no_customer(&caller, &id),
        Err(error) => return failed(&caller, error),
    };
    match service::export(&state.store, &caller.workspace, &identity, rapport_store::now_ms()).await {
        Ok((document, _)) => {
            let rows: usize = document["data"]
                .as_object()
                .map_or(0, |data| data.values().filter_map(Value::as_array).map(Vec::len).sum());
            audit::record(&state.store, &caller, "privacy.export", &format!("customer:{id}"), json!({"rows": rows}))
                .await;
            let mut response = axum::Json(document).into_response();
            let disposition = format!("attachment; filename=\"customer-{id}.json\"");
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(error) => failed(&caller, error),
    }
}

/// `POST /customers/{id}/erase`: erases the person once the confirmation word is typed (admin).
pub async fn erase(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !may(&caller, Permission::Administer, &headers) {
        return not_allowed(&caller, "Erasing a person", Permission::Administer);
    }
    if form.get("confirm").map(|typed| typed.trim()) != Some(CONFIRMATION) {
        let text = format!(
            "Nothing was erased: type {CONFIRMATION} in the box to confirm. Go back to the customer to try again."
        );
        return layout::problem(StatusCode::BAD_REQUEST, Some(&caller), "Not confirmed", &text);
    }
    let identity = match customer_identity(&state, &caller, &id).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return no_customer(&caller, &id),
        Err(error) => return failed(&caller, error),
    };
    match service::erase(&state.store, &caller.workspace, &identity).await {
        Ok((counts, _)) => {
            let report = service::counts_json(&counts);
            audit::record(&state.store, &caller, "privacy.erase", &format!("customer:{id}"), report.clone()).await;
            let rewritten: u64 = counts.rewritten.iter().map(|(_, rows)| rows).sum();
            let body = html! {
                h1 { "Erased" }
                p class="better" role="status" {
                    "The person is erased: " (counts.total()) " rows removed, and " (rewritten)
                    " of other people's rows rewritten without their name, address or number. The audit log keeps the counts, not the data."
                }
                p { a href="/customers" { "Find another customer" } }
            };
            layout::page(StatusCode::OK, "Erased", Some(&caller), "/customers", body)
        }
        Err(error) => failed(&caller, error),
    }
}

/// Settings → Privacy: how long each kind of data is kept.
pub async fn settings_section(state: &AppState, caller: &Caller, notice: Option<&str>) -> Result<Markup, ApiError> {
    let rules = service::retention(&state.store, &caller.workspace).await?;
    let admin = caller.role.allows(Permission::Administer);
    Ok(html! {
        h2 id="privacy" { "Privacy: retention" }
        div class="card" {
            p class="hint" { "Each kind of data is deleted once older than its days, every day (empty: kept until erased). Responses go by whole days, with their place in every figure; open cases and pending invitations are never removed." }
            @if let Some(notice) = notice { p class="better" role="status" { (notice) } }
            form method="post" action="/settings/privacy" class="filters" {
                (layout::csrf_field(caller))
                @for kind in RETENTION_KINDS {
                    div {
                        label for={"keep-" (kind)} { (kind) " (days)" }
                        input id={"keep-" (kind)} name=(kind) type="number" min="1" max="36500" size="6"
                            value=(rules.days_for(kind).map(|days| days.to_string()).unwrap_or_default()) disabled[!admin];
                    }
                }
                @if admin { button type="submit" class="primary" { "Save retention" } }
            }
            @if admin {
                form method="post" action="/settings/privacy/run" class="filters" {
                    (layout::csrf_field(caller))
                    button type="submit" { "Apply now" }
                }
            } @else {
                p class="hint" { "Changing retention needs the admin role." }
            }
        }
    })
}

/// `POST /settings/privacy`: saves the retention rules (admin); problems named by kind.
pub async fn save_retention(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !may(&caller, Permission::Administer, &headers) {
        return not_allowed(&caller, "Changing retention", Permission::Administer);
    }
    let mut days = serde_json::Map::new();
    for kind in RETENTION_KINDS {
        let typed = form.get(kind).map(|typed| typed.trim()).unwrap_or_default();
        let value = if typed.is_empty() {
            Value::Null
        } else {
            typed.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(typed.to_owned()))
        };
        days.insert(kind.to_owned(), value);
    }
    let rules = match privacy::parse_retention(&json!({"retention_days": days})) {
        Ok(rules) => rules,
        Err(problems) => {
            let text: Vec<String> = problems
                .iter()
                .map(|problem| format!("{}: {}", problem.field.trim_start_matches("retention_days."), problem.problem))
                .collect();
            return layout::problem(StatusCode::BAD_REQUEST, Some(&caller), "Retention not saved", &text.join("; "));
        }
    };
    if let Err(error) = state.store.put_privacy_settings(&caller.workspace, &rules.to_json()).await {
        return failed(&caller, error.into());
    }
    audit::record(&state.store, &caller, "settings.privacy", "", rules.to_json()).await;
    crate::pages::settings::render(
        &state,
        &caller,
        Some(Notice::Privacy("Retention saved.".to_owned())),
        StatusCode::OK,
    )
    .await
}

/// `POST /settings/privacy/run`: applies the retention rules now (admin).
pub async fn run_retention(State(state): State<AppState>, Viewer(caller): Viewer, headers: HeaderMap) -> Response {
    if !may(&caller, Permission::Administer, &headers) {
        return not_allowed(&caller, "Applying retention", Permission::Administer);
    }
    match service::enforce_retention(&state.store, &caller.workspace, rapport_store::now_ms()).await {
        Ok(counts) => {
            audit::record(&state.store, &caller, "privacy.retention", "", service::counts_json(&counts)).await;
            let notice = format!("Retention applied: {} rows past their time removed.", counts.total());
            crate::pages::settings::render(&state, &caller, Some(Notice::Privacy(notice)), StatusCode::OK).await
        }
        Err(error) => failed(&caller, error),
    }
}
