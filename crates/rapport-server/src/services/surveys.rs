//! Survey responses as a service: from a request body to a checked response, the `Survey
//! Answered` event that puts it on the customer's timeline, and the shapes responses are read in
//! (JSON answers as they were sent, CSV rows).

use rapport_core::event::{self, BatchEnvelope, Event, EventType};
use rapport_core::identity::{Identity, IdentityKind};
use rapport_core::ids::WorkspaceId;
use rapport_core::problem::FieldProblem;
use rapport_core::resolution;
use rapport_core::survey::{self, SurveyDefinition};
use rapport_core::survey_answers;
use rapport_store::records::{NewResponse, ResponseRecord, StoredAnswer, SurveyRecord};
use rapport_store::{IngestBatch, Store};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{ApiError, ErrorCode, ErrorDetail, problems_phrase};

/// Longest accepted idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// "1 problem", "3 problems".
fn invalid_response(problems: Vec<FieldProblem>) -> ApiError {
    let message = format!("the response has {}; nothing was stored", problems_phrase(problems.len()));
    ApiError::new(ErrorCode::InvalidResponse, message)
        .with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

/// 400 with every problem of a survey definition.
pub fn invalid_survey(problems: Vec<FieldProblem>) -> ApiError {
    let message = format!("the survey definition has {}; nothing was stored", problems_phrase(problems.len()));
    ApiError::new(ErrorCode::InvalidSurvey, message).with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

/// What a response request asks to store, checked against the version it answers.
#[derive(Debug)]
pub struct CheckedResponse {
    pub respondent: Identity,
    pub response: NewResponse,
}

/// The version a response body names (`version`), if any; checked before the survey is read.
pub fn requested_version(body: &Value) -> Result<Option<i64>, ApiError> {
    match body.get("version") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) if number.as_i64().is_some_and(|version| version >= 1) => Ok(number.as_i64()),
        Some(_) => Err(invalid_response(vec![FieldProblem::envelope("version", "must be a whole number from 1")])),
    }
}

fn optional_label(object: &Map<String, Value>, field: &str, problems: &mut Vec<FieldProblem>) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= 200 && !text.contains('\0') => {
            Some(text.trim().to_owned())
        }
        Some(_) => {
            problems.push(FieldProblem::envelope(field, "must be a non-empty string of at most 200 bytes"));
            None
        }
    }
}

/// Checks a response body (`customer`, `answers`, and optional `channel`, `touchpoint`, `agent`,
/// `submittedAt`, `version`) against `survey`, collecting every problem.
pub fn check_response(
    survey: &SurveyRecord,
    body: &Value,
    idempotency_key: Option<String>,
    received_at: OffsetDateTime,
) -> Result<CheckedResponse, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(invalid_response(vec![FieldProblem::envelope("", "a response must be a JSON object")]));
    };
    let mut problems = Vec::new();
    for key in object.keys() {
        if !["customer", "answers", "channel", "touchpoint", "agent", "submittedAt", "version"].contains(&key.as_str())
        {
            problems.push(FieldProblem::envelope(
                key,
                "unknown field: expected customer, answers, channel, touchpoint, agent, submittedAt, version",
            ));
        }
    }
    let respondent = match object.get("customer") {
        Some(Value::String(typed)) => match Identity::parse_typed(typed) {
            Ok(identity) => Some(identity),
            Err(error) => {
                problems.push(FieldProblem::envelope("customer", &error.to_string()));
                None
            }
        },
        _ => {
            problems.push(FieldProblem::envelope(
                "customer",
                "required: the respondent as TYPE:VALUE, e.g. email:jane@example.com or userId:42",
            ));
            None
        }
    };
    let channel = optional_label(object, "channel", &mut problems).map(|channel| channel.to_lowercase());
    let touchpoint =
        optional_label(object, "touchpoint", &mut problems).or_else(|| survey.definition.touchpoint.clone());
    let agent = optional_label(object, "agent", &mut problems);
    let submitted_at = match object.get("submittedAt") {
        None | Some(Value::Null) => Some(received_at),
        Some(Value::String(text)) => match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(time) if time <= received_at + time::Duration::minutes(5) => Some(time),
            Ok(_) => {
                problems.push(FieldProblem::envelope("submittedAt", "is in the future"));
                None
            }
            Err(_) => {
                problems.push(FieldProblem::envelope(
                    "submittedAt",
                    &format!("`{text}` is not an RFC 3339 date-time (e.g. 2026-01-31T12:00:00Z)"),
                ));
                None
            }
        },
        Some(_) => {
            problems.push(FieldProblem::envelope("submittedAt", "must be an RFC 3339 date-time string"));
            None
        }
    };
    let answers = match object.get("answers") {
        Some(Value::Object(answers)) => match survey_answers::check_answers(&survey.definition, answers) {
            Ok(answers) => Some(answers),
            Err(answer_problems) => {
                problems.extend(answer_problems);
                None
            }
        },
        _ => {
            problems.push(FieldProblem::envelope("answers", "required: an object of question id → answer"));
            None
        }
    };
    match (respondent, submitted_at, answers) {
        (Some(respondent), Some(submitted_at), Some(answers)) if problems.is_empty() => Ok(CheckedResponse {
            response: NewResponse {
                survey_id: survey.id.clone(),
                version: survey.version,
                identity_key: respondent.key(),
                channel,
                touchpoint,
                agent,
                submitted_at_ms: resolution::millis(submitted_at),
                received_at_ms: resolution::millis(received_at),
                idempotency_key,
                answers,
                feedback: Vec::new(),
                invitation: None,
            },
            respondent,
        }),
        _ => Err(invalid_response(problems)),
    }
}

