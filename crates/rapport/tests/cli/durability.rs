//! A `200` means committed: events acknowledged before a SIGKILL are all there after it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rapport_core::auth::Role;
use rapport_store::BackendKind;
use rapport_store::testing::TestDatabase;
use serde_json::{Value, json};

use crate::process::Server;

const CLIENTS: usize = 4;
const EVENTS_PER_BATCH: usize = 100;

async fn acknowledged_events_survive_sigkill(kind: BackendKind) {
    let database = TestDatabase::create(kind).await;
    let store = database.connect().await;
    let workspace = store.ensure_workspace("acme").await.unwrap();
    let (key, _) = store.create_api_key(&workspace, Role::Write).await.unwrap();
    store.close().await;
    drop(store);

    let directory = tempfile::tempdir().unwrap();
    let keys = database.write_keys(directory.path());
    let server = Server::start(directory.path(), &["--database-url", database.url(), "--keys-file", &keys]);
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (url, key, acknowledged) = (server.url("/v1/batch"), key.clone(), acknowledged.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for batch in 0.. {
                let ids: Vec<String> = (0..EVENTS_PER_BATCH).map(|n| format!("c{client}-b{batch}-e{n}")).collect();
                let events: Vec<Value> = ids
                    .iter()
                    .enumerate()
                    .map(|(n, id)| {
                        json!({"type": if n % 10 == 0 { "identify" } else { "track" }, "event": "Clicked",
                               "anonymousId": format!("visitor-{}", n % 17), "messageId": id,
                               "context": {"traits": {"email": format!("v{}@x.org", n % 17)}}})
                    })
                    .collect();
                match http.post(&url).bearer_auth(&key).json(&json!({"batch": events})).send().await {
                    Ok(response) if response.status().is_success() => acknowledged.lock().unwrap().extend(ids),
                    _ => return,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 3_000 {
        assert!(Instant::now() < deadline, "ingestion too slow to test");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let store = database.connect().await;
    let stored: HashSet<String> = store.message_ids(&workspace.id).await.unwrap().into_iter().collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events lost, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
    // Identity resolution committed with its events: every visitor is one customer with their e-mail.
    for n in 0..17 {
        let by_anonymous = rapport_core::identity::Identity::anonymous_id(&format!("visitor-{n}")).unwrap();
        let by_email = rapport_core::identity::Identity::parse_typed(&format!("email:v{n}@x.org")).unwrap();
        let customer = store.customer_by_identity(&workspace.id, &by_anonymous).await.unwrap();
        assert!(customer.is_some());
        assert_eq!(customer, store.customer_by_identity(&workspace.id, &by_email).await.unwrap());
    }
    store.close().await;

    // And the server starts again on the same data.
    let restarted = Server::start(directory.path(), &["--database-url", database.url(), "--keys-file", &keys]);
    let ready = reqwest::get(restarted.url("/readyz")).await.unwrap();
    assert!(ready.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_events_survive_sigkill() {
    acknowledged_events_survive_sigkill(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_events_survive_sigkill() {
    acknowledged_events_survive_sigkill(BackendKind::Postgres).await;
}
