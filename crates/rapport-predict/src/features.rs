//! Churn as a workspace defines it, and a customer's churn features at a moment, from what Rapport
//! holds about them: product activity and logins (and their trend), help-article visits matching
//! the workspace's patterns, survey scores, cases, feedback sentiment, tenure, spend and plan.
//! The caller loads the history; everything here is a pure function of it and a time.

use serde::{Deserialize, Serialize};

use crate::churn::ModelChoice;
use crate::health::HealthInputs;

pub const DAY_MS: i64 = 86_400_000;

/// The order event's properties that hold its amount, first present wins (Segment's ecommerce
/// spec uses `revenue` and `total`; `value` is common elsewhere).
pub const ORDER_AMOUNT_PROPERTIES: [&str; 3] = ["revenue", "total", "value"];

/// How a workspace defines and predicts churn (`PUT /v1/churn/settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ChurnSettings {
    /// A track event that means the customer left ("Subscription Cancelled"). Without one, churn
    /// is `inactiveDays` without any activity.
    pub cancellation_event: Option<String>,
    pub inactive_days: u32,
    /// Predict churn within this many days (with a cancellation event).
    pub horizon_days: u32,
    /// Track events that are logins.
    pub login_events: Vec<String>,
    /// Case-insensitive substrings of a page's name, path, title or URL (or a track event's name or
    /// `title`) that make it a visit to a help article that signals churn.
    pub help_article_patterns: Vec<String>,
    /// The track event of a purchase; its first of `ORDER_AMOUNT_PROPERTIES` is the spend.
    pub order_event: String,
    /// The customer trait holding the plan.
    pub plan_trait: String,
    pub model: ModelChoice,
    /// Flag customers at or above this probability; without it, the threshold that maximises F1 on
    /// the validation snapshot.
    pub flag_threshold: Option<f64>,
}

impl Default for ChurnSettings {
    fn default() -> Self {
        ChurnSettings {
            cancellation_event: Some("Subscription Cancelled".into()),
            inactive_days: 60,
            horizon_days: 30,
            login_events: vec!["Signed In".into(), "Logged In".into(), "Login".into()],
            help_article_patterns: vec!["cancel".into(), "refund".into()],
            order_event: "Order Completed".into(),
            plan_trait: "plan".into(),
            model: ModelChoice::Auto,
            flag_threshold: None,
        }
    }
}

impl ChurnSettings {
    /// Checks settings as sent: every problem as (field, problem).
    pub fn parse(value: &serde_json::Value) -> Result<ChurnSettings, Vec<(String, String)>> {
        let settings: ChurnSettings = serde_path_to_error::deserialize(value.clone()).map_err(|error| {
            let field = error.path().to_string();
            let field = if field == "." { String::new() } else { field };
            vec![(field, error.into_inner().to_string())]
        })?;
        let mut problems = Vec::new();
        if settings.cancellation_event.as_deref().is_some_and(|name| name.trim().is_empty()) {
            problems.push(("cancellationEvent".into(), "must be an event name or null".into()));
        }
        if !(7..=730).contains(&settings.inactive_days) {
            problems.push(("inactiveDays".into(), "must be between 7 and 730".into()));
        }
        if !(1..=365).contains(&settings.horizon_days) {
            problems.push(("horizonDays".into(), "must be between 1 and 365".into()));
        }
        if settings.help_article_patterns.iter().any(|pattern| pattern.trim().is_empty()) {
            problems.push(("helpArticlePatterns".into(), "patterns cannot be empty".into()));
        }
        if settings.order_event.trim().is_empty() {
            problems.push(("orderEvent".into(), "must be an event name".into()));
        }
        if settings.flag_threshold.is_some_and(|t| !(t > 0.0 && t < 1.0)) {
            problems.push(("flagThreshold".into(), "must be between 0 and 1 (exclusive)".into()));
        }
        if problems.is_empty() { Ok(settings) } else { Err(problems) }
    }

