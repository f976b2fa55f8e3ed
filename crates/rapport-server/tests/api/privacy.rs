//! Privacy end to end: consent (API, Segment `context.consent`, the unsubscribe link) respected
//! by sending and exports; the data-subject export; erasure everywhere, checked against the
//! whole database; retention.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};
use crate::invitations::settled_invitations;

async fn admin_post(app: &TestApp, path: &str, body: &Value) -> (StatusCode, Value) {
    status_and_json(app.post(path, &app.admin_key, body).send().await.unwrap()).await
}

async fn put(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client.put(app.url(path)).bearer_auth(key).json(body).send().await.unwrap()
}

async fn survey(app: &TestApp, definition: Value) -> String {
    let (status, body) = admin_post(app, "/v1/surveys", &definition).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn respond(app: &TestApp, survey: &str, body: &Value) {
    let response = app.post(&format!("/v1/surveys/{survey}/responses"), &app.write_key, body).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
}

pub async fn consent_is_recorded_and_respected(app: TestApp) {
    // Bad requests are named by field; only people who work with customers may record consent.
    let bad = json!({"identity": "userId:u2", "choices": [{"purpose": "spam", "granted": "yes"}]});
    assert_error(
        put(&app, "/v1/consent", &app.admin_key, &bad).await,
        StatusCode::BAD_REQUEST,
        "invalid_consent",
        &[(None, "choices[0].purpose"), (None, "choices[0].granted")],
    )
    .await;
    let nobody = json!({"choices": [{"purpose": "surveys", "granted": false}]});
    assert_error(
        put(&app, "/v1/consent", &app.admin_key, &nobody).await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "identity")],
    )
    .await;
    let refuse_all =
        json!({"identity": "userId:u2", "choices": [{"purpose": "surveys", "channel": null, "granted": false}]});
    assert_eq!(put(&app, "/v1/consent", &app.read_key, &refuse_all).await.status(), StatusCode::FORBIDDEN);

    // u2 refuses surveys everywhere, u3 only by SMS (this survey asks by link): statements made
    // before the people are even known.
    let (status, u2) = status_and_json(put(&app, "/v1/consent", &app.admin_key, &refuse_all).await).await;
    assert_eq!(status, StatusCode::OK, "{u2}");
    assert_eq!(
        (u2["purposes"]["surveys"]["granted"].as_bool(), u2["purposes"]["analytics"]["granted"].as_bool()),
        (Some(false), Some(true))
    );
    let refuse_sms =
        json!({"identity": "userId:u3", "choices": [{"purpose": "surveys", "channel": "sms", "granted": false}]});
    assert_eq!(put(&app, "/v1/consent", &app.admin_key, &refuse_sms).await.status(), StatusCode::OK);

    let id = survey(
        &app,
        json!({"name": "After delivery", "kind": "transactional", "questions": [{"id": "nps", "type": "nps"}],
               "delivery": {"channel": "link", "trigger": {"event": "Order Delivered"}}}),
    )
    .await;
    // u4's app sends Segment consent: no analytics, no surveys.
    let consent =
        json!({"consent": {"categoryPreferences": {"Analytics": false, "Surveys": false, "Functional": true}}});
    let u4 = json!({"userId": "u4", "event": "Order Delivered", "messageId": "d-u4", "context": consent});
    assert_eq!(app.send("/v1/track", &u4).await.status(), StatusCode::OK);
    for user in ["u1", "u2", "u3"] {
        let delivered = json!({"userId": user, "event": "Order Delivered", "messageId": format!("d-{user}")});
        assert_eq!(app.send("/v1/track", &delivered).await.status(), StatusCode::OK);
    }
    let invitations = settled_invitations(&app, &id, 4).await;
    let state = |message: &str| {
        let invitation = invitations.iter().find(|i| i["messageId"] == message).unwrap();
        (invitation["state"].as_str().unwrap().to_owned(), invitation["reason"].as_str().map(str::to_owned))
    };
    assert_eq!(state("d-u1"), ("sent".to_owned(), None));
    assert_eq!(state("d-u2"), ("suppressed".to_owned(), Some("no_consent".to_owned())));
    assert_eq!(state("d-u3"), ("sent".to_owned(), None), "an SMS refusal does not stop a link");
    assert_eq!(state("d-u4"), ("suppressed".to_owned(), Some("no_consent".to_owned())));

    // The customer's consent says what was said, where and when.
    let customer = app.customer("userId:u4").await;
    let report = app.read(&format!("/v1/customers/{}/consent", customer["id"].as_str().unwrap())).await;
    assert_eq!(report["purposes"]["analytics"]["granted"], false, "{report}");
    assert_eq!(report["purposes"]["marketing"]["granted"], false, "marketing is opt-in: {report}");
    assert_eq!(report["purposes"]["marketing"]["default"], true);
    let sources: Vec<&str> =
        report["statements"].as_array().unwrap().iter().map(|s| s["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["segment", "segment"]);

    // An older statement never replaces a newer one: u2 agrees again by API, then an event
    // stamped in 2020 says no.
    let agree = json!({"identity": "userId:u2", "choices": [{"purpose": "surveys", "granted": true}]});
    assert_eq!(put(&app, "/v1/consent", &app.admin_key, &agree).await.status(), StatusCode::OK);
    let old = json!({"userId": "u2", "event": "Viewed", "messageId": "old-u2", "timestamp": "2020-01-01T00:00:00Z",
                     "context": {"consent": {"categoryPreferences": {"surveys": false}}}});
    assert_eq!(app.send("/v1/track", &old).await.status(), StatusCode::OK);
    let u2 = app.customer("userId:u2").await;
    let report = app.read(&format!("/v1/customers/{}/consent", u2["id"].as_str().unwrap())).await;
    assert_eq!(report["purposes"]["surveys"]["granted"], true, "{report}");

    // Exports leave out who refused analytics.
    respond(&app, &id, &json!({"customer": "userId:u4", "answers": {"nps": 2}})).await;
    respond(&app, &id, &json!({"customer": "userId:u1", "answers": {"nps": 9}})).await;
    let page = app.read(&format!("/v1/surveys/{id}/responses")).await;
    let customers: Vec<&str> =
        page["data"].as_array().unwrap().iter().map(|r| r["customer"].as_str().unwrap()).collect();
    assert_eq!(customers, ["withheld", "userId:u1"]);
    let csv = app
        .client
        .get(app.url(&format!("/v1/surveys/{id}/responses?format=csv")))
        .bearer_auth(&app.read_key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains(",withheld,") && csv.contains(",userId:u1,") && !csv.contains("userId:u4"), "{csv}");
}

/// What the person being erased is known by: none of it may be left anywhere.
const JANE: [&str; 7] =
    ["jane.doe@example.com", "Jane Doe", "+442079460958", "020 7946 0958", "+44 20 7946 0958", "cust-7781", "anon-j1"];

pub async fn export_and_erasure_are_complete(app: TestApp) {
    // Jane: browsing anonymously, then identified, an order, a survey answer, feedback, a case
    // with a note, a consent statement. Bob: his own answer, feedback and case mention her.
    let events = json!({"batch": [
        {"type": "page", "anonymousId": "anon-j1", "name": "Home", "messageId": "e-1", "context": {"channel": "web"}},
        {"type": "identify", "userId": "cust-7781", "anonymousId": "anon-j1", "messageId": "e-2",
         "traits": {"email": "jane.doe@example.com", "phone": "+44 20 7946 0958", "name": "Jane Doe"}},
        {"type": "track", "userId": "cust-7781", "event": "Order Completed", "properties": {"revenue": 40}, "messageId": "e-3"},
        {"type": "identify", "userId": "cust-1200", "traits": {"email": "bob@example.org", "name": "Bob Stone"}, "messageId": "e-4"}
    ]});
    assert_eq!(app.send("/v1/batch", &events).await.status(), StatusCode::OK);
    let id = survey(
        &app,
        json!({"name": "Support", "kind": "transactional",
               "questions": [{"id": "nps", "type": "nps"}, {"id": "why", "type": "text", "text": "Why?"}]}),
    )
    .await;
    respond(
        &app,
        &id,
        &json!({"customer": "email:jane.doe@example.com", "channel": "email", "submittedAt": "2025-03-10T10:00:00Z",
        "answers": {"nps": 3, "why": "Slow delivery, ring me on 020 7946 0958"}}),
    )
    .await;
    respond(
        &app,
        &id,
        &json!({"customer": "userId:cust-1200", "channel": "email", "submittedAt": "2025-03-11T10:00:00Z",
        "answers": {"nps": 10, "why": "JANE DOE at your desk (jane.doe@example.com, +44 20 7946 0958) was great"}}),
    )
    .await;
    let feedback = json!({"items": [
        {"source": "widget", "text": "The app is slow", "customer": "userId:cust-7781"},
        {"source": "widget", "text": "Jane Doe helped me a lot", "customer": "userId:cust-1200"}]});
    let (status, body) =
        status_and_json(app.post("/v1/feedback", &app.write_key, &feedback).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (customer, title, note) in [
        ("userId:cust-7781", "Call back Jane Doe", "She asked for a refund; reach her at +44 20 7946 0958"),
        ("userId:cust-1200", "Bob's parcel", "Colleague of Jane Doe; 020 7946 0958 is hers"),
    ] {
        let (status, case) = admin_post(&app, "/v1/cases", &json!({"title": title, "customer": customer})).await;
        assert_eq!(status, StatusCode::CREATED, "{case}");
        let (status, _) = admin_post(
            &app,
            &format!("/v1/cases/{}/notes", case["id"].as_str().unwrap()),
            &json!({"text": note, "actor": "ana"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let marketing = json!({"identity": "email:jane.doe@example.com", "choices": [{"purpose": "marketing", "channel": "email", "granted": true}]});
    assert_eq!(put(&app, "/v1/consent", &app.admin_key, &marketing).await.status(), StatusCode::OK);
    let march = "/v1/metrics/nps?from=2025-03-01&to=2025-03-31";
    assert_eq!(app.read(march).await["groups"][0]["n"], 2);

    // The export: found by her phone, everything of hers and nothing of Bob's; admins only.
    let by_phone = json!({"identity": "phone:+44 20 7946 0958"});
    let (status, _) =
        status_and_json(app.post("/v1/privacy/export", &app.read_key, &by_phone).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(
        app.post("/v1/privacy/export", &app.admin_key, &json!({"identity": "fax:1"})).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "identity")],
    )
    .await;
    let (status, export) = admin_post(&app, "/v1/privacy/export", &by_phone).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let count = |table: &str| export["data"][table].as_array().map_or(0, Vec::len);
    let expected = [
        // The page, the identify, the order and the answer's own event.
        ("events", 4),
        // Her anonymous id, user id, e-mail, phone, and the survey's identity of her answer.
        ("identities", 5),
        ("customer_traits", 3),
        ("survey_responses", 1),
        ("survey_answers", 2),
        ("cases", 1),
        ("case_history", 2),
        ("consents", 1),
        ("customers", 1),
    ];
    let counts: Vec<(&str, usize)> = expected.iter().map(|(table, _)| (*table, count(table))).collect();
    assert_eq!(counts, expected, "{export}");
    assert!(count("feedback") >= 2, "her widget feedback and her open answer: {}", export["data"]["feedback"]);
    assert!(count("domain_events") >= 1);
    assert_eq!(export["consent"]["purposes"]["marketing"]["channels"]["email"], true);
    let text = export.to_string();
    assert!(!text.contains("cust-1200") && !text.contains("Bob"), "nothing of Bob's: {text}");

    // Erased: by her user id, found through the graph.
    let (status, erased) = admin_post(&app, "/v1/privacy/erase", &json!({"identity": "userId:cust-7781"})).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert!(erased["tables"]["events"] == 4 && erased["tables"]["survey_responses"] == 1, "{erased}");
    let response = app.client.get(app.url("/v1/customers")).query(&[("identity", "email:jane.doe@example.com")]);
    let (_, found) = status_and_json(response.bearer_auth(&app.read_key).send().await.unwrap()).await;
    assert_eq!(found["data"], json!([]));
    let (_, again) = admin_post(&app, "/v1/privacy/export", &by_phone).await;
    assert_eq!(again["data"], json!({}), "{again}");

    // Aggregates equal what remains: the rollup-read NPS and the raw read by a trait agree.
    let nps = app.read(march).await;
    assert_eq!((nps["groups"][0]["n"].as_u64(), nps["groups"][0]["score"].as_f64()), (Some(1), Some(100.0)), "{nps}");
    assert_error(
        app.client
            .get(app.url(&format!("{march}&group_by=traits.name")))
            .bearer_auth(&app.read_key)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "group_by")],
    )
    .await;
    let raw = app.read(&format!("{march}&group_by=account")).await;
    let raw_n: u64 = raw["groups"].as_array().unwrap().iter().filter_map(|g| g["n"].as_u64()).sum();
    assert_eq!(raw_n, 1, "{raw}");

    // Bob's words stay, without her in them.
    let page = app.read(&format!("/v1/surveys/{id}/responses")).await;
    let why = page["data"][0]["answers"]["why"].as_str().unwrap().to_owned();
    assert_eq!(why, "[ERASED] at your desk ([ERASED], [ERASED]) was great");

    // The audit log has the export and the erasure, without her.
    let audit = app.client.get(app.url("/v1/audit")).bearer_auth(&app.admin_key).send().await.unwrap();
    let (_, audit) = status_and_json(audit).await;
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"privacy.export") && actions.contains(&"privacy.erase"), "{actions:?}");

    // And the whole database holds nothing of her.
    let dump = String::from_utf8_lossy(&app.database().dump().await).to_lowercase();
    for mark in JANE {
        if let Some(at) = dump.find(&mark.to_lowercase()) {
            let context: String = dump[at.saturating_sub(300)..].chars().take(500).collect();
            panic!("`{mark}` is still in the database: …{context}…");
        }
    }
    // Nor her blind indexes (`email#…`): what stood for her identities is gone with them.
    let acme = app.store.workspace_by_name("acme").await.unwrap().unwrap().id;
    for key in ["email:jane.doe@example.com", "phone:+442079460958"] {
        let blind = app.store.keyring().blind_key(acme.as_str(), key).to_lowercase();
        assert!(!dump.contains(&blind), "{key}'s blind index is still in the database");
    }
    // Bob is kept (his name is sealed at rest: read it back).
    let bob = app.read("/v1/customers?identity=userId:cust-1200").await;
    assert_eq!(bob["data"][0]["traits"]["name"]["value"], "Bob Stone", "{bob}");
}

pub async fn retention_removes_what_is_too_old(app: TestApp) {
    assert_error(
        put(&app, "/v1/privacy/settings", &app.admin_key, &json!({"retention_days": {"events": 0, "mail": 3}})).await,
        StatusCode::BAD_REQUEST,
        "invalid_settings",
        &[(None, "retention_days.events"), (None, "retention_days.mail")],
    )
    .await;
    let rules = json!({"retention_days": {"events": 30, "responses": 30}});
    assert_eq!(put(&app, "/v1/privacy/settings", &app.read_key, &rules).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(put(&app, "/v1/privacy/settings", &app.admin_key, &rules).await.status(), StatusCode::OK);
    assert_eq!(app.read("/v1/privacy/settings").await["retention_days"]["events"], 30);

    let now = time::OffsetDateTime::now_utc();
    let stamp =
        |days: i64| (now - time::Duration::days(days)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let events = json!({"batch": [
        {"type": "track", "userId": "r1", "event": "Old", "messageId": "old", "timestamp": stamp(100)},
        {"type": "track", "userId": "r1", "event": "New", "messageId": "new", "timestamp": stamp(1)}]});
    assert_eq!(app.send("/v1/batch", &events).await.status(), StatusCode::OK);
    let id =
        survey(&app, json!({"name": "Pulse", "kind": "relational", "questions": [{"id": "nps", "type": "nps"}]})).await;
    respond(&app, &id, &json!({"customer": "userId:r1", "submittedAt": stamp(100), "answers": {"nps": 0}})).await;
    respond(&app, &id, &json!({"customer": "userId:r1", "submittedAt": stamp(1), "answers": {"nps": 10}})).await;
    let window = format!("/v1/metrics/nps?from={}&to={}", &stamp(120)[..10], &stamp(0)[..10]);
    assert_eq!(app.read(&window).await["groups"][0]["n"], 2);

    let (status, report) = admin_post(&app, "/v1/privacy/retention/run", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    // The old track and the old answer's own event go; so does the old answer.
    assert_eq!(
        (report["tables"]["events"].as_u64(), report["tables"]["survey_responses"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    let customer = app.customer("userId:r1").await;
    let timeline = app.timeline(customer["id"].as_str().unwrap()).await;
    let names: Vec<&str> = timeline.iter().filter_map(|event| event["name"].as_str()).collect();
    assert!(names.contains(&"New") && !names.contains(&"Old"), "{timeline:?}");
    let nps = app.read(&window).await;
    assert_eq!((nps["groups"][0]["n"].as_u64(), nps["groups"][0]["score"].as_f64()), (Some(1), Some(100.0)), "{nps}");
    // A second run finds nothing more.
    let (_, report) = admin_post(&app, "/v1/privacy/retention/run", &json!({})).await;
    assert_eq!(report["rows"], 0);
}
