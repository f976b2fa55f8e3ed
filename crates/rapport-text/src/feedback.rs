//! A piece of feedback from request to analysis: the item as sent (checked field by field), the
//! workspace's settings, and the analysis stored with it (redaction, language, sentiment of the
//! text, of each sentence and of each speaker, topics with offsets).

use rapport_core::identity::Identity;
use rapport_core::problem::FieldProblem;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::language;
use crate::redact::{PiiKind, Redaction, redact};
use crate::sentiment::{Analyzer, Label, SentenceSentiment, Thresholds};
use crate::spikes::SpikeSettings;
use crate::topics::{TopicHit, Topics};

/// Direct feedback (survey comments, widget comments, interview notes), reviews, social mentions,
/// call and chat transcripts.
pub const KINDS: [&str; 4] = ["direct", "review", "social", "transcript"];
/// Longest text, in bytes (a transcript's turns together).
pub const MAX_TEXT: usize = 100_000;
const MAX_LABEL: usize = 200;
const MAX_TURNS: usize = 2_000;

/// One turn of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// `customer`, `agent`, `bot` or `other`.
    pub speaker: String,
    pub text: String,
}

pub const SPEAKERS: [&str; 4] = ["customer", "agent", "bot", "other"];

/// An item as sent, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackInput {
    pub kind: String,
    pub source: String,
    pub channel: Option<String>,
    pub touchpoint: Option<String>,
    pub customer: Option<Identity>,
    /// When it was said; `None`: when it was received.
    pub occurred_at: Option<OffsetDateTime>,
    /// The text (empty for a transcript, whose text is its turns).
    pub text: String,
    pub turns: Vec<Turn>,
    /// The kind's own fields as sent: rating, title, url, author, platform, reach.
    pub details: Map<String, Value>,
    pub idempotency_key: Option<String>,
}

/// A workspace's feedback settings (`GET/PUT /v1/feedback/settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeedbackSettings {
    /// What redaction replaces at ingestion.
    pub redact: Vec<PiiKind>,
    /// Scores at or below are negative.
    pub negative_below: f64,
    /// Scores at or above are positive.
    pub positive_above: f64,
    pub alerts: SpikeSettings,
}

impl Default for FeedbackSettings {
    fn default() -> Self {
        FeedbackSettings {
            redact: PiiKind::ALL.to_vec(),
            negative_below: -0.05,
            positive_above: 0.05,
            alerts: SpikeSettings::default(),
        }
    }
}

impl FeedbackSettings {
    pub fn thresholds(&self) -> Thresholds {
        Thresholds { negative: self.negative_below, positive: self.positive_above }
    }

    /// Checks settings as sent; every problem names its field.
    pub fn parse(value: &Value) -> Result<FeedbackSettings, Vec<FieldProblem>> {
        let settings: FeedbackSettings = match serde_json::from_value(value.clone()) {
            Ok(settings) => settings,
            Err(error) => return Err(vec![FieldProblem::envelope("", &error.to_string())]),
        };
        let mut problems = Vec::new();
        if !(-1.0..=0.0).contains(&settings.negative_below) {
            problems.push(FieldProblem::envelope("negativeBelow", "must be between -1 and 0"));
        }
        if !(0.0..=1.0).contains(&settings.positive_above) {
            problems.push(FieldProblem::envelope("positiveAbove", "must be between 0 and 1"));
        }
        problems.extend(settings.alerts.problems());
        if problems.is_empty() { Ok(settings) } else { Err(problems) }
    }
}

fn label_field(
    object: &Map<String, Value>,
    field: &str,
    index: usize,
    problems: &mut Vec<FieldProblem>,
) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= MAX_LABEL && !text.contains('\0') => {
            Some(text.trim().to_owned())
        }
        Some(_) => {
            problems.push(FieldProblem::new(index, field, "must be a non-empty string of at most 200 bytes"));
            None
        }
    }
}

fn text_field(value: Option<&Value>, field: &str, index: usize, problems: &mut Vec<FieldProblem>) -> Option<String> {
    match value {
        Some(Value::String(text)) if text.trim().is_empty() => {
            problems.push(FieldProblem::new(index, field, "must not be empty"));
            None
        }
        Some(Value::String(text)) if text.len() > MAX_TEXT => {
            problems.push(FieldProblem::new(index, field, &format!("is over {MAX_TEXT} bytes")));
            None
        }
        Some(Value::String(text)) => Some(text.replace('\0', "")),
        None | Some(Value::Null) => {
            problems.push(FieldProblem::new(index, field, "required"));
            None
        }
        Some(_) => {
            problems.push(FieldProblem::new(index, field, "must be a string"));
            None
        }
    }
}

