//! The dashboard in headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `scripts/setup` installs): sign in (a wrong password first), read the overview, open a journey and
//! filter it, sign out; on a laptop-sized and a phone-sized window. Every page must run without a
//! script error (the dashboard's own script keeps them in `window.__rapportErrors`), and each is
//! saved as a screenshot in `target/browser-screenshots/` (or `$RAPPORT_SCREENSHOTS`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::process::{Server, rapport, run, stderr, stdout};

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is missing: scripts/setup installs Debian's chromium and chromium-driver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let directory = std::env::var_os("RAPPORT_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots"));
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// Saves the page and fails on any script error it had.
async fn check(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
    let errors = browser
        .execute("return window.__rapportErrors || ['the dashboard script did not load'];", vec![])
        .await
        .unwrap();
    assert_eq!(errors, json!([]), "script errors on {name}");
}

/// The text of the first element `css` selects, waiting for it (a click's page may still load).
async fn text(browser: &Client, css: &str) -> String {
    let element = browser.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(css)).await;
    element.unwrap_or_else(|_| panic!("{css} is missing")).text().await.unwrap()
}

/// The element `locator` finds, waiting for it to appear.
async fn find(browser: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    let found = browser.wait().at_most(Duration::from_secs(15)).for_element(locator).await;
    found.unwrap_or_else(|error| panic!("{locator:?} is missing: {error}"))
}

