//! When and how a survey goes out: its trigger (an event, conditions on the event, a delay), the
//! channel, and the contact rules it adds to the workspace's policy. Part of a survey definition
//! (`delivery`), checked with it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::contact_policy::{ContactPolicy, DAY_MS, SurveyContactRules, parse_policy};
use crate::event::Event;
use crate::problem::FieldProblem;

/// Channels an invitation can go out on. A `widget` survey is shown by the website or in-app
/// widget when it asks whether its visitor should see one (`POST /v1/widget/eligibility`); `sms`
/// and `chat` go through the configured messaging provider to the customer's phone number.
pub const INVITATION_CHANNELS: [&str; 5] = ["email", "link", "widget", "sms", "chat"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// The track event's name, e.g. `Order Delivered`.
    pub event: String,
    /// Dotted paths into the event (`properties.channel`, `context.locale`) or the customer's
    /// traits as they are after the event (`traits.plan`), and the value each must equal.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub r#where: Map<String, Value>,
    /// Minutes between the event and the invitation.
    #[serde(default)]
    pub delay_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// `email` (sent to the customer's `email` trait) or `link` (a hosted link, handed out by API).
    pub channel: String,
    /// Share of customers asked, 0 to 1 (default 1).
    #[serde(default = "one")]
    pub sample_rate: f64,
    /// The survey is not sent again to a customer within this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_again_within_days: Option<u32>,
    /// Replaces the workspace's contact policy for this survey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<ContactPolicy>,
    /// Relational surveys: every this many days per customer (default 90: quarterly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cadence_days: Option<u32>,
    /// One reminder this many days after an unanswered e-mail invitation (1 to 13: links work
    /// for 14 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_after_days: Option<u32>,
}

fn one() -> f64 {
    1.0
}

/// How often a relational survey goes out per customer unless `cadenceDays` says otherwise.
pub const DEFAULT_CADENCE_DAYS: u32 = 90;

/// A relational survey's invitation for one customer in the cadence period holding `now_ms`: its
/// idempotency id (one per survey, customer and period) and when it is due. Customers are spread
/// over the period by a hash of customer and survey, so a quarterly NPS goes out evenly, not to
/// everyone on the first day.
pub fn cadence_invitation(survey_id: &str, customer_id: &str, cadence_days: u32, now_ms: i64) -> (String, i64) {
    let period_ms = i64::from(cadence_days.max(1)) * DAY_MS;
    let period = now_ms.div_euclid(period_ms);
    let spread = crate::contact_policy::sample_point(customer_id, &format!("{survey_id}/cadence"));
    let due_at_ms = period * period_ms + (spread * period_ms as f64) as i64;
    (format!("cadence:{period}:{customer_id}"), due_at_ms)
}

impl Delivery {
    /// The contact rules this delivery adds for `survey_id`.
    pub fn contact_rules(&self, survey_id: &str) -> SurveyContactRules {
        SurveyContactRules {
            survey_id: survey_id.to_owned(),
            not_again_within_days: self.not_again_within_days,
            sample_rate: self.sample_rate,
            policy_override: self.policy,
        }
    }
}

impl Trigger {
    /// Whether `event` fires this trigger as far as the event itself tells: a track call of that
    /// name whose `properties.` and `context.` fields equal their conditions (a missing field
    /// never equals). Conditions on `traits.` are checked by [`Trigger::matches_traits`].
    pub fn matches(&self, event: &Event) -> bool {
        event.event_type == crate::event::EventType::Track
            && event.name.as_deref() == Some(self.event.as_str())
            && self.r#where.iter().filter(|(path, _)| !path.starts_with("traits.")).all(|(path, expected)| {
                let mut parts = path.split('.');
                let root = match parts.next() {
                    Some("properties") => &event.properties,
                    Some("context") => &event.context,
                    _ => return false,
                };
                lookup(root, parts) == Some(expected)
            })
    }

    /// Whether the trigger has conditions on the customer's traits.
    pub fn has_trait_conditions(&self) -> bool {
        self.r#where.keys().any(|path| path.starts_with("traits."))
    }

    /// Whether the customer's current `traits` meet every `traits.` condition.
    pub fn matches_traits(&self, traits: &Map<String, Value>) -> bool {
        self.r#where
            .iter()
            .filter_map(|(path, expected)| path.strip_prefix("traits.").map(|path| (path, expected)))
            .all(|(path, expected)| lookup(traits, path.split('.')) == Some(expected))
    }
}

