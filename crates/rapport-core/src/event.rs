//! Touchpoint events in the Segment HTTP Tracking API format, parsed and validated once.
//!
//! Parsing works on `serde_json::Value` rather than a derived struct so that one pass can name
//! every bad field of every event (a derived deserializer stops at the first). Unknown top-level
//! fields (`integrations`, `_metadata`, SDK extras) are kept in [`Event::extra`], never dropped.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::identity::{Identity, IdentityKind};
use crate::problem::{FieldProblem, Warning};

/// Events larger than this (serialised) are refused with 413.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Batches larger than this are refused with 413.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Names, message ids and other short strings are capped so they stay indexable.
pub const MAX_SHORT_TEXT: usize = 255;

/// The Segment call types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Track,
    Identify,
    Page,
    Screen,
    Group,
    Alias,
}

impl EventType {
    pub const ALL: [EventType; 6] =
        [EventType::Track, EventType::Identify, EventType::Page, EventType::Screen, EventType::Group, EventType::Alias];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Track => "track",
            EventType::Identify => "identify",
            EventType::Page => "page",
            EventType::Screen => "screen",
            EventType::Group => "group",
            EventType::Alias => "alias",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// The channels Rapport knows by name. Any other value an SDK sends is kept as written.
pub const KNOWN_CHANNELS: [&str; 9] = ["web", "mobile", "email", "chat", "phone", "sms", "social", "store", "iot"];

/// A validated event, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub message_id: String,
    pub event_type: EventType,
    /// `event` for track, `name` for page and screen.
    pub name: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub group_id: Option<String>,
    pub previous_id: Option<String>,
    pub channel: String,
    /// When the event happened, corrected for client clock skew.
    pub timestamp: OffsetDateTime,
    /// The client's own clock reading, as sent.
    pub original_timestamp: Option<OffsetDateTime>,
    pub sent_at: Option<OffsetDateTime>,
    pub received_at: OffsetDateTime,
    pub properties: Map<String, Value>,
    /// `traits` of identify and group calls.
    pub traits: Map<String, Value>,
    pub context: Map<String, Value>,
    /// Top-level fields Rapport does not interpret, kept verbatim.
    pub extra: Map<String, Value>,
    /// Identities that link this event's customer, normalised (see [`Event::identities`]).
    pub linked_identities: Vec<Identity>,
}

impl Event {
    /// The identity this event belongs to: the user id when there is one, else the anonymous id.
    pub fn primary_identity(&self) -> Identity {
        let (kind, value) = match &self.user_id {
            Some(user_id) => (IdentityKind::UserId, user_id),
            None => (IdentityKind::AnonymousId, self.anonymous_id.as_ref().expect("validated: one id is present")),
        };
        // Validation built these ids through `Identity::new` already, so this cannot fail.
        Identity::new(kind, value).expect("validated identity")
    }

    /// Customer traits carried by this event: identify `traits`, plus `context.traits` on any call
    /// (group traits describe the account, not the person, and are not customer traits).
    pub fn customer_traits(&self) -> Map<String, Value> {
        let mut traits = match self.context.get("traits") {
            Some(Value::Object(context_traits)) => context_traits.clone(),
            _ => Map::new(),
        };
        if self.event_type == EventType::Identify {
            traits.extend(self.traits.iter().map(|(key, value)| (key.clone(), value.clone())));
        }
        traits
    }
}

/// What a whole request shares: the batch-level `context` and `sentAt`, and the receive time.
#[derive(Debug, Clone, Default)]
pub struct BatchEnvelope {
    pub context: Map<String, Value>,
    pub sent_at: Option<OffsetDateTime>,
}

/// The result of parsing one event: the event and any warnings, or every problem found.
pub type ParseOutcome = Result<(Event, Vec<Warning>), Vec<FieldProblem>>;

