//! Feedback as a service: items from a request or a file to stored, analysed records (redacted,
//! sentiment, topics), survey comments as feedback, the workspace's taxonomy and settings (a new
//! taxonomy re-tags what is stored), and the shapes items are read in.

use std::sync::{Arc, Mutex, OnceLock};

use rapport_core::ids::WorkspaceId;
use rapport_core::metrics::stats::wilson;
use rapport_core::problem::FieldProblem;
use rapport_core::survey_answers::AnswerValue;
use rapport_store::Store;
use rapport_store::feedback_records::{CountBy, FeedbackFilter, FeedbackRecord, NewFeedback, NewFeedbackTopic};
use rapport_store::records::NewResponse;
use rapport_text::feedback::{self, Analysed, FeedbackInput, FeedbackSettings, TextContext};
use rapport_text::sentiment::Analyzer;
use rapport_text::themes::ThemeItem;
use rapport_text::topics::{Span, Taxonomy, Topics};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::error::{ApiError, ErrorCode, ErrorDetail, problems_phrase};

/// Most items in one request.
pub const MAX_ITEMS: usize = 1_000;
/// Items re-tagged per transaction after a taxonomy change.
const RETAG_BATCH: usize = 500;

pub fn invalid_feedback(problems: Vec<FieldProblem>) -> ApiError {
    let message = format!("the feedback has {}; nothing was stored", problems_phrase(problems.len()));
    ApiError::new(ErrorCode::InvalidFeedback, message)
        .with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

pub fn invalid_taxonomy(problems: Vec<FieldProblem>) -> ApiError {
    let message = format!("the taxonomy has {}; nothing was changed", problems_phrase(problems.len()));
    ApiError::new(ErrorCode::InvalidTaxonomy, message)
        .with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

fn parse_settings(saved: Option<&Value>) -> Result<FeedbackSettings, ApiError> {
    match saved {
        None => Ok(FeedbackSettings::default()),
        Some(saved) => FeedbackSettings::parse(saved)
            .map_err(|problems| ApiError::internal(format!("stored feedback settings are unreadable: {problems:?}"))),
    }
}

fn parse_taxonomy(saved: Option<&Value>) -> Result<Taxonomy, ApiError> {
    match saved {
        None => Ok(Taxonomy::default_for_customer_experience()),
        Some(saved) => serde_json::from_value(saved.clone())
            .map_err(|error| ApiError::internal(format!("the stored taxonomy is unreadable: {error}"))),
    }
}

/// The workspace's feedback settings; the defaults until some are saved.
pub async fn settings(store: &Store, workspace: &WorkspaceId) -> Result<FeedbackSettings, ApiError> {
    parse_settings(store.feedback_settings(workspace).await?.as_ref())
}

/// The workspace's taxonomy; the default customer-experience taxonomy until one is saved.
pub async fn taxonomy(store: &Store, workspace: &WorkspaceId) -> Result<Taxonomy, ApiError> {
    parse_taxonomy(store.feedback_taxonomy(workspace).await?.as_ref())
}

/// Compiled text contexts by workspace, with the documents they were compiled from: compiling a
/// taxonomy for every survey comment was measurable on the hosted page (BENCHMARKS.md).
type ContextCache = std::collections::HashMap<String, (Option<Value>, Option<Value>, Arc<TextContext>)>;

/// What the workspace analyses feedback with: its thresholds, taxonomy and redaction (compiled
/// once per change of its settings or taxonomy, in this process).
pub async fn text_context(store: &Store, workspace: &WorkspaceId) -> Result<Arc<TextContext>, ApiError> {
    static CACHE: OnceLock<Mutex<ContextCache>> = OnceLock::new();
    let saved_settings = store.feedback_settings(workspace).await?;
    let saved_taxonomy = store.feedback_taxonomy(workspace).await?;
    let cache = CACHE.get_or_init(Default::default);
    if let Some((s, t, context)) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(workspace.as_str())
        && *s == saved_settings
        && *t == saved_taxonomy
    {
        return Ok(context.clone());
    }
    let settings = parse_settings(saved_settings.as_ref())?;
    let taxonomy = parse_taxonomy(saved_taxonomy.as_ref())?;
    let topics = Topics::compile(&taxonomy, settings.thresholds())
        .map_err(|problems| ApiError::internal(format!("the stored taxonomy does not compile: {problems:?}")))?;
    let context =
        Arc::new(TextContext { analyzer: Analyzer::new(settings.thresholds()), topics, redact: settings.redact });
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(workspace.as_str().to_owned(), (saved_settings, saved_taxonomy, context.clone()));
    Ok(context)
}

/// An analysed item as the store takes it.
pub fn new_feedback(
    input: &FeedbackInput,
    analysed: Analysed,
    identity_key: Option<String>,
    received_at: OffsetDateTime,
) -> NewFeedback {
    let mut details = input.details.clone();
    if !analysed.turns.is_empty() {
        details.insert("turns".into(), Value::Array(analysed.turns));
    }
    let topics = analysed
        .topics
        .iter()
        .map(|hit| NewFeedbackTopic {
            topic: hit.topic.clone(),
            score: hit.score,
            label: hit.label.as_str().to_owned(),
        })
        .collect();
    NewFeedback {
        kind: input.kind.clone(),
        source: input.source.clone(),
        channel: input.channel.clone(),
        touchpoint: input.touchpoint.clone(),
        identity_key: identity_key.or_else(|| input.customer.as_ref().map(|c| c.key())),
        occurred_at_ms: rapport_core::resolution::millis(input.occurred_at.unwrap_or(received_at)),
        received_at_ms: rapport_core::resolution::millis(received_at),
        text: analysed.text,
        language: analysed.language.map(str::to_owned),
        score: feedback::round4(analysed.score),
        label: analysed.label.as_str().to_owned(),
        details: Value::Object(details),
        analysis: analysed.analysis,
        redactions: serde_json::to_value(&analysed.redactions).unwrap_or(Value::Null),
        topics,
        idempotency_key: input.idempotency_key.clone(),
    }
}

/// The items of a request body: one item, or `{"items": [...]}`; every problem of every item.
pub fn parse_items(body: &Value, received_at: OffsetDateTime) -> Result<Vec<FeedbackInput>, ApiError> {
    let values: Vec<&Value> = match body.get("items") {
        Some(Value::Array(items)) if body.as_object().is_some_and(|o| o.len() == 1) => items.iter().collect(),
        Some(_) => {
            return Err(invalid_feedback(vec![FieldProblem::envelope(
                "items",
                "must be an array of items, alone in the body",
            )]));
        }
        None if body.is_array() => {
            return Err(invalid_feedback(vec![FieldProblem::envelope(
                "",
                "send one item as an object, or several as {\"items\": [...]}",
            )]));
        }
        None => vec![body],
    };
    if values.is_empty() || values.len() > MAX_ITEMS {
        return Err(invalid_feedback(vec![FieldProblem::envelope(
            "items",
            &format!("must hold 1 to {MAX_ITEMS} items (got {})", values.len()),
        )]));
    }
    let mut inputs = Vec::with_capacity(values.len());
    let mut problems = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        match feedback::parse_item(value, index, received_at) {
            Ok(input) => inputs.push(input),
            Err(found) => problems.extend(found),
        }
    }
    if problems.is_empty() { Ok(inputs) } else { Err(invalid_feedback(problems)) }
}

/// Checks, analyses and stores the items of a request, all or none. Returns each item's id and
/// whether it is new (false: its `idempotencyKey` was seen before).
pub async fn submit(
    store: &Store,
    workspace: &WorkspaceId,
    body: &Value,
    received_at: OffsetDateTime,
) -> Result<Vec<(String, bool)>, ApiError> {
    let inputs = parse_items(body, received_at)?;
    let context = text_context(store, workspace).await?;
    let items = analyse_all(&context, &inputs, received_at);
    Ok(store.insert_feedback(workspace, &items).await?)
}

pub fn analyse_all(context: &TextContext, inputs: &[FeedbackInput], received_at: OffsetDateTime) -> Vec<NewFeedback> {
    inputs.iter().map(|input| new_feedback(input, feedback::analyse(context, input), None, received_at)).collect()
}

/// A response's open-text answers as feedback (source `survey`), attached to the response so the
/// store keeps them in its transaction.
pub fn attach_survey_comments(context: &TextContext, response: &mut NewResponse, received_at: OffsetDateTime) {
    let submitted = OffsetDateTime::from_unix_timestamp_nanos(i128::from(response.submitted_at_ms) * 1_000_000)
        .unwrap_or(received_at);
    let mut comments = Vec::new();
    for answer in &response.answers {
        let AnswerValue::Text(text) = &answer.value else { continue };
        if text.trim().is_empty() {
            continue;
        }
        let mut details = Map::new();
        details.insert("surveyId".into(), Value::from(response.survey_id.clone()));
        details.insert("questionId".into(), Value::from(answer.question.clone()));
        let input = FeedbackInput {
            kind: "direct".into(),
            source: "survey".into(),
            channel: response.channel.clone(),
            touchpoint: response.touchpoint.clone(),
            customer: None,
            occurred_at: Some(submitted),
            text: text.chars().take(feedback::MAX_TEXT).collect(),
            turns: Vec::new(),
            details,
            idempotency_key: None,
        };
        let analysed = feedback::analyse(context, &input);
        comments.push(new_feedback(&input, analysed, Some(response.identity_key.clone()), received_at));
    }
    response.feedback = comments;
}

/// Saves a new taxonomy and finds topics again in every stored item, in batches. Returns the
/// taxonomy and how many items were re-tagged.
pub async fn replace_taxonomy(
    store: &Store,
    workspace: &WorkspaceId,
    body: &Value,
) -> Result<(Taxonomy, usize), ApiError> {
    let taxonomy: Taxonomy = serde_json::from_value(body.clone())
        .map_err(|error| invalid_taxonomy(vec![FieldProblem::envelope("", &error.to_string())]))?;
    let settings = settings(store, workspace).await?;
    let topics = Topics::compile(&taxonomy, settings.thresholds()).map_err(invalid_taxonomy)?;
    let as_json = serde_json::to_value(&taxonomy).map_err(ApiError::internal)?;
    store.put_feedback_taxonomy(workspace, &as_json).await?;
    let mut after = String::new();
    let mut retagged = 0;
    loop {
        let page = store.feedback_texts(workspace, &after, RETAG_BATCH).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let updates: Vec<_> = page
            .into_iter()
            .map(|mut item| {
                let hits = feedback::retag(&topics, &item.text, &item.analysis);
                item.analysis = feedback::with_topics(&item.analysis, &hits);
                let rows = hits
                    .iter()
                    .map(|hit| NewFeedbackTopic {
                        topic: hit.topic.clone(),
                        score: hit.score,
                        label: hit.label.as_str().to_owned(),
                    })
                    .collect();
                (item, rows)
            })
            .collect();
        retagged += updates.len();
        store.retag_feedback(workspace, &updates).await?;
        tracing::info!(workspace = %workspace.as_str(), retagged, "re-tagging feedback with the new taxonomy");
    }
    Ok((taxonomy, retagged))
}

/// An item as the API shows it; `customer` is the customer its identity belongs to now.
pub fn feedback_json(record: &FeedbackRecord, customer: Option<&str>) -> Value {
    json!({
        "id": record.id,
        "kind": record.kind,
        "source": record.source,
        "channel": record.channel,
        "touchpoint": record.touchpoint,
        "identity": record.identity_key,
        "customer": customer,
        "occurredAt": crate::services::rfc3339(record.occurred_at_ms),
        "receivedAt": crate::services::rfc3339(record.received_at_ms),
        "text": record.text,
        "language": record.language,
        "sentiment": {"score": record.score, "label": record.label},
        "details": record.details,
        "analysis": record.analysis,
        "redactions": record.redactions,
    })
}

/// Per topic over `from..to`: mentions, their share of all feedback, the negative share of the
/// mentions (each with n and a 95% Wilson interval).
pub async fn topic_summary(
    store: &Store,
    workspace: &WorkspaceId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Value, ApiError> {
    let span = to_ms - from_ms;
    let all = store.feedback_counts(workspace, CountBy::All, from_ms, to_ms, span).await?;
    let total: u64 = all.iter().map(|c| c.total).sum();
    let counts = store.feedback_counts(workspace, CountBy::Topic, from_ms, to_ms, span).await?;
    let taxonomy = taxonomy(store, workspace).await?;
    let interval = |k: u64, n: u64| wilson(k, n).map(|i| json!({"low": i.low, "high": i.high}));
    let topics: Vec<Value> = taxonomy
        .topics
        .iter()
        .map(|topic| {
            let (mentions, negative) = counts
                .iter()
                .filter(|c| c.key == topic.id)
                .fold((0, 0), |(m, n), c| (m + c.total, n + c.negative));
            json!({
                "topic": topic.id,
                "name": topic.name,
                "parent": topic.parent,
                "mentions": mentions,
                "shareOfFeedback": {"value": (total > 0).then(|| mentions as f64 / total as f64), "n": total, "interval": interval(mentions, total)},
                "negativeShare": {"value": (mentions > 0).then(|| negative as f64 / mentions as f64), "n": mentions, "interval": interval(negative, mentions)},
            })
        })
        .collect();
    Ok(
        json!({"from": crate::services::rfc3339(from_ms), "to": crate::services::rfc3339(to_ms), "feedback": total, "topics": topics}),
    )
}

/// Most items read for emerging themes (the newest in the range).
const THEME_ITEMS: usize = 5_000;

/// Emerging themes in `from..to`: frequent phrases in sentences no topic covers (a transcript's
/// customer sentences only), with item counts and examples.
pub async fn emerging_themes(
    store: &Store,
    workspace: &WorkspaceId,
    from_ms: i64,
    to_ms: i64,
    min_count: usize,
    limit: usize,
) -> Result<Value, ApiError> {
    let filter =
        FeedbackFilter { from_ms: Some(from_ms), to_ms: Some(to_ms), limit: THEME_ITEMS, ..FeedbackFilter::default() };
    let records = store.list_feedback(workspace, &filter).await?;
    let span = |value: &Value| -> Option<Span> {
        Some(Span { start: value["start"].as_u64()? as usize, end: value["end"].as_u64()? as usize })
    };
    let items: Vec<ThemeItem> = records
        .iter()
        .map(|record| {
            let sentences = record.analysis["sentences"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .filter(|s| s.get("speaker").is_none_or(|speaker| speaker == "customer"))
                        .filter_map(span)
                        .filter(|s| s.start <= s.end && s.end <= record.text.len())
                        .collect()
                })
                .unwrap_or_default();
            let covered = record.analysis["topics"]
                .as_array()
                .map(|hits| {
                    hits.iter()
                        .flat_map(|hit| hit["sentences"].as_array().into_iter().flatten().filter_map(span))
                        .collect()
                })
                .unwrap_or_default();
            ThemeItem { id: &record.id, text: &record.text, sentences, covered }
        })
        .collect();
    let themes = rapport_text::themes::emerging_themes(&items, min_count, limit);
    Ok(json!({
        "from": crate::services::rfc3339(from_ms),
        "to": crate::services::rfc3339(to_ms),
        "itemsRead": records.len(),
        "themes": themes,
    }))
}
