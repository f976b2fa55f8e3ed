//! Ingestion as a service: from a request body to validated events, or to an error that names
//! every problem. HTTP handlers call this; it knows nothing of routing.

use rapport_core::event::{self, BatchEnvelope, Event, EventType, MAX_BATCH_BYTES, MAX_EVENT_BYTES};
use rapport_core::problem::{FieldProblem, Warning};
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{ApiError, ErrorCode, ErrorDetail};
use crate::services::json_body::{read_json, too_large};

/// Which endpoint a body arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Single(EventType),
    Batch,
}

/// Validated events with the warnings to report back.
#[derive(Debug)]
pub struct ParsedBody {
    pub events: Vec<Event>,
    pub warnings: Vec<Warning>,
}

/// Checks media type and size, parses the JSON and validates every event. A batch is all or
/// nothing: one bad event rejects it, and the error names every bad event by index and field.
pub fn parse_body(
    endpoint: Endpoint,
    content_type: Option<&str>,
    body: &[u8],
    received_at: OffsetDateTime,
) -> Result<ParsedBody, ApiError> {
    let limit = match endpoint {
        Endpoint::Single(_) => MAX_EVENT_BYTES,
        Endpoint::Batch => MAX_BATCH_BYTES,
    };
    let value = read_json(content_type, body, limit)?;
    match endpoint {
        Endpoint::Single(event_type) => parse_single(&value, event_type, received_at),
        Endpoint::Batch => parse_batch(&value, received_at),
    }
}

/// The `writeKey` analytics.js puts in the body (it sends no Authorization header): top-level, or
/// on the first event of a batch.
pub fn write_key_in_body(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let key = value.get("writeKey").or_else(|| value.get("batch")?.get(0)?.get("writeKey"))?;
    key.as_str().map(str::to_owned)
}

fn parse_single(value: &Value, event_type: EventType, received_at: OffsetDateTime) -> Result<ParsedBody, ApiError> {
    let envelope = BatchEnvelope::default();
    match event::parse_event(value, 0, Some(event_type), &envelope, received_at) {
        Ok((event, warnings)) => Ok(ParsedBody { events: vec![event], warnings }),
        Err(problems) => Err(invalid(problems, 1)),
    }
}

fn parse_batch(value: &Value, received_at: OffsetDateTime) -> Result<ParsedBody, ApiError> {
    let Some(object) = value.as_object() else {
        return Err(invalid(vec![FieldProblem::envelope("", "the body must be an object: {\"batch\": [ … ]}")], 0));
    };
    let items = match object.get("batch") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            return Err(invalid(vec![FieldProblem::envelope("batch", "must hold at least one event")], 0));
        }
        Some(_) => return Err(invalid(vec![FieldProblem::envelope("batch", "must be an array of events")], 0)),
        None => return Err(invalid(vec![FieldProblem::envelope("batch", "required: an array of events")], 0)),
    };
    let envelope = event::parse_envelope(object).map_err(|problems| invalid(problems, items.len()))?;

    let oversized: Vec<ErrorDetail> = items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let size = serde_json::to_vec(item).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
            (size > MAX_EVENT_BYTES).then(|| ErrorDetail {
                index: Some(index),
                field: String::new(),
                problem: format!("the event is {size} bytes; the limit is {MAX_EVENT_BYTES}"),
            })
        })
        .collect();
    if !oversized.is_empty() {
        return Err(too_large(MAX_EVENT_BYTES, 0, oversized));
    }

    let mut events = Vec::with_capacity(items.len());
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match event::parse_event(item, index, None, &envelope, received_at) {
            Ok((event, event_warnings)) => {
                events.push(event);
                warnings.extend(event_warnings);
            }
            Err(event_problems) => problems.extend(event_problems),
        }
    }
    if !problems.is_empty() {
        return Err(invalid(problems, items.len()));
    }
    Ok(ParsedBody { events, warnings })
}

