use rapport_core::metrics::stats::splitmix64;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};

/// Generated responses where one planted topic (late deliveries) drives detractors and the others
/// (price, the app) are noise: the root-cause report and the driver analysis both rank it first,
/// and the relative weights sum to R².
pub async fn a_planted_topic_leads_root_causes_and_drivers(app: TestApp) {
    let survey = json!({"name": "Relationship", "kind": "relational", "questions": [
        {"id": "nps", "type": "nps"}, {"id": "why", "type": "text", "text": "Why?"}]});
    let (_, created) = status_and_json(app.post("/v1/surveys", &app.admin_key, &survey).send().await.unwrap()).await;
    let survey = created["id"].as_str().unwrap().to_owned();
    let mut next = splitmix64(11);
    let mut comment_parts = Vec::new();
    for i in 0..160 {
        comment_parts.clear();
        let late = next().is_multiple_of(4);
        let price = next().is_multiple_of(3);
        let app_slow = next().is_multiple_of(3);
        if late {
            comment_parts.push("My parcel arrived days late and I am angry.");
        }
        if price {
            comment_parts.push("The price is fair.");
        }
        if app_slow {
            comment_parts.push("The app could load faster.");
        }
        let base = 9 - i64::from(late) * 6 + (next() % 3) as i64 - 1;
        let nps = base.clamp(0, 10);
        let mut answers = json!({"nps": nps});
        if !comment_parts.is_empty() {
            answers["why"] = Value::from(comment_parts.join(" "));
        }
        let body = json!({"customer": format!("email:c{i}@example.com"), "answers": answers});
        let response = app.send(&format!("/v1/surveys/{survey}/responses"), &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    // A segment: the first 40 respondents are on the enterprise plan.
    let identifies: Vec<Value> = (0..40)
        .map(|i| json!({"type": "identify", "userId": format!("u{i}"), "traits": {"email": format!("c{i}@example.com"), "plan": "enterprise"}}))
        .collect();
    assert_eq!(app.send("/v1/batch", &json!({"batch": identifies})).await.status(), StatusCode::OK);
    let enterprise = app.read("/v1/analysis/root-causes?group=traits.plan:enterprise").await;
    assert_eq!(enterprise["topics"][0]["groupN"], 40, "{enterprise}");
    assert_eq!(enterprise["topics"][0]["restN"], 120, "{enterprise}");

    let causes = app.read("/v1/analysis/root-causes?group=detractors").await;
    assert_eq!(causes["responses"], 160);
    let first = &causes["topics"][0];
    assert!(["delivery", "late-delivery"].contains(&first["topic"].as_str().unwrap()), "{causes}");
    assert!(first["groupShare"].as_f64().unwrap() > 0.8, "{first}");
    assert!(first["restShare"].as_f64().unwrap() < 0.1, "{first}");
    assert!(first["qValue"].as_f64().unwrap() < 0.001);
    assert!(first["groupInterval"]["low"].is_number() && first["differenceInterval"]["high"].is_number());

    let drivers = app.read("/v1/analysis/drivers?bootstrap=100").await;
    let list = drivers["drivers"].as_array().unwrap();
    assert_eq!(list[0]["name"], "delivery", "{drivers}");
    assert_eq!(list[0]["quadrant"], "fix_first");
    assert!(list[0]["importance"].as_f64().unwrap() > 0.8, "{drivers}");
    let sum: f64 = list.iter().map(|d| d["weight"].as_f64().unwrap()).sum();
    assert!((sum - drivers["rSquared"].as_f64().unwrap()).abs() < 1e-9, "{drivers}");
    assert!(list[0]["interval"]["low"].as_f64().unwrap() > 0.0);

    let by_sentiment = app.read("/v1/analysis/drivers?by=topic_sentiment&bootstrap=50").await;
    assert_eq!(by_sentiment["drivers"][0]["name"], "delivery", "{by_sentiment}");
    let response =
        app.client.get(app.url("/v1/analysis/drivers?by=weather")).bearer_auth(&app.read_key).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "by")]).await;
    let response = app
        .client
        .get(app.url("/v1/analysis/root-causes?group=everyone"))
        .bearer_auth(&app.read_key)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "group")]).await;
    let response =
        app.client.get(app.url("/v1/analysis/drivers?metric=ces")).bearer_auth(&app.read_key).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "metric")]).await;
    let empty = app.read("/v1/analysis/drivers?metric=csat").await;
    assert!(empty["note"].as_str().unwrap().contains("at least 30"), "{empty}");

    // CSAT service dimensions as drivers: knowledge decides the overall score, communication is noise.
    let csat = json!({"name": "Support", "kind": "transactional", "questions": [
        {"id": "csat", "type": "csat", "dimensions": ["knowledge", "communication"]}]});
    let (_, created) = status_and_json(app.post("/v1/surveys", &app.admin_key, &csat).send().await.unwrap()).await;
    let csat = created["id"].as_str().unwrap().to_owned();
    for i in 0..60 {
        let knowledge = 1 + (next() % 5) as i64;
        let communication = 1 + (next() % 5) as i64;
        let score = (knowledge + i64::from(next().is_multiple_of(4))).min(5);
        let body = json!({"customer": format!("email:s{i}@example.com"),
                          "answers": {"csat": {"score": score, "knowledge": knowledge, "communication": communication}}});
        assert_eq!(app.send(&format!("/v1/surveys/{csat}/responses"), &body).await.status(), StatusCode::CREATED);
    }
    let dimensions = app.read("/v1/analysis/drivers?metric=csat&by=dimensions&bootstrap=50").await;
    assert_eq!(dimensions["responses"], 60, "{dimensions}");
    assert_eq!(dimensions["drivers"][0]["name"], "knowledge", "{dimensions}");
    assert!(dimensions["drivers"][0]["importance"].as_f64().unwrap() > 0.9, "{dimensions}");
}

