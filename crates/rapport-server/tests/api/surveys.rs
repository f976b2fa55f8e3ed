use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};

fn delivery_survey(name: &str) -> Value {
    json!({
        "name": name, "kind": "transactional", "touchpoint": "delivery",
        "questions": [
            {"id": "nps", "type": "nps", "required": true},
            {"id": "reason", "type": "text", "text": "What is the main reason for your score?",
             "showIf": {"question": "nps", "min": 0, "max": 6}},
            {"id": "csat", "type": "csat", "dimensions": ["knowledge"]},
            {"id": "liked", "type": "multiple_choice", "text": "What did you like?", "options": ["speed", "price"]}
        ],
        "thankYou": "Thank you!"
    })
}

async fn create(app: &TestApp, definition: &Value) -> Value {
    let (status, body) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn respond(app: &TestApp, survey: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app.post(&format!("/v1/surveys/{survey}/responses"), &app.write_key, body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

pub async fn responses_land_on_the_customer_once(app: TestApp) {
    let survey = create(&app, &delivery_survey("After delivery")).await;
    let id = survey["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (survey["version"].as_i64(), survey["definition"]["questions"][0]["type"].as_str()),
        (Some(1), Some("nps"))
    );
    // Jane is known from the web shop.
    app.send("/v1/identify", &json!({"anonymousId": "web-1", "traits": {"email": "Jane@Example.com"}})).await;

    let answer = json!({"customer": "email:jane@example.com", "channel": "email",
                        "answers": {"nps": 4, "reason": "Late again", "csat": {"score": 2, "knowledge": 5}, "liked": ["price"]}});
    let (status, stored) = status_and_json(respond(&app, &id, Some("delivery-77"), &answer).await).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(
        stored["answers"],
        json!({"nps": 4, "reason": "Late again", "csat": {"score": 2, "knowledge": 5}, "liked": ["price"]})
    );
    assert_eq!(
        (stored["customer"].as_str(), stored["touchpoint"].as_str()),
        (Some("email:jane@example.com"), Some("delivery"))
    );

    // A retry with the same key stores nothing new.
    let (status, again) = status_and_json(respond(&app, &id, Some("delivery-77"), &answer).await).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &stored["id"]));

    // On Jane's timeline, once, on the email channel, next to her web visit.
    let jane = app.customer("email:jane@example.com").await;
    let timeline = app.timeline(jane["id"].as_str().unwrap()).await;
    let answered: Vec<&Value> = timeline.iter().filter(|entry| entry["name"] == "Survey Answered").collect();
    assert_eq!(answered.len(), 1, "{timeline:?}");
    assert_eq!(answered[0]["channel"], "email");
    assert_eq!(answered[0]["properties"]["answers"]["nps"], 4);
    assert_eq!(answered[0]["properties"]["surveyId"], id.as_str());
    assert_eq!(timeline.len(), 2, "the identify and the answer: {timeline:?}");

    // An edit adds a version; a response may still name the version it answered.
    let mut edited = delivery_survey("After delivery v2");
    edited["questions"].as_array_mut().unwrap().push(json!({"id": "ces", "type": "ces"}));
    let response = app
        .client
        .put(app.url(&format!("/v1/surveys/{id}")))
        .bearer_auth(&app.admin_key)
        .json(&edited)
        .send()
        .await
        .unwrap();
    let (status, version_2) = status_and_json(response).await;
    assert_eq!((status, version_2["version"].as_i64()), (StatusCode::OK, Some(2)), "{version_2}");
    let old = respond(&app, &id, None, &json!({"customer": "userId:u-9", "version": 1, "answers": {"nps": 9}})).await;
    let (status, old) = status_and_json(old).await;
    assert_eq!((status, old["version"].as_i64()), (StatusCode::CREATED, Some(1)));
    let new = respond(&app, &id, None, &json!({"customer": "userId:u-9", "answers": {"nps": 10, "ces": 7}})).await;
    assert_eq!(status_and_json(new).await.1["version"], 2);
    assert_eq!(app.read(&format!("/v1/surveys/{id}?version=1")).await["definition"]["name"], "After delivery");

    // Listing: JSON pages and a CSV of every response.
    let page = app.read(&format!("/v1/surveys/{id}/responses?limit=2")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["nextCursor"].as_str().expect("a next page").to_owned();
    let rest = app.read(&format!("/v1/surveys/{id}/responses?cursor={cursor}")).await;
    assert_eq!((rest["data"].as_array().unwrap().len(), &rest["nextCursor"]), (1, &Value::Null));
    let csv = app
        .client
        .get(app.url(&format!("/v1/surveys/{id}/responses?format=csv")))
        .bearer_auth(&app.read_key)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "response_id,submitted_at,version,customer,channel,touchpoint,agent,nps,reason,csat,csat.knowledge,liked,ces"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].ends_with(",email:jane@example.com,email,delivery,,4,Late again,2,5,price,"), "{csv}");
    assert_eq!(app.read("/v1/surveys").await["data"].as_array().unwrap().len(), 1);
}

