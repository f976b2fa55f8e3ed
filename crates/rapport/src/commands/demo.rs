//! `rapport demo`: generates Evergreen, the demo company (`crate::demo`), loads it into a
//! workspace through the same checks and analysis as the API (events resolved into customers,
//! responses checked against their survey, feedback redacted and analysed), trains the churn
//! model, looks for spikes as the server would have, creates an admin key, and serves it. An
//! existing workspace of the same name is replaced, not doubled.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Instant;

use anyhow::Context;
use rapport_core::auth::Role;
use rapport_core::event::{BatchEnvelope, Event, parse_event};
use rapport_core::ids::WorkspaceId;
use rapport_core::survey::parse_definition;
use rapport_server::services::feedback::{analyse_all, attach_survey_comments, text_context};
use rapport_server::services::surveys::check_response;
use rapport_store::Store;
use rapport_store::feedback_records::NewFeedback;
use rapport_store::records::{NewResponse, SurveyRecord};
use rapport_text::feedback::TextContext;
use rayon::prelude::*;
use time::OffsetDateTime;

use crate::demo::story::{DemoSurvey, Story, story};
use crate::demo::{Company, DAY_MS, journey_definitions, survey_definitions};
use crate::settings::Settings;

pub struct DemoOptions {
    pub customers: usize,
    pub seed: u64,
    /// The history ends at the start of this day (UTC).
    pub end: Option<time::Date>,
    pub workspace: String,
    pub serve: bool,
}

/// Customers generated and loaded at a time: memory stays flat whatever the company's size.
const CHUNK: usize = 2_000;
/// Responses and feedback items per transaction.
const BATCH: usize = 5_000;

/// What one chunk of customers turns into, checked and analysed, ready to store.
#[derive(Default)]
struct Loadable {
    events: Vec<Event>,
    responses: Vec<NewResponse>,
    feedback: Vec<NewFeedback>,
}

/// What was loaded.
#[derive(Debug, Default)]
struct Totals {
    events: usize,
    responses: usize,
    feedback: usize,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, other: Totals) {
        self.events += other.events;
        self.responses += other.responses;
        self.feedback += other.feedback;
    }
}

/// Checks one customer's story as the API would; a problem here is a bug in the generator.
fn loadable(
    story: Story,
    surveys: &HashMap<DemoSurvey, SurveyRecord>,
    context: &TextContext,
    received_at: OffsetDateTime,
) -> anyhow::Result<Loadable> {
    let envelope = BatchEnvelope::default();
    let mut out = Loadable::default();
    for (index, call) in story.calls.iter().enumerate() {
        let (event, _) = parse_event(call, index, None, &envelope, received_at)
            .map_err(|problems| anyhow::anyhow!("generated event {call} is invalid: {problems:?}"))?;
        out.events.push(event);
    }
    for (survey, key, body) in &story.responses {
        let record = &surveys[survey];
        let mut checked = check_response(record, body, Some(key.clone()), received_at)
            .map_err(|error| anyhow::anyhow!("generated response {body} is invalid: {:?}", error.details))?
            .response;
        attach_survey_comments(context, &mut checked, received_at);
        out.responses.push(checked);
    }
    let mut inputs = Vec::with_capacity(story.feedback.len());
    for (index, item) in story.feedback.iter().enumerate() {
        inputs.push(
            rapport_text::feedback::parse_item(item, index, received_at)
                .map_err(|problems| anyhow::anyhow!("generated feedback {item} is invalid: {problems:?}"))?,
        );
    }
    out.feedback = analyse_all(context, &inputs, received_at);
    Ok(out)
}

fn merge(mut parts: Vec<Loadable>) -> Loadable {
    let mut all = Loadable::default();
    for part in &mut parts {
        all.events.append(&mut part.events);
        all.responses.append(&mut part.responses);
        all.feedback.append(&mut part.feedback);
    }
    all
}

async fn store_chunk(store: &Store, workspace: &WorkspaceId, chunk: Loadable) -> anyhow::Result<Totals> {
    let mut totals = Totals { events: chunk.events.len(), ..Totals::default() };
    crate::commands::import::ingest_batches(store, workspace, chunk.events, |_| {}).await?;
    for batch in chunk.responses.chunks(BATCH) {
        totals.responses += store.import_responses(workspace, batch).await?;
    }
    for batch in chunk.feedback.chunks(BATCH) {
        totals.feedback += store.insert_feedback(workspace, batch).await?.len();
    }
    Ok(totals)
}

fn thousands(n: usize) -> String {
    indicatif::HumanCount(n as u64).to_string()
}

