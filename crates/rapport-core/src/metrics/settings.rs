//! A workspace's metric settings: the minimum n below which figures are flagged, the CSAT
//! threshold, a target per metric and external benchmarks (an industry NPS) to show gaps to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::metrics::figures::{FigureOptions, Metric};
use crate::problem::FieldProblem;

pub const MAX_BENCHMARKS: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSettings {
    pub min_n: u64,
    pub satisfied_from: i64,
    /// Metric name → the score the team aims for.
    pub targets: BTreeMap<String, f64>,
    pub benchmarks: Vec<Benchmark>,
    /// What churn means in this workspace; the churn rate needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn: Option<ChurnDefinition>,
    /// How account NPS weighs respondents by role.
    #[serde(default)]
    pub account_roles: AccountRoles,
}

/// Role weights for account NPS: the trait that holds a respondent's role, a weight per role,
/// and the weight of anyone else (no role, or one not listed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRoles {
    pub trait_key: String,
    pub weights: BTreeMap<String, f64>,
    pub default_weight: f64,
}

impl Default for AccountRoles {
    fn default() -> AccountRoles {
        AccountRoles { trait_key: "role".to_owned(), weights: BTreeMap::new(), default_weight: 1.0 }
    }
}

impl AccountRoles {
    pub fn weight(&self, role: Option<&str>) -> f64 {
        role.and_then(|role| self.weights.get(role)).copied().unwrap_or(self.default_weight)
    }
}

const MAX_WEIGHT: f64 = 1_000.0;

/// The events that make a customer active, and those that mean they cancelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChurnDefinition {
    pub active_events: Vec<String>,
    pub cancel_events: Vec<String>,
}

pub const MAX_CHURN_EVENTS: usize = 20;

/// An external reference figure, such as an industry's published NPS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Benchmark {
    pub metric: String,
    pub name: String,
    pub score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl MetricSettings {
    pub fn defaults() -> MetricSettings {
        let options = FigureOptions::default();
        MetricSettings {
            min_n: options.min_n,
            satisfied_from: options.satisfied_from,
            targets: BTreeMap::new(),
            benchmarks: Vec::new(),
            churn: None,
            account_roles: AccountRoles::default(),
        }
    }

    pub fn figure_options(&self) -> FigureOptions {
        FigureOptions { min_n: self.min_n, satisfied_from: self.satisfied_from }
    }

    pub fn target(&self, metric: Metric) -> Option<f64> {
        self.targets.get(metric.name()).copied()
    }

    pub fn benchmarks(&self, metric: Metric) -> impl Iterator<Item = &Benchmark> {
        self.benchmarks.iter().filter(move |benchmark| benchmark.metric == metric.name())
    }
}

/// The range a metric's score can take.
fn score_range(metric: Metric) -> (f64, f64) {
    match metric {
        Metric::Nps | Metric::Enps | Metric::AccountNps => (-100.0, 100.0),
        Metric::Csat | Metric::ResponseRate | Metric::ChurnRate => (0.0, 100.0),
        Metric::Ces => (1.0, 7.0),
        Metric::Rating => (0.0, 100.0),
    }
}

fn check_score(field: &str, metric: Option<Metric>, value: &Value, problems: &mut Vec<FieldProblem>) -> Option<f64> {
    let Some(score) = value.as_f64() else {
        problems.push(FieldProblem::envelope(field, "must be a number"));
        return None;
    };
    let (low, high) = score_range(metric?);
    if !(low..=high).contains(&score) {
        problems.push(FieldProblem::envelope(field, &format!("{score} is outside {low}..{high}")));
        return None;
    }
    Some(score)
}

fn metric_named(field: &str, name: &str, problems: &mut Vec<FieldProblem>) -> Option<Metric> {
    let metric = Metric::parse(name);
    if metric.is_none() {
        let names: Vec<&str> = Metric::ALL.iter().map(|metric| metric.name()).collect();
        problems.push(FieldProblem::envelope(field, &format!("unknown metric `{name}`: one of {}", names.join(", "))));
    }
    metric
}

