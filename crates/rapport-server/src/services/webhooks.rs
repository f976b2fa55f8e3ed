//! Webhooks as a service: subscriptions, and delivery. Each pass turns new domain events into
//! deliveries (one per subscription and event), claims the due ones, POSTs each (signed per
//! Standard Webhooks; to Slack as a message; to Jira as an issue per opened case, linked back to
//! the case), and records the attempt: delivered on a 2xx, else retried on the schedule
//! of `rapport_core::webhooks` and failed after the last retry; a subscription that keeps failing
//! is disabled. Everything lives in the database, so a restart picks up where it stopped, and
//! `now_ms` is a parameter, so tests move the clock.

use std::time::{Duration, Instant};

use rapport_core::webhooks::{DISABLE_AFTER_FAILURES, retry_after_ms, signature};
use rapport_store::case_records::CaseEntry;
use rapport_store::webhook_records::{AttemptOutcome, DueDelivery, WebhookRecord};
use rapport_store::{Store, StoreError};
use serde_json::{Value, json};

use crate::services::rfc3339;

/// How long a claimed delivery is reserved for its attempt.
const LEASE_MS: i64 = 60_000;
/// Domain events older than this get no deliveries for new or re-enabled subscriptions.
const FAN_OUT_WINDOW_MS: i64 = 7 * 24 * 3_600_000;
/// Deliveries attempted per pass.
const PASS: usize = 50;
/// A receiver has this long to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client deliveries go out with.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Rapport-Webhooks/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// The `webhook-id` of a delivery: the same for every attempt and replay of it.
pub fn message_id(delivery_id: &str) -> String {
    format!("msg_{}", delivery_id.replace(':', "_"))
}

/// One pass: fan out, claim, send, record. Returns the attempts made.
pub async fn deliver_due(store: &Store, client: &reqwest::Client, now_ms: i64) -> Result<usize, StoreError> {
    store.fan_out_webhooks(now_ms, now_ms - FAN_OUT_WINDOW_MS).await?;
    let due = store.claim_due_deliveries(now_ms, PASS, LEASE_MS).await?;
    for delivery in &due {
        let (outcome, answer) = send(client, delivery, now_ms).await;
        if !outcome.delivered {
            tracing::info!(delivery = %delivery.delivery.id, url = %delivery.url, error = ?outcome.error, "webhook attempt failed");
        }
        store.record_attempt(&delivery.delivery, &outcome, i64::from(DISABLE_AFTER_FAILURES)).await?;
        if outcome.delivered && delivery.kind == "jira" {
            link_jira_issue(store, delivery, answer).await?;
        }
    }
    Ok(due.len())
}

