//! The survey widget's API: eligibility by the contact rules, the shown survey recorded as an
//! invitation, answers stored once. (The widget script itself runs in the browser test.)

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};

async fn ask(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    status_and_json(app.post("/v1/widget/eligibility", &app.write_key, body).send().await.unwrap()).await
}

async fn answer(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.post(&format!("/v1/widget/answers/{token}"), &app.write_key, body).send().await.unwrap()
}

pub async fn the_widget_shows_eligible_visitors_and_stores_answers(app: TestApp) {
    // Nobody to ask about yet, and no widget survey yet.
    assert_error(
        app.post("/v1/widget/eligibility", &app.write_key, &json!({})).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "userId")],
    )
    .await;
    let (_, none) = ask(&app, &json!({"userId": "v1"})).await;
    assert_eq!((none["show"].as_bool(), none["reason"].as_str()), (Some(false), Some("no_survey")));

    // A widget survey is shown, not sent: a trigger makes no sense and is refused by field.
    let mut definition = json!({"name": "Site pulse", "kind": "relational", "thankYou": "Thanks, that helps!",
        "questions": [{"id": "nps", "type": "nps", "required": true},
                      {"id": "why", "type": "text", "text": "What is the main reason?", "showIf": {"question": "nps", "min": 0, "max": 6}}],
        "delivery": {"channel": "widget", "notAgainWithinDays": 30, "trigger": {"event": "Viewed"}}});
    assert_error(
        app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_survey",
        &[(None, "delivery.trigger")],
    )
    .await;
    definition["delivery"].as_object_mut().unwrap().remove("trigger");
    let (status, survey) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{survey}");
    let id = survey["id"].as_str().unwrap().to_owned();

    // Only write (and admin) keys ask; a read key is refused.
    let read = app.post("/v1/widget/eligibility", &app.read_key, &json!({"userId": "v1"})).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::FORBIDDEN);

    // An eligible visitor is shown the survey; the showing is an invitation.
    let (status, shown) = ask(&app, &json!({"userId": "v1"})).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["show"], true, "{shown}");
    assert_eq!(shown["survey"]["id"], id.as_str());
    assert_eq!(shown["survey"]["questions"][1]["showIf"]["max"], 6);
    let token = shown["token"].as_str().unwrap().to_owned();
    let invitations = app.read(&format!("/v1/surveys/{id}/invitations")).await;
    assert_eq!(invitations["data"][0]["state"], "sent", "{invitations}");
    assert_eq!(invitations["data"][0]["channel"], "widget");

    // Answers are checked by field, stored once, on the customer.
    assert_error(
        answer(&app, &token, &json!({"answers": {"nps": 11}})).await,
        StatusCode::BAD_REQUEST,
        "invalid_response",
        &[(None, "answers.nps")],
    )
    .await;
    let (status, thanks) =
        status_and_json(answer(&app, &token, &json!({"answers": {"nps": 4, "why": "Slow pages"}})).await).await;
    assert_eq!((status, thanks["thanks"].as_str()), (StatusCode::OK, Some("Thanks, that helps!")));
    assert_eq!(answer(&app, &token, &json!({"answers": {"nps": 9}})).await.status(), StatusCode::CONFLICT);
    assert_eq!(answer(&app, "forged-token", &json!({"answers": {"nps": 9}})).await.status(), StatusCode::NOT_FOUND);
    let responses = app.read(&format!("/v1/surveys/{id}/responses")).await;
    let response = &responses["data"][0];
    assert_eq!((response["customer"].as_str(), response["channel"].as_str()), (Some("userId:v1"), Some("web")));
    assert_eq!(response["answers"], json!({"nps": 4, "why": "Slow pages"}));

    // v1 answered, v3 was shown it and did not answer: neither again within the survey's 30
    // days. v2 answered another survey yesterday: inside the workspace's rest after an answer.
    let (_, again) = ask(&app, &json!({"userId": "v1"})).await;
    assert_eq!(
        (again["show"].as_bool(), again["reason"].as_str()),
        (Some(false), Some("survey_repeated_too_soon")),
        "{again}"
    );
    assert_eq!(ask(&app, &json!({"userId": "v3"})).await.1["show"], true);
    let (_, repeated) = ask(&app, &json!({"userId": "v3"})).await;
    assert_eq!(repeated["reason"], "survey_repeated_too_soon", "{repeated}");
    let other = json!({"name": "Support", "kind": "transactional", "questions": [{"id": "nps", "type": "nps"}]});
    let (_, other) = status_and_json(app.post("/v1/surveys", &app.admin_key, &other).send().await.unwrap()).await;
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let body = json!({"customer": "userId:v2", "submittedAt": yesterday, "answers": {"nps": 10}});
    let respond = app.post(&format!("/v1/surveys/{}/responses", other["id"].as_str().unwrap()), &app.write_key, &body);
    assert!(respond.send().await.unwrap().status().is_success());
    let (_, cooling) = ask(&app, &json!({"userId": "v2"})).await;
    assert_eq!(cooling["reason"], "cooling_down_after_response", "{cooling}");
    // An anonymous visitor is asked about by their anonymous id.
    let (_, anonymous) = ask(&app, &json!({"anonymousId": "browser-7"})).await;
    assert_eq!(anonymous["show"], true, "{anonymous}");

    // A browser on the customer's site asks first (CORS preflight), and may.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/widget/eligibility"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");

    // The script is served.
    let script = app.client.get(app.url("/widget.js")).send().await.unwrap();
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(script.text().await.unwrap().contains("/v1/widget/eligibility"));
}
