//! Orders from another system (`rapport import orders FILE`): one row per order, CSV or JSONL, to
//! the workspace's order events (Segment's `Order Completed` unless the churn settings name
//! another), so lifetime value, spend and churn features read them like tracked orders.
//!
//! Columns: `order_id` (required: the event's message id is `order:<order_id>`, so a re-run adds
//! nothing), `customer` (`userId:42`, `email:jane@example.com`, `phone:…`, or a bare user id),
//! `timestamp` (RFC 3339, or a date YYYY-MM-DD at midnight UTC), `amount` (0 or more: the
//! `revenue`), and optionally `currency` and `channel`.

use rapport_core::event::{BatchEnvelope, Event, parse_event};
use rapport_core::identity::{Identity, IdentityKind};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::services::import::RowProblem;

pub const ORDER_COLUMNS: [&str; 6] = ["order_id", "customer", "timestamp", "amount", "currency", "channel"];

fn problem(line: usize, field: &str, problem: impl Into<String>) -> RowProblem {
    RowProblem { lines: vec![line], field: field.into(), problem: problem.into() }
}

/// One order (its cells by column) to a track event, or its problems.
fn to_event(
    line: usize,
    cells: &Map<String, Value>,
    order_event: &str,
    received_at: OffsetDateTime,
) -> Result<Event, Vec<RowProblem>> {
    let text = |column: &str| match cells.get(column) {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    let mut problems = Vec::new();
    let order_id = text("order_id");
    if order_id.is_none() {
        problems.push(problem(line, "order_id", "required"));
    }
    let customer = match text("customer") {
        None => {
            problems.push(problem(line, "customer", "required"));
            None
        }
        Some(raw) if raw.contains(':') => match Identity::parse_typed(&raw) {
            Ok(identity) => Some(identity),
            Err(error) => {
                problems.push(problem(line, "customer", format!("`{raw}`: {error}")));
                None
            }
        },
        Some(raw) => Identity::user_id(&raw).ok(),
    };
    let timestamp = match text("timestamp") {
        None => {
            problems.push(problem(line, "timestamp", "required"));
            None
        }
        Some(raw) => {
            let date = time::Date::parse(&raw, time::macros::format_description!("[year]-[month]-[day]"));
            match date {
                Ok(date) => Some(format!("{date}T00:00:00Z")),
                Err(_) => Some(raw),
            }
        }
    };
    let amount = match cells.get("amount") {
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::String(text)) if !text.trim().is_empty() => {
            text.trim().parse::<f64>().ok().filter(|a| a.is_finite())
        }
        _ => None,
    };
    match amount {
        None => problems.push(problem(line, "amount", "required: a number")),
        Some(amount) if amount < 0.0 => {
            problems.push(problem(line, "amount", format!("cannot be negative ({amount})")))
        }
        Some(_) => {}
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(order_id), Some(customer), Some(timestamp), Some(amount)) = (order_id, customer, timestamp, amount)
    else {
        return Err(problems);
    };
    let mut properties = json!({"order_id": order_id, "revenue": amount});
    if let Some(currency) = text("currency") {
        properties["currency"] = Value::from(currency);
    }
    let mut context = json!({"library": {"name": "rapport-import"}});
    if let Some(channel) = text("channel") {
        context["channel"] = Value::from(channel);
    }
    let mut call = json!({"type": "track", "event": order_event, "timestamp": timestamp,
                          "messageId": format!("order:{order_id}"), "properties": properties, "context": context});
    // A user id is the event's user; any other identity is its anonymous id, with an e-mail
    // address or phone number also as a trait so the order joins that customer.
    match customer.kind() {
        IdentityKind::UserId => call["userId"] = Value::from(customer.value()),
        kind => {
            call["anonymousId"] = Value::from(customer.key());
            if matches!(kind, IdentityKind::Email | IdentityKind::Phone) {
                let name = if *kind == IdentityKind::Email { "email" } else { "phone" };
                call["context"]["traits"] = json!({name: customer.value()});
            }
        }
    }
    parse_event(&call, 0, None, &BatchEnvelope::default(), received_at).map(|(event, _)| event).map_err(|found| {
        found
            .into_iter()
            .map(|p| {
                let field = p.field.trim_start_matches("properties.").to_string();
                problem(line, if field == "timestamp" { "timestamp" } else { &field }, p.problem)
            })
            .collect()
    })
}