/// Parses one event. `implied_type` is the type of a single-call endpoint (`/v1/track`); batch
/// items name their own. `index` goes into every problem so a batch error names the event.
pub fn parse_event(
    value: &Value,
    index: usize,
    implied_type: Option<EventType>,
    envelope: &BatchEnvelope,
    received_at: OffsetDateTime,
) -> ParseOutcome {
    let mut reader = FieldReader { index, problems: Vec::new() };
    let Some(object) = value.as_object() else {
        return Err(vec![FieldProblem::new(index, "", "an event must be a JSON object")]);
    };

    if let Some(path) = contains_nul(value).then(|| nul_character_path(value, String::new())).flatten() {
        // PostgreSQL cannot store NUL in text or JSONB; refusing it here keeps both backends equal.
        reader.problem(&path, "contains a NUL character (\\u0000), which cannot be stored");
    }
    let event_type = reader.event_type(object, implied_type);
    let user_id = reader.id_string(object, "userId");
    let anonymous_id = reader.id_string(object, "anonymousId");
    let message_id = reader.short_string(object, "messageId");
    let name_field = if event_type == Some(EventType::Track) { "event" } else { "name" };
    let name = reader.short_string(object, name_field);
    let group_id = reader.id_string(object, "groupId");
    let previous_id = reader.id_string(object, "previousId");
    let properties = reader.object(object, "properties");
    let traits = reader.object(object, "traits");
    let mut context = reader.object(object, "context");
    let timestamp = reader.time(object, "timestamp");
    let original_timestamp = reader.time(object, "originalTimestamp");
    let sent_at = reader.time(object, "sentAt");

    if let Some(event_type) = event_type {
        match event_type {
            EventType::Track if name.is_none() => {
                reader.problem("event", "required for a track call: the event's name")
            }
            EventType::Group if group_id.is_none() => reader.problem("groupId", "required for a group call"),
            EventType::Alias => {
                if previous_id.is_none() {
                    reader.problem("previousId", "required for an alias call");
                }
                if user_id.is_none() {
                    reader.problem("userId", "required for an alias call");
                }
            }
            _ => {}
        }
    }
    if user_id.is_none() && anonymous_id.is_none() && !reader.has_problem_on(&["userId", "anonymousId"]) {
        reader.problem("userId", "either userId or anonymousId is required");
    }

    if !reader.problems.is_empty() {
        return Err(reader.problems);
    }
    let event_type = event_type.expect("no problems means the type parsed");

    for (key, value) in &envelope.context {
        context.entry(key.clone()).or_insert_with(|| value.clone());
    }
    let sent_at = sent_at.or(envelope.sent_at);
    let (timestamp, original_timestamp) = correct_clock_skew(timestamp, original_timestamp, sent_at, received_at);
    let channel = channel_of(event_type, &context);

    let known = [
        "type",
        "userId",
        "anonymousId",
        "messageId",
        name_field,
        "groupId",
        "previousId",
        "properties",
        "traits",
        "context",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        // analytics.js sends its write key in the body: a credential, never stored with the event.
        "writeKey",
    ];
    let extra: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| !known.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let message_id = message_id.unwrap_or_else(|| content_message_id(value));

    let mut event = Event {
        message_id,
        event_type,
        name,
        user_id,
        anonymous_id,
        group_id,
        previous_id,
        channel,
        timestamp,
        original_timestamp,
        sent_at,
        received_at,
        properties,
        traits,
        context,
        extra,
        linked_identities: Vec::new(),
    };
    let warnings = attach_identities(&mut event, index);
    Ok((event, warnings))
}

/// Segment's correction: `timestamp = receivedAt − (sentAt − originalTimestamp)`, applied when the
/// client sent both its clock reading and the send time. Without `sentAt`, the client's time is
/// taken as given (server-side libraries, imports); without any time, the receive time.
fn correct_clock_skew(
    timestamp: Option<OffsetDateTime>,
    original_timestamp: Option<OffsetDateTime>,
    sent_at: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
) -> (OffsetDateTime, Option<OffsetDateTime>) {
    let client_time = original_timestamp.or(timestamp);
    match (client_time, sent_at) {
        // A skew so large that the corrected time falls outside the calendar (a client sending
        // year 9328 at year 1013, found by fuzzing) says nothing about when it happened: the
        // receive time stands in, as when no time was sent.
        (Some(client_time), Some(sent_at)) => {
            (received_at.checked_sub(sent_at - client_time).unwrap_or(received_at), Some(client_time))
        }
        (Some(client_time), None) => (client_time, Some(client_time)),
        (None, _) => (received_at, None),
    }
}