/// Waits until the first element `css` selects contains `needle` (a form's answer may still load).
async fn wait_for_text(browser: &Client, css: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await
            && element.text().await.is_ok_and(|text| text.contains(needle))
        {
            return;
        }
        assert!(Instant::now() < deadline, "{css} never said {needle:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the page's path satisfies `wanted` (after a click that navigates).
async fn wait_for_path(browser: &Client, wanted: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = browser.current_url().await.unwrap();
        if wanted(url.path()) {
            return;
        }
        assert!(Instant::now() < deadline, "still at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The phone number (E.164) of one of the demo's customers who gave one.
async fn phone_of_some_customer(server: &Server, key: &str) -> String {
    let client = reqwest::Client::new();
    for index in 0..200 {
        let url = server.url(&format!("/v1/customers?identity=userId:cus_{index:07}"));
        let found: Value = client.get(url).bearer_auth(key).send().await.unwrap().json().await.unwrap();
        let identities = found["data"][0]["identities"].as_array().cloned().unwrap_or_default();
        if let Some(phone) = identities.iter().find(|i| i["type"] == "phone") {
            return phone["value"].as_str().unwrap().to_owned();
        }
    }
    panic!("no demo customer with a phone number among the first 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cx_manager_signs_in_reads_the_overview_and_works_a_journey() {
    let directory = tempfile::tempdir().unwrap();
    let demo = run(rapport(directory.path()).args(["demo", "--customers", "1500", "--seed", "11", "--no-serve"]));
    assert!(demo.status.success(), "{}", stderr(&demo));
    let key = stdout(&demo).trim().to_owned();
    let printed = stderr(&demo);
    let (email, password) = printed
        .lines()
        .find_map(|line| line.strip_prefix("dashboard sign-in: ")?.split_once(" / "))
        .expect("the demo prints the admin's sign-in");
    let server = Server::start(directory.path(), &[]);
    let driver = Driver::start();
    let capabilities: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
            "--disable-gpu", "--window-size=1280,1000"]}
    }))
    .unwrap();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector).capabilities(capabilities).connect(&driver.url).await.unwrap();

    // Signing in: a wrong password is refused in words, the right one opens the overview.
    browser.goto(&server.url("/")).await.unwrap();
    wait_for_path(&browser, |path| path == "/sign-in").await;
    check(&browser, "sign-in").await;
    find(&browser, Locator::Id("email")).await.send_keys(email).await.unwrap();
    find(&browser, Locator::Id("password")).await.send_keys("not the password").await.unwrap();
    find(&browser, Locator::Css("form button[type=submit]")).await.click().await.unwrap();
    assert!(text(&browser, "[role=alert]").await.contains("do not match an account"));
    check(&browser, "sign-in-refused").await;
    // The address stays filled in; the password does not.
    find(&browser, Locator::Id("password")).await.send_keys(password).await.unwrap();
    find(&browser, Locator::Css("form button[type=submit]")).await.click().await.unwrap();

    // The overview: each score with its n and interval.
    wait_for_path(&browser, |path| path == "/overview").await;
    assert_eq!(text(&browser, "h1").await, "Overview");
    let nps = text(&browser, "#tile-nps + .score").await;
    assert!(nps.contains("NPS") || nps.chars().any(|c| c.is_ascii_digit()), "{nps}");
    let tile = text(&browser, "section[aria-labelledby=tile-nps]").await;
    assert!(tile.contains("n = ") && tile.contains("95% CI"), "{tile}");
    check(&browser, "overview").await;

    // Journeys: the purchase journey's map and friction, the app's checkout first.
    find(&browser, Locator::LinkText("Journeys")).await.click().await.unwrap();
    check(&browser, "journeys").await;
    find(&browser, Locator::LinkText("Online purchase")).await.click().await.unwrap();
    find(&browser, Locator::Css("figure.map svg")).await;
    let first = text(&browser, "table[aria-labelledby=friction] tbody tr").await;
    assert!(first.contains("Checkout (app)"), "{first}");
    check(&browser, "journey").await;
    // A segment through the filter form.
    let segment = find(&browser, Locator::Id("segment")).await;
    segment.clear().await.unwrap();
    segment.send_keys("channel:mobile").await.unwrap();
    find(&browser, Locator::Css("form.filters button")).await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !browser.current_url().await.unwrap().query().unwrap_or_default().contains("segment=channel%3Amobile") {
        assert!(Instant::now() < deadline, "the segment form did not submit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text(&browser, "figure.map").await.contains("channel:mobile"));
    check(&browser, "journey-mobile-segment").await;

    // Feedback filtered by a topic: every item mentions it, marked in its text.
    find(&browser, Locator::LinkText("Feedback")).await.click().await.unwrap();
    wait_for_text(&browser, "table[aria-labelledby=trends]", "Late delivery").await;
    check(&browser, "feedback").await;
    find(&browser, Locator::Css("select#topic")).await.select_by_value("late-delivery").await.unwrap();
    find(&browser, Locator::Css("form.filters button")).await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !browser.current_url().await.unwrap().query().unwrap_or_default().contains("topic=late-delivery") {
        assert!(Instant::now() < deadline, "the topic filter did not submit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let items = browser.find_all(Locator::Css("ol.feedback > li")).await.unwrap();
    assert!(!items.is_empty(), "the demo has late-delivery feedback");
    for item in items.iter().take(10) {
        item.find(Locator::Css("a.chip[href='/feedback?topic=late-delivery']")).await.expect("the topic's chip");
        item.find(Locator::Css("mark")).await.expect("a marked mention");
    }
    check(&browser, "feedback-late-delivery").await;

    // What drives NPS: the quadrant and the topics detractors mention more than the rest.
    find(&browser, Locator::LinkText("Drivers")).await.click().await.unwrap();
    wait_for_text(&browser, "h1", "Drivers and root causes").await;
    find(&browser, Locator::Css("svg.quadrant")).await;
    let causes = browser.find_all(Locator::Css("table[aria-labelledby=causes] tbody tr")).await.unwrap();
    assert!(!causes.is_empty(), "detractors' topics are listed");
    check(&browser, "drivers").await;

    // A detractor case, worked and closed with a root cause (refused without one, in words).
    find(&browser, Locator::LinkText("Cases")).await.click().await.unwrap();
    check(&browser, "cases").await;
    find(&browser, Locator::Css("table[aria-label=Cases] tbody tr a")).await.click().await.unwrap();
    wait_for_path(&browser, |path| path.starts_with("/cases/")).await;
    assert!(text(&browser, "h1").await.starts_with("Detractor follow-up"));
    find(&browser, Locator::Id("note")).await.send_keys("Called them; the parcel was late twice.").await.unwrap();
    find(&browser, Locator::Css("form[action$='/note'] button")).await.click().await.unwrap();
    wait_for_text(&browser, "table[aria-labelledby=history]", "the parcel was late twice").await;
    find(&browser, Locator::Css("form[action$='/move'] button")).await.click().await.unwrap();
    wait_for_text(&browser, "[role=alert]", "rootCause: required to close a case").await;
    find(&browser, Locator::Css("select#rootCause")).await.select_by_value("delivery").await.unwrap();
    find(&browser, Locator::Id("resolution"))
        .await
        .send_keys("Refunded the shipping; carrier escalated")
        .await
        .unwrap();
    find(&browser, Locator::Css("form[action$='/move'] button")).await.click().await.unwrap();
    wait_for_text(&browser, "section[aria-labelledby=about]", "Root cause: delivery").await;
    assert!(text(&browser, ".lead").await.starts_with("closed"));
    check(&browser, "case-closed").await;

    // A customer found by phone number, typed as people write it, and their timeline.
    let phone = phone_of_some_customer(&server, &key).await;
    let typed = format!("+1 {}-{}-{}", &phone[2..5], &phone[5..8], &phone[8..]);
    find(&browser, Locator::LinkText("Customers")).await.click().await.unwrap();
    find(&browser, Locator::Id("q")).await.send_keys(&typed).await.unwrap();
    find(&browser, Locator::Css("form[role=search] button")).await.click().await.unwrap();
    wait_for_path(&browser, |path| path.starts_with("/customers/")).await;
    let identities = text(&browser, "table[aria-labelledby=identities]").await;
    assert!(identities.contains(&phone), "{identities}");
    let timeline = text(&browser, "table[aria-labelledby=timeline] tbody").await;
    assert!(timeline.contains("Signed Up"), "the timeline reaches back to the sign-up: {timeline}");
    check(&browser, "customer").await;
    browser.goto(&server.url("/customers?q=nobody%40example.com")).await.unwrap();
    assert!(text(&browser, "[role=status]").await.contains("No customer has the identity"));

    // A survey built, refused without a name, previewed as respondents will see it, created.
    find(&browser, Locator::LinkText("Surveys")).await.click().await.unwrap();
    check(&browser, "surveys").await;
    find(&browser, Locator::LinkText("Build a survey")).await.click().await.unwrap();
    find(&browser, Locator::Css("select#type2")).await.select_by_value("ces").await.unwrap();
    find(&browser, Locator::Id("text2")).await.clear().await.unwrap();
    find(&browser, Locator::Id("text2")).await.send_keys("Checking out was easy.").await.unwrap();
    browser.execute("document.getElementById('name').removeAttribute('required')", vec![]).await.unwrap();
    find(&browser, Locator::Css("button[value=preview]")).await.click().await.unwrap();
    wait_for_text(&browser, "[role=alert]", "name").await;
    find(&browser, Locator::Id("name")).await.send_keys("Checkout pulse").await.unwrap();
    find(&browser, Locator::Css("button[value=preview]")).await.click().await.unwrap();
    let frame = find(&browser, Locator::Css("iframe.preview")).await;
    let document = frame.attr("srcdoc").await.unwrap().unwrap_or_default();
    assert!(document.contains("Checkout pulse") && document.contains("Checking out was easy."), "{document}");
    check(&browser, "survey-preview").await;
    // When it goes out: a link after each completed order from the app, an hour later.
    find(&browser, Locator::Css("select#channel")).await.select_by_value("link").await.unwrap();
    find(&browser, Locator::Id("triggerEvent")).await.send_keys("Order Completed").await.unwrap();
    find(&browser, Locator::Id("triggerWhere")).await.send_keys("context.channel").await.unwrap();
    find(&browser, Locator::Id("triggerEquals")).await.send_keys("mobile").await.unwrap();
    find(&browser, Locator::Id("delayMinutes")).await.send_keys("60").await.unwrap();
    find(&browser, Locator::Css("button[value=create]")).await.click().await.unwrap();
    wait_for_text(
        &browser,
        "#delivery + .card",
        "After Order Completed where context.channel = \"mobile\", 60 minutes later",
    )
    .await;
    find(&browser, Locator::LinkText("Surveys")).await.click().await.unwrap();
    wait_for_text(&browser, "table[aria-label=Surveys]", "Checkout pulse").await;
    // A demo survey's page: its trigger and contact rules, and a dry run for two customers.
    find(&browser, Locator::LinkText("Support satisfaction")).await.click().await.unwrap();
    wait_for_text(&browser, "#delivery + .card", "Support Ticket Closed").await;
    let audience = find(&browser, Locator::Id("customers")).await;
    audience.send_keys("userId:cus_0000001\nemail:nobody@example.com").await.unwrap();
    find(&browser, Locator::Css("#dry-run + .card button[type=submit]")).await.click().await.unwrap();
    wait_for_text(&browser, "[role=status]", "of 2 would be asked now").await;
    check(&browser, "survey-dry-run").await;

    // Settings: a new read key, shown once, that works.
    find(&browser, Locator::LinkText("Settings")).await.click().await.unwrap();
    find(&browser, Locator::Css("select#role")).await.select_by_value("read").await.unwrap();
    find(&browser, Locator::Css("form[action='/settings/keys'] button")).await.click().await.unwrap();
    let made = text(&browser, "#new-key").await;
    assert!(made.starts_with("rpk_"), "{made}");
    let works = reqwest::Client::new().get(server.url("/v1/journeys")).bearer_auth(&made).send().await.unwrap();
    assert!(works.status().is_success());
    check(&browser, "settings").await;

    // Users: an agent added from the settings page, with a password shown once.
    find(&browser, Locator::Id("new-email")).await.send_keys("alex@evergreen.example").await.unwrap();
    find(&browser, Locator::Id("new-name")).await.send_keys("Alex Kim").await.unwrap();
    find(&browser, Locator::Css("select#new-role")).await.select_by_value("agent").await.unwrap();
    find(&browser, Locator::Css("form[action='/settings/users'] button")).await.click().await.unwrap();
    let agent_password = text(&browser, "#new-password").await;
    assert_eq!(agent_password.len(), 20, "{agent_password}");
    check(&browser, "settings-users").await;
    find(&browser, Locator::LinkText("Account")).await.click().await.unwrap();
    assert!(text(&browser, "#totp-secret").await.len() >= 32);
    check(&browser, "account").await;

    // On a phone.
    browser.set_window_size(390, 844).await.unwrap();
    browser.goto(&server.url("/overview")).await.unwrap();
    check(&browser, "overview-phone").await;
    browser.set_window_size(1280, 1000).await.unwrap();

    // Signing out ends the session.
    browser.goto(&server.url("/overview")).await.unwrap();
    find(&browser, Locator::Css(".who button")).await.click().await.unwrap();
    wait_for_path(&browser, |path| path == "/sign-in").await;
    browser.goto(&server.url("/journeys")).await.unwrap();
    wait_for_path(&browser, |path| path == "/sign-in").await;

    // The agent lands on the cases, and the navigation shows what the role reaches.
    find(&browser, Locator::Id("email")).await.send_keys("alex@evergreen.example").await.unwrap();
    find(&browser, Locator::Id("password")).await.send_keys(&agent_password).await.unwrap();
    find(&browser, Locator::Css("form button[type=submit]")).await.click().await.unwrap();
    wait_for_path(&browser, |path| path == "/cases").await;
    let nav = text(&browser, "nav[aria-label=Sections]").await;
    assert!(nav.contains("Cases") && nav.contains("Customers") && !nav.contains("Overview"), "{nav}");
    // Their own cases first: the demo's detractor follow-ups assigned to Alex Kim.
    assert_eq!(text(&browser, "nav[aria-label='Case views'] [aria-current=page]").await, "Mine");
    let mine = text(&browser, "table[aria-label=Cases]").await;
    assert!(mine.contains("Alex Kim") && !mine.contains("Priya Shah"), "{mine}");
    check(&browser, "agent-cases").await;
    browser.close().await.unwrap();
    server.terminate();
}

/// A customer's own website (another origin than Rapport's): one page embedding the survey widget
/// for the visitor `?user=` names, and collecting its script errors.
struct Site {
    url: String,
}

impl Site {
    fn start(script: String, write_key: String) -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            use std::io::{BufRead, BufReader, Write};
            for stream in listener.incoming().flatten() {
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let user =
                    line.split("user=").nth(1).and_then(|rest| rest.split([' ', '&']).next()).unwrap_or("nobody");
                let page = format!(
                    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title>\
                     <script>window.__siteErrors=[];addEventListener('error',e=>__siteErrors.push(String(e.message)));\
                     addEventListener('unhandledrejection',e=>__siteErrors.push(String(e.reason)));</script></head>\
                     <body><h1>Our shop</h1><p>Welcome back.</p>\
                     <script src=\"{script}\" data-key=\"{write_key}\" data-user-id=\"{user}\" async></script></body></html>"
                );
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
            }
        });
        Site { url }
    }
}