pub async fn bad_surveys_and_answers_are_named(app: TestApp) {
    let broken = json!({"name": "Broken", "kind": "relational",
        "questions": [{"id": "nps", "type": "nps"}, {"id": "why", "type": "text", "text": "Why?", "showIf": {"question": "nps", "min": 11, "max": 12}}]});
    let response = app.post("/v1/surveys", &app.admin_key, &broken).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_survey", &[(None, "questions[1].showIf")]).await;
    let response = app
        .post("/v1/surveys", &app.admin_key, &json!({"name": "Empty", "kind": "relational", "questions": []}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_survey", &[(None, "questions")]).await;
    let response = app.post("/v1/surveys", &app.write_key, &delivery_survey("x")).send().await.unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden", &[]).await;

    let id = create(&app, &delivery_survey("After delivery")).await["id"].as_str().unwrap().to_owned();
    let bad = json!({"customer": "phone:12", "answers": {"nps": 11, "colour": "red", "liked": ["speed", "fax"]}, "submittedAt": "yesterday"});
    assert_error(
        respond(&app, &id, None, &bad).await,
        StatusCode::BAD_REQUEST,
        "invalid_response",
        &[
            (None, "customer"),
            (None, "submittedAt"),
            (None, "answers.colour"),
            (None, "answers.nps"),
            (None, "answers.liked"),
        ],
    )
    .await;
    let missing = json!({"customer": "userId:u1", "answers": {"nps": 2, "reason": null}});
    assert_error(
        respond(&app, &id, None, &json!({"customer": "userId:u1", "answers": {}})).await,
        StatusCode::BAD_REQUEST,
        "invalid_response",
        &[(None, "answers.nps")],
    )
    .await;
    assert_eq!(
        respond(&app, &id, None, &missing).await.status(),
        StatusCode::CREATED,
        "an optional follow-up may be skipped"
    );
    let unasked = json!({"customer": "userId:u1", "answers": {"nps": 10, "reason": "Great"}});
    assert_error(
        respond(&app, &id, None, &unasked).await,
        StatusCode::BAD_REQUEST,
        "invalid_response",
        &[(None, "answers.reason")],
    )
    .await;
    let wrong_version = json!({"customer": "userId:u1", "version": 7, "answers": {"nps": 1}});
    assert_error(
        respond(&app, &id, None, &wrong_version).await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "version")],
    )
    .await;
    let no_survey = respond(&app, "nope", None, &json!({"customer": "userId:u1", "answers": {"nps": 1}})).await;
    assert_error(no_survey, StatusCode::NOT_FOUND, "not_found", &[]).await;
    let response = app
        .client
        .get(app.url(&format!("/v1/surveys/{id}/responses?format=xml")))
        .bearer_auth(&app.read_key)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "format")]).await;
    // Nothing half-saved: only the one valid response exists.
    assert_eq!(app.read(&format!("/v1/surveys/{id}/responses")).await["data"].as_array().unwrap().len(), 1);
}
