//! Trust over HTTP: users through the API, the audit log and its tamper detection, and
//! isolation: every route of the router, called with workspace A's admin key against workspace
//! B's records, answers 404 (or, for lists, shows none of B).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};

async fn call(app: &TestApp, key: &str, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, String) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

pub async fn users_through_the_api(app: TestApp) {
    let created =
        app.post("/v1/users", &app.admin_key, &json!({"email": "Ana@Acme.test", "role": "analyst", "name": "Ana"}));
    let (status, created) = status_and_json(created.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["user"]["email"], "ana@acme.test");
    assert_eq!(created["password"].as_str().unwrap().len(), 20, "a password Rapport made, shown once");
    assert!(created["user"].get("passwordHash").is_none() && !created.to_string().contains("argon2"));
    let id = created["user"]["id"].as_str().unwrap().to_owned();

    let bad = app.post("/v1/users", &app.admin_key, &json!({"email": "nope", "role": "owner", "password": "short"}));
    assert_error(
        bad.send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_user",
        &[(None, "email"), (None, "role"), (None, "password")],
    )
    .await;
    let taken = app.post("/v1/users", &app.admin_key, &json!({"email": "ana@acme.test", "role": "viewer"}));
    assert_error(taken.send().await.unwrap(), StatusCode::CONFLICT, "conflict", &[(None, "email")]).await;
    let chosen = app.post(
        "/v1/users",
        &app.admin_key,
        &json!({"email": "bo@acme.test", "role": "agent", "password": "correct horse battery"}),
    );
    let (status, chosen) = status_and_json(chosen.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(chosen.get("password").is_none(), "a chosen password is not echoed");
    assert_eq!(app.sign_in_form("bo@acme.test", "correct horse battery", "").await.status(), StatusCode::SEE_OTHER);

    // Only admins manage users; the refusal says who may.
    let (status, body) = call(&app, &app.read_key, Method::GET, "/v1/users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("the read key may not administer; that needs the admin key"), "{body}");
    let listed = app.client.get(app.url("/v1/users")).bearer_auth(&app.admin_key).send().await.unwrap();
    let (_, listed) = status_and_json(listed).await;
    let emails: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["ana@acme.test", "bo@acme.test"]);

    let change = |body: Value| {
        app.client.put(app.url(&format!("/v1/users/{id}"))).bearer_auth(&app.admin_key).json(&body).send()
    };
    let (status, changed) = status_and_json(change(json!({"role": "viewer", "name": "Ana B."})).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!((changed["role"].as_str(), changed["name"].as_str()), (Some("viewer"), Some("Ana B.")));
    assert_error(
        change(json!({"email": "x@y.z"})).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_user",
        &[(None, "email")],
    )
    .await;
    let missing =
        app.client.put(app.url("/v1/users/nope")).bearer_auth(&app.admin_key).json(&json!({"role": "viewer"}));
    assert_eq!(missing.send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // Keys never carry a person's role.
    let agent_key = app.post("/v1/keys", &app.admin_key, &json!({"role": "agent"})).send().await.unwrap();
    assert_error(agent_key, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "role")]).await;
    let keys = app.client.get(app.url("/v1/keys")).bearer_auth(&app.admin_key).send().await.unwrap();
    let (_, keys) = status_and_json(keys).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 3, "{keys}");
    assert!(!keys.to_string().contains(&app.admin_key), "keys are never shown again");

    // An admin cannot lock themselves out from the dashboard.
    let password = app.create_user("root@acme.test", "admin").await;
    let root = app.session("root@acme.test", &password).await;
    let users = app.store.users(&app.store.workspace_by_name("acme").await.unwrap().unwrap().id, None).await.unwrap();
    let me = users.iter().find(|u| u.email == "root@acme.test").unwrap();
    let refused = root.post(&format!("/settings/users/{}", me.id), &[("action", "disable")]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(refused.text().await.unwrap().contains("cannot disable yourself"));
}

pub async fn the_audit_log_detects_tampering(app: TestApp) {
    for email in ["a@acme.test", "b@acme.test", "c@acme.test"] {
        app.create_user(email, "viewer").await;
    }
    let entries = app.client.get(app.url("/v1/audit?limit=2")).bearer_auth(&app.admin_key).send().await.unwrap();
    let (_, page) = status_and_json(entries).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["next"], 2);
    assert_eq!(page["data"][0]["actor"], format!("key:{}", &app.admin_key[..10]));
    assert_eq!(
        (page["data"][0]["action"].as_str(), page["data"][0]["target"].as_str()),
        (Some("user.created"), Some("user:a@acme.test"))
    );
    let rest = app.client.get(app.url("/v1/audit?after=2")).bearer_auth(&app.admin_key).send().await.unwrap();
    let (_, rest) = status_and_json(rest).await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next"], Value::Null);
    let bad = app.client.get(app.url("/v1/audit?after=soon")).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "after")]).await;
    let (status, _) = call(&app, &app.read_key, Method::GET, "/v1/audit", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let verify = || app.client.get(app.url("/v1/audit/verify")).bearer_auth(&app.admin_key).send();
    let (_, intact) = status_and_json(verify().await.unwrap()).await;
    assert_eq!((intact["intact"].as_bool(), intact["entries"].as_u64()), (Some(true), Some(3)), "{intact}");
    assert_eq!(intact["head"], rest["data"][0]["hash"]);

    // Entries cannot be changed in place…
    let database = app.database();
    let changed = database.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2").await;
    assert!(changed.unwrap_err().contains("append-only"));
    // …and one rewritten behind Rapport's back (deleted and written again) is found.
    let rewritten = "INSERT INTO audit_log (workspace_id, seq, at, actor, action, target, detail, prev_hash, hash) \
        SELECT workspace_id, 4, at, 'mallory', action, target, detail, prev_hash, hash FROM audit_log WHERE seq = 2";
    database.execute(rewritten).await.unwrap();
    database.execute("DELETE FROM audit_log WHERE seq = 2").await.unwrap();
    database.execute("UPDATE audit_log SET seq = 2 WHERE seq = 4").await.unwrap_err();
    let renumbered = "INSERT INTO audit_log (workspace_id, seq, at, actor, action, target, detail, prev_hash, hash) \
        SELECT workspace_id, 2, at, actor, action, target, detail, prev_hash, hash FROM audit_log WHERE seq = 4";
    database.execute(renumbered).await.unwrap();
    database.execute("DELETE FROM audit_log WHERE seq = 4").await.unwrap();
    let (_, broken) = status_and_json(verify().await.unwrap()).await;
    assert_eq!(broken["intact"], false, "{broken}");
    assert_eq!((broken["broken"]["seq"].as_u64(), broken["entries"].as_u64()), (Some(2), Some(1)), "{broken}");
    assert!(broken["broken"]["problem"].as_str().unwrap().contains("do not match its hash"), "{broken}");
}