const FIELDS: [&str; 15] = [
    "kind",
    "source",
    "text",
    "turns",
    "customer",
    "channel",
    "touchpoint",
    "occurredAt",
    "rating",
    "title",
    "url",
    "author",
    "platform",
    "reach",
    "idempotencyKey",
];

/// Checks one item (`index` is its position in the request or file); every problem names its field.
pub fn parse_item(
    value: &Value,
    index: usize,
    received_at: OffsetDateTime,
) -> Result<FeedbackInput, Vec<FieldProblem>> {
    let Some(object) = value.as_object() else {
        return Err(vec![FieldProblem::new(index, "", "an item must be a JSON object")]);
    };
    let mut problems = Vec::new();
    for key in object.keys().filter(|key| !FIELDS.contains(&key.as_str())) {
        problems.push(FieldProblem::new(index, key, &format!("unknown field: expected one of {}", FIELDS.join(", "))));
    }
    let kind = match object.get("kind") {
        None | Some(Value::Null) => "direct".to_owned(),
        Some(Value::String(kind)) if KINDS.contains(&kind.as_str()) => kind.clone(),
        Some(_) => {
            problems.push(FieldProblem::new(index, "kind", "must be one of direct, review, social, transcript"));
            "direct".to_owned()
        }
    };
    let source = match label_field(object, "source", index, &mut problems) {
        Some(source) => Some(source.to_lowercase()),
        None if !object.contains_key("source") => {
            problems.push(FieldProblem::new(
                index,
                "source",
                "required: where the feedback came from (survey, widget, trustpilot, twitter, zendesk…)",
            ));
            None
        }
        None => None,
    };
    let mut turns = Vec::new();
    let text = if kind == "transcript" {
        if object.contains_key("text") {
            problems.push(FieldProblem::new(index, "text", "a transcript's text is its turns: send `turns` only"));
        }
        match object.get("turns") {
            Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_TURNS => {
                for (t, turn) in items.iter().enumerate() {
                    let field = format!("turns[{t}]");
                    let speaker = match turn.get("speaker") {
                        Some(Value::String(s)) if SPEAKERS.contains(&s.to_lowercase().as_str()) => Some(s.to_lowercase()),
                        _ => {
                            problems.push(FieldProblem::new(
                                index,
                                &format!("{field}.speaker"),
                                "must be one of customer, agent, bot, other",
                            ));
                            None
                        }
                    };
                    let text = text_field(turn.get("text"), &format!("{field}.text"), index, &mut problems);
                    if let Some(extra) = turn.as_object().and_then(|o| o.keys().find(|k| *k != "speaker" && *k != "text")) {
                        problems.push(FieldProblem::new(index, &format!("{field}.{extra}"), "unknown field: expected speaker, text"));
                    }
                    if let (Some(speaker), Some(text)) = (speaker, text) {
                        turns.push(Turn { speaker, text });
                    }
                }
                let total: usize = turns.iter().map(|t| t.text.len() + 1).sum();
                if total > MAX_TEXT {
                    problems.push(FieldProblem::new(index, "turns", &format!("the turns are over {MAX_TEXT} bytes together")));
                }
            }
            _ => problems.push(FieldProblem::new(
                index,
                "turns",
                &format!("required for a transcript: 1 to {MAX_TURNS} of {{\"speaker\": \"customer\"|\"agent\"|…, \"text\": …}}"),
            )),
        }
        String::new()
    } else {
        if object.contains_key("turns") {
            problems.push(FieldProblem::new(index, "turns", "only a transcript has turns"));
        }
        text_field(object.get("text"), "text", index, &mut problems).unwrap_or_default()
    };
    let customer = match object.get("customer") {
        None | Some(Value::Null) => None,
        Some(Value::String(typed)) => match Identity::parse_typed(typed) {
            Ok(identity) => Some(identity),
            Err(error) => {
                problems.push(FieldProblem::new(index, "customer", &error.to_string()));
                None
            }
        },
        Some(_) => {
            problems.push(FieldProblem::new(index, "customer", "must be TYPE:VALUE, e.g. email:jane@example.com"));
            None
        }
    };
    let channel = label_field(object, "channel", index, &mut problems).map(|c| c.to_lowercase());
    let touchpoint = label_field(object, "touchpoint", index, &mut problems);
    let occurred_at = match object.get("occurredAt") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(time) if time <= received_at + time::Duration::minutes(5) => Some(time),
            Ok(_) => {
                problems.push(FieldProblem::new(index, "occurredAt", "is in the future"));
                None
            }
            Err(_) => {
                problems.push(FieldProblem::new(
                    index,
                    "occurredAt",
                    &format!("`{text}` is not an RFC 3339 date-time (e.g. 2026-01-31T12:00:00Z)"),
                ));
                None
            }
        },
        Some(_) => {
            problems.push(FieldProblem::new(index, "occurredAt", "must be an RFC 3339 date-time string"));
            None
        }
    };
    let mut details = Map::new();
    match object.get("rating") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_f64().is_some_and(|r| (0.0..=10.0).contains(&r)) => {
            details.insert("rating".into(), Value::Number(n.clone()));
        }
        Some(_) => problems.push(FieldProblem::new(index, "rating", "must be a number from 0 to 10 (stars or points)")),
    }
    for field in ["title", "author", "platform"] {
        if let Some(value) = label_field(object, field, index, &mut problems) {
            details.insert(field.into(), Value::from(value));
        }
    }
    if let Some(url) = label_field(object, "url", index, &mut problems) {
        if url.starts_with("https://") || url.starts_with("http://") {
            details.insert("url".into(), Value::from(url));
        } else {
            problems.push(FieldProblem::new(index, "url", "must start with https:// or http://"));
        }
    }
    match object.get("reach") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_u64().is_some() => {
            details.insert("reach".into(), Value::Number(n.clone()));
        }
        Some(_) => problems.push(FieldProblem::new(index, "reach", "must be a whole number of people from 0")),
    }
    let idempotency_key = label_field(object, "idempotencyKey", index, &mut problems);
    match source {
        Some(source) if problems.is_empty() => Ok(FeedbackInput {
            kind,
            source,
            channel,
            touchpoint,
            customer,
            occurred_at,
            text,
            turns,
            details,
            idempotency_key,
        }),
        _ => Err(problems),
    }
}

