//! `rapport demo`: Evergreen, the demo company, is generated, loaded and replaced (never
//! doubled), and every planted truth (DEMO.md) for which Rapport has the capability is found
//! through the public API.

use std::path::Path;

use serde_json::Value;

use crate::process::{Server, rapport, run, stderr, stdout};

/// The history ends here, so the dates of the truths are known: the app release that broke
/// logins went out 45 days earlier, at 14:00 UTC, and was fixed 9 days later.
const END: &str = "2026-06-30";
const RELEASE: &str = "2026-05-16T14:00:00";
const FIXED: &str = "2026-05-25T14:00:00";

fn demo(directory: &Path, customers: &str) -> String {
    let output =
        run(rapport(directory).args(["demo", "--customers", customers, "--seed", "7", "--end", END, "--no-serve"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let key = stdout(&output).trim().to_owned();
    assert!(key.starts_with("rpk_"), "the admin key alone on stdout: {key}");
    key
}

async fn get(server: &Server, key: &str, path: &str) -> Value {
    let response = reqwest::Client::new().get(server.url(path)).bearer_auth(key).send().await.unwrap();
    assert!(response.status().is_success(), "GET {path}: {}", response.status());
    response.json().await.unwrap()
}

/// The group `value` of `dimension` in a metric report, and every other group.
fn split<'a>(report: &'a Value, dimension: &str, value: &str) -> (&'a Value, Vec<&'a Value>) {
    let groups = report["groups"].as_array().unwrap();
    let (one, others): (Vec<&Value>, Vec<&Value>) = groups.iter().partition(|g| g["key"][dimension] == value);
    assert_eq!(one.len(), 1, "{value} in {report}");
    assert!(others.len() >= 3, "{report}");
    (one[0], others)
}

/// Below every other group with no overlap of the 95% intervals.
fn clearly_lowest(one: &Value, others: &[&Value]) {
    for other in others {
        assert!(
            one["ci_high"].as_f64().unwrap() < other["ci_low"].as_f64().unwrap(),
            "{one} is not clearly below {other}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_company_holds_its_planted_truths() {
    let directory = tempfile::tempdir().unwrap();
    let key = demo(directory.path(), "4000");
    let server = Server::start(directory.path(), &[]);
    let year = "from=2025-07-01&to=2026-06-29";

    // 1. Shipping delays in one region drive detractors: the South's NPS is clearly the lowest,
    //    and late delivery is what its comments, and detractors' comments, mention more.
    let nps = get(&server, &key, &format!("/v1/metrics/nps?group_by=traits.region&{year}")).await;
    let (south, others) = split(&nps, "traits.region", "South");
    clearly_lowest(south, &others);
    for group in ["traits.region:South", "detractors"] {
        let causes = get(&server, &key, &format!("/v1/analysis/root-causes?group={group}&{year}")).await;
        let top = &causes["topics"][0];
        assert!(["delivery", "late-delivery"].contains(&top["topic"].as_str().unwrap()), "{group}: {causes}");
        assert!(top["differenceInterval"]["low"].as_f64().unwrap() > 0.0, "{group}: {top}");
    }

    // 2. A login bug after a release causes a spike of negative feedback: a login alert raised
    //    on a window of the days the bug lasted, and none on any other.
    let alerts = get(&server, &key, "/v1/alerts?limit=200").await;
    let login: Vec<&Value> = alerts["data"].as_array().unwrap().iter().filter(|a| a["topic"] == "login").collect();
    assert!(!login.is_empty(), "{alerts}");
    for alert in &login {
        let (start, end) = (alert["window"]["start"].as_str().unwrap(), alert["window"]["end"].as_str().unwrap());
        assert!(end > RELEASE && start < FIXED, "a login alert whose window misses the bug: {alert}");
    }

    // 3. Falling logins and visits to the cancellation help page precede churn: the churn model
    //    validates well and leans on both.
    let model = get(&server, &key, "/v1/churn/model").await;
    assert!(model["validation"]["rocAuc"].as_f64().unwrap() >= 0.75, "{model}");
    let leading: Vec<&str> =
        model["importance"].as_array().unwrap().iter().take(5).map(|i| i["column"].as_str().unwrap()).collect();
    assert!(leading.contains(&"help_visits_30d"), "{leading:?}");
    // Sign-ins are most of a member's activity: the model may credit either.
    assert!(leading.iter().any(|c| c.starts_with("logins_") || c.starts_with("activity_")), "{leading:?}");
    let risky = get(&server, &key, "/v1/predictions?flagged=true&limit=5").await;
    assert!(!risky["predictions"].as_array().unwrap().is_empty(), "customers at risk are flagged: {risky}");

    // 4. The mobile checkout step is the worst friction point: first in the purchase journey's
    //    friction ranking, worse than the web's checkout in every component it has, and the
    //    app's customers go on from checkout less than the web's.
    let journeys = get(&server, &key, "/v1/journeys").await;
    let purchase = journeys["data"].as_array().unwrap().iter().find(|j| j["name"] == "Online purchase").unwrap();
    let id = purchase["id"].as_str().unwrap();
    let two_years = "from=2024-07-01&to=2026-06-30";
    let report = get(&server, &key, &format!("/v1/journeys/{id}/analytics?{two_years}")).await;
    assert_eq!(report["frictionRanking"][0], "checkout_app", "{}", report["frictionRanking"]);
    let touchpoint = |key: &str| report["touchpoints"].as_array().unwrap().iter().find(|t| t["key"] == key).unwrap();
    let (app, web) = (touchpoint("checkout_app"), touchpoint("checkout_web"));
    for component in ["dropOff", "repeat", "effort"] {
        assert!(app["friction"][component].as_f64() > web["friction"][component].as_f64(), "{component}: {app} {web}");
    }
    assert!(app["dropOff"]["interval"]["low"].as_f64() > web["dropOff"]["interval"]["high"].as_f64(), "{app} {web}");
    let compared = get(
        &server,
        &key,
        &format!("/v1/journeys/{id}/analytics?{two_years}&segment=channel:web&compare=channel:mobile"),
    )
    .await;
    let checkout = &compared["comparison"]["differences"]["stages"][0];
    assert!(checkout["continued"]["ci_high"].as_f64().unwrap() < 0.0, "{checkout}");

    // The same numbers through the CLI, and the map.
    let map = directory.path().join("purchase.svg");
    let cli = run(rapport(directory.path())
        .args(["journeys", "analytics", "Online purchase", "--workspace", "demo"])
        .args(["--from", "2024-07-01", "--to", "2026-06-30", "--json", "--svg"])
        .arg(&map));
    assert!(cli.status.success(), "{}", stderr(&cli));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&cli)).unwrap(), report);
    assert!(std::fs::read_to_string(&map).unwrap().contains("Checkout (app)"));
    let table = run(rapport(directory.path()).args(["journeys", "analytics", id, "--workspace", "demo"]).args([
        "--from",
        "2024-07-01",
        "--to",
        "2026-06-30",
    ]));
    let table = stdout(&table);
    let first = table.lines().find(|line| line.trim_start().starts_with("1 ")).unwrap_or_default();
    assert!(first.contains("Checkout (app)"), "{table}");
    let missing = run(rapport(directory.path()).args(["journeys", "analytics", "Onboarding", "--workspace", "demo"]));
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no journey `Onboarding`"), "{}", stderr(&missing));

    // 5. One support agent's CSAT is far below the others'.
    let csat = get(&server, &key, &format!("/v1/metrics/csat?group_by=agent&{year}")).await;
    let (casey, others) = split(&csat, "agent", "Casey Brooks");
    clearly_lowest(casey, &others);
    server.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_demo_replaces_the_first() {
    let directory = tempfile::tempdir().unwrap();
    let all = "/v1/metrics/nps?from=2024-06-01&to=2026-06-29";
    let first = demo(directory.path(), "300");
    let server = Server::start(directory.path(), &[]);
    let before = get(&server, &first, all).await;
    server.terminate();

    let second = demo(directory.path(), "300");
    let server = Server::start(directory.path(), &[]);
    let after = get(&server, &second, all).await;
    assert_eq!(after["groups"][0]["n"], before["groups"][0]["n"], "the same company, once: {before} {after}");
    assert!(after["groups"][0]["n"].as_u64().unwrap() > 30, "{after}");
    let old = reqwest::Client::new().get(server.url(all)).bearer_auth(&first).send().await.unwrap();
    assert_eq!(old.status(), 401, "the replaced workspace's key is gone with it");
    server.terminate();

    for (args, problem) in [
        (vec!["--customers", "0"], "0 is not in 1..=1000000"),
        (vec!["--end", "2999-01-01"], "cannot end in the future"),
        (vec!["--end", "30/06/2026"], "is not a date like 2026-06-30"),
    ] {
        let output = run(rapport(directory.path()).arg("demo").args(&args).arg("--no-serve"));
        assert!(!output.status.success());
        assert!(stderr(&output).contains(problem), "{args:?}: {}", stderr(&output));
    }
}
