//! Privacy: consent per purpose and channel, and retention rules per kind of data (SECURITY.md,
//! "Consent" and "Retention").
//!
//! Consent is what a person last said about one purpose, on one channel or on all of them. The
//! most specific statement wins (a channel's own over the all-channels one), and between two
//! equally specific ones the newer. Where a person said nothing the default holds: analytics and
//! surveys are allowed until refused (the legitimate interest of a company listening to its own
//! customers), marketing is refused until given (opt-in).

use serde_json::{Map, Value};

use crate::problem::FieldProblem;

/// What a person's data may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// Their behaviour and answers analysed with their identity (identified exports).
    Analytics,
    /// Being asked for feedback (survey invitations on any channel).
    Surveys,
    /// Being sent marketing (recorded for the systems that send it; Rapport sends none).
    Marketing,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Analytics, Purpose::Surveys, Purpose::Marketing];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Analytics => "analytics",
            Purpose::Surveys => "surveys",
            Purpose::Marketing => "marketing",
        }
    }

    pub fn parse(text: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|purpose| purpose.as_str() == text)
    }

    /// Whether the purpose is allowed for someone who never said.
    pub fn default_granted(self) -> bool {
        !matches!(self, Purpose::Marketing)
    }
}

/// Where a consent statement came from.
pub const SOURCES: [&str; 4] = ["api", "unsubscribe", "segment", "import"];

/// One statement of consent as stored: `channel` None means every channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChoice {
    pub purpose: Purpose,
    pub channel: Option<String>,
    pub granted: bool,
    pub source: String,
    pub at_ms: i64,
}

/// Whether `choices` (everything one person stated) allow `purpose` on `channel` (None: asks about
/// every channel at once, so only all-channel statements count).
pub fn allows(choices: &[ConsentChoice], purpose: Purpose, channel: Option<&str>) -> bool {
    deciding(choices, purpose, channel).map_or(purpose.default_granted(), |choice| choice.granted)
}

/// The statement that decides `purpose` on `channel`: the newest for the channel itself, else the
/// newest for every channel; None when the default holds.
pub fn deciding<'a>(
    choices: &'a [ConsentChoice],
    purpose: Purpose,
    channel: Option<&str>,
) -> Option<&'a ConsentChoice> {
    let specific = |choice: &&ConsentChoice| match (&choice.channel, channel) {
        (Some(stated), Some(asked)) => stated.eq_ignore_ascii_case(asked),
        _ => false,
    };
    let of_purpose = || choices.iter().filter(|choice| choice.purpose == purpose);
    let own = of_purpose().filter(specific).max_by_key(|choice| choice.at_ms);
    let general = of_purpose().filter(|choice| choice.channel.is_none()).max_by_key(|choice| choice.at_ms);
    own.or(general)
}

/// A person's consent as a report: each purpose's all-channel answer, and each channel someone
/// stated something for.
pub fn summary(choices: &[ConsentChoice]) -> Value {
    let mut purposes = Map::new();
    for purpose in Purpose::ALL {
        let mut channels: Vec<&str> = choices
            .iter()
            .filter(|choice| choice.purpose == purpose)
            .filter_map(|choice| choice.channel.as_deref())
            .collect();
        channels.sort_unstable();
        channels.dedup();
        let by_channel: Map<String, Value> = channels
            .into_iter()
            .map(|channel| (channel.to_owned(), Value::Bool(allows(choices, purpose, Some(channel)))))
            .collect();
        purposes.insert(
            purpose.as_str().to_owned(),
            serde_json::json!({
                "granted": allows(choices, purpose, None),
                "default": !choices.iter().any(|choice| choice.purpose == purpose),
                "channels": by_channel,
            }),
        );
    }
    Value::Object(purposes)
}

/// A consent statement as the API takes it (`{"purpose", "channel"?, "granted"}`), before it has
/// a source and a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatedConsent {
    pub purpose: Purpose,
    pub channel: Option<String>,
    pub granted: bool,
}

const MAX_CHOICES: usize = 50;
const MAX_CHANNEL_LEN: usize = 64;