fn lookup<'a, 'p>(root: &'a Map<String, Value>, mut parts: impl Iterator<Item = &'p str>) -> Option<&'a Value> {
    let mut value = root.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}

/// An optional whole number in `range` (ranges here end well inside `u32`).
pub(crate) fn whole_number(
    object: &Map<String, Value>,
    field: &str,
    path: &str,
    range: std::ops::RangeInclusive<u32>,
    problems: &mut Vec<FieldProblem>,
) -> Option<u32> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_u64().and_then(|number| u32::try_from(number).ok()).filter(|n| range.contains(n))
        {
            Some(number) => Some(number),
            None => {
                let at = if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") };
                problems.push(FieldProblem::envelope(
                    &at,
                    &format!("must be a whole number from {} to {}", range.start(), range.end()),
                ));
                None
            }
        },
    }
}

/// Checks the `delivery` section of a survey definition.
pub fn parse_delivery(value: &Value, problems: &mut Vec<FieldProblem>) -> Option<Delivery> {
    let path = "delivery";
    let Some(object) = value.as_object() else {
        problems.push(FieldProblem::envelope(path, "must be an object"));
        return None;
    };
    let before = problems.len();
    for key in object.keys() {
        const KNOWN: [&str; 7] =
            ["trigger", "channel", "sampleRate", "notAgainWithinDays", "policy", "reminderAfterDays", "cadenceDays"];
        if !KNOWN.contains(&key.as_str()) {
            problems.push(FieldProblem::envelope(
                &format!("{path}.{key}"),
                &format!("unknown field: expected {}", KNOWN.join(", ")),
            ));
        }
    }
    let channel = match object.get("channel") {
        Some(Value::String(channel)) if INVITATION_CHANNELS.contains(&channel.as_str()) => channel.clone(),
        _ => {
            problems.push(FieldProblem::envelope(
                &format!("{path}.channel"),
                &format!("required: one of {}", INVITATION_CHANNELS.join(", ")),
            ));
            String::new()
        }
    };
    let sample_rate = match object.get("sampleRate") {
        None | Some(Value::Null) => 1.0,
        Some(value) => match value.as_f64().filter(|rate| (0.0..=1.0).contains(rate)) {
            Some(rate) => rate,
            None => {
                problems.push(FieldProblem::envelope(&format!("{path}.sampleRate"), "must be a number from 0 to 1"));
                1.0
            }
        },
    };
    let not_again_within_days = whole_number(object, "notAgainWithinDays", path, 0..=3_650, problems);
    let cadence_days = whole_number(object, "cadenceDays", path, 1..=3_650, problems);
    // Survey links work for 14 days: a later reminder would carry a dead link.
    let reminder_after_days = whole_number(object, "reminderAfterDays", path, 1..=13, problems);
    let trigger = match object.get("trigger") {
        None | Some(Value::Null) => None,
        Some(trigger) => parse_trigger(trigger, &format!("{path}.trigger"), problems),
    };
    let policy = match object.get("policy") {
        None | Some(Value::Null) => None,
        Some(policy) => parse_policy(policy, &format!("{path}.policy"), true, problems),
    };
    if channel == "widget" {
        // The widget asks when its page loads: nothing is sent, so nothing triggers, recurs or reminds.
        for (field, present) in [
            ("trigger", trigger.is_some()),
            ("cadenceDays", cadence_days.is_some()),
            ("reminderAfterDays", reminder_after_days.is_some()),
        ] {
            if present {
                problems.push(FieldProblem::envelope(
                    &format!("{path}.{field}"),
                    "a widget survey is shown when the widget asks (POST /v1/widget/eligibility), not sent: leave it out",
                ));
            }
        }
    }
    (problems.len() == before).then_some(Delivery {
        trigger,
        channel,
        sample_rate,
        not_again_within_days,
        policy,
        cadence_days,
        reminder_after_days,
    })
}

