use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, status_and_json};

/// The story of the foundation issue: a visitor browses anonymously on the web, signs up, later
/// uses the mobile app with a user id and calls support by phone. One customer holds it all.
pub async fn a_customer_across_web_app_and_phone(app: TestApp) {
    let browsing = json!({"batch": [
        {"type": "page", "anonymousId": "web-anon-1", "name": "Home", "messageId": "w1",
         "context": {"channel": "web", "page": {"url": "https://shop.example/"}}, "timestamp": "2026-02-01T09:00:00Z"},
        {"type": "track", "anonymousId": "web-anon-1", "event": "Product Viewed", "messageId": "w2",
         "properties": {"sku": "TENT-2"}, "context": {"channel": "web"}, "timestamp": "2026-02-01T09:02:00Z"},
        {"type": "track", "anonymousId": "web-anon-1", "event": "Product Added", "messageId": "w3",
         "properties": {"sku": "TENT-2", "cart_id": "cart-77"}, "context": {"channel": "web"}, "timestamp": "2026-02-01T09:03:00Z"}
    ]});
    let (status, body) = status_and_json(app.send("/v1/batch", &browsing).await).await;
    assert_eq!((status, body["accepted"].clone()), (StatusCode::OK, json!(3)), "{body}");

    // Sign-up: identify with an e-mail address, sent the way Segment SDKs authenticate (Basic).
    let signup = json!({"anonymousId": "web-anon-1", "messageId": "w4", "traits": {"email": "Maya.Lin@Example.com", "name": "Maya"},
                        "context": {"channel": "web"}, "timestamp": "2026-02-01T09:05:00Z"});
    let response = app
        .client
        .post(app.url("/v1/identify"))
        .basic_auth(&app.write_key, Some(""))
        .json(&signup)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Later, the mobile app: a user id, and the same e-mail address.
    let app_login = json!({"userId": "user-4411", "anonymousId": "ios-device-9", "messageId": "m1",
        "traits": {"email": "maya.lin@example.com", "plan": "pro"}, "context": {"channel": "mobile"},
        "timestamp": "2026-02-03T18:00:00Z"});
    assert_eq!(app.send("/v1/identify", &app_login).await.status(), StatusCode::OK);
    let app_order = json!({"userId": "user-4411", "event": "Order Completed", "messageId": "m2",
        "properties": {"order_id": "o-1", "total": 249.0}, "context": {"channel": "mobile"}, "timestamp": "2026-02-03T18:04:00Z"});
    assert_eq!(app.send("/v1/track", &app_order).await.status(), StatusCode::OK);

    // Support by phone: the call centre knows the caller's number and the user id.
    let call = json!({"userId": "user-4411", "event": "Support Call Completed", "messageId": "p1",
        "properties": {"minutes": 7, "topic": "delivery"},
        "context": {"channel": "phone", "traits": {"phone": "+49 151 1234567"}}, "timestamp": "2026-02-05T11:00:00Z"});
    assert_eq!(app.send("/v1/track", &call).await.status(), StatusCode::OK);

    let customer = app.customer("phone:+49 151 1234567").await;
    let id = customer["id"].as_str().unwrap();
    for identity in
        ["anonymousId:web-anon-1", "email:MAYA.LIN@example.com", "userId:user-4411", "anonymousId:ios-device-9"]
    {
        assert_eq!(app.customer(identity).await["id"], id, "{identity}");
    }
    let channels: Vec<&str> =
        customer["channels"].as_array().unwrap().iter().map(|c| c["channel"].as_str().unwrap()).collect();
    assert_eq!(channels, ["mobile", "phone", "web"]);
    assert_eq!(customer["traits"]["plan"]["value"], "pro");
    assert_eq!(customer["traits"]["plan"]["channel"], "mobile", "state set on one channel, visible from every other");
    assert_eq!(customer["traits"]["name"]["channel"], "web");
    assert_eq!(customer["firstSeen"], "2026-02-01T09:00:00.000Z");
    assert_eq!(customer["lastSeen"], "2026-02-05T11:00:00.000Z");

    let timeline = app.timeline(id).await;
    let messages: Vec<&str> = timeline.iter().map(|entry| entry["messageId"].as_str().unwrap()).collect();
    assert_eq!(messages, ["p1", "m2", "m1", "w4", "w3", "w2", "w1"], "every event, newest first");
    let call_entry = &timeline[0];
    assert_eq!(call_entry["type"], "track");
    assert_eq!(call_entry["name"], "Support Call Completed");
    assert_eq!(call_entry["channel"], "phone");
    assert_eq!(call_entry["properties"]["minutes"], 7);
    assert_eq!(timeline[4]["properties"]["cart_id"], "cart-77", "the cart set on the web is there for the agent");
}

