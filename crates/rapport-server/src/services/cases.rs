//! Cases as a service: the workspace's case settings, cases opened by rules from responses or by
//! hand, moves between states (closing needs a root cause and a resolution note; waiting on the
//! customer pauses the SLA clock), notes, and the SLA check that marks breaches and escalates.
//! Every change is written with its history entry and its `case.*` domain event.

use rapport_core::business_hours::Calendar;
use rapport_core::cases::{self, CaseSettings, PRIORITIES, ResponseFacts, STATES, may_move};
use rapport_core::ids::WorkspaceId;
use rapport_core::problem::FieldProblem;
use rapport_store::Store;
use rapport_store::case_records::{CaseChange, CaseEntry, CaseRecord};
use rapport_store::feedback_records::{AlertRecord, NewFeedback};
use rapport_store::records::ResponseRecord;
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorCode, ErrorDetail, problems_phrase};
use crate::services::metrics::invalid_settings;
use crate::services::rfc3339;

fn invalid_case(problems: Vec<FieldProblem>) -> ApiError {
    let message = format!("the case change has {}; nothing was changed", problems_phrase(problems.len()));
    ApiError::new(ErrorCode::InvalidCase, message).with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

fn conflict(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        format!("case `{id}` changed meanwhile, or another open case holds its place; read it again"),
    )
}

/// The workspace's case settings and calendar; the defaults until some are saved.
pub async fn settings(store: &Store, workspace: &WorkspaceId) -> Result<(CaseSettings, Calendar), ApiError> {
    parse_saved(store.case_settings(workspace).await?)
}

/// Settings as saved (the defaults when none are), checked.
fn parse_saved(saved: Option<Value>) -> Result<(CaseSettings, Calendar), ApiError> {
    let value = match saved {
        Some(saved) => saved,
        None => serde_json::to_value(CaseSettings::default()).map_err(ApiError::internal)?,
    };
    CaseSettings::parse(&value).map_err(|problems| ApiError::internal(format!("stored case settings: {problems:?}")))
}

pub async fn save_settings(store: &Store, workspace: &WorkspaceId, value: &Value) -> Result<CaseSettings, ApiError> {
    let (settings, _) = CaseSettings::parse(value).map_err(invalid_settings)?;
    store.put_case_settings(workspace, &serde_json::to_value(&settings).map_err(ApiError::internal)?).await?;
    Ok(settings)
}

/// A case as the API shows it.
pub fn case_json(case: &CaseRecord) -> Value {
    json!({
        "id": case.id,
        "title": case.title,
        "identity": case.identity_key,
        "rule": case.rule_id,
        "responseId": case.response_id,
        "priority": case.priority,
        "state": case.state,
        "team": case.team,
        "assignee": case.assignee,
        "openedAt": rfc3339(case.opened_at_ms),
        "updatedAt": rfc3339(case.updated_at_ms),
        "firstResponseDue": rfc3339(case.first_response_due_ms),
        "resolutionDue": rfc3339(case.resolution_due_ms),
        "firstContactAt": case.first_contact_at_ms.map(rfc3339),
        "waitingSince": case.paused_at_ms.map(rfc3339),
        "resolvedAt": case.resolved_at_ms.map(rfc3339),
        "closedAt": case.closed_at_ms.map(rfc3339),
        "rootCause": case.root_cause,
        "resolution": case.resolution,
        "breached": case.breached,
        "escalatedAt": case.escalated_at_ms.map(rfc3339),
    })
}

fn entry_json(entry: &CaseEntry) -> Value {
    json!({"at": rfc3339(entry.at_ms), "actor": entry.actor, "kind": entry.kind, "detail": entry.detail})
}

/// A case with its history.
pub async fn case_with_history(store: &Store, case: &CaseRecord) -> Result<Value, ApiError> {
    let mut value = case_json(case);
    let history = store.case_history(&case.id).await?;
    value["history"] = Value::Array(history.iter().map(entry_json).collect());
    Ok(value)
}