/// What a workspace analyses feedback with.
pub struct TextContext {
    pub analyzer: Analyzer,
    pub topics: Topics,
    pub redact: Vec<PiiKind>,
}

/// An item's analysis, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysed {
    /// The redacted text; a transcript's turns one per line.
    pub text: String,
    pub redactions: Vec<Redaction>,
    pub language: Option<&'static str>,
    /// The item's sentiment: a transcript's is its customer's.
    pub score: f64,
    pub label: Label,
    /// `{"sentences": […], "topics": […], "speakers": {…}, "sentimentReliable": bool}`.
    pub analysis: Value,
    pub topics: Vec<TopicHit>,
    /// A transcript's turns as `{"speaker", "start", "end"}` offsets into `text`.
    pub turns: Vec<Value>,
}

/// A sentence with its offsets and sentiment (and its speaker, in a transcript).
pub fn sentence_json(sentence: &SentenceSentiment, speaker: Option<&str>) -> Value {
    let mut value =
        json!({"start": sentence.start, "end": sentence.end, "score": round4(sentence.score), "label": sentence.label});
    if let Some(speaker) = speaker {
        value["speaker"] = Value::from(speaker);
    }
    value
}

/// A topic hit as the API, the store and the CLI show it: score on four decimals, offsets.
pub fn topic_json(hit: &TopicHit) -> Value {
    json!({"topic": hit.topic, "score": round4(hit.score), "label": hit.label,
           "mentions": hit.mentions, "sentences": hit.sentences})
}

/// A score on four decimals, as the reference implementation prints them.
pub fn round4(score: f64) -> f64 {
    (score * 10_000.0).round() / 10_000.0
}

