//! A journey as a CX team draws it: ordered stages, and touchpoints mapped to a stage by event
//! name, channel and property conditions. `parse` checks a definition whole (every problem with
//! its field); `Matcher` maps one stored event to the touchpoint it is, once per event.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::problem::FieldProblem;

/// The stages a journey has when its definition names none.
pub const DEFAULT_STAGES: [&str; 5] = ["awareness", "consideration", "decision", "adoption", "advocacy"];
/// A visit not followed by a later touchpoint within this window counts as a drop-off after it.
pub const DEFAULT_STEP_WINDOW_HOURS: i64 = 24;
/// Touchpoints a journey may have (a customer's touchpoints seen so far fit one 128-bit set).
pub const MAX_TOUCHPOINTS: usize = 128;
const MAX_STAGES: usize = 12;

/// How a property condition compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    Equals(Value),
    NotEquals(Value),
    OneOf(Vec<Value>),
    Exists(bool),
    AtLeast(f64),
    AtMost(f64),
    Contains(String),
}

/// One condition on an event's properties; `property` is a dotted path (`product.category`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub property: String,
    pub comparison: Comparison,
}

impl Condition {
    fn holds(&self, properties: &Value) -> bool {
        let found = self.property.split('.').try_fold(properties, |value, key| value.get(key));
        match (&self.comparison, found) {
            (Comparison::Exists(wanted), found) => found.is_some_and(|v| !v.is_null()) == *wanted,
            (Comparison::NotEquals(value), found) => found != Some(value),
            (_, None) => false,
            (Comparison::Equals(value), Some(found)) => found == value,
            (Comparison::OneOf(values), Some(found)) => values.contains(found),
            (Comparison::AtLeast(bound), Some(found)) => number(found).is_some_and(|n| n >= *bound),
            (Comparison::AtMost(bound), Some(found)) => number(found).is_some_and(|n| n <= *bound),
            (Comparison::Contains(part), Some(found)) => {
                found.as_str().is_some_and(|text| text.contains(part.as_str()))
            }
        }
    }