/// Who and what a new case is about; the rest of a new case is the same for every opening.
struct Opening {
    identity_key: Option<String>,
    rule_id: Option<String>,
    response_id: Option<String>,
    title: String,
    priority: String,
    team: Option<String>,
    assignee: Option<String>,
    open_key: Option<String>,
}

fn new_case(opening: Opening, settings: &CaseSettings, calendar: &Calendar, opened_at_ms: i64) -> CaseRecord {
    let (first, resolution) = cases::due_times(settings, calendar, &opening.priority, opened_at_ms);
    CaseRecord {
        id: uuid::Uuid::now_v7().to_string(),
        identity_key: opening.identity_key,
        rule_id: opening.rule_id,
        response_id: opening.response_id,
        title: opening.title,
        priority: opening.priority,
        state: "new".into(),
        team: opening.team,
        assignee: opening.assignee,
        opened_at_ms,
        updated_at_ms: opened_at_ms,
        first_response_due_ms: first,
        resolution_due_ms: resolution,
        first_contact_at_ms: None,
        paused_at_ms: None,
        resolved_at_ms: None,
        closed_at_ms: None,
        root_cause: None,
        resolution: None,
        breached: None,
        escalated_at_ms: None,
        open_key: opening.open_key,
    }
}

/// Opens the cases the workspace's rules ask for after `response` (at most one per rule; none
/// where the customer has an open case from that rule, or this response made one already).
pub async fn open_from_response(
    store: &Store,
    workspace: &WorkspaceId,
    response: &ResponseRecord,
    comments: &[NewFeedback],
) -> Result<Vec<CaseRecord>, ApiError> {
    // Every response passes here: without saved settings there are no rules, and nothing to parse.
    let Some(saved) = store.case_settings(workspace).await? else { return Ok(Vec::new()) };
    let (settings, calendar) = parse_saved(Some(saved))?;
    if settings.rules.is_empty() {
        return Ok(Vec::new());
    }
    let mut facts = ResponseFacts {
        sentiments: comments.iter().map(|c| c.label.clone()).collect(),
        topics: comments.iter().flat_map(|c| c.topics.iter().map(|t| t.topic.clone())).collect(),
        traits: Default::default(),
    };
    if settings.rules.iter().any(|rule| !rule.traits.is_empty()) {
        facts.traits = traits_of(store, workspace, &response.identity_key).await?;
    }
    let scores: Vec<(String, i64)> = response
        .answers
        .iter()
        .filter(|a| a.dimension.is_none())
        .filter_map(|a| a.score.map(|s| (a.question.clone(), s)))
        .collect();
    let mut opened = Vec::new();
    for rule in settings.matching_rules(&response.survey_id, &scores, &facts) {
        let at = response.received_at_ms;
        let score = scores.iter().find(|(q, _)| *q == rule.question).map(|(_, s)| *s);
        let opening = Opening {
            identity_key: Some(response.identity_key.clone()),
            rule_id: Some(rule.id.clone()),
            response_id: Some(response.id.clone()),
            title: format!(
                "{}: {} gave {} {}",
                rule.name,
                response.identity_key,
                rule.question,
                score.unwrap_or_default()
            ),
            priority: rule.priority.clone(),
            team: Some(rule.team.clone()),
            assignee: rule.assignee.clone(),
            open_key: Some(format!("{}|{}", response.identity_key, rule.id)),
        };
        let case = new_case(opening, &settings, &calendar, at);
        let entry = CaseEntry {
            at_ms: at,
            actor: format!("rule:{}", rule.id),
            kind: "opened".into(),
            detail: json!({"responseId": response.id, "question": rule.question, "score": score}),
        };
        let team = settings.teams.get(&rule.team);
        if let Some(case) =
            store.open_case(workspace, &case, team, &entry, |c| ("case.opened".into(), case_json(c))).await?
        {
            opened.push(case);
        }
    }
    Ok(opened)
}

/// The customer's traits as text, for rules that read them (none for an unknown customer).
async fn traits_of(
    store: &Store,
    workspace: &WorkspaceId,
    identity_key: &str,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    let Ok(identity) = rapport_core::identity::Identity::parse_typed(identity_key) else {
        return Ok(Default::default());
    };
    let Some(customer) = store.customer_by_identity(workspace, &identity).await? else { return Ok(Default::default()) };
    let Some(profile) = store.customer_profile(workspace, &customer).await? else { return Ok(Default::default()) };
    Ok(profile
        .traits
        .into_iter()
        .map(|t| {
            let value = match t.value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            (t.key, value)
        })
        .collect())
}

