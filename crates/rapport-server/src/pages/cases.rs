//! Cases: the inbox (open, overdue, closed) and a case page to work it: its history, the
//! customer beside it, a note, a move, and closing with a root cause and what was done (admin
//! keys; a read key sees the case without the forms).

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use rapport_core::auth::{Permission, Role};
use rapport_core::cases::STATES;
use rapport_store::case_records::CaseRecord;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::pages::{Viewer, failed, layout, may, not_allowed};
use crate::services::cases;

const VIEWS: [(&str, &str); 5] =
    [("mine", "Mine"), ("team", "My team"), ("open", "All open"), ("overdue", "Overdue"), ("closed", "Closed")];

/// Who "mine" and "my team" are for the person signed in: the names a case's assignee may carry
/// (their name and e-mail address, lower-cased), and their teams' names and members.
struct Me {
    names: Vec<String>,
    teams: Vec<String>,
    teammates: Vec<String>,
}

impl Me {
    async fn of(state: &AppState, caller: &Caller) -> Result<Me, crate::error::ApiError> {
        let user = match caller.user_id.as_deref() {
            Some(id) => state.store.users(&caller.workspace, Some(id)).await?.pop(),
            None => None,
        };
        let names: Vec<String> = user
            .iter()
            .flat_map(|user| [user.name.to_lowercase(), user.email.to_lowercase()])
            .filter(|name| !name.is_empty())
            .collect();
        let (settings, _) = cases::settings(&state.store, &caller.workspace).await?;
        let mut teams = Vec::new();
        let mut teammates = Vec::new();
        for (team, members) in &settings.teams {
            if members.members.iter().any(|member| names.contains(&member.to_lowercase())) {
                teams.push(team.to_lowercase());
                teammates.extend(members.members.iter().map(|member| member.to_lowercase()));
            }
        }
        Ok(Me { names, teams, teammates })
    }

    fn assigned(&self, case: &CaseRecord) -> bool {
        case.assignee.as_ref().is_some_and(|assignee| self.names.contains(&assignee.to_lowercase()))
    }

    fn in_team(&self, case: &CaseRecord) -> bool {
        case.team.as_ref().is_some_and(|team| self.teams.contains(&team.to_lowercase()))
            || case.assignee.as_ref().is_some_and(|assignee| self.teammates.contains(&assignee.to_lowercase()))
    }
}

fn due(case: &CaseRecord, now: i64) -> Markup {
    let late = case.closed_at_ms.is_none() && case.resolution_due_ms < now;
    html! { span class=(if late { "worse" } else { "" }) { (layout::when(case.resolution_due_ms)) @if late { " (overdue)" } } }
}

