//! The contact-frequency policy: whether a customer may be invited to a survey now, and if not,
//! which rule says no. Pure: the caller brings the customer's contact history.
//!
//! Rules are checked in a fixed order (consent, unsubscribe, sampling, the survey's own repeat
//! rule, the response cooldown, the minimum gap, the rolling cap), and the first that fails is the
//! reason given, so a dry run explains every suppression the same way a live decision would.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::problem::FieldProblem;
use crate::survey_delivery::whole_number;

/// A day in milliseconds, the store's unit of time.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Workspace-wide limits, which a survey may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactPolicy {
    /// At most this many invitations per customer in any `window_days`.
    pub max_invitations: u32,
    pub window_days: u32,
    /// At least this many days between any two invitations.
    pub min_days_between: u32,
    /// No invitation for this many days after the customer last answered any survey.
    pub cooldown_after_response_days: u32,
}

impl Default for ContactPolicy {
    /// At most 2 invitations in 30 days, 7 days apart, 14 days of rest after an answer.
    fn default() -> Self {
        ContactPolicy { max_invitations: 2, window_days: 30, min_days_between: 7, cooldown_after_response_days: 14 }
    }
}

/// The policy's fields as the API names them.
pub const POLICY_FIELDS: [&str; 4] = ["maxInvitations", "windowDays", "minDaysBetween", "cooldownAfterResponseDays"];

/// Checks a policy object at `path` (`delivery.policy`, or `""` for the workspace's own), each
/// field a whole number of 0 to 3650. A survey's override names every field (`all_required`);
/// the workspace's policy keeps the default for a field left out.
pub fn parse_policy(
    value: &Value,
    path: &str,
    all_required: bool,
    problems: &mut Vec<FieldProblem>,
) -> Option<ContactPolicy> {
    let field_path = |field: &str| if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") };
    let Some(object) = value.as_object() else {
        let name = if path.is_empty() { "the contact policy" } else { path };
        problems.push(FieldProblem::envelope(path, &format!("{name} must be an object")));
        return None;
    };
    let before = problems.len();
    for key in object.keys().filter(|key| !POLICY_FIELDS.contains(&key.as_str())) {
        problems.push(FieldProblem::envelope(
            &field_path(key),
            &format!("unknown field: expected {}", POLICY_FIELDS.join(", ")),
        ));
    }
    let defaults = ContactPolicy::default();
    let mut read = |field: &str, default: u32| {
        let value = whole_number(object, field, path, 0..=3_650, problems);
        if value.is_none() && all_required && !object.contains_key(field) {
            problems.push(FieldProblem::envelope(&field_path(field), "required"));
        }
        value.unwrap_or(default)
    };
    let policy = ContactPolicy {
        max_invitations: read("maxInvitations", defaults.max_invitations),
        window_days: read("windowDays", defaults.window_days),
        min_days_between: read("minDaysBetween", defaults.min_days_between),
        cooldown_after_response_days: read("cooldownAfterResponseDays", defaults.cooldown_after_response_days),
    };
    (problems.len() == before).then_some(policy)
}

/// What a survey adds to the workspace's policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyContactRules {
    pub survey_id: String,
    /// The survey is not sent again to a customer within this many days of the last time.
    pub not_again_within_days: Option<u32>,
    /// The share of customers asked, 0 to 1. Decided by a hash of customer and survey, so a
    /// customer sampled out stays out for this survey however often it triggers.
    pub sample_rate: f64,
    /// Replaces the workspace policy for this survey.
    pub policy_override: Option<ContactPolicy>,
}

/// One invitation sent earlier, on any channel, for any survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastInvitation {
    pub survey_id: String,
    pub sent_at_ms: i64,
    /// Reminders neither count against the limits nor are limited by them.
    pub reminder: bool,
}

/// What Rapport knows of one customer's contacts and wishes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactHistory {
    pub invitations: Vec<PastInvitation>,
    pub last_response_ms: Option<i64>,
    /// The customer unsubscribed from surveys.
    pub unsubscribed: bool,
    /// Channels the customer has not consented to be contacted on.
    pub no_consent_channels: Vec<String>,
}

/// Why an invitation is not sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Suppression {
    NoConsent { channel: String },
    Unsubscribed,
    SampledOut { sample_rate: f64 },
    SurveyRepeatedTooSoon { days_since: i64, not_again_within_days: u32 },
    CoolingDownAfterResponse { days_since: i64, cooldown_days: u32 },
    TooSoonAfterInvitation { days_since: i64, min_days_between: u32 },
    TooManyInvitations { count: u32, max_invitations: u32, window_days: u32 },
}