/// Opens the cases the workspace's alert rules ask for when `alert` is raised on a topic or
/// source (one open case per rule and subject).
pub async fn open_from_alert(
    store: &Store,
    workspace: &WorkspaceId,
    alert: &AlertRecord,
) -> Result<Vec<CaseRecord>, ApiError> {
    let (settings, calendar) = settings(store, workspace).await?;
    let mut opened = Vec::new();
    let rules = settings
        .alert_rules
        .iter()
        .filter(|r| r.topics.is_empty() || (alert.scope == "topic" && r.topics.contains(&alert.subject)));
    for rule in rules {
        let opening = Opening {
            identity_key: None,
            rule_id: Some(rule.id.clone()),
            response_id: None,
            title: format!(
                "{}: spike on {} {} ({} negative mentions, {} expected)",
                rule.name, alert.scope, alert.subject, alert.detail["observed"], alert.detail["expected"]
            ),
            priority: rule.priority.clone(),
            team: Some(rule.team.clone()),
            assignee: None,
            open_key: Some(format!("alert|{}|{}:{}", rule.id, alert.scope, alert.subject)),
        };
        let case = new_case(opening, &settings, &calendar, alert.raised_at_ms);
        let entry = CaseEntry {
            at_ms: case.opened_at_ms,
            actor: format!("alert-rule:{}", rule.id),
            kind: "opened".into(),
            detail: json!({"alertId": alert.id, "scope": alert.scope, "subject": alert.subject}),
        };
        let team = settings.teams.get(&rule.team);
        if let Some(case) =
            store.open_case(workspace, &case, team, &entry, |c| ("case.opened".into(), case_json(c))).await?
        {
            opened.push(case);
        }
    }
    Ok(opened)
}

/// Opens the retention cases the workspace's churn rules ask for when `prediction` newly flags a
/// customer (one open case per rule and customer), filed under one of the customer's identities.
pub async fn open_from_churn_risk(
    store: &Store,
    workspace: &WorkspaceId,
    prediction: &rapport_store::prediction_records::CustomerPrediction,
) -> Result<Vec<CaseRecord>, ApiError> {
    let (settings, calendar) = settings(store, workspace).await?;
    let probability = prediction.churn_probability.unwrap_or(0.0);
    let rules: Vec<_> =
        settings.churn_rules.iter().filter(|rule| rule.min_probability.is_none_or(|min| probability >= min)).collect();
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let identities = crate::services::customer_identity_keys(store, workspace, &prediction.customer_id).await?;
    // A user id when there is one: the identity the product knows the customer by.
    let identity = identities.iter().find(|key| key.starts_with("userId:")).or(identities.first()).cloned();
    let leading: Vec<String> = prediction
        .factors
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|factor| Some(format!("{} {}", factor["column"].as_str()?, factor["direction"].as_str()?)))
        .collect();
    let mut opened = Vec::new();
    for rule in rules {
        let opening = Opening {
            identity_key: identity.clone(),
            rule_id: Some(rule.id.clone()),
            response_id: None,
            title: format!("{}: churn risk {:.0}% ({})", rule.name, probability * 100.0, leading.join(", ")),
            priority: rule.priority.clone(),
            team: Some(rule.team.clone()),
            assignee: None,
            open_key: Some(format!("churn|{}|{}", rule.id, prediction.customer_id)),
        };
        let case = new_case(opening, &settings, &calendar, prediction.scored_at_ms);
        let entry = CaseEntry {
            at_ms: case.opened_at_ms,
            actor: format!("churn-rule:{}", rule.id),
            kind: "opened".into(),
            detail: json!({"customerId": prediction.customer_id, "probability": probability, "factors": prediction.factors}),
        };
        let team = settings.teams.get(&rule.team);
        if let Some(case) =
            store.open_case(workspace, &case, team, &entry, |c| ("case.opened".into(), case_json(c))).await?
        {
            opened.push(case);
        }
    }
    Ok(opened)
}