pub async fn inbox(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Response {
    // An agent starts with their own cases; everyone else with all open ones.
    let default = if caller.role == Role::Agent { "mine" } else { "open" };
    let view =
        parameters.get("view").map(String::as_str).filter(|v| VIEWS.iter().any(|(id, _)| id == v)).unwrap_or(default);
    let wanted = if view == "closed" { Some("closed") } else { None };
    let found = match state.store.cases(&caller.workspace, wanted, None, None, 500).await {
        Ok(found) => found,
        Err(error) => return failed(&caller, error.into()),
    };
    let me = match Me::of(&state, &caller).await {
        Ok(me) => me,
        Err(error) => return failed(&caller, error),
    };
    let now = rapport_store::now_ms();
    let open = |case: &CaseRecord| !matches!(case.state.as_str(), "resolved" | "closed");
    let shown: Vec<&CaseRecord> = found
        .iter()
        .filter(|case| match view {
            "closed" => true,
            "overdue" => case.closed_at_ms.is_none() && case.resolved_at_ms.is_none() && case.resolution_due_ms < now,
            "mine" => open(case) && me.assigned(case),
            "team" => open(case) && me.in_team(case),
            _ => open(case),
        })
        .collect();
    let empty = match view {
        "mine" => {
            "Nothing is assigned to you. Cases are assigned round-robin to the members of the team a rule names (case settings), or by hand."
        }
        "team" if me.teams.is_empty() => {
            "You are in no team. An admin adds you to one in the case settings (PUT /v1/cases/settings, teams), by your name or e-mail address."
        }
        "team" => "Your team has no open case.",
        _ => {
            "No case here. Cases open when a rule matches a survey answer (a detractor, say), a spike alert, a customer at risk, or by hand: POST /v1/cases."
        }
    };
    let body = html! {
        h1 { "Cases" }
        nav aria-label="Case views" class="tabs" {
            @for (id, label) in VIEWS {
                @if id == view { a href={"/cases?view=" (id)} aria-current="page" { (label) } }
                @else { a href={"/cases?view=" (id)} { (label) } }
            }
        }
        @if shown.is_empty() {
            p class="empty" role="status" { (empty) }
        } @else {
            div class="card" {
                table aria-label="Cases" {
                    thead { tr { th scope="col" { "Case" } th scope="col" { "State" } th scope="col" { "Priority" } th scope="col" { "Assignee" } th scope="col" { "Resolve by" } } }
                    tbody {
                        @for case in &shown {
                            tr {
                                td { a href={"/cases/" (case.id)} { (case.title) } br; span class="hint" { (case.identity_key.clone().unwrap_or_default()) } }
                                td { (case.state.replace('_', " ")) }
                                td { (case.priority) }
                                td { (case.assignee.clone().unwrap_or_else(|| "–".to_owned())) }
                                td { (due(case, now)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page(StatusCode::OK, "Cases", Some(&caller), "/cases", body)
}

fn entry_text(entry: &Value) -> String {
    let detail = &entry["detail"];
    match entry["kind"].as_str().unwrap_or_default() {
        "note" => detail["text"].as_str().unwrap_or_default().to_owned(),
        "state" => {
            let mut text = format!(
                "{} → {}",
                detail["from"].as_str().unwrap_or_default(),
                detail["to"].as_str().unwrap_or_default()
            );
            if let Some(cause) = detail["rootCause"].as_str() {
                text.push_str(&format!(" · root cause {cause}"));
            }
            if let Some(resolution) = detail["resolution"].as_str() {
                text.push_str(&format!(" · {resolution}"));
            }
            text
        }
        "opened" => {
            let how = if detail["manual"].as_bool() == Some(true) { "by hand" } else { "by a rule" };
            match detail["assignee"].as_str() {
                Some(assignee) => format!("{how}, assigned to {assignee}"),
                None => how.to_owned(),
            }
        }
        _ => detail.to_string(),
    }
}

async fn case_page(state: &AppState, caller: &Caller, id: &str, problem: Option<String>) -> Response {
    let case = match state.store.case(&caller.workspace, id).await {
        Ok(Some(case)) => case,
        Ok(None) => {
            return layout::problem(
                StatusCode::NOT_FOUND,
                Some(caller),
                "No such case",
                &format!("There is no case “{id}” in this workspace."),
            );
        }
        Err(error) => return failed(caller, error.into()),
    };
    let with_history = match cases::case_with_history(&state.store, &case).await {
        Ok(value) => value,
        Err(error) => return failed(caller, error),
    };
    let root_causes = match cases::settings(&state.store, &caller.workspace).await {
        Ok((settings, _)) => settings.root_causes,
        Err(error) => return failed(caller, error),
    };
    let customer = match &case.identity_key {
        Some(key) => match rapport_core::identity::Identity::parse_typed(key) {
            Ok(identity) => state.store.customer_by_identity(&caller.workspace, &identity).await.ok().flatten(),
            Err(_) => None,
        },
        None => None,
    };
    let now = rapport_store::now_ms();
    let works = caller.role.allows(Permission::WorkCases);
    let moves: Vec<&str> = STATES.iter().copied().filter(|to| rapport_core::cases::may_move(&case.state, to)).collect();
    let status = if problem.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let body = html! {
        p { a href="/cases" { "← Cases" } }
        h1 { (case.title) }
        p class="lead" {
            (case.state.replace('_', " ")) " · " (case.priority) " priority · opened " (layout::when(case.opened_at_ms))
            " · resolve by " (due(&case, now))
            @if let Some(assignee) = &case.assignee { " · " (assignee) }
        }
        @if let Some(problem) = &problem { p class="error" role="alert" { (problem) } }
        div class="tiles" {
            section class="tile" aria-labelledby="about" {
                h2 id="about" { "Customer" }
                @match (&case.identity_key, &customer) {
                    (Some(key), Some(customer)) => p { a href={"/customers/" (customer.0)} { (key) } " · the 360 view" },
                    (Some(key), None) => p { (key) },
                    _ => p { "No customer named." },
                }
                @if let Some(cause) = &case.root_cause { p { "Root cause: " strong { (cause) } } }
                @if let Some(resolution) = &case.resolution { p { "Resolution: " (resolution) } }
            }
        }
        @if works && case.state != "closed" {
            h2 id="work" { "Work the case" }
            div class="card" {
                form method="post" action={"/cases/" (case.id) "/move"} class="filters" {
                    (layout::csrf_field(caller))
                    div {
                        label for="state" { "Move to" }
                        select id="state" name="state" {
                            @for to in &moves { option value=(to) selected[*to == "closed"] { (to.replace('_', " ")) } }
                        }
                    }
                    div {
                        label for="rootCause" { "Root cause (to close)" }
                        select id="rootCause" name="rootCause" {
                            option value="" { "—" }
                            @for cause in &root_causes { option value=(cause) { (cause.replace('_', " ")) } }
                        }
                    }
                    div {
                        label for="resolution" { "What was done (to close)" }
                        input id="resolution" name="resolution" size="40";
                    }
                    button type="submit" class="primary" { "Move" }
                }
                form method="post" action={"/cases/" (case.id) "/note"} class="filters" {
                    (layout::csrf_field(caller))
                    div { label for="note" { "Note" } input id="note" name="text" size="60" required; }
                    button type="submit" class="primary" { "Add note" }
                }
            }
        }
        @if !works { p class="hint" { "Working a case needs the admin or agent role; yours can read." } }
        h2 id="history" { "History" }
        div class="card" {
            table aria-labelledby="history" {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } } }
                tbody {
                    @for entry in with_history["history"].as_array().into_iter().flatten() {
                        tr {
                            td { (layout::readable(entry["at"].as_str().unwrap_or_default())) }
                            td { (entry["actor"].as_str().unwrap_or_default()) }
                            td { strong { (entry["kind"].as_str().unwrap_or_default()) } " " (entry_text(entry)) }
                        }
                    }
                }
            }
        }
    };
    layout::page(status, &case.title, Some(caller), "/cases", body)
}

pub async fn one(State(state): State<AppState>, Viewer(caller): Viewer, Path(id): Path<String>) -> Response {
    case_page(&state, &caller, &id, None).await
}

pub async fn change(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !may(&caller, Permission::WorkCases, &headers) {
        return not_allowed(&caller, "Working a case", Permission::WorkCases);
    }
    let field = |name: &str| form.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let actor = caller.actor.clone();
    let now = rapport_store::now_ms();
    let outcome = match action.as_str() {
        "move" => {
            let body = json!({"state": field("state"), "rootCause": field("rootCause"), "resolution": field("resolution"), "actor": actor});
            cases::transition(&state.store, &caller.workspace, &id, &body, now).await
        }
        "note" => {
            cases::add_note(&state.store, &caller.workspace, &id, &json!({"text": field("text"), "actor": actor}), now)
                .await
        }
        _ => {
            return layout::problem(
                StatusCode::NOT_FOUND,
                Some(&caller),
                "No such page",
                "There is nothing to do here.",
            );
        }
    };
    match outcome {
        Ok(case) => {
            let (audited, detail) = if action == "move" {
                ("case.transition", json!({"state": case.state}))
            } else {
                ("case.note", json!({}))
            };
            crate::services::audit::record(&state.store, &caller, audited, &format!("case:{id}"), detail).await;
            Redirect::to(&format!("/cases/{id}")).into_response()
        }
        Err(error) if error.status().is_client_error() => {
            case_page(&state, &caller, &id, Some(error.to_string())).await
        }
        Err(error) => failed(&caller, error),
    }
}
