//! Feedback files (`rapport import feedback`): CSV with one row per item (a transcript: one row
//! per turn, grouped by `conversation`), or JSONL with one item per line in the API's shape. Each
//! row becomes the item `POST /v1/feedback` takes and is checked the same way; problems name the
//! file's line and column. An item without an id gets one from its content, so importing the same
//! file twice adds nothing.

use std::collections::BTreeMap;

use rapport_text::feedback::{FeedbackInput, parse_item};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::services::import::RowProblem;

/// The CSV columns; every one but `source` and `text` may be empty or left out.
pub const FEEDBACK_COLUMNS: [&str; 16] = [
    "id",
    "kind",
    "source",
    "text",
    "customer",
    "channel",
    "touchpoint",
    "occurred_at",
    "rating",
    "title",
    "url",
    "author",
    "platform",
    "reach",
    "conversation",
    "speaker",
];

/// The API's field for a CSV column.
fn api_field(column: &str) -> &str {
    match column {
        "occurred_at" => "occurredAt",
        "id" => "idempotencyKey",
        other => other,
    }
}

/// The CSV column (or JSONL field) an API problem names.
fn column_of(field: &str, csv: bool) -> String {
    match (field, csv) {
        ("occurredAt", true) => "occurred_at".into(),
        ("idempotencyKey", true) => "id".into(),
        (field, true) if field.starts_with("turns[") => field.rsplit('.').next().unwrap_or(field).into(),
        (field, _) => field.into(),
    }
}

fn content_key(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    format!("import:{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
}

/// A file's items, each with the (first) line it came from, and its problems.
pub type ReadFeedback = (Vec<(usize, FeedbackInput)>, Vec<RowProblem>);

/// Items of a JSONL file, checked, with the line each came from.
pub fn feedback_from_jsonl(text: &str, received_at: OffsetDateTime) -> ReadFeedback {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let number = index + 1;
        let mut value: Value = match serde_json::from_str(line) {
            Ok(value) => value,
            Err(error) => {
                problems.push(RowProblem { lines: vec![number], field: "row".into(), problem: error.to_string() });
                continue;
            }
        };
        if let Some(object) = value.as_object_mut().filter(|o| !o.contains_key("idempotencyKey")) {
            let key = content_key(&Value::Object(object.clone()));
            object.insert("idempotencyKey".into(), Value::from(key));
        }
        match parse_item(&value, index, received_at) {
            Ok(input) => items.push((number, input)),
            Err(found) => problems.extend(found.into_iter().map(|p| RowProblem {
                lines: vec![number],
                field: column_of(&p.field, false),
                problem: p.problem,
            })),
        }
    }
    (items, problems)
}

