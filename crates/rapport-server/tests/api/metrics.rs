use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};
use crate::invitations::settled_invitations;

async fn create(app: &TestApp, definition: Value) -> String {
    let (status, body) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn respond(app: &TestApp, survey: &str, body: Value) {
    let response = app.post(&format!("/v1/surveys/{survey}/responses"), &app.write_key, &body).send().await.unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn save_settings(app: &TestApp, settings: &Value) {
    let saved = app.client.put(app.url("/v1/metrics/settings")).bearer_auth(&app.admin_key).json(settings).send().await;
    assert_eq!(saved.unwrap().status(), StatusCode::OK);
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|value| (value - expected).abs() < 1e-6)
}

pub async fn nps_by_month_and_channel_with_intervals_and_changes(app: TestApp) {
    let survey = create(
        &app,
        json!({"name": "Relationship", "kind": "relational",
               "questions": [{"id": "nps", "type": "nps"}, {"id": "csat", "type": "csat", "dimensions": ["knowledge"]}]}),
    )
    .await;
    // January by e-mail: 10, 10, 9, 8, 3 → 3 promoters, 1 detractor of 5: NPS 40.
    // February by e-mail: 10, 2, 2, 2 → NPS −50; February by SMS: 9 → NPS 100.
    let answers = [
        ("2025-01-05", "email", 10),
        ("2025-01-09", "email", 10),
        ("2025-01-17", "email", 9),
        ("2025-01-20", "email", 8),
        ("2025-01-31", "email", 3),
        ("2025-02-01", "email", 10),
        ("2025-02-11", "email", 2),
        ("2025-02-12", "email", 2),
        ("2025-02-28", "email", 2),
        ("2025-02-14", "sms", 9),
    ];
    for (index, (date, channel, nps)) in answers.iter().enumerate() {
        respond(
            &app,
            &survey,
            json!({"customer": format!("email:c{index}@example.com"), "channel": channel,
                   "submittedAt": format!("{date}T12:00:00Z"), "answers": {"nps": nps, "csat": {"score": 4, "knowledge": 2}}}),
        )
        .await;
    }
    let report = app.read("/v1/metrics/nps?from=2025-01-01&to=2025-02-28&group_by=month,channel").await;
    assert_eq!((report["metric"].as_str(), report["source"].as_str()), (Some("nps"), Some("rollup")));
    assert_eq!((report["from"].as_str(), report["to"].as_str()), (Some("2025-01-01"), Some("2025-02-28")));
    let groups = report["groups"].as_array().unwrap();
    let keys: Vec<String> = groups.iter().map(|g| format!("{}/{}", g["key"]["month"], g["key"]["channel"])).collect();
    assert_eq!(keys, ["\"2025-01\"/\"email\"", "\"2025-01\"/\"sms\"", "\"2025-02\"/\"email\"", "\"2025-02\"/\"sms\""]);
    let january = &groups[0];
    assert_eq!(january["n"], 5);
    assert!(close(&january["score"], 40.0), "{january}");
    assert_eq!(january["counts"], json!({"promoters": 3, "passives": 1, "detractors": 1}));
    assert_eq!(january["low_n"], true, "5 answers is under the default minimum of 30");
    assert!(january["ci_low"].as_f64().unwrap() < 40.0 && january["ci_high"].as_f64().unwrap() > 40.0);
    let february = &groups[2];
    assert!(close(&february["score"], -50.0), "{february}");
    assert_eq!(february["previous"]["n"], 5);
    assert!(close(&february["change"]["difference"], -90.0), "{february}");
    let p = february["change"]["p_value"].as_f64().unwrap();
    assert!(p > 0.0 && p < 1.0 && february["change"]["q_value"].as_f64().unwrap() >= p);
    assert_eq!(
        (groups[1]["n"].as_u64(), groups[1]["score"].is_null()),
        (Some(0), true),
        "an empty month shows as n = 0"
    );

    // Filtered by channel; CSAT per service dimension; a whole-range figure against the range before.
    let sms = app.read("/v1/metrics/nps?from=2025-01-01&to=2025-02-28&filter=channel:sms").await;
    assert_eq!((sms["groups"][0]["n"].as_u64(), sms["groups"][0]["previous"]["n"].as_u64()), (Some(1), Some(0)));
    let csat = app.read("/v1/metrics/csat?from=2025-01-01&to=2025-02-28&group_by=dimension").await;
    let by_dimension: Vec<(Value, Value)> = csat["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"]["dimension"].clone(), g["score"].clone()))
        .collect();
    assert_eq!(by_dimension, [(Value::Null, json!(100.0)), (json!("knowledge"), json!(0.0))]);
    assert_eq!(csat["satisfied_from"], 4);
    assert!(close(&csat["groups"][0]["mean"]["value"], 4.0));
    // Without `dimension`, CSAT is the overall question alone, never blended with its dimensions.
    let overall = app.read("/v1/metrics/csat?from=2025-01-01&to=2025-02-28").await;
    assert_eq!((overall["groups"][0]["n"].as_u64(), overall["groups"][0]["score"].as_f64()), (Some(10), Some(100.0)));
    let knowledge = app.read("/v1/metrics/csat?from=2025-01-01&to=2025-02-28&filter=dimension:knowledge").await;
    assert_eq!((knowledge["groups"][0]["n"].as_u64(), knowledge["groups"][0]["score"].as_f64()), (Some(10), Some(0.0)));

    // Targets and benchmarks show as gaps; the minimum n is the workspace's.
    let settings =
        json!({"minN": 3, "targets": {"nps": 30}, "benchmarks": [{"metric": "nps", "name": "Retail", "score": 45}]});
    save_settings(&app, &settings).await;
    let report = app.read("/v1/metrics/nps?from=2025-01-01&to=2025-01-31").await;
    let january = &report["groups"][0];
    assert_eq!((report["min_n"].as_u64(), january["low_n"].as_bool()), (Some(3), Some(false)));
    assert!(close(&january["target_gap"], 10.0) && close(&january["benchmark_gaps"][0]["gap"], -5.0), "{january}");
    assert_eq!(app.read("/v1/metrics/settings").await["targets"], json!({"nps": 30.0}));

    // Two groups compared.
    let compared =
        app.read("/v1/metrics/nps/compare?from=2025-01-01&to=2025-02-28&a=channel:email&b=channel:sms").await;
    assert_eq!((compared["a"]["n"].as_u64(), compared["b"]["n"].as_u64()), (Some(9), Some(1)));
    // E-mail: 4 promoters and 4 detractors of 9 (NPS 0); SMS: one promoter (NPS 100).
    assert!(close(&compared["difference"]["difference"], 100.0), "{compared}");
}

