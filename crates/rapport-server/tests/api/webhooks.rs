use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rapport_server::services::webhooks::{client, deliver_due};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, assert_error, status_and_json};

const HOUR_MS: i64 = 3_600_000;

/// One request a receiver got: its headers of interest and its body.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
}

/// A local HTTP receiver that answers with `status` (settable) and keeps every request.
pub struct Receiver {
    pub url: String,
    pub status: Arc<AtomicU16>,
    pub received: Arc<Mutex<Vec<Received>>>,
}

type ReceiverState = (Arc<AtomicU16>, Arc<Mutex<Vec<Received>>>);

async fn receive(State((status, received)): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    received.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
    });
    AxumStatus::from_u16(status.load(Ordering::SeqCst)).unwrap()
}

pub async fn receiver() -> Receiver {
    let status = Arc::new(AtomicU16::new(200));
    let received = Arc::new(Mutex::new(Vec::new()));
    let router =
        axum::Router::new().route("/hook", axum::routing::post(receive)).with_state((status.clone(), received.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Receiver { url, status, received }
}

/// Verifies a request as a receiver would, with the Standard Webhooks recipe.
pub fn verify(secret: &str, request: &Received) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", request.id, request.timestamp).as_bytes());
    mac.update(&request.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    request.signature.split(' ').any(|candidate| candidate == expected)
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

async fn admin_get(app: &TestApp, path: &str) -> Value {
    let response = app.client.get(app.url(path)).bearer_auth(&app.admin_key).send().await.unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn answer(app: &TestApp, survey: &str, who: &str) {
    let body = json!({"customer": format!("email:{who}@example.com"), "answers": {"nps": 3}});
    let response = app.send(&format!("/v1/surveys/{survey}/responses"), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// A response is announced to a subscribed receiver, signed; while the receiver is down the
/// delivery is retried on schedule, survives a restart of the server, and arrives when the
/// receiver is back; the log shows every attempt; a replay sends it again; a subscription that
/// keeps failing is disabled.
pub async fn webhooks_are_signed_retried_and_survive_a_restart(app: TestApp) {
    let receiver = receiver().await;
    let survey = json!({"name": "Pulse", "kind": "transactional", "questions": [{"id": "nps", "type": "nps"}]});
    let (_, created) = status_and_json(app.post("/v1/surveys", &app.admin_key, &survey).send().await.unwrap()).await;
    let survey = created["id"].as_str().unwrap().to_owned();

    // Bad subscriptions are named field by field; write keys cannot subscribe.
    let bad = json!({"url": "ftp://x", "events": ["order.shipped"]});
    let response = app.post("/v1/webhooks", &app.admin_key, &bad).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_settings", &[(None, "url"), (None, "events[0]")]).await;
    let response = app.post("/v1/webhooks", &app.write_key, &json!({})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let subscription =
        json!({"url": receiver.url, "events": ["response.created", "alert.raised"], "description": "CRM"});
    let (status, webhook) =
        status_and_json(app.post("/v1/webhooks", &app.admin_key, &subscription).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let (id, secret) = (webhook["id"].as_str().unwrap().to_owned(), webhook["secret"].as_str().unwrap().to_owned());
    assert!(secret.starts_with("whsec_"));

    // Delivered at once, signed.
    answer(&app, &survey, "ann").await;
    let sender = client();
    let t0 = now_ms();
    deliver_due(&app.store, &sender, t0).await.unwrap();
    let first = receiver.received.lock().unwrap().clone();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(verify(&secret, &first[0]), "the signature verifies with the secret");
    let body: Value = serde_json::from_slice(&first[0].body).unwrap();
    assert_eq!(body["type"], "response.created");
    assert_eq!(body["data"]["identity"], "email:ann@example.com");
    assert_eq!(body["data"]["surveyId"], survey.as_str());

    // The receiver goes down: each attempt fails and the next waits longer.
    receiver.status.store(503, Ordering::SeqCst);
    answer(&app, &survey, "bob").await;
    let mut clock = t0 + HOUR_MS;
    deliver_due(&app.store, &sender, clock).await.unwrap();
    clock += HOUR_MS;
    deliver_due(&app.store, &sender, clock).await.unwrap();
    let log = admin_get(&app, &format!("/v1/webhooks/{id}/deliveries")).await;
    let pending = &log["data"][0];
    assert_eq!(pending["status"], "pending", "{log}");
    let attempts = pending["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 2 && attempts.iter().all(|a| a["status"] == 503), "{pending}");

    // Rapport restarts mid-retry; the receiver comes back; the delivery arrives, once.
    let app = app.restart().await;
    receiver.status.store(200, Ordering::SeqCst);
    clock += 12 * HOUR_MS;
    deliver_due(&app.store, &client(), clock).await.unwrap();
    let log = admin_get(&app, &format!("/v1/webhooks/{id}/deliveries")).await;
    let delivered = &log["data"][0];
    assert_eq!(delivered["status"], "delivered", "{log}");
    let attempts = delivered["attempts"].as_array().unwrap();
    assert_eq!(attempts.last().unwrap()["status"], 200);
    assert!(attempts[..attempts.len() - 1].iter().all(|a| a["status"] == 503));
    let webhook_id = delivered["webhookId"].as_str().unwrap().to_owned();
    let received = receiver.received.lock().unwrap().clone();
    let for_bob: Vec<&Received> = received.iter().filter(|r| r.id == webhook_id).collect();
    assert!(for_bob.len() >= 3 && for_bob.iter().all(|r| verify(&secret, r)), "same webhook-id on every attempt");
    assert_eq!(received.iter().filter(|r| r.id == first[0].id).count(), 1, "the first delivery was sent once");

    // Replay: the same message again, with the same id.
    let delivery = delivered["id"].as_str().unwrap();
    let response = app
        .post(&format!("/v1/webhooks/{id}/deliveries/{delivery}/replay"), &app.admin_key, &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    deliver_due(&app.store, &client(), now_ms() + 1_000).await.unwrap();
    let count = receiver.received.lock().unwrap().iter().filter(|r| r.id == webhook_id).count();
    assert_eq!(count, for_bob.len() + 1);

    // A subscription that keeps failing is disabled, with the reason.
    let dead = json!({"url": "http://127.0.0.1:9/nothing-listens", "events": ["response.created"]});
    let (_, dead) = status_and_json(app.post("/v1/webhooks", &app.admin_key, &dead).send().await.unwrap()).await;
    let dead_id = dead["id"].as_str().unwrap().to_owned();
    // One delivery uses its eight attempts and fails; the next takes the count to the limit.
    for who in ["cy", "dee"] {
        answer(&app, &survey, who).await;
        for _ in 0..10 {
            clock += 11 * HOUR_MS;
            deliver_due(&app.store, &client(), clock).await.unwrap();
        }
    }
    let dead = admin_get(&app, &format!("/v1/webhooks/{dead_id}")).await;
    assert_eq!(dead["status"], "disabled", "{dead}");
    assert!(dead["disabledReason"].as_str().unwrap().contains("consecutive failed attempts"), "{dead}");
    let log = admin_get(&app, &format!("/v1/webhooks/{dead_id}/deliveries")).await;
    assert!(log["data"].as_array().unwrap().iter().any(|d| d["status"] == "failed"), "every retry used: {log}");
    // Enabling it again starts the count over.
    let response =
        app.post(&format!("/v1/webhooks/{dead_id}/enable"), &app.admin_key, &json!({})).send().await.unwrap();
    let (_, enabled) = status_and_json(response).await;
    assert_eq!((enabled["status"].as_str(), enabled["consecutiveFailures"].as_i64()), (Some("active"), Some(0)));
    let response = app
        .client
        .delete(app.url(&format!("/v1/webhooks/{dead_id}")))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let listed = admin_get(&app, "/v1/webhooks").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(listed["data"][0].get("secret").is_none(), "secrets are not listed");
}

/// Every request a mock service got: path, Authorization header, JSON body.
type Requests = Arc<Mutex<Vec<(String, String, Value)>>>;

/// A mock of Slack's incoming webhooks and Jira's REST API on one port: records every request and
/// answers as Jira does to a created issue.
async fn mock_services() -> (String, Requests) {
    let requests: Requests = Arc::new(Mutex::new(Vec::new()));
    let kept = requests.clone();
    let router = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
        let kept = kept.clone();
        async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            kept.lock().unwrap().push((uri.path().to_owned(), auth, body));
            if uri.path() == "/rest/api/2/issue" {
                (
                    AxumStatus::CREATED,
                    axum::Json(json!({"id": "10001", "key": "CX-7", "self": "http://jira/rest/api/2/issue/10001"})),
                )
            } else {
                (AxumStatus::OK, axum::Json(json!("ok")))
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, requests)
}

/// The Slack connector posts a message for each event; the Jira connector creates an issue for an
/// opened case, authenticated, and the issue is linked back on the case.
pub async fn slack_and_jira_connectors_deliver_their_payloads(app: TestApp) {
    let (base, requests) = mock_services().await;
    let mut settings = app.read("/v1/cases/settings").await;
    settings["teams"] = json!({"care": {"members": ["ana"]}});
    settings["rules"] = json!([{"id": "detractor", "name": "Detractor", "question": "nps", "max": 6, "priority": "high", "team": "care"}]);
    let response =
        app.client.put(app.url("/v1/cases/settings")).bearer_auth(&app.admin_key).json(&settings).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let slack = json!({"kind": "slack", "url": format!("{base}/services/T000/B000/XXX"), "events": ["case.opened"]});
    let (status, _) = status_and_json(app.post("/v1/webhooks", &app.admin_key, &slack).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED);
    let jira = json!({"kind": "jira", "url": base, "events": ["case.opened"],
                      "jira": {"project": "CX", "issueType": "Bug", "email": "bot@acme.example", "apiToken": "tok-123"}});
    let (status, created) =
        status_and_json(app.post("/v1/webhooks", &app.admin_key, &jira).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["jira"].get("apiToken").is_none(), "the token is never shown: {created}");
    let wrong = json!({"kind": "jira", "url": base, "events": ["alert.raised"], "jira": {"project": "CX", "email": "e", "apiToken": "t"}});
    let response = app.post("/v1/webhooks", &app.admin_key, &wrong).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_settings", &[(None, "events")]).await;

    let survey = json!({"name": "Pulse", "kind": "transactional", "questions": [{"id": "nps", "type": "nps"}]});
    let (_, survey) = status_and_json(app.post("/v1/surveys", &app.admin_key, &survey).send().await.unwrap()).await;
    answer(&app, survey["id"].as_str().unwrap(), "zoe").await;
    deliver_due(&app.store, &client(), now_ms() + 1_000).await.unwrap();

    let requests = requests.lock().unwrap().clone();
    let message = requests.iter().find(|(path, _, _)| path.starts_with("/services/")).expect("a Slack message");
    let text = message.2["text"].as_str().unwrap();
    assert!(text.contains("Case opened") && text.contains("email:zoe@example.com") && text.contains("ana"), "{text}");
    let issue = requests.iter().find(|(path, _, _)| path == "/rest/api/2/issue").expect("a Jira issue");
    let expected_auth = format!("Basic {}", STANDARD.encode("bot@acme.example:tok-123"));
    assert_eq!(issue.1, expected_auth);
    let fields = &issue.2["fields"];
    assert_eq!((fields["project"]["key"].as_str(), fields["issuetype"]["name"].as_str()), (Some("CX"), Some("Bug")));
    assert!(fields["summary"].as_str().unwrap().contains("email:zoe@example.com"), "{fields}");

    let cases = app.read("/v1/cases").await;
    let case = app.read(&format!("/v1/cases/{}", cases["data"][0]["id"].as_str().unwrap())).await;
    let linked = case["history"].as_array().unwrap().iter().find(|e| e["kind"] == "linked").expect("linked back");
    assert_eq!(linked["detail"]["key"], "CX-7");
    assert_eq!(linked["detail"]["url"], format!("{base}/browse/CX-7"));
}
