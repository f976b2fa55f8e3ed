//! Follow-up cases, the pure half: the states a case moves through, the workspace's case settings
//! (rules that open cases from responses, teams and who is away, the SLA policy and its business
//! calendar, escalation, root-cause codes), and the decisions over them (which rule a response
//! meets, who is next in a team, when a case is due).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::business_hours::{Calendar, CalendarSpec};
use crate::problem::FieldProblem;

pub const STATES: [&str; 6] = ["new", "open", "in_progress", "waiting_on_customer", "resolved", "closed"];
pub const PRIORITIES: [&str; 4] = ["urgent", "high", "normal", "low"];

/// Whether a case may go from `from` to `to`: forward through the states (skipping is allowed),
/// back and forth between in progress and waiting on the customer, and reopening a resolved or
/// closed case.
pub fn may_move(from: &str, to: &str) -> bool {
    let rank = |state: &str| STATES.iter().position(|s| *s == state);
    match (from, to) {
        (_, _) if from == to => false,
        ("resolved" | "closed", "open") => true,
        ("waiting_on_customer", "in_progress") => true,
        ("closed", _) => false,
        _ => matches!((rank(from), rank(to)), (Some(a), Some(b)) if b > a),
    }
}

/// First-response and resolution targets of one priority, in business minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlaTarget {
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
}

/// A rule: when a response meets its conditions, open a case (one open case per customer and
/// rule) with this priority, assigned in this team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseRule {
    pub id: String,
    pub name: String,
    /// A question id and its score range, both ends included: `{"question": "nps", "max": 6}`.
    pub question: String,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    /// Only responses to this survey (any survey when absent).
    #[serde(default)]
    pub survey: Option<String>,
    pub priority: String,
    /// The team whose members take turns (round-robin)…
    pub team: String,
    /// …unless the case goes to one person (who must be a member of the team).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Also: the response's comments have this sentiment label (`negative`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<String>,
    /// Also: its comments mention one of these topics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Also: the customer's traits have one of these values (`{"plan": ["enterprise"]}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub traits: BTreeMap<String, Vec<String>>,
}

/// A rule that opens a case when a spike alert is raised (on one of `topics`, or any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub topics: Vec<String>,
    pub priority: String,
    pub team: String,
}

/// A rule that opens a retention case when a customer is newly flagged at risk of churn (with at
/// least `minProbability`, when given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChurnRule {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub min_probability: Option<f64>,
    pub priority: String,
    pub team: String,
}

/// What rules read about a response besides its scores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseFacts {
    /// The sentiment labels of its comments.
    pub sentiments: Vec<String>,
    /// The topics its comments mention.
    pub topics: Vec<String>,
    /// The customer's traits, as text.
    pub traits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Team {
    pub members: Vec<String>,
    /// Members who are away: round-robin skips them.
    #[serde(default)]
    pub away: Vec<String>,
}

/// A workspace's case settings (`GET/PUT /v1/cases/settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseSettings {
    pub rules: Vec<CaseRule>,
    #[serde(default)]
    pub alert_rules: Vec<AlertRule>,
    #[serde(default)]
    pub churn_rules: Vec<ChurnRule>,
    pub teams: BTreeMap<String, Team>,
    pub calendar: CalendarSpec,
    pub sla: BTreeMap<String, SlaTarget>,
    /// A case untouched this many business minutes past a target is escalated (to `escalateTo`).
    pub escalate_after_minutes: i64,
    #[serde(default)]
    pub escalate_to: Option<String>,
    /// The codes a case may be closed with.
    pub root_causes: Vec<String>,
}

impl Default for CaseSettings {
    fn default() -> Self {
        let sla = [("urgent", 60, 480), ("high", 240, 1_440), ("normal", 480, 2_880), ("low", 1_440, 7_200)]
            .into_iter()
            .map(|(p, first, resolution)| {
                (p.to_owned(), SlaTarget { first_response_minutes: first, resolution_minutes: resolution })
            })
            .collect();
        CaseSettings {
            rules: Vec::new(),
            alert_rules: Vec::new(),
            churn_rules: Vec::new(),
            teams: BTreeMap::new(),
            calendar: CalendarSpec::default(),
            sla,
            escalate_after_minutes: 120,
            escalate_to: None,
            root_causes: ["delivery", "product_defect", "billing_error", "support_process", "pricing", "other"]
                .map(str::to_owned)
                .to_vec(),
        }
    }
}