impl Suppression {
    /// A stable code for APIs and reports.
    pub fn code(&self) -> &'static str {
        match self {
            Suppression::NoConsent { .. } => "no_consent",
            Suppression::Unsubscribed => "unsubscribed",
            Suppression::SampledOut { .. } => "sampled_out",
            Suppression::SurveyRepeatedTooSoon { .. } => "survey_repeated_too_soon",
            Suppression::CoolingDownAfterResponse { .. } => "cooling_down_after_response",
            Suppression::TooSoonAfterInvitation { .. } => "too_soon_after_invitation",
            Suppression::TooManyInvitations { .. } => "too_many_invitations",
        }
    }

    /// A sentence for a person.
    pub fn explanation(&self) -> String {
        match self {
            Suppression::NoConsent { channel } => format!("no consent to be contacted by {channel}"),
            Suppression::Unsubscribed => "unsubscribed from surveys".to_owned(),
            Suppression::SampledOut { sample_rate } => {
                format!("not in this survey's sample ({:.0}% of customers are asked)", sample_rate * 100.0)
            }
            Suppression::SurveyRepeatedTooSoon { days_since, not_again_within_days } => format!(
                "sent this survey {}; it is not sent again within {}",
                ago(*days_since),
                days(i64::from(*not_again_within_days))
            ),
            Suppression::CoolingDownAfterResponse { days_since, cooldown_days } => {
                format!(
                    "answered a survey {}; {} of rest after an answer",
                    ago(*days_since),
                    days(i64::from(*cooldown_days))
                )
            }
            Suppression::TooSoonAfterInvitation { days_since, min_days_between } => {
                format!(
                    "invited {}; at least {} between invitations",
                    ago(*days_since),
                    days(i64::from(*min_days_between))
                )
            }
            Suppression::TooManyInvitations { count, max_invitations, window_days } => {
                format!(
                    "already invited {count} times in the last {}; at most {max_invitations}",
                    days(i64::from(*window_days))
                )
            }
        }
    }
}

/// "1 day", "30 days".
fn days(count: i64) -> String {
    if count == 1 { "1 day".to_owned() } else { format!("{count} days") }
}

/// "today", "yesterday", "12 days ago".
fn ago(days_since: i64) -> String {
    match days_since {
        ..=0 => "today".to_owned(),
        1 => "yesterday".to_owned(),
        _ => format!("{days_since} days ago"),
    }
}

/// Where in the sample a customer falls for a survey: a number in [0, 1) fixed by the two ids
/// (SHA-256, so it is the same on every machine and in every version).
pub fn sample_point(customer_id: &str, survey_id: &str) -> f64 {
    let digest = Sha256::new()
        .chain_update(survey_id.as_bytes())
        .chain_update([0])
        .chain_update(customer_id.as_bytes())
        .finalize();
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    // The top 53 bits, as an f64 in [0, 1) without rounding up to 1.
    (u64::from_be_bytes(first) >> 11) as f64 / (1_u64 << 53) as f64
}