    /// The days after a snapshot in which churn is looked for.
    pub fn window_days(&self) -> u32 {
        if self.cancellation_event.is_some() { self.horizon_days } else { self.inactive_days }
    }

    /// What an event is, for churn.
    pub fn classify(&self, event_type: &str, name: &str, detail: &str, amount: Option<f64>) -> EventKind {
        if event_type == "track" {
            if self.cancellation_event.as_deref() == Some(name) {
                return EventKind::Cancellation;
            }
            if self.login_events.iter().any(|login| login == name) {
                return EventKind::Login;
            }
            if name == self.order_event {
                return EventKind::Order(amount.unwrap_or(0.0));
            }
        }
        let text = format!("{name} {detail}").to_lowercase();
        if self.help_article_patterns.iter().any(|pattern| text.contains(&pattern.to_lowercase())) {
            return EventKind::Help;
        }
        EventKind::Other
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventKind {
    Login,
    Help,
    Cancellation,
    Order(f64),
    Other,
}

/// Everything about one customer the features read, times in ms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerHistory {
    /// Sorted by time.
    pub events: Vec<(i64, EventKind)>,
    /// (time, NPS 0-10)
    pub nps: Vec<(i64, f64)>,
    /// (time, CSAT 1-5)
    pub csat: Vec<(i64, f64)>,
    /// (opened, closed)
    pub cases: Vec<(i64, Option<i64>)>,
    /// (time, negative)
    pub feedback: Vec<(i64, bool)>,
    pub plan: Option<String>,
}

/// The feature columns, in order.
pub const FEATURES: [&str; 17] = [
    "logins_30d",
    "logins_trend",
    "activity_30d",
    "activity_trend",
    "days_since_activity",
    "help_visits_30d",
    "latest_nps",
    "nps_change",
    "latest_csat",
    "csat_change",
    "open_cases",
    "cases_90d",
    "negative_feedback_share_90d",
    "tenure_days",
    "spend_90d",
    "orders_90d",
    "plan",
];

fn is_activity(kind: &EventKind) -> bool {
    *kind != EventKind::Cancellation
}

fn count(events: &[(i64, EventKind)], from: i64, to: i64, what: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|(at, kind)| (from..to).contains(at) && what(kind)).count()
}

fn number(value: f64) -> String {
    format!("{}", (value * 1e4).round() / 1e4)
}

fn latest_and_change(scores: &[(i64, f64)], at: i64) -> (String, String) {
    let before: Vec<f64> = scores.iter().filter(|(t, _)| *t < at).map(|(_, s)| *s).collect();
    match before.as_slice() {
        [] => (String::new(), String::new()),
        [only] => (number(*only), String::new()),
        [.., previous, last] => (number(*last), number(last - previous)),
    }
}

/// The trend of a count: the last 30 days against the mean 30 days of the 60 before, smoothed by
/// one so a customer with none in both reads 1 (no change).
fn trend(last: usize, before: usize) -> f64 {
    (last as f64 + 1.0) / (before as f64 / 2.0 + 1.0)
}

impl CustomerHistory {
    /// First activity of any kind.
    pub fn first_seen(&self) -> Option<i64> {
        self.events.first().map(|(at, _)| *at)
    }

    fn last_activity_before(&self, at: i64) -> Option<i64> {
        self.events.iter().rev().find(|(t, kind)| *t < at && is_activity(kind)).map(|(t, _)| *t)
    }

    /// Whether the customer counts as a current customer at `at`: seen before it, not cancelled
    /// since their last activity, and (without a cancellation event) active within the inactivity
    /// window.
    pub fn active_at(&self, at: i64, settings: &ChurnSettings) -> bool {
        let Some(last) = self.last_activity_before(at) else { return false };
        if settings.cancellation_event.is_some() {
            !self.events.iter().any(|(t, kind)| *kind == EventKind::Cancellation && *t >= last && *t < at)
        } else {
            at - last < i64::from(settings.inactive_days) * DAY_MS
        }
    }

