//! E-mail invitations end to end, through a real SMTP server started by the test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::{Handler, Server, SslConfig};
use rapport_store::BackendKind;
use reqwest::StatusCode;
use serde_json::{Value, json};

use rapport_server::services::hosted_survey::LINK_SECRET;
use rapport_server::services::invitations::Dispatcher;
use rapport_server::services::mail::{MailConfig, Mailer};
use rapport_server::services::messaging::SendError;

use crate::helpers::{TestApp, status_and_json};

/// Every message the SMTP server accepted: its recipients and the raw message.
type Messages = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// Keeps every message the SMTP server accepts.
#[derive(Clone, Default)]
struct Inbox {
    messages: Messages,
    current: Vec<u8>,
    recipients: Vec<String>,
}

impl Handler for Inbox {
    /// A mailbox that does not exist (`nobody@…`) is refused for good, as real servers do.
    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        if to.starts_with("nobody@") { mailin_embedded::response::NO_MAILBOX } else { mailin_embedded::response::OK }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> mailin_embedded::Response {
        self.recipients = to.to_vec();
        self.current.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let message = String::from_utf8_lossy(&self.current).into_owned();
        self.messages.lock().unwrap().push((self.recipients.clone(), message));
        mailin_embedded::response::OK
    }
}

/// Starts an SMTP server on a free port; returns its URL and its inbox.
pub fn smtp_server() -> (String, Messages) {
    smtp_server_with(SslConfig::None)
}

/// The same, offering STARTTLS as `ssl` says.
fn smtp_server_with(ssl: SslConfig) -> (String, Messages) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let inbox = Inbox::default();
    let messages = inbox.messages.clone();
    let mut server = Server::new(inbox);
    server.with_name("mail.test").with_ssl(ssl).unwrap().with_tcp_listener(listener);
    std::thread::spawn(move || {
        // The server runs until the test process ends; an error here fails the test by silence.
        if let Err(error) = server.serve() {
            eprintln!("the test SMTP server stopped: {error}");
        }
    });
    (url, messages)
}

async fn invitations(app: &TestApp, survey: &str) -> Vec<Value> {
    app.read(&format!("/v1/surveys/{survey}/invitations")).await["data"].as_array().unwrap().clone()
}

async fn wait_for<T>(mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(found) = probe().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting");
}

fn link_after<'a>(message: &'a str, base: &str, prefix: &str) -> &'a str {
    let start = message.find(&format!("{base}{prefix}")).unwrap_or_else(|| panic!("no {prefix} link in {message}"));
    let rest = &message[start..];
    &rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())]
}