impl CaseSettings {
    /// Checks settings as sent; every problem names its field.
    pub fn parse(value: &serde_json::Value) -> Result<(CaseSettings, Calendar), Vec<FieldProblem>> {
        let settings: CaseSettings = serde_json::from_value(value.clone())
            .map_err(|error| vec![FieldProblem::envelope("", &error.to_string())])?;
        let mut problems = Vec::new();
        let calendar = Calendar::from_spec(&settings.calendar, "calendar").map_err(|found| problems.extend(found)).ok();
        for priority in PRIORITIES {
            match settings.sla.get(priority) {
                Some(t) if t.first_response_minutes > 0 && t.resolution_minutes >= t.first_response_minutes => {}
                _ => problems.push(FieldProblem::envelope(
                    &format!("sla.{priority}"),
                    "required: firstResponseMinutes above 0 and resolutionMinutes at least that",
                )),
            }
        }
        for (i, rule) in settings.rules.iter().enumerate() {
            if settings.rules[..i].iter().any(|r| r.id == rule.id) || rule.id.is_empty() {
                problems.push(FieldProblem::envelope(&format!("rules[{i}].id"), "must be non-empty and unique"));
            }
            if rule.min.is_none() && rule.max.is_none() {
                problems.push(FieldProblem::envelope(&format!("rules[{i}]"), "needs min, max or both"));
            }
            if !PRIORITIES.contains(&rule.priority.as_str()) {
                problems.push(FieldProblem::envelope(
                    &format!("rules[{i}].priority"),
                    "must be urgent, high, normal or low",
                ));
            }
            if !settings.teams.contains_key(&rule.team) {
                problems.push(FieldProblem::envelope(&format!("rules[{i}].team"), &format!("no team `{}`", rule.team)));
            }
            if let (Some(person), Some(team)) = (&rule.assignee, settings.teams.get(&rule.team))
                && !team.members.contains(person)
            {
                problems.push(FieldProblem::envelope(
                    &format!("rules[{i}].assignee"),
                    &format!("`{person}` is not a member of team `{}`", rule.team),
                ));
            }
            if rule.sentiment.as_deref().is_some_and(|s| !["negative", "neutral", "positive"].contains(&s)) {
                problems.push(FieldProblem::envelope(
                    &format!("rules[{i}].sentiment"),
                    "must be negative, neutral or positive",
                ));
            }
        }
        // Alert and churn rules: a unique id, a priority, a team that exists.
        let mut check_rule = |field: String, duplicate: bool, id: &str, priority: &str, team: &str| {
            if duplicate || id.is_empty() {
                problems.push(FieldProblem::envelope(&format!("{field}.id"), "must be non-empty and unique"));
            }
            if !PRIORITIES.contains(&priority) {
                problems
                    .push(FieldProblem::envelope(&format!("{field}.priority"), "must be urgent, high, normal or low"));
            }
            if !settings.teams.contains_key(team) {
                problems.push(FieldProblem::envelope(&format!("{field}.team"), &format!("no team `{team}`")));
            }
        };
        for (i, rule) in settings.alert_rules.iter().enumerate() {
            let duplicate = settings.alert_rules[..i].iter().any(|r| r.id == rule.id);
            check_rule(format!("alertRules[{i}]"), duplicate, &rule.id, &rule.priority, &rule.team);
        }
        for (i, rule) in settings.churn_rules.iter().enumerate() {
            let duplicate = settings.churn_rules[..i].iter().any(|r| r.id == rule.id);
            check_rule(format!("churnRules[{i}]"), duplicate, &rule.id, &rule.priority, &rule.team);
        }
        for (i, rule) in settings.churn_rules.iter().enumerate() {
            if rule.min_probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                problems.push(FieldProblem::envelope(
                    &format!("churnRules[{i}].minProbability"),
                    "must be between 0 and 1",
                ));
            }
        }
        for (name, team) in &settings.teams {
            if team.members.is_empty() {
                problems.push(FieldProblem::envelope(&format!("teams.{name}.members"), "must not be empty"));
            }
        }
        if settings.escalate_after_minutes < 0 {
            problems.push(FieldProblem::envelope("escalateAfterMinutes", "must be 0 or more"));
        }
        if settings.root_causes.is_empty() {
            problems.push(FieldProblem::envelope("rootCauses", "must list at least one code"));
        }
        match calendar {
            Some(calendar) if problems.is_empty() => Ok((settings, calendar)),
            _ => Err(problems),
        }
    }

    /// The rules a response meets: `answers` are its question ids and scores, `facts` what its
    /// comments say and the customer's traits.
    pub fn matching_rules<'a>(
        &'a self,
        survey: &str,
        answers: &[(String, i64)],
        facts: &ResponseFacts,
    ) -> Vec<&'a CaseRule> {
        self.rules
            .iter()
            .filter(|rule| rule.survey.as_deref().is_none_or(|s| s == survey))
            .filter(|rule| rule.sentiment.as_ref().is_none_or(|label| facts.sentiments.contains(label)))
            .filter(|rule| rule.topics.is_empty() || rule.topics.iter().any(|t| facts.topics.contains(t)))
            .filter(|rule| {
                rule.traits
                    .iter()
                    .all(|(key, allowed)| facts.traits.get(key).is_some_and(|value| allowed.contains(value)))
            })
            .filter(|rule| {
                answers.iter().any(|(question, score)| {
                    *question == rule.question
                        && rule.min.is_none_or(|min| *score >= min)
                        && rule.max.is_none_or(|max| *score <= max)
                })
            })
            .collect()
    }
}