    /// Did a customer active at `at` churn in the window after it? None when not active at `at`
    /// or when the window has not fully passed by `now`.
    pub fn churned_after(&self, at: i64, now: i64, settings: &ChurnSettings) -> Option<bool> {
        let end = at + i64::from(settings.window_days()) * DAY_MS;
        if !self.active_at(at, settings) || end > now {
            return None;
        }
        Some(if settings.cancellation_event.is_some() {
            self.events.iter().any(|(t, kind)| *kind == EventKind::Cancellation && (at..end).contains(t))
        } else {
            !self.events.iter().any(|(t, kind)| (at..end).contains(t) && *kind != EventKind::Cancellation)
        })
    }

    /// Activity of any kind but a cancellation in the 30 days before `at`.
    pub fn activity_30d(&self, at: i64) -> usize {
        count(&self.events, at - 30 * DAY_MS, at, is_activity)
    }

    pub fn days_since_activity(&self, at: i64) -> Option<f64> {
        self.last_activity_before(at).map(|last| (at - last) as f64 / DAY_MS as f64)
    }

    /// Cases opened before `at` and not closed by then.
    pub fn open_cases(&self, at: i64) -> usize {
        self.cases.iter().filter(|(opened, closed)| *opened < at && closed.is_none_or(|c| c >= at)).count()
    }

    /// The share of negative feedback in the 90 days before `at`; None without feedback.
    pub fn negative_share_90d(&self, at: i64) -> Option<f64> {
        let recent: Vec<bool> =
            self.feedback.iter().filter(|(t, _)| (at - 90 * DAY_MS..at).contains(t)).map(|(_, n)| *n).collect();
        (!recent.is_empty()).then(|| recent.iter().filter(|&&n| n).count() as f64 / recent.len() as f64)
    }

    /// What the health score reads at `at`, given where the customer's 30-day activity stands
    /// among the current customers and their churn probability.
    pub fn health_inputs(&self, at: i64, activity_percentile: f64, churn_probability: Option<f64>) -> HealthInputs {
        let latest = |scores: &[(i64, f64)]| scores.iter().rev().find(|(t, _)| *t < at).map(|(_, s)| *s);
        HealthInputs {
            days_since_activity: self.days_since_activity(at),
            activity_percentile: Some(activity_percentile),
            negative_share: self.negative_share_90d(at),
            latest_nps: latest(&self.nps),
            latest_csat: latest(&self.csat),
            open_cases: self.open_cases(at),
            churn_probability,
        }
    }

    /// The feature cells at `at` (what was known before it), in `FEATURES` order; blank is missing.
    pub fn features_at(&self, at: i64) -> Vec<String> {
        let d30 = at - 30 * DAY_MS;
        let d90 = at - 90 * DAY_MS;
        let events = &self.events;
        let is_login = |kind: &EventKind| *kind == EventKind::Login;
        let logins = count(events, d30, at, is_login);
        let logins_before = count(events, d90, d30, is_login);
        let activity = self.activity_30d(at);
        let activity_before = count(events, d90, d30, is_activity);
        let since = self.days_since_activity(at).map_or(String::new(), number);
        let (latest_nps, nps_change) = latest_and_change(&self.nps, at);
        let (latest_csat, csat_change) = latest_and_change(&self.csat, at);
        let open = self.open_cases(at);
        let recent_cases = self.cases.iter().filter(|(opened, _)| (d90..at).contains(opened)).count();
        let negative_share = self.negative_share_90d(at).map_or(String::new(), number);
        let tenure =
            self.first_seen().filter(|first| *first < at).map_or(0.0, |first| (at - first) as f64 / DAY_MS as f64);
        let (mut spend, mut orders) = (0.0, 0);
        for (t, kind) in events {
            if let EventKind::Order(amount) = kind
                && (d90..at).contains(t)
            {
                spend += amount;
                orders += 1;
            }
        }
        vec![
            logins.to_string(),
            number(trend(logins, logins_before)),
            activity.to_string(),
            number(trend(activity, activity_before)),
            since,
            count(events, d30, at, |kind| *kind == EventKind::Help).to_string(),
            latest_nps,
            nps_change,
            latest_csat,
            csat_change,
            open.to_string(),
            recent_cases.to_string(),
            negative_share,
            number(tenure),
            number(spend),
            orders.to_string(),
            self.plan.clone().unwrap_or_default(),
        ]
    }
}