    fn to_json(&self) -> Value {
        let (op, value) = match &self.comparison {
            Comparison::Equals(value) => ("equals", value.clone()),
            Comparison::NotEquals(value) => ("notEquals", value.clone()),
            Comparison::OneOf(values) => ("oneOf", Value::from(values.clone())),
            Comparison::Exists(wanted) => ("exists", Value::from(*wanted)),
            Comparison::AtLeast(bound) => ("atLeast", Value::from(*bound)),
            Comparison::AtMost(bound) => ("atMost", Value::from(*bound)),
            Comparison::Contains(part) => ("contains", Value::from(part.clone())),
        };
        json!({"property": self.property, op: value})
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A touchpoint: the events that are it, and the stage it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Touchpoint {
    /// Stable key (`checkout_app`), unique in the journey.
    pub key: String,
    /// What people read (`Checkout in the app`).
    pub name: String,
    /// Index into the journey's stages.
    pub stage: usize,
    /// The event (track) or page/screen name that is this touchpoint.
    pub event: String,
    /// Only events from this channel (`context.channel`), when given.
    pub channel: Option<String>,
    pub conditions: Vec<Condition>,
    /// The `touchpoint` that survey responses and feedback about it carry (default: `key`); with
    /// `channel`, only those from that channel count.
    pub feedback_touchpoint: String,
}

/// A journey definition, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    pub name: String,
    pub description: String,
    pub stages: Vec<String>,
    /// In journey order: by stage, then as listed.
    pub touchpoints: Vec<Touchpoint>,
    /// The touchpoint that completes the journey (a purchase, a resolved ticket).
    pub goal: usize,
    pub step_window_ms: i64,
}

const FIELDS: [&str; 6] = ["name", "description", "stages", "touchpoints", "goal", "stepWindowHours"];
const TOUCHPOINT_FIELDS: [&str; 7] = ["key", "name", "stage", "event", "channel", "conditions", "feedbackTouchpoint"];
const OPERATORS: [&str; 7] = ["equals", "notEquals", "oneOf", "exists", "atLeast", "atMost", "contains"];

fn text(value: Option<&Value>, field: &str, max: usize, problems: &mut Vec<FieldProblem>) -> Option<String> {
    match value {
        Some(Value::String(text)) if !text.trim().is_empty() && text.chars().count() <= max => {
            Some(text.trim().to_owned())
        }
        Some(Value::String(text)) if !text.trim().is_empty() => {
            problems.push(FieldProblem::envelope(field, &format!("must be at most {max} characters")));
            None
        }
        None | Some(Value::Null) => None,
        Some(_) => {
            problems.push(FieldProblem::envelope(field, "must be a non-empty string"));
            None
        }
    }
}

fn unknown_fields(object: &Map<String, Value>, known: &[&str], at: &str, problems: &mut Vec<FieldProblem>) {
    for key in object.keys().filter(|key| !known.contains(&key.as_str())) {
        let field = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
        problems.push(FieldProblem::envelope(&field, &format!("unknown field: expected one of {}", known.join(", "))));
    }
}

fn condition(value: &Value, at: &str, problems: &mut Vec<FieldProblem>) -> Option<Condition> {
    let Some(object) = value.as_object() else {
        problems.push(FieldProblem::envelope(
            at,
            "must be an object such as {\"property\": \"plan\", \"equals\": \"plus\"}",
        ));
        return None;
    };
    let property = text(object.get("property"), &format!("{at}.property"), 200, problems);
    if property.is_none() && !object.contains_key("property") {
        problems.push(FieldProblem::envelope(&format!("{at}.property"), "is required"));
    }
    let operators: Vec<&str> = OPERATORS.iter().copied().filter(|op| object.contains_key(*op)).collect();
    let mut known = vec!["property"];
    known.extend(OPERATORS);
    unknown_fields(object, &known, at, problems);
    let [op] = operators.as_slice() else {
        problems.push(FieldProblem::envelope(at, &format!("must have exactly one of {}", OPERATORS.join(", "))));
        return None;
    };
    let field = format!("{at}.{op}");
    let value = &object[*op];
    let comparison = match *op {
        "equals" => Comparison::Equals(value.clone()),
        "notEquals" => Comparison::NotEquals(value.clone()),
        "oneOf" => match value.as_array() {
            Some(values) if !values.is_empty() => Comparison::OneOf(values.clone()),
            _ => {
                problems.push(FieldProblem::envelope(&field, "must be a non-empty array"));
                return None;
            }
        },
        "exists" => match value.as_bool() {
            Some(wanted) => Comparison::Exists(wanted),
            None => {
                problems.push(FieldProblem::envelope(&field, "must be true or false"));
                return None;
            }
        },
        "atLeast" | "atMost" => match value.as_f64() {
            Some(bound) if *op == "atLeast" => Comparison::AtLeast(bound),
            Some(bound) => Comparison::AtMost(bound),
            None => {
                problems.push(FieldProblem::envelope(&field, "must be a number"));
                return None;
            }
        },
        _ => match value.as_str() {
            Some(part) if !part.is_empty() => Comparison::Contains(part.to_owned()),
            _ => {
                problems.push(FieldProblem::envelope(&field, "must be a non-empty string"));
                return None;
            }
        },
    };
    Some(Condition { property: property?, comparison })
}

fn stages(value: Option<&Value>, problems: &mut Vec<FieldProblem>) -> Vec<String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return DEFAULT_STAGES.iter().map(|s| (*s).to_owned()).collect();
    };
    let Some(items) = value.as_array().filter(|items| (1..=MAX_STAGES).contains(&items.len())) else {
        problems.push(FieldProblem::envelope("stages", &format!("must be an array of 1 to {MAX_STAGES} stage names")));
        return Vec::new();
    };
    let mut stages: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("stages[{i}]");
        match text(Some(item), &field, 80, problems) {
            Some(stage) if stages.contains(&stage) => problems.push(FieldProblem::envelope(&field, "repeats a stage")),
            Some(stage) => stages.push(stage),
            None => {}
        }
    }
    stages
}