/// Every order of a CSV file to events, and every bad row's problems.
pub fn orders_from_csv(
    text: &str,
    order_event: &str,
    received_at: OffsetDateTime,
) -> Result<(Vec<Event>, Vec<RowProblem>), String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let unknown: Vec<&str> = headers.iter().filter(|c| !ORDER_COLUMNS.contains(c)).collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unknown columns in the header: {}; expected {}",
            unknown.join(", "),
            ORDER_COLUMNS.join(", ")
        ));
    }
    let (mut events, mut problems) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line() as usize);
                problems.push(problem(line, "row", error.to_string()));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let cells: Map<String, Value> =
            headers.iter().zip(record.iter()).map(|(column, cell)| (column.to_string(), Value::from(cell))).collect();
        match to_event(line, &cells, order_event, received_at) {
            Ok(event) => events.push(event),
            Err(found) => problems.extend(found),
        }
    }
    Ok((events, problems))
}

/// Every order of a JSONL file (one object per line, the CSV's columns as keys) to events.
pub fn orders_from_jsonl(text: &str, order_event: &str, received_at: OffsetDateTime) -> (Vec<Event>, Vec<RowProblem>) {
    let (mut events, mut problems) = (Vec::new(), Vec::new());
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(cells)) => match order_event_from(index + 1, &cells, order_event, received_at) {
                Ok(event) => events.push(event),
                Err(found) => problems.extend(found),
            },
            Ok(_) => problems.push(problem(index + 1, "row", "must be a JSON object")),
            Err(error) => problems.push(problem(index + 1, "row", error.to_string())),
        }
    }
    (events, problems)
}

fn order_event_from(
    line: usize,
    cells: &Map<String, Value>,
    order_event: &str,
    received_at: OffsetDateTime,
) -> Result<Event, Vec<RowProblem>> {
    if let Some(unknown) = cells.keys().find(|key| !ORDER_COLUMNS.contains(&key.as_str())) {
        return Err(vec![problem(line, unknown, format!("unknown field; expected {}", ORDER_COLUMNS.join(", ")))]);
    }
    to_event(line, cells, order_event, received_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_become_order_events_and_bad_rows_are_named() {
        let csv = "order_id,customer,timestamp,amount,currency,channel\n\
                   A1,email:Jane@Example.com,2026-03-01,25.5,EUR,web\n\
                   A2,42,2026-03-02T10:00:00Z,10,,\n\
                   ,userId:7,2026-03-03,-4,,\n\
                   A4,userId:7,yesterday,4,,\n";
        let (events, problems) = orders_from_csv(csv, "Order Completed", OffsetDateTime::now_utc()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].message_id, "order:A1");
        assert_eq!(events[0].properties["revenue"], 25.5);
        let found: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(found[0], "line 4: order_id: required");
        assert!(found[1].starts_with("line 4: amount: cannot be negative"), "{found:?}");
        assert!(found[2].starts_with("line 5: timestamp"), "{found:?}");
        assert!(orders_from_csv("order,customer\n", "Order Completed", OffsetDateTime::now_utc()).is_err());
        let (events, problems) = orders_from_jsonl(
            "{\"order_id\": 9, \"customer\": \"userId:1\", \"timestamp\": \"2026-01-01\", \"amount\": 3}\n{\"sku\": 1}\n",
            "Purchase",
            OffsetDateTime::now_utc(),
        );
        assert_eq!((events.len(), events[0].name.as_deref()), (1, Some("Purchase")));
        assert_eq!(
            problems[0].to_string(),
            "line 2: sku: unknown field; expected order_id, customer, timestamp, amount, currency, channel"
        );
    }
}