/// The records of workspace B, made with B's own key.
struct Other {
    key: String,
    ids: Vec<(&'static str, String)>,
}

impl Other {
    fn id(&self, name: &str) -> &str {
        &self.ids.iter().find(|(n, _)| *n == name).unwrap().1
    }
}

async fn created(app: &TestApp, key: &str, path: &str, body: Value) -> Value {
    let (status, created) = status_and_json(app.post(path, key, &body).send().await.unwrap()).await;
    assert!(status.is_success(), "{path}: {created}");
    created
}

async fn other_workspace(app: &TestApp) -> Other {
    let globex = app.store.ensure_workspace("globex").await.unwrap();
    let key = app.store.create_api_key(&globex, rapport_core::auth::Role::Admin).await.unwrap().0;
    let mut ids = Vec::new();
    // A customer made of two that merged: anonymous first, then signed up.
    for event in [
        json!({"type": "track", "anonymousId": "globex-anon", "event": "Viewed"}),
        json!({"type": "identify", "userId": "globex-user", "traits": {"email": "globex@globex.test"}}),
        json!({"type": "identify", "userId": "globex-user", "anonymousId": "globex-anon"}),
    ] {
        let path = format!("/v1/{}", event["type"].as_str().unwrap());
        assert_eq!(app.post(&path, &key, &event).send().await.unwrap().status(), StatusCode::OK);
    }
    let found =
        app.client.get(app.url("/v1/customers?identity=userId:globex-user")).bearer_auth(&key).send().await.unwrap();
    let customer = status_and_json(found).await.1["data"][0]["id"].as_str().unwrap().to_owned();
    let merges =
        app.client.get(app.url(&format!("/v1/customers/{customer}/merges"))).bearer_auth(&key).send().await.unwrap();
    let merges = status_and_json(merges).await.1;
    let merge = merges["data"].as_array().and_then(|m| m.first()).expect("the sign-up merged the two")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ids.push(("customer", customer));
    ids.push(("merge", merge));
    let survey = json!({"name": "Globex NPS", "kind": "relational", "questions": [{"id": "nps", "type": "nps", "required": true}]});
    ids.push(("survey", created(app, &key, "/v1/surveys", survey).await["id"].as_str().unwrap().to_owned()));
    let feedback = json!({"source": "email", "text": "Globex feedback", "customer": "email:globex@globex.test"});
    let item = created(app, &key, "/v1/feedback", feedback).await;
    ids.push(("feedback", item["items"][0]["id"].as_str().expect("a feedback id").to_owned()));
    let plan = json!({"title": "Globex plan", "topic": "late-delivery", "owner": "ops@globex.test", "status": "planned", "startsOn": "2026-01-01"});
    ids.push(("plan", created(app, &key, "/v1/action-plans", plan).await["id"].as_str().unwrap().to_owned()));
    let journey = json!({"name": "Globex journey", "touchpoints": [{"key": "viewed", "name": "Viewed", "stage": "awareness", "event": "Viewed"}]});
    ids.push(("journey", created(app, &key, "/v1/journeys", journey).await["id"].as_str().unwrap().to_owned()));
    let case = json!({"title": "Globex case", "customer": "email:globex@globex.test"});
    ids.push(("case", created(app, &key, "/v1/cases", case).await["id"].as_str().unwrap().to_owned()));
    let webhook = json!({"url": "https://hooks.example.com/globex", "events": ["case.opened"]});
    ids.push(("webhook", created(app, &key, "/v1/webhooks", webhook).await["id"].as_str().unwrap().to_owned()));
    let user = json!({"email": "gus@globex.test", "role": "admin"});
    ids.push(("user", created(app, &key, "/v1/users", user).await["user"]["id"].as_str().unwrap().to_owned()));
    Other { key, ids }
}

/// What a route is, for the walk: which of B's records its path names, or why it names none.
enum Reach {
    /// The path names B's record of this kind: the answer must be 404.
    Record(&'static str),
    /// A list or report of the caller's workspace: it must show nothing of B.
    Own,
    /// Acts only in the caller's own workspace by construction (writes, settings of one's own).
    Writes,
    /// Public and signed: the signature, not a key, says which workspace.
    Signed,
    /// Names a person in the body (B's customer's address): the caller's workspace has nobody
    /// by it, so nothing is exported or erased.
    Person,
}

pub async fn workspaces_never_see_each_other(app: TestApp) {
    use Reach::{Own, Person, Record, Signed, Writes};
    let other = other_workspace(&app).await;
    let survey = json!({"name": "Globex NPS 2", "kind": "relational", "questions": [{"id": "nps", "type": "nps", "required": true}]});
    let journey = json!({"name": "Renamed", "touchpoints": [{"key": "viewed", "name": "Viewed", "stage": "awareness", "event": "Viewed"}]});
    let plan = json!({"title": "Renamed", "topic": "late-delivery", "owner": "x@acme.test", "status": "planned", "startsOn": "2026-01-01"});
    let event = json!({"userId": "acme-user", "event": "Viewed", "name": "Home", "traits": {}, "groupId": "g", "previousId": "p"});
    // (method, route, what it reaches, body)
    let routes: Vec<(Method, &str, Reach, Option<Value>)> = vec![
        (Method::POST, "/v1/track", Writes, Some(event.clone())),
        (Method::POST, "/v1/identify", Writes, Some(event.clone())),
        (Method::POST, "/v1/page", Writes, Some(event.clone())),
        (Method::POST, "/v1/screen", Writes, Some(event.clone())),
        (Method::POST, "/v1/group", Writes, Some(event.clone())),
        (Method::POST, "/v1/alias", Writes, Some(event.clone())),
        (Method::POST, "/v1/batch", Writes, Some(json!({"batch": []}))),
        (Method::GET, "/v1/customers?identity=userId:globex-user", Own, None),
        (Method::GET, "/v1/customers/{customer}", Record("customer"), None),
        (Method::GET, "/v1/customers/{customer}/timeline", Record("customer"), None),
        (Method::GET, "/v1/customers/{customer}/merges", Record("customer"), None),
        (Method::GET, "/v1/customers/{customer}/prediction", Record("customer"), None),
        (Method::POST, "/v1/merges/{merge}/undo", Record("merge"), None),
        (Method::POST, "/v1/keys", Writes, Some(json!({"role": "read"}))),
        (Method::GET, "/v1/keys", Own, None),
        (Method::POST, "/v1/users", Writes, Some(json!({"email": "new@acme.test", "role": "viewer"}))),
        (Method::GET, "/v1/users", Own, None),
        (Method::GET, "/v1/users/{user}", Record("user"), None),
        (Method::PUT, "/v1/users/{user}", Record("user"), Some(json!({"role": "viewer"}))),
        (Method::GET, "/v1/audit", Own, None),
        (Method::GET, "/v1/audit/verify", Own, None),
        (Method::POST, "/v1/surveys", Writes, Some(survey.clone())),
        (Method::GET, "/v1/surveys", Own, None),
        (Method::GET, "/v1/surveys/{survey}", Record("survey"), None),
        (Method::PUT, "/v1/surveys/{survey}", Record("survey"), Some(survey.clone())),
        (
            Method::POST,
            "/v1/surveys/{survey}/responses",
            Record("survey"),
            Some(json!({"customer": "userId:acme-user", "answers": {"nps": 9}})),
        ),
        (Method::GET, "/v1/surveys/{survey}/responses", Record("survey"), None),
        (Method::GET, "/v1/surveys/{survey}/invitations", Record("survey"), None),
        (
            Method::POST,
            "/v1/surveys/{survey}/dry-run",
            Record("survey"),
            Some(json!({"customers": ["userId:acme-user"]})),
        ),
        (Method::GET, "/v1/contact-policy", Own, None),
        (Method::PUT, "/v1/contact-policy", Writes, None),
        (Method::GET, "/v1/metrics/settings", Own, None),
        (Method::PUT, "/v1/metrics/settings", Writes, None),
        (Method::GET, "/v1/metrics/{metric}", Own, None),
        (Method::GET, "/v1/metrics/{metric}/compare", Own, None),
        (Method::POST, "/v1/feedback", Writes, None),
        (Method::GET, "/v1/feedback", Own, None),
        (Method::GET, "/v1/feedback/{feedback}", Record("feedback"), None),
        (Method::GET, "/v1/feedback/taxonomy", Own, None),
        (Method::PUT, "/v1/feedback/taxonomy", Writes, None),
        (Method::GET, "/v1/feedback/settings", Own, None),
        (Method::PUT, "/v1/feedback/settings", Writes, None),
        (Method::GET, "/v1/feedback/topics", Own, None),
        (Method::GET, "/v1/feedback/themes", Own, None),
        (Method::GET, "/v1/alerts", Own, None),
        (Method::POST, "/v1/alerts/evaluate", Writes, None),
        (Method::GET, "/v1/domain-events", Own, None),
        (Method::GET, "/v1/churn/settings", Own, None),
        (Method::PUT, "/v1/churn/settings", Writes, None),
        (Method::POST, "/v1/churn/train", Writes, None),
        (Method::GET, "/v1/churn/model", Own, None),
        (Method::GET, "/v1/predictions", Own, None),
        (Method::POST, "/v1/predictions/refresh", Writes, None),
        (Method::GET, "/v1/accounts/health", Own, None),
        (Method::GET, "/v1/clv", Own, None),
        (Method::GET, "/v1/analysis/root-causes", Own, None),
        (Method::GET, "/v1/analysis/drivers", Own, None),
        (Method::GET, "/v1/action-plans", Own, None),
        (Method::POST, "/v1/action-plans", Writes, None),
        (Method::GET, "/v1/action-plans/{plan}", Record("plan"), None),
        (Method::PUT, "/v1/action-plans/{plan}", Record("plan"), Some(plan.clone())),
        (Method::GET, "/v1/journeys", Own, None),
        (Method::POST, "/v1/journeys", Writes, None),
        (Method::GET, "/v1/journeys/{journey}", Record("journey"), None),
        (Method::PUT, "/v1/journeys/{journey}", Record("journey"), Some(journey.clone())),
        (Method::DELETE, "/v1/journeys/{journey}", Record("journey"), None),
        (Method::GET, "/v1/journeys/{journey}/analytics", Record("journey"), None),
        (Method::GET, "/v1/journeys/{journey}/map.svg", Record("journey"), None),
        (Method::GET, "/v1/cases", Own, None),
        (Method::POST, "/v1/cases", Writes, None),
        (Method::GET, "/v1/cases/settings", Own, None),
        (Method::PUT, "/v1/cases/settings", Writes, None),
        (Method::POST, "/v1/cases/check-sla", Writes, None),
        (Method::GET, "/v1/cases/recovery", Own, None),
        (Method::GET, "/v1/cases/{case}", Record("case"), None),
        (Method::POST, "/v1/cases/{case}/transition", Record("case"), Some(json!({"state": "in_progress"}))),
        (Method::POST, "/v1/cases/{case}/notes", Record("case"), Some(json!({"text": "a note"}))),
        (Method::POST, "/v1/webhooks", Writes, None),
        (Method::GET, "/v1/webhooks", Own, None),
        (Method::GET, "/v1/webhooks/{webhook}", Record("webhook"), None),
        (Method::DELETE, "/v1/webhooks/{webhook}", Record("webhook"), None),
        (Method::POST, "/v1/webhooks/{webhook}/enable", Record("webhook"), None),
        (Method::POST, "/v1/webhooks/{webhook}/disable", Record("webhook"), None),
        (Method::GET, "/v1/webhooks/{webhook}/deliveries", Record("webhook"), None),
        (Method::POST, "/v1/webhooks/{webhook}/deliveries/{delivery}/replay", Record("webhook"), None),
        (Method::GET, "/s/{token}", Signed, None),
        (Method::POST, "/s/{token}", Signed, None),
        (Method::GET, "/u/{token}", Signed, None),
        (Method::POST, "/u/{token}", Signed, None),
        (Method::GET, "/v1/customers/{customer}/consent", Record("customer"), None),
        (Method::PUT, "/v1/consent", Writes, None),
        (Method::POST, "/v1/privacy/export", Person, Some(json!({"identity": "email:globex@globex.test"}))),
        (Method::POST, "/v1/privacy/erase", Person, Some(json!({"identity": "email:globex@globex.test"}))),
        (Method::GET, "/v1/privacy/settings", Own, None),
        (Method::PUT, "/v1/privacy/settings", Writes, None),
        (Method::POST, "/v1/privacy/retention/run", Writes, None),
        (Method::POST, "/v1/widget/eligibility", Writes, None),
        // A token of B's (a forged one here) is not found in A's workspace.
        (Method::POST, "/v1/widget/answers/{token}", Signed, None),
        (Method::GET, "/healthz", Own, None),
        (Method::GET, "/readyz", Own, None),
        (Method::GET, "/metrics", Own, None),
        (Method::GET, "/openapi.json", Own, None),
    ];

    // Every operation the API describes is in the walk (a new route must be added here).
    let openapi: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let described: BTreeSet<(String, String)> = openapi["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().keys().map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let normalise = |route: &str| {
        let path = route.split('?').next().unwrap();
        path.split('/')
            .map(|segment| if segment.starts_with('{') { "{}" } else { segment })
            .collect::<Vec<_>>()
            .join("/")
    };
    let walked: BTreeSet<(String, String)> =
        routes.iter().map(|(method, route, _, _)| (method.to_string(), normalise(route))).collect();
    for (method, path) in &described {
        assert!(walked.contains(&(method.clone(), normalise(path))), "{method} {path} is not in the walk");
    }

    let markers: Vec<String> =
        other.ids.iter().map(|(_, id)| id.clone()).chain(["globex".to_owned(), "Globex".to_owned()]).collect();
    for (method, route, reach, body) in &routes {
        let mut path = route.replace("{metric}", "nps");
        for (name, id) in &other.ids {
            path = path.replace(&format!("{{{name}}}"), id);
        }
        path = path.replace("{delivery}", "any-delivery");
        match reach {
            Record(kind) => {
                assert!(path.contains(other.id(kind)), "{route} names B's {kind}");
                let (status, text) = call(&app, &app.admin_key, method.clone(), &path, body.as_ref()).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {route} with B's record: {text}");
                assert!(
                    !markers.iter().any(|marker| text.contains(marker.as_str())) || text.contains("no "),
                    "{method} {route}: {text}"
                );
            }
            Own if *method == Method::GET => {
                let (status, text) = call(&app, &app.admin_key, method.clone(), &path, None).await;
                assert!(status.is_success() || status.is_client_error(), "{method} {route}: {status}");
                for marker in &markers {
                    assert!(!text.contains(marker.as_str()), "{method} {route} shows B's {marker}: {text}");
                }
            }
            Person => {
                let (status, text) = call(&app, &app.admin_key, method.clone(), &path, body.as_ref()).await;
                let answer: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(status, StatusCode::OK, "{method} {route}: {text}");
                assert!(answer["data"] == json!({}) || answer["rows"] == 0, "{method} {route} reached B: {text}");
                assert!(answer["subject"]["customer"].is_null(), "{text}");
            }
            Own | Writes | Signed => {}
        }
    }
    // B's records are all still there, untouched, for B.
    for (name, path) in [
        ("case", "/v1/cases/{case}"),
        ("journey", "/v1/journeys/{journey}"),
        ("webhook", "/v1/webhooks/{webhook}"),
        ("customer", "/v1/customers/{customer}"),
    ] {
        let path = path.replace(&format!("{{{name}}}"), other.id(name));
        let (status, text) = call(&app, &other.key, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
    }
    let (_, user) = call(&app, &other.key, Method::GET, &format!("/v1/users/{}", other.id("user")), None).await;
    assert!(user.contains("\"role\":\"admin\""), "B's user keeps its role: {user}");

    // The dashboard too: a session of A on B's records.
    let password = app.create_user("ana@acme.test", "admin").await;
    let ana = app.session("ana@acme.test", &password).await;
    for path in [
        format!("/journeys/{}", other.id("journey")),
        format!("/cases/{}", other.id("case")),
        format!("/customers/{}", other.id("customer")),
    ] {
        assert_eq!(ana.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let note = ana.post(&format!("/cases/{}/note", other.id("case")), &[("text", "from acme")]).await;
    assert_eq!(note.status(), StatusCode::NOT_FOUND);
    let role =
        ana.post(&format!("/settings/users/{}", other.id("user")), &[("action", "role"), ("role", "viewer")]).await;
    assert_eq!(role.status(), StatusCode::NOT_FOUND);
    let search = ana.get("/customers?q=globex%40globex.test").await.text().await.unwrap();
    assert!(search.contains("No customer has the identity"));
}

/// Public endpoints refuse a client over its limit with 429 and Retry-After before doing any
/// work, each client and each key counted apart; every response carries the security headers.
pub async fn public_endpoints_are_limited_and_hardened(app: TestApp) {
    let limits = rapport_server::hardening::RateLimits {
        sign_in_per_minute: 3,
        survey_pages_per_second: 2,
        ingest_per_second: 5,
    };
    let app = app.restart_with(limits).await;
    for attempt in 1..=3 {
        let response = app.sign_in_form("nobody@acme.test", "wrong password", "").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let limited = app.sign_in_form("nobody@acme.test", "wrong password", "").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert!(limited.text().await.unwrap().contains("Too many requests from your address"));

    // Ingestion: a burst of twice the rate per key, then 429 in JSON; another key is not held up.
    let event = json!({"userId": "u1", "event": "Clicked"});
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.send("/v1/track", &event).await.status());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 10, "{statuses:?}");
    let refused = app.send("/v1/track", &event).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited", &[]).await;
    let other = app.post("/v1/track", &app.admin_key, &event).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK, "each key has its own bucket");
    // Reads are never limited.
    for _ in 0..20 {
        assert_eq!(call(&app, &app.read_key, Method::GET, "/v1/surveys", None).await.0, StatusCode::OK);
    }
    // Survey pages: a burst of five times the rate per address, even for bad links.
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(app.client.get(app.url("/s/not-a-token")).send().await.unwrap().status());
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert!(statuses[..10].iter().all(|s| *s != StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");

    // Security headers: on everything; the content policy on pages; HSTS behind HTTPS.
    let api = app.client.get(app.url("/v1/surveys")).bearer_auth(&app.read_key).send().await.unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(api.headers()["referrer-policy"], "no-referrer");
    assert!(
        !api.headers().contains_key("content-security-policy")
            && !api.headers().contains_key("strict-transport-security")
    );
    let page = app.client.get(app.url("/sign-in")).header("x-forwarded-proto", "https").send().await.unwrap();
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["strict-transport-security"], "max-age=31536000");
}
