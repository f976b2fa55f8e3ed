//! Webhooks, the pure half: which events can be subscribed to, a subscription as sent, the
//! Standard Webhooks signature (<https://www.standardwebhooks.com>: `webhook-id`,
//! `webhook-timestamp`, `webhook-signature` = `v1,` + base64 of HMAC-SHA256 over
//! `{id}.{timestamp}.{body}` keyed by the secret), and the retry schedule.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::problem::FieldProblem;

/// What Rapport announces. `case.*` and `customer.churn_risk` come with cases and prediction.
pub const EVENT_TYPES: [&str; 6] =
    ["alert.raised", "response.created", "case.opened", "case.updated", "case.closed", "customer.churn_risk"];

/// Consecutive failed attempts after which a subscription is disabled (about a day of the schedule
/// below, twice over).
pub const DISABLE_AFTER_FAILURES: u32 = 15;

/// Seconds to wait before each retry: the first attempt is immediate, then 5 s, 5 min, 30 min, 2 h,
/// 5 h, 10 h, 10 h (the Standard Webhooks schedule): after the eighth failure a delivery has failed.
pub const RETRY_SECONDS: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// When to try again after `attempts` failed attempts (ms after the last), or `None`: give up.
pub fn retry_after_ms(attempts: u32) -> Option<i64> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_SECONDS.get(index).map(|seconds| seconds * 1_000)
}

/// Where deliveries go: a signed webhook, a Slack incoming webhook (a message), or Jira (an issue
/// per opened case, linked back to the case).
pub const KINDS: [&str; 3] = ["webhook", "slack", "jira"];

/// A subscription as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    pub kind: String,
    /// A webhook's or Slack's URL; Jira's base URL (`https://acme.atlassian.net`).
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// Jira: `{"project", "issueType", "email", "apiToken"}`.
    pub config: Option<Value>,
}

/// Checks `{"url", "events": [...], "description"?}`; every problem names its field.
pub fn parse_subscription(value: &Value) -> Result<NewSubscription, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let Some(object) = value.as_object() else {
        return Err(vec![FieldProblem::envelope("", "a subscription must be a JSON object")]);
    };
    for key in object.keys().filter(|k| !["kind", "url", "events", "description", "jira"].contains(&k.as_str())) {
        problems.push(FieldProblem::envelope(key, "unknown field: expected kind, url, events, description, jira"));
    }
    let kind = match object.get("kind") {
        None | Some(Value::Null) => "webhook".to_owned(),
        Some(Value::String(kind)) if KINDS.contains(&kind.as_str()) => kind.clone(),
        Some(_) => {
            problems.push(FieldProblem::envelope("kind", "must be webhook, slack or jira"));
            "webhook".to_owned()
        }
    };
    let config = match (kind.as_str(), object.get("jira")) {
        ("jira", Some(Value::Object(jira))) => {
            for field in ["project", "email", "apiToken"] {
                if jira.get(field).and_then(Value::as_str).is_none_or(|v| v.trim().is_empty()) {
                    problems.push(FieldProblem::envelope(&format!("jira.{field}"), "required: a non-empty string"));
                }
            }
            let issue_type = jira.get("issueType").and_then(Value::as_str).unwrap_or("Task");
            Some(serde_json::json!({
                "project": jira.get("project"), "email": jira.get("email"), "apiToken": jira.get("apiToken"),
                "issueType": issue_type,
            }))
        }
        ("jira", _) => {
            problems.push(FieldProblem::envelope(
                "jira",
                "required: {\"project\", \"email\", \"apiToken\", \"issueType\"?}",
            ));
            None
        }
        (_, Some(_)) => {
            problems.push(FieldProblem::envelope("jira", "only a jira subscription has jira settings"));
            None
        }
        (_, None) => None,
    };
    let url = match object.get("url").and_then(Value::as_str) {
        Some(url)
            if (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2_000
                && !url.contains(char::is_whitespace) =>
        {
            Some(url.to_owned())
        }
        _ => {
            problems.push(FieldProblem::envelope("url", "required: an http:// or https:// URL without spaces"));
            None
        }
    };
    let mut event_types = Vec::new();
    match object.get("events").and_then(Value::as_array) {
        Some(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(kind) if EVENT_TYPES.contains(&kind) => {
                        if !event_types.iter().any(|k| k == kind) {
                            event_types.push(kind.to_owned());
                        }
                    }
                    _ => problems.push(FieldProblem::envelope(
                        &format!("events[{i}]"),
                        &format!("expected one of {}", EVENT_TYPES.join(", ")),
                    )),
                }
            }
        }
        _ => problems.push(FieldProblem::envelope(
            "events",
            &format!("required: a non-empty list of {}", EVENT_TYPES.join(", ")),
        )),
    }
    let description = match object.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.len() <= 500 => Some(text.clone()),
        Some(_) => {
            problems.push(FieldProblem::envelope("description", "must be a string of at most 500 bytes"));
            None
        }
    };
    if kind == "jira" && event_types.iter().any(|t| t != "case.opened") {
        problems
            .push(FieldProblem::envelope("events", "a jira subscription takes case.opened only: one issue per case"));
    }
    match url {
        Some(url) if problems.is_empty() => Ok(NewSubscription { kind, url, event_types, description, config }),
        _ => Err(problems),
    }
}

/// A signing secret from 24 random bytes: `whsec_` + base64.
pub fn secret_from(random: [u8; 24]) -> String {
    format!("whsec_{}", STANDARD.encode(random))
}

/// The `webhook-signature` header for a message: `v1,<base64 HMAC-SHA256>`; `None` for a secret
/// that is not `whsec_` + base64.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signatures_match_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(signature(secret, id, 1614265330, body).unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(signature("not-a-secret", id, 1, body).is_none());
    }

    #[test]
    fn retries_follow_the_schedule_then_stop() {
        assert_eq!(retry_after_ms(0), None);
        assert_eq!(retry_after_ms(1), Some(5_000));
        assert_eq!(retry_after_ms(2), Some(300_000));
        assert_eq!(retry_after_ms(7), Some(36_000_000));
        assert_eq!(retry_after_ms(8), None, "eight attempts in all");
    }

    #[test]
    fn subscriptions_are_checked() {
        let ok = parse_subscription(
            &json!({"url": "https://hooks.example.com/rapport", "events": ["alert.raised", "alert.raised"]}),
        )
        .unwrap();
        assert_eq!(ok.event_types, ["alert.raised"]);
        let problems =
            parse_subscription(&json!({"url": "ftp://x", "events": ["alert.raised", "order.shipped"], "colour": 1}))
                .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["colour", "url", "events[1]"]);
        assert_eq!(parse_subscription(&json!({"url": "http://x"})).unwrap_err()[0].field, "events");
    }
}
