//! The pages suite: each dashboard page of the default demo company, timed from a client on the
//! same machine (the first request, then the median of the next ones), against the 300 ms target.
//! The built `rapport` binary beside this one loads the demo and serves it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub async fn measure(customers: usize, repeats: usize) -> anyhow::Result<String> {
    let binary = std::env::current_exe()?.with_file_name("rapport");
    anyhow::ensure!(binary.exists(), "{} is missing: cargo build --release -p rapport first", binary.display());
    let directory = tempfile::tempdir()?;
    let data = directory.path().join("data");
    let data = data.to_str().unwrap_or_default();
    let demo = Command::new(&binary)
        .args(["demo", "--no-serve", "--customers", &customers.to_string(), "--data-dir", data])
        .output()
        .context("run rapport demo")?;
    anyhow::ensure!(demo.status.success(), "demo: {}", String::from_utf8_lossy(&demo.stderr));
    let key = String::from_utf8_lossy(&demo.stdout).trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let address = format!("127.0.0.1:{port}");
    let mut server = Command::new(&binary)
        .args(["serve", "--data-dir", data, "--listen", &address])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("run rapport serve")?;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let base = format!("http://{address}");
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Steady state: what the server builds at start is built.
    loop {
        let ready: serde_json::Value = client.get(format!("{base}/readyz")).send().await?.json().await?;
        if ready["caches"] == "warm" {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the caches never warmed: {ready}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let warmed = started.elapsed().as_secs_f64();
    // The demo admin's sign-in, which `rapport demo --no-serve` prints on stderr.
    let stderr = String::from_utf8_lossy(&demo.stderr);
    let (email, password) = stderr
        .lines()
        .find_map(|line| line.strip_prefix("dashboard sign-in: ")?.split_once(" / "))
        .context("the demo printed no dashboard sign-in")?;
    let signed_in =
        client.post(format!("{base}/sign-in")).form(&[("email", email), ("password", password)]).send().await?;
    let cookie = signed_in
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .context("signing in set no cookie")?
        .to_owned();
    let journeys: serde_json::Value =
        client.get(format!("{base}/v1/journeys")).bearer_auth(&key).send().await?.json().await?;
    let purchase = journeys["data"][0]["id"].as_str().unwrap_or_default().to_owned();
    let cases: serde_json::Value =
        client.get(format!("{base}/v1/cases?limit=1")).bearer_auth(&key).send().await?.json().await?;
    let case = cases["data"][0]["id"].as_str().unwrap_or_default().to_owned();
    let customer: serde_json::Value = client
        .get(format!("{base}/v1/customers?identity=userId:cus_0000042"))
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;
    let customer = customer["data"][0]["id"].as_str().unwrap_or_default().to_owned();
    let surveys: serde_json::Value =
        client.get(format!("{base}/v1/surveys")).bearer_auth(&key).send().await?.json().await?;
    let survey = surveys["data"][0]["id"].as_str().unwrap_or_default().to_owned();
    // (what, route as shown, path requested)
    let pages = [
        ("overview", "/overview", "/overview".to_owned()),
        ("journeys", "/journeys", "/journeys".to_owned()),
        ("a journey (all customers)", "/journeys/{id}", format!("/journeys/{purchase}")),
        (
            "a journey (a segment)",
            "/journeys/{id}?segment=channel:mobile",
            format!("/journeys/{purchase}?segment=channel:mobile"),
        ),
        ("feedback", "/feedback", "/feedback".to_owned()),
        ("feedback by a topic", "/feedback?topic=late-delivery", "/feedback?topic=late-delivery".to_owned()),
        ("drivers and root causes", "/drivers", "/drivers".to_owned()),
        ("cases", "/cases", "/cases".to_owned()),
        ("a case", "/cases/{id}", format!("/cases/{case}")),
        ("a customer", "/customers/{id}", format!("/customers/{customer}")),
        ("surveys", "/surveys", "/surveys".to_owned()),
        ("a survey", "/surveys/{id}", format!("/surveys/{survey}")),
        (
            "a survey's dry run (two customers)",
            "/surveys/{id}?customers=…",
            format!("/surveys/{survey}?customers=userId%3Acus_0000042%0AuserId%3Acus_0000043"),
        ),
        ("account", "/account", "/account".to_owned()),
        ("settings", "/settings", "/settings".to_owned()),
    ];
    let mut rows = Vec::new();
    for (name, route, path) in pages {
        let mut times = Vec::new();
        for _ in 0..=repeats.max(5) {
            let started = Instant::now();
            let response = client.get(format!("{base}{path}")).header("cookie", &cookie).send().await?;
            anyhow::ensure!(response.status().is_success(), "{path}: {}", response.status());
            response.bytes().await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let first = times.remove(0);
        rows.push(format!("| {name} | `{route}` | {first:.0} ms | {:.0} ms |", median(times)));
    }
    let _ = server.kill();
    let _ = server.wait();
    Ok(format!("{}\n\nThe server's caches were warm {warmed:.1} s after it started.", rows.join("\n")))
}
