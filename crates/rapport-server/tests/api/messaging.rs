//! SMS and chat invitations through an outbound HTTP provider started by the test, and bounces:
//! a provider's refusal of a number, and an SMTP server's refusal of a mailbox.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::{TestApp, status_and_json};
use crate::invitations::settled_invitations;

/// Every message the provider was asked to send, with its Authorization header.
type Sent = Arc<Mutex<Vec<(Value, String)>>>;

/// A messaging provider: accepts every number but one, which it refuses as invalid.
async fn provider() -> (String, Sent) {
    let sent: Sent = Arc::default();
    async fn send(State(sent): State<Sent>, headers: HeaderMap, Json(message): Json<Value>) -> (StatusCode, String) {
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        sent.lock().unwrap().push((message.clone(), authorization));
        if message["to"] == "+15005550001" {
            return (StatusCode::BAD_REQUEST, "{\"error\": \"invalid number\"}".to_owned());
        }
        (StatusCode::ACCEPTED, "{}".to_owned())
    }
    let router = axum::Router::new().route("/send", post(send)).with_state(sent.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://relay:s3cret@{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, sent)
}

async fn create_survey(app: &TestApp, channel: &str, event: &str) -> String {
    let definition = json!({"name": "After delivery", "kind": "transactional",
        "questions": [{"id": "nps", "type": "nps"}],
        "delivery": {"channel": channel, "trigger": {"event": event}}});
    let (status, body) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

pub async fn sms_goes_through_the_provider_and_refusals_bounce(kind: rapport_store::BackendKind) {
    let (provider_url, sent) = provider().await;
    let (smtp_url, inbox) = crate::email::smtp_server();
    let app = TestApp::spawn_sending(kind, Some(smtp_url), Some(provider_url)).await;
    let sms = create_survey(&app, "sms", "Order Delivered").await;
    for (user, traits) in [
        ("u1", json!({"phone": "+44 20 7946 0958"})),
        ("u2", json!({"phone": "+1 500 555 0001"})),
        ("u3", json!({"email": "u3@acme.example"})),
    ] {
        app.send("/v1/identify", &json!({"userId": user, "traits": traits})).await;
        let event = json!({"userId": user, "event": "Order Delivered", "messageId": format!("d-{user}")});
        assert_eq!(app.send("/v1/track", &event).await.status(), StatusCode::OK);
    }
    let invitations = settled_invitations(&app, &sms, 3).await;
    let of = |message: &str| invitations.iter().find(|i| i["messageId"] == message).unwrap().clone();
    assert_eq!(of("d-u1")["state"], "sent", "{invitations:?}");
    let bounced = of("d-u2");
    assert_eq!(
        (bounced["state"].as_str(), bounced["reason"].as_str()),
        (Some("bounced"), Some("bounced")),
        "{bounced}"
    );
    assert!(bounced["explanation"].as_str().unwrap().contains("invalid number"), "{bounced}");
    let unreachable = of("d-u3");
    assert_eq!((unreachable["state"].as_str(), unreachable["reason"].as_str()), (Some("failed"), Some("no_address")));

    // What the provider received: the number in E.164, a text with the survey and stop links,
    // the URL's user and password as Basic authentication (never in the body).
    let messages = sent.lock().unwrap().clone();
    let (first, authorization) = messages.iter().find(|(message, _)| message["to"] == "+442079460958").unwrap();
    assert_eq!(first["channel"], "sms");
    let text = first["text"].as_str().unwrap();
    assert!(text.contains("/s/") && text.contains("/u/") && text.starts_with("After delivery"), "{text}");
    assert_eq!(authorization, "Basic cmVsYXk6czNjcmV0", "relay:s3cret");
    assert!(!first.to_string().contains("s3cret"));

    // An SMTP server's permanent refusal of the mailbox bounces an e-mail invitation.
    let email = create_survey(&app, "email", "Ticket Closed").await;
    app.send("/v1/identify", &json!({"userId": "u5", "traits": {"email": "nobody@acme.example"}})).await;
    app.send("/v1/track", &json!({"userId": "u5", "event": "Ticket Closed", "messageId": "t-u5"})).await;
    let invitations = settled_invitations(&app, &email, 1).await;
    assert_eq!(
        (invitations[0]["state"].as_str(), invitations[0]["reason"].as_str()),
        (Some("bounced"), Some("bounced"))
    );
    assert!(inbox.lock().unwrap().is_empty());
    app.stop().await;
}
