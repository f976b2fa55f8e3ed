//! The macro loop as a service: root causes (which topics a group of respondents mentions more than
//! the rest) and key drivers (which topics move a metric most), over responses' scores and the
//! topics of their comments; action plans and their measured effect.

use rapport_core::action_plans::{ActionPlan, Observation, effect};
use rapport_core::identity::Identity;
use rapport_core::ids::WorkspaceId;
use rapport_core::metrics::drivers::{key_drivers, root_causes};
use rapport_core::metrics::query::Dimension;
use rapport_store::Store;
use rapport_store::case_records::ScoredResponse;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::services::feedback::taxonomy;
use crate::services::metrics::invalid_settings;
use crate::services::rfc3339;

/// Fewest responses a driver analysis runs on.
pub const MIN_RESPONSES: usize = 30;

/// The question type a metric reads and its scale's groups.
fn question_type(metric: &str) -> Result<&'static str, ApiError> {
    match metric {
        "nps" => Ok("nps"),
        "csat" => Ok("csat"),
        other => Err(ApiError::invalid_parameter("metric", format!("`{other}`: expected nps or csat"))),
    }
}

/// Says whether a response is in a group.
type GroupTest = Box<dyn Fn(&ScoredResponse) -> bool + Send + Sync>;

/// Whether a response belongs to `group`: `detractors`, `passives`, `promoters` (NPS), `low`
/// (CSAT 1-2), `high` (CSAT 4-5), `touchpoint:NAME` or `channel:NAME`.
fn group_test(metric: &str, group: &str) -> Result<GroupTest, ApiError> {
    let bad = || {
        ApiError::invalid_parameter(
            "group",
            format!(
                "`{group}`: expected detractors, passives, promoters (nps), low, high (csat), touchpoint:NAME or channel:NAME"
            ),
        )
    };
    Ok(match (metric, group) {
        ("nps", "detractors") => Box::new(|r| r.score <= 6),
        ("nps", "passives") => Box::new(|r| (7..=8).contains(&r.score)),
        ("nps", "promoters") => Box::new(|r| r.score >= 9),
        ("csat", "low") => Box::new(|r| r.score <= 2),
        ("csat", "high") => Box::new(|r| r.score >= 4),
        (_, other) => match other.split_once(':') {
            Some(("touchpoint", name)) if !name.is_empty() => {
                let name = name.to_owned();
                Box::new(move |r| r.touchpoint.as_deref() == Some(name.as_str()))
            }
            Some(("channel", name)) if !name.is_empty() => {
                let name = name.to_lowercase();
                Box::new(move |r| r.channel.as_deref() == Some(name.as_str()))
            }
            _ => return Err(bad()),
        },
    })
}

/// A segment: respondents whose customer's trait `key` is `value` now (following merges).
async fn segment(
    store: &Store,
    workspace: &WorkspaceId,
    responses: &[ScoredResponse],
    key: &str,
    value: &str,
) -> Result<GroupTest, ApiError> {
    let values: std::collections::HashMap<String, String> =
        store.customer_values(workspace, &Dimension::Trait(key.to_owned())).await?.into_iter().collect();
    let mut members = std::collections::HashSet::new();
    let mut identities: Vec<&str> = responses.iter().map(|r| r.identity_key.as_str()).collect();
    identities.sort_unstable();
    identities.dedup();
    for identity in identities {
        let Ok(parsed) = Identity::parse_typed(identity) else { continue };
        if let Some(root) = store.customer_by_identity(workspace, &parsed).await?
            && values.get(&root.0).map(String::as_str) == Some(value)
        {
            members.insert(identity.to_owned());
        }
    }
    Ok(Box::new(move |r| members.contains(&r.identity_key)))
}