pub async fn enps_and_response_rate_read_their_own_data(app: TestApp) {
    let employees = create(
        &app,
        json!({"name": "Pulse", "kind": "relational", "audience": "employees", "questions": [{"id": "nps", "type": "nps"}]}),
    )
    .await;
    let customers = create(
        &app,
        json!({"name": "After delivery", "kind": "transactional", "questions": [{"id": "nps", "type": "nps"}],
               "delivery": {"channel": "link", "trigger": {"event": "Order Delivered"}}}),
    )
    .await;
    respond(&app, &employees, json!({"customer": "email:staff@acme.example", "answers": {"nps": 0}})).await;
    respond(&app, &customers, json!({"customer": "email:jane@example.com", "answers": {"nps": 10}})).await;
    let enps = app.read("/v1/metrics/enps").await;
    assert_eq!((enps["groups"][0]["n"].as_u64(), enps["groups"][0]["score"].as_f64()), (Some(1), Some(-100.0)));
    let nps = app.read("/v1/metrics/nps").await;
    assert_eq!((nps["groups"][0]["n"].as_u64(), nps["groups"][0]["score"].as_f64()), (Some(1), Some(100.0)));

    // Two invitations delivered, one answered: a response rate of 50%.
    for (user, order) in [("ann", "o-1"), ("bob", "o-2")] {
        app.send("/v1/identify", &json!({"userId": user, "traits": {"email": format!("{user}@example.com")}})).await;
        app.send("/v1/track", &json!({"userId": user, "event": "Order Delivered", "messageId": order})).await;
    }
    let invitations = settled_invitations(&app, &customers, 2).await;
    let link = app.url(invitations[0]["url"].as_str().unwrap());
    assert_eq!(app.client.post(&link).form(&[("q.nps", "9")]).send().await.unwrap().status(), StatusCode::OK);
    let rate = app.read("/v1/metrics/response_rate?group_by=survey").await;
    assert_eq!(rate["source"], "invitations");
    let group = &rate["groups"][0];
    assert_eq!((group["key"]["survey"].as_str(), group["n"].as_u64()), (Some(customers.as_str()), Some(2)));
    assert!(close(&group["score"], 50.0), "{group}");
    assert_eq!(group["counts"], json!({"responses": 1, "delivered": 2}));
}