/// Checks a settings document whole (`minN`, `satisfiedFrom`, `targets`, `benchmarks`); fields
/// left out keep their defaults.
pub fn parse_settings(value: &Value) -> Result<MetricSettings, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let Some(object) = value.as_object() else {
        return Err(vec![FieldProblem::envelope("", "metric settings must be a JSON object")]);
    };
    let mut settings = MetricSettings::defaults();
    for (key, value) in object {
        match key.as_str() {
            "minN" => match value.as_u64() {
                Some(n) if (1..=1_000_000).contains(&n) => settings.min_n = n,
                _ => problems.push(FieldProblem::envelope("minN", "must be a whole number from 1 to 1000000")),
            },
            "satisfiedFrom" => match value.as_i64() {
                Some(score) if (1..=5).contains(&score) => settings.satisfied_from = score,
                _ => problems.push(FieldProblem::envelope("satisfiedFrom", "must be a whole number from 1 to 5")),
            },
            "targets" => match value.as_object() {
                Some(targets) => {
                    for (name, target) in targets {
                        let field = format!("targets.{name}");
                        let metric = metric_named(&field, name, &mut problems);
                        if let Some(score) = check_score(&field, metric, target, &mut problems) {
                            settings.targets.insert(name.clone(), score);
                        }
                    }
                }
                None => problems.push(FieldProblem::envelope("targets", "must be an object: metric → target score")),
            },
            "benchmarks" => match value.as_array() {
                Some(items) if items.len() > MAX_BENCHMARKS => {
                    problems
                        .push(FieldProblem::envelope("benchmarks", &format!("at most {MAX_BENCHMARKS} benchmarks")));
                }
                Some(items) => {
                    for (position, item) in items.iter().enumerate() {
                        if let Some(benchmark) =
                            parse_benchmark(item, &format!("benchmarks[{position}]"), &mut problems)
                        {
                            settings.benchmarks.push(benchmark);
                        }
                    }
                }
                None => problems.push(FieldProblem::envelope("benchmarks", "must be a list of benchmarks")),
            },
            "churn" => settings.churn = parse_churn(value, &mut problems),
            "accountRoles" => settings.account_roles = parse_account_roles(value, &mut problems),
            other => problems.push(FieldProblem::envelope(
                other,
                "unknown field: expected minN, satisfiedFrom, targets, benchmarks, churn, accountRoles",
            )),
        }
    }
    if problems.is_empty() { Ok(settings) } else { Err(problems) }
}

fn parse_account_roles(value: &Value, problems: &mut Vec<FieldProblem>) -> AccountRoles {
    let mut roles = AccountRoles::default();
    let Some(object) = value.as_object() else {
        problems.push(FieldProblem::envelope("accountRoles", "must be an object: trait, weights, defaultWeight"));
        return roles;
    };
    let weight = |field: &str, value: &Value, problems: &mut Vec<FieldProblem>| match value.as_f64() {
        Some(weight) if weight > 0.0 && weight <= MAX_WEIGHT => Some(weight),
        _ => {
            problems.push(FieldProblem::envelope(field, &format!("must be a number above 0 and at most {MAX_WEIGHT}")));
            None
        }
    };
    for (key, value) in object {
        match key.as_str() {
            "trait" => match value.as_str().map(str::trim) {
                Some(name) if !name.is_empty() && name.len() <= 200 => roles.trait_key = name.to_owned(),
                _ => problems.push(FieldProblem::envelope("accountRoles.trait", "must be a trait name")),
            },
            "defaultWeight" => {
                if let Some(weight) = weight("accountRoles.defaultWeight", value, problems) {
                    roles.default_weight = weight;
                }
            }
            "weights" => match value.as_object() {
                Some(weights) => {
                    for (role, value) in weights {
                        if let Some(weight) = weight(&format!("accountRoles.weights.{role}"), value, problems) {
                            roles.weights.insert(role.clone(), weight);
                        }
                    }
                }
                None => {
                    problems.push(FieldProblem::envelope("accountRoles.weights", "must be an object: role → weight"))
                }
            },
            other => problems.push(FieldProblem::envelope(
                &format!("accountRoles.{other}"),
                "unknown field: expected trait, weights, defaultWeight",
            )),
        }
    }
    roles
}

