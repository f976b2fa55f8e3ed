use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{TestApp, assert_error, status_and_json};

fn ms(text: &str) -> i64 {
    (OffsetDateTime::parse(text, &Rfc3339).unwrap().unix_timestamp_nanos() / 1_000_000) as i64
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap().format(&Rfc3339).unwrap()
}

async fn admin(app: &TestApp, method: reqwest::Method, path: &str, body: &Value) -> (StatusCode, Value) {
    let request = app.client.request(method, app.url(path)).bearer_auth(&app.admin_key).json(body);
    status_and_json(request.send().await.unwrap()).await
}

async fn answer(app: &TestApp, survey: &str, who: &str, nps: i64) -> Value {
    let body = json!({"customer": format!("email:{who}@example.com"), "answers": {"nps": nps}});
    let (status, response) = status_and_json(app.send(&format!("/v1/surveys/{survey}/responses"), &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{response}");
    response
}

async fn case_of(app: &TestApp, who: &str) -> Value {
    let cases = app.read("/v1/cases?limit=200").await;
    let found: Vec<&Value> = cases["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["identity"] == format!("email:{who}@example.com"))
        .collect();
    assert_eq!(found.len(), 1, "{who}: {cases}");
    app.read(&format!("/v1/cases/{}", found[0]["id"].as_str().unwrap())).await
}

/// The micro loop: detractors' responses open cases, assigned round-robin (skipping who is away),
/// due in business hours; one open case per customer and rule; a breach escalates once the clock
/// passes the target; closing needs a root cause; waiting on the customer pauses the clock; every
/// change is announced; the customer's next promoter answer counts as a recovery.
pub async fn detractors_open_cases_worked_in_business_hours(app: TestApp) {
    let mut settings = app.read("/v1/cases/settings").await;
    settings["teams"] = json!({"care": {"members": ["ana", "ben", "cy"], "away": ["ben"]}});
    settings["rules"] = json!([
        {"id": "detractor", "name": "Detractor follow-up", "question": "nps", "max": 6, "priority": "high", "team": "care"},
        {"id": "angry-delivery", "name": "Angry about delivery", "question": "nps", "min": 7, "sentiment": "negative",
         "topics": ["delivery"], "priority": "urgent", "team": "care", "assignee": "cy"}]);
    settings["escalateAfterMinutes"] = json!(60);
    settings["escalateTo"] = json!("lead");
    let (status, saved) = admin(&app, reqwest::Method::PUT, "/v1/cases/settings", &settings).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let mut bad = settings.clone();
    bad["rules"][0]["team"] = json!("nobody");
    let response =
        app.client.put(app.url("/v1/cases/settings")).bearer_auth(&app.admin_key).json(&bad).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_settings", &[(None, "rules[0].team")]).await;

    // The team's tools hear of every opened case through a signed webhook.
    let receiver = crate::webhooks::receiver().await;
    let subscription = json!({"url": receiver.url, "events": ["case.opened"]});
    let (_, webhook) = admin(&app, reqwest::Method::POST, "/v1/webhooks", &subscription).await;
    let secret = webhook["secret"].as_str().unwrap().to_owned();

    let survey = json!({"name": "Pulse", "kind": "transactional", "questions": [
        {"id": "nps", "type": "nps"}, {"id": "why", "type": "text", "text": "Why?"}]});
    let (_, created) = status_and_json(app.post("/v1/surveys", &app.admin_key, &survey).send().await.unwrap()).await;
    let survey = created["id"].as_str().unwrap().to_owned();

    // A passive who is angry about delivery meets the second rule through what the comment says.
    let body = json!({"customer": "email:eve@example.com", "answers": {"nps": 8, "why": "My parcel arrived late and I am furious."}});
    let response = app.send(&format!("/v1/surveys/{survey}/responses"), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let eve = case_of(&app, "eve").await;
    assert_eq!((eve["rule"].as_str(), eve["priority"].as_str()), (Some("angry-delivery"), Some("urgent")));
    let body = json!({"customer": "email:fay@example.com", "answers": {"nps": 8, "why": "My parcel arrived late, no problem."}});
    app.send(&format!("/v1/surveys/{survey}/responses"), &body).await;

    answer(&app, &survey, "ann", 3).await;
    answer(&app, &survey, "bob", 5).await;
    answer(&app, &survey, "ann", 2).await; // Ann's case is still open: no second one.
    answer(&app, &survey, "dee", 9).await; // A promoter: no case.
    let all = app.read("/v1/cases").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 3, "eve, ann and bob: {all}");
    // A customer's cases, by customer id (Ann's identities).
    app.send("/v1/identify", &json!({"userId": "ann-1", "traits": {"email": "ann@example.com"}})).await;
    let customer = app.customer("email:ann@example.com").await;
    let hers = app.read(&format!("/v1/cases?customer={}", customer["id"].as_str().unwrap())).await;
    assert_eq!(hers["data"].as_array().unwrap().len(), 1, "{hers}");
    let ann = case_of(&app, "ann").await;
    let bob = case_of(&app, "bob").await;
    assert_eq!(
        (eve["assignee"].as_str(), ann["assignee"].as_str(), bob["assignee"].as_str()),
        (Some("cy"), Some("ana"), Some("cy")),
        "eve's rule names cy; then round-robin, ben is away"
    );
    assert_eq!((ann["state"].as_str(), ann["priority"].as_str()), (Some("new"), Some("high")));
    // Due in business hours (Monday to Friday, 09:00-17:00 UTC): 4 business hours to first
    // response, 24 to resolution, never on a weekend or at night.
    for (field, hours) in [("firstResponseDue", 4), ("resolutionDue", 24)] {
        let opened = OffsetDateTime::parse(ann["openedAt"].as_str().unwrap(), &Rfc3339).unwrap();
        let due = OffsetDateTime::parse(ann[field].as_str().unwrap(), &Rfc3339).unwrap();
        assert!(due > opened);
        let weekday = due.weekday().number_days_from_monday();
        let minute_of_day = due.hour() as i64 * 60 + due.minute() as i64;
        assert!(weekday < 5 && (9 * 60..=17 * 60).contains(&minute_of_day), "{field} {due}");
        assert!(due - opened >= time::Duration::hours(hours), "{field}: at least {hours} hours later");
    }
    let events = app.read("/v1/domain-events?type=case.opened").await;
    assert_eq!(events["data"].as_array().unwrap().len(), 3);
    rapport_server::services::webhooks::deliver_due(
        &app.store,
        &rapport_server::services::webhooks::client(),
        now_ms() + 1_000,
    )
    .await
    .unwrap();
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 3, "one signed webhook per opened case");
    assert!(received.iter().all(|r| crate::webhooks::verify(&secret, r)));
    let bodies: Vec<Value> = received.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert!(bodies.iter().any(|b| b["type"] == "case.opened" && b["data"]["id"] == ann["id"]), "{bodies:?}");

    // Bob's case is never touched: once the clock passes the first-response target by an hour of
    // business time, it is breached and escalated to the lead.
    // Eve's urgent case is due first.
    let due = ms(eve["firstResponseDue"].as_str().unwrap());
    assert!(due <= ms(bob["firstResponseDue"].as_str().unwrap()));
    let (_, checked) =
        admin(&app, reqwest::Method::POST, &format!("/v1/cases/check-sla?at={}", rfc3339(due - 60_000)), &json!({}))
            .await;
    assert_eq!(checked["changed"], 0, "not yet due");
    let late = rfc3339(ms(bob["resolutionDue"].as_str().unwrap()) + 3 * 24 * 3_600_000);
    let (status, checked) =
        admin(&app, reqwest::Method::POST, &format!("/v1/cases/check-sla?at={late}"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert!(checked["changed"].as_u64().unwrap() >= 1);
    let bob = case_of(&app, "bob").await;
    assert_eq!((bob["breached"].as_str(), bob["assignee"].as_str()), (Some("first_response"), Some("lead")), "{bob}");
    let kinds: Vec<&str> = bob["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["opened", "breached", "escalated"]);

    // Ann's case is worked: contact, waiting on her (the clock pauses), back, resolved, closed.
    let id = ann["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/cases/{id}/transition");
    let (status, moved) = admin(
        &app,
        reqwest::Method::POST,
        &path,
        &json!({"state": "in_progress", "actor": "ana", "note": "Called Ann"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert!(moved["firstContactAt"].is_string());
    let (_, waiting) = admin(&app, reqwest::Method::POST, &path, &json!({"state": "waiting_on_customer"})).await;
    assert!(waiting["waitingSince"].is_string());
    let (_, back) = admin(&app, reqwest::Method::POST, &path, &json!({"state": "in_progress"})).await;
    assert!(back["waitingSince"].is_null());
    assert!(
        ms(back["resolutionDue"].as_str().unwrap()) >= ms(ann["resolutionDue"].as_str().unwrap()),
        "paused time is given back"
    );
    let (status, refused) = admin(&app, reqwest::Method::POST, &path, &json!({"state": "new"})).await;
    assert_eq!((status, refused["error"]["details"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("state")));
    let response = app
        .client
        .post(app.url(&path))
        .bearer_auth(&app.admin_key)
        .json(&json!({"state": "closed"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_case", &[(None, "rootCause"), (None, "resolution")]).await;
    let response = app
        .client
        .post(app.url(&path))
        .bearer_auth(&app.admin_key)
        .json(&json!({"state": "closed", "rootCause": "weather", "resolution": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_case", &[(None, "rootCause")]).await;
    let (status, closed) = admin(
        &app,
        reqwest::Method::POST,
        &path,
        &json!({"state": "closed", "rootCause": "delivery", "resolution": "Refunded the shipping and apologised"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!((closed["state"].as_str(), closed["rootCause"].as_str()), (Some("closed"), Some("delivery")));
    let notes = closed["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "note").count();
    assert_eq!(notes, 1);
    assert_eq!(app.read("/v1/domain-events?type=case.closed").await["data"].as_array().unwrap().len(), 1);
    let (status, _) = admin(
        &app,
        reqwest::Method::POST,
        &format!("/v1/cases/{id}/notes"),
        &json!({"text": "Sent a voucher", "actor": "ana"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Ann answers again as a promoter: a recovery. Her case being closed, a new low score would
    // open a new case.
    answer(&app, &survey, "ann", 10).await;
    let recovery = app.read("/v1/cases/recovery").await;
    assert_eq!(recovery["closed"], 1, "{recovery}");
    assert_eq!(recovery["recovered"], 1, "{recovery}");
    assert_eq!(recovery["recoveryRate"]["value"], 1.0, "{recovery}");
    assert_eq!(recovery["lowScores"], 3, "{recovery}");
    assert!(recovery["loopClosureRate"]["value"].as_f64().unwrap() > 0.3, "{recovery}");
    assert!(recovery["medianMinutesToFirstContact"].is_number(), "{recovery}");
}