/// Opens a case by hand: `{"title", "priority"?, "customer"?, "assignee"?, "actor"?}`.
pub async fn open_manual(
    store: &Store,
    workspace: &WorkspaceId,
    body: &Value,
    now_ms: i64,
) -> Result<CaseRecord, ApiError> {
    let mut problems = Vec::new();
    let text = |field: &str, problems: &mut Vec<FieldProblem>| match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 500 => Some(s.trim().to_owned()),
        Some(_) => {
            problems.push(FieldProblem::envelope(field, "must be a non-empty string of at most 500 bytes"));
            None
        }
    };
    let title = text("title", &mut problems);
    if title.is_none() && !problems.iter().any(|p| p.field == "title") {
        problems.push(FieldProblem::envelope("title", "required"));
    }
    let priority = text("priority", &mut problems).unwrap_or_else(|| "normal".into());
    if !PRIORITIES.contains(&priority.as_str()) {
        problems.push(FieldProblem::envelope("priority", "must be urgent, high, normal or low"));
    }
    let customer = text("customer", &mut problems);
    let customer = customer.and_then(|typed| match rapport_core::identity::Identity::parse_typed(&typed) {
        Ok(identity) => Some(identity.key()),
        Err(error) => {
            problems.push(FieldProblem::envelope("customer", &error.to_string()));
            None
        }
    });
    let assignee = text("assignee", &mut problems);
    let actor = text("actor", &mut problems).unwrap_or_else(|| "api".into());
    let (Some(title), true) = (title, problems.is_empty()) else { return Err(invalid_case(problems)) };
    let (settings, calendar) = settings(store, workspace).await?;
    let opening = Opening {
        identity_key: customer,
        rule_id: None,
        response_id: None,
        title,
        priority,
        team: None,
        assignee,
        open_key: None,
    };
    let case = new_case(opening, &settings, &calendar, now_ms);
    let entry = CaseEntry { at_ms: now_ms, actor, kind: "opened".into(), detail: json!({"manual": true}) };
    store
        .open_case(workspace, &case, None, &entry, |c| ("case.opened".into(), case_json(c)))
        .await?
        .ok_or_else(|| ApiError::internal("a manual case without an open key was refused"))
}

async fn read(store: &Store, workspace: &WorkspaceId, id: &str) -> Result<CaseRecord, ApiError> {
    store.case(workspace, id).await?.ok_or_else(|| ApiError::not_found(format!("no case `{id}` in this workspace")))
}