/// The channel of a touchpoint: `context.channel` as sent (with Segment's `browser` read as
/// `web`), else inferred from the call type and the SDK, else `unknown`.
fn channel_of(event_type: EventType, context: &Map<String, Value>) -> String {
    if let Some(channel) = context.get("channel").and_then(Value::as_str) {
        let channel = channel.trim().to_lowercase();
        if !channel.is_empty() {
            return if channel == "browser" { "web".to_owned() } else { channel };
        }
    }
    match event_type {
        EventType::Page => return "web".to_owned(),
        EventType::Screen => return "mobile".to_owned(),
        _ => {}
    }
    let library = context
        .get("library")
        .and_then(|library| library.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase();
    let mobile_sdks = ["ios", "android", "react-native", "flutter", "kotlin", "swift"];
    if library.contains("analytics.js") || library.contains("analytics-next") {
        "web".to_owned()
    } else if mobile_sdks.iter().any(|sdk| library.contains(sdk)) {
        "mobile".to_owned()
    } else {
        "unknown".to_owned()
    }
}

/// A message id for an event that came without one: a digest of its content, so that resending
/// the same event is still recognised as a duplicate.
fn content_message_id(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    let hex: String = digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect();
    format!("rapport-{hex}")
}

/// Collects the identities this event links: its user id, anonymous id, alias `previousId`, the
/// customer's `email` and `phone` traits, `traits.social` handles and `context.externalIds`.
/// A trait that is not a valid identity stays a trait and yields a warning instead of a link.
fn attach_identities(event: &mut Event, index: usize) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let mut identities = vec![event.primary_identity()];
    if event.user_id.is_some()
        && let Some(anonymous_id) = &event.anonymous_id
    {
        identities.push(Identity::anonymous_id(anonymous_id).expect("validated"));
    }
    let traits = if event.event_type == EventType::Group { Map::new() } else { event.customer_traits() };
    let trait_prefix = if event.event_type == EventType::Identify { "traits" } else { "context.traits" };
    for (field, kind) in [("email", IdentityKind::Email), ("phone", IdentityKind::Phone)] {
        match traits.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(raw)) => match Identity::new(kind, raw) {
                Ok(identity) => identities.push(identity),
                Err(error) => warnings.push(Warning::not_linked(index, &format!("{trait_prefix}.{field}"), &error)),
            },
            Some(_) => warnings.push(Warning::new(
                index,
                &format!("{trait_prefix}.{field}"),
                "not a string: kept as a trait, not linked",
            )),
        }
    }
    if let Some(Value::Object(handles)) = traits.get("social") {
        for (platform, handle) in handles {
            let field = format!("{trait_prefix}.social.{platform}");
            let identity = IdentityKind::parse(&format!("social:{platform}"))
                .and_then(|kind| Identity::new(kind, handle.as_str().unwrap_or_default()));
            match identity {
                Ok(identity) => identities.push(identity),
                Err(error) => warnings.push(Warning::not_linked(index, &field, &error)),
            }
        }
    }
    if let Some(Value::Array(external_ids)) = event.context.get("externalIds") {
        for (position, entry) in external_ids.iter().enumerate() {
            let field = format!("context.externalIds[{position}]");
            let system = entry.get("type").and_then(Value::as_str).unwrap_or_default();
            let id = entry.get("id").map(json_id_to_string).unwrap_or_default();
            let identity = IdentityKind::parse(&format!("external:{system}")).and_then(|kind| Identity::new(kind, &id));
            match identity {
                Ok(identity) => identities.push(identity),
                Err(error) => warnings.push(Warning::not_linked(index, &field, &error)),
            }
        }
    }
    identities.dedup();
    event.linked_identities = identities;
    warnings
}

