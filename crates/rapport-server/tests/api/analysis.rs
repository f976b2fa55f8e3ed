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
            comment_parts.push("My parcel arrived days late.");
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
}