/// The body every webhook receiver gets: `{"type", "timestamp", "data"}` (Standard Webhooks' shape).
pub fn body(delivery: &DueDelivery) -> Vec<u8> {
    let envelope = json!({
        "type": delivery.delivery.event_type,
        "timestamp": rfc3339(delivery.event_created_at_ms),
        "data": delivery.payload,
    });
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// One line for people: what a Slack message says about an event.
pub fn summary(event_type: &str, data: &Value) -> String {
    let text = |key: &str| data[key].as_str().map(str::to_owned).or_else(|| data[key].as_f64().map(|n| n.to_string()));
    match event_type {
        "alert.raised" => {
            let alert = &data["alert"];
            let subject = alert["topic"]
                .as_str()
                .map(|t| format!("topic *{t}*"))
                .or_else(|| alert["source"].as_str().map(|s| format!("source *{s}*")));
            let example = alert["examples"][0]["text"]
                .as_str()
                .map(|t| format!(" For example: \u{201c}{t}\u{201d}"))
                .unwrap_or_default();
            format!(
                ":rotating_light: Spike in negative feedback on {}: {} in the last {} (expected {}).{example}",
                subject.unwrap_or_else(|| "feedback".into()),
                alert["observed"],
                alert["window"]["granularity"].as_str().unwrap_or("hour"),
                alert["expected"],
            )
        }
        "case.opened" | "case.updated" | "case.closed" => {
            let verb = match event_type {
                "case.opened" => "opened",
                "case.closed" => "closed",
                _ => "updated",
            };
            format!(
                ":inbox_tray: Case {verb} ({}, {}): {}. Assigned to {}; resolution due {}.",
                text("priority").unwrap_or_default(),
                text("state").unwrap_or_default(),
                text("title").unwrap_or_default(),
                text("assignee").unwrap_or_else(|| "nobody".into()),
                text("resolutionDue").unwrap_or_default(),
            )
        }
        "response.created" => format!(
            ":speech_balloon: New response from {} to survey {}.",
            text("identity").unwrap_or_default(),
            text("surveyId").unwrap_or_default()
        ),
        "customer.churn_risk" => {
            let factors: Vec<String> = data["factors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| Some(format!("{} {}", f["column"].as_str()?, f["direction"].as_str()?)))
                .collect();
            format!(
                ":warning: Customer {} is at risk of churn ({:.0}%): {}.",
                text("customerId").unwrap_or_default(),
                data["probability"].as_f64().unwrap_or(0.0) * 100.0,
                if factors.is_empty() { "no factors".to_string() } else { factors.join(", ") }
            )
        }
        other => format!("Rapport: {other}"),
    }
}

/// The request a delivery makes, by the subscription's kind.
fn request(client: &reqwest::Client, delivery: &DueDelivery, now_ms: i64) -> Result<reqwest::RequestBuilder, String> {
    match delivery.kind.as_str() {
        "slack" => Ok(client
            .post(&delivery.url)
            .json(&json!({"text": summary(&delivery.delivery.event_type, &delivery.payload)}))),
        "jira" => {
            let config = delivery.config.as_ref().ok_or("the jira subscription has no settings")?;
            let field = |key: &str| config[key].as_str().unwrap_or_default().to_owned();
            let case = &delivery.payload;
            let issue = json!({"fields": {
                "project": {"key": field("project")},
                "issuetype": {"name": field("issueType")},
                "summary": case["title"].as_str().unwrap_or("Rapport case"),
                "description": format!(
                    "Rapport case {} ({} priority) for {}.\nAssigned to {}; first response due {}, resolution due {}.",
                    case["id"].as_str().unwrap_or_default(),
                    case["priority"].as_str().unwrap_or_default(),
                    case["identity"].as_str().unwrap_or("an unknown customer"),
                    case["assignee"].as_str().unwrap_or("nobody"),
                    case["firstResponseDue"].as_str().unwrap_or_default(),
                    case["resolutionDue"].as_str().unwrap_or_default(),
                ),
                "labels": ["rapport"],
            }});
            let url = format!("{}/rest/api/2/issue", delivery.url.trim_end_matches('/'));
            Ok(client.post(url).basic_auth(field("email"), Some(field("apiToken"))).json(&issue))
        }
        _ => {
            let id = message_id(&delivery.delivery.id);
            let timestamp = now_ms / 1_000;
            let body = body(delivery);
            let signed = signature(&delivery.secret, &id, timestamp, &body)
                .ok_or("the subscription's secret is not whsec_ + base64")?;
            Ok(client
                .post(&delivery.url)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signed)
                .body(body))
        }
    }
}

/// Sends one delivery; the outcome, and the receiver's JSON answer when it gave one.
async fn send(client: &reqwest::Client, delivery: &DueDelivery, now_ms: i64) -> (AttemptOutcome, Option<Value>) {
    let started = Instant::now();
    let result = match request(client, delivery, now_ms) {
        Err(error) => Err((None, error)),
        Ok(request) => match request.send().await {
            Err(error) => Err((None, error.to_string())),
            Ok(response) if response.status().is_success() => {
                let status = i64::from(response.status().as_u16());
                Ok((status, response.json::<Value>().await.ok()))
            }
            Ok(response) => {
                let status = response.status();
                Err((Some(i64::from(status.as_u16())), format!("HTTP {status}")))
            }
        },
    };
    let duration_ms = started.elapsed().as_millis() as i64;
    let attempts = u32::try_from(delivery.delivery.attempts + 1).unwrap_or(u32::MAX);
    match result {
        Ok((status, answer)) => (
            AttemptOutcome {
                at_ms: now_ms,
                status: Some(status),
                error: None,
                duration_ms,
                delivered: true,
                retry_at_ms: None,
            },
            answer,
        ),
        Err((status, error)) => (
            AttemptOutcome {
                at_ms: now_ms,
                status,
                error: Some(error),
                duration_ms,
                delivered: false,
                retry_at_ms: retry_after_ms(attempts).map(|wait| now_ms + wait),
            },
            None,
        ),
    }
}

/// Links the case to the Jira issue its delivery created (an entry in the case's history).
async fn link_jira_issue(store: &Store, delivery: &DueDelivery, answer: Option<Value>) -> Result<(), StoreError> {
    let (Some(answer), Some(case_id)) = (answer, delivery.payload["id"].as_str()) else { return Ok(()) };
    let Some(key) = answer["key"].as_str() else { return Ok(()) };
    let entry = CaseEntry {
        at_ms: rapport_store::now_ms(),
        actor: "jira".into(),
        kind: "linked".into(),
        detail: json!({"system": "jira", "key": key, "url": format!("{}/browse/{key}", delivery.url.trim_end_matches('/'))}),
    };
    let workspace = rapport_core::ids::WorkspaceId(delivery.workspace_id.clone());
    store.add_case_entries(&workspace, case_id, &[entry]).await?;
    Ok(())
}

/// A subscription as the API shows it; the secret only when `with_secret` (creation).
pub fn webhook_json(webhook: &WebhookRecord, with_secret: bool) -> Value {
    let mut value = json!({
        "id": webhook.id,
        "kind": webhook.kind,
        "url": webhook.url,
        "events": webhook.event_types,
        "description": webhook.description,
        "status": webhook.status,
        "disabledReason": webhook.disabled_reason,
        "consecutiveFailures": webhook.consecutive_failures,
        "createdAt": rfc3339(webhook.created_at_ms),
        "updatedAt": rfc3339(webhook.updated_at_ms),
    });
    if with_secret {
        value["secret"] = Value::from(webhook.secret.clone());
    }
    if let Some(config) = &webhook.config {
        // Jira's settings, without the token.
        value["jira"] =
            json!({"project": config["project"], "issueType": config["issueType"], "email": config["email"]});
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_churn_risk_reads_as_one_line() {
        let data = serde_json::json!({"customerId": "c1", "probability": 0.734,
            "factors": [{"column": "logins_trend", "direction": "raises"}, {"column": "tenure_days", "direction": "lowers"}]});
        assert_eq!(
            summary("customer.churn_risk", &data),
            ":warning: Customer c1 is at risk of churn (73%): logins_trend raises, tenure_days lowers."
        );
        assert_eq!(summary("something.else", &data), "Rapport: something.else");
    }
}