/// Stores a checked response and puts it on the respondent's timeline (`answered_event`). Returns
/// the response and whether it is new (false: its idempotency key was used before).
///
/// The response is stored before its event: if the event fails, a retry with the same
/// idempotency key finds the response and sends the event again, which stores it once.
pub async fn record_response(
    store: &Store,
    workspace: &WorkspaceId,
    survey: &SurveyRecord,
    checked: &CheckedResponse,
) -> Result<(ResponseRecord, bool), ApiError> {
    // Open-text answers become feedback, stored in the response's transaction.
    let mut response = checked.response.clone();
    if response.answers.iter().any(|answer| matches!(answer.value, survey_answers::AnswerValue::Text(_))) {
        let context = crate::services::feedback::text_context(store, workspace).await?;
        let received_at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(response.received_at_ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        crate::services::feedback::attach_survey_comments(&context, &mut response, received_at);
    }
    let (record, created) = store.insert_response(workspace, &response).await?;
    // A replay returns the first response, which may have answered an older version.
    let older = if record.version == survey.version {
        None
    } else {
        store.survey(workspace, &record.survey_id, Some(record.version)).await?
    };
    let definition = older.as_ref().map_or(&survey.definition, |older| &older.definition);
    let anonymous_id = derived_anonymous_id(store, workspace, &checked.respondent);
    let event = answered_event(definition, &record, &checked.respondent, anonymous_id)?;
    store.ingest(IngestBatch { workspace: workspace.clone(), events: vec![event] }).await?;
    // Follow-up cases the workspace's rules ask for (a retry opens none twice).
    crate::services::cases::open_from_response(store, workspace, &record, &response.feedback).await?;
    Ok((record, created))
}

/// The answers of a stored response shaped as they are sent: a score, a choice, a list of
/// choices, a text, or for a CSAT question with dimensions `{"score": …, "<dimension>": …}`.
pub fn answers_json(answers: &[StoredAnswer]) -> Map<String, Value> {
    let mut shaped = Map::new();
    for answer in answers {
        let value = answer
            .score
            .map(Value::from)
            .or_else(|| answer.choice.clone().map(Value::from))
            .or_else(|| answer.text.clone().map(Value::from))
            .unwrap_or(Value::Null);
        let slot = shaped.entry(answer.question.clone());
        match (answer.question_type.as_str(), &answer.dimension) {
            ("multiple_choice", _) => {
                let list = slot.or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(value);
                }
            }
            (_, Some(dimension)) => {
                let entry = slot.or_insert_with(|| json!({}));
                if !entry.is_object() {
                    *entry = json!({"score": entry.clone()});
                }
                entry[dimension.as_str()] = value;
            }
            (_, None) => match slot {
                serde_json::map::Entry::Occupied(mut occupied) if occupied.get().is_object() => {
                    occupied.get_mut()["score"] = value;
                }
                serde_json::map::Entry::Occupied(mut occupied) => {
                    occupied.insert(value);
                }
                serde_json::map::Entry::Vacant(vacant) => {
                    vacant.insert(value);
                }
            },
        }
    }
    shaped
}

