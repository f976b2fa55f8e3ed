//! Action plans, the pure half: an initiative as sent (tied to a topic or a touchpoint, with an
//! owner, a status, dates and sub-actions) and its effect: NPS and the topic's share before and
//! after the initiative's start, each with n and a 95% interval, and the differences.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::metrics::stats::{Net, difference, wilson};
use crate::problem::FieldProblem;

pub const STATUSES: [&str; 4] = ["planned", "in_progress", "done", "cancelled"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubAction {
    pub title: String,
    #[serde(default)]
    pub done: bool,
}

/// An initiative as sent and stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionPlan {
    pub title: String,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub touchpoint: Option<String>,
    pub owner: String,
    pub status: String,
    /// When the change took effect (YYYY-MM-DD, UTC): the effect compares before and after it.
    pub starts_on: String,
    #[serde(default)]
    pub due_on: Option<String>,
    #[serde(default)]
    pub actions: Vec<SubAction>,
}

fn day(text: &str) -> Option<jiff::civil::Date> {
    text.parse().ok()
}

impl ActionPlan {
    /// Checks a plan as sent; every problem names its field.
    pub fn parse(value: &Value) -> Result<ActionPlan, Vec<FieldProblem>> {
        let plan: ActionPlan =
            serde_json::from_value(value.clone()).map_err(|e| vec![FieldProblem::envelope("", &e.to_string())])?;
        let mut problems = Vec::new();
        if plan.title.trim().is_empty() || plan.title.len() > 300 {
            problems.push(FieldProblem::envelope("title", "must be 1 to 300 bytes"));
        }
        if plan.topic.is_none() && plan.touchpoint.is_none() {
            problems.push(FieldProblem::envelope("topic", "a plan is tied to a topic, a touchpoint, or both"));
        }
        if plan.owner.trim().is_empty() {
            problems.push(FieldProblem::envelope("owner", "required"));
        }
        if !STATUSES.contains(&plan.status.as_str()) {
            problems.push(FieldProblem::envelope("status", &format!("must be one of {}", STATUSES.join(", "))));
        }
        if day(&plan.starts_on).is_none() {
            problems.push(FieldProblem::envelope("startsOn", "must be YYYY-MM-DD"));
        }
        if plan.due_on.as_deref().is_some_and(|d| day(d).is_none()) {
            problems.push(FieldProblem::envelope("dueOn", "must be YYYY-MM-DD"));
        }
        for (i, action) in plan.actions.iter().enumerate() {
            if action.title.trim().is_empty() {
                problems.push(FieldProblem::envelope(&format!("actions[{i}].title"), "must not be empty"));
            }
        }
        if problems.is_empty() { Ok(plan) } else { Err(problems) }
    }

    /// The start, in ms since the epoch (midnight UTC).
    pub fn starts_at_ms(&self) -> i64 {
        day(&self.starts_on)
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map_or(0, |z| z.timestamp().as_millisecond())
    }
}

/// A response as the effect reads it: its NPS score and whether its comments mention the topic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub score: i64,
    pub mentions: bool,
}

fn period(observations: &[Observation]) -> (Option<Net>, u64, u64) {
    let n = observations.len() as u64;
    let promoters = observations.iter().filter(|o| o.score >= 9).count() as u64;
    let detractors = observations.iter().filter(|o| o.score <= 6).count() as u64;
    let mentions = observations.iter().filter(|o| o.mentions).count() as u64;
    (Net::new(promoters, detractors, n), mentions, n)
}

/// NPS (adjusted Wald) and the topic's share (Wilson) before and after, and the differences
/// (after − before) with their intervals and p-values.
pub fn effect(before: &[Observation], after: &[Observation]) -> Value {
    let (nps_before, mentions_before, n_before) = period(before);
    let (nps_after, mentions_after, n_after) = period(after);
    let nps_json = |net: &Option<Net>, n: u64| {
        json!({"n": n, "score": net.map(|x| x.net * 100.0),
               "interval": net.map(|x| { let i = x.interval(); json!({"low": i.low * 100.0, "high": i.high * 100.0}) })})
    };
    let share = |k: u64, n: u64| (n > 0).then(|| k as f64 / n as f64);
    let share_json = |k: u64, n: u64| json!({"mentions": k, "n": n, "share": share(k, n), "interval": wilson(k, n).map(|i| json!({"low": i.low, "high": i.high}))});
    let nps_change = match (nps_before, nps_after) {
        (Some(b), Some(a)) => {
            let d = difference(b.adjusted, b.variance_of_estimate(), a.adjusted, a.variance_of_estimate());
            json!({"difference": d.difference * 100.0, "interval": {"low": d.ci_low * 100.0, "high": d.ci_high * 100.0}, "pValue": d.p_value})
        }
        _ => Value::Null,
    };
    let share_change = match (share(mentions_before, n_before), share(mentions_after, n_after)) {
        (Some(b), Some(a)) => {
            let d = difference(b, b * (1.0 - b) / n_before as f64, a, a * (1.0 - a) / n_after as f64);
            json!({"difference": d.difference, "interval": {"low": d.ci_low, "high": d.ci_high}, "pValue": d.p_value})
        }
        _ => Value::Null,
    };
    json!({
        "nps": {"before": nps_json(&nps_before, n_before), "after": nps_json(&nps_after, n_after), "change": nps_change},
        "topicShare": {"before": share_json(mentions_before, n_before), "after": share_json(mentions_after, n_after), "change": share_change},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_checked() {
        let ok = json!({"title": "Faster couriers", "topic": "late-delivery", "owner": "ops", "status": "in_progress",
                        "startsOn": "2026-06-01", "actions": [{"title": "New courier contract"}]});
        let plan = ActionPlan::parse(&ok).unwrap();
        assert_eq!(plan.starts_at_ms(), 1_780_272_000_000);
        let bad = json!({"title": "", "owner": "", "status": "someday", "startsOn": "June", "dueOn": "x", "actions": [{"title": ""}]});
        let fields: Vec<String> = ActionPlan::parse(&bad).unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["title", "topic", "owner", "status", "startsOn", "dueOn", "actions[0].title"]);
    }

    #[test]
    fn the_effect_compares_before_and_after() {
        let before: Vec<Observation> =
            (0..100).map(|i| Observation { score: if i < 40 { 3 } else { 9 }, mentions: i < 40 }).collect();
        let after: Vec<Observation> =
            (0..100).map(|i| Observation { score: if i < 10 { 3 } else { 9 }, mentions: i < 10 }).collect();
        let measured = effect(&before, &after);
        assert_eq!(measured["nps"]["before"]["score"], 20.0);
        assert_eq!(measured["nps"]["after"]["score"], 80.0);
        assert!(measured["nps"]["change"]["difference"].as_f64().unwrap() > 50.0);
        assert!(measured["nps"]["change"]["pValue"].as_f64().unwrap() < 0.001);
        assert!((measured["topicShare"]["change"]["difference"].as_f64().unwrap() + 0.3).abs() < 1e-12);
        assert_eq!(effect(&[], &after)["nps"]["change"], Value::Null);
    }
}