/// Whether any string or key holds a NUL character: the check every event pays, so it builds no
/// paths (`nul_character_path` does, only for an event that has one).
fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(key, item)| key.contains('\0') || contains_nul(item)),
        _ => false,
    }
}

/// The dotted path of the first string or key holding a NUL character, if any.
fn nul_character_path(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(text) => text.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(position, item)| nul_character_path(item, format!("{path}[{position}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if key.contains('\0') { Some(child) } else { nul_character_path(item, child) }
        }),
        _ => None,
    }
}

fn json_id_to_string(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => String::new(),
    }
}

/// Reads fields of one event, collecting every problem instead of stopping at the first.
struct FieldReader {
    index: usize,
    problems: Vec<FieldProblem>,
}

impl FieldReader {
    fn problem(&mut self, field: &str, problem: &str) {
        self.problems.push(FieldProblem::new(self.index, field, problem));
    }

    fn has_problem_on(&self, fields: &[&str]) -> bool {
        self.problems.iter().any(|problem| fields.contains(&problem.field.as_str()))
    }

    fn event_type(&mut self, object: &Map<String, Value>, implied: Option<EventType>) -> Option<EventType> {
        let expected = "one of track, identify, page, screen, group, alias";
        match (object.get("type"), implied) {
            (None | Some(Value::Null), Some(implied)) => Some(implied),
            (None | Some(Value::Null), None) => {
                self.problem("type", &format!("required in a batch: {expected}"));
                None
            }
            (Some(Value::String(text)), implied) => match (EventType::parse(text), implied) {
                (Some(parsed), Some(implied)) if parsed != implied => {
                    self.problem("type", &format!("`{text}` sent to the /v1/{} endpoint", implied.as_str()));
                    None
                }
                (Some(parsed), _) => Some(parsed),
                (None, _) => {
                    self.problem("type", &format!("`{text}` is not a call type: expected {expected}"));
                    None
                }
            },
            (Some(_), _) => {
                self.problem("type", &format!("must be a string: {expected}"));
                None
            }
        }
    }

    /// Ids may be strings or numbers (Segment accepts both); numbers are kept as their text.
    fn id_string(&mut self, object: &Map<String, Value>, field: &str) -> Option<String> {
        let text = match object.get(field)? {
            Value::Null => return None,
            Value::String(text) => text.trim().to_owned(),
            Value::Number(number) => number.to_string(),
            _ => {
                self.problem(field, "must be a string or a number");
                return None;
            }
        };
        self.bounded(field, text)
    }

    fn short_string(&mut self, object: &Map<String, Value>, field: &str) -> Option<String> {
        match object.get(field)? {
            Value::Null => None,
            Value::String(text) => self.bounded(field, text.trim().to_owned()),
            _ => {
                self.problem(field, "must be a string");
                None
            }
        }
    }

    fn bounded(&mut self, field: &str, text: String) -> Option<String> {
        if text.is_empty() {
            self.problem(field, "must not be empty");
            return None;
        }
        if text.chars().count() > MAX_SHORT_TEXT {
            self.problem(field, &format!("longer than {MAX_SHORT_TEXT} characters"));
            return None;
        }
        Some(text)
    }

    fn object(&mut self, object: &Map<String, Value>, field: &str) -> Map<String, Value> {
        match object.get(field) {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(inner)) => inner.clone(),
            Some(_) => {
                self.problem(field, "must be a JSON object");
                Map::new()
            }
        }
    }

    fn time(&mut self, object: &Map<String, Value>, field: &str) -> Option<OffsetDateTime> {
        match object.get(field)? {
            Value::Null => None,
            Value::String(text) => match parse_time(text) {
                Some(time) => Some(time),
                None => {
                    self.problem(
                        field,
                        &format!("`{text}` is not an ISO-8601 date-time with an offset (e.g. 2026-01-31T12:00:00Z)"),
                    );
                    None
                }
            },
            _ => {
                self.problem(field, "must be an ISO-8601 date-time string");
                None
            }
        }
    }
}