/// The member after `last` in `team` who is not away (round-robin); `None` when all are away.
pub fn next_assignee(team: &Team, last: Option<&str>) -> Option<String> {
    let members = &team.members;
    let start = last.and_then(|last| members.iter().position(|m| m == last)).map_or(0, |i| i + 1);
    (0..members.len()).map(|k| &members[(start + k) % members.len()]).find(|m| !team.away.contains(m)).cloned()
}

/// When a case opened at `opened_ms` with `priority` is due: first response and resolution.
pub fn due_times(settings: &CaseSettings, calendar: &Calendar, priority: &str, opened_ms: i64) -> (i64, i64) {
    let target = settings
        .sla
        .get(priority)
        .copied()
        .unwrap_or(SlaTarget { first_response_minutes: 480, resolution_minutes: 2_880 });
    let start = Timestamp::from_millisecond(opened_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let first = calendar.add_business_minutes(start, target.first_response_minutes);
    let resolution = calendar.add_business_minutes(start, target.resolution_minutes);
    (first.as_millisecond(), resolution.as_millisecond())
}

/// A due time pushed back by the business time a case spent waiting on the customer, to the
/// millisecond (whole minutes once lost up to a minute and could bring a due time forward).
pub fn shifted(calendar: &Calendar, due_ms: i64, paused_from_ms: i64, resumed_ms: i64) -> i64 {
    let at = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let before_due = calendar.business_millis_between(at(paused_from_ms), at(due_ms));
    calendar.add_business_millis(at(resumed_ms), before_due).as_millisecond()
}

/// Business minutes from `from_ms` to `to_ms`.
pub fn business_minutes(calendar: &Calendar, from_ms: i64, to_ms: i64) -> i64 {
    let at = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    calendar.business_minutes_between(at(from_ms), at(to_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_move_forward_pause_and_reopen() {
        assert!(may_move("new", "open") && may_move("open", "resolved") && may_move("resolved", "closed"));
        assert!(may_move("in_progress", "waiting_on_customer") && may_move("waiting_on_customer", "in_progress"));
        assert!(may_move("closed", "open") && may_move("resolved", "open"));
        assert!(!may_move("closed", "resolved") && !may_move("open", "new") && !may_move("open", "open"));
        assert!(!may_move("open", "sleeping"));
    }

    #[test]
    fn round_robin_skips_people_who_are_away() {
        let team = Team { members: vec!["ana".into(), "ben".into(), "cy".into()], away: vec!["ben".into()] };
        assert_eq!(next_assignee(&team, None).as_deref(), Some("ana"));
        assert_eq!(next_assignee(&team, Some("ana")).as_deref(), Some("cy"));
        assert_eq!(next_assignee(&team, Some("cy")).as_deref(), Some("ana"));
        let everyone_away = Team { away: team.members.clone(), ..team };
        assert_eq!(next_assignee(&everyone_away, None), None);
    }

    #[test]
    fn rules_match_score_ranges_and_settings_are_checked() {
        let mut value = serde_json::to_value(CaseSettings::default()).unwrap();
        value["teams"] = json!({"care": {"members": ["ana"]}});
        value["rules"] = json!([{"id": "detractor", "name": "Detractors", "question": "nps", "max": 6, "priority": "high", "team": "care"},
                                {"id": "csat", "name": "Unhappy", "question": "csat", "max": 2, "survey": "s2", "priority": "normal", "team": "care"}]);
        let (settings, _) = CaseSettings::parse(&value).unwrap();
        let ids = |survey: &str, answers: &[(&str, i64)]| -> Vec<String> {
            let answers: Vec<(String, i64)> = answers.iter().map(|(q, s)| ((*q).to_owned(), *s)).collect();
            settings.matching_rules(survey, &answers, &ResponseFacts::default()).iter().map(|r| r.id.clone()).collect()
        };
        assert_eq!(ids("s1", &[("nps", 6)]), ["detractor"]);
        assert!(ids("s1", &[("nps", 7)]).is_empty());
        assert!(ids("s1", &[("csat", 1)]).is_empty(), "another survey's rule");
        assert_eq!(ids("s2", &[("nps", 0), ("csat", 2)]), ["detractor", "csat"]);

        value["rules"][0]["team"] = json!("nobody");
        value["rules"][1]["priority"] = json!("asap");
        value["sla"]["low"] = json!({"firstResponseMinutes": 0, "resolutionMinutes": 10});
        let problems = CaseSettings::parse(&value).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["sla.low", "rules[0].team", "rules[1].priority"]);
    }

    #[test]
    fn churn_rules_are_checked_like_alert_rules() {
        let mut value = serde_json::to_value(CaseSettings::default()).unwrap();
        value["teams"] = json!({"retention": {"members": ["kim"]}});
        value["churnRules"] = json!([
            {"id": "save", "name": "Save", "priority": "high", "team": "retention", "minProbability": 0.5},
            {"id": "save", "name": "Again", "priority": "soon", "team": "nobody", "minProbability": 1.5},
        ]);
        let problems = CaseSettings::parse(&value).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["churnRules[1].id", "churnRules[1].priority", "churnRules[1].team", "churnRules[1].minProbability"]
        );
        value["churnRules"].as_array_mut().unwrap().pop();
        let (settings, _) = CaseSettings::parse(&value).unwrap();
        assert_eq!(settings.churn_rules[0].min_probability, Some(0.5));
    }

    #[test]
    fn rules_can_also_ask_for_sentiment_topics_and_traits() {
        let mut value = serde_json::to_value(CaseSettings::default()).unwrap();
        value["teams"] = json!({"vip": {"members": ["kim"]}});
        value["rules"] = json!([{"id": "vip-delivery", "name": "VIP delivery complaints", "question": "nps", "max": 8,
            "sentiment": "negative", "topics": ["delivery"], "traits": {"plan": ["enterprise"]}, "priority": "urgent", "team": "vip"}]);
        let (settings, _) = CaseSettings::parse(&value).unwrap();
        let facts = |sentiment: &str, topic: &str, plan: &str| ResponseFacts {
            sentiments: vec![sentiment.into()],
            topics: vec![topic.into()],
            traits: [("plan".to_owned(), plan.to_owned())].into_iter().collect(),
        };
        let answers = vec![("nps".to_owned(), 7)];
        assert_eq!(settings.matching_rules("s", &answers, &facts("negative", "delivery", "enterprise")).len(), 1);
        assert!(settings.matching_rules("s", &answers, &facts("positive", "delivery", "enterprise")).is_empty());
        assert!(settings.matching_rules("s", &answers, &facts("negative", "price", "enterprise")).is_empty());
        assert!(settings.matching_rules("s", &answers, &facts("negative", "delivery", "free")).is_empty());
        value["rules"][0]["sentiment"] = json!("furious");
        value["alertRules"] = json!([{"id": "spike", "name": "Spike", "priority": "now", "team": "vip"}]);
        let fields: Vec<String> = CaseSettings::parse(&value).unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["rules[0].sentiment", "alertRules[0].priority"]);
    }

    #[test]
    fn waiting_on_the_customer_pauses_the_clock() {
        let (settings, calendar) =
            CaseSettings::parse(&serde_json::to_value(CaseSettings::default()).unwrap()).unwrap();
        let monday_9 = 1_795_424_400_000; // 2026-11-23T09:00:00Z, a Monday.
        let (first, resolution) = due_times(&settings, &calendar, "high", monday_9);
        assert_eq!(first, monday_9 + 4 * 3_600_000);
        assert_eq!(resolution, monday_9 + 2 * 24 * 3_600_000 + 8 * 3_600_000, "three business days of 8 hours");
        // Paused Monday 10:00 until Tuesday 10:00: eight business hours later.
        let paused = monday_9 + 3_600_000;
        assert_eq!(shifted(&calendar, first, paused, paused + 24 * 3_600_000), first + 24 * 3_600_000);
        // A pause of a few milliseconds at odd seconds gives back exactly what it took.
        let odd = paused + 12_345;
        assert_eq!(shifted(&calendar, first + 30_500, odd, odd + 7), first + 30_507);
    }
}

