use rapport_store::Store;
use serde_json::json;

use crate::{ingest, workspace};

pub async fn resending_a_batch_stores_nothing_twice(store: Store) {
    let workspace = workspace(&store, "acme").await;
    let batch = [
        json!({"type": "track", "anonymousId": "a1", "event": "Viewed", "messageId": "m1"}),
        json!({"type": "identify", "anonymousId": "a1", "traits": {"email": "a@x.org"}, "messageId": "m2"}),
        json!({"type": "track", "anonymousId": "a1", "event": "Viewed", "messageId": "m1"}),
    ];
    let first = ingest(&store, &workspace, &batch).await;
    assert_eq!((first.accepted, first.duplicates), (2, 1), "a repeat inside one batch is a duplicate");
    let again = ingest(&store, &workspace, &batch).await;
    assert_eq!((again.accepted, again.duplicates), (0, 3));
    assert_eq!(store.count_events(&workspace).await.unwrap(), 2);
    let customer = store
        .customer_by_identity(&workspace, &rapport_core::identity::Identity::parse_typed("email:a@x.org").unwrap())
        .await
        .unwrap()
        .expect("the customer exists");
    let merges = store.merges_of(&workspace, &customer).await.unwrap().unwrap();
    assert!(merges.is_empty(), "resending caused no merge: {merges:?}");
}

pub async fn concurrent_batches_are_all_stored_once(store: Store) {
    let workspace = workspace(&store, "acme").await;
    let mut tasks = Vec::new();
    for client in 0..8 {
        let (store, workspace) = (store.clone(), workspace.clone());
        tasks.push(tokio::spawn(async move {
            for batch in 0..10 {
                // Every client also resends the previous client's first batch.
                let values: Vec<_> = (0..20)
                    .map(|n| {
                        json!({"type": "track", "anonymousId": format!("visitor-{}", n % 7), "event": "Clicked",
                                    "messageId": format!("c{client}-b{batch}-e{n}")})
                    })
                    .chain((0..20).map(|n| {
                        json!({"type": "track", "anonymousId": "overlap", "event": "Clicked",
                                    "messageId": format!("c{}-b0-e{n}", (client + 1) % 8)})
                    }))
                    .collect();
                ingest(&store, &workspace, &values).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.count_events(&workspace).await.unwrap(), 8 * 10 * 20);
    let ids = store.message_ids(&workspace).await.unwrap();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}

pub async fn events_keep_every_field(store: Store) {
    let workspace = workspace(&store, "acme").await;
    ingest(
        &store,
        &workspace,
        &[json!({"type": "track", "userId": "u1", "event": "Order Completed", "messageId": "m1",
                 "properties": {"total": 30.5, "items": [{"sku": "A"}]}, "context": {"channel": "store"},
                 "timestamp": "2026-03-01T10:00:00Z", "integrations": {"All": false}})],
    )
    .await;
    let customer = store
        .customer_by_identity(&workspace, &rapport_core::identity::Identity::user_id("u1").unwrap())
        .await
        .unwrap()
        .unwrap();
    let page = store.timeline(&workspace, &customer, None, 10).await.unwrap().unwrap();
    let entry = &page.entries[0];
    assert_eq!(entry.name.as_deref(), Some("Order Completed"));
    assert_eq!(entry.channel, "store");
    assert_eq!(entry.properties, json!({"total": 30.5, "items": [{"sku": "A"}]}));
    assert_eq!(entry.timestamp_ms, 1_772_359_200_000);
}

/// A workspace's events read back whole, in the order they were stored, page by page (exports).
pub async fn events_read_back_whole_in_order(store: Store) {
    let acme = workspace(&store, "acme").await;
    let other = workspace(&store, "other").await;
    let mut batch: Vec<serde_json::Value> = (0..7)
        .map(|i| {
            json!({"type": "track", "userId": "u1", "event": format!("E{i}"), "messageId": format!("m{i}"),
            "properties": {"i": i}, "context": {"channel": "mobile"}, "integrations": {"All": true}})
        })
        .collect();
    batch.push(json!({"type": "alias", "userId": "u1", "previousId": "a9", "messageId": "alias"}));
    ingest(&store, &acme, &batch).await;
    ingest(&store, &other, &batch[..2]).await;
    let mut read = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_after(&acme, after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 3);
        after = last.seq;
        read.extend(page);
    }
    // One batch is one insert: PostgreSQL stores its events in message-id order, SQLite in the
    // batch's; every event comes back once either way, in sequence order.
    let mut ids: Vec<&str> = read.iter().map(|e| e.message_id.as_str()).collect();
    assert!(read.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    ids.sort();
    assert_eq!(ids, ["alias", "m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
    let third = read.iter().find(|e| e.message_id == "m2").unwrap();
    assert_eq!(
        (third.event_type.as_str(), third.name.as_deref(), third.channel.as_str()),
        ("track", Some("E2"), "mobile")
    );
    assert_eq!(third.properties, json!({"i": 2}));
    assert_eq!(third.extra["integrations"], json!({"All": true}));
    let alias = read.iter().find(|e| e.message_id == "alias").unwrap();
    assert_eq!(alias.previous_id.as_deref(), Some("a9"));
}