/// The probability threshold with the best F1 on `(probability, churned)` pairs, and its precision
/// and recall. None without churners.
pub fn best_threshold(scored: &[(f64, bool)]) -> Option<(f64, f64, f64)> {
    let positives = scored.iter().filter(|(_, l)| *l).count() as f64;
    if positives == 0.0 {
        return None;
    }
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut true_positives, mut best) = (0.0, None::<(f64, f64, f64, f64)>);
    for (k, (probability, churned)) in sorted.iter().enumerate() {
        true_positives += f64::from(u8::from(*churned));
        if sorted.get(k + 1).is_some_and(|next| next.0 == *probability) {
            continue;
        }
        let precision = true_positives / (k + 1) as f64;
        let recall = true_positives / positives;
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        if best.is_none_or(|b| f1 > b.0) {
            best = Some((f1, *probability, precision, recall));
        }
    }
    best.map(|(_, threshold, precision, recall)| (threshold, precision, recall))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_field_by_field() {
        let problems = ChurnSettings::parse(&serde_json::json!({"inactiveDays": 3, "flagThreshold": 1.5})).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(fields, ["inactiveDays", "flagThreshold"]);
        assert!(ChurnSettings::parse(&serde_json::json!({"bogus": 1})).is_err());
        let problems = ChurnSettings::parse(&serde_json::json!({"model": "forest"})).unwrap_err();
        assert_eq!(problems[0].0, "model");
        assert!(problems[0].1.contains("unknown variant `forest`"), "{problems:?}");
        let settings = ChurnSettings::parse(&serde_json::json!({"cancellationEvent": null})).unwrap();
        assert_eq!(settings.window_days(), 60);
    }

    #[test]
    fn features_and_labels_read_only_the_past() {
        let settings = ChurnSettings::default();
        let day = |d: i64| d * DAY_MS;
        let mut history = CustomerHistory::default();
        for d in (0..90).step_by(3) {
            history.events.push((day(d), EventKind::Login));
        }
        history.events.push((day(95), EventKind::Help));
        history.events.push((day(100), EventKind::Cancellation));
        history.nps = vec![(day(10), 9.0), (day(80), 4.0)];
        let cells = history.features_at(day(97));
        let at = |name: &str| cells[FEATURES.iter().position(|f| *f == name).unwrap()].clone();
        assert_eq!(at("help_visits_30d"), "1");
        assert_eq!(at("latest_nps"), "4");
        assert_eq!(at("nps_change"), "-5");
        assert_eq!(at("days_since_activity"), "2");
        assert_eq!(at("plan"), "");
        assert_eq!(history.churned_after(day(80), day(200), &settings), Some(true));
        assert_eq!(history.churned_after(day(40), day(200), &settings), Some(false));
        assert_eq!(history.churned_after(day(101), day(200), &settings), None, "already gone");
        assert_eq!(history.churned_after(day(80), day(90), &settings), None, "window not over");
    }

    #[test]
    fn the_threshold_maximises_f1() {
        let scored = [(0.9, true), (0.8, true), (0.7, false), (0.4, true), (0.2, false), (0.1, false)];
        let (threshold, precision, recall) = best_threshold(&scored).unwrap();
        // F1 at 0.9, 0.8, 0.7, 0.4: 0.5, 0.8, 0.67, 0.86.
        assert_eq!(threshold, 0.4);
        assert_eq!((precision, recall), (0.75, 1.0));
    }
}
