//! The dashboard's pages over HTTP: who may sign in, what a session opens, what each role
//! reaches, forms refused without their CSRF token, lockout, the second factor, and errors in
//! words (the browser test drives the same pages in Chromium).

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, status_and_json};

pub async fn pages_need_a_signed_in_person(app: TestApp) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for path in ["/", "/overview", "/journeys", "/account"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()[LOCATION], "/sign-in");
    }
    // A key in the old cookie opens nothing: keys are for the API.
    let with_key = client.get(app.url("/overview")).header("cookie", format!("rapport_key={}", app.admin_key));
    assert_eq!(with_key.send().await.unwrap().status(), StatusCode::SEE_OTHER);

    let viewer = app.create_user("vera@acme.test", "viewer").await;
    let wrong = app.sign_in_form("vera@acme.test", "not her password", "").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong = wrong.text().await.unwrap();
    assert!(wrong.contains("do not match an account") && wrong.contains("value=\"vera@acme.test\""), "{wrong}");
    assert!(!wrong.contains("not her password"), "a password is never written back into the page");
    let unknown = app.sign_in_form("nobody@acme.test", "whatever it is", "").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(unknown.text().await.unwrap().contains("do not match an account"), "the same words: no account probing");
    let cross_site = client
        .post(app.url("/sign-in"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("email", "vera@acme.test"), ("password", viewer.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN, "another site's form cannot sign anyone in");
    let proxied = client
        .post(app.url("/sign-in"))
        .header("x-forwarded-proto", "https")
        .form(&[("email", "vera@acme.test"), ("password", viewer.as_str())])
        .send()
        .await
        .unwrap();
    assert!(proxied.headers()[SET_COOKIE].to_str().unwrap().ends_with("; Secure"), "over HTTPS the cookie is Secure");

    let signed_in = app.sign_in_form(" Vera@Acme.test ", &viewer, "").await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER, "the address is matched as typed, any case");
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("rapport_session=rps_"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let vera = Session::from_sign_in(&app, signed_in).await;
    assert_eq!(vera.landing, "/overview");
    let overview = vera.get("/overview").await;
    assert_eq!(overview.status(), StatusCode::OK);
    let html = overview.text().await.unwrap();
    assert!(
        html.contains("<h1>Overview</h1>") && html.contains("No answers in the last 90 days."),
        "an empty workspace says so"
    );
    assert!(html.contains("Closing the loop") && html.contains("Low scores followed up"), "the loop-closure figures");
    // Feedback filtered by the channel it came through.
    for (text, channel) in [("The courier was rude on the phone", "phone"), ("The checkout page froze", "web")] {
        let item = json!({"source": "survey", "text": text, "channel": channel});
        assert_eq!(app.send("/v1/feedback", &item).await.status(), StatusCode::OK);
    }
    let by_phone = vera.get("/feedback?channel=Phone").await.text().await.unwrap();
    assert!(by_phone.contains("was rude on the phone") && !by_phone.contains("page froze"), "{by_phone}");
    let searched = vera.get("/feedback?q=FROZE").await.text().await.unwrap();
    assert!(searched.contains(">froze</mark>") && !searched.contains("was rude"), "{searched}");
    assert!(searched.contains("1 item."), "{searched}");
    assert!(html.contains(">viewer<") || html.contains(" · viewer · "), "the header says who is signed in");
    let journeys = vera.get("/journeys").await.text().await.unwrap();
    assert!(journeys.contains("No journey is defined yet"), "the empty state says what to do");
    let missing = vera.get("/journeys/nope").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("no journey `nope` in this workspace"));
    let escaped = vera.get("/journeys/%3Cscript%3E").await.text().await.unwrap();
    assert!(!escaped.contains("<script>") && escaped.contains("&lt;script&gt;"), "names are escaped");
    // A customer by phone number as people type it, and their 360 view.
    app.send("/v1/identify", &json!({"userId": "u-7", "traits": {"phone": "+1 404 555 0100", "name": "Ada <b>"}}))
        .await;
    let found = vera.get("/customers?q=%2B1%20(404)%20555-0100").await;
    assert_eq!(found.status(), StatusCode::SEE_OTHER);
    let location = found.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with("/customers/"), "{location}");
    let view = vera.get(&location).await.text().await.unwrap();
    assert!(view.contains("+14045550100") && view.contains("Timeline across channels"), "{view}");
    assert!(view.contains("Ada &lt;b&gt;") && !view.contains("Ada <b>"), "traits are escaped");
    assert!(view.contains("No survey answers from this customer yet"), "the empty state of their scores");
    // Their scores over time, once they answer.
    let survey =
        json!({"name": "Pulse", "kind": "relational", "questions": [{"id": "nps", "type": "nps", "required": true}]});
    let (_, survey) = status_and_json(app.post("/v1/surveys", &app.admin_key, &survey).send().await.unwrap()).await;
    let survey = survey["id"].as_str().unwrap().to_owned();
    for (nps, at) in [(4, "2026-01-10T10:00:00Z"), (9, "2026-03-10T10:00:00Z")] {
        let answer = json!({"customer": "phone:+1 404 555 0100", "answers": {"nps": nps}, "submittedAt": at});
        let response = app.send(&format!("/v1/surveys/{survey}/responses"), &answer).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let view = vera.get(&location).await.text().await.unwrap();
    assert!(view.contains("<strong>NPS</strong> · 2 answers · latest <strong>9</strong>"), "{view}");
    assert!(view.contains("(first 4 on 2026-01-10 10:00 UTC)"), "{view}");
    let nobody = vera.get("/customers?q=nobody%40example.com").await.text().await.unwrap();
    assert!(nobody.contains("No customer has the identity"));
    // A viewer sees the settings but cannot make keys, even with a good form.
    let settings = vera.get("/settings").await.text().await.unwrap();
    assert!(settings.contains("Making keys needs the admin role") && settings.contains("Topic taxonomy"));
    assert!(!settings.contains("Add user"), "only admins manage users");
    assert_eq!(vera.post("/settings/keys", &[("role", "admin")]).await.status(), StatusCode::FORBIDDEN);

    // Forms without the session's CSRF token are refused before anything happens.
    let admin_password = app.create_user("ana@acme.test", "admin").await;
    let ana = app.session("ana@acme.test", &admin_password).await;
    let keys_before =
        app.store.api_keys(&app.store.workspace_by_name("acme").await.unwrap().unwrap().id).await.unwrap();
    for form in [vec![("role", "read")], vec![("role", "read"), ("csrf", "0".repeat(64).leak() as &str)]] {
        let refused = ana.post_raw("/settings/keys", &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("did not come from your Rapport session"));
    }
    let with_vera_token = ana.post_raw("/settings/keys", &[("role", "read"), ("csrf", &vera.csrf)]).await;
    assert_eq!(with_vera_token.status(), StatusCode::FORBIDDEN, "another session's token does not do");
    let workspace = app.store.workspace_by_name("acme").await.unwrap().unwrap().id;
    assert_eq!(app.store.api_keys(&workspace).await.unwrap().len(), keys_before.len(), "nothing was made");
    let made = ana.post("/settings/keys", &[("role", "read")]).await.text().await.unwrap();
    assert!(made.contains("id=\"new-key\"") && made.contains("rpk_"), "an admin's form with its token works");
    assert_eq!(app.store.api_keys(&workspace).await.unwrap().len(), keys_before.len() + 1);

    // Signing out ends the session on the server, not only in the browser.
    let out = vera.post("/sign-out", &[]).await;
    assert!(out.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(vera.get("/overview").await.status(), StatusCode::SEE_OTHER, "the old cookie opens nothing");
    let css = client.get(app.url("/assets/app.css")).send().await.unwrap();
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));

    // Every sign-in, failure and change is in the audit log.
    let audit = app.client.get(app.url("/v1/audit")).bearer_auth(&app.admin_key).send().await.unwrap();
    let (_, audit) = status_and_json(audit).await;
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in
        ["user.created", "user.sign_in_failed", "user.signed_in", "key.created", "customer.read", "user.signed_out"]
    {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

/// Each role reaches the pages and changes the permission matrix gives it (SECURITY.md).
pub async fn roles_reach_what_the_matrix_says(app: TestApp) {
    let mut sessions = Vec::new();
    for (email, role) in [
        ("ana@acme.test", "admin"),
        ("al@acme.test", "analyst"),
        ("aga@acme.test", "agent"),
        ("vic@acme.test", "viewer"),
    ] {
        let password = app.create_user(email, role).await;
        sessions.push((role, app.session(email, &password).await));
    }
    // Two customers: one with a case, one without.
    app.send("/v1/identify", &json!({"userId": "with-case", "traits": {"email": "case@acme.test"}})).await;
    app.send("/v1/identify", &json!({"userId": "no-case", "traits": {"email": "quiet@acme.test"}})).await;
    let with_case = app.customer("userId:with-case").await["id"].as_str().unwrap().to_owned();
    let no_case = app.customer("userId:no-case").await["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for body in [
        json!({"title": "Parcel lost", "customer": "email:case@acme.test", "assignee": "aga@acme.test"}),
        json!({"title": "Refund pending", "assignee": "Bo Teammate"}),
        json!({"title": "Nobody's case"}),
    ] {
        let (status, case) = status_and_json(app.post("/v1/cases", &app.admin_key, &body).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{case}");
        ids.push(case["id"].as_str().unwrap().to_owned());
    }
    let case_id = ids[0].clone();
    // The agent and Bo are one team.
    let mut settings = app.read("/v1/cases/settings").await;
    settings["teams"] = json!({"support": {"members": ["AGA@acme.test", "Bo Teammate"]}});
    let put = app.client.put(app.url("/v1/cases/settings")).bearer_auth(&app.admin_key).json(&settings);
    assert_eq!(put.send().await.unwrap().status(), StatusCode::OK);

    // (page, admin, analyst, agent, viewer): whether each reaches it.
    let pages = [
        ("/overview", [true, true, false, true]),
        ("/journeys", [true, true, false, true]),
        ("/feedback", [true, true, false, true]),
        ("/drivers", [true, true, false, true]),
        ("/surveys", [true, true, false, true]),
        ("/settings", [true, true, false, true]),
        ("/cases", [true, true, true, true]),
        ("/account", [true, true, true, true]),
    ];
    for (index, (role, session)) in sessions.iter().enumerate() {
        for (page, reach) in &pages {
            let status = session.get(page).await.status();
            let expected = if reach[index] { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(status, expected, "{role} on {page}");
        }
        let customer = session.get(&format!("/customers/{with_case}")).await.status();
        assert_eq!(customer, StatusCode::OK, "{role} sees the customer a case concerns");
        let quiet = session.get(&format!("/customers/{no_case}")).await.status();
        let expected = if *role == "agent" { StatusCode::NOT_FOUND } else { StatusCode::OK };
        assert_eq!(quiet, expected, "{role} on a customer no case concerns");
        // The navigation shows what the role reaches.
        let nav = session.get("/cases").await.text().await.unwrap();
        assert_eq!(nav.contains("href=\"/overview\""), *role != "agent", "{role}'s navigation");
        // Working a case: admins and agents.
        let note = session.post(&format!("/cases/{case_id}/note"), &[("text", &format!("seen by {role}"))]).await;
        let works = *role == "admin" || *role == "agent";
        let expected = if works { StatusCode::SEE_OTHER } else { StatusCode::FORBIDDEN };
        assert_eq!(note.status(), expected, "{role} adds a note");
        // Building a survey: admins and analysts.
        let survey = session
            .post(
                "/surveys/new",
                &[
                    ("name", &format!("Pulse by {role}")),
                    ("kind", "relational"),
                    ("language", "en"),
                    ("type1", "nps"),
                    ("text1", "How likely?"),
                    ("action", "create"),
                ],
            )
            .await;
        let builds = *role == "admin" || *role == "analyst";
        let expected = if builds { StatusCode::SEE_OTHER } else { StatusCode::FORBIDDEN };
        assert_eq!(survey.status(), expected, "{role} creates a survey");
        // Managing users: admins only.
        let add =
            session.post("/settings/users", &[("email", &format!("new-{role}@acme.test")), ("role", "viewer")]).await;
        let expected = if *role == "admin" { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(add.status(), expected, "{role} adds a user");
    }
    // The agent's inbox starts with their own cases; their team's and all open ones are a tab away.
    let agent = &sessions[2].1;
    let mine = agent.get("/cases").await.text().await.unwrap();
    assert!(mine.contains("Parcel lost") && !mine.contains("Refund pending") && !mine.contains("Nobody"), "{mine}");
    assert!(mine.contains("aria-current=\"page\">Mine<"), "the tab says where they are");
    let team = agent.get("/cases?view=team").await.text().await.unwrap();
    assert!(team.contains("Parcel lost") && team.contains("Refund pending") && !team.contains("Nobody"), "{team}");
    let all = agent.get("/cases?view=open").await.text().await.unwrap();
    assert!(all.contains("Nobody&#39;s case") || all.contains("Nobody's case"), "{all}");
    let admin_mine = sessions[0].1.get("/cases?view=mine").await.text().await.unwrap();
    assert!(admin_mine.contains("Nothing is assigned to you"), "{admin_mine}");
    let admin_team = sessions[0].1.get("/cases?view=team").await.text().await.unwrap();
    assert!(admin_team.contains("You are in no team"), "{admin_team}");

    // The notes are in the case's history under who wrote them.
    let history = app.read(&format!("/v1/cases/{case_id}")).await;
    let actors: Vec<&str> = history["history"].as_array().unwrap().iter().filter_map(|e| e["actor"].as_str()).collect();
    assert!(actors.contains(&"user:aga@acme.test") && actors.contains(&"user:ana@acme.test"), "{actors:?}");
}

/// Five failures in a row lock an account for fifteen minutes; a new password from an admin
/// lifts it. With two-factor on, a password alone does not sign in, and a code is good once.
pub async fn lockout_and_two_factor(app: TestApp) {
    let password = app.create_user("lee@acme.test", "analyst").await;
    for attempt in 1..=5 {
        let response = app.sign_in_form("lee@acme.test", "a wrong password", "").await;
        let expected = if attempt < 5 { StatusCode::UNAUTHORIZED } else { StatusCode::LOCKED };
        assert_eq!(response.status(), expected, "attempt {attempt}");
    }
    let locked = app.sign_in_form("lee@acme.test", &password, "").await;
    assert_eq!(locked.status(), StatusCode::LOCKED, "the right password does not open a locked account");
    assert!(locked.text().await.unwrap().contains("locked until"));
    let users = app.client.get(app.url("/v1/users")).bearer_auth(&app.admin_key).send().await.unwrap();
    let (_, users) = status_and_json(users).await;
    let lee = users["data"].as_array().unwrap().iter().find(|u| u["email"] == "lee@acme.test").unwrap().clone();
    assert!(lee["lockedUntil"].is_string(), "{lee}");
    let id = lee["id"].as_str().unwrap();
    let reset = app.client.put(app.url(&format!("/v1/users/{id}"))).bearer_auth(&app.admin_key);
    let reset = reset.json(&json!({"password": "a brand new password"})).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let lee = app.session("lee@acme.test", "a brand new password").await;

    // Turning on two-factor: the account page shows a secret; a code from it confirms.
    let account = lee.get("/account").await.text().await.unwrap();
    let marker = "id=\"totp-secret\">";
    let start = account.find(marker).unwrap() + marker.len();
    let secret = account[start..start + 32].to_owned();
    let now_s = u64::try_from(rapport_store::now_ms() / 1000).unwrap();
    let wrong = lee.post("/account/two-factor", &[("action", "enable"), ("secret", &secret), ("code", "000000")]).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let code = rapport_core::users::totp_code(&secret, now_s).unwrap();
    let on = lee.post("/account/two-factor", &[("action", "enable"), ("secret", &secret), ("code", &code)]).await;
    assert!(on.text().await.unwrap().contains("Two-factor sign-in is on."));
    let asks = app.sign_in_form("lee@acme.test", "a brand new password", "").await;
    assert_eq!(asks.status(), StatusCode::UNAUTHORIZED);
    assert!(asks.text().await.unwrap().contains("6-digit code"));
    let replay = app.sign_in_form("lee@acme.test", "a brand new password", &code).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED, "the code used to turn it on is spent");
    // The next step's code (one step of skew is allowed) signs in, once.
    let next = rapport_core::users::totp_code(&secret, now_s + 30).unwrap();
    let signed_in = app.sign_in_form("lee@acme.test", "a brand new password", &next).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let again = app.sign_in_form("lee@acme.test", "a brand new password", &next).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let listed = app.client.get(app.url(&format!("/v1/users/{id}"))).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_eq!(status_and_json(listed).await.1["twoFactor"], true);

    // A disabled account signs in nowhere, and its sessions end.
    let session = Session::from_sign_in(&app, signed_in).await;
    let disable = app.client.put(app.url(&format!("/v1/users/{id}"))).bearer_auth(&app.admin_key);
    disable.json(&json!({"disabled": true})).send().await.unwrap();
    assert_eq!(session.get("/overview").await.status(), StatusCode::SEE_OTHER);
}

/// The builder sets when and how a survey goes out; a mistake there is named by field.
pub async fn the_builder_sets_the_trigger_and_contact_rules(app: TestApp) {
    let password = app.create_user("al@acme.test", "analyst").await;
    let al = app.session("al@acme.test", &password).await;
    let mut form = vec![
        ("name", "After delivery"),
        ("kind", "transactional"),
        ("language", "en"),
        ("touchpoint", "delivery"),
        ("type1", "nps"),
        ("text1", "How likely?"),
        ("required1", "on"),
        ("channel", "email"),
        ("samplePercent", "25"),
        ("triggerEvent", "Order Delivered"),
        ("triggerWhere", "properties.channel"),
        ("triggerEquals", "store"),
        ("delayMinutes", "soon"),
        ("reminderAfterDays", "3"),
        ("ownRules", "on"),
        ("maxInvitations", "1"),
        ("windowDays", "60"),
        ("minDaysBetween", "30"),
        ("cooldownAfterResponseDays", "45"),
        ("action", "create"),
    ];
    let refused = al.post("/surveys/new", &form).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("delivery.trigger.delayMinutes"), "{refused}");
    assert!(
        refused.contains("value=\"soon\"") && refused.contains("value=\"Order Delivered\""),
        "the form keeps what was typed"
    );
    form.retain(|(key, _)| *key != "delayMinutes");
    form.push(("delayMinutes", "90"));
    let made = al.post("/surveys/new", &form).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let location = made.headers()[LOCATION].to_str().unwrap().to_owned();
    let id = location.strip_prefix("/surveys/").unwrap();
    let survey = app.read(&format!("/v1/surveys/{id}")).await;
    let delivery = &survey["definition"]["delivery"];
    assert_eq!(
        *delivery,
        json!({"channel": "email", "sampleRate": 0.25, "reminderAfterDays": 3,
               "trigger": {"event": "Order Delivered", "where": {"properties.channel": "store"}, "delayMinutes": 90},
               "policy": {"maxInvitations": 1, "windowDays": 60, "minDaysBetween": 30, "cooldownAfterResponseDays": 45}}),
        "{survey}"
    );
    let page = al.get(&location).await.text().await.unwrap();
    assert!(page.contains("This survey&#39;s own rules") || page.contains("This survey's own rules"), "{page}");
}

/// A survey's page: its questions, trigger and contact rules, latest invitations, and the dry
/// run, which asks nothing of anyone.
pub async fn a_surveys_page_explains_who_would_be_asked(app: TestApp) {
    let definition = json!({
        "name": "After delivery", "kind": "transactional", "touchpoint": "delivery",
        "questions": [{"id": "nps", "type": "nps", "required": true},
                      {"id": "why", "type": "text", "text": "Why?", "showIf": {"question": "nps", "min": 0, "max": 6}}],
        "delivery": {"channel": "link", "notAgainWithinDays": 90,
                     "trigger": {"event": "Order Delivered", "where": {"properties.channel": "store"}, "delayMinutes": 60}}
    });
    let (status, survey) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{survey}");
    let id = survey["id"].as_str().unwrap().to_owned();
    app.send("/v1/identify", &json!({"userId": "quits", "traits": {"unsubscribed": true}})).await;
    let password = app.create_user("vic@acme.test", "viewer").await;
    let vic = app.session("vic@acme.test", &password).await;

    let list = vic.get("/surveys").await.text().await.unwrap();
    assert!(list.contains(&format!("href=\"/surveys/{id}\"")), "the list links to each survey");
    let page = vic.get(&format!("/surveys/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    for expected in [
        "After <code>Order Delivered</code>",
        "<code>properties.channel</code> = <code>&quot;store&quot;</code>",
        "60 minutes later",
        "100% of customers",
        "within 90 days",
        "The workspace&#39;s rules",
        "when <code>nps</code> is 0–6",
        "No invitation yet",
    ] {
        assert!(page.contains(expected) || page.contains(&expected.replace("&#39;", "'")), "{expected} in {page}");
    }
    let before =
        app.store.invitations(&app.store.workspace_by_name("acme").await.unwrap().unwrap().id, &id, 10).await.unwrap();
    let checked =
        vic.get(&format!("/surveys/{id}?customers=userId%3Aquits%0AuserId%3Anewcomer")).await.text().await.unwrap();
    assert!(checked.contains("<strong>1</strong> of 2 would be asked now"), "{checked}");
    assert!(checked.contains("<code>unsubscribed</code>") && checked.contains("(not known yet)"), "{checked}");
    let after =
        app.store.invitations(&app.store.workspace_by_name("acme").await.unwrap().unwrap().id, &id, 10).await.unwrap();
    assert_eq!(before.len(), after.len(), "a dry run records nothing");
    let bad = vic.get(&format!("/surveys/{id}?customers=no-colon-here")).await;
    assert_eq!(bad.status(), StatusCode::OK);
    assert!(bad.text().await.unwrap().contains("role=\"alert\""), "a bad identity is said in words");
    assert_eq!(vic.get("/surveys/nope").await.status(), StatusCode::NOT_FOUND);
}

/// Privacy in the dashboard: consent on the customer's page; an admin downloads or erases the
/// person (confirmed by a typed word); retention saved and applied from Settings.
pub async fn privacy_in_the_dashboard(app: TestApp) {
    let ana = app.session("ana@acme.test", &app.create_user("ana@acme.test", "admin").await).await;
    let al = app.session("al@acme.test", &app.create_user("al@acme.test", "analyst").await).await;
    let identify = json!({"userId": "pia-1", "traits": {"email": "pia@example.com", "name": "Pia Lund"}});
    assert_eq!(app.send("/v1/identify", &identify).await.status(), StatusCode::OK);
    let refusal = json!({"identity": "email:pia@example.com", "choices": [{"purpose": "surveys", "channel": "sms", "granted": false}]});
    let put = app.client.put(app.url("/v1/consent")).bearer_auth(&app.admin_key).json(&refusal).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let id = app.customer("userId:pia-1").await["id"].as_str().unwrap().to_owned();

    let page = ana.get(&format!("/customers/{id}")).await.text().await.unwrap();
    assert!(page.contains("Consent") && page.contains("sms: refused") && page.contains("by api"), "{page}");
    assert!(page.contains("Erase this person") && page.contains(&format!("/customers/{id}/export")));
    let analyst_page = al.get(&format!("/customers/{id}")).await.text().await.unwrap();
    assert!(analyst_page.contains("Consent") && !analyst_page.contains("Erase this person"));
    assert_eq!(al.get(&format!("/customers/{id}/export")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        al.post(&format!("/customers/{id}/erase"), &[("confirm", "ERASE")]).await.status(),
        StatusCode::FORBIDDEN
    );

    let download = ana.get(&format!("/customers/{id}/export")).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert!(download.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let document: Value = download.json().await.unwrap();
    assert_eq!(document["data"]["events"].as_array().map(Vec::len), Some(1), "{document}");

    // Not confirmed: nothing happens. Without the CSRF token: refused.
    let unconfirmed = ana.post(&format!("/customers/{id}/erase"), &[("confirm", "erase me")]).await;
    assert_eq!(unconfirmed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(ana.get(&format!("/customers/{id}")).await.status(), StatusCode::OK);
    let forged = ana.post_raw(&format!("/customers/{id}/erase"), &[("confirm", "ERASE")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let erased = ana.post(&format!("/customers/{id}/erase"), &[("confirm", "ERASE")]).await;
    assert_eq!(erased.status(), StatusCode::OK);
    assert!(erased.text().await.unwrap().contains("The person is erased"));
    assert_eq!(ana.get(&format!("/customers/{id}")).await.status(), StatusCode::NOT_FOUND);

    // Retention from Settings: problems in words, then saved, then applied.
    let settings = ana.get("/settings").await.text().await.unwrap();
    assert!(settings.contains("Privacy: retention") && settings.contains("Save retention"));
    let bad = ana.post("/settings/privacy", &[("events", "0"), ("cases", "soon")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let text = bad.text().await.unwrap();
    assert!(text.contains("events: must be a whole number") && text.contains("cases: must be a number"), "{text}");
    let saved = ana.post("/settings/privacy", &[("events", "400"), ("responses", ""), ("cases", "30")]).await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert!(saved.text().await.unwrap().contains("Retention saved."));
    let rules = app.read("/v1/privacy/settings").await;
    assert_eq!(
        rules["retention_days"],
        json!({"events": 400, "responses": null, "feedback": null, "invitations": null, "cases": 30})
    );
    let applied = ana.post("/settings/privacy/run", &[]).await.text().await.unwrap();
    assert!(applied.contains("Retention applied: 0 rows"), "{applied}");
    assert_eq!(al.post("/settings/privacy", &[("events", "1")]).await.status(), StatusCode::FORBIDDEN);
}
