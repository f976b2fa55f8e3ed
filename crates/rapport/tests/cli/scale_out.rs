//! Several `rapport serve` processes on one PostgreSQL database: no duplicate, no lost event,
//! and one customer per person even when both processes see the same person at once.

use std::collections::HashSet;

use rapport_core::auth::Role;
use rapport_core::identity::Identity;
use rapport_store::testing::TestDatabase;
use serde_json::{Value, json};

use crate::process::Server;

const CLIENTS: usize = 4;
const BATCHES_PER_CLIENT: usize = 15;
const PEOPLE: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_postgres() {
    let database = TestDatabase::postgres().await;
    let store = database.connect().await;
    let workspace = store.ensure_workspace("acme").await.unwrap();
    let (key, _) = store.create_api_key(&workspace, Role::Write).await.unwrap();

    let directory = tempfile::tempdir().unwrap();
    let keys = database.write_keys(directory.path());
    let first = Server::start(directory.path(), &["--database-url", database.url(), "--keys-file", &keys]);
    let second = Server::start(directory.path(), &["--database-url", database.url(), "--keys-file", &keys]);
    let urls = [first.url("/v1/batch"), second.url("/v1/batch")];

    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (urls, key) = (urls.clone(), key.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut sent = Vec::new();
            for batch in 0..BATCHES_PER_CLIENT {
                let events: Vec<Value> = (0..50)
                    .map(|n| {
                        let person = (client * 7 + batch * 3 + n) % PEOPLE;
                        let id = format!("c{client}-b{batch}-e{n}");
                        sent.push(id.clone());
                        // Each person appears anonymously, by e-mail and by user id, on both processes.
                        match n % 3 {
                            0 => json!({"type": "track", "anonymousId": format!("anon-{person}"), "event": "Viewed", "messageId": id}),
                            1 => json!({"type": "identify", "anonymousId": format!("anon-{person}"), "messageId": id,
                                        "traits": {"email": format!("p{person}@x.org")}}),
                            _ => json!({"type": "identify", "userId": format!("user-{person}"), "messageId": id,
                                        "traits": {"email": format!("p{person}@x.org")}}),
                        }
                    })
                    .collect();
                let body = json!({"batch": events});
                // The same batch to both processes at once: a retry that landed twice.
                let (left, right) = futures::join!(
                    http.post(&urls[0]).bearer_auth(&key).json(&body).send(),
                    http.post(&urls[1]).bearer_auth(&key).json(&body).send()
                );
                let (left, right) = (left.unwrap(), right.unwrap());
                assert!(left.status().is_success() && right.status().is_success());
                let (left, right): (Value, Value) = (left.json().await.unwrap(), right.json().await.unwrap());
                let accepted = left["accepted"].as_u64().unwrap() + right["accepted"].as_u64().unwrap();
                assert_eq!(accepted, 50, "each event stored by exactly one process: {left} {right}");
            }
            sent
        }));
    }
    let mut sent = HashSet::new();
    for client in clients {
        sent.extend(client.await.unwrap());
    }

    let stored = store.message_ids(&workspace.id).await.unwrap();
    assert_eq!(stored.len(), sent.len(), "no duplicate, no loss");
    assert_eq!(stored.into_iter().collect::<HashSet<_>>(), sent);
    for person in 0..PEOPLE {
        let lookup = |typed: String| {
            let (store, workspace) = (store.clone(), workspace.id.clone());
            async move { store.customer_by_identity(&workspace, &Identity::parse_typed(&typed).unwrap()).await.unwrap() }
        };
        let by_user = lookup(format!("userId:user-{person}")).await;
        assert!(by_user.is_some(), "person {person}");
        assert_eq!(lookup(format!("email:p{person}@x.org")).await, by_user, "person {person}");
        assert_eq!(lookup(format!("anonymousId:anon-{person}")).await, by_user, "person {person}");
    }
    drop((first, second));
}