/// A scored answer, as recovery reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredAnswer {
    pub survey: String,
    pub identity: String,
    pub at_ms: i64,
    pub question: String,
    pub score: i64,
}

/// A case, as recovery reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFacts {
    pub identity: Option<String>,
    pub rule: Option<String>,
    pub opened_at_ms: i64,
    pub first_contact_at_ms: Option<i64>,
    pub closed_at_ms: Option<i64>,
    pub root_cause: Option<String>,
}

/// How the micro loop is doing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovery {
    /// Answers that met a case rule.
    pub low_scores: u64,
    /// Of those, answers followed up: a case of that rule for that customer, opened by the answer
    /// or open at the time, with a first contact after it.
    pub followed_up: u64,
    pub closed: u64,
    /// Closed cases whose customer answered the rule's question again after closing.
    pub answered_again: u64,
    /// Of those, answers outside the rule's range (a detractor now passive or promoter).
    pub recovered: u64,
    /// Minutes (wall clock) from opening to first contact, median over contacted cases.
    pub median_minutes_to_first_contact: Option<f64>,
    /// Per root cause: closed cases, and those whose customer had closed a case with the same root
    /// cause before.
    pub root_causes: BTreeMap<String, (u64, u64)>,
}

/// The micro-loop figures over `answers` and `cases` with the workspace's `rules`.
///
/// Only rules on scores alone count here: whether an answer met a rule that also reads comments or
/// traits is known from the cases it opened, not from its score.
pub fn recovery(settings: &CaseSettings, answers: &[ScoredAnswer], cases: &[CaseFacts]) -> Recovery {
    let score_rules: Vec<&CaseRule> =
        settings.rules.iter().filter(|r| r.sentiment.is_none() && r.topics.is_empty() && r.traits.is_empty()).collect();
    let rule = |id: &Option<String>| id.as_ref().and_then(|id| score_rules.iter().copied().find(|r| &r.id == id));
    let in_range = |r: &CaseRule, score: i64| r.min.is_none_or(|m| score >= m) && r.max.is_none_or(|m| score <= m);
    let (mut low_scores, mut followed_up) = (0, 0);
    for answer in answers {
        for r in score_rules.iter().filter(|r| r.question == answer.question && in_range(r, answer.score)) {
            if r.survey.as_ref().is_some_and(|s| *s != answer.survey) {
                continue;
            }
            low_scores += 1;
            let followed = cases.iter().any(|c| {
                c.rule.as_deref() == Some(&r.id)
                    && c.identity.as_deref() == Some(&answer.identity)
                    && c.opened_at_ms <= answer.at_ms
                    && c.closed_at_ms.is_none_or(|closed| closed >= answer.at_ms)
                    && c.first_contact_at_ms.is_some_and(|contact| contact >= answer.at_ms)
            });
            followed_up += u64::from(followed);
        }
    }
    let (mut closed, mut answered_again, mut recovered) = (0, 0, 0);
    let mut root_causes: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for case in cases {
        let Some(closed_at) = case.closed_at_ms else { continue };
        closed += 1;
        if let Some(cause) = &case.root_cause {
            let repeat = cases.iter().any(|other| {
                other.identity.is_some()
                    && other.identity == case.identity
                    && other.root_cause.as_ref() == Some(cause)
                    && other.closed_at_ms.is_some_and(|t| t < closed_at)
            });
            let entry = root_causes.entry(cause.clone()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(repeat);
        }
        let Some(r) = rule(&case.rule) else { continue };
        let next = answers
            .iter()
            .filter(|a| Some(&a.identity) == case.identity.as_ref() && a.question == r.question && a.at_ms > closed_at)
            .min_by_key(|a| a.at_ms);
        if let Some(next) = next {
            answered_again += 1;
            recovered += u64::from(!in_range(r, next.score));
        }
    }
    let mut minutes: Vec<f64> =
        cases.iter().filter_map(|c| c.first_contact_at_ms.map(|t| (t - c.opened_at_ms) as f64 / 60_000.0)).collect();
    minutes.sort_by(f64::total_cmp);
    let median = match minutes.len() {
        0 => None,
        n if n % 2 == 1 => Some(minutes[n / 2]),
        n => Some((minutes[n / 2 - 1] + minutes[n / 2]) / 2.0),
    };
    Recovery {
        low_scores,
        followed_up,
        closed,
        answered_again,
        recovered,
        median_minutes_to_first_contact: median,
        root_causes,
    }
}