/// Checks the `choices` array of a consent request, naming every problem by its field.
pub fn parse_choices(value: Option<&Value>) -> Result<Vec<StatedConsent>, Vec<FieldProblem>> {
    let Some(Value::Array(items)) = value else {
        return Err(vec![FieldProblem::envelope("choices", "required: an array of {purpose, channel, granted}")]);
    };
    if items.is_empty() || items.len() > MAX_CHOICES {
        return Err(vec![FieldProblem::envelope("choices", &format!("must hold 1 to {MAX_CHOICES} choices"))]);
    }
    let mut problems = Vec::new();
    let mut stated = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let field = |name: &str| format!("choices[{index}].{name}");
        let Some(object) = item.as_object() else {
            problems.push(FieldProblem::envelope(&format!("choices[{index}]"), "must be an object"));
            continue;
        };
        for key in object.keys().filter(|key| !["purpose", "channel", "granted"].contains(&key.as_str())) {
            problems.push(FieldProblem::envelope(&field(key), "unknown field: expected purpose, channel, granted"));
        }
        let purpose = object.get("purpose").and_then(Value::as_str).and_then(Purpose::parse);
        if purpose.is_none() {
            problems.push(FieldProblem::envelope(&field("purpose"), "required: analytics, surveys or marketing"));
        }
        let channel = match object.get("channel") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(channel))
                if !channel.trim().is_empty()
                    && channel.len() <= MAX_CHANNEL_LEN
                    && channel.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                Ok(Some(channel.to_ascii_lowercase()))
            }
            Some(_) => Err(FieldProblem::envelope(
                &field("channel"),
                &format!(
                    "must be a channel name (letters, digits, - and _, at most {MAX_CHANNEL_LEN}) or null for every channel"
                ),
            )),
        };
        let granted = object.get("granted").and_then(Value::as_bool);
        if granted.is_none() {
            problems.push(FieldProblem::envelope(&field("granted"), "required: true or false"));
        }
        match (purpose, channel, granted) {
            (Some(purpose), Ok(channel), Some(granted)) => stated.push(StatedConsent { purpose, channel, granted }),
            (_, Err(problem), _) => problems.push(problem),
            _ => {}
        }
    }
    if problems.is_empty() { Ok(stated) } else { Err(problems) }
}

/// The purposes a Segment `context.consent.categoryPreferences` object speaks for. Segment's
/// categories are the workspace's own names; Rapport reads `Analytics`, `Surveys` (or `Feedback`)
/// and `Marketing` (or `Advertising`), in any case, and ignores the rest. An event with no
/// consent object, or an empty one, says nothing.
pub fn from_segment(context: &Map<String, Value>) -> Vec<StatedConsent> {
    let Some(Value::Object(preferences)) =
        context.get("consent").and_then(|consent| consent.get("categoryPreferences"))
    else {
        return Vec::new();
    };
    let mut stated: Vec<StatedConsent> = Vec::new();
    for (category, value) in preferences {
        let Some(granted) = value.as_bool() else { continue };
        let purpose = match category.to_ascii_lowercase().as_str() {
            "analytics" => Purpose::Analytics,
            "surveys" | "feedback" => Purpose::Surveys,
            "marketing" | "advertising" => Purpose::Marketing,
            _ => continue,
        };
        // Two categories for one purpose (Marketing and Advertising): a refusal in either wins.
        match stated.iter_mut().find(|known| known.purpose == purpose) {
            Some(known) => known.granted &= granted,
            None => stated.push(StatedConsent { purpose, channel: None, granted }),
        }
    }
    stated
}

/// The kinds of data retention rules apply to, each with the table rows it removes.
pub const RETENTION_KINDS: [&str; 5] = ["events", "responses", "feedback", "invitations", "cases"];

const MIN_RETENTION_DAYS: i64 = 1;
const MAX_RETENTION_DAYS: i64 = 36_500;

/// How long each kind of data is kept, in days (None: kept until erased).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionRules {
    pub days: Vec<(&'static str, i64)>,
}

impl RetentionRules {
    pub fn days_for(&self, kind: &str) -> Option<i64> {
        self.days.iter().find(|(known, _)| *known == kind).map(|(_, days)| *days)
    }

    pub fn to_json(&self) -> Value {
        let retention: Map<String, Value> = RETENTION_KINDS
            .iter()
            .map(|kind| ((*kind).to_owned(), self.days_for(kind).map_or(Value::Null, Value::from)))
            .collect();
        serde_json::json!({ "retention_days": retention })
    }

    /// The moment before which `kind` is removed, at `now_ms`.
    pub fn cutoff_ms(&self, kind: &str, now_ms: i64) -> Option<i64> {
        self.days_for(kind).map(|days| now_ms - days * 86_400_000)
    }
}

