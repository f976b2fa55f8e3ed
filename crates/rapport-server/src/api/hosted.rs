//! `/s/{token}`: the hosted survey page. Server-rendered, works without JavaScript, one column that
//! fits a phone, every control labelled. A link is answered once; a second submission gets a
//! friendly page (409). `/u/{token}`: the unsubscribe link of survey e-mails.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use rapport_core::identity::Identity;
use rapport_core::problem::FieldProblem;
use rapport_core::survey::{Question, QuestionKind, SurveyDefinition};
use rapport_store::IngestBatch;
use rapport_store::records::InvitationRecord;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::services::hosted_survey::{LinkProblem, form_answers, open_link, unsubscribe_event, unsubscribe_invitation};
use crate::services::surveys::{check_response, record_response};

const STYLE: &str = "body{font:17px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}\
main{max-width:40rem;margin:0 auto;padding:1.5rem 1rem 3rem}h1{font-size:1.5rem}\
fieldset{border:1px solid #c9ced6;border-radius:.5rem;background:#fff;margin:0 0 1rem;padding:1rem}\
legend{float:left;width:100%;padding:0;margin:0 0 .75rem;font-weight:600}legend+*{clear:both}\
.scale{display:flex;gap:.2rem}.scale label{flex:1 1 0;min-width:0;display:flex;flex-direction:column;\
align-items:center;padding:.3rem 0;border:1px solid #c9ced6;border-radius:.375rem;cursor:pointer}\
.scale label:has(input:checked){background:#e3eefb;border-color:#0b5cad}.scale input{margin:0 0 .25rem}\
.ends{display:flex;justify-content:space-between;font-size:.85rem;color:#4a5260}\
.choice{display:block;padding:.25rem 0}textarea{width:100%;min-height:6rem;font:inherit;box-sizing:border-box}\
.hint{font-size:.9rem;color:#4a5260;margin:0 0 .5rem;clear:both}.errors{background:#fdecec;border:1px solid #b3261e;color:#6b0f0a;\
border-radius:.5rem;padding:.75rem 1rem;margin-bottom:1rem}button{font:inherit;font-weight:600;color:#fff;\
background:#0b5cad;border:0;border-radius:.5rem;padding:.75rem 1.5rem;cursor:pointer}\
button:focus,input:focus,textarea:focus{outline:3px solid #f2b600;outline-offset:2px}";

fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

fn notice(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, title, html! { h1 { (title) } p { (text) } })
}

fn link_problem(problem: LinkProblem) -> Response {
    match problem {
        LinkProblem::Invalid => notice(
            StatusCode::NOT_FOUND,
            "This survey link is not valid",
            "Please check that the whole link was copied from your message.",
        ),
        LinkProblem::Expired => {
            notice(StatusCode::GONE, "This survey has closed", "The link has expired. Thank you for your interest.")
        }
        LinkProblem::AlreadyAnswered => notice(
            StatusCode::CONFLICT,
            "You have already answered",
            "We have your answers from this link. Thank you for taking the time.",
        ),
    }
}

/// A row of radio buttons from `low` to `high`. `required` makes the browser insist (a follow-up
/// is never marked so: it may not apply).
fn scale(name: &str, legend: &str, required: bool, low: i64, high: i64, ends: (&str, &str)) -> Markup {
    html! {
        fieldset {
            legend { (legend) @if required { " (required)" } }
            div class="scale" role="radiogroup" {
                @for score in low..=high {
                    label { input type="radio" name=(name) value=(score) required[required]; (score) }
                }
            }
            div class="ends" aria-hidden="true" { span { (ends.0) } span { (ends.1) } }
        }
    }
}

fn question_markup(question: &Question, definition: &SurveyDefinition) -> Markup {
    let name = format!("q.{}", question.id);
    let required = question.required && question.show_if.is_none();
    let follow_up = question.show_if.as_ref().and_then(|condition| {
        definition
            .question(&condition.question)
            .map(|_| format!("Answer this if you chose {} to {} above.", condition.min, condition.max))
    });
    let body = match &question.kind {
        QuestionKind::Nps => scale(&name, &question.text, required, 0, 10, ("Not at all likely", "Extremely likely")),
        QuestionKind::Ces => scale(&name, &question.text, required, 1, 7, ("Strongly disagree", "Strongly agree")),
        QuestionKind::Rating { scale: top } => scale(&name, &question.text, required, 1, *top, ("Lowest", "Highest")),
        QuestionKind::Csat { dimensions } => html! {
            (scale(&name, &question.text, required, 1, 5, ("Very dissatisfied", "Very satisfied")))
            @for dimension in dimensions {
                (scale(&format!("{name}.{dimension}"), &format!("How satisfied were you with our {}?", dimension.replace('_', " ")), false, 1, 5, ("Very dissatisfied", "Very satisfied")))
            }
        },
        QuestionKind::SingleChoice { options } | QuestionKind::MultipleChoice { options } => {
            let kind = if matches!(question.kind, QuestionKind::SingleChoice { .. }) { "radio" } else { "checkbox" };
            html! {
                fieldset {
                    legend { (question.text) @if question.required { " (required)" } }
                    @for option in options {
                        label class="choice" { input type=(kind) name=(name) value=(option); " " (option) }
                    }
                }
            }
        }
        QuestionKind::Text => html! {
            fieldset {
                legend { label for=(name) { (question.text) @if question.required { " (required)" } } }
                textarea id=(name) name=(name) maxlength="5000" {}
            }
        },
    };
    match follow_up {
        // The condition is said in the question's own box, under its text.
        Some(hint) => html! { div class="follow-up" { p class="hint" { (hint) } (body) } },
        None => body,
    }
}