/// Redacts, detects the language, scores and finds topics. A transcript's turns are redacted one
/// by one and joined by line breaks (a sentence never crosses a turn); its score is the
/// customer's turns', the agent's is kept apart, and topics are read in what the customer said.
pub fn analyse(context: &TextContext, input: &FeedbackInput) -> Analysed {
    let mut redactions = Vec::new();
    let mut turn_spans = Vec::new();
    let text = if input.kind == "transcript" {
        let mut joined = String::new();
        for turn in &input.turns {
            if !joined.is_empty() {
                joined.push('\n');
            }
            let redacted = redact(turn.text.trim(), &context.redact);
            let offset = joined.len();
            redactions.extend(redacted.redactions.iter().map(|r| Redaction {
                kind: r.kind,
                start: r.start + offset,
                end: r.end + offset,
            }));
            joined.push_str(&redacted.text);
            turn_spans.push((turn.speaker.clone(), offset, joined.len()));
        }
        joined
    } else {
        let redacted = redact(&input.text, &context.redact);
        redactions = redacted.redactions;
        redacted.text
    };
    let language = language::detect(&text);
    let analysis = context.analyzer.analyse(&text);
    let speaker_of = |start: usize| {
        turn_spans.iter().find(|(_, s, e)| *s <= start && start < *e).map(|(speaker, _, _)| speaker.as_str())
    };
    let thresholds = context.analyzer.thresholds();
    let (score, sentences_for_topics, speakers) = if turn_spans.is_empty() {
        (analysis.score, analysis.sentences.clone(), Value::Null)
    } else {
        let mut speakers = Map::new();
        for speaker in SPEAKERS {
            let said: Vec<&str> =
                turn_spans.iter().filter(|(s, _, _)| s == speaker).map(|(_, start, end)| &text[*start..*end]).collect();
            if !said.is_empty() {
                let sentiment = context.analyzer.score(&said.join("\n"));
                speakers.insert(
                    speaker.to_owned(),
                    json!({"score": round4(sentiment.score), "label": sentiment.label, "turns": said.len()}),
                );
            }
        }
        let customer_score = speakers.get("customer").and_then(|c| c["score"].as_f64());
        let customer_sentences: Vec<SentenceSentiment> =
            analysis.sentences.iter().copied().filter(|s| speaker_of(s.start) == Some("customer")).collect();
        (customer_score.unwrap_or(0.0), customer_sentences, Value::Object(speakers))
    };
    let topics = context.topics.find(&text, &sentences_for_topics);
    let sentences: Vec<Value> = analysis
        .sentences
        .iter()
        .map(|s| sentence_json(s, if turn_spans.is_empty() { None } else { speaker_of(s.start) }))
        .collect();
    let topic_values: Vec<Value> = topics.iter().map(topic_json).collect();
    let mut analysis_json = json!({
        "sentences": sentences,
        "topics": topic_values,
        "sentimentReliable": language::is_supported(language),
    });
    if !speakers.is_null() {
        analysis_json["speakers"] = speakers;
    }
    Analysed {
        text: text.clone(),
        redactions,
        language,
        score,
        label: thresholds.label(score),
        analysis: analysis_json,
        topics,
        turns: turn_spans
            .iter()
            .map(|(speaker, start, end)| json!({"speaker": speaker, "start": start, "end": end}))
            .collect(),
    }
}

/// Topics found again in a stored item with a new taxonomy: the sentences are the stored ones
/// (for a transcript, the customer's).
pub fn retag(topics: &Topics, text: &str, analysis: &Value) -> Vec<TopicHit> {
    let sentences: Vec<SentenceSentiment> = analysis["sentences"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|s| s.get("speaker").is_none_or(|speaker| speaker == "customer"))
                .filter_map(|s| {
                    let label = serde_json::from_value(s["label"].clone()).ok()?;
                    Some(SentenceSentiment {
                        start: s["start"].as_u64()? as usize,
                        end: s["end"].as_u64()? as usize,
                        score: s["score"].as_f64()?,
                        label,
                    })
                })
                .filter(|s| s.start <= s.end && s.end <= text.len())
                .collect()
        })
        .unwrap_or_default();
    topics.find(text, &sentences)
}

