//! Surveys: the list with each survey's answers and score over the last 90 days, and a builder
//! that previews the page respondents will see (in a sandboxed frame) before creating it.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use rapport_core::auth::Permission;
use rapport_core::metrics::query::{RawQuery, date_of_day, day_of_ms};
use rapport_core::survey::parse_definition;
use rapport_store::records::TallySource;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::pages::{Viewer, failed, layout, may};
use crate::services::metrics::metric_report;

/// Question rows the builder offers (blank ones are left out).
const ROWS: usize = 4;
const TYPES: [(&str, &str); 8] = [
    ("", "—"),
    ("nps", "NPS (0-10)"),
    ("csat", "CSAT (1-5)"),
    ("ces", "CES (1-7)"),
    ("rating", "Rating (1-5)"),
    ("text", "Open text"),
    ("single_choice", "One choice"),
    ("multiple_choice", "Several choices"),
];

pub async fn list(State(state): State<AppState>, Viewer(caller): Viewer) -> Response {
    let surveys = match state.store.surveys(&caller.workspace).await {
        Ok(surveys) => surveys,
        Err(error) => return failed(&caller, error.into()),
    };
    // Each survey's score on its own metric over the last 90 days, from the rollup.
    let now = rapport_store::now_ms();
    let today = day_of_ms(now);
    let mut scores: BTreeMap<(String, &str), (u64, Option<f64>)> = BTreeMap::new();
    for metric in ["nps", "csat", "ces"] {
        let query = RawQuery {
            from: Some(date_of_day(today - 89).to_string()),
            to: Some(date_of_day(today).to_string()),
            group_by: Some("survey".into()),
            ..RawQuery::default()
        };
        match metric_report(&state.store, &caller.workspace, metric, &query, now, TallySource::Fastest).await {
            Ok(report) => {
                for group in &report.groups {
                    if let Some((_, Some(survey))) = group.group.key.0.first() {
                        scores.insert((survey.clone(), metric), (group.group.figure.n, group.group.figure.score));
                    }
                }
            }
            Err(error) => return failed(&caller, error),
        }
    }
    let body = html! {
        h1 { "Surveys" }
        p { a href="/surveys/new" { "Build a survey" } }
        @if surveys.is_empty() {
            p class="empty" { "No survey yet. Build one here, or POST /v1/surveys with an admin key." }
        } @else {
            div class="card" {
                table aria-label="Surveys" {
                    thead { tr { th scope="col" { "Survey" } th scope="col" { "Kind" } th scope="col" { "Touchpoint" }
                        th scope="col" class="num" { "Questions" } th scope="col" class="num" { "Version" } th scope="col" { "Last 90 days" } } }
                    tbody {
                        @for survey in &surveys {
                            tr {
                                td { a href={"/surveys/" (survey.id)} { (survey.definition.name) } }
                                td { (format!("{:?}", survey.definition.kind).to_lowercase()) }
                                td { (survey.definition.touchpoint.clone().unwrap_or_else(|| "–".to_owned())) }
                                td class="num" { (survey.definition.questions.len()) }
                                td class="num" { (survey.current_version) }
                                td {
                                    @for metric in ["nps", "csat", "ces"] {
                                        @if let Some((n, score)) = scores.get(&(survey.id.clone(), metric)) {
                                            (metric.to_uppercase()) " " (score.map_or("–".to_owned(), |s| format!("{s:.1}"))) " (n " (n) ") "
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page(StatusCode::OK, "Surveys", Some(&caller), "/surveys", body)
}

fn field(form: &BTreeMap<String, String>, key: &str) -> String {
    form.get(key).map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// The builder's form as a survey definition (the API's JSON).
fn definition_of(form: &BTreeMap<String, String>) -> Value {
    let mut questions = Vec::new();
    for row in 1..=ROWS {
        let kind = field(form, &format!("type{row}"));
        if kind.is_empty() {
            continue;
        }
        let mut question = json!({"id": format!("q{row}"), "type": kind, "text": field(form, &format!("text{row}")),
            "required": form.contains_key(&format!("required{row}"))});
        if kind.ends_with("choice") {
            let options: Vec<String> = field(form, &format!("options{row}"))
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            question["options"] = json!(options);
        }
        questions.push(question);
    }
    let mut definition = json!({"name": field(form, "name"), "kind": field(form, "kind"), "questions": questions,
        "language": field(form, "language")});
    let touchpoint = field(form, "touchpoint");
    if !touchpoint.is_empty() {
        definition["touchpoint"] = json!(touchpoint);
    }
    if let Some(delivery) = delivery_of(form) {
        definition["delivery"] = delivery;
    }
    definition
}

/// A number field as JSON: absent when blank, the text itself when it is not a whole number (so
/// the survey check names the field and says what it wants).
fn number(form: &BTreeMap<String, String>, key: &str) -> Option<Value> {
    let text = field(form, key);
    if text.is_empty() {
        return None;
    }
    Some(text.parse::<u64>().map_or_else(|_| json!(text), |n| json!(n)))
}

/// The builder's "when and how it goes out" as the definition's `delivery`, or None when the
/// survey takes responses only through the API.
fn delivery_of(form: &BTreeMap<String, String>) -> Option<Value> {
    let channel = field(form, "channel");
    if channel.is_empty() {
        return None;
    }
    let mut delivery = json!({"channel": channel});
    if let Some(percent) = number(form, "samplePercent") {
        delivery["sampleRate"] = percent.as_u64().map_or(percent.clone(), |p| json!(p as f64 / 100.0));
    }
    let event = field(form, "triggerEvent");
    if !event.is_empty() {
        let mut trigger = json!({"event": event});
        let path = field(form, "triggerWhere");
        if !path.is_empty() {
            trigger["where"] = json!({path: field(form, "triggerEquals")});
        }
        if let Some(delay) = number(form, "delayMinutes") {
            trigger["delayMinutes"] = delay;
        }
        delivery["trigger"] = trigger;
    }
    for (key, name) in [
        ("notAgainWithinDays", "notAgainWithinDays"),
        ("cadenceDays", "cadenceDays"),
        ("reminderAfterDays", "reminderAfterDays"),
    ] {
        if let Some(days) = number(form, key) {
            delivery[name] = days;
        }
    }
    if form.contains_key("ownRules") {
        let mut policy = serde_json::Map::new();
        for name in rapport_core::contact_policy::POLICY_FIELDS {
            policy.insert(name.to_owned(), number(form, name).unwrap_or(Value::Null));
        }
        delivery["policy"] = Value::Object(policy);
    }
    Some(delivery)
}

/// The builder's fieldset for when and how invitations go out.
fn delivery_fields(form: &BTreeMap<String, String>) -> Markup {
    let value = |key: &str| field(form, key);
    let chosen = |key: &str, option: &str| value(key) == option;
    let number_input = |id: &str, label: &str, placeholder: &str| {
        html! { div { label for=(id) { (label) } input id=(id) name=(id) inputmode="numeric" size="6" value=(value(id)) placeholder=(placeholder); } }
    };
    html! {
        fieldset {
            legend { "When and how it goes out" }
            div class="filters" {
                div {
                    label for="channel" { "Invitations" }
                    select id="channel" name="channel" {
                        option value="" selected[chosen("channel", "")] { "None: responses only through the API" }
                        option value="link" selected[chosen("channel", "link")] { "A hosted link (handed out by API)" }
                        option value="email" selected[chosen("channel", "email")] { "E-mail (to the customer's email trait)" }
                    }
                }
                (number_input("samplePercent", "Ask % of customers", "100"))
            }
            div class="filters" {
                div { label for="triggerEvent" { "After the event" } input id="triggerEvent" name="triggerEvent" value=(value("triggerEvent")) placeholder="Order Delivered"; }
                div { label for="triggerWhere" { "Where (path)" } input id="triggerWhere" name="triggerWhere" value=(value("triggerWhere")) placeholder="properties.channel"; }
                div { label for="triggerEquals" { "equals" } input id="triggerEquals" name="triggerEquals" value=(value("triggerEquals")) placeholder="store"; }
                (number_input("delayMinutes", "Minutes later", "0"))
            }
            div class="filters" {
                (number_input("notAgainWithinDays", "Not again within (days)", ""))
                (number_input("cadenceDays", "Relational: every (days)", "90"))
                (number_input("reminderAfterDays", "E-mail reminder after (days)", ""))
            }
            div class="filters" {
                div { label { input type="checkbox" name="ownRules" checked[form.contains_key("ownRules")]; " Own contact rules (instead of the workspace's)" } }
                (number_input("maxInvitations", "At most (invitations)", "2"))
                (number_input("windowDays", "in (days)", "30"))
                (number_input("minDaysBetween", "Days between", "7"))
                (number_input("cooldownAfterResponseDays", "Rest after an answer (days)", "14"))
            }
        }
    }
}

fn builder(caller: &Caller, form: &BTreeMap<String, String>, problems: &[String], preview: Option<String>) -> Markup {
    let value = |key: &str| field(form, key);
    let chosen = |key: &str, option: &str| value(key) == option;
    html! {
        h1 { "Build a survey" }
        @if !problems.is_empty() {
            div class="error" role="alert" {
                p { "The survey cannot be made yet:" }
                ul { @for problem in problems { li { (problem) } } }
            }
        }
        form method="post" action="/surveys/new" class="card" {
            (layout::csrf_field(caller))
            div class="filters" {
                div { label for="name" { "Name" } input id="name" name="name" value=(value("name")) required size="30"; }
                div {
                    label for="kind" { "Kind" }
                    select id="kind" name="kind" {
                        option value="transactional" selected[chosen("kind", "transactional")] { "Transactional (after a touchpoint)" }
                        option value="relational" selected[chosen("kind", "relational")] { "Relational (every so often)" }
                    }
                }
                div { label for="touchpoint" { "Touchpoint" } input id="touchpoint" name="touchpoint" value=(value("touchpoint")) placeholder="checkout, support…"; }
                div {
                    label for="language" { "Language" }
                    select id="language" name="language" {
                        option value="en" selected[chosen("language", "en")] { "English" }
                        option value="de" selected[chosen("language", "de")] { "German" }
                    }
                }
            }
            @for row in 1..=ROWS {
                fieldset class="filters" {
                    legend { "Question " (row) }
                    div {
                        label for={"type" (row)} { "Type" }
                        select id={"type" (row)} name={"type" (row)} {
                            @for (kind, label) in TYPES { option value=(kind) selected[chosen(&format!("type{row}"), kind)] { (label) } }
                        }
                    }
                    div { label for={"text" (row)} { "Question" } input id={"text" (row)} name={"text" (row)} value=(value(&format!("text{row}"))) size="50"; }
                    div { label for={"options" (row)} { "Choices (comma-separated)" } input id={"options" (row)} name={"options" (row)} value=(value(&format!("options{row}"))); }
                    div { label { input type="checkbox" name={"required" (row)} checked[form.contains_key(&format!("required{row}"))]; " Required" } }
                }
            }
            (delivery_fields(form))
            div class="filters" {
                button type="submit" name="action" value="preview" class="primary" { "Preview" }
                button type="submit" name="action" value="create" class="primary" { "Create" }
            }
        }
        @if let Some(document) = preview {
            h2 id="preview" { "Preview: what respondents see" }
            iframe class="preview" title="Survey preview" sandbox="" srcdoc=(document) {}
        }
    }
}

pub async fn new(State(_state): State<AppState>, Viewer(caller): Viewer) -> Response {
    let mut form = BTreeMap::new();
    form.insert("type1".to_owned(), "nps".to_owned());
    form.insert("text1".to_owned(), "How likely are you to recommend us to a friend or colleague?".to_owned());
    form.insert("required1".to_owned(), "on".to_owned());
    form.insert("type2".to_owned(), "text".to_owned());
    form.insert("text2".to_owned(), "What is the main reason for your score?".to_owned());
    layout::page(StatusCode::OK, "Build a survey", Some(&caller), "/surveys", builder(&caller, &form, &[], None))
}

pub async fn submit(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let render = |status, problems: &[String], preview: Option<String>, caller: &Caller| {
        layout::page(status, "Build a survey", Some(caller), "/surveys", builder(caller, &form, problems, preview))
    };
    let definition = match parse_definition(&definition_of(&form)) {
        Ok(definition) => definition,
        Err(problems) => {
            let problems: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.field, p.problem)).collect();
            return render(StatusCode::BAD_REQUEST, &problems, None, &caller);
        }
    };
    if field(&form, "action") != "create" {
        let preview = crate::api::hosted::preview_document(&definition);
        return render(StatusCode::OK, &[], Some(preview), &caller);
    }
    if !may(&caller, Permission::Analyse, &headers) {
        return render(
            StatusCode::FORBIDDEN,
            &["Creating a survey needs the admin or analyst role.".to_owned()],
            None,
            &caller,
        );
    }
    match state.store.create_survey(&caller.workspace, &definition).await {
        Ok(record) => {
            state.triggers.forget(&caller.workspace);
            let target = format!("survey:{}", record.id);
            crate::services::audit::record(&state.store, &caller, "survey.created", &target, json!({"version": 1}))
                .await;
            Redirect::to(&format!("/surveys/{}", record.id)).into_response()
        }
        Err(error) => failed(&caller, error.into()),
    }
}