/// The company's history ends at the start of `end` (UTC), today by default; it cannot be later.
fn end_ms(end: Option<time::Date>) -> anyhow::Result<i64> {
    let now = OffsetDateTime::now_utc();
    let day = end.unwrap_or(now.date());
    let at = day.midnight().assume_utc();
    if at > now {
        anyhow::bail!("--end {day}: the history cannot end in the future");
    }
    Ok((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// What the demo prints once: an admin key for the API and an admin's sign-in for the dashboard.
pub struct DemoAccess {
    pub key: String,
    pub email: String,
    pub password: String,
}

/// The demo admin's e-mail address (unique on the server, as every user's is).
fn demo_admin_email(workspace: &str) -> String {
    if workspace == "demo" {
        "admin@evergreen.example".to_owned()
    } else {
        format!("admin.{workspace}@evergreen.example")
    }
}

/// Generates and loads the company; returns the admin key and the admin's sign-in.
async fn load(store: &Store, options: &DemoOptions) -> anyhow::Result<DemoAccess> {
    let started = Instant::now();
    let company = Company::new(options.seed, end_ms(options.end)?);
    if store.workspace_by_name(&options.workspace).await?.is_some() {
        eprintln!("replacing the existing workspace `{}` (deleting it first)", options.workspace);
        store.delete_workspace(&options.workspace).await?;
    }
    let workspace = store.ensure_workspace(&options.workspace).await?;
    let mut surveys = HashMap::new();
    for (kind, definition) in survey_definitions() {
        let definition = parse_definition(&definition).map_err(|p| anyhow::anyhow!("demo survey: {p:?}"))?;
        surveys.insert(kind, store.create_survey(&workspace.id, &definition).await?);
    }
    // What churn means here, so the churn rate reads (members cancel; activity keeps them).
    let churn = serde_json::json!({"churn": {"activeEvents": ["Signed In", "Order Completed", "Subscription Renewed"],
        "cancelEvents": ["Subscription Cancelled"]}});
    rapport_server::services::metrics::save_settings(store, &workspace.id, &churn)
        .await
        .map_err(|error| anyhow::anyhow!("demo metric settings: {error}"))?;
    for definition in journey_definitions() {
        rapport_server::services::journeys::create(store, &workspace.id, &definition)
            .await
            .map_err(|error| anyhow::anyhow!("demo journey: {error}"))?;
    }
    let context = text_context(store, &workspace.id).await?;
    let received_at = OffsetDateTime::now_utc();
    let progress = crate::commands::import::progress(options.customers, "generating and loading customers".into());
    let mut totals = Totals::default();
    let mut pending: Option<tokio::task::JoinHandle<anyhow::Result<Totals>>> = None;
    for first in (0..options.customers).step_by(CHUNK) {
        let last = (first + CHUNK).min(options.customers);
        // Generate and check this chunk on every core while the previous one is written.
        let (company, surveys, context) = (company.clone(), surveys.clone(), context.clone());
        let chunk = tokio::task::spawn_blocking(move || {
            let parts: anyhow::Result<Vec<Loadable>> = (first..last)
                .into_par_iter()
                .map(|index| loadable(story(&company, index), &surveys, &context, received_at))
                .collect();
            parts.map(merge)
        })
        .await??;
        if let Some(previous) = pending.take() {
            totals += previous.await??;
        }
        let (store, id) = (store.clone(), workspace.id.clone());
        pending = Some(tokio::spawn(async move { store_chunk(&store, &id, chunk).await }));
        progress.set_position(last as u64);
        // Without a terminal the bar is hidden: a line at each tenth instead, for logs.
        let tenth = |n: usize| n * 10 / options.customers.max(1);
        if !std::io::stderr().is_terminal() && tenth(last) > tenth(first) {
            eprintln!("generated and loaded {} of {} customers", thousands(last), thousands(options.customers));
        }
    }
    if let Some(previous) = pending.take() {
        totals += previous.await??;
    }
    progress.finish_and_clear();
    store.refresh_statistics().await?;
    eprintln!(
        "loaded {} customers: {} events, {} survey responses, {} feedback items ({:.1} s)",
        thousands(options.customers),
        thousands(totals.events),
        thousands(totals.responses),
        thousands(totals.feedback),
        started.elapsed().as_secs_f64()
    );

    // What the server would have done as the history happened: spike checks around the release,
    // and the churn model trained and scored at the end.
    let mut at = company.release_ms - DAY_MS;
    while at <= company.fix_ms + 2 * DAY_MS {
        rapport_server::services::alerts::evaluate(store, &workspace.id, at).await.context("spike check")?;
        at += 6 * 3_600_000;
    }
    let step = Instant::now();
    match rapport_server::services::prediction::train_and_refresh(store, &workspace.id, company.end_ms).await {
        Ok(model) => {
            eprintln!(
                "trained the churn model (validation ROC AUC {}) and scored every customer ({:.1} s)",
                model["validation"]["rocAuc"],
                step.elapsed().as_secs_f64()
            );
        }
        // A very small company may not have churners enough to learn from; say so and go on.
        Err(error) => eprintln!("no churn model: {}", error.message),
    }
    open_detractor_cases(store, &workspace.id, company.end_ms).await?;
    let (key, _) = store.create_api_key(&workspace, Role::Admin).await.context("creating the admin key")?;
    let email = demo_admin_email(&workspace.name);
    let user = rapport_core::users::NewUser {
        email: email.clone(),
        name: "Evergreen admin".into(),
        role: Role::Admin,
        password: None,
    };
    let created = rapport_server::services::users::create_user(store, &workspace.id, "demo", user)
        .await
        .map_err(|error| anyhow::anyhow!("creating the demo admin user: {error}"))?;
    let password = created["password"].as_str().unwrap_or_default().to_owned();
    // The support team's agents have accounts too (an admin gives them passwords in Settings).
    for agent in crate::demo::AGENTS {
        let email = format!("{}@evergreen.example", agent.to_lowercase().replace(' ', "."));
        let email = if workspace.name == "demo" { email } else { email.replace('@', &format!(".{}@", workspace.name)) };
        let user = rapport_core::users::NewUser { email, name: agent.to_owned(), role: Role::Agent, password: None };
        rapport_server::services::users::create_user(store, &workspace.id, "demo", user)
            .await
            .map_err(|error| anyhow::anyhow!("creating the demo agents: {error}"))?;
    }
    eprintln!("demo ready in {:.1} s", started.elapsed().as_secs_f64());
    Ok(DemoAccess { key, email, password })
}

/// The support team follows up detractors: the case rule for new answers, and a case for each
/// detractor of the last 14 days, as the rule would have opened them.
async fn open_detractor_cases(store: &Store, workspace: &WorkspaceId, end_ms: i64) -> anyhow::Result<()> {
    let mut settings = serde_json::to_value(rapport_core::cases::CaseSettings::default())?;
    settings["teams"] = serde_json::json!({"support": {"members": crate::demo::AGENTS}});
    settings["rules"] = serde_json::json!([{"id": "detractors", "name": "Detractor follow-up", "question": "nps",
        "max": 6, "priority": "high", "team": "support"}]);
    rapport_server::services::cases::save_settings(store, workspace, &settings)
        .await
        .map_err(|error| anyhow::anyhow!("demo case settings: {error}"))?;
    let recent = store.scores_with_topics(workspace, "nps", end_ms - 14 * DAY_MS, end_ms + 1).await?;
    for (index, response) in recent.iter().filter(|r| r.score <= 6).take(500).enumerate() {
        // Assigned in turn, as the rule's round-robin would have.
        let assignee = crate::demo::AGENTS[index % crate::demo::AGENTS.len()];
        let body = serde_json::json!({"title": format!("Detractor follow-up: NPS {}", response.score),
            "priority": "high", "customer": response.identity_key, "actor": "Detractor follow-up",
            "assignee": assignee});
        rapport_server::services::cases::open_manual(store, workspace, &body, response.submitted_at_ms)
            .await
            .map_err(|error| anyhow::anyhow!("demo case: {error}"))?;
    }
    Ok(())
}

pub async fn run(settings: Settings, options: DemoOptions) -> anyhow::Result<()> {
    rapport_core::ids::validate_workspace_name(&options.workspace).map_err(anyhow::Error::msg)?;
    let access = crate::commands::with_store(&settings, async |store| load(store, &options).await).await?;
    let DemoAccess { key, email, password } = access;
    if !options.serve {
        eprintln!("dashboard sign-in: {email} / {password}");
        println!("{key}");
        return Ok(());
    }
    let workspace = options.workspace.clone();
    let welcome = move |url: &str| {
        eprintln!(
            "\n  Evergreen, the demo company, is in workspace `{workspace}` at {url}\n  \
             Admin key (shown once): {key}\n\n  \
             Dashboard: {url}/ (sign in as {email} with the password {password}, shown once)\n  \
             Try:  curl -H \"Authorization: Bearer {key}\" '{url}/v1/metrics/nps?group_by=traits.region'\n  \
             What to look for: DEMO.md\n"
        );
    };
    crate::commands::serve::run(settings, Some(Box::new(welcome))).await
}