fn touchpoint(value: &Value, at: &str, stages: &[String], problems: &mut Vec<FieldProblem>) -> Option<Touchpoint> {
    let Some(object) = value.as_object() else {
        problems.push(FieldProblem::envelope(at, "must be an object with key, stage and event"));
        return None;
    };
    unknown_fields(object, &TOUCHPOINT_FIELDS, at, problems);
    let before = problems.len();
    let key = text(object.get("key"), &format!("{at}.key"), 80, problems);
    if key.as_ref().is_some_and(|key| !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        problems.push(FieldProblem::envelope(&format!("{at}.key"), "may hold only letters, digits, _ and -"));
    }
    let event = text(object.get("event"), &format!("{at}.event"), 200, problems);
    for (field, found) in [("key", &key), ("event", &event)] {
        if found.is_none() && object.get(field).is_none_or(Value::is_null) {
            problems.push(FieldProblem::envelope(&format!("{at}.{field}"), "is required"));
        }
    }
    let stage_name = text(object.get("stage"), &format!("{at}.stage"), 80, problems);
    let stage = match stage_name {
        Some(name) => match stages.iter().position(|s| *s == name) {
            Some(stage) => Some(stage),
            None => {
                let expected = stages.join(", ");
                problems.push(FieldProblem::envelope(&format!("{at}.stage"), &format!("must be one of {expected}")));
                None
            }
        },
        None => {
            if object.get("stage").is_none_or(Value::is_null) {
                problems.push(FieldProblem::envelope(&format!("{at}.stage"), "is required"));
            }
            None
        }
    };
    let name = text(object.get("name"), &format!("{at}.name"), 200, problems);
    let channel = text(object.get("channel"), &format!("{at}.channel"), 80, problems);
    let feedback = text(object.get("feedbackTouchpoint"), &format!("{at}.feedbackTouchpoint"), 200, problems);
    let mut conditions = Vec::new();
    match object.get("conditions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                conditions.extend(condition(item, &format!("{at}.conditions[{i}]"), problems));
            }
        }
        Some(_) => problems.push(FieldProblem::envelope(&format!("{at}.conditions"), "must be an array")),
    }
    if problems.len() > before {
        return None;
    }
    let key = key?;
    Some(Touchpoint {
        name: name.unwrap_or_else(|| key.clone()),
        feedback_touchpoint: feedback.unwrap_or_else(|| key.clone()),
        key,
        stage: stage?,
        event: event?,
        channel,
        conditions,
    })
}

/// Checks a journey definition whole; every problem names its field.
pub fn parse(value: &Value) -> Result<Journey, Vec<FieldProblem>> {
    let Some(object) = value.as_object() else {
        return Err(vec![FieldProblem::envelope("", "a journey must be a JSON object")]);
    };
    let mut problems = Vec::new();
    unknown_fields(object, &FIELDS, "", &mut problems);
    let name = text(object.get("name"), "name", 200, &mut problems);
    if name.is_none() && object.get("name").is_none_or(Value::is_null) {
        problems.push(FieldProblem::envelope("name", "is required"));
    }
    let description = match object.get("description") {
        Some(Value::String(empty)) if empty.trim().is_empty() => String::new(),
        found => text(found, "description", 2000, &mut problems).unwrap_or_default(),
    };
    let stages = stages(object.get("stages"), &mut problems);
    let mut touchpoints: Vec<Touchpoint> = Vec::new();
    match object.get("touchpoints").and_then(Value::as_array) {
        Some(items) if (1..=MAX_TOUCHPOINTS).contains(&items.len()) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("touchpoints[{i}]");
                if let Some(found) = touchpoint(item, &at, &stages, &mut problems) {
                    if touchpoints.iter().any(|t| t.key == found.key) {
                        problems.push(FieldProblem::envelope(&format!("{at}.key"), "repeats another touchpoint's key"));
                    } else {
                        touchpoints.push(found);
                    }
                }
            }
        }
        _ => problems.push(FieldProblem::envelope(
            "touchpoints",
            &format!("must be an array of 1 to {MAX_TOUCHPOINTS} touchpoints"),
        )),
    }
    // Journey order: by stage, then as listed (a stable sort keeps the listed order within a stage).
    touchpoints.sort_by_key(|t| t.stage);
    let goal = match object.get("goal") {
        None | Some(Value::Null) => {
            touchpoints.iter().position(|t| Some(t.stage) == touchpoints.last().map(|l| l.stage))
        }
        Some(Value::String(key)) => {
            let found = touchpoints.iter().position(|t| t.key == *key);
            if found.is_none() {
                problems.push(FieldProblem::envelope("goal", "must be the key of one of the touchpoints"));
            }
            found
        }
        Some(_) => {
            problems.push(FieldProblem::envelope("goal", "must be a touchpoint's key"));
            None
        }
    };
    let step_window_ms = match object.get("stepWindowHours") {
        None | Some(Value::Null) => DEFAULT_STEP_WINDOW_HOURS * 3_600_000,
        Some(value) => match value.as_f64() {
            Some(hours) if hours > 0.0 && hours <= 24.0 * 90.0 => (hours * 3_600_000.0).round() as i64,
            _ => {
                problems
                    .push(FieldProblem::envelope("stepWindowHours", "must be a number of hours above 0, at most 2160"));
                0
            }
        },
    };
    match (problems.is_empty(), name, goal) {
        (true, Some(name), Some(goal)) => Ok(Journey { name, description, stages, touchpoints, goal, step_window_ms }),
        _ => Err(problems),
    }
}