/// The analysis with its topics replaced by `hits`.
pub fn with_topics(analysis: &Value, hits: &[TopicHit]) -> Value {
    let mut analysis = analysis.clone();
    analysis["topics"] = Value::Array(hits.iter().map(topic_json).collect());
    analysis
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topics::Taxonomy;

    fn context() -> TextContext {
        TextContext {
            analyzer: Analyzer::default(),
            topics: Topics::compile(&Taxonomy::default_for_customer_experience(), Thresholds::default()).unwrap(),
            redact: PiiKind::ALL.to_vec(),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn a_transcript_scores_the_customer_apart_from_the_agent() {
        let item = json!({"kind": "transcript", "source": "zendesk", "turns": [
            {"speaker": "agent", "text": "Thanks for calling, I'm happy to help you today!"},
            {"speaker": "customer", "text": "I can't log in and I'm furious. Call me on +44 20 7946 0958."},
            {"speaker": "agent", "text": "I'm so sorry, that is awful. Let me fix it."},
            {"speaker": "customer", "text": "This is terrible service."}
        ]});
        let input = parse_item(&item, 0, now()).unwrap();
        let analysed = analyse(&context(), &input);
        let speakers = &analysed.analysis["speakers"];
        assert!(speakers["customer"]["score"].as_f64().unwrap() < -0.3, "{speakers}");
        assert!(speakers["agent"]["score"].as_f64().unwrap() > 0.0, "{speakers}");
        assert_eq!(analysed.score, speakers["customer"]["score"].as_f64().unwrap());
        assert_eq!(analysed.label, Label::Negative);
        // Topics come from the customer's turns: the agent's "help" and "fix" are not support topics.
        let topics: Vec<&str> = analysed.topics.iter().map(|t| t.topic.as_str()).collect();
        assert_eq!(topics, ["login"]);
        assert!(analysed.text.contains("Call me on [PHONE]."));
        assert_eq!(analysed.redactions.len(), 1);
        let r = analysed.redactions[0];
        assert_eq!(&analysed.text[r.start..r.end], "[PHONE]");
        let turn = &analysed.turns[1];
        let (start, end) = (turn["start"].as_u64().unwrap() as usize, turn["end"].as_u64().unwrap() as usize);
        assert!(analysed.text[start..end].starts_with("I can't log in"));
        for sentence in analysed.analysis["sentences"].as_array().unwrap() {
            let start = sentence["start"].as_u64().unwrap() as usize;
            let speaker = analysed
                .turns
                .iter()
                .find(|t| t["start"].as_u64().unwrap() as usize <= start && start < t["end"].as_u64().unwrap() as usize)
                .unwrap()["speaker"]
                .clone();
            assert_eq!(sentence["speaker"], speaker);
        }
    }

    #[test]
    fn items_are_checked_field_by_field() {
        let problems = parse_item(
            &json!({"kind": "rumour", "text": "", "rating": 11, "url": "ftp://x", "customer": "nope", "reach": -1, "colour": 1}),
            3,
            now(),
        )
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for field in ["colour", "kind", "source", "text", "customer", "rating", "url", "reach"] {
            assert!(fields.contains(&field), "{field} missing from {fields:?}");
        }
        assert!(problems.iter().all(|p| p.index == Some(3)));
        let problems = parse_item(
            &json!({"kind": "transcript", "source": "chat", "turns": [{"speaker": "robot", "text": "hi"}]}),
            0,
            now(),
        )
        .unwrap_err();
        assert_eq!(problems[0].field, "turns[0].speaker");
        let future = (now() + time::Duration::days(1)).format(&Rfc3339).unwrap();
        let problems = parse_item(&json!({"source": "x", "text": "hi", "occurredAt": future}), 0, now()).unwrap_err();
        assert_eq!(problems[0].field, "occurredAt");
    }

    #[test]
    fn a_review_keeps_its_own_fields_and_is_redacted() {
        let item = json!({"kind": "review", "source": "Trustpilot", "text": "Great shoes, terrible courier. Mail me: a@b.co",
                          "rating": 3, "url": "https://trustpilot.com/r/1", "author": "@jo", "title": "Mixed"});
        let input = parse_item(&item, 0, now()).unwrap();
        assert_eq!(input.source, "trustpilot");
        assert_eq!(input.details["rating"], 3);
        let analysed = analyse(&context(), &input);
        assert_eq!(analysed.text, "Great shoes, terrible courier. Mail me: [EMAIL]");
        assert!(analysed.topics.iter().any(|t| t.topic == "delivery"));
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(
            FeedbackSettings::parse(&serde_json::to_value(FeedbackSettings::default()).unwrap()).unwrap(),
            FeedbackSettings::default()
        );
        let mut bad = serde_json::to_value(FeedbackSettings::default()).unwrap();
        bad["negativeBelow"] = json!(0.5);
        bad["alerts"]["falseDiscoveryRate"] = json!(2);
        let problems = FeedbackSettings::parse(&bad).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["negativeBelow", "alerts.falseDiscoveryRate"]);
        assert!(FeedbackSettings::parse(&json!({"redact": ["ssn"]})).is_err());
    }
}