fn parse_churn(value: &Value, problems: &mut Vec<FieldProblem>) -> Option<ChurnDefinition> {
    if value.is_null() {
        return None;
    }
    let Some(object) = value.as_object() else {
        problems.push(FieldProblem::envelope("churn", "must be an object: activeEvents, cancelEvents"));
        return None;
    };
    let mut names = |key: &str| -> Option<Vec<String>> {
        let field = format!("churn.{key}");
        let list: Option<Vec<String>> = object.get(key).and_then(Value::as_array).and_then(|items| {
            items
                .iter()
                .map(|item| {
                    item.as_str().map(str::trim).filter(|name| !name.is_empty() && name.len() <= 200).map(str::to_owned)
                })
                .collect()
        });
        match list {
            Some(list) if !list.is_empty() && list.len() <= MAX_CHURN_EVENTS => Some(list),
            _ => {
                let problem = format!("required: a list of 1 to {MAX_CHURN_EVENTS} event names");
                problems.push(FieldProblem::envelope(&field, &problem));
                None
            }
        }
    };
    let (active_events, cancel_events) = (names("activeEvents"), names("cancelEvents"));
    for key in object.keys().filter(|key| !["activeEvents", "cancelEvents"].contains(&key.as_str())) {
        problems.push(FieldProblem::envelope(
            &format!("churn.{key}"),
            "unknown field: expected activeEvents, cancelEvents",
        ));
    }
    Some(ChurnDefinition { active_events: active_events?, cancel_events: cancel_events? })
}

fn parse_benchmark(item: &Value, field: &str, problems: &mut Vec<FieldProblem>) -> Option<Benchmark> {
    let text = |key: &str, problems: &mut Vec<FieldProblem>, required: bool| match item.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= 200 => Some(text.trim().to_owned()),
        None | Some(Value::Null) if !required => None,
        _ => {
            problems.push(FieldProblem::envelope(
                &format!("{field}.{key}"),
                "must be a non-empty string of at most 200 bytes",
            ));
            None
        }
    };
    let metric_name = text("metric", problems, true);
    let metric = metric_name.as_deref().and_then(|name| metric_named(&format!("{field}.metric"), name, problems));
    let name = text("name", problems, true);
    let source = text("source", problems, false);
    let score = match item.get("score") {
        Some(score) => check_score(&format!("{field}.score"), metric, score, problems),
        None => {
            problems.push(FieldProblem::envelope(&format!("{field}.score"), "required"));
            None
        }
    };
    Some(Benchmark { metric: metric?.name().to_owned(), name: name?, score: score?, source })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn settings_parse_and_keep_defaults() {
        let settings = parse_settings(&json!({
            "minN": 50,
            "targets": {"nps": 40, "csat": 85.5},
            "benchmarks": [{"metric": "nps", "name": "Retail 2025", "score": 32, "source": "published survey"}]
        }))
        .unwrap();
        assert_eq!(settings.figure_options(), FigureOptions { min_n: 50, satisfied_from: 4 });
        assert_eq!(settings.target(Metric::Nps), Some(40.0));
        assert_eq!(settings.benchmarks(Metric::Nps).count(), 1);
        assert_eq!(settings.benchmarks(Metric::Csat).count(), 0);
        assert_eq!(parse_settings(&json!({})).unwrap(), MetricSettings::defaults());
        let churn = parse_settings(&json!({"churn": {"activeEvents": ["Subscription Started", "Order Completed"],
                                                     "cancelEvents": ["Subscription Cancelled"]}}))
        .unwrap();
        assert_eq!(churn.churn.unwrap().cancel_events, ["Subscription Cancelled"]);
        let roles =
            parse_settings(&json!({"accountRoles": {"trait": "jobRole", "weights": {"decision_maker": 3}}})).unwrap();
        assert_eq!(roles.account_roles.trait_key, "jobRole");
        assert_eq!((roles.account_roles.weight(Some("decision_maker")), roles.account_roles.weight(None)), (3.0, 1.0));
    }

    #[test]
    fn bad_settings_name_every_field() {
        let problems = parse_settings(&json!({
            "minN": 0,
            "satisfiedFrom": 6,
            "targets": {"nps": 140, "happiness": 3},
            "benchmarks": [{"metric": "csat", "name": "", "score": "high"}],
            "churn": {"activeEvents": [], "cancelEvents": ["Cancelled"], "after": 3},
            "accountRoles": {"weights": {"boss": -1}},
            "colour": "red"
        }))
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "accountRoles.weights.boss",
                "benchmarks[0].name",
                "benchmarks[0].score",
                "churn.activeEvents",
                "churn.after",
                "colour",
                "minN",
                "satisfiedFrom",
                "targets.happiness",
                "targets.nps"
            ]
        );
    }
}