/// An action plan on late deliveries, started ten days ago: NPS before and after it and the topic's
/// share, each with its interval, and the changes; plans are checked, listed and updated.
pub async fn an_action_plan_measures_its_effect(app: TestApp) {
    let survey = json!({"name": "Relationship", "kind": "relational", "questions": [
        {"id": "nps", "type": "nps"}, {"id": "why", "type": "text", "text": "Why?"}]});
    let (_, created) = status_and_json(app.post("/v1/surveys", &app.admin_key, &survey).send().await.unwrap()).await;
    let survey = created["id"].as_str().unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc();
    let mut next = splitmix64(5);
    for i in 0..120 {
        let after = i >= 60;
        let days_ago = if after { 1 + (i % 8) } else { 12 + (i % 15) };
        let late = next() % 100 < if after { 10 } else { 50 };
        let nps = if late { 3 } else { 9 + (next() % 2) as i64 };
        let mut answers = json!({"nps": nps});
        if late {
            answers["why"] = Value::from("My parcel arrived late again.");
        }
        let at = (now - time::Duration::days(days_ago)).format(&time::format_description::well_known::Rfc3339).unwrap();
        let body = json!({"customer": format!("email:p{i}@example.com"), "answers": answers, "submittedAt": at});
        let response = app.send(&format!("/v1/surveys/{survey}/responses"), &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let starts_on = (now - time::Duration::days(10)).date().to_string();
    let plan = json!({"title": "New courier contract", "topic": "late-delivery", "owner": "ops@acme.example",
                      "status": "in_progress", "startsOn": starts_on, "actions": [{"title": "Sign the contract", "done": true}]});
    let (status, created) =
        status_and_json(app.post("/v1/action-plans", &app.admin_key, &plan).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let measured = app.read(&format!("/v1/action-plans/{id}?days=30")).await;
    let effect = &measured["effect"];
    assert_eq!(effect["nps"]["before"]["n"], 60, "{effect}");
    assert_eq!(effect["nps"]["after"]["n"], 60, "{effect}");
    assert!(effect["nps"]["change"]["difference"].as_f64().unwrap() > 20.0, "{effect}");
    assert!(effect["nps"]["change"]["pValue"].as_f64().unwrap() < 0.05, "{effect}");
    assert!(effect["topicShare"]["change"]["difference"].as_f64().unwrap() < -0.2, "{effect}");
    assert!(effect["topicShare"]["before"]["interval"]["low"].is_number());

    let mut done = plan.clone();
    done["status"] = json!("done");
    let response = app
        .client
        .put(app.url(&format!("/v1/action-plans/{id}")))
        .bearer_auth(&app.admin_key)
        .json(&done)
        .send()
        .await
        .unwrap();
    let (status, updated) = status_and_json(response).await;
    assert_eq!((status, updated["status"].as_str()), (StatusCode::OK, Some("done")));
    assert_eq!(app.read("/v1/action-plans").await["data"].as_array().unwrap().len(), 1);
    let bad = json!({"title": "x", "owner": "o", "status": "someday", "startsOn": "soon"});
    let response = app.post("/v1/action-plans", &app.admin_key, &bad).send().await.unwrap();
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_settings",
        &[(None, "topic"), (None, "status"), (None, "startsOn")],
    )
    .await;
    let response = app.client.get(app.url("/v1/action-plans/nope")).bearer_auth(&app.read_key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
