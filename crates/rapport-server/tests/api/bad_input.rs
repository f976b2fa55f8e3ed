use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};

pub async fn invalid_events_are_named_by_index_and_field(app: TestApp) {
    let batch = json!({"batch": [
        {"type": "track", "userId": "u", "event": "Fine"},
        {"type": "track", "userId": "u"},
        {"type": "identify", "userId": "u", "traits": "not-an-object"},
        {"type": "track", "event": "Anonymous"},
        {"type": "page", "anonymousId": "a", "timestamp": "last tuesday"},
        {"type": "launch", "userId": "u"},
    ]});
    let body = assert_error(
        app.send("/v1/batch", &batch).await,
        StatusCode::BAD_REQUEST,
        "invalid_event",
        &[(Some(1), "event"), (Some(2), "traits"), (Some(3), "userId"), (Some(4), "timestamp"), (Some(5), "type")],
    )
    .await;
    assert_eq!(body["error"]["message"], "5 of 6 events are invalid; nothing was stored");
    let workspace = app.store.workspace_by_name("acme").await.unwrap().unwrap();
    assert_eq!(app.store.count_events(&workspace.id).await.unwrap(), 0, "a batch is all or nothing");

    assert_error(
        app.send("/v1/group", &json!({"userId": "u"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_event",
        &[(Some(0), "groupId")],
    )
    .await;
    assert_error(
        app.send("/v1/track", &json!({"type": "identify", "userId": "u", "event": "x"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_event",
        &[(Some(0), "type")],
    )
    .await;
    assert_error(
        app.send("/v1/batch", &json!({"events": []})).await,
        StatusCode::BAD_REQUEST,
        "invalid_event",
        &[(None, "batch")],
    )
    .await;
    assert_error(
        app.send("/v1/batch", &json!({"batch": [{"type": "track", "userId": "u", "event": "x"}], "sentAt": 5})).await,
        StatusCode::BAD_REQUEST,
        "invalid_event",
        &[(None, "sentAt")],
    )
    .await;
    assert_error(
        app.send("/v1/track", &json!({"userId": "u", "event": "x", "properties": {"note": "nul\u{0}byte"}})).await,
        StatusCode::BAD_REQUEST,
        "invalid_event",
        &[(Some(0), "properties.note")],
    )
    .await;
    let malformed =
        app.client.post(app.url("/v1/track")).bearer_auth(&app.write_key).header("content-type", "application/json");
    assert_error(malformed.body("{\"userId\": ").send().await.unwrap(), StatusCode::BAD_REQUEST, "malformed_json", &[])
        .await;

    // A trait that cannot be an identity is kept, reported, and not linked.
    let response =
        app.send("/v1/identify", &json!({"userId": "w", "traits": {"email": "not-an-email", "phone": "12345"}})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let warned: Vec<&str> = body["warnings"].as_array().unwrap().iter().map(|w| w["field"].as_str().unwrap()).collect();
    assert_eq!(warned, ["traits.email", "traits.phone"]);
    let customer = app.customer("userId:w").await;
    assert_eq!(customer["traits"]["email"]["value"], "not-an-email");
    assert_eq!(customer["identities"].as_array().unwrap().len(), 1);
}

pub async fn keys_are_required_and_roles_enforced(app: TestApp) {
    let event = json!({"userId": "u", "event": "x"});
    let anonymous = app.client.post(app.url("/v1/track")).json(&event).send().await.unwrap();
    assert!(anonymous.headers().get("www-authenticate").is_some());
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "missing_api_key", &[]).await;
    assert_error(
        app.post("/v1/track", "rpk_not_a_key", &event).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        &[],
    )
    .await;
    let garbage_basic = app.client.post(app.url("/v1/track")).header("authorization", "Basic !!!").json(&event);
    assert_error(garbage_basic.send().await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_api_key", &[]).await;
    assert_error(
        app.post("/v1/track", &app.read_key, &event).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
        &[],
    )
    .await;
    assert_eq!(app.post("/v1/track", &app.admin_key, &event).send().await.unwrap().status(), StatusCode::OK);

    let customer = app.customer("userId:u").await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    let as_writer = app.client.get(app.url(&path)).bearer_auth(&app.write_key).send().await.unwrap();
    assert_error(as_writer, StatusCode::FORBIDDEN, "forbidden", &[]).await;
    let undo_as_reader = app.client.post(app.url("/v1/merges/x/undo")).bearer_auth(&app.read_key).send().await.unwrap();
    assert_error(undo_as_reader, StatusCode::FORBIDDEN, "forbidden", &[]).await;
    let key_as_writer = app.post("/v1/keys", &app.write_key, &json!({"role": "admin"})).send().await.unwrap();
    assert_error(key_as_writer, StatusCode::FORBIDDEN, "forbidden", &[]).await;
}

pub async fn oversized_and_non_json_bodies_are_refused(app: TestApp) {
    let big = "x".repeat(33 * 1024);
    let response = app.send("/v1/track", &json!({"userId": "u", "event": "x", "properties": {"blob": big}})).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &[]).await;

    let mut events: Vec<Value> =
        (0..3).map(|n| json!({"type": "track", "userId": "u", "event": format!("e{n}")})).collect();
    events[2]["properties"] = json!({"blob": big});
    let response = app.send("/v1/batch", &json!({"batch": events})).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &[(Some(2), "")]).await;

    // 160 events of 30 KB each: every event is within its limit, the batch is over 4 MB.
    let chunk = "y".repeat(30 * 1024);
    let events: Vec<Value> = (0..160)
        .map(|n| json!({"type": "track", "userId": "u", "event": format!("e{n}"), "properties": {"p": chunk}}))
        .collect();
    let response = app.send("/v1/batch", &json!({"batch": events})).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &[]).await;

    let form =
        app.client.post(app.url("/v1/track")).bearer_auth(&app.write_key).form(&[("userId", "u"), ("event", "x")]);
    assert_error(form.send().await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", &[]).await;
    let no_type =
        app.client.post(app.url("/v1/track")).bearer_auth(&app.write_key).body("{\"userId\":\"u\",\"event\":\"x\"}");
    assert_error(no_type.send().await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", &[])
        .await;
    let plain_text =
        app.client.post(app.url("/v1/track")).bearer_auth(&app.write_key).header("content-type", "text/plain");
    assert_error(
        plain_text.body("hello").send().await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        &[],
    )
    .await;
    // analytics.js sends JSON as text/plain with sendBeacon: that is JSON, and accepted.
    let beacon = app.client.post(app.url("/v1/track")).bearer_auth(&app.write_key).header("content-type", "text/plain");
    assert_eq!(beacon.body("{\"userId\":\"u\",\"event\":\"beacon\"}").send().await.unwrap().status(), StatusCode::OK);
}

pub async fn bad_parameters_are_named(app: TestApp) {
    let get = |path: &str| app.client.get(app.url(path)).bearer_auth(&app.read_key).send();
    assert_error(
        get("/v1/customers").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "identity")],
    )
    .await;
    assert_error(
        get("/v1/customers?identity=fax:123").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "identity")],
    )
    .await;
    assert_error(
        get("/v1/customers?identity=phone:12").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "identity")],
    )
    .await;
    assert_error(get("/v1/customers/nobody").await.unwrap(), StatusCode::NOT_FOUND, "not_found", &[]).await;
    assert_error(get("/v1/customers/nobody/timeline").await.unwrap(), StatusCode::NOT_FOUND, "not_found", &[]).await;
    assert_eq!(app.send("/v1/track", &json!({"userId": "u", "event": "x"})).await.status(), StatusCode::OK);
    let id = app.customer("userId:u").await["id"].as_str().unwrap().to_owned();
    for bad in ["limit=0", "limit=501", "limit=ten", "cursor=garbage"] {
        let field = bad.split('=').next().unwrap();
        let response = get(&format!("/v1/customers/{id}/timeline?{bad}")).await.unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, field)]).await;
    }
    assert_error(get("/v2/anything").await.unwrap(), StatusCode::NOT_FOUND, "not_found", &[]).await;
    let delete = app.client.delete(app.url("/v1/track")).send().await.unwrap();
    assert_error(delete, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", &[]).await;
    let unknown_merge =
        app.client.post(app.url("/v1/merges/nope/undo")).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_error(unknown_merge, StatusCode::NOT_FOUND, "not_found", &[]).await;
    let bad_role = app.post("/v1/keys", &app.admin_key, &json!({"role": "owner"})).send().await.unwrap();
    assert_error(bad_role, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "role")]).await;
}
