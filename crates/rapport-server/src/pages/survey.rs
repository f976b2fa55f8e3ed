//! One survey: its questions, when and how it goes out (trigger, channel, sampling, reminders),
//! the contact rules that hold it back, its latest invitations, and the dry run: who would be
//! asked now, who suppressed and why (read-only, so a plain GET form).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use rapport_core::contact_policy::ContactPolicy;
use rapport_core::survey::SurveyKind;
use rapport_core::survey_delivery::DEFAULT_CADENCE_DAYS;
use rapport_store::records::SurveyRecord;

use crate::AppState;
use crate::auth::Caller;
use crate::pages::{Viewer, failed, layout};
use crate::services::invitations::{DryRunEntry, MAX_DRY_RUN_AUDIENCE, dry_run_audience};

/// Invitations listed on the page.
const RECENT_INVITATIONS: usize = 20;

fn questions(survey: &SurveyRecord) -> Markup {
    html! {
        table aria-labelledby="questions" {
            thead { tr { th scope="col" { "Id" } th scope="col" { "Type" } th scope="col" { "Question" } th scope="col" { "Required" } th scope="col" { "Shown" } } }
            tbody { @for question in &survey.definition.questions { tr {
                td { code { (question.id) } }
                td { (question.kind.name()) }
                td { (question.text) }
                td { @if question.required { "yes" } @else { "no" } }
                td { @match &question.show_if {
                    Some(show) => { "when " code { (show.question) } " is " (show.min) "–" (show.max) }
                    None => { "always" }
                } }
            } } }
        }
    }
}

fn policy_rows(policy: &ContactPolicy, whose: &str) -> Markup {
    html! {
        p class="hint" { (whose) }
        ul {
            li { "At most " strong { (policy.max_invitations) } " invitations in any " (policy.window_days) " days" }
            li { "At least " strong { (policy.min_days_between) } " days between two invitations" }
            li { "No invitation for " strong { (policy.cooldown_after_response_days) } " days after an answer to any survey" }
        }
    }
}

fn delivery(survey: &SurveyRecord, workspace_policy: &ContactPolicy) -> Markup {
    let Some(delivery) = &survey.definition.delivery else {
        return html! {
            p class="empty" { "This survey has no delivery settings: responses come only through the API (POST /v1/surveys/{id}/responses) or an import. Add "
                code { "delivery" } " (a trigger, a channel, contact rules) with PUT /v1/surveys/" (survey.id) "." }
        };
    };
    let relational = survey.definition.kind == SurveyKind::Relational;
    html! {
        dl class="facts" {
            dt { "When" }
            dd { @match &delivery.trigger {
                Some(trigger) => {
                    "After " code { (trigger.event) }
                    @for (path, value) in &trigger.r#where { " where " code { (path) } " = " code { (value.to_string()) } }
                    @if trigger.delay_minutes > 0 { ", " (trigger.delay_minutes) " minutes later" } @else { ", at once" }
                }
                None if relational => { "Every " (delivery.cadence_days.unwrap_or(DEFAULT_CADENCE_DAYS)) " days per customer" }
                None => { "No trigger: invitations are made through the API" }
            } }
            dt { "Channel" }
            dd { (delivery.channel) }
            dt { "Sample" }
            dd { (format!("{:.0}", delivery.sample_rate * 100.0)) "% of customers" }
            @if let Some(days) = delivery.not_again_within_days { dt { "Not again" } dd { "within " (days) " days of the last invitation to this survey" } }
            @if let Some(days) = delivery.reminder_after_days { dt { "Reminder" } dd { "one, " (days) " days after an unanswered e-mail" } }
        }
        h3 { "Contact rules" }
        @match &delivery.policy {
            Some(policy) => (policy_rows(policy, "This survey's own rules (they replace the workspace's):")),
            None => (policy_rows(workspace_policy, "The workspace's rules (PUT /v1/contact-policy):")),
        }
        p class="hint" { "Customers who unsubscribed or withheld consent for the channel are never asked." }
    }
}