fn survey_form(definition: &SurveyDefinition, problems: &[FieldProblem]) -> Markup {
    html! {
        h1 { (definition.name) }
        @if !problems.is_empty() {
            div class="errors" role="alert" {
                p { "Please check your answers:" }
                ul { @for problem in problems { li { (problem.field.trim_start_matches("answers.")) ": " (problem.problem) } } }
            }
        }
        form method="post" {
            @for question in &definition.questions { (question_markup(question, definition)) }
            button type="submit" { "Send my answers" }
        }
    }
}

/// The survey an invitation asks, at the version it was made for.
async fn invitation_survey(
    state: &AppState,
    invitation: &InvitationRecord,
) -> Result<Option<SurveyDefinition>, ApiError> {
    let survey = state.store.survey(&invitation.workspace_id, &invitation.survey_id, Some(invitation.version)).await?;
    Ok(survey.map(|survey| survey.definition))
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let secret = state.link_secret().await?;
    let invitation = match open_link(&state.store, &secret, &token, rapport_store::now_ms()).await? {
        Ok(invitation) => invitation,
        Err(problem) => return Ok(link_problem(problem)),
    };
    let Some(definition) = invitation_survey(&state, &invitation).await? else {
        return Ok(link_problem(LinkProblem::Invalid));
    };
    Ok(page(StatusCode::OK, &definition.name, survey_form(&definition, &[])))
}

pub async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let secret = state.link_secret().await?;
    let now = time::OffsetDateTime::now_utc();
    let invitation = match open_link(&state.store, &secret, &token, rapport_core::resolution::millis(now)).await? {
        Ok(invitation) => invitation,
        Err(problem) => return Ok(link_problem(problem)),
    };
    let Some(survey) =
        state.store.survey(&invitation.workspace_id, &invitation.survey_id, Some(invitation.version)).await?
    else {
        return Ok(link_problem(LinkProblem::Invalid));
    };
    let answers = form_answers(&survey.definition, &form);
    let body = json!({"customer": invitation.identity_key, "channel": invitation.channel, "answers": answers});
    let checked = match check_response(&survey, &body, Some(format!("invitation:{}", invitation.id)), now) {
        Ok(checked) => checked,
        Err(error) => {
            let problems: Vec<FieldProblem> = error
                .details
                .into_iter()
                .map(|detail| FieldProblem::envelope(&detail.field, &detail.problem))
                .collect();
            return Ok(page(
                StatusCode::BAD_REQUEST,
                &survey.definition.name,
                survey_form(&survey.definition, &problems),
            ));
        }
    };
    let (_, created) = record_response(&state.store, &invitation.workspace_id, &survey.definition, &checked).await?;
    let first = state
        .store
        .mark_invitation_responded(&invitation.workspace_id, &invitation.id, rapport_core::resolution::millis(now))
        .await?;
    if !created || !first {
        return Ok(link_problem(LinkProblem::AlreadyAnswered));
    }
    let thanks = survey.definition.thank_you.clone().unwrap_or_else(|| "Your answers help us do better.".to_owned());
    Ok(notice(StatusCode::OK, "Thank you!", &thanks))
}

/// `/u/{token}`: asks before unsubscribing (mail scanners open links; only the button acts).
pub async fn unsubscribe_page(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let secret = state.link_secret().await?;
    if unsubscribe_invitation(&state.store, &secret, &token, rapport_store::now_ms()).await?.is_none() {
        return Ok(link_problem(LinkProblem::Invalid));
    }
    Ok(page(
        StatusCode::OK,
        "Stop receiving surveys?",
        html! {
            h1 { "Stop receiving surveys?" }
            p { "We will not ask you for feedback again, on any channel." }
            form method="post" { button type="submit" { "Unsubscribe" } }
        },
    ))
}

/// Records the unsubscribe as the customer's `unsubscribed` trait, which the contact policy reads.
pub async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let secret = state.link_secret().await?;
    let Some(invitation) = unsubscribe_invitation(&state.store, &secret, &token, rapport_store::now_ms()).await? else {
        return Ok(link_problem(LinkProblem::Invalid));
    };
    let identity = Identity::parse_typed(&invitation.identity_key)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error; the cause is in the server log"))?;
    let event = unsubscribe_event(&invitation.id, &identity)?;
    state.store.ingest(IngestBatch { workspace: invitation.workspace_id.clone(), events: vec![event] }).await?;
    Ok(notice(StatusCode::OK, "You are unsubscribed", "You will not receive surveys from us anymore."))
}
