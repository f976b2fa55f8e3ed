//! Journeys through the API: definitions checked and stored, and analytics over a generated shop
//! where the app's checkout loses customers and is hard to use (the plant), or does not.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z
const START: i64 = 1_767_225_600_000;

fn at(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn definition() -> Value {
    json!({"name": "Online purchase", "description": "From a product page to a delivered order",
        "touchpoints": [
            {"key": "product", "name": "Product page", "stage": "consideration", "event": "Product Viewed"},
            {"key": "checkout_app", "name": "Checkout (app)", "stage": "decision", "event": "Checkout Started",
             "channel": "mobile", "feedbackTouchpoint": "checkout"},
            {"key": "checkout_web", "name": "Checkout (web)", "stage": "decision", "event": "Checkout Started",
             "feedbackTouchpoint": "checkout"},
            {"key": "payment", "name": "Payment", "stage": "decision", "event": "Payment Info Entered"},
            {"key": "order", "name": "Order placed", "stage": "adoption", "event": "Order Completed"},
            {"key": "support", "name": "Support", "stage": "advocacy", "event": "Support Ticket Created"}
        ], "goal": "order", "stepWindowHours": 2})
}

async fn create(app: &TestApp, definition: &Value) -> String {
    let (status, body) =
        status_and_json(app.post("/v1/journeys", &app.admin_key, definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// 300 customers over January 2026, each shopping a few times in the app or on the web; with
/// `planted`, the app's checkout fails 40% of the time (most retry) and its CES answers are low.
async fn shop(app: &TestApp, planted: bool) {
    let mut rng = StdRng::seed_from_u64(7);
    let survey = {
        let body = json!({"name": "Checkout effort", "kind": "transactional", "touchpoint": "checkout",
            "questions": [{"id": "ces", "type": "ces"}]});
        let (status, body) =
            status_and_json(app.post("/v1/surveys", &app.admin_key, &body).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    };
    let mut events = Vec::new();
    let mut answers = Vec::new();
    let mut feedback = Vec::new();
    for customer in 0..300 {
        let user = format!("c{customer}");
        let app_user = customer % 2 == 0;
        for visit in 0..3 {
            let mut t = START + (customer as i64 % 25) * DAY + visit * 2 * DAY + rng.random_range(0..600) * MIN;
            let channel = if app_user { "mobile" } else { "web" };
            let mut track = |event: &str, channel: &str, t: i64| {
                events.push(json!({"type": "track", "userId": user, "event": event, "timestamp": at(t),
                    "context": {"channel": channel}}));
            };
            track("Product Viewed", channel, t);
            if !rng.random_bool(0.75) {
                continue;
            }
            t += 5 * MIN;
            let mut placed = false;
            for _attempt in 0..3 {
                track("Checkout Started", channel, t);
                let fails = if planted && channel == "mobile" { 0.4 } else { 0.06 };
                if rng.random_bool(fails) {
                    if !rng.random_bool(0.7) {
                        break;
                    }
                    t += 10 * MIN;
                    continue;
                }
                track("Payment Info Entered", channel, t + MIN);
                track("Order Completed", channel, t + 2 * MIN);
                placed = true;
                break;
            }
            if rng.random_bool(0.4) {
                let hard = planted && channel == "mobile";
                let ces = if hard { rng.random_range(1..=4) } else { rng.random_range(4..=7) };
                answers
                    .push(json!({"customer": format!("userId:{user}"), "channel": channel, "touchpoint": "checkout",
                    "submittedAt": at(t + 30 * MIN), "answers": {"ces": ces}}));
            }
            if placed && rng.random_bool(0.1) {
                track("Support Ticket Created", "chat", t + DAY);
                let text = if rng.random_bool(0.5) {
                    "The agent was rude and unhelpful."
                } else {
                    "Quick and friendly help, thanks!"
                };
                feedback.push(
                    json!({"kind": "direct", "source": "chat", "text": text, "customer": format!("userId:{user}"),
                    "touchpoint": "support", "channel": "chat", "occurredAt": at(t + DAY + 10 * MIN)}),
                );
            }
        }
    }
    for chunk in events.chunks(400) {
        let response = app.send("/v1/batch", &json!({"batch": chunk})).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    for answer in answers {
        let response =
            app.post(&format!("/v1/surveys/{survey}/responses"), &app.write_key, &answer).send().await.unwrap();
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for items in feedback.chunks(100) {
        let body = json!({"items": items});
        let (status, body) =
            status_and_json(app.post("/v1/feedback", &app.write_key, &body).send().await.unwrap()).await;
        assert!(status.is_success(), "{body}");
    }
}

fn touchpoint<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["touchpoints"].as_array().unwrap().iter().find(|t| t["key"] == key).unwrap()
}

pub async fn a_planted_checkout_friction_ranks_first(app: TestApp) {
    shop(&app, true).await;
    let id = create(&app, &definition()).await;
    let report = app.read(&format!("/v1/journeys/{id}/analytics?from=2026-01-01&to=2026-02-28")).await;
    assert_eq!(report["friction_ranking"], Value::Null, "fields are camelCase");
    let ranking: Vec<&str> =
        report["frictionRanking"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(ranking[0], "checkout_app", "{ranking:?}");
    let app_checkout = touchpoint(&report, "checkout_app");
    let web_checkout = touchpoint(&report, "checkout_web");
    for component in ["dropOff", "repeat", "effort"] {
        assert!(
            app_checkout["friction"][component].as_f64().unwrap()
                > web_checkout["friction"][component].as_f64().unwrap(),
            "{component}: {app_checkout} against {web_checkout}"
        );
    }
    assert_eq!(app_checkout["friction"]["rank"], 1);
    assert!(app_checkout["ces"]["n"].as_u64().unwrap() > 20, "the checkout answers from the app are the app's");
    assert!(
        app_checkout["dropOff"]["interval"]["low"].as_f64().unwrap()
            > web_checkout["dropOff"]["share"].as_f64().unwrap()
    );
    assert!(touchpoint(&report, "support")["sentiment"]["n"].as_u64().unwrap() > 0, "feedback reaches the curve");
    assert_eq!(report["customers"], 300);
    assert!(report["paths"].as_array().unwrap().len() > 1);

    // Mobile against web: the app's customers convert less.
    let compared = app
        .read(&format!(
            "/v1/journeys/{id}/analytics?from=2026-01-01&to=2026-02-28&segment=channel:web&compare=channel:mobile"
        ))
        .await;
    assert_eq!(
        (compared["segment"].as_str(), compared["comparison"]["segment"].as_str()),
        (Some("channel:web"), Some("channel:mobile"))
    );
    assert_eq!(compared["customers"].as_u64().unwrap() + compared["comparison"]["customers"].as_u64().unwrap(), 300);
    let decision = compared["comparison"]["differences"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "decision")
        .unwrap();
    assert!(decision["continued"]["difference"].as_f64().unwrap() < 0.0, "{decision}");
    assert!(decision["continued"]["p_value"].as_f64().unwrap() < 0.05, "{decision}");

    // The map: stages as columns, the worst touchpoint highlighted, the curve drawn.
    let response = app
        .client
        .get(app.url(&format!("/v1/journeys/{id}/map.svg?from=2026-01-01&to=2026-02-28")))
        .bearer_auth(&app.read_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("image/svg+xml"));
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    for part in ["Online purchase", "Checkout (app)", "decision", "· #1", "Emotional curve"] {
        assert!(svg.contains(part), "{part} missing from the map");
    }
}

pub async fn without_the_plant_the_app_checkout_is_not_first(app: TestApp) {
    shop(&app, false).await;
    let id = create(&app, &definition()).await;
    let report = app.read(&format!("/v1/journeys/{id}/analytics?from=2026-01-01&to=2026-02-28")).await;
    let ranking: Vec<&str> =
        report["frictionRanking"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(ranking.len(), 6, "every touchpoint has the minimum n of visits: {ranking:?}");
    assert_ne!(ranking[0], "checkout_app", "{ranking:?}");
}

pub async fn journey_definitions_are_checked_and_kept(app: TestApp) {
    let response = app.post("/v1/journeys", &app.write_key, &definition()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "a write key only ingests");
    let bad = json!({"name": "", "touchpoints": [{"key": "a", "stage": "nowhere", "event": "E"}], "goal": "b"});
    assert_error(
        app.post("/v1/journeys", &app.admin_key, &bad).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_journey",
        &[(None, "name"), (None, "touchpoints[0].stage"), (None, "goal")],
    )
    .await;
    let id = create(&app, &definition()).await;
    let listed = app.read("/v1/journeys").await;
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!(listed["data"][0]["stages"][0], "awareness", "default stages");
    assert_eq!(listed["data"][0]["touchpoints"][1]["channel"], "mobile");
    let mut changed = definition();
    changed["name"] = json!("Purchase");
    let response =
        app.client.put(app.url(&format!("/v1/journeys/{id}"))).bearer_auth(&app.admin_key).json(&changed).send().await;
    let (status, body) = status_and_json(response.unwrap()).await;
    assert_eq!((status, body["name"].as_str()), (StatusCode::OK, Some("Purchase")));
    for query in ["segment=vip", "from=2026-02-30", "colour=red", "minN=0"] {
        let response = app
            .client
            .get(app.url(&format!("/v1/journeys/{id}/analytics?{query}")))
            .bearer_auth(&app.read_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_parameter", "{query}: {body}");
    }
    let empty = app.read(&format!("/v1/journeys/{id}/analytics")).await;
    assert_eq!((empty["customers"].as_u64(), empty["converted"]["share"].is_null()), (Some(0), true));
    let deleted =
        app.client.delete(app.url(&format!("/v1/journeys/{id}"))).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app
        .client
        .get(app.url(&format!("/v1/journeys/{id}/analytics")))
        .bearer_auth(&app.read_key)
        .send()
        .await
        .unwrap();
    assert_error(gone, StatusCode::NOT_FOUND, "not_found", &[]).await;
}

/// What later requests compute from the visits kept in memory and the events stored since is what
/// a first read of everything computes: new visits, and customers merged by a later identify.
pub async fn kept_visits_follow_new_events_and_merges(app: TestApp) {
    let day = "2026-01-05T10:0";
    let app = &app;
    let batch = async |events: Value| {
        let response = app.send("/v1/batch", &json!({"batch": events})).await;
        assert_eq!(response.status(), StatusCode::OK);
    };
    batch(json!([
        {"type": "track", "anonymousId": "a1", "event": "Checkout Started", "timestamp": format!("{day}0:00Z"), "context": {"channel": "web"}},
        {"type": "track", "userId": "u1", "event": "Order Completed", "timestamp": format!("{day}2:00Z"), "context": {"channel": "web"}}
    ]))
    .await;
    let id = create(app, &definition()).await;
    let path = |id: &str| format!("/v1/journeys/{id}/analytics?from=2026-01-01&to=2026-01-31&minN=1");
    let first = app.read(&path(&id)).await;
    assert_eq!((first["customers"].as_u64(), first["converted"]["count"].as_u64()), (Some(2), Some(1)));

    // The identify folds the anonymous checkout into u1's order; u2 is new.
    batch(json!([
        {"type": "identify", "userId": "u1", "anonymousId": "a1", "timestamp": format!("{day}3:00Z")},
        {"type": "track", "userId": "u2", "event": "Checkout Started", "timestamp": format!("{day}4:00Z"), "context": {"channel": "mobile"}}
    ]))
    .await;
    let later = app.read(&path(&id)).await;
    assert_eq!((later["customers"].as_u64(), later["visits"].as_u64()), (Some(2), Some(3)), "{later}");
    assert_eq!(later["converted"]["count"], 1);
    let paths: Vec<(String, u64, u64)> = later["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (p["touchpoints"].to_string(), p["customers"].as_u64().unwrap(), p["conversion"]["count"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(paths, [("[\"checkout_app\"]".to_owned(), 1, 0), ("[\"checkout_web\"]".to_owned(), 1, 1)]);

    // A journey read whole for the first time agrees.
    let fresh = create(app, &definition()).await;
    let whole = app.read(&path(&fresh)).await;
    for field in ["customers", "visits", "converted", "stages", "touchpoints", "paths", "frictionRanking"] {
        assert_eq!(whole[field], later[field], "{field}");
    }
}