fn invalid(problems: Vec<FieldProblem>, event_count: usize) -> ApiError {
    let bad_events: std::collections::BTreeSet<usize> = problems.iter().filter_map(|problem| problem.index).collect();
    let message = if bad_events.is_empty() {
        "the request is invalid; nothing was stored".to_owned()
    } else if event_count <= 1 {
        "the event is invalid; nothing was stored".to_owned()
    } else {
        format!("{} of {event_count} events are invalid; nothing was stored", bad_events.len())
    };
    ApiError::new(ErrorCode::InvalidEvent, message).with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(endpoint: Endpoint, content_type: Option<&str>, body: &[u8]) -> Result<ParsedBody, ApiError> {
        parse_body(endpoint, content_type, body, OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn media_types() {
        let body = br#"{"anonymousId": "a", "event": "x"}"#;
        let track = Endpoint::Single(EventType::Track);
        assert!(check(track, Some("application/json; charset=utf-8"), body).is_ok());
        assert!(check(track, Some("text/plain"), body).is_ok());
        assert_eq!(check(track, None, body).unwrap_err().code, ErrorCode::UnsupportedMediaType);
        assert_eq!(
            check(track, Some("application/x-www-form-urlencoded"), body).unwrap_err().code,
            ErrorCode::UnsupportedMediaType
        );
        assert_eq!(check(track, Some("text/plain"), b"hello").unwrap_err().code, ErrorCode::UnsupportedMediaType);
        assert_eq!(check(track, Some("application/json"), b"{oops").unwrap_err().code, ErrorCode::MalformedJson);
    }

    #[test]
    fn a_batch_names_every_bad_event() {
        let body = json!({"batch": [
            {"type": "track", "anonymousId": "a", "event": "ok"},
            {"type": "track", "anonymousId": "a"},
            {"type": "identify", "userId": 5},
            {"type": "page", "timestamp": "soon", "anonymousId": "a"},
        ]});
        let error = check(Endpoint::Batch, Some("application/json"), body.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidEvent);
        assert_eq!(error.message, "2 of 4 events are invalid; nothing was stored");
        let named: Vec<(Option<usize>, &str)> =
            error.details.iter().map(|detail| (detail.index, detail.field.as_str())).collect();
        assert_eq!(named, [(Some(1), "event"), (Some(3), "timestamp")]);
    }

    #[test]
    fn sizes_are_limited_per_event_and_per_batch() {
        let big = "x".repeat(MAX_EVENT_BYTES);
        let body = json!({"batch": [{"type": "track", "anonymousId": "a", "event": "ok"},
                                    {"type": "track", "anonymousId": "a", "event": "big", "properties": {"blob": big}}]});
        let error = check(Endpoint::Batch, Some("application/json"), body.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.code, ErrorCode::PayloadTooLarge);
        assert_eq!(error.details[0].index, Some(1));
        let single = json!({"anonymousId": "a", "event": "big", "properties": {"blob": big}});
        let error = check(Endpoint::Single(EventType::Track), Some("application/json"), single.to_string().as_bytes())
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::PayloadTooLarge);
    }

    #[test]
    fn batch_shape_and_envelope() {
        for (body, field) in
            [(json!({}), "batch"), (json!({"batch": []}), "batch"), (json!({"batch": {}}), "batch"), (json!([]), "")]
        {
            let error = check(Endpoint::Batch, Some("application/json"), body.to_string().as_bytes()).unwrap_err();
            assert_eq!((error.code, error.details[0].field.as_str()), (ErrorCode::InvalidEvent, field), "{body}");
        }
        let body = json!({"batch": [{"type": "track", "anonymousId": "a", "event": "x", "originalTimestamp": "2026-01-01T00:00:10Z"}],
                          "sentAt": "2026-01-01T00:00:20Z", "context": {"channel": "email"}});
        let parsed = check(Endpoint::Batch, Some("application/json"), body.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.events[0].channel, "email", "the batch context applies to its events");
        assert_eq!(parsed.events[0].timestamp, OffsetDateTime::UNIX_EPOCH - time::Duration::seconds(10));
    }
}
