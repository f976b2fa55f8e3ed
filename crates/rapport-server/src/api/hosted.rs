//! `/s/{token}`: the hosted survey page. Server-rendered, works without JavaScript, one column that
//! fits a phone, every control labelled. A link is answered once; a second submission gets a
//! friendly page (409). `/u/{token}`: the unsubscribe link of survey e-mails.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use rapport_core::identity::Identity;
use rapport_core::problem::FieldProblem;
use rapport_core::survey::{Language, Question, QuestionKind, SurveyDefinition};
use rapport_store::IngestBatch;
use rapport_store::records::{InvitationRecord, SurveyRecord};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::services::hosted_survey::{LinkProblem, open_link, page_answers, unsubscribe_event, unsubscribe_invitation};
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

/// The hosted page's own words, per survey language (the survey's questions are its own).
struct Texts {
    lang: &'static str,
    required: &'static str,
    send: &'static str,
    /// The button of a page that is not the last; its answers are kept.
    next: &'static str,
    /// `{page}` and `{pages}` are replaced.
    progress: &'static str,
    check_answers: &'static str,
    /// `{min}` and `{max}` are replaced.
    follow_up: &'static str,
    nps_ends: (&'static str, &'static str),
    ces_ends: (&'static str, &'static str),
    rating_ends: (&'static str, &'static str),
    csat_ends: (&'static str, &'static str),
    /// `{dimension}` is replaced.
    dimension_question: &'static str,
    thanks_title: &'static str,
    thanks_text: &'static str,
    invalid: (&'static str, &'static str),
    expired: (&'static str, &'static str),
    answered: (&'static str, &'static str),
    unsubscribe_title: &'static str,
    unsubscribe_text: &'static str,
    unsubscribe_button: &'static str,
    unsubscribed: (&'static str, &'static str),
}

const ENGLISH: Texts = Texts {
    lang: "en",
    required: " (required)",
    send: "Send my answers",
    next: "Next",
    progress: "Page {page} of {pages}. Your answers are kept as you go.",
    check_answers: "Please check your answers:",
    follow_up: "Answer this if you chose {min} to {max} above.",
    nps_ends: ("Not at all likely", "Extremely likely"),
    ces_ends: ("Strongly disagree", "Strongly agree"),
    rating_ends: ("Lowest", "Highest"),
    csat_ends: ("Very dissatisfied", "Very satisfied"),
    dimension_question: "How satisfied were you with our {dimension}?",
    thanks_title: "Thank you!",
    thanks_text: "Your answers help us do better.",
    invalid: ("This survey link is not valid", "Please check that the whole link was copied from your message."),
    expired: ("This survey has closed", "The link has expired. Thank you for your interest."),
    answered: ("You have already answered", "We have your answers from this link. Thank you for taking the time."),
    unsubscribe_title: "Stop receiving surveys?",
    unsubscribe_text: "We will not ask you for feedback again, on any channel.",
    unsubscribe_button: "Unsubscribe",
    unsubscribed: ("You are unsubscribed", "You will not receive surveys from us anymore."),
};

const GERMAN: Texts = Texts {
    lang: "de",
    required: " (Pflichtfeld)",
    send: "Antworten senden",
    next: "Weiter",
    progress: "Seite {page} von {pages}. Ihre Antworten werden gespeichert.",
    check_answers: "Bitte prüfen Sie Ihre Antworten:",
    follow_up: "Bitte beantworten, wenn Sie oben {min} bis {max} gewählt haben.",
    nps_ends: ("Sehr unwahrscheinlich", "Sehr wahrscheinlich"),
    ces_ends: ("Stimme überhaupt nicht zu", "Stimme voll zu"),
    rating_ends: ("Niedrigste", "Höchste"),
    csat_ends: ("Sehr unzufrieden", "Sehr zufrieden"),
    dimension_question: "Wie zufrieden waren Sie in diesem Punkt: {dimension}?",
    thanks_title: "Vielen Dank!",
    thanks_text: "Ihre Antworten helfen uns, besser zu werden.",
    invalid: (
        "Dieser Umfragelink ist ungültig",
        "Bitte prüfen Sie, ob der ganze Link aus Ihrer Nachricht kopiert wurde.",
    ),
    expired: ("Diese Umfrage ist beendet", "Der Link ist abgelaufen. Vielen Dank für Ihr Interesse."),
    answered: ("Sie haben bereits geantwortet", "Wir haben Ihre Antworten zu diesem Link. Vielen Dank für Ihre Zeit."),
    unsubscribe_title: "Keine Umfragen mehr erhalten?",
    unsubscribe_text: "Wir werden Sie auf keinem Kanal mehr um Feedback bitten.",
    unsubscribe_button: "Abmelden",
    unsubscribed: ("Sie sind abgemeldet", "Sie erhalten keine Umfragen mehr von uns."),
};