impl Journey {
    /// The definition as the API shows it (what `parse` takes back).
    pub fn to_json(&self) -> Value {
        let touchpoints: Vec<Value> = self
            .touchpoints
            .iter()
            .map(|t| {
                let mut out = json!({"key": t.key, "name": t.name, "stage": self.stages[t.stage], "event": t.event,
                    "feedbackTouchpoint": t.feedback_touchpoint});
                if let Some(channel) = &t.channel {
                    out["channel"] = Value::from(channel.clone());
                }
                if !t.conditions.is_empty() {
                    out["conditions"] = t.conditions.iter().map(Condition::to_json).collect();
                }
                out
            })
            .collect();
        json!({"name": self.name, "description": self.description, "stages": self.stages,
            "touchpoints": touchpoints, "goal": self.touchpoints[self.goal].key,
            "stepWindowHours": self.step_window_ms as f64 / 3_600_000.0})
    }

    /// The event names any touchpoint is made of (what the store needs to read).
    pub fn event_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.touchpoints.iter().map(|t| t.event.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn matcher(&self) -> Matcher<'_> {
        let mut by_event: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, t) in self.touchpoints.iter().enumerate() {
            by_event.entry(t.event.as_str()).or_default().push(i);
        }
        Matcher { journey: self, by_event }
    }

    /// The touchpoint that survey answers and feedback labelled (`touchpoint`, `channel`) are
    /// about: the first whose feedback touchpoint is the label and whose channel, if it has one,
    /// is the item's.
    pub fn feedback_touchpoint(&self, touchpoint: &str, channel: Option<&str>) -> Option<usize> {
        self.touchpoints.iter().position(|t| {
            t.feedback_touchpoint == touchpoint && t.channel.as_deref().is_none_or(|wanted| Some(wanted) == channel)
        })
    }
}

/// Maps events to touchpoints: the first touchpoint (in journey order) whose event, channel and
/// conditions all match.
pub struct Matcher<'a> {
    journey: &'a Journey,
    by_event: HashMap<&'a str, Vec<usize>>,
}

