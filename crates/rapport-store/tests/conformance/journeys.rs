//! Journeys' storage: definitions, and the events analytics read with their customer.

use rapport_store::Store;
use serde_json::json;

use crate::{ingest, workspace};

pub async fn journey_definitions_and_touchpoint_events(store: Store) {
    let workspace = workspace(&store, "journeys").await;
    let other = crate::workspace(&store, "other").await;
    let first = store.create_journey(&workspace, &json!({"name": "Purchase"})).await.unwrap();
    let second = store.create_journey(&workspace, &json!({"name": "Support"})).await.unwrap();
    let all = store.journeys(&workspace, None).await.unwrap();
    assert_eq!(all.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), [first.as_str(), second.as_str()]);
    assert!(store.put_journey(&workspace, &first, &json!({"name": "Buying"})).await.unwrap());
    assert!(!store.put_journey(&other, &first, &json!({"name": "x"})).await.unwrap(), "another workspace's journey");
    let one = store.journeys(&workspace, Some(&first)).await.unwrap();
    assert_eq!(one[0].definition["name"], "Buying");
    assert!(one[0].updated_at_ms >= one[0].created_at_ms);
    assert!(store.journeys(&other, Some(&first)).await.unwrap().is_empty());
    assert!(store.delete_journey(&workspace, &second).await.unwrap());
    assert!(!store.delete_journey(&workspace, &second).await.unwrap());

    let before = store.journey_stamp(&workspace).await.unwrap();
    ingest(
        &store,
        &workspace,
        &[
            json!({"type": "track", "anonymousId": "a1", "event": "Checkout Started", "properties": {"step": 1},
                   "context": {"channel": "mobile"}, "timestamp": "2026-01-01T00:00:00Z", "messageId": "m1"}),
            // u1 is known on its own before the identify links the two: a merge.
            json!({"type": "track", "userId": "u1", "event": "Signed In", "timestamp": "2026-01-01T00:00:30Z", "messageId": "m0"}),
            json!({"type": "identify", "userId": "u1", "anonymousId": "a1", "timestamp": "2026-01-01T00:01:00Z", "messageId": "m2"}),
            json!({"type": "track", "userId": "u1", "event": "Order Completed", "timestamp": "2026-01-01T00:02:00Z", "messageId": "m3"}),
            json!({"type": "track", "userId": "u1", "event": "Signed In", "timestamp": "2026-01-01T00:03:00Z", "messageId": "m4"}),
            json!({"type": "page", "userId": "u2", "name": "Checkout Started", "timestamp": "2026-01-01T00:04:00Z", "messageId": "m5"}),
        ],
    )
    .await;
    ingest(&store, &other, &[json!({"type": "track", "userId": "u1", "event": "Order Completed", "messageId": "m1"})])
        .await;
    let after = store.journey_stamp(&workspace).await.unwrap();
    assert!(after.0 > before.0, "new events change the stamp");
    let everything = (0, after.0);

    let names = vec!["Checkout Started".to_owned(), "Order Completed".to_owned()];
    let mut events = Vec::new();
    store.each_touchpoint_event(&workspace, &names, true, everything, |event| events.push(event)).await.unwrap();
    events.sort_by_key(|event| event.timestamp_ms);
    let seen: Vec<(&str, &str)> = events.iter().map(|e| (e.name.as_str(), e.channel.as_str())).collect();
    assert_eq!(seen, [("Checkout Started", "mobile"), ("Order Completed", "unknown"), ("Checkout Started", "web")]);
    assert_eq!(events[0].customer_id, events[1].customer_id, "the anonymous checkout is the same customer's");
    assert_ne!(events[0].customer_id, events[2].customer_id);
    let properties: serde_json::Value = serde_json::from_str(events[0].properties.as_deref().unwrap()).unwrap();
    assert_eq!(properties["step"], 1);
    let mut bare = Vec::new();
    store
        .each_touchpoint_event(&workspace, &names, false, (before.0, after.0), |event| bare.push(event))
        .await
        .unwrap();
    assert!(bare.len() == 3 && bare.iter().all(|e| e.properties.is_none()));

    // What the events in a range merged: the anonymous visitor and the user are one customer now.
    let nodes = store.nodes_under_roots_of_events(&workspace, (before.0, after.0)).await.unwrap();
    let root = &events[0].customer_id;
    assert!(nodes.iter().filter(|(_, r)| r == root).count() >= 2, "{nodes:?}");
    assert!(nodes.iter().any(|(node, r)| node != r && r == root), "the absorbed node is there: {nodes:?}");
    let keys = vec!["anonymousId:a1".to_owned(), "userId:u1".to_owned(), "email:nobody@example.com".to_owned()];
    let roots = store.roots_of_identities(&workspace, keys).await.unwrap();
    assert_eq!(roots.len(), 2);
    assert!(roots.iter().all(|(_, r)| r == root));

    // A later range holds only what came later.
    ingest(
        &store,
        &workspace,
        &[json!({"type": "track", "userId": "u3", "event": "Order Completed", "messageId": "m9"})],
    )
    .await;
    let later = store.journey_stamp(&workspace).await.unwrap();
    let mut newer = Vec::new();
    store
        .each_touchpoint_event(&workspace, &names, false, (after.0, later.0), |event| newer.push(event))
        .await
        .unwrap();
    assert_eq!(newer.len(), 1);
    assert_eq!(store.nodes_under_roots_of_events(&workspace, (after.0, later.0)).await.unwrap().len(), 1);
}