/// Decides whether `customer_id` may be invited to the survey on `channel` at `now_ms`. A
/// reminder of an invitation already sent is exempt from the frequency rules (not from consent).
pub fn decide(
    customer_id: &str,
    channel: &str,
    now_ms: i64,
    workspace_policy: &ContactPolicy,
    survey: &SurveyContactRules,
    history: &ContactHistory,
    reminder: bool,
) -> Result<(), Suppression> {
    if history.no_consent_channels.iter().any(|refused| refused.eq_ignore_ascii_case(channel)) {
        return Err(Suppression::NoConsent { channel: channel.to_owned() });
    }
    if history.unsubscribed {
        return Err(Suppression::Unsubscribed);
    }
    if reminder {
        return Ok(());
    }
    if sample_point(customer_id, &survey.survey_id) >= survey.sample_rate {
        return Err(Suppression::SampledOut { sample_rate: survey.sample_rate });
    }
    let policy = survey.policy_override.as_ref().unwrap_or(workspace_policy);
    let days_since = |at_ms: i64| (now_ms - at_ms).max(0) / DAY_MS;
    let within = |at_ms: i64, days: u32| now_ms - at_ms < i64::from(days) * DAY_MS;
    let counted: Vec<&PastInvitation> = history
        .invitations
        .iter()
        .filter(|invitation| !invitation.reminder && invitation.sent_at_ms <= now_ms)
        .collect();

    if let Some(days) = survey.not_again_within_days
        && let Some(last) =
            counted.iter().filter(|invitation| invitation.survey_id == survey.survey_id).map(|i| i.sent_at_ms).max()
        && within(last, days)
    {
        return Err(Suppression::SurveyRepeatedTooSoon { days_since: days_since(last), not_again_within_days: days });
    }
    if let Some(answered) = history.last_response_ms
        && within(answered, policy.cooldown_after_response_days)
    {
        return Err(Suppression::CoolingDownAfterResponse {
            days_since: days_since(answered),
            cooldown_days: policy.cooldown_after_response_days,
        });
    }
    if let Some(last) = counted.iter().map(|invitation| invitation.sent_at_ms).max()
        && within(last, policy.min_days_between)
    {
        return Err(Suppression::TooSoonAfterInvitation {
            days_since: days_since(last),
            min_days_between: policy.min_days_between,
        });
    }
    let in_window = counted.iter().filter(|invitation| within(invitation.sent_at_ms, policy.window_days)).count();
    let in_window = u32::try_from(in_window).unwrap_or(u32::MAX);
    if in_window >= policy.max_invitations {
        return Err(Suppression::TooManyInvitations {
            count: in_window,
            max_invitations: policy.max_invitations,
            window_days: policy.window_days,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000 * DAY_MS;

    fn rules() -> SurveyContactRules {
        SurveyContactRules {
            survey_id: "nps".to_owned(),
            not_again_within_days: Some(90),
            sample_rate: 1.0,
            policy_override: None,
        }
    }

    fn sent(survey: &str, days_ago: i64) -> PastInvitation {
        PastInvitation { survey_id: survey.to_owned(), sent_at_ms: NOW - days_ago * DAY_MS, reminder: false }
    }

    fn check(history: &ContactHistory, rules: &SurveyContactRules) -> Result<(), Suppression> {
        decide("cust-1", "email", NOW, &ContactPolicy::default(), rules, history, false)
    }

    #[test]
    fn a_workspace_policy_keeps_defaults_for_what_it_leaves_out() {
        let mut problems = Vec::new();
        let policy = parse_policy(&serde_json::json!({"maxInvitations": 1}), "", false, &mut problems).unwrap();
        assert_eq!(policy, ContactPolicy { max_invitations: 1, ..ContactPolicy::default() });
        let bad = parse_policy(&serde_json::json!({"windowDays": -1, "often": true}), "", false, &mut problems);
        assert!(bad.is_none());
        let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
        assert_eq!(fields, ["often", "windowDays"]);
    }

    #[test]
    fn a_fresh_customer_is_invited() {
        assert_eq!(check(&ContactHistory::default(), &rules()), Ok(()));
    }

    #[test]
    fn each_rule_suppresses_with_its_reason() {
        let no_email = ContactHistory { no_consent_channels: vec!["Email".to_owned()], ..Default::default() };
        assert_eq!(check(&no_email, &rules()).unwrap_err().code(), "no_consent");
        let gone = ContactHistory { unsubscribed: true, ..Default::default() };
        assert_eq!(check(&gone, &rules()), Err(Suppression::Unsubscribed));

        let asked_60_days_ago = ContactHistory { invitations: vec![sent("nps", 60)], ..Default::default() };
        assert_eq!(
            check(&asked_60_days_ago, &rules()),
            Err(Suppression::SurveyRepeatedTooSoon { days_since: 60, not_again_within_days: 90 })
        );
        let other_survey = SurveyContactRules { survey_id: "csat".to_owned(), ..rules() };
        assert_eq!(check(&asked_60_days_ago, &other_survey), Ok(()), "another survey may go out");

        let answered = ContactHistory { last_response_ms: Some(NOW - 3 * DAY_MS), ..Default::default() };
        assert_eq!(
            check(&answered, &rules()),
            Err(Suppression::CoolingDownAfterResponse { days_since: 3, cooldown_days: 14 })
        );
        let answered_long_ago = ContactHistory { last_response_ms: Some(NOW - 14 * DAY_MS), ..Default::default() };
        assert_eq!(check(&answered_long_ago, &rules()), Ok(()), "the cooldown ends after its days");

        let recent = ContactHistory { invitations: vec![sent("csat", 2)], ..Default::default() };
        assert_eq!(
            check(&recent, &rules()),
            Err(Suppression::TooSoonAfterInvitation { days_since: 2, min_days_between: 7 })
        );

        let busy = ContactHistory { invitations: vec![sent("csat", 20), sent("ces", 10)], ..Default::default() };
        assert_eq!(
            check(&busy, &rules()),
            Err(Suppression::TooManyInvitations { count: 2, max_invitations: 2, window_days: 30 })
        );
        let older = ContactHistory { invitations: vec![sent("csat", 40), sent("ces", 10)], ..Default::default() };
        assert_eq!(check(&older, &rules()), Ok(()), "the window rolls");
    }

    #[test]
    fn reminders_are_exempt_but_consent_is_not() {
        let mut busy = ContactHistory { invitations: vec![sent("csat", 1), sent("ces", 2)], ..Default::default() };
        busy.invitations.push(PastInvitation { reminder: true, ..sent("nps", 0) });
        let decide_reminder = |history: &ContactHistory| {
            decide("cust-1", "email", NOW, &ContactPolicy::default(), &rules(), history, true)
        };
        assert_eq!(decide_reminder(&busy), Ok(()));
        let gone = ContactHistory { unsubscribed: true, ..busy.clone() };
        assert_eq!(decide_reminder(&gone), Err(Suppression::Unsubscribed));
        // A reminder sent earlier does not count against the cap.
        let reminded = ContactHistory {
            invitations: vec![sent("csat", 20), PastInvitation { reminder: true, ..sent("csat", 9) }],
            ..Default::default()
        };
        assert_eq!(check(&reminded, &rules()), Ok(()));
    }

    #[test]
    fn a_survey_may_override_the_workspace_policy() {
        let strict = ContactPolicy {
            max_invitations: 1,
            window_days: 90,
            min_days_between: 30,
            cooldown_after_response_days: 0,
        };
        let history = ContactHistory { invitations: vec![sent("csat", 45)], ..Default::default() };
        assert_eq!(check(&history, &rules()), Ok(()));
        let overridden = SurveyContactRules { policy_override: Some(strict), ..rules() };
        assert_eq!(check(&history, &overridden).unwrap_err().code(), "too_many_invitations");
    }

    #[test]
    fn sampling_is_deterministic_and_close_to_its_rate() {
        let half = SurveyContactRules { sample_rate: 0.5, ..rules() };
        let empty = ContactHistory::default();
        let decisions: Vec<bool> = (0..10_000)
            .map(|n| decide(&format!("c{n}"), "email", NOW, &ContactPolicy::default(), &half, &empty, false).is_ok())
            .collect();
        let again: Vec<bool> = (0..10_000)
            .map(|n| {
                decide(&format!("c{n}"), "email", NOW + DAY_MS, &ContactPolicy::default(), &half, &empty, false).is_ok()
            })
            .collect();
        assert_eq!(decisions, again, "a re-trigger does not re-roll");
        let invited = decisions.iter().filter(|invited| **invited).count();
        // Binomial(10,000, 0.5): 4,850..5,150 is beyond ±3 standard deviations (±150).
        assert!((4_850..=5_150).contains(&invited), "{invited} of 10,000 invited at rate 0.5");
        // Another survey samples independently.
        let other = SurveyContactRules { survey_id: "csat".to_owned(), sample_rate: 0.5, ..rules() };
        let both = (0..10_000)
            .filter(|n| {
                let id = format!("c{n}");
                decisions[*n] && decide(&id, "email", NOW, &ContactPolicy::default(), &other, &empty, false).is_ok()
            })
            .count();
        assert!((2_350..=2_650).contains(&both), "{both} in both samples");
        assert!(sample_point("c1", "nps") < 1.0 && sample_point("c1", "nps") >= 0.0);
        let nobody = SurveyContactRules { sample_rate: 0.0, ..rules() };
        assert_eq!(check(&empty, &nobody).unwrap_err().code(), "sampled_out");
    }

    #[test]
    fn explanations_read_as_sentences() {
        let today = Suppression::SurveyRepeatedTooSoon { days_since: 0, not_again_within_days: 30 };
        assert_eq!(today.explanation(), "sent this survey today; it is not sent again within 30 days");
        let yesterday = Suppression::TooSoonAfterInvitation { days_since: 1, min_days_between: 1 };
        assert_eq!(yesterday.explanation(), "invited yesterday; at least 1 day between invitations");
        let earlier = Suppression::CoolingDownAfterResponse { days_since: 12, cooldown_days: 14 };
        assert_eq!(earlier.explanation(), "answered a survey 12 days ago; 14 days of rest after an answer");
    }
}