/// Root causes for a group over `from..to`: each topic's share among the group's responses against
/// the rest's, with intervals, the difference and its q-value, largest difference first.
pub async fn root_cause_report(
    store: &Store,
    workspace: &WorkspaceId,
    metric: &str,
    group: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Value, ApiError> {
    let kind = question_type(metric)?;
    let responses = store.scores_with_topics(workspace, kind, from_ms, to_ms).await?;
    let in_group = match group.strip_prefix("traits.").and_then(|rest| rest.split_once(':')) {
        Some((key, value)) if !key.is_empty() => segment(store, workspace, &responses, key, value).await?,
        _ => group_test(metric, group)?,
    };
    let taxonomy = taxonomy(store, workspace).await?;
    let topics: Vec<String> = taxonomy.topics.iter().map(|t| t.id.clone()).collect();
    let flagged: Vec<(bool, Vec<String>)> = responses.iter().map(|r| (in_group(r), r.topics.clone())).collect();
    let shares = root_causes(&topics, &flagged);
    Ok(json!({
        "metric": metric,
        "group": group,
        "from": rfc3339(from_ms),
        "to": rfc3339(to_ms),
        "responses": responses.len(),
        "topics": shares,
    }))
}

/// Key drivers of a metric over `from..to`, `by`: `topics` (each top-level topic mentioned in a
/// response's comments or not), `topic_sentiment` (the sentiment of the sentences mentioning it,
/// 0 when not mentioned) or `touchpoints` (the response's touchpoint); Johnson's relative weights
/// with percentile-bootstrap 95% intervals (`rounds` resamples), and each driver's quadrant.
pub async fn driver_report(
    store: &Store,
    workspace: &WorkspaceId,
    metric: &str,
    by: &str,
    from_ms: i64,
    to_ms: i64,
    rounds: usize,
) -> Result<Value, ApiError> {
    let kind = question_type(metric)?;
    let responses = store.scores_with_topics(workspace, kind, from_ms, to_ms).await?;
    let (names, x): (Vec<String>, Vec<Vec<f64>>) = match by {
        "topics" | "topic_sentiment" => {
            let taxonomy = taxonomy(store, workspace).await?;
            let names: Vec<String> =
                taxonomy.topics.iter().filter(|t| t.parent.is_none()).map(|t| t.id.clone()).collect();
            let value = |r: &ScoredResponse, name: &String| match r.topics.iter().position(|t| t == name) {
                None => 0.0,
                Some(_) if by == "topics" => 1.0,
                Some(i) => r.topic_sentiment.get(i).copied().unwrap_or(0.0),
            };
            let x = responses.iter().map(|r| names.iter().map(|name| value(r, name)).collect()).collect();
            (names, x)
        }
        "touchpoints" => {
            let mut names: Vec<String> = responses.iter().filter_map(|r| r.touchpoint.clone()).collect();
            names.sort();
            names.dedup();
            let x = responses
                .iter()
                .map(|r| names.iter().map(|name| f64::from(u8::from(r.touchpoint.as_ref() == Some(name)))).collect())
                .collect();
            (names, x)
        }
        "dimensions" => {
            // CSAT service dimensions; responses that rated every dimension (complete cases).
            let scores = store.dimension_scores(workspace, from_ms, to_ms).await?;
            let mut names: Vec<String> = scores.iter().map(|(_, d, _)| d.clone()).collect();
            names.sort();
            names.dedup();
            let by_response: std::collections::HashMap<(&str, &str), i64> =
                scores.iter().map(|(r, d, s)| ((r.as_str(), d.as_str()), *s)).collect();
            let complete: Vec<&ScoredResponse> = responses
                .iter()
                .filter(|r| names.iter().all(|d| by_response.contains_key(&(r.id.as_str(), d.as_str()))))
                .collect();
            let x: Vec<Vec<f64>> = complete
                .iter()
                .map(|r| names.iter().map(|d| by_response[&(r.id.as_str(), d.as_str())] as f64).collect())
                .collect();
            let kept: std::collections::HashSet<&str> = complete.iter().map(|r| r.id.as_str()).collect();
            let y_complete: Vec<f64> =
                responses.iter().filter(|r| kept.contains(r.id.as_str())).map(|r| r.score as f64).collect();
            return finish(metric, by, from_ms, to_ms, kept.len(), &names, &x, &y_complete, rounds);
        }
        other => {
            return Err(ApiError::invalid_parameter(
                "by",
                format!("`{other}`: expected topics, topic_sentiment, touchpoints or dimensions"),
            ));
        }
    };
    let y: Vec<f64> = responses.iter().map(|r| r.score as f64).collect();
    finish(metric, by, from_ms, to_ms, responses.len(), &names, &x, &y, rounds)
}

/// The driver report of `names` (columns of `x`) for `y`.
#[allow(clippy::too_many_arguments)]
fn finish(
    metric: &str,
    by: &str,
    from_ms: i64,
    to_ms: i64,
    responses: usize,
    names: &[String],
    x: &[Vec<f64>],
    y: &[f64],
    rounds: usize,
) -> Result<Value, ApiError> {
    let base =
        json!({"metric": metric, "by": by, "from": rfc3339(from_ms), "to": rfc3339(to_ms), "responses": responses});
    let analysed = (responses >= MIN_RESPONSES).then(|| key_drivers(names, x, y, rounds, 0x5EED)).flatten();
    let mut body = base;
    match analysed {
        Some((r_squared, drivers)) => {
            body["rSquared"] = Value::from(r_squared);
            body["bootstrapRounds"] = Value::from(rounds);
            body["drivers"] = serde_json::to_value(drivers).map_err(ApiError::internal)?;
        }
        None => {
            body["drivers"] = json!([]);
            body["note"] = Value::from(format!(
                "a driver analysis needs at least {MIN_RESPONSES} scored responses whose predictors vary; there are {responses}"
            ));
        }
    }
    Ok(body)
}

fn plan_json(id: &str, plan: &Value, created: i64, updated: i64) -> Value {
    let mut value = plan.clone();
    value["id"] = Value::from(id);
    value["createdAt"] = Value::from(rfc3339(created));
    value["updatedAt"] = Value::from(rfc3339(updated));
    value
}

/// Stores a new action plan (checked); returns it with its id.
pub async fn create_plan(store: &Store, workspace: &WorkspaceId, body: &Value) -> Result<Value, ApiError> {
    let plan = ActionPlan::parse(body).map_err(invalid_settings)?;
    let stored = serde_json::to_value(&plan).map_err(ApiError::internal)?;
    let id = store.create_action_plan(workspace, &stored).await?;
    let now = rapport_store::now_ms();
    Ok(plan_json(&id, &stored, now, now))
}

/// Replaces a plan (its status, sub-actions done…).
pub async fn replace_plan(store: &Store, workspace: &WorkspaceId, id: &str, body: &Value) -> Result<Value, ApiError> {
    let plan = ActionPlan::parse(body).map_err(invalid_settings)?;
    let stored = serde_json::to_value(&plan).map_err(ApiError::internal)?;
    if !store.put_action_plan(workspace, id, &stored).await? {
        return Err(plan_not_found(id));
    }
    let (id, plan, created, updated) =
        store.action_plans(workspace, Some(id)).await?.pop().ok_or_else(|| plan_not_found(id))?;
    Ok(plan_json(&id, &plan, created, updated))
}

fn plan_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no action plan `{id}` in this workspace"))
}