pub async fn bad_metric_queries_are_named(app: TestApp) {
    let get = |path: &str| app.client.get(app.url(path)).bearer_auth(&app.read_key).send();
    assert_error(
        get("/v1/metrics/happiness").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "metric")],
    )
    .await;
    assert_error(
        get("/v1/metrics/nps?from=2025-03-01&to=2025-01-01&group_by=month,colour&filter=plan:pro").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "from"), (None, "group_by"), (None, "filter")],
    )
    .await;
    assert_error(
        get("/v1/metrics/nps?groupby=month").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "groupby")],
    )
    .await;
    assert_error(
        get("/v1/metrics/nps?to=tomorrow").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "to")],
    )
    .await;
    assert_error(
        get("/v1/metrics/nps/compare?a=channel:email").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "b")],
    )
    .await;
    assert_error(
        get("/v1/metrics/churn_rate/compare?a=channel:email&b=channel:sms").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "metric")],
    )
    .await;
    assert_error(
        get("/v1/metrics/response_rate/compare?a=agent:ann&b=channel:sms").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "a")],
    )
    .await;
    assert_error(
        get("/v1/metrics/nps/compare?a=channel&b=colour:red").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "a"), (None, "b")],
    )
    .await;
    // Settings: checked whole, and only admins change them.
    let put =
        |key: &str, body: Value| app.client.put(app.url("/v1/metrics/settings")).bearer_auth(key).json(&body).send();
    assert_error(
        put(&app.admin_key, json!({"minN": 0, "targets": {"nps": 500}})).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_settings",
        &[(None, "minN"), (None, "targets.nps")],
    )
    .await;
    assert_eq!(put(&app.read_key, json!({})).await.unwrap().status(), StatusCode::FORBIDDEN);
    let write = app.client.get(app.url("/v1/metrics/nps")).bearer_auth(&app.write_key).send().await.unwrap();
    assert_eq!(write.status(), StatusCode::FORBIDDEN, "write keys ingest; they do not read reports");
}

pub async fn churn_rate_follows_the_workspace_definition(app: TestApp) {
    // Without a definition, the churn rate says what it needs.
    let response = app.client.get(app.url("/v1/metrics/churn_rate")).bearer_auth(&app.read_key).send().await.unwrap();
    let body = assert_error(response, StatusCode::CONFLICT, "conflict", &[]).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("cancelEvents"), "{body}");

    let settings = json!({"churn": {"activeEvents": ["Subscription Started", "Order Completed"],
                                    "cancelEvents": ["Subscription Cancelled"]}});
    save_settings(&app, &settings).await;
    // Four subscribers by 2025-01-01; in January one cancels, by phone under another identity
    // that resolves to the same customer. A fifth starts in January (not at risk in January).
    let track =
        |user: &str, event: &str, at: &str| json!({"type": "track", "userId": user, "event": event, "timestamp": at});
    let batch = json!({"batch": [
        track("ann", "Subscription Started", "2024-11-03T10:00:00Z"),
        track("bob", "Subscription Started", "2024-12-03T10:00:00Z"),
        track("cy", "Order Completed", "2024-12-24T10:00:00Z"),
        track("dee", "Subscription Started", "2024-12-30T10:00:00Z"),
        track("eve", "Subscription Started", "2025-01-12T10:00:00Z"),
        {"type": "identify", "userId": "bob", "traits": {"phone": "+49 151 7654321"}, "timestamp": "2024-12-03T10:00:00Z"},
        {"type": "track", "anonymousId": "call-7", "event": "Subscription Cancelled", "timestamp": "2025-01-20T10:00:00Z",
         "context": {"traits": {"phone": "+49 151 7654321"}}},
        track("dee", "Subscription Cancelled", "2025-02-02T10:00:00Z"),
        track("zed", "Page Viewed", "2024-12-01T10:00:00Z"),
        {"type": "identify", "userId": "ann", "traits": {"plan": "pro"}, "timestamp": "2024-11-03T10:00:00Z"},
        {"type": "identify", "userId": "bob", "traits": {"plan": "pro"}, "timestamp": "2024-12-03T10:00:00Z"},
        {"type": "identify", "userId": "cy", "traits": {"plan": "free"}, "timestamp": "2024-12-24T10:00:00Z"},
        {"type": "group", "userId": "bob", "groupId": "acme-corp", "timestamp": "2024-12-04T10:00:00Z"}
    ]});
    assert_eq!(app.send("/v1/batch", &batch).await.status(), StatusCode::OK);
    let report = app.read("/v1/metrics/churn_rate?from=2025-01-01&to=2025-02-28&group_by=month").await;
    assert_eq!(report["source"], "events");
    let january = &report["groups"][0];
    assert_eq!(january["counts"], json!({"churned": 1, "active_at_start": 4}), "{report}");
    assert!(close(&january["score"], 25.0));
    // February: ann, cy, dee and eve were active on February 1; dee cancelled.
    assert_eq!(report["groups"][1]["counts"], json!({"churned": 1, "active_at_start": 4}), "{report}");
    // By plan: January's churn was all on pro (Bob); Dee has no plan.
    let by_plan = app.read("/v1/metrics/churn_rate?from=2025-01-01&to=2025-01-31&group_by=traits.plan").await;
    let plans: Vec<(Value, Value)> = by_plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"]["traits.plan"].clone(), g["counts"].clone()))
        .collect();
    assert_eq!(
        plans,
        [
            (Value::Null, json!({"churned": 0, "active_at_start": 1})),
            (json!("free"), json!({"churned": 0, "active_at_start": 1})),
            (json!("pro"), json!({"churned": 1, "active_at_start": 2})),
        ]
    );
    let pro = app.read("/v1/metrics/churn_rate?from=2025-01-01&to=2025-01-31&filter=traits.plan:pro").await;
    assert!(close(&pro["groups"][0]["score"], 50.0), "{pro}");
    let acme = app.read("/v1/metrics/churn_rate?from=2025-01-01&to=2025-01-31&filter=account:acme-corp").await;
    assert_eq!(acme["groups"][0]["counts"], json!({"churned": 1, "active_at_start": 1}), "{acme}");
    let grouped = app
        .client
        .get(app.url("/v1/metrics/churn_rate?group_by=channel"))
        .bearer_auth(&app.read_key)
        .send()
        .await
        .unwrap();
    assert_error(grouped, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "group_by")]).await;
}

