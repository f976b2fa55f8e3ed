//! Customers from another system (`rapport import customers FILE`): one row per customer, CSV or
//! JSONL, to `identify` calls, resolved into customers as ingestion does. `customer` (required:
//! `userId:42`, `email:…`, `phone:…`, `external:crm:123`, or a bare user id) says who; `timestamp`
//! (optional, RFC 3339 or YYYY-MM-DD) when the traits held; every other column is a trait (`email`
//! and `phone` also link those identities; numbers stay numbers). A call's message id is a digest
//! of its content, so re-running a file adds nothing.

use rapport_core::event::{BatchEnvelope, Event, parse_event};
use rapport_core::identity::{Identity, IdentityKind};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::services::import::RowProblem;

fn problem(line: usize, field: &str, problem: impl Into<String>) -> RowProblem {
    RowProblem { lines: vec![line], field: field.into(), problem: problem.into() }
}

fn to_event(line: usize, cells: &Map<String, Value>, received_at: OffsetDateTime) -> Result<Event, Vec<RowProblem>> {
    let text = |value: &Value| match value {
        Value::String(text) => Some(text.trim().to_string()).filter(|t| !t.is_empty()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    let Some(raw) = cells.get("customer").and_then(text) else {
        return Err(vec![problem(line, "customer", "required")]);
    };
    let customer = if raw.contains(':') { Identity::parse_typed(&raw) } else { Identity::user_id(&raw) }
        .map_err(|error| vec![problem(line, "customer", format!("`{raw}`: {error}"))])?;
    let mut traits = Map::new();
    for (column, value) in cells {
        if column == "customer" || column == "timestamp" {
            continue;
        }
        let Some(cell) = text(value) else { continue };
        let value = match value {
            // A number stays a number unless that would lose something: a sign written out, a
            // leading zero (postcodes, account numbers).
            Value::String(_) => cell
                .parse::<f64>()
                .ok()
                .filter(|n| {
                    let leading_zero = cell.starts_with('0') && cell.len() > 1 && !cell.starts_with("0.");
                    n.is_finite() && !cell.starts_with('+') && !leading_zero
                })
                .map_or(Value::from(cell.clone()), |n| {
                    serde_json::Number::from_f64(n).map_or(Value::from(cell.clone()), Value::Number)
                }),
            other => other.clone(),
        };
        traits.insert(column.clone(), value);
    }
    let mut call = json!({"type": "identify", "traits": traits, "context": {"library": {"name": "rapport-import"}}});
    match customer.kind() {
        IdentityKind::UserId => call["userId"] = Value::from(customer.value()),
        kind => {
            call["anonymousId"] = Value::from(customer.key());
            let name = match kind {
                IdentityKind::Email => Some("email"),
                IdentityKind::Phone => Some("phone"),
                _ => None,
            };
            if let Some(name) = name {
                call["traits"][name] = Value::from(customer.value());
            }
        }
    }
    if let Some(timestamp) = cells.get("timestamp").and_then(text) {
        let date = time::Date::parse(&timestamp, time::macros::format_description!("[year]-[month]-[day]"));
        call["timestamp"] = Value::from(date.map_or(timestamp, |date| format!("{date}T00:00:00Z")));
    }
    parse_event(&call, 0, None, &BatchEnvelope::default(), received_at).map(|(event, _)| event).map_err(|found| {
        found.into_iter().map(|p| problem(line, p.field.trim_start_matches("traits."), p.problem)).collect()
    })
}

/// Every customer of a CSV file to identify calls, and every bad row's problems.
pub fn customers_from_csv(text: &str, received_at: OffsetDateTime) -> Result<(Vec<Event>, Vec<RowProblem>), String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    if !headers.iter().any(|column| column == "customer") {
        return Err(format!("no `customer` column in the header ({})", headers.iter().collect::<Vec<_>>().join(", ")));
    }
    if headers.iter().any(|column| column.trim().is_empty()) {
        return Err("a column in the header has no name".into());
    }
    let (mut events, mut problems) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                problems.push(problem(error.position().map_or(0, |p| p.line() as usize), "row", error.to_string()));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let cells: Map<String, Value> =
            headers.iter().zip(record.iter()).map(|(column, cell)| (column.to_string(), Value::from(cell))).collect();
        match to_event(line, &cells, received_at) {
            Ok(event) => events.push(event),
            Err(found) => problems.extend(found),
        }
    }
    Ok((events, problems))
}

/// Every customer of a JSONL file (one object per line: `customer`, `timestamp`, traits).
pub fn customers_from_jsonl(text: &str, received_at: OffsetDateTime) -> (Vec<Event>, Vec<RowProblem>) {
    let (mut events, mut problems) = (Vec::new(), Vec::new());
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(cells)) => match to_event(index + 1, &cells, received_at) {
                Ok(event) => events.push(event),
                Err(found) => problems.extend(found),
            },
            Ok(_) => problems.push(problem(index + 1, "row", "must be a JSON object")),
            Err(error) => problems.push(problem(index + 1, "row", error.to_string())),
        }
    }
    (events, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_become_identify_calls_with_traits() {
        let csv = "customer,email,plan,seats,postcode,timestamp\n\
                   userId:u1,Jane@Example.com,pro,12,01067,2026-01-01\n\
                   email:bob@example.com,,basic,,,\n\
                   ,x@example.com,pro,1,,\n\
                   phone:notaphone,,,,,\n";
        let (events, problems) = customers_from_csv(csv, OffsetDateTime::now_utc()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].user_id.as_deref(), Some("u1"));
        assert_eq!(events[0].traits["plan"], "pro");
        assert_eq!(events[0].traits["seats"], 12.0);
        assert_eq!(events[0].traits["postcode"], "01067", "a leading zero keeps it text");
        let keys: Vec<String> = events[0].linked_identities.iter().map(|i| i.key()).collect();
        assert!(keys.contains(&"email:jane@example.com".to_string()), "{keys:?}");
        assert_eq!(events[1].anonymous_id.as_deref(), Some("email:bob@example.com"));
        let found: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(found[0], "line 4: customer: required");
        assert!(found[1].starts_with("line 5: customer: `phone:notaphone`"), "{found:?}");
        // The same row twice is the same call (a re-run adds nothing).
        let (again, _) = customers_from_csv(csv, OffsetDateTime::now_utc()).unwrap();
        assert_eq!(again[1].message_id, events[1].message_id);
        assert!(customers_from_csv("email,plan\n", OffsetDateTime::now_utc()).is_err());
    }
}