impl Matcher<'_> {
    pub fn touchpoint(&self, event: &str, channel: &str, properties: &Value) -> Option<usize> {
        self.by_event.get(event)?.iter().copied().find(|&i| {
            let t = &self.journey.touchpoints[i];
            t.channel.as_deref().is_none_or(|wanted| wanted == channel)
                && t.conditions.iter().all(|c| c.holds(properties))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase() -> Value {
        json!({"name": "Purchase", "touchpoints": [
            {"key": "order", "stage": "adoption", "event": "Order Completed"},
            {"key": "ad", "stage": "awareness", "event": "Ad Clicked", "conditions": [{"property": "source", "oneOf": ["google", "bing"]}]},
            {"key": "checkout_app", "name": "Checkout (app)", "stage": "decision", "event": "Checkout Started", "channel": "mobile", "feedbackTouchpoint": "checkout"},
            {"key": "checkout_web", "stage": "decision", "event": "Checkout Started", "feedbackTouchpoint": "checkout"},
            {"key": "big_order", "stage": "adoption", "event": "Order Completed", "conditions": [{"property": "order.revenue", "atLeast": 100}]}
        ]})
    }

    #[test]
    fn a_definition_is_put_in_journey_order_with_defaults() {
        let journey = parse(&purchase()).unwrap();
        let keys: Vec<&str> = journey.touchpoints.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["ad", "checkout_app", "checkout_web", "order", "big_order"]);
        assert_eq!(journey.stages.len(), 5);
        assert_eq!(journey.touchpoints[journey.goal].key, "order", "the goal defaults to the last stage's first");
        assert_eq!(journey.step_window_ms, 24 * 3_600_000);
        assert_eq!(journey.touchpoints[1].name, "Checkout (app)");
        assert_eq!(journey.touchpoints[2].name, "checkout_web");
        assert_eq!(parse(&journey.to_json()).unwrap(), journey, "what the API shows parses back to the same journey");
    }

    #[test]
    fn events_match_by_name_channel_and_conditions() {
        let journey = parse(&purchase()).unwrap();
        let matcher = journey.matcher();
        let at = |event: &str, channel: &str, properties: Value| {
            matcher.touchpoint(event, channel, &properties).map(|i| journey.touchpoints[i].key.clone())
        };
        assert_eq!(at("Checkout Started", "mobile", json!({})).as_deref(), Some("checkout_app"));
        assert_eq!(at("Checkout Started", "web", json!({})).as_deref(), Some("checkout_web"));
        assert_eq!(at("Ad Clicked", "web", json!({"source": "google"})).as_deref(), Some("ad"));
        assert_eq!(at("Ad Clicked", "web", json!({"source": "tiktok"})), None);
        assert_eq!(at("Ad Clicked", "web", json!({})), None);
        assert_eq!(at("Order Completed", "web", json!({"order": {"revenue": 150}})).as_deref(), Some("order"));
        assert_eq!(at("Signed In", "web", json!({})), None);
        assert_eq!(journey.event_names(), ["Ad Clicked", "Checkout Started", "Order Completed"]);
        assert_eq!(journey.feedback_touchpoint("checkout", Some("mobile")), Some(1));
        assert_eq!(journey.feedback_touchpoint("checkout", Some("web")), Some(2));
        assert_eq!(journey.feedback_touchpoint("checkout", None), Some(2));
        assert_eq!(journey.feedback_touchpoint("delivery", None), None);
    }

    #[test]
    fn conditions_compare_as_documented() {
        let holds = |condition: Value, properties: Value| {
            let mut problems = Vec::new();
            let condition = super::condition(&condition, "c", &mut problems).unwrap();
            condition.holds(&properties)
        };
        assert!(holds(json!({"property": "plan", "equals": "plus"}), json!({"plan": "plus"})));
        assert!(holds(json!({"property": "plan", "notEquals": "plus"}), json!({})));
        assert!(holds(json!({"property": "plan", "exists": false}), json!({"plan": null})));
        assert!(holds(json!({"property": "n", "atMost": 3}), json!({"n": "2"})));
        assert!(!holds(json!({"property": "n", "atMost": 3}), json!({"n": "many"})));
        assert!(holds(json!({"property": "path", "contains": "/help"}), json!({"path": "/help/cancel"})));
    }

    #[test]
    fn every_problem_names_its_field() {
        let problems = parse(&json!({"stages": ["a", "a"], "touchpoints": [
            {"key": "x y", "stage": "z", "event": ""},
            {"key": "b", "stage": "a", "event": "E", "conditions": [{"property": "p"}, {"property": "q", "atLeast": "1"}], "colour": 1}
        ], "goal": "nope", "stepWindowHours": 0}))
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for field in [
            "name",
            "stages[1]",
            "touchpoints[0].key",
            "touchpoints[0].event",
            "touchpoints[0].stage",
            "touchpoints[1].colour",
            "touchpoints[1].conditions[0]",
            "touchpoints[1].conditions[1].atLeast",
            "goal",
            "stepWindowHours",
        ] {
            assert!(fields.contains(&field), "{field} missing from {fields:?}");
        }
        assert_eq!(parse(&json!([])).unwrap_err()[0].problem, "a journey must be a JSON object");
        assert!(parse(&json!({"name": "x", "touchpoints": []})).unwrap_err()[0].field == "touchpoints");
    }
}