/// Items of a CSV file, checked, with the first line each came from. A transcript's turns are the
/// rows sharing its `conversation` (in file order), each with a `speaker`.
pub fn feedback_from_csv(text: &str, received_at: OffsetDateTime) -> Result<ReadFeedback, String> {
    let (mut reader, headers) = crate::services::import::csv_with_columns(text, &FEEDBACK_COLUMNS)?;
    let mut problems = Vec::new();
    // Items in file order: (lines, the item as the API takes it).
    let mut rows: Vec<(Vec<usize>, Map<String, Value>)> = Vec::new();
    let mut conversations: BTreeMap<String, usize> = BTreeMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line() as usize);
                problems.push(RowProblem { lines: vec![line], field: "row".into(), problem: error.to_string() });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let mut object = Map::new();
        for (column, cell) in headers.iter().zip(record.iter()) {
            let cell = cell.trim();
            if cell.is_empty() || column == "conversation" || column == "speaker" {
                continue;
            }
            let value = match column {
                "rating" | "reach" => match cell.parse::<f64>() {
                    Ok(number) if column == "reach" && number.fract() == 0.0 && number >= 0.0 => {
                        Value::from(number as u64)
                    }
                    Ok(number) => serde_json::Number::from_f64(number).map_or(Value::from(cell), Value::Number),
                    Err(_) => Value::from(cell),
                },
                _ => Value::from(cell),
            };
            object.insert(api_field(column).to_owned(), value);
        }
        let cell = |name: &str| {
            headers.iter().position(|c| c == name).and_then(|i| record.get(i)).map(str::trim).unwrap_or("")
        };
        let conversation = cell("conversation");
        if object.get("kind").and_then(Value::as_str) == Some("transcript") {
            if conversation.is_empty() {
                problems.push(RowProblem {
                    lines: vec![line],
                    field: "conversation".into(),
                    problem: "required on a transcript's rows: the id its turns share".into(),
                });
                continue;
            }
            let turn = serde_json::json!({"speaker": cell("speaker"), "text": object.remove("text").unwrap_or(Value::from(""))});
            match conversations.get(conversation) {
                Some(&at) => {
                    rows[at].0.push(line);
                    if let Some(Value::Array(turns)) = rows[at].1.get_mut("turns") {
                        turns.push(turn);
                    }
                }
                None => {
                    object.insert("turns".into(), Value::Array(vec![turn]));
                    object
                        .entry("idempotencyKey")
                        .or_insert_with(|| Value::from(format!("import:conversation:{conversation}")));
                    conversations.insert(conversation.to_owned(), rows.len());
                    rows.push((vec![line], object));
                }
            }
        } else {
            if !cell("speaker").is_empty() || !conversation.is_empty() {
                problems.push(RowProblem {
                    lines: vec![line],
                    field: "speaker".into(),
                    problem: "only a transcript's rows (kind transcript) have a conversation and speaker".into(),
                });
                continue;
            }
            if !object.contains_key("idempotencyKey") {
                let key = content_key(&Value::Object(object.clone()));
                object.insert("idempotencyKey".into(), Value::from(key));
            }
            rows.push((vec![line], object));
        }
    }
    let mut items = Vec::new();
    for (index, (lines, object)) in rows.into_iter().enumerate() {
        match parse_item(&Value::Object(object), index, received_at) {
            Ok(input) => items.push((lines[0], input)),
            Err(found) => problems.extend(found.into_iter().map(|p| RowProblem {
                lines: lines.clone(),
                field: column_of(&p.field, true),
                problem: p.problem,
            })),
        }
    }
    problems.sort_by_key(|p| p.lines.first().copied().unwrap_or(0));
    Ok((items, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_items_and_transcripts_group_their_turns() {
        let csv = "source,kind,text,conversation,speaker,occurred_at,rating\n\
                   widget,,Great app,,,2026-01-01T10:00:00Z,\n\
                   zendesk,transcript,Hi how can I help,c1,agent,,\n\
                   trustpilot,review,Late again,,,,2\n\
                   zendesk,transcript,My order is late,c1,customer,,\n";
        let (items, problems) = feedback_from_csv(csv, OffsetDateTime::now_utc()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let lines: Vec<usize> = items.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert_eq!(items[1].1.turns.len(), 2);
        assert_eq!(items[1].1.turns[1].speaker, "customer");
        assert_eq!(items[2].1.details["rating"], 2.0);
        assert!(items[0].1.idempotency_key.as_deref().unwrap().starts_with("import:"));
    }

    #[test]
    fn bad_rows_are_named_by_line_and_column() {
        let csv = "source,text,occurred_at,rating,kind,conversation,speaker\n\
                   widget,fine,,,,,\n\
                   ,no source,,,,,\n\
                   widget,bad time,yesterday,,,,\n\
                   widget,too good,,11,,,\n\
                   chat,turn,,,transcript,,agent\n";
        let (items, problems) = feedback_from_csv(csv, OffsetDateTime::now_utc()).unwrap();
        assert_eq!(items.len(), 1);
        let named: Vec<(usize, &str)> = problems.iter().map(|p| (p.lines[0], p.field.as_str())).collect();
        assert_eq!(named, [(3, "source"), (4, "occurred_at"), (5, "rating"), (6, "conversation")]);
        assert!(feedback_from_csv("source,texte\nx,y\n", OffsetDateTime::now_utc()).unwrap_err().contains("texte"));
        let (_, problems) = feedback_from_jsonl(
            "{\"source\": \"x\", \"text\": \"ok\"}\nnot json\n{\"text\": \"x\"}\n",
            OffsetDateTime::now_utc(),
        );
        let named: Vec<(usize, &str)> = problems.iter().map(|p| (p.lines[0], p.field.as_str())).collect();
        assert_eq!(named, [(2, "row"), (3, "source")]);
    }
}