/// The track event that puts a response on the respondent's timeline, with a `messageId` derived
/// from the response, so storing it twice stores it once.
///
/// A user id or anonymous id is the event's own; an e-mail, phone, external id or social handle
/// travels in `context` (traits or `externalIds`) under an anonymous id derived from it, and
/// links the event to the customer who holds it, as ingestion links any event.
pub fn answered_event(
    survey: &SurveyDefinition,
    response: &ResponseRecord,
    respondent: &Identity,
    anonymous_id: String,
) -> Result<rapport_core::event::Event, ApiError> {
    let mut context = Map::new();
    if let Some(channel) = &response.channel {
        context.insert("channel".to_owned(), Value::from(channel.clone()));
    }
    let mut call = json!({
        "type": "track",
        "event": "Survey Answered",
        "messageId": format!("survey-response-{}", response.id),
        "properties": {
            "surveyId": response.survey_id,
            "surveyName": survey.name,
            "surveyVersion": response.version,
            "responseId": response.id,
            "touchpoint": response.touchpoint,
            "agent": response.agent,
            "answers": answers_json(&response.answers),
        },
    });
    address_call(&mut call, &mut context, respondent, anonymous_id);
    call["context"] = Value::Object(context);
    let submitted = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(response.submitted_at_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    call["timestamp"] = Value::from(submitted.format(&Rfc3339).unwrap_or_default());
    let received = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(response.received_at_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    event_from_call(&call, EventType::Track, received)
}

/// An event Rapport makes itself (a response, an unsubscribe), parsed as ingestion parses any.
/// A problem here is a bug: the calls are built by this module.
pub fn event_from_call(call: &Value, event_type: EventType, received_at: OffsetDateTime) -> Result<Event, ApiError> {
    event::parse_event(call, 0, Some(event_type), &BatchEnvelope::default(), received_at)
        .map(|(event, _)| event)
        .map_err(|problems| ApiError::internal(format!("an event Rapport made is invalid: {problems:?}")))
}

/// The anonymous id a call about `identity` is made under when the identity is not an id of its
/// own: derived from its blind index, so it is stable and names no one (it is stored in the clear).
pub fn derived_anonymous_id(store: &Store, workspace: &WorkspaceId, identity: &Identity) -> String {
    format!("survey-identity:{}", store.keyring().blind_key(workspace.as_str(), &identity.key()))
}

/// Makes a Segment call about `identity`: a user id or anonymous id is the call's own; an
/// e-mail, phone, external id or social handle travels in `context` (traits or `externalIds`)
/// under an anonymous id derived from it, and links the call to the customer who holds it, as
/// ingestion links any event.
pub fn address_call(call: &mut Value, context: &mut Map<String, Value>, identity: &Identity, anonymous_id: String) {
    match identity.kind() {
        IdentityKind::UserId => call["userId"] = Value::from(identity.value()),
        IdentityKind::AnonymousId => call["anonymousId"] = Value::from(identity.value()),
        other => {
            call["anonymousId"] = Value::from(anonymous_id);
            let linked = match other {
                IdentityKind::Email => json!({"traits": {"email": identity.value()}}),
                IdentityKind::Phone => json!({"traits": {"phone": identity.value()}}),
                IdentityKind::External(system) => json!({"externalIds": [{"type": system, "id": identity.value()}]}),
                IdentityKind::Social(platform) => {
                    json!({"traits": {"social": {platform.as_str(): identity.value()}}})
                }
                IdentityKind::UserId | IdentityKind::AnonymousId => json!({}),
            };
            if let Value::Object(linked) = linked {
                context.extend(linked);
            }
        }
    }
}

/// One CSV row per response: its fields, then one column per question (and per CSAT dimension)
/// of `columns`; a multiple choice is its choices joined by `; `.
pub fn csv_header(columns: &[(String, Option<String>)]) -> Vec<String> {
    let mut header: Vec<String> =
        ["response_id", "submitted_at", "version", "customer", "channel", "touchpoint", "agent"]
            .into_iter()
            .map(str::to_owned)
            .collect();
    header.extend(columns.iter().map(|(question, dimension)| match dimension {
        Some(dimension) => format!("{question}.{dimension}"),
        None => question.clone(),
    }));
    header
}

/// The answer columns of a survey version: each question, and each CSAT dimension after its
/// question.
pub fn csv_columns(definition: &SurveyDefinition) -> Vec<(String, Option<String>)> {
    let mut columns = Vec::new();
    for question in &definition.questions {
        columns.push((question.id.clone(), None));
        if let survey::QuestionKind::Csat { dimensions } = &question.kind {
            columns.extend(dimensions.iter().map(|dimension| (question.id.clone(), Some(dimension.clone()))));
        }
    }
    columns
}

pub fn csv_row(response: &ResponseRecord, columns: &[(String, Option<String>)], submitted_at: String) -> Vec<String> {
    let mut row = vec![
        response.id.clone(),
        submitted_at,
        response.version.to_string(),
        response.identity_key.clone(),
        response.channel.clone().unwrap_or_default(),
        response.touchpoint.clone().unwrap_or_default(),
        response.agent.clone().unwrap_or_default(),
    ];
    for (question, dimension) in columns {
        let cells: Vec<String> = response
            .answers
            .iter()
            .filter(|answer| &answer.question == question && &answer.dimension == dimension)
            .map(|answer| {
                answer
                    .score
                    .map(|score| score.to_string())
                    .or_else(|| answer.choice.clone())
                    .or_else(|| answer.text.clone())
                    .unwrap_or_default()
            })
            .collect();
        row.push(cells.join("; "));
    }
    row
}