fn parse_trigger(value: &Value, path: &str, problems: &mut Vec<FieldProblem>) -> Option<Trigger> {
    let Some(object) = value.as_object() else {
        problems
            .push(FieldProblem::envelope(path, "must be an object: {\"event\": …, \"where\": …, \"delayMinutes\": …}"));
        return None;
    };
    let before = problems.len();
    let event = match object.get("event") {
        Some(Value::String(event)) if !event.trim().is_empty() => event.trim().to_owned(),
        _ => {
            problems.push(FieldProblem::envelope(&format!("{path}.event"), "required: the track event's name"));
            String::new()
        }
    };
    let conditions = match object.get("where") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(conditions)) => {
            for (field, expected) in conditions {
                let rooted = ["properties.", "context.", "traits."].iter().any(|root| field.starts_with(root));
                if !rooted || field.split('.').any(str::is_empty) {
                    problems.push(FieldProblem::envelope(
                        &format!("{path}.where.{field}"),
                        "a condition names a field under properties., context. or traits. (the customer's)",
                    ));
                } else if expected.is_array() || expected.is_object() {
                    problems.push(FieldProblem::envelope(
                        &format!("{path}.where.{field}"),
                        "must equal a string, number, boolean or null",
                    ));
                }
            }
            conditions.clone()
        }
        Some(_) => {
            problems.push(FieldProblem::envelope(&format!("{path}.where"), "must be an object of field → value"));
            Map::new()
        }
    };
    let delay_minutes = whole_number(object, "delayMinutes", path, 0..=525_600, problems).unwrap_or_default();
    (problems.len() == before).then_some(Trigger { event, r#where: conditions, delay_minutes })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::event::{BatchEnvelope, parse_event};

    fn event(value: Value) -> Event {
        parse_event(&value, 0, None, &BatchEnvelope::default(), datetime!(2026-01-01 00:00 UTC)).unwrap().0
    }

    #[test]
    fn a_trigger_fires_on_its_event_when_every_condition_holds() {
        let mut problems = Vec::new();
        let delivery = parse_delivery(
            &json!({"channel": "email", "sampleRate": 0.5, "notAgainWithinDays": 90,
                    "trigger": {"event": "Order Delivered", "where": {"properties.channel": "store", "context.app.name": "pos"}, "delayMinutes": 60}}),
            &mut problems,
        )
        .expect("valid delivery");
        assert!(problems.is_empty());
        let trigger = delivery.trigger.as_ref().unwrap();
        let delivered = |channel: &str| {
            json!({"type": "track", "userId": "u1", "event": "Order Delivered", "properties": {"channel": channel},
                   "context": {"app": {"name": "pos"}}})
        };
        assert!(trigger.matches(&event(delivered("store"))));
        assert!(!trigger.matches(&event(delivered("web"))));
        let mut other = delivered("store");
        other["event"] = json!("Order Shipped");
        assert!(!trigger.matches(&event(other)));
        let mut no_app = delivered("store");
        no_app["context"] = json!({});
        assert!(!trigger.matches(&event(no_app)), "a missing field never equals");
        assert_eq!(delivery.contact_rules("s1").sample_rate, 0.5);
    }

    #[test]
    fn a_bad_delivery_names_each_field() {
        let mut problems = Vec::new();
        let delivery = parse_delivery(
            &json!({"channel": "fax", "sampleRate": 2, "trigger": {"where": {"user.plan": "pro", "properties.tags": ["a"]}, "delayMinutes": -5},
                    "policy": {"maxInvitations": 1}, "speed": "fast"}),
            &mut problems,
        );
        assert!(delivery.is_none());
        let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "delivery.speed",
                "delivery.channel",
                "delivery.sampleRate",
                "delivery.trigger.event",
                "delivery.trigger.where.properties.tags",
                "delivery.trigger.where.user.plan",
                "delivery.trigger.delayMinutes",
                "delivery.policy.windowDays",
                "delivery.policy.minDaysBetween",
                "delivery.policy.cooldownAfterResponseDays"
            ]
        );
    }

    #[test]
    fn a_cadence_invites_each_customer_once_per_period_spread_over_it() {
        let quarter = 90 * DAY_MS;
        let now = 1_000 * DAY_MS + 5;
        let (id, due) = cadence_invitation("nps", "c1", 90, now);
        assert_eq!(
            cadence_invitation("nps", "c1", 90, now + DAY_MS),
            (id.clone(), due),
            "same period, same invitation"
        );
        let period_start = now.div_euclid(quarter) * quarter;
        assert!((period_start..period_start + quarter).contains(&due));
        let (next, next_due) = cadence_invitation("nps", "c1", 90, now + quarter);
        assert_ne!(next, id);
        assert_eq!(next_due - due, quarter, "the same point of every period");
        // 1,000 customers spread across the period: each tenth of it holds 70 to 130 of them.
        let mut tenths = [0_u32; 10];
        for customer in 0..1_000 {
            let (_, due) = cadence_invitation("nps", &format!("c{customer}"), 90, now);
            tenths[((due - period_start) * 10 / quarter) as usize] += 1;
        }
        assert!(tenths.iter().all(|count| (70..=130).contains(count)), "{tenths:?}");
    }
}