pub async fn account_nps_weighs_respondents_by_role(app: TestApp) {
    let survey =
        create(&app, json!({"name": "B2B", "kind": "relational", "questions": [{"id": "nps", "type": "nps"}]})).await;
    let batch = json!({"batch": [
        {"type": "identify", "userId": "ann", "traits": {"role": "decision_maker"}, "timestamp": "2025-01-01T00:00:00Z"},
        {"type": "identify", "userId": "bob", "traits": {"role": "user"}, "timestamp": "2025-01-01T00:00:00Z"},
        {"type": "group", "userId": "ann", "groupId": "old-co", "timestamp": "2024-06-01T00:00:00Z"},
        {"type": "group", "userId": "ann", "groupId": "acme-corp", "timestamp": "2025-01-02T00:00:00Z"},
        {"type": "group", "userId": "bob", "groupId": "acme-corp", "timestamp": "2025-01-02T00:00:00Z"},
        {"type": "group", "userId": "cy", "groupId": "globex", "timestamp": "2025-01-02T00:00:00Z"}
    ]});
    assert_eq!(app.send("/v1/batch", &batch).await.status(), StatusCode::OK);
    for (user, nps) in [("ann", 3), ("bob", 10), ("cy", 9)] {
        respond(&app, &survey, json!({"customer": format!("userId:{user}"), "submittedAt": "2025-01-10T12:00:00Z", "answers": {"nps": nps}})).await;
    }
    save_settings(&app, &json!({"accountRoles": {"weights": {"decision_maker": 3}}})).await;
    let report = app.read("/v1/metrics/account_nps?from=2025-01-01&to=2025-01-31").await;
    // No rollup holds an account: SQLite reads its answer index, PostgreSQL the raw answers.
    assert!(["index", "answers"].contains(&report["source"].as_str().unwrap()), "{report}");
    assert_eq!(report["group_by"], json!(["account"]));
    let scores: Vec<(Value, u64, f64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"]["account"].clone(), g["n"].as_u64().unwrap(), g["score"].as_f64().unwrap()))
        .collect();
    // acme-corp: Ann (decision maker, weight 3) a detractor, Bob (user, 1) a promoter: (1 − 3)/4.
    assert_eq!(scores, [(json!("acme-corp"), 2, -50.0), (json!("globex"), 1, 100.0)]);
    // Plain NPS grouped by account is unweighted.
    let plain = app.read("/v1/metrics/nps?from=2025-01-01&to=2025-01-31&group_by=account").await;
    assert_eq!(plain["groups"][0]["score"].as_f64(), Some(0.0));
    let bad = app
        .client
        .get(app.url("/v1/metrics/account_nps?group_by=channel"))
        .bearer_auth(&app.read_key)
        .send()
        .await
        .unwrap();
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "group_by")]).await;
}

