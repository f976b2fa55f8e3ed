use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, assert_error, status_and_json};

pub async fn health_metrics_and_openapi(app: TestApp) {
    let (status, health) = status_and_json(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, ready) = status_and_json(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((status, ready["status"].as_str()), (StatusCode::OK, Some("ready")));
    // SQLite's answer indexes are built in the background at start; PostgreSQL has none.
    let expected = if app.store.kind() == rapport_store::BackendKind::Sqlite { "built" } else { "not used" };
    let mut indexes = ready["answerIndexes"].as_str().unwrap().to_owned();
    for _ in 0..100 {
        if indexes == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let (_, ready) = status_and_json(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
        indexes = ready["answerIndexes"].as_str().unwrap().to_owned();
    }
    assert_eq!(indexes, expected);
    // The caches a server builds at start say when they are done.
    let mut caches = String::new();
    for _ in 0..100 {
        let (_, ready) = status_and_json(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
        caches = ready["caches"].as_str().unwrap().to_owned();
        if caches == "warm" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(caches, "warm");

    assert_eq!(app.send("/v1/track", &json!({"userId": "u", "event": "x"})).await.status(), StatusCode::OK);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("rapport_http_requests_total{method=\"POST\",path=\"/v1/track\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("rapport_events_accepted_total"), "{metrics}");

    let (status, openapi) = status_and_json(app.client.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3.1"));
    let documented: BTreeSet<String> = openapi["paths"].as_object().unwrap().keys().cloned().collect();
    let served = [
        "/v1/track",
        "/v1/identify",
        "/v1/page",
        "/v1/screen",
        "/v1/group",
        "/v1/alias",
        "/v1/batch",
        "/v1/customers",
        "/v1/customers/{id}",
        "/v1/customers/{id}/timeline",
        "/v1/customers/{id}/merges",
        "/v1/merges/{id}/undo",
        "/v1/keys",
        "/v1/surveys",
        "/v1/surveys/{id}",
        "/v1/surveys/{id}/responses",
        "/v1/surveys/{id}/invitations",
        "/v1/surveys/{id}/dry-run",
        "/v1/metrics/{metric}",
        "/v1/metrics/{metric}/compare",
        "/v1/metrics/settings",
        "/v1/contact-policy",
        "/v1/feedback",
        "/v1/feedback/{id}",
        "/v1/feedback/taxonomy",
        "/v1/feedback/settings",
        "/v1/feedback/topics",
        "/v1/feedback/themes",
        "/v1/alerts",
        "/v1/alerts/evaluate",
        "/v1/domain-events",
        "/v1/webhooks",
        "/v1/cases",
        "/v1/cases/{id}",
        "/v1/cases/{id}/transition",
        "/v1/cases/{id}/notes",
        "/v1/cases/settings",
        "/v1/cases/check-sla",
        "/v1/cases/recovery",
        "/v1/analysis/root-causes",
        "/v1/analysis/drivers",
        "/v1/action-plans",
        "/v1/action-plans/{id}",
        "/v1/churn/settings",
        "/v1/churn/train",
        "/v1/churn/model",
        "/v1/predictions",
        "/v1/predictions/refresh",
        "/v1/customers/{id}/prediction",
        "/v1/accounts/health",
        "/v1/clv",
        "/v1/journeys",
        "/v1/journeys/{id}",
        "/v1/journeys/{id}/analytics",
        "/v1/journeys/{id}/map.svg",
        "/v1/webhooks/{id}",
        "/v1/webhooks/{id}/enable",
        "/v1/webhooks/{id}/disable",
        "/v1/webhooks/{id}/deliveries",
        "/v1/webhooks/{id}/deliveries/{delivery}/replay",
        "/v1/users",
        "/v1/users/{id}",
        "/v1/audit",
        "/v1/audit/verify",
        "/v1/consent",
        "/v1/customers/{id}/consent",
        "/v1/privacy/export",
        "/v1/privacy/erase",
        "/v1/privacy/settings",
        "/v1/privacy/retention/run",
        "/v1/widget/eligibility",
        "/v1/widget/answers/{token}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ];
    let served: BTreeSet<String> = served.iter().map(|path| (*path).to_owned()).collect();
    assert_eq!(documented, served);
    // The analytics.js aliases (/v1/t…) are described in the document's text, not as paths.
    let description = openapi["info"]["description"].as_str().unwrap();
    assert!(
        ["/v1/t", "/v1/i", "/v1/p", "/v1/s", "/v1/g", "/v1/a", "/v1/b", "writeKey"]
            .iter()
            .all(|alias| description.contains(alias))
    );
    assert!(openapi["paths"]["/v1/batch"]["post"]["responses"]["413"].is_object());

    // A graceful stop finishes: the server task returns without error.
    app.stop().await;
}

pub async fn the_master_key_manages_workspaces_and_keys(app: TestApp) {
    let (status, created) = status_and_json(
        app.post("/v1/keys", ADMIN_KEY, &json!({"workspace": "initech", "role": "write"})).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let initech_writer = created["key"].as_str().unwrap().to_owned();
    assert_eq!((created["workspace"].as_str(), created["role"].as_str()), (Some("initech"), Some("write")));
    let event = json!({"userId": "milton", "event": "Stapler Requested"});
    assert_eq!(app.post("/v1/track", &initech_writer, &event).send().await.unwrap().status(), StatusCode::OK);

    // The master key reads in the workspace its header names, and needs the header to do so.
    let search = |key: &str, workspace: Option<&str>| {
        let mut request =
            app.client.get(app.url("/v1/customers")).query(&[("identity", "userId:milton")]).bearer_auth(key);
        if let Some(workspace) = workspace {
            request = request.header("x-rapport-workspace", workspace);
        }
        request.send()
    };
    let (_, found) = status_and_json(search(ADMIN_KEY, Some("initech")).await.unwrap()).await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    let (_, elsewhere) = status_and_json(search(ADMIN_KEY, Some("acme")).await.unwrap()).await;
    assert_eq!(elsewhere["data"], json!([]));
    assert_error(
        search(ADMIN_KEY, None).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        &[(None, "x-rapport-workspace")],
    )
    .await;
    assert_error(search(ADMIN_KEY, Some("nope")).await.unwrap(), StatusCode::NOT_FOUND, "not_found", &[]).await;

    let missing_workspace = app.post("/v1/keys", ADMIN_KEY, &json!({"role": "read"})).send().await.unwrap();
    assert_error(missing_workspace, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "workspace")]).await;
    let bad_name =
        app.post("/v1/keys", ADMIN_KEY, &json!({"role": "read", "workspace": "no spaces"})).send().await.unwrap();
    assert_error(bad_name, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "workspace")]).await;
    // A workspace admin creates keys in its own workspace only.
    let (status, own) =
        status_and_json(app.post("/v1/keys", &app.admin_key, &json!({"role": "read"})).send().await.unwrap()).await;
    assert_eq!((status, own["workspace"].as_str()), (StatusCode::CREATED, Some("acme")));
    let other =
        app.post("/v1/keys", &app.admin_key, &json!({"role": "read", "workspace": "initech"})).send().await.unwrap();
    assert_error(other, StatusCode::FORBIDDEN, "forbidden", &[]).await;
    let unknown_field =
        app.post("/v1/keys", &app.admin_key, &json!({"role": "read", "scope": "all"})).send().await.unwrap();
    let (status, body): (StatusCode, Value) = status_and_json(unknown_field).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_parameter")),
        "{body}"
    );
}