/// Checks privacy settings as sent: `{"retention_days": {"events": 730, "cases": null, …}}`.
pub fn parse_retention(value: &Value) -> Result<RetentionRules, Vec<FieldProblem>> {
    let Some(object) = value.as_object() else {
        return Err(vec![FieldProblem::envelope("", "privacy settings must be a JSON object")]);
    };
    let mut problems = Vec::new();
    for key in object.keys().filter(|key| key.as_str() != "retention_days") {
        problems.push(FieldProblem::envelope(key, "unknown field: expected retention_days"));
    }
    let mut rules = RetentionRules::default();
    match object.get("retention_days") {
        None | Some(Value::Null) => {}
        Some(Value::Object(days)) => {
            for (kind, value) in days {
                let field = format!("retention_days.{kind}");
                let Some(known) = RETENTION_KINDS.iter().find(|known| **known == kind) else {
                    problems.push(FieldProblem::envelope(
                        &field,
                        &format!("unknown kind: expected {}", RETENTION_KINDS.join(", ")),
                    ));
                    continue;
                };
                match value {
                    Value::Null => {}
                    Value::Number(number) => match number.as_i64() {
                        Some(days) if (MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&days) => {
                            rules.days.push((known, days));
                        }
                        _ => problems.push(FieldProblem::envelope(
                            &field,
                            &format!("must be a whole number of days from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}, or null to keep"),
                        )),
                    },
                    _ => problems.push(FieldProblem::envelope(&field, "must be a number of days, or null to keep")),
                }
            }
        }
        Some(_) => problems.push(FieldProblem::envelope("retention_days", "must be an object of kind: days")),
    }
    if problems.is_empty() { Ok(rules) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn choice(purpose: Purpose, channel: Option<&str>, granted: bool, at_ms: i64) -> ConsentChoice {
        ConsentChoice { purpose, channel: channel.map(str::to_owned), granted, source: "api".to_owned(), at_ms }
    }

    #[test]
    fn defaults_allow_analytics_and_surveys_but_not_marketing() {
        assert!(allows(&[], Purpose::Analytics, None));
        assert!(allows(&[], Purpose::Surveys, Some("email")));
        assert!(!allows(&[], Purpose::Marketing, Some("email")));
    }

    #[test]
    fn the_channels_own_statement_beats_the_general_one_and_newer_beats_older() {
        let choices = [
            choice(Purpose::Surveys, None, false, 10),
            choice(Purpose::Surveys, Some("sms"), true, 5),
            choice(Purpose::Marketing, Some("email"), true, 1),
            choice(Purpose::Marketing, Some("email"), false, 2),
        ];
        assert!(!allows(&choices, Purpose::Surveys, Some("email")));
        assert!(allows(&choices, Purpose::Surveys, Some("SMS")));
        assert!(!allows(&choices, Purpose::Surveys, None));
        assert!(!allows(&choices, Purpose::Marketing, Some("email")));
        assert!(allows(&choices, Purpose::Analytics, Some("web")));
        let report = summary(&choices);
        assert_eq!(report["surveys"]["granted"], false);
        assert_eq!(report["surveys"]["channels"]["sms"], true);
        assert_eq!(report["analytics"]["default"], true);
    }

    #[test]
    fn choices_are_checked_field_by_field() {
        let good = json!([{"purpose": "surveys", "channel": "Email", "granted": false}, {"purpose": "marketing", "granted": true}]);
        let stated = parse_choices(Some(&good)).unwrap();
        assert_eq!(
            stated[0],
            StatedConsent { purpose: Purpose::Surveys, channel: Some("email".to_owned()), granted: false }
        );
        assert_eq!(stated[1].channel, None);
        let bad = json!([{"purpose": "spam", "granted": "yes", "channel": "e mail", "extra": 1}]);
        let problems = parse_choices(Some(&bad)).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
        assert_eq!(fields, ["choices[0].extra", "choices[0].purpose", "choices[0].granted", "choices[0].channel"]);
        assert_eq!(parse_choices(None).unwrap_err()[0].field, "choices");
        assert_eq!(parse_choices(Some(&json!([]))).unwrap_err()[0].field, "choices");
    }

    #[test]
    fn segment_categories_map_to_purposes_and_a_refusal_wins() {
        let context = json!({"consent": {"categoryPreferences": {
            "Analytics": false, "Advertising": true, "Marketing": false, "Functional": true, "Surveys": "yes"}}});
        let stated = from_segment(context.as_object().unwrap());
        assert_eq!(stated.len(), 2);
        assert!(stated.contains(&StatedConsent { purpose: Purpose::Analytics, channel: None, granted: false }));
        assert!(stated.contains(&StatedConsent { purpose: Purpose::Marketing, channel: None, granted: false }));
        assert!(from_segment(json!({"consent": {}}).as_object().unwrap()).is_empty());
        assert!(from_segment(&Map::new()).is_empty());
    }

    #[test]
    fn retention_rules_are_checked_and_give_cutoffs() {
        let rules = parse_retention(&json!({"retention_days": {"events": 30, "cases": null}})).unwrap();
        assert_eq!(rules.days_for("events"), Some(30));
        assert_eq!(rules.cutoff_ms("events", 100 * 86_400_000), Some(70 * 86_400_000));
        assert_eq!(rules.cutoff_ms("cases", 0), None);
        assert_eq!(rules.to_json()["retention_days"]["events"], 30);
        let problems = parse_retention(&json!({"retention_days": {"events": 0, "mail": 3, "feedback": "1y"}, "x": 1}))
            .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
        assert_eq!(fields, ["x", "retention_days.events", "retention_days.feedback", "retention_days.mail"]);
    }
}
