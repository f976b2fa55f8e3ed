//! Settings → Users: who may sign in to the workspace and with which role. Admins add people
//! (Rapport makes a password, shown once), change roles, disable and enable accounts, and reset
//! passwords (which also lifts a lockout).

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use rapport_core::auth::{Permission, Role};
use serde_json::json;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::pages::settings::{Notice, render};
use crate::pages::{Viewer, layout, may, not_allowed};
use crate::services::users;

fn role_options(selected: Role) -> Markup {
    html! {
        @for role in Role::USER_ROLES {
            option value=(role.as_str()) selected[role == selected] { (role.as_str()) }
        }
    }
}

/// The users section of the settings page (admins see and change everyone; others see nothing
/// of other people's accounts).
pub async fn section(state: &AppState, caller: &Caller, notice: Option<Markup>) -> Result<Markup, ApiError> {
    if !caller.role.allows(Permission::Administer) {
        return Ok(html! {
            h2 id="users" { "Users" }
            p class="hint" { "Admins add people and choose their roles." }
        });
    }
    let people = state.store.users(&caller.workspace, None).await?;
    let now = rapport_store::now_ms();
    Ok(html! {
        h2 id="users" { "Users" }
        div class="card" {
            p { strong { "admin" } " does everything; " strong { "analyst" } " reads everything and edits surveys and analyses; "
                strong { "agent" } " works cases and sees the customers they concern; " strong { "viewer" } " reads. SECURITY.md has the whole matrix." }
            @if let Some(notice) = notice { (notice) }
            table {
                caption class="hint" { "People who sign in to " (caller.workspace_name) }
                thead { tr {
                    th scope="col" { "E-mail" } th scope="col" { "Name" } th scope="col" { "Role" }
                    th scope="col" { "Two-factor" } th scope="col" { "Status" } th scope="col" { "Last sign-in" } th scope="col" { "Change" }
                } }
                tbody { @for person in &people {
                    @let status = if person.disabled_at_ms.is_some() { "disabled" }
                        else if person.locked_until_ms.is_some_and(|until| until > now) { "locked" } else { "active" };
                    tr {
                        td { (person.email) } td { (person.name) } td { (person.role.as_str()) }
                        td { @if person.totp_enabled { "on" } @else { "off" } }
                        td class=(if status == "active" { "" } else { "worse" }) { (status) }
                        td { (person.last_sign_in_at_ms.map(layout::when).unwrap_or_else(|| "never".to_owned())) }
                        td {
                            form method="post" action={"/settings/users/" (person.id)} class="inline" {
                                (layout::csrf_field(caller))
                                label class="visually-hidden" for={"role-" (person.id)} { "Role of " (person.email) }
                                select id={"role-" (person.id)} name="role" { (role_options(person.role)) }
                                button type="submit" name="action" value="role" { "Set role" }
                                @if person.disabled_at_ms.is_some() {
                                    button type="submit" name="action" value="enable" { "Enable" }
                                } @else {
                                    button type="submit" name="action" value="disable" { "Disable" }
                                }
                                button type="submit" name="action" value="reset" { "New password" }
                            }
                        }
                    }
                } }
            }
            form method="post" action="/settings/users" class="filters" {
                (layout::csrf_field(caller))
                div { label for="new-email" { "E-mail" } input id="new-email" name="email" type="email" required; }
                div { label for="new-name" { "Name" } input id="new-name" name="name"; }
                div { label for="new-role" { "Role" } select id="new-role" name="role" { (role_options(Role::Viewer)) } }
                button type="submit" class="primary" { "Add user" }
            }
        }
    })
}

fn password_notice(what: &str, email: &str, password: &str) -> Markup {
    layout::done(html! {
        (what) " " strong { (email) } ". Their password (give it to them now; it is not shown again): "
        code id="new-password" { (password) }
    })
}

/// `POST /settings/users`: adds a person.
pub async fn make(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !may(&caller, Permission::Administer, &headers) {
        return not_allowed(&caller, "Adding users", Permission::Administer);
    }
    let field = |name: &str| form.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let request = json!({"email": field("email"), "name": field("name"), "role": field("role")});
    match users::create(&state.store, &caller, &request).await {
        Ok(created) => {
            let email = created["user"]["email"].as_str().unwrap_or_default();
            let password = created["password"].as_str().unwrap_or_default();
            let notice = password_notice("Added", email, password);
            render(&state, &caller, Some(Notice::Users(notice)), StatusCode::OK).await
        }
        Err(error) if error.status().is_client_error() => {
            render(&state, &caller, Some(Notice::Users(layout::alert(&error.to_string()))), error.status()).await
        }
        Err(error) => crate::pages::failed(&caller, error),
    }
}

/// `POST /settings/users/{id}`: `action` = `role` (with `role`), `disable`, `enable` or `reset`.
pub async fn change(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !may(&caller, Permission::Administer, &headers) {
        return not_allowed(&caller, "Changing users", Permission::Administer);
    }
    let mut reset = None;
    let request = match form.get("action").map(String::as_str) {
        Some("role") => json!({"role": form.get("role").cloned().unwrap_or_default()}),
        Some("disable") => json!({"disabled": true}),
        Some("enable") => json!({"disabled": false}),
        Some("reset") => {
            let password = crate::services::users::generated_password();
            reset = Some(password.clone());
            json!({"password": password})
        }
        _ => {
            let text = "Choose what to change: the role, disable, enable or a new password.";
            return layout::problem(StatusCode::BAD_REQUEST, Some(&caller), "What change?", text);
        }
    };
    match users::change(&state.store, &caller, &id, &request).await {
        Ok(changed) => {
            let email = changed["email"].as_str().unwrap_or_default();
            let notice = match reset {
                Some(password) => password_notice("New password for", email, &password),
                None => layout::done(html! { "Changed " strong { (email) } "." }),
            };
            render(&state, &caller, Some(Notice::Users(notice)), StatusCode::OK).await
        }
        Err(error) if error.status().is_client_error() => {
            render(&state, &caller, Some(Notice::Users(layout::alert(&error.to_string()))), error.status()).await
        }
        Err(error) => crate::pages::failed(&caller, error),
    }
}