pub async fn resending_a_batch_changes_nothing(app: TestApp) {
    let batch = json!({"batch": (0..50).map(|n| json!({"type": "track", "anonymousId": format!("a{}", n % 5),
        "event": "Clicked", "messageId": format!("msg-{n}"), "traits": {}})).collect::<Vec<Value>>()});
    let (_, first) = status_and_json(app.send("/v1/batch", &batch).await).await;
    assert_eq!((first["accepted"].clone(), first["duplicates"].clone()), (json!(50), json!(0)));
    let customer_before = app.customer("anonymousId:a3").await;
    for _ in 0..2 {
        let (status, again) = status_and_json(app.send("/v1/batch", &batch).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((again["accepted"].clone(), again["duplicates"].clone()), (json!(0), json!(50)));
    }
    let workspace = app.store.workspace_by_name("acme").await.unwrap().unwrap();
    assert_eq!(app.store.count_events(&workspace.id).await.unwrap(), 50);
    assert_eq!(app.customer("anonymousId:a3").await, customer_before);
    assert_eq!(app.timeline(customer_before["id"].as_str().unwrap()).await.len(), 10);
}

pub async fn every_call_type_is_accepted(app: TestApp) {
    let calls = [
        ("/v1/track", json!({"userId": "u", "event": "Signed In"})),
        ("/v1/identify", json!({"userId": "u", "traits": {"email": "u@x.org"}})),
        ("/v1/page", json!({"userId": "u", "name": "Pricing", "properties": {"path": "/pricing"}})),
        ("/v1/screen", json!({"userId": "u", "name": "Cart"})),
        (
            "/v1/group",
            json!({"userId": "u", "groupId": "acct-1", "traits": {"name": "Acme Corp", "email": "billing@acme.test"}}),
        ),
        ("/v1/alias", json!({"userId": "u", "previousId": "old-anon"})),
    ];
    for (path, body) in &calls {
        let (status, response) = status_and_json(app.send(path, body).await).await;
        assert_eq!((status, response["accepted"].clone()), (StatusCode::OK, json!(1)), "{path}: {response}");
    }
    let customer = app.customer("userId:u").await;
    assert_eq!(app.customer("anonymousId:old-anon").await["id"], customer["id"], "alias links the previous id");
    let timeline = app.timeline(customer["id"].as_str().unwrap()).await;
    let mut types: Vec<&str> = timeline.iter().map(|entry| entry["type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(types, ["alias", "group", "identify", "page", "screen", "track"]);
    let group = timeline.iter().find(|entry| entry["type"] == "group").unwrap();
    assert_eq!(group["groupId"], "acct-1");
    let search = app.client.get(app.url("/v1/customers")).query(&[("identity", "email:billing@acme.test")]);
    let (_, found) = status_and_json(search.bearer_auth(&app.read_key).send().await.unwrap()).await;
    assert_eq!(found["data"], json!([]), "an account's traits are not the person's identities");
}

pub async fn client_clock_skew_is_corrected(app: TestApp) {
    // The device clock runs one hour fast: it stamped the event 30 s before sending it.
    let now = time::OffsetDateTime::now_utc();
    let device_now = now + time::Duration::hours(1);
    let format = &time::format_description::well_known::Rfc3339;
    let body = json!({"batch": [{"type": "track", "userId": "skewed", "event": "Tapped",
        "originalTimestamp": (device_now - time::Duration::seconds(30)).format(format).unwrap()}],
        "sentAt": device_now.format(format).unwrap()});
    assert_eq!(app.send("/v1/batch", &body).await.status(), StatusCode::OK);
    let customer = app.customer("userId:skewed").await;
    let entry = &app.timeline(customer["id"].as_str().unwrap()).await[0];
    let stored = time::OffsetDateTime::parse(entry["timestamp"].as_str().unwrap(), format).unwrap();
    let expected = now - time::Duration::seconds(30);
    assert!((stored - expected).abs() < time::Duration::seconds(5), "stored {stored}, expected about {expected}");
}

/// Posts `body` the way analytics.js does: `text/plain`, no Authorization header.
async fn post_like_analytics_js(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client.post(app.url(path)).header("content-type", "text/plain").body(body.to_string()).send().await.unwrap()
}

/// What Segment's browser SDK (analytics.js) sends: a one-letter path, `text/plain`, no
/// Authorization header, the key as `writeKey` in the body.
pub async fn analytics_js_requests_are_accepted(app: TestApp) {
    let body = json!({"type": "track", "event": "Button Clicked", "anonymousId": "ajs-anon-1", "messageId": "ajs-next-1",
        "writeKey": app.write_key, "context": {"library": {"name": "analytics.js", "version": "next-1.70.0"}},
        "sentAt": "2026-11-23T10:00:00.000Z", "timestamp": "2026-11-23T10:00:00.000Z"});
    let (status, answer) = status_and_json(post_like_analytics_js(&app, "/v1/t", &body).await).await;
    assert_eq!((status, answer["accepted"].clone()), (StatusCode::OK, json!(1)), "{answer}");
    let batch =
        json!({"batch": [{"type": "page", "anonymousId": "ajs-anon-1", "name": "Home", "writeKey": app.write_key}]});
    assert_eq!(post_like_analytics_js(&app, "/v1/b", &batch).await.status(), StatusCode::OK);
    let customer = app.customer("anonymousId:ajs-anon-1").await;
    let timeline = app.timeline(customer["id"].as_str().unwrap()).await;
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline.iter().find(|entry| entry["type"] == "track").unwrap()["channel"], "web");
    assert!(!timeline.iter().any(|entry| entry.to_string().contains(&app.write_key)), "the key is not stored");

    let wrong = json!({"type": "track", "event": "x", "anonymousId": "a", "writeKey": "rpk_wrong"});
    let response = post_like_analytics_js(&app, "/v1/t", &wrong).await;
    crate::helpers::assert_error(response, StatusCode::UNAUTHORIZED, "invalid_api_key", &[]).await;
    let read_key = json!({"type": "track", "event": "x", "anonymousId": "a", "writeKey": app.read_key});
    let response = post_like_analytics_js(&app, "/v1/t", &read_key).await;
    crate::helpers::assert_error(response, StatusCode::FORBIDDEN, "forbidden", &[]).await;
}