fn texts_for(language: Language) -> &'static Texts {
    match language {
        Language::En => &ENGLISH,
        Language::De => &GERMAN,
    }
}

/// For pages shown before the survey is known (a bad link): the browser's first language.
fn texts_from_headers(headers: &HeaderMap) -> &'static Texts {
    let preferred = headers.get(ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if preferred.trim_start().to_ascii_lowercase().starts_with("de") { &GERMAN } else { &ENGLISH }
}

fn page(t: &Texts, status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(t.lang) {
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

fn notice(t: &Texts, status: StatusCode, (title, text): (&str, &str)) -> Response {
    page(t, status, title, html! { h1 { (title) } p { (text) } })
}

fn link_problem(t: &Texts, problem: LinkProblem) -> Response {
    match problem {
        LinkProblem::Invalid => notice(t, StatusCode::NOT_FOUND, t.invalid),
        LinkProblem::Expired => notice(t, StatusCode::GONE, t.expired),
        LinkProblem::AlreadyAnswered => notice(t, StatusCode::CONFLICT, t.answered),
    }
}

/// What the respondent sent, to show again beside the problems when a submission is refused.
type Given<'a> = &'a [(String, String)];

fn was_given(given: Given<'_>, name: &str, value: &str) -> bool {
    given.iter().any(|(key, sent)| key == name && sent.trim() == value)
}

/// A row of radio buttons from `low` to `high`. `required` makes the browser insist (a follow-up
/// is never marked so: it may not apply).
fn scale(
    t: &Texts,
    given: Given<'_>,
    name: &str,
    legend: &str,
    required: bool,
    (low, high): (i64, i64),
    ends: (&str, &str),
) -> Markup {
    html! {
        fieldset {
            legend { (legend) @if required { (t.required) } }
            div class="scale" role="radiogroup" {
                @for score in low..=high {
                    @let checked = was_given(given, name, &score.to_string());
                    label { input type="radio" name=(name) value=(score) required[required] checked[checked]; (score) }
                }
            }
            div class="ends" aria-hidden="true" { span { (ends.0) } span { (ends.1) } }
        }
    }
}

fn question_markup(t: &Texts, given: Given<'_>, question: &Question) -> Markup {
    let name = format!("q.{}", question.id);
    let required = question.required && question.show_if.is_none();
    let text = question.text.as_str();
    let body = match &question.kind {
        QuestionKind::Nps => scale(t, given, &name, text, required, (0, 10), t.nps_ends),
        QuestionKind::Ces => scale(t, given, &name, text, required, (1, 7), t.ces_ends),
        QuestionKind::Rating { scale: top } => scale(t, given, &name, text, required, (1, *top), t.rating_ends),
        QuestionKind::Csat { dimensions } => html! {
            (scale(t, given, &name, text, required, (1, 5), t.csat_ends))
            @for dimension in dimensions {
                @let legend = t.dimension_question.replace("{dimension}", &dimension.replace('_', " "));
                (scale(t, given, &format!("{name}.{dimension}"), &legend, false, (1, 5), t.csat_ends))
            }
        },
        QuestionKind::SingleChoice { options } | QuestionKind::MultipleChoice { options } => {
            let kind = if matches!(question.kind, QuestionKind::SingleChoice { .. }) { "radio" } else { "checkbox" };
            html! {
                fieldset {
                    legend { (text) @if question.required { (t.required) } }
                    @for option in options {
                        @let checked = was_given(given, &name, option);
                        label class="choice" { input type=(kind) name=(name) value=(option) checked[checked]; " " (option) }
                    }
                }
            }
        }
        QuestionKind::Text => html! {
            fieldset {
                legend { label for=(name) { (text) @if question.required { (t.required) } } }
                @let sent = given.iter().find(|(key, _)| *key == name).map_or("", |(_, text)| text.as_str());
                textarea id=(name) name=(name) maxlength="5000" { (sent) }
            }
        },
    };
    match &question.show_if {
        // The condition is said right above the question.
        Some(condition) => {
            let hint =
                t.follow_up.replace("{min}", &condition.min.to_string()).replace("{max}", &condition.max.to_string());
            html! { div class="follow-up" { p class="hint" { (hint) } (body) } }
        }
        None => body,
    }
}

/// The page a respondent would see for `definition`, as a whole HTML document, for the
/// dashboard's survey preview (shown in a sandboxed frame, where the form cannot be sent).
pub fn preview_document(definition: &SurveyDefinition) -> String {
    let t = texts_for(definition.language);
    let markup = html! {
        (DOCTYPE)
        html lang=(t.lang) {
            head { meta charset="utf-8"; title { (definition.name) } style { (PreEscaped(STYLE)) } }
            body { main { (survey_form(t, definition, None, &[], &[])) } }
        }
    };
    markup.into_string()
}

/// The survey's form, one page of it (None: every question); after a refused submission, with
/// its problems and the answers given.
fn survey_form(
    t: &Texts,
    definition: &SurveyDefinition,
    page: Option<u32>,
    problems: &[FieldProblem],
    given: Given<'_>,
) -> Markup {
    let pages = definition.pages();
    let last = page.is_none_or(|page| page >= pages);
    html! {
        h1 { (definition.name) }
        @if let Some(page) = page.filter(|_| pages > 1) {
            p class="hint" { (t.progress.replace("{page}", &page.to_string()).replace("{pages}", &pages.to_string())) }
        }
        @if !problems.is_empty() {
            div class="errors" role="alert" {
                p { (t.check_answers) }
                ul { @for problem in problems { li { (problem.field.trim_start_matches("answers.")) ": " (problem.problem) } } }
            }
        }
        form method="post" {
            @if let Some(page) = page { input type="hidden" name="page" value=(page); }
            @for question in definition.questions.iter().filter(|question| page.is_none_or(|page| question.page == page)) {
                (question_markup(t, given, question))
            }
            button type="submit" { (if last { t.send } else { t.next }) }
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = state.link_secret().await?;
    let invitation = match open_link(&state.store, &secret, &token, rapport_store::now_ms()).await? {
        Ok(invitation) => invitation,
        Err(problem) => return Ok(link_problem(texts_from_headers(&headers), problem)),
    };
    let survey = state.store.survey(&invitation.workspace_id, &invitation.survey_id, Some(invitation.version)).await?;
    let Some(definition) = survey.map(|survey| survey.definition) else {
        return Ok(link_problem(texts_from_headers(&headers), LinkProblem::Invalid));
    };
    let t = texts_for(definition.language);
    // The page after the last one kept.
    let done = state.store.draft(&invitation.workspace_id, &invitation.id).await?.map_or(0, |(_, page)| page);
    let current = u32::try_from(done + 1).unwrap_or(1).min(definition.pages());
    Ok(page(t, StatusCode::OK, &definition.name, survey_form(t, &definition, Some(current), &[], &[])))
}

pub async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let secret = state.link_secret().await?;
    let now = time::OffsetDateTime::now_utc();
    let invitation = match open_link(&state.store, &secret, &token, rapport_core::resolution::millis(now)).await? {
        Ok(invitation) => invitation,
        Err(problem) => return Ok(link_problem(texts_from_headers(&headers), problem)),
    };
    let Some(survey) =
        state.store.survey(&invitation.workspace_id, &invitation.survey_id, Some(invitation.version)).await?
    else {
        return Ok(link_problem(texts_from_headers(&headers), LinkProblem::Invalid));
    };
    let t = texts_for(survey.definition.language);
    let pages = survey.definition.pages();
    // A form without a page (one from before pages) answers every question at once.
    let sent_page = form.iter().find(|(key, _)| key == "page").and_then(|(_, page)| page.trim().parse::<u32>().ok());
    let current = sent_page.map(|page| page.clamp(1, pages));
    let kept = match current {
        Some(_) => state.store.draft(&invitation.workspace_id, &invitation.id).await?,
        None => None,
    };
    // Only a response that kept pages has a draft to delete (a delete is a turn of SQLite's writer).
    let had_draft = kept.is_some();
    let kept = kept.and_then(|(answers, _)| answers.as_object().cloned()).unwrap_or_default();
    let answers = page_answers(&survey.definition, current, &kept, &form);
    let body = json!({"customer": invitation.identity_key, "channel": invitation.channel, "answers": answers});
    let key = Some(format!("invitation:{}", invitation.id));
    let refused = |error: ApiError| {
        let problems: Vec<FieldProblem> =
            error.details.into_iter().map(|detail| FieldProblem::envelope(&detail.field, &detail.problem)).collect();
        let form = survey_form(t, &survey.definition, current, &problems, &form);
        page(t, StatusCode::BAD_REQUEST, &survey.definition.name, form)
    };
    if let Some(current) = current.filter(|current| *current < pages) {
        // Not the last page: checked as far as it goes, kept, and the next page shown.
        let partial = SurveyRecord { definition: survey.definition.through_page(current), ..survey.clone() };
        if let Err(error) = check_response(&partial, &body, key, now) {
            return Ok(refused(error));
        }
        let at = rapport_core::resolution::millis(now);
        state
            .store
            .save_draft(&invitation.workspace_id, &invitation.id, &Value::Object(answers), i64::from(current), at)
            .await?;
        return Ok(Redirect::to(&format!("/s/{token}")).into_response());
    }
    let mut checked = match check_response(&survey, &body, key, now) {
        Ok(checked) => checked,
        Err(error) => return Ok(refused(error)),
    };
    // The invitation is marked answered in the response's transaction; a second submission
    // finds the first response under the same idempotency key.
    checked.response.invitation = Some(invitation.id.clone());
    let (_, created) = record_response(&state.store, &invitation.workspace_id, &survey, &checked).await?;
    if !created {
        return Ok(link_problem(t, LinkProblem::AlreadyAnswered));
    }
    if had_draft {
        state.store.delete_draft(&invitation.workspace_id, &invitation.id).await?;
    }
    let thanks = survey.definition.thank_you.as_deref().unwrap_or(t.thanks_text);
    Ok(notice(t, StatusCode::OK, (t.thanks_title, thanks)))
}

/// The texts of the survey an unsubscribe link's invitation belongs to.
async fn invitation_texts(state: &AppState, invitation: &InvitationRecord) -> Result<&'static Texts, ApiError> {
    let survey = state.store.survey(&invitation.workspace_id, &invitation.survey_id, Some(invitation.version)).await?;
    Ok(texts_for(survey.map(|survey| survey.definition.language).unwrap_or_default()))
}

/// `/u/{token}`: asks before unsubscribing (mail scanners open links; only the button acts).
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = state.link_secret().await?;
    let Some(invitation) = unsubscribe_invitation(&state.store, &secret, &token, rapport_store::now_ms()).await? else {
        return Ok(link_problem(texts_from_headers(&headers), LinkProblem::Invalid));
    };
    let t = invitation_texts(&state, &invitation).await?;
    let body = html! {
        h1 { (t.unsubscribe_title) }
        p { (t.unsubscribe_text) }
        form method="post" { button type="submit" { (t.unsubscribe_button) } }
    };
    Ok(page(t, StatusCode::OK, t.unsubscribe_title, body))
}

/// Records the unsubscribe as a refusal of surveys on every channel (consent, source
/// `unsubscribe`) and as the customer's `unsubscribed` trait; the contact policy reads both.
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = state.link_secret().await?;
    let Some(invitation) = unsubscribe_invitation(&state.store, &secret, &token, rapport_store::now_ms()).await? else {
        return Ok(link_problem(texts_from_headers(&headers), LinkProblem::Invalid));
    };
    let identity = Identity::parse_typed(&invitation.identity_key)
        .map_err(|error| ApiError::internal(format!("an invitation holds an unreadable identity: {error}")))?;
    let anonymous_id =
        crate::services::surveys::derived_anonymous_id(&state.store, &invitation.workspace_id, &identity);
    let event = unsubscribe_event(&invitation.id, &identity, anonymous_id)?;
    state.store.ingest(IngestBatch { workspace: invitation.workspace_id.clone(), events: vec![event] }).await?;
    let refusal = rapport_core::privacy::StatedConsent {
        purpose: rapport_core::privacy::Purpose::Surveys,
        channel: None,
        granted: false,
    };
    let choices = crate::services::privacy::choices(&[refusal], "unsubscribe", rapport_store::now_ms());
    state.store.record_consents(&invitation.workspace_id, &invitation.identity_key, &choices).await?;
    let t = invitation_texts(&state, &invitation).await?;
    Ok(notice(t, StatusCode::OK, t.unsubscribed))
}
