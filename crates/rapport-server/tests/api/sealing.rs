//! Personal data at rest: names, e-mail addresses and phone numbers sealed wherever the store
//! keeps them, found through blind indexes, shown in the clear through the API.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, status_and_json};

/// Three customers, each on several channels, with everything that names them.
const PEOPLE: [(&str, &str, &str, &str); 3] = [
    ("u-100", "ada.lovelace@example.com", "+44 20 7946 0101", "Ada Lovelace"),
    ("u-200", "grace.hopper@example.net", "+1 415 555 0199", "Grace Hopper"),
    ("u-300", "katherine.j@example.org", "+49 151 23456789", "Katherine Johnson"),
];

/// The E.164 form the store would keep if it kept numbers at all.
fn e164(phone: &str) -> String {
    phone.chars().filter(|c| *c == '+' || c.is_ascii_digit()).collect()
}

pub async fn personal_data_is_sealed_at_rest(app: TestApp) {
    let mut batch = Vec::new();
    for (n, (user, email, phone, name)) in PEOPLE.iter().enumerate() {
        batch.push(
            json!({"type": "page", "anonymousId": format!("anon-{n}"), "name": "Pricing", "messageId": format!("p-{n}"),
                          "context": {"channel": "web", "traits": {"email": email}}}),
        );
        batch.push(json!({"type": "identify", "userId": user, "anonymousId": format!("anon-{n}"), "messageId": format!("i-{n}"),
                          "traits": {"email": email, "phone": phone, "name": name, "plan": "pro"}}));
        batch.push(json!({"type": "track", "userId": user, "event": "Support Call", "messageId": format!("t-{n}"),
                          "context": {"channel": "phone"}, "properties": {"phone": phone, "minutes": 7}}));
    }
    assert_eq!(app.send("/v1/batch", &json!({"batch": batch})).await.status(), StatusCode::OK);
    let (status, survey) = status_and_json(
        app.post(
            "/v1/surveys",
            &app.admin_key,
            &json!({"name": "Support", "kind": "transactional",
            "questions": [{"id": "nps", "type": "nps"}]}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{survey}");
    let survey = survey["id"].as_str().unwrap();
    for (_, email, phone, _) in PEOPLE {
        let answer = json!({"customer": format!("email:{email}"), "answers": {"nps": 4}});
        let response =
            app.post(&format!("/v1/surveys/{survey}/responses"), &app.write_key, &answer).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.text().await.unwrap());
        let item = json!({"items": [{"source": "chat", "text": "Too slow", "customer": format!("phone:{phone}")}]});
        assert_eq!(app.post("/v1/feedback", &app.write_key, &item).send().await.unwrap().status(), StatusCode::OK);
        let consent =
            json!({"identity": format!("email:{email}"), "choices": [{"purpose": "marketing", "granted": false}]});
        let response =
            app.client.put(app.url("/v1/consent")).bearer_auth(&app.admin_key).json(&consent).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let case = json!({"title": "Call back", "customer": format!("email:{email}")});
        assert_eq!(app.post("/v1/cases", &app.admin_key, &case).send().await.unwrap().status(), StatusCode::CREATED);
    }

    // Found by any identity, shown in the clear.
    for (user, email, phone, name) in PEOPLE {
        for identity in [format!("email:{}", email.to_uppercase()), format!("phone:{phone}")] {
            let found = app.read(&format!("/v1/customers?identity={}", urlencode(&identity))).await;
            let customer = &found["data"][0];
            assert_eq!(customer["traits"]["name"]["value"], name, "{identity}: {customer}");
            assert_eq!(customer["traits"]["email"]["value"], email, "{customer}");
            let keys: Vec<String> = customer["identities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| format!("{}:{}", i["type"].as_str().unwrap(), i["value"].as_str().unwrap()))
                .collect();
            for key in [format!("email:{email}"), format!("phone:{}", e164(phone)), format!("userId:{user}")] {
                assert!(keys.contains(&key), "{key} in {customer}");
            }
        }
        let id = app.read(&format!("/v1/customers?identity=userId:{user}")).await["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let timeline = app.read(&format!("/v1/customers/{id}/timeline")).await;
        let text = timeline.to_string();
        assert!(text.contains(email) && text.contains(phone) && text.contains(name), "{timeline}");
        let cases = app.read(&format!("/v1/cases?customer={id}")).await;
        assert!(cases.to_string().contains(&format!("email:{email}")), "{cases}");
    }
    let responses = app.read(&format!("/v1/surveys/{survey}/responses")).await;
    for (_, email, ..) in PEOPLE {
        assert!(responses.to_string().contains(&format!("email:{email}")), "{responses}");
    }

    // On disk: none of it, in any form the API takes or shows.
    let raw = String::from_utf8_lossy(&app.database().raw_bytes().await).to_lowercase();
    for (_, email, phone, name) in PEOPLE {
        for secret in [email.to_owned(), phone.to_owned(), e164(phone), name.to_owned()] {
            assert!(!raw.contains(&secret.to_lowercase()), "`{secret}` is on disk in the clear");
        }
    }
    assert!(raw.contains("enc1:") && raw.contains("email#"), "sealed values and blind indexes are what is there");
    // What does not name a person stays readable (and queryable).
    assert!(raw.contains("u-100") && raw.contains("support call"));

    // Another installation's keys do not open this database: refused, not mixed.
    let other = rapport_store::Store::connect(app.database().url(), rapport_store::StoreOptions::default()).await;
    let error = other.expect_err("other keys are refused").to_string();
    assert!(error.contains("written with other keys"), "{error}");
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(' ', "%20").replace('@', "%40")
}