async fn an_email_invitation_goes_out_after_its_delay(kind: BackendKind) {
    let (smtp_url, inbox) = smtp_server();
    let app = TestApp::spawn_with(kind, Some(smtp_url)).await;
    let definition = json!({"name": "After delivery", "kind": "transactional",
        "questions": [{"id": "nps", "type": "nps", "required": true}],
        "delivery": {"channel": "email", "trigger": {"event": "Order Delivered", "delayMinutes": 60}}});
    let (_, survey) = status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    let id = survey["id"].as_str().unwrap().to_owned();
    app.send("/v1/identify", &json!({"userId": "jane", "traits": {"email": "jane.smith@example.com"}})).await;
    let ago = |minutes: i64| {
        (time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    // Delivered 61 minutes ago: due now. Delivered just now: due in an hour.
    app.send(
        "/v1/track",
        &json!({"userId": "jane", "event": "Order Delivered", "messageId": "order-1", "timestamp": ago(61)}),
    )
    .await;
    app.send(
        "/v1/track",
        &json!({"userId": "jane", "event": "Order Delivered", "messageId": "order-2", "timestamp": ago(0)}),
    )
    .await;

    let (to, message) = wait_for(async || inbox.lock().unwrap().first().cloned()).await;
    assert_eq!(to, ["jane.smith@example.com"]);
    assert!(message.contains("Subject: After delivery: tell us how we did"), "{message}");
    let base = app.url("");
    let survey_link = link_after(&message, &base, "/s/").to_owned();
    let unsubscribe_link = link_after(&message, &base, "/u/").to_owned();
    // The message can reach the inbox a moment before the dispatcher records it as sent.
    let state_of = |states: &[Value], message_id: &str| {
        states.iter().find(|invitation| invitation["messageId"] == message_id).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let states = wait_for(async || {
        let states = invitations(&app, &id).await;
        (state_of(&states, "order-1") != "dispatching").then_some(states)
    })
    .await;
    assert_eq!((state_of(&states, "order-1"), state_of(&states, "order-2")), ("sent".to_owned(), "pending".to_owned()));

    // The link in the e-mail opens the survey; the answer lands once.
    assert_eq!(app.client.get(&survey_link).send().await.unwrap().status(), StatusCode::OK);
    let answered = app.client.post(&survey_link).form(&[("q.nps", "9")]).send().await.unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(
        app.client.post(&survey_link).form(&[("q.nps", "9")]).send().await.unwrap().status(),
        StatusCode::CONFLICT
    );
    let jane = app.customer("userId:jane").await;
    let timeline = app.timeline(jane["id"].as_str().unwrap()).await;
    let answer =
        timeline.iter().find(|entry| entry["name"] == "Survey Answered").expect("the answer is on the timeline");
    assert_eq!((answer["channel"].as_str(), &answer["properties"]["answers"]["nps"]), (Some("email"), &json!(9)));

    // The unsubscribe link asks first, then records the wish, which the policy then honours.
    let confirm = app.client.get(&unsubscribe_link).send().await.unwrap();
    assert!(confirm.text().await.unwrap().contains("Stop receiving surveys?"));
    assert_eq!(app.client.post(&unsubscribe_link).send().await.unwrap().status(), StatusCode::OK);
    let audience = json!({"customers": ["userId:jane"]});
    let response = app.dry_run(&id, &audience).await;
    assert_eq!(status_and_json(response).await.1["data"][0]["reason"], "unsubscribed");
    assert_eq!(inbox.lock().unwrap().len(), 1, "one e-mail only");
    // The address the invitation went to is sealed at rest, like every copy of it.
    let raw = String::from_utf8_lossy(&app.database().raw_bytes().await).to_lowercase();
    if let Some(at) = raw.find("jane.smith@example.com") {
        let context: String = raw[at.saturating_sub(200)..].chars().take(300).collect();
        panic!("the address is on disk in the clear: …{context}…");
    }
    app.stop().await;
}

pub async fn email_invitations_sqlite() {
    an_email_invitation_goes_out_after_its_delay(BackendKind::Sqlite).await;
}

pub async fn email_invitations_postgres() {
    an_email_invitation_goes_out_after_its_delay(BackendKind::Postgres).await;
}

/// One reminder after its days, with the same link, then expiry: the dispatcher is run with a
/// clock days ahead instead of waiting.
async fn an_unanswered_invitation_is_reminded_once_then_expires(kind: BackendKind) {
    let (smtp_url, inbox) = smtp_server();
    let app = TestApp::spawn_with(kind, Some(smtp_url.clone())).await;
    let definition = json!({"name": "Onboarding", "kind": "transactional",
        "questions": [{"id": "ces", "type": "ces"}],
        "delivery": {"channel": "email", "reminderAfterDays": 3, "trigger": {"event": "Account Created"}}});
    let (_, survey) = status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    let id = survey["id"].as_str().unwrap().to_owned();
    app.send("/v1/identify", &json!({"userId": "bob", "traits": {"email": "bob@example.com"}})).await;
    app.send("/v1/track", &json!({"userId": "bob", "event": "Account Created"})).await;
    let (_, first) = wait_for(async || inbox.lock().unwrap().first().cloned()).await;
    let base = app.url("");
    let link = link_after(&first, &base, "/s/").to_owned();

    let dispatcher = Dispatcher::new(
        app.store.clone(),
        Some(Mailer::new(&MailConfig { smtp_url, from: "surveys@acme.example".to_owned(), ca_pem: None }).unwrap()),
        base.clone(),
        app.store.secret(LINK_SECRET).await.unwrap(),
    );
    let now = rapport_store::now_ms();
    let day = 24 * 60 * 60 * 1000;
    dispatcher.run_once(now + 2 * day).await.unwrap();
    assert_eq!(inbox.lock().unwrap().len(), 1, "not yet");
    dispatcher.run_once(now + 3 * day + 60_000).await.unwrap();
    dispatcher.run_once(now + 4 * day).await.unwrap();
    let messages = inbox.lock().unwrap().clone();
    assert_eq!(messages.len(), 2, "one reminder, once");
    assert!(messages[1].1.contains("Subject: Reminder: Onboarding"), "{}", messages[1].1);
    assert_eq!(link_after(&messages[1].1, &base, "/s/"), link, "the reminder carries the same link");
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::OK);

    dispatcher.run_once(now + 15 * day).await.unwrap();
    let invitation = invitations(&app, &id).await.remove(0);
    assert_eq!(invitation["state"], "expired");
    app.stop().await;
}

pub async fn reminders_sqlite() {
    an_unanswered_invitation_is_reminded_once_then_expires(BackendKind::Sqlite).await;
}

pub async fn reminders_postgres() {
    an_unanswered_invitation_is_reminded_once_then_expires(BackendKind::Postgres).await;
}

/// STARTTLS to a relay with a private certificate: refused until its CA is given, then delivered;
/// a relay that offers no TLS is refused when TLS is required; bad settings are named.
pub async fn starttls_with_a_private_certificate() {
    // The test SMTP server's TLS takes the process's crypto provider (Rapport's client names its own).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (directory.path().join("cert.pem"), directory.path().join("key.pem"));
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    let ssl =
        SslConfig::SelfSigned { cert_path: cert_path.display().to_string(), key_path: key_path.display().to_string() };
    let (url, inbox) = smtp_server_with(ssl);
    let required = format!("{url}?tls=required");
    let mailer = |smtp_url: &str, ca_pem: Option<String>| {
        Mailer::new(&MailConfig { smtp_url: smtp_url.to_owned(), from: "surveys@acme.example".to_owned(), ca_pem })
    };
    let send = |mailer: Mailer| async move {
        mailer
            .send_invitation("jane@acme.example", "Support", "https://cx.test/s/1", "https://cx.test/u/1", false)
            .await
    };

    let untrusted = send(mailer(&required, None).unwrap()).await;
    assert!(matches!(&untrusted, Err(SendError::Failed(reason)) if reason.contains("certificate")), "{untrusted:?}");
    assert!(inbox.lock().unwrap().is_empty());
    send(mailer(&required, Some(certified.cert.pem())).unwrap()).await.expect("delivered over STARTTLS");
    let delivered = inbox.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0, ["jane@acme.example"]);

    let (plain, _) = smtp_server();
    let refused = send(mailer(&format!("{plain}?tls=required"), None).unwrap()).await;
    assert!(refused.is_err(), "no STARTTLS offered, none accepted: {refused:?}");

    for (bad, says) in [
        ("ftp://127.0.0.1:21", "scheme `ftp`"),
        ("smtp://127.0.0.1:25?tls=maybe", "tls=maybe"),
        ("smtp://", "names no host"),
    ] {
        let error = mailer(bad, None).unwrap_err().to_string();
        assert!(error.contains(says), "{bad}: {error}");
    }
    let error = mailer(&url, Some(certified.cert.pem())).unwrap_err().to_string();
    assert!(error.contains("uses no TLS"), "{error}");
}