fn dry_run_results(entries: &[DryRunEntry]) -> Markup {
    let invited = entries.iter().filter(|entry| entry.invite).count();
    html! {
        p role="status" { strong { (invited) } " of " (entries.len()) " would be asked now." }
        table aria-label="Dry run" {
            thead { tr { th scope="col" { "Customer" } th scope="col" { "Asked?" } th scope="col" { "Why not" } } }
            tbody { @for entry in entries { tr {
                td { @match &entry.customer_id {
                    Some(id) => a href={"/customers/" (id)} { (entry.customer) },
                    None => { (entry.customer) " " span class="hint" { "(not known yet)" } }
                } }
                td class=(if entry.invite { "better" } else { "worse" }) { @if entry.invite { "yes" } @else { "no" } }
                td { @if let Some(reason) = &entry.reason { code { (reason) } " " (entry.explanation.clone().unwrap_or_default()) } }
            } } }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Path(id): Path<String>,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Response {
    match render(&state, &caller, &id, &parameters).await {
        Ok(Some(response)) => response,
        Ok(None) => layout::problem(
            StatusCode::NOT_FOUND,
            Some(&caller),
            "No such survey",
            &format!("There is no survey “{id}” in this workspace."),
        ),
        Err(error) => failed(&caller, error),
    }
}

async fn render(
    state: &AppState,
    caller: &Caller,
    id: &str,
    parameters: &BTreeMap<String, String>,
) -> Result<Option<Response>, crate::error::ApiError> {
    let Some(survey) = state.store.survey(&caller.workspace, id, None).await? else { return Ok(None) };
    let policy = state.store.contact_policy(&caller.workspace).await?;
    let invitations = state.store.invitations(&caller.workspace, id, RECENT_INVITATIONS).await?;
    let typed = parameters.get("customers").cloned().unwrap_or_default();
    let audience: Vec<String> =
        typed.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect();
    let (results, problem) = if audience.is_empty() || survey.definition.delivery.is_none() {
        (None, None)
    } else {
        match dry_run_audience(&state.store, &caller.workspace, id, audience, None).await {
            Ok(entries) => (Some(entries), None),
            Err(error) if error.status().is_client_error() => (None, Some(error.to_string())),
            Err(error) => return Err(error),
        }
    };
    let body = html! {
        h1 { (survey.definition.name) }
        p class="lead" { (format!("{:?}", survey.definition.kind).to_lowercase()) " survey · version " (survey.current_version)
            @if let Some(touchpoint) = &survey.definition.touchpoint { " · after " (touchpoint) } }
        h2 id="questions" { "Questions" }
        div class="card" { (questions(&survey)) }
        h2 id="delivery" { "Trigger and contact rules" }
        div class="card" { (delivery(&survey, &policy)) }
        @if survey.definition.delivery.is_some() {
            h2 id="dry-run" { "Dry run" }
            div class="card" {
                p { "Who would be asked now, and who not and why. Nothing is sent or recorded." }
                form method="get" action={"/surveys/" (survey.id)} {
                    div class="row" {
                        label for="customers" { "Customers, one identity per line (at most " (MAX_DRY_RUN_AUDIENCE) ")" }
                        textarea id="customers" name="customers" rows="5" cols="48" placeholder="email:jane@example.com\nuserId:cus_0000042" { (typed) }
                    }
                    button type="submit" class="primary" { "Check" }
                }
                @if let Some(problem) = &problem { (layout::alert(problem)) }
                @if let Some(results) = &results { (dry_run_results(results)) }
            }
        }
        h2 id="invitations" { "Latest invitations" }
        @if invitations.is_empty() {
            p class="empty" { "No invitation yet: they are made when the trigger's event arrives, or each cadence period for a relational survey." }
        } @else {
            div class="card" {
                table aria-labelledby="invitations" {
                    thead { tr { th scope="col" { "Customer" } th scope="col" { "Channel" } th scope="col" { "State" } th scope="col" { "Due" } th scope="col" { "Why suppressed" } } }
                    tbody { @for invitation in &invitations { tr {
                        td { (invitation.identity_key) }
                        td { (invitation.channel) }
                        td { (invitation.state) }
                        td { (layout::when(invitation.due_at_ms)) }
                        td { @if let Some(reason) = &invitation.reason { code { (reason) } " " (invitation.explanation.clone().unwrap_or_default()) } }
                    } } }
                }
            }
        }
    };
    Ok(Some(layout::page(StatusCode::OK, &survey.definition.name, Some(caller), "/surveys", body)))
}
