//! Settings: users (`users.rs`), API keys (a new one shown once), retention (`privacy.rs`),
//! webhooks with their recent deliveries, and the topic taxonomy. Admins change them; everyone who reads sees them.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use rapport_core::auth::{Permission, Role};

use crate::AppState;
use crate::auth::Caller;
use crate::pages::{Viewer, failed, layout, may, not_allowed, privacy, users};
use crate::services::feedback::taxonomy;

/// Recent deliveries shown per webhook.
const DELIVERIES: usize = 10;

/// What the page reports at its top after a change: a new key or a new user's password.
pub enum Notice {
    Key { role: String, key: String },
    Users(Markup),
    Privacy(String),
}

pub async fn render(state: &AppState, caller: &Caller, notice: Option<Notice>, status: StatusCode) -> Response {
    let admin = caller.role.allows(Permission::Administer);
    let (created, users_notice, privacy_notice) = match notice {
        Some(Notice::Key { role, key }) => (Some((role, key)), None, None),
        Some(Notice::Users(markup)) => (None, Some(markup), None),
        Some(Notice::Privacy(text)) => (None, None, Some(text)),
        None => (None, None, None),
    };
    let retention = match privacy::settings_section(state, caller, privacy_notice.as_deref()).await {
        Ok(section) => section,
        Err(error) => return failed(caller, error),
    };
    let users = match users::section(state, caller, users_notice).await {
        Ok(users) => users,
        Err(error) => return failed(caller, error),
    };
    let existing = if admin {
        match state.store.api_keys(&caller.workspace).await {
            Ok(keys) => keys,
            Err(error) => return failed(caller, error.into()),
        }
    } else {
        Vec::new()
    };
    let webhooks = match state.store.webhooks(&caller.workspace).await {
        Ok(webhooks) => webhooks,
        Err(error) => return failed(caller, error.into()),
    };
    let mut deliveries = Vec::new();
    for webhook in &webhooks {
        match state.store.webhook_deliveries(&caller.workspace, &webhook.id, DELIVERIES).await {
            Ok(found) => deliveries.push(found),
            Err(error) => return failed(caller, error.into()),
        }
    }
    let topics = match taxonomy(&state.store, &caller.workspace).await {
        Ok(taxonomy) => taxonomy.topics,
        Err(error) => return failed(caller, error),
    };
    let keys: Markup = html! {
        h2 id="keys" { "API keys" }
        div class="card" {
            p { "Keys are stored hashed: a key is shown once, when it is made. " strong { "write" } " keys only send events (safe inside a website or app); "
                strong { "read" } " keys read; " strong { "admin" } " keys do everything in the workspace. From a shell: "
                code { "rapport keys create --workspace " (caller.workspace_name) " --role read" } "." }
            @if let Some((role, key)) = &created {
                p class="better" role="status" { "New " (role) " key (copy it now; it is not shown again): " code id="new-key" { (key) } }
            }
            @if !existing.is_empty() {
                table {
                    caption class="hint" { "The workspace's keys (their first characters)" }
                    thead { tr { th scope="col" { "Key" } th scope="col" { "Role" } th scope="col" { "Made" } } }
                    tbody { @for key in &existing { tr {
                        td { code { (key.display_prefix) "…" } } td { (key.role.as_str()) } td { (layout::when(key.created_at_ms)) }
                    } } }
                }
            }
            @if admin {
                form method="post" action="/settings/keys" class="filters" {
                    (layout::csrf_field(caller))
                    div {
                        label for="role" { "Role" }
                        select id="role" name="role" { option value="read" { "read" } option value="write" { "write" } option value="admin" { "admin" } }
                    }
                    button type="submit" class="primary" { "Make a key" }
                }
            } @else {
                p class="hint" { "Making keys needs the admin role." }
            }
        }
    };
    let body = html! {
        h1 { "Settings" }
        (users)
        (keys)
        (retention)
        h2 id="webhooks" { "Webhooks" }
        @if webhooks.is_empty() {
            p class="empty" { "No webhook yet. POST /v1/webhooks with a URL and the events to send (alert.raised, response.created, case.*, customer.churn_risk); Slack and Jira too." }
        }
        @for (webhook, recent) in webhooks.iter().zip(&deliveries) {
            section class="card" aria-label=(format!("Webhook {}", webhook.url)) {
                p { strong { (webhook.url) } " · " (webhook.kind) " · " (webhook.status)
                    @if let Some(reason) = &webhook.disabled_reason { " (" (reason) ")" }
                    " · " (webhook.event_types.join(", ")) }
                @if recent.is_empty() { p class="hint" { "Nothing delivered yet." } }
                @else {
                    table {
                        caption class="hint" { "The latest deliveries" }
                        thead { tr { th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" class="num" { "Attempts" } th scope="col" { "Last answer" } th scope="col" { "Created" } } }
                        tbody { @for delivery in recent { tr {
                            td { (delivery.event_type) }
                            td class=(match delivery.status.as_str() { "failed" => "worse", "delivered" => "better", _ => "" }) { (delivery.status) }
                            td class="num" { (delivery.attempts) }
                            td { (delivery.last_status.map(|s| s.to_string()).unwrap_or_default()) " " (delivery.last_error.clone().unwrap_or_default()) }
                            td { (layout::when(delivery.created_at_ms)) }
                        } } }
                    }
                }
            }
        }
        h2 id="taxonomy" { "Topic taxonomy" }
        div class="card" {
            p class="hint" { "What feedback is tagged with; change it with PUT /v1/feedback/taxonomy (everything stored is tagged again)." }
            table aria-labelledby="taxonomy" {
                thead { tr { th scope="col" { "Topic" } th scope="col" { "Id" } th scope="col" { "Query" } } }
                tbody { @for topic in &topics { tr {
                    td { @if topic.parent.is_some() { "— " } (topic.name) }
                    td { code { (topic.id) } }
                    td { code { (topic.query) } }
                } } }
            }
        }
    };
    layout::page(status, "Settings", Some(caller), "/settings", body)
}

pub async fn page(State(state): State<AppState>, Viewer(caller): Viewer) -> Response {
    render(&state, &caller, None, StatusCode::OK).await
}

pub async fn make_key(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !may(&caller, Permission::Administer, &headers) {
        return not_allowed(&caller, "Making keys", Permission::Administer);
    }
    let Some(role) = form.get("role").and_then(|role| Role::parse_key_role(role)) else {
        return layout::problem(StatusCode::BAD_REQUEST, Some(&caller), "Which role?", "Choose read, write or admin.");
    };
    let workspace = match state.store.workspace_by_name(&caller.workspace_name).await {
        Ok(Some(workspace)) => workspace,
        Ok(None) => {
            return layout::problem(
                StatusCode::NOT_FOUND,
                Some(&caller),
                "No such workspace",
                "The workspace is gone.",
            );
        }
        Err(error) => return failed(&caller, error.into()),
    };
    match crate::services::keys::create(&state.store, &workspace, role, &caller.actor).await {
        Ok((key, _)) => {
            render(&state, &caller, Some(Notice::Key { role: role.as_str().to_owned(), key }), StatusCode::OK).await
        }
        Err(error) => failed(&caller, error),
    }
}
