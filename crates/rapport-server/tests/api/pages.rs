//! The dashboard's pages over HTTP: who may sign in, what a session opens, and errors in words
//! (the browser test drives the same pages in Chromium).

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::helpers::TestApp;

pub async fn pages_need_a_read_or_admin_key(app: TestApp) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |path: &str, cookie: Option<&str>| {
        let mut request = client.get(app.url(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("rapport_key={cookie}"));
        }
        request.send()
    };
    for path in ["/", "/overview", "/journeys"] {
        let response = get(path, None).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()[LOCATION], "/sign-in");
    }
    let sign_in = |key: &str| client.post(app.url("/sign-in")).form(&[("key", key)]).send();
    let refused = sign_in(&app.write_key).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("write key"));
    let unknown = sign_in("rpk_nothing").await.unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(unknown.text().await.unwrap().contains("not recognised"));
    let cross_site = client
        .post(app.url("/sign-in"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("key", app.read_key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN, "another site's form cannot sign anyone in");

    let proxied = client
        .post(app.url("/sign-in"))
        .header("x-forwarded-proto", "https")
        .form(&[("key", app.read_key.as_str())])
        .send()
        .await
        .unwrap();
    assert!(proxied.headers()[SET_COOKIE].to_str().unwrap().ends_with("; Secure"), "over HTTPS the cookie is Secure");
    let signed_in = sign_in(&app.read_key).await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let overview = get("/overview", Some(&app.read_key)).await.unwrap();
    assert_eq!(overview.status(), StatusCode::OK);
    let html = overview.text().await.unwrap();
    assert!(
        html.contains("<h1>Overview</h1>") && html.contains("No answers in the last 90 days."),
        "an empty workspace says so"
    );
    let journeys = get("/journeys", Some(&app.read_key)).await.unwrap().text().await.unwrap();
    assert!(journeys.contains("No journey is defined yet"), "the empty state says what to do");
    let missing = get("/journeys/nope", Some(&app.read_key)).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("no journey `nope` in this workspace"));
    let escaped = get("/journeys/%3Cscript%3E", Some(&app.read_key)).await.unwrap().text().await.unwrap();
    assert!(!escaped.contains("<script>") && escaped.contains("&lt;script&gt;"), "names are escaped");
    // A customer by phone number as people type it, and their 360 view.
    app.send(
        "/v1/identify",
        &serde_json::json!({"userId": "u-7", "traits": {"phone": "+1 404 555 0100", "name": "Ada <b>"}}),
    )
    .await;
    let found = get("/customers?q=%2B1%20(404)%20555-0100", Some(&app.read_key)).await.unwrap();
    assert_eq!(found.status(), StatusCode::SEE_OTHER);
    let location = found.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with("/customers/"), "{location}");
    let view = get(&location, Some(&app.read_key)).await.unwrap().text().await.unwrap();
    assert!(view.contains("+14045550100") && view.contains("Timeline across channels"), "{view}");
    assert!(view.contains("Ada &lt;b&gt;") && !view.contains("Ada <b>"), "traits are escaped");
    let nobody = get("/customers?q=nobody%40example.com", Some(&app.read_key)).await.unwrap().text().await.unwrap();
    assert!(nobody.contains("No customer has the identity"));
    // A read key sees the settings but cannot make keys.
    let settings = get("/settings", Some(&app.read_key)).await.unwrap().text().await.unwrap();
    assert!(settings.contains("Making keys needs an admin key") && settings.contains("Topic taxonomy"));
    let refused = client
        .post(app.url("/settings/keys"))
        .header("cookie", format!("rapport_key={}", app.read_key))
        .form(&[("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let out = client.post(app.url("/sign-out")).send().await.unwrap();
    assert!(out.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let css = get("/assets/app.css", None).await.unwrap();
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
}
