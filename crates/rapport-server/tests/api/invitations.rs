use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};

/// The survey's invitations once none is waiting for the dispatcher.
async fn settled_invitations(app: &TestApp, survey: &str, expected: usize) -> Vec<Value> {
    for _ in 0..100 {
        let body = app.read(&format!("/v1/surveys/{survey}/invitations")).await;
        let invitations = body["data"].as_array().unwrap().clone();
        let settled = invitations
            .iter()
            .all(|invitation| !["pending", "dispatching"].contains(&invitation["state"].as_str().unwrap()));
        if invitations.len() == expected && settled {
            return invitations;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the invitations of {survey} did not settle");
}

fn delivered(user: &str, message_id: &str, channel: &str) -> Value {
    json!({"userId": user, "event": "Order Delivered", "messageId": message_id, "properties": {"channel": channel}})
}

pub async fn triggers_invite_and_the_policy_suppresses_with_reasons(app: TestApp) {
    let definition = json!({
        "name": "After delivery", "kind": "transactional",
        "questions": [{"id": "nps", "type": "nps", "required": true}],
        "delivery": {"channel": "link", "notAgainWithinDays": 90,
                     "trigger": {"event": "Order Delivered", "where": {"properties.channel": "store"}}}
    });
    let (status, survey) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{survey}");
    let id = survey["id"].as_str().unwrap().to_owned();

    // A store delivery invites; a web one does not; a resent event invites once.
    assert_eq!(app.send("/v1/track", &delivered("u1", "order-1", "store")).await.status(), StatusCode::OK);
    assert_eq!(app.send("/v1/track", &delivered("u1", "order-1", "store")).await.status(), StatusCode::OK);
    assert_eq!(app.send("/v1/track", &delivered("u1", "order-2", "web")).await.status(), StatusCode::OK);
    let first = settled_invitations(&app, &id, 1).await;
    assert_eq!(
        (first[0]["state"].as_str(), first[0]["messageId"].as_str()),
        (Some("sent"), Some("order-1")),
        "{first:?}"
    );
    let u1 = app.customer("userId:u1").await;
    assert_eq!(first[0]["customerId"], u1["id"]);

    // The next delivery within 90 days is suppressed, and says why.
    app.send("/v1/track", &delivered("u1", "order-3", "store")).await;
    let both = settled_invitations(&app, &id, 2).await;
    let second = both.iter().find(|invitation| invitation["messageId"] == "order-3").unwrap();
    assert_eq!(
        (second["state"].as_str(), second["reason"].as_str()),
        (Some("suppressed"), Some("survey_repeated_too_soon"))
    );
    assert!(second["explanation"].as_str().unwrap().contains("90 days"), "{second}");

    // A dry run explains every customer without sending anything.
    app.send("/v1/identify", &json!({"userId": "u2", "traits": {"unsubscribed": true}})).await;
    app.send("/v1/identify", &json!({"userId": "u3", "traits": {"consent": {"link": false}}})).await;
    app.send("/v1/identify", &json!({"userId": "u4", "traits": {"email": "u4@example.com"}})).await;
    let answered = json!({"customer": "email:u4@example.com", "answers": {"nps": 9}});
    let response = app.post(&format!("/v1/surveys/{id}/responses"), &app.write_key, &answered).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let audience = json!({"customers": ["userId:u1", "userId:u2", "userId:u3", "userId:u4", "userId:newcomer"]});
    let response = app
        .client
        .post(app.url(&format!("/v1/surveys/{id}/dry-run")))
        .bearer_auth(&app.read_key)
        .json(&audience)
        .send()
        .await
        .unwrap();
    let (status, result) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    let reasons: Vec<(bool, Option<&str>)> = result["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry["invite"].as_bool().unwrap(), entry["reason"].as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (false, Some("survey_repeated_too_soon")),
            (false, Some("unsubscribed")),
            (false, Some("no_consent")),
            (false, Some("cooling_down_after_response")),
            (true, None),
        ]
    );
    assert_eq!(result["data"][4]["customerId"], Value::Null, "nobody holds that identity yet");
    assert_eq!(settled_invitations(&app, &id, 2).await.len(), 2, "a dry run records nothing");

    let bad = json!({"customers": ["nonsense"]});
    let response = app
        .client
        .post(app.url(&format!("/v1/surveys/{id}/dry-run")))
        .bearer_auth(&app.read_key)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "customers[0]")]).await;
    let broken = json!({"name": "x", "kind": "relational", "questions": [{"id": "nps", "type": "nps"}],
                        "delivery": {"channel": "pigeon", "trigger": {"event": "Order Delivered", "delayMinutes": "soon"}}});
    let response = app.post("/v1/surveys", &app.admin_key, &broken).send().await.unwrap();
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_survey",
        &[(None, "delivery.channel"), (None, "delivery.trigger.delayMinutes")],
    )
    .await;
}
