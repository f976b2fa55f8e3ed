use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};

pub async fn timeline_pages_through_every_event(app: TestApp) {
    let events: Vec<Value> = (0..120)
        .map(|n| {
            json!({"type": "track", "userId": "reader", "event": format!("e{n:03}"),
                        "timestamp": format!("2026-03-01T00:{:02}:{:02}Z", n / 60, n % 60)})
        })
        .collect();
    assert_eq!(app.send("/v1/batch", &json!({"batch": events})).await.status(), StatusCode::OK);
    let id = app.customer("userId:reader").await["id"].as_str().unwrap().to_owned();
    let mut names = Vec::new();
    let mut path = format!("/v1/customers/{id}/timeline?limit=50");
    let mut pages = 0;
    loop {
        let page = app.read(&path).await;
        pages += 1;
        names.extend(page["data"].as_array().unwrap().iter().map(|entry| entry["name"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/customers/{id}/timeline?limit=50&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..120).rev().map(|n| format!("e{n:03}")).collect();
    assert_eq!(names, expected);
    assert_eq!(
        app.read(&format!("/v1/customers/{id}/timeline")).await["data"].as_array().unwrap().len(),
        50,
        "default limit"
    );
}

pub async fn admins_undo_merges(app: TestApp) {
    // A shared kiosk browser was aliased to a user by mistake.
    let events = json!({"batch": [
        {"type": "page", "anonymousId": "kiosk-3", "name": "Catalogue", "messageId": "k1"},
        {"type": "identify", "userId": "sam", "traits": {"email": "sam@x.org"}, "messageId": "s1"},
        {"type": "alias", "userId": "sam", "previousId": "kiosk-3", "messageId": "s2"}
    ]});
    assert_eq!(app.send("/v1/batch", &events).await.status(), StatusCode::OK);
    let sam = app.customer("userId:sam").await;
    assert_eq!(app.customer("anonymousId:kiosk-3").await["id"], sam["id"]);
    let merges = app.read(&format!("/v1/customers/{}/merges", sam["id"].as_str().unwrap())).await;
    let merge = &merges["data"][0];
    assert_eq!((merge["outcome"].as_str(), merge["messageId"].as_str()), (Some("merged"), Some("s2")));
    assert_eq!(merge["viaIdentity"], "anonymousId:kiosk-3");
    assert_eq!(sam["mergedIds"].as_array().unwrap().len(), 1, "{sam}");
    let absorbed = sam["mergedIds"][0].as_str().unwrap().to_owned();
    assert_eq!(
        app.read(&format!("/v1/customers/{absorbed}")).await["id"],
        sam["id"],
        "old ids resolve to the customer"
    );

    let undo_path = format!("/v1/merges/{}/undo", merge["id"].as_str().unwrap());
    // Another workspace's admin cannot see, let alone undo, this merge.
    let globex = app.store.ensure_workspace("globex").await.unwrap();
    let (globex_admin, _) = app.store.create_api_key(&globex, rapport_core::auth::Role::Admin).await.unwrap();
    let foreign = app.client.post(app.url(&undo_path)).bearer_auth(&globex_admin).send().await.unwrap();
    assert_error(foreign, StatusCode::NOT_FOUND, "not_found", &[]).await;
    let (status, undone) =
        status_and_json(app.client.post(app.url(&undo_path)).bearer_auth(&app.admin_key).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert!(undone["merge"]["undoneAt"].is_string());
    let kiosk = app.customer("anonymousId:kiosk-3").await;
    assert_ne!(kiosk["id"], sam["id"]);
    assert_eq!(app.timeline(kiosk["id"].as_str().unwrap()).await.len(), 1);
    assert_eq!(app.timeline(sam["id"].as_str().unwrap()).await.len(), 2);

    let again = app.client.post(app.url(&undo_path)).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_error(again, StatusCode::CONFLICT, "conflict", &[]).await;
}

pub async fn workspaces_are_isolated(app: TestApp) {
    assert_eq!(
        app.send("/v1/identify", &json!({"userId": "vip", "traits": {"email": "vip@x.org"}})).await.status(),
        StatusCode::OK
    );
    let id = app.customer("userId:vip").await["id"].as_str().unwrap().to_owned();
    let globex = app.store.ensure_workspace("globex").await.unwrap();
    let (globex_key, _) = app.store.create_api_key(&globex, rapport_core::auth::Role::Admin).await.unwrap();
    for path in
        [format!("/v1/customers/{id}"), format!("/v1/customers/{id}/timeline"), format!("/v1/customers/{id}/merges")]
    {
        let response = app.client.get(app.url(&path)).bearer_auth(&globex_key).send().await.unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "not_found", &[]).await;
    }
    let search = app.client.get(app.url("/v1/customers")).query(&[("identity", "email:vip@x.org")]);
    let (_, body) = status_and_json(search.bearer_auth(&globex_key).send().await.unwrap()).await;
    assert_eq!(body["data"], json!([]));
}