/// Moves a case: `{"state", "note"?, "rootCause"?, "resolution"?, "actor"?}`.
pub async fn transition(
    store: &Store,
    workspace: &WorkspaceId,
    id: &str,
    body: &Value,
    now_ms: i64,
) -> Result<CaseRecord, ApiError> {
    let case = read(store, workspace, id).await?;
    let (settings, calendar) = settings(store, workspace).await?;
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let mut problems = Vec::new();
    let to = field("state").unwrap_or_default().to_owned();
    if !STATES.contains(&to.as_str()) {
        problems.push(FieldProblem::envelope("state", &format!("must be one of {}", STATES.join(", "))));
    } else if !may_move(&case.state, &to) {
        problems.push(FieldProblem::envelope("state", &format!("a case cannot go from {} to {to}", case.state)));
    }
    let root_cause = field("rootCause").map(str::to_owned);
    let resolution = field("resolution").map(str::to_owned);
    if to == "closed" {
        match &root_cause {
            Some(code) if settings.root_causes.contains(code) => {}
            Some(code) => problems.push(FieldProblem::envelope(
                "rootCause",
                &format!("`{code}` is not one of the workspace's codes: {}", settings.root_causes.join(", ")),
            )),
            None => problems.push(FieldProblem::envelope(
                "rootCause",
                &format!("required to close a case: one of {}", settings.root_causes.join(", ")),
            )),
        }
        if resolution.is_none() {
            problems.push(FieldProblem::envelope("resolution", "required to close a case: what was done"));
        }
    }
    if !problems.is_empty() {
        return Err(invalid_case(problems));
    }
    let now = now_ms.max(case.updated_at_ms + 1);
    let mut next = case.clone();
    next.state = to.clone();
    next.updated_at_ms = now;
    if next.first_contact_at_ms.is_none()
        && ["in_progress", "waiting_on_customer", "resolved", "closed"].contains(&to.as_str())
    {
        next.first_contact_at_ms = Some(now);
    }
    if let Some(paused) = case.paused_at_ms.filter(|_| to != "waiting_on_customer") {
        next.resolution_due_ms = cases::shifted(&calendar, case.resolution_due_ms, paused, now);
        next.paused_at_ms = None;
    }
    match to.as_str() {
        "waiting_on_customer" => next.paused_at_ms = Some(now),
        "resolved" => {
            next.resolved_at_ms = Some(now);
            next.open_key = None;
        }
        "closed" => {
            next.closed_at_ms = Some(now);
            next.open_key = None;
            next.root_cause = root_cause.clone();
            next.resolution = resolution.clone();
        }
        "open" if matches!(case.state.as_str(), "resolved" | "closed") => {
            next.open_key =
                case.rule_id.as_ref().zip(case.identity_key.as_ref()).map(|(rule, who)| format!("{who}|{rule}"));
            next.resolved_at_ms = None;
            next.closed_at_ms = None;
        }
        _ => {}
    }
    let actor = field("actor").unwrap_or("api").to_owned();
    let mut entries = vec![CaseEntry {
        at_ms: now,
        actor: actor.clone(),
        kind: "state".into(),
        detail: json!({"from": case.state, "to": to, "rootCause": root_cause, "resolution": resolution}),
    }];
    if let Some(note) = field("note") {
        entries.push(CaseEntry { at_ms: now, actor, kind: "note".into(), detail: json!({"text": note}) });
    }
    let kind = if to == "closed" { "case.closed" } else { "case.updated" };
    let change = CaseChange { event: Some((kind.into(), case_json(&next))), case: next.clone(), entries };
    if !store.change_case(workspace, case.updated_at_ms, &change).await? {
        return Err(conflict(id));
    }
    Ok(next)
}

/// Adds a note: `{"text", "actor"?}`.
pub async fn add_note(
    store: &Store,
    workspace: &WorkspaceId,
    id: &str,
    body: &Value,
    now_ms: i64,
) -> Result<CaseRecord, ApiError> {
    let text = body.get("text").and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty() && t.len() <= 20_000);
    let Some(text) = text else {
        return Err(invalid_case(vec![FieldProblem::envelope("text", "required: the note, at most 20000 bytes")]));
    };
    let case = read(store, workspace, id).await?;
    let actor = body.get("actor").and_then(Value::as_str).unwrap_or("api").to_owned();
    let mut next = case.clone();
    next.updated_at_ms = now_ms.max(case.updated_at_ms + 1);
    let entry = CaseEntry { at_ms: next.updated_at_ms, actor, kind: "note".into(), detail: json!({"text": text}) };
    let change =
        CaseChange { case: next.clone(), entries: vec![entry], event: Some(("case.updated".into(), case_json(&next))) };
    if !store.change_case(workspace, case.updated_at_ms, &change).await? {
        return Err(conflict(id));
    }
    Ok(next)
}

