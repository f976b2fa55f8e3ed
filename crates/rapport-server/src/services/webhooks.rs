//! Webhooks as a service: subscriptions, and delivery. Each pass turns new domain events into
//! deliveries (one per subscription and event), claims the due ones, POSTs each signed per
//! Standard Webhooks, and records the attempt: delivered on a 2xx, else retried on the schedule
//! of `rapport_core::webhooks` and failed after the last retry; a subscription that keeps failing
//! is disabled. Everything lives in the database, so a restart picks up where it stopped, and
//! `now_ms` is a parameter, so tests move the clock.

use std::time::{Duration, Instant};

use rapport_core::webhooks::{DISABLE_AFTER_FAILURES, retry_after_ms, signature};
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
        let outcome = send(client, delivery, now_ms).await;
        if !outcome.delivered {
            tracing::info!(delivery = %delivery.delivery.id, url = %delivery.url, error = ?outcome.error, "webhook attempt failed");
        }
        store.record_attempt(&delivery.delivery, &outcome, i64::from(DISABLE_AFTER_FAILURES)).await?;
    }
    Ok(due.len())
}

/// The body every receiver gets: `{"type", "timestamp", "data"}` (Standard Webhooks' shape).
pub fn body(delivery: &DueDelivery) -> Vec<u8> {
    let envelope = json!({
        "type": delivery.delivery.event_type,
        "timestamp": rfc3339(delivery.event_created_at_ms),
        "data": delivery.payload,
    });
    serde_json::to_vec(&envelope).unwrap_or_default()
}

async fn send(client: &reqwest::Client, delivery: &DueDelivery, now_ms: i64) -> AttemptOutcome {
    let id = message_id(&delivery.delivery.id);
    let timestamp = now_ms / 1_000;
    let body = body(delivery);
    let started = Instant::now();
    let result = match signature(&delivery.secret, &id, timestamp, &body) {
        None => Err((None, "the subscription's secret is not whsec_ + base64".to_owned())),
        Some(signed) => client
            .post(&delivery.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(body)
            .send()
            .await
            .map_err(|error| (None, error.to_string()))
            .and_then(|response| {
                let status = response.status();
                if status.is_success() {
                    Ok(i64::from(status.as_u16()))
                } else {
                    Err((Some(i64::from(status.as_u16())), format!("HTTP {status}")))
                }
            }),
    };
    let duration_ms = started.elapsed().as_millis() as i64;
    let attempts = u32::try_from(delivery.delivery.attempts + 1).unwrap_or(u32::MAX);
    match result {
        Ok(status) => AttemptOutcome {
            at_ms: now_ms,
            status: Some(status),
            error: None,
            duration_ms,
            delivered: true,
            retry_at_ms: None,
        },
        Err((status, error)) => AttemptOutcome {
            at_ms: now_ms,
            status,
            error: Some(error),
            duration_ms,
            delivered: false,
            retry_at_ms: retry_after_ms(attempts).map(|wait| now_ms + wait),
        },
    }
}

/// A subscription as the API shows it; the secret only when `with_secret` (creation).
pub fn webhook_json(webhook: &WebhookRecord, with_secret: bool) -> Value {
    let mut value = json!({
        "id": webhook.id,
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
    value
}