/// The workspace's plans, or one with its effect over `days` days before and after its start:
/// NPS and the topic's share (of the plan's touchpoint's responses, when it has one).
pub async fn plans(store: &Store, workspace: &WorkspaceId, id: Option<&str>, days: i64) -> Result<Value, ApiError> {
    let rows = store.action_plans(workspace, id).await?;
    if let Some(id) = id {
        let (id, stored, created, updated) = rows.into_iter().next().ok_or_else(|| plan_not_found(id))?;
        let plan: ActionPlan = serde_json::from_value(stored.clone()).map_err(ApiError::internal)?;
        let start = plan.starts_at_ms();
        let span = days * 86_400_000;
        let responses = store.scores_with_topics(workspace, "nps", start - span, start + span).await?;
        let observe = |r: &ScoredResponse| Observation {
            score: r.score,
            mentions: plan.topic.as_ref().is_some_and(|t| r.topics.contains(t)),
        };
        let relevant = |r: &&ScoredResponse| plan.touchpoint.as_ref().is_none_or(|t| r.touchpoint.as_ref() == Some(t));
        let (before, after): (Vec<&ScoredResponse>, Vec<&ScoredResponse>) =
            responses.iter().filter(relevant).partition(|r| r.submitted_at_ms < start);
        let before: Vec<Observation> = before.into_iter().map(observe).collect();
        let after: Vec<Observation> = after.into_iter().map(observe).collect();
        let mut value = plan_json(&id, &stored, created, updated);
        value["effect"] = effect(&before, &after);
        value["effect"]["days"] = Value::from(days);
        return Ok(value);
    }
    Ok(json!({"data": rows.iter().map(|(id, plan, c, u)| plan_json(id, plan, *c, *u)).collect::<Vec<_>>()}))
}