/// Marks open cases past a target as breached and escalates those left untouched
/// `escalateAfterMinutes` business minutes past it (to `escalateTo`). Returns the cases changed.
pub async fn check_sla(store: &Store, now_ms: i64) -> Result<usize, ApiError> {
    let mut changed = 0;
    let mut by_workspace: std::collections::HashMap<String, (CaseSettings, Calendar)> =
        std::collections::HashMap::new();
    for (workspace, case) in store.cases_past_due(now_ms, 500).await? {
        if !by_workspace.contains_key(workspace.as_str()) {
            by_workspace.insert(workspace.as_str().to_owned(), settings(store, &workspace).await?);
        }
        let (settings, calendar) = &by_workspace[workspace.as_str()];
        let (kind, due) = if case.first_contact_at_ms.is_none() && case.first_response_due_ms < now_ms {
            ("first_response", case.first_response_due_ms)
        } else {
            ("resolution", case.resolution_due_ms)
        };
        let mut next = case.clone();
        let mut entries = Vec::new();
        let now = now_ms.max(case.updated_at_ms + 1);
        if case.breached.as_deref() != Some(kind) {
            next.breached = Some(kind.into());
            entries.push(CaseEntry {
                at_ms: now,
                actor: "sla".into(),
                kind: "breached".into(),
                detail: json!({"target": kind, "due": rfc3339(due)}),
            });
        }
        let untouched = case.updated_at_ms <= due;
        let overdue = cases::business_minutes(calendar, due, now_ms);
        if case.escalated_at_ms.is_none() && untouched && overdue >= settings.escalate_after_minutes {
            next.escalated_at_ms = Some(now);
            if let Some(to) = &settings.escalate_to {
                next.assignee = Some(to.clone());
            }
            entries.push(CaseEntry {
                at_ms: now,
                actor: "sla".into(),
                kind: "escalated".into(),
                detail: json!({"from": case.assignee, "to": next.assignee, "businessMinutesOverdue": overdue}),
            });
        }
        if entries.is_empty() {
            continue;
        }
        // The breach check does not count as touching the case.
        next.updated_at_ms = case.updated_at_ms;
        let change = CaseChange { event: Some(("case.updated".into(), case_json(&next))), case: next, entries };
        if store.change_case(&workspace, case.updated_at_ms, &change).await? {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Cases read for the recovery figures at most.
const RECOVERY_CASES: usize = 100_000;

/// The micro loop's figures over cases opened in `from..to`: loop-closure rate (low scores followed
/// up / all low scores), median time to first contact, recovery rate (closed cases whose customer's
/// next answer is out of the rule's range / those answered again), repeat root causes; each rate
/// with its n and 95% Wilson interval.
pub async fn recovery(store: &Store, workspace: &WorkspaceId, from_ms: i64, to_ms: i64) -> Result<Value, ApiError> {
    let (settings, _) = settings(store, workspace).await?;
    let answers = store.scored_answers(workspace, from_ms, rapport_store::now_ms().max(to_ms) + 1).await?;
    let in_window: Vec<_> = answers.iter().filter(|a| a.at_ms < to_ms).cloned().collect();
    let facts: Vec<cases::CaseFacts> = store
        .cases(workspace, None, None, None, RECOVERY_CASES)
        .await?
        .into_iter()
        .filter(|c| (from_ms..to_ms).contains(&c.opened_at_ms))
        .map(|c| cases::CaseFacts {
            identity: c.identity_key,
            rule: c.rule_id,
            opened_at_ms: c.opened_at_ms,
            first_contact_at_ms: c.first_contact_at_ms,
            closed_at_ms: c.closed_at_ms,
            root_cause: c.root_cause,
        })
        .collect();
    let loop_facts = cases::recovery(&settings, &in_window, &facts);
    let recovered = cases::recovery(&settings, &answers, &facts);
    let rate = |k: u64, n: u64| {
        let interval = rapport_core::metrics::stats::wilson(k, n).map(|i| json!({"low": i.low, "high": i.high}));
        json!({"value": (n > 0).then(|| k as f64 / n as f64), "n": n, "interval": interval})
    };
    let causes: serde_json::Map<String, Value> = recovered
        .root_causes
        .iter()
        .map(|(cause, (cases, repeats))| (cause.clone(), json!({"cases": cases, "repeats": repeats})))
        .collect();
    Ok(json!({
        "from": rfc3339(from_ms),
        "to": rfc3339(to_ms),
        "lowScores": loop_facts.low_scores,
        "loopClosureRate": rate(loop_facts.followed_up, loop_facts.low_scores),
        "medianMinutesToFirstContact": recovered.median_minutes_to_first_contact,
        "closed": recovered.closed,
        "recovered": recovered.recovered,
        "recoveryRate": rate(recovered.recovered, recovered.answered_again),
        "rootCauses": causes,
    }))
}