/// Journey stages slice answers: each answer's touchpoint is placed in the stage of the journey
/// touchpoint whose `feedbackTouchpoint` it is (two touchpoints may share one), in group-bys and
/// filters; a touchpoint outside the journey has no stage.
pub async fn nps_by_journey_stage(app: TestApp) {
    let survey =
        create(&app, json!({"name": "Pulse", "kind": "transactional", "questions": [{"id": "nps", "type": "nps"}]}))
            .await;
    let journey = json!({"name": "Purchase", "stages": ["consider", "decide"], "touchpoints": [
        {"key": "product", "stage": "consider", "event": "Product Viewed"},
        {"key": "checkout_app", "stage": "decide", "event": "Checkout Started", "channel": "mobile", "feedbackTouchpoint": "checkout"},
        {"key": "checkout_web", "stage": "decide", "event": "Checkout Started", "feedbackTouchpoint": "checkout"},
        {"key": "payment", "stage": "decide", "event": "Payment Info Entered"}]});
    let (status, created) =
        status_and_json(app.post("/v1/journeys", &app.admin_key, &journey).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let journey = created["id"].as_str().unwrap().to_owned();
    let answers = [
        ("product", 10),
        ("product", 9),
        ("checkout", 3),
        ("checkout", 4),
        ("checkout", 10),
        ("payment", 8),
        ("returns", 0),
    ];
    for (n, (touchpoint, score)) in answers.iter().enumerate() {
        respond(
            &app,
            &survey,
            json!({"customer": format!("userId:j{n}"), "touchpoint": touchpoint, "submittedAt": "2025-05-10T10:00:00Z",
                   "answers": {"nps": score}}),
        )
        .await;
    }
    let range = "from=2025-05-01&to=2025-05-31&min_n=1";
    let report = app.read(&format!("/v1/metrics/nps?{range}&group_by=journey_stage&journey={journey}")).await;
    let groups: Vec<(Value, u64, f64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"]["journey_stage"].clone(), g["n"].as_u64().unwrap(), g["score"].as_f64().unwrap()))
        .collect();
    // consider: 10, 9 → +100; decide: 3, 4, 10, 8 → (1 − 2) / 4 = −25; no stage: 0 → −100.
    assert!(groups.contains(&(json!("consider"), 2, 100.0)), "{report}");
    assert!(groups.contains(&(json!("decide"), 4, -25.0)), "{report}");
    assert!(groups.contains(&(Value::Null, 1, -100.0)), "{report}");
    assert_eq!(groups.len(), 3, "{report}");

    let decide = app.read(&format!("/v1/metrics/nps?{range}&filter=journey_stage:decide&journey={journey}")).await;
    assert_eq!((decide["groups"][0]["n"].as_u64(), decide["groups"][0]["score"].as_f64()), (Some(4), Some(-25.0)));
    // With a touchpoint as well: both hold.
    let both = app
        .read(&format!(
            "/v1/metrics/nps?{range}&filter=journey_stage:decide,touchpoint:payment|product&journey={journey}"
        ))
        .await;
    assert_eq!(both["groups"][0]["n"].as_u64(), Some(1), "{both}");
    // Stage and touchpoint side by side.
    let by_both =
        app.read(&format!("/v1/metrics/nps?{range}&group_by=journey_stage,touchpoint&journey={journey}")).await;
    let checkout = by_both["groups"].as_array().unwrap().iter().find(|g| g["key"]["touchpoint"] == "checkout").unwrap();
    assert_eq!((checkout["key"]["journey_stage"].as_str(), checkout["n"].as_u64()), (Some("decide"), Some(3)));

    let get = |path: String| app.client.get(app.url(&path)).bearer_auth(&app.read_key).send();
    assert_error(
        get(format!("/v1/metrics/nps?{range}&group_by=journey_stage")).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "journey")],
    )
    .await;
    assert_error(
        get(format!("/v1/metrics/nps?{range}&group_by=journey_stage&journey=nope")).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "journey")],
    )
    .await;
}
