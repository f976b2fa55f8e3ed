//! Events as CSV (`rapport import events FILE.csv`, and `rapport export`'s `events.csv`): one row
//! per event, turned into the Segment call it stands for, then checked as `/v1/batch` checks it.
//!
//! Columns: `type` (required: track, identify, page, screen, group or alias), `name` (a track
//! call's event, a page's or screen's name), `user_id`, `anonymous_id`, `group_id`,
//! `previous_id`, `channel`, `timestamp` (RFC 3339), `message_id`, and `properties`, `traits`,
//! `context` as JSON objects; `seq` (an export's order) is read and ignored. Empty cells are left
//! out.

use serde_json::{Map, Value};

use crate::services::import::RowProblem;

/// The columns, in the order `rapport export` writes them.
pub const EVENT_COLUMNS: [&str; 13] = [
    "seq",
    "type",
    "name",
    "user_id",
    "anonymous_id",
    "group_id",
    "previous_id",
    "channel",
    "timestamp",
    "message_id",
    "properties",
    "traits",
    "context",
];

/// A row's cells (by header) as a Segment call, or the problems of its JSON columns.
pub fn call_from_row(
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
    line: usize,
) -> Result<Value, Vec<RowProblem>> {
    let mut call = Map::new();
    let mut problems = Vec::new();
    let (mut channel, mut name) = (None, None);
    for (column, cell) in headers.iter().zip(record.iter()) {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        let field = match column {
            "type" => "type",
            "user_id" => "userId",
            "anonymous_id" => "anonymousId",
            "group_id" => "groupId",
            "previous_id" => "previousId",
            "timestamp" => "timestamp",
            "message_id" => "messageId",
            "channel" => {
                channel = Some(cell);
                continue;
            }
            // Its field depends on the type: set below.
            "name" => {
                name = Some(cell);
                continue;
            }
            "properties" | "traits" | "context" => {
                match serde_json::from_str::<Value>(cell) {
                    Ok(value @ Value::Object(_)) => {
                        call.insert(column.to_owned(), value);
                    }
                    Ok(_) => problems.push(RowProblem {
                        lines: vec![line],
                        field: column.into(),
                        problem: "must be a JSON object".into(),
                    }),
                    Err(error) => problems.push(RowProblem {
                        lines: vec![line],
                        field: column.into(),
                        problem: format!("not JSON: {error}"),
                    }),
                }
                continue;
            }
            _ => continue,
        };
        call.insert(field.to_owned(), Value::from(cell));
    }
    if let Some(name) = name {
        let field = if call.get("type").and_then(Value::as_str) == Some("track") { "event" } else { "name" };
        call.insert(field.to_owned(), Value::from(name));
    }
    if let Some(channel) = channel {
        let context = call.entry("context").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(context) = context {
            context.entry("channel").or_insert(Value::from(channel));
        }
    }
    if problems.is_empty() { Ok(Value::Object(call)) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(cells: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cells.to_vec())
    }

    #[test]
    fn a_row_is_the_call_it_stands_for() {
        let headers = row(&["type", "name", "user_id", "channel", "timestamp", "properties", "seq"]);
        let call = call_from_row(
            &headers,
            &row(&["track", "Signed In", "u1", "mobile", "2026-01-01T00:00:00Z", "{\"plan\":\"pro\"}", "7"]),
            2,
        )
        .unwrap();
        assert_eq!(
            call,
            json!({"type": "track", "event": "Signed In", "userId": "u1", "timestamp": "2026-01-01T00:00:00Z",
                "properties": {"plan": "pro"}, "context": {"channel": "mobile"}})
        );
        let page = call_from_row(&headers, &row(&["page", "Home", "u1", "", "", "", ""]), 3).unwrap();
        assert_eq!(page, json!({"type": "page", "name": "Home", "userId": "u1"}));
    }

    #[test]
    fn bad_json_columns_are_named_with_their_line() {
        let headers = row(&["type", "user_id", "properties", "context"]);
        let problems = call_from_row(&headers, &row(&["track", "u1", "{nope", "[1]"]), 9).unwrap_err();
        let fields: Vec<(&str, usize)> = problems.iter().map(|p| (p.field.as_str(), p.lines[0])).collect();
        assert_eq!(fields, [("properties", 9), ("context", 9)]);
        assert!(problems[0].problem.starts_with("not JSON"), "{problems:?}");
    }
}