/// Parses an RFC 3339 / ISO-8601 date-time with an offset.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

/// Parses a batch envelope's own fields (`context`, `sentAt`), naming problems with no index.
pub fn parse_envelope(object: &Map<String, Value>) -> Result<BatchEnvelope, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let context = match object.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(context)) => context.clone(),
        Some(_) => {
            problems.push(FieldProblem::envelope("context", "must be a JSON object"));
            Map::new()
        }
    };
    let sent_at = match object.get("sentAt") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let parsed = parse_time(text);
            if parsed.is_none() {
                problems.push(FieldProblem::envelope("sentAt", "not an ISO-8601 date-time with an offset"));
            }
            parsed
        }
        Some(_) => {
            problems.push(FieldProblem::envelope("sentAt", "must be an ISO-8601 date-time string"));
            None
        }
    };
    if problems.is_empty() { Ok(BatchEnvelope { context, sent_at }) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const RECEIVED: OffsetDateTime = datetime!(2026-11-23 12:00:00 UTC);

    fn parse(value: Value, implied: Option<EventType>) -> ParseOutcome {
        parse_event(&value, 0, implied, &BatchEnvelope::default(), RECEIVED)
    }

    fn problems(value: Value, implied: Option<EventType>) -> Vec<(String, String)> {
        let problems = parse(value, implied).expect_err("expected problems");
        problems.into_iter().map(|problem| (problem.field, problem.problem)).collect()
    }

    #[test]
    fn parses_a_track_call_with_every_field() {
        let (event, warnings) = parse(
            json!({
                "userId": 42, "anonymousId": "anon-1", "event": "Order Completed",
                "messageId": "m-1", "properties": {"total": 30},
                "context": {"channel": "Mobile", "traits": {"email": "A@B.COM"}},
                "integrations": {"All": true}, "writeKey": "rpk_secret"
            }),
            Some(EventType::Track),
        )
        .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(event.user_id.as_deref(), Some("42"));
        assert_eq!(event.name.as_deref(), Some("Order Completed"));
        assert_eq!(event.channel, "mobile");
        assert_eq!(event.timestamp, RECEIVED);
        assert_eq!(event.extra.get("integrations"), Some(&json!({"All": true})));
        assert!(!event.extra.contains_key("writeKey"), "a credential is not stored");
        let keys: Vec<String> = event.linked_identities.iter().map(Identity::key).collect();
        assert_eq!(keys, ["userId:42", "anonymousId:anon-1", "email:a@b.com"]);
    }

    #[test]
    fn corrects_client_clock_skew_like_segment() {
        // The client's clock is 10 minutes fast: it says it sent at 12:10 what happened at 12:09.
        let (event, _) = parse(
            json!({"anonymousId": "a", "event": "x",
                   "originalTimestamp": "2026-11-23T12:09:00Z", "sentAt": "2026-11-23T12:10:00Z"}),
            Some(EventType::Track),
        )
        .unwrap();
        assert_eq!(event.timestamp, datetime!(2026-11-23 11:59:00 UTC));
        assert_eq!(event.original_timestamp, Some(datetime!(2026-11-23 12:09:00 UTC)));

        let (historical, _) = parse(
            json!({"anonymousId": "a", "event": "x", "timestamp": "2024-01-01T00:00:00+02:00"}),
            Some(EventType::Track),
        )
        .unwrap();
        assert_eq!(historical.timestamp, datetime!(2023-12-31 22:00:00 UTC));

        // A correction past the end of the calendar is no time at all: the receive time, no panic.
        let (absurd, _) = parse(
            json!({"anonymousId": "a", "event": "x",
                   "timestamp": "9328-05-01T10:00:00Z", "sentAt": "1013-05-01T10:00:01Z"}),
            Some(EventType::Track),
        )
        .unwrap();
        assert_eq!(absurd.timestamp, RECEIVED);
        assert_eq!(absurd.original_timestamp, Some(datetime!(9328-05-01 10:00:00 UTC)));
    }

    #[test]
    fn names_every_bad_field() {
        let found =
            problems(json!({"type": "track", "userId": {"x": 1}, "properties": [1], "timestamp": "yesterday"}), None);
        let fields: Vec<&str> = found.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(fields, ["userId", "properties", "timestamp", "event"]);

        assert_eq!(problems(json!({"event": "x"}), Some(EventType::Track))[0].0, "userId");
        assert_eq!(problems(json!({"anonymousId": "a"}), None)[0].0, "type");
        assert_eq!(problems(json!({"type": "bogus", "anonymousId": "a"}), None)[0].0, "type");
        assert_eq!(problems(json!({"type": "identify", "userId": "u"}), Some(EventType::Track))[0].0, "type");
        assert_eq!(problems(json!({"userId": "u"}), Some(EventType::Group))[0].0, "groupId");
        assert_eq!(problems(json!({"userId": "u"}), Some(EventType::Alias))[0].0, "previousId");
        assert_eq!(problems(json!({"userId": ""}), Some(EventType::Identify))[0].0, "userId");
        assert_eq!(problems(json!({"userId": "u", "messageId": 7}), Some(EventType::Identify))[0].0, "messageId");
        assert!(parse(json!([1]), None).is_err());
        let nul = problems(json!({"userId": "u", "properties": {"note": ["ok", "a\u{0}b"]}}), Some(EventType::Track));
        assert_eq!(nul[0].0, "properties.note[1]");
    }

    #[test]
    fn bad_identity_traits_warn_and_stay_traits() {
        let (event, warnings) = parse(
            json!({"userId": "u", "traits": {"email": "nope", "phone": "+49 151 1234567", "name": "Jane"}}),
            Some(EventType::Identify),
        )
        .unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].field, "traits.email");
        assert_eq!(event.customer_traits().get("email"), Some(&json!("nope")));
        let keys: Vec<String> = event.linked_identities.iter().map(Identity::key).collect();
        assert_eq!(keys, ["userId:u", "phone:+491511234567"]);
    }

    #[test]
    fn group_traits_are_not_customer_identities() {
        let (event, _) = parse(
            json!({"userId": "u", "groupId": 7, "traits": {"email": "billing@acme.com"}}),
            Some(EventType::Group),
        )
        .unwrap();
        assert_eq!(event.group_id.as_deref(), Some("7"));
        assert_eq!(event.linked_identities.len(), 1);
    }

    #[test]
    fn messages_without_an_id_get_a_stable_one() {
        let value = json!({"anonymousId": "a", "event": "x", "timestamp": "2026-01-01T00:00:00Z"});
        let first = parse(value.clone(), Some(EventType::Track)).unwrap().0.message_id;
        let second = parse(value, Some(EventType::Track)).unwrap().0.message_id;
        assert_eq!(first, second);
        assert!(first.starts_with("rapport-"));
    }

    #[test]
    fn infers_the_channel() {
        let channel = |value: Value, implied| parse(value, Some(implied)).unwrap().0.channel;
        assert_eq!(channel(json!({"anonymousId": "a"}), EventType::Page), "web");
        assert_eq!(channel(json!({"anonymousId": "a", "name": "Home"}), EventType::Screen), "mobile");
        assert_eq!(channel(json!({"anonymousId": "a", "context": {"channel": "browser"}}), EventType::Identify), "web");
        assert_eq!(channel(json!({"anonymousId": "a", "context": {"channel": "kiosk"}}), EventType::Identify), "kiosk");
        assert_eq!(
            channel(
                json!({"anonymousId": "a", "event": "e", "context": {"library": {"name": "analytics-ios"}}}),
                EventType::Track
            ),
            "mobile"
        );
        assert_eq!(channel(json!({"anonymousId": "a", "event": "e"}), EventType::Track), "unknown");
    }
}