/// The widget's state (`window.__rapportWidget.state`) once it is one of `states`.
async fn widget_state(browser: &Client, states: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = browser.execute("return window.__rapportWidget || {};", vec![]).await.unwrap();
        if status["state"].as_str().is_some_and(|state| states.contains(&state)) {
            return status;
        }
        assert!(Instant::now() < deadline, "the widget never reached {states:?}: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `action` on the widget's shadow root (`root`), returning what it returns.
async fn in_widget(browser: &Client, action: &str) -> Value {
    let script = format!("const root = document.querySelector('[data-rapport-widget]').shadowRoot; {action}");
    browser.execute(&script, vec![]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_survey_widget_on_a_customers_site() {
    let directory = tempfile::tempdir().unwrap();
    let key = |role: &str| {
        let output = run(rapport(directory.path()).args(["keys", "create", "--workspace", "shop", "--role", role]));
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output).trim().to_owned()
    };
    let (admin, write) = (key("admin"), key("write"));
    let server = Server::start(directory.path(), &[]);
    let api = reqwest::Client::new();
    let survey = json!({"name": "Site pulse", "kind": "relational", "thankYou": "Thanks, that helps!",
        "questions": [{"id": "nps", "type": "nps", "required": true},
                      {"id": "why", "type": "text", "text": "What is the main reason?", "showIf": {"question": "nps", "min": 0, "max": 8}}],
        "delivery": {"channel": "widget", "notAgainWithinDays": 30}});
    let make_survey = |definition: Value| {
        let request = api.post(server.url("/v1/surveys")).bearer_auth(&admin).json(&definition);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let created = make_survey(survey).await;
    let survey_id = created["id"].as_str().expect("the survey is made").to_owned();
    // Cleo answered a support survey yesterday: inside the workspace's rest after an answer.
    let support = json!({"name": "Support", "kind": "transactional", "questions": [{"id": "nps", "type": "nps"}]});
    let support = make_survey(support).await;
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let answered = json!({"customer": "userId:cleo", "submittedAt": yesterday, "answers": {"nps": 10}});
    let url = server.url(&format!("/v1/surveys/{}/responses", support["id"].as_str().unwrap()));
    assert!(api.post(url).bearer_auth(&write).json(&answered).send().await.unwrap().status().is_success());

    let site = Site::start(server.url("/widget.js"), write.clone());
    let driver = Driver::start();
    let capabilities: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
            "--disable-gpu", "--window-size=1280,900"]}
    }))
    .unwrap();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector).capabilities(capabilities).connect(&driver.url).await.unwrap();

    // An eligible visitor sees the survey; the follow-up appears for a middling score.
    browser.goto(&format!("{}/?user=ada", site.url)).await.unwrap();
    let shown = widget_state(&browser, &["shown", "hidden", "error"]).await;
    assert_eq!(shown["state"], "shown", "{shown}");
    assert_eq!(in_widget(&browser, "return root.querySelector('h2').textContent;").await, "Site pulse");
    assert_eq!(in_widget(&browser, "return root.querySelector('textarea').closest('fieldset').hidden;").await, true);
    in_widget(&browser, "root.querySelector('button[value=\"7\"]').click();").await;
    assert_eq!(in_widget(&browser, "return root.querySelector('textarea').closest('fieldset').hidden;").await, false);
    in_widget(
        &browser,
        "const area = root.querySelector('textarea'); area.value = 'Checkout was slow'; \
         area.dispatchEvent(new Event('input'));",
    )
    .await;
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join("widget-shown.png"), png).unwrap();
    in_widget(&browser, "root.querySelector('button.send').click();").await;
    let done = widget_state(&browser, &["answered", "error"]).await;
    assert_eq!(done["state"], "answered", "{done}");
    let errors = browser.execute("return window.__siteErrors;", vec![]).await.unwrap();
    assert_eq!(errors, json!([]), "script errors on the customer's site");
    let thanks = in_widget(&browser, "return root.querySelector('[role=status]').textContent;").await;
    assert_eq!(thanks, "Thanks, that helps!");
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join("widget-answered.png"), png).unwrap();
    let responses: Value = api
        .get(server.url(&format!("/v1/surveys/{survey_id}/responses")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = &responses["data"][0];
    assert_eq!((stored["customer"].as_str(), stored["channel"].as_str()), (Some("userId:ada"), Some("web")));
    assert_eq!(stored["answers"], json!({"nps": 7, "why": "Checkout was slow"}));

    // A visitor inside the cooldown is not shown it; nor is Ada again.
    for (user, reason) in [("cleo", "cooling_down_after_response"), ("ada", "survey_repeated_too_soon")] {
        browser.goto(&format!("{}/?user={user}", site.url)).await.unwrap();
        let hidden = widget_state(&browser, &["shown", "hidden", "error"]).await;
        assert_eq!(
            (hidden["state"].as_str(), hidden["reason"].as_str()),
            (Some("hidden"), Some(reason)),
            "{user}: {hidden}"
        );
        let widgets =
            browser.execute("return document.querySelectorAll('[data-rapport-widget]').length;", vec![]).await;
        assert_eq!(widgets.unwrap(), json!(0));
    }
    let errors = browser.execute("return window.__siteErrors;", vec![]).await.unwrap();
    assert_eq!(errors, json!([]), "script errors on the customer's site");
    browser.close().await.unwrap();
}
