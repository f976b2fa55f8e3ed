//! `rapport export` and `rapport import workspace`: a workspace written out and loaded into an
//! empty database gives the same metrics, customers and feedback.

use std::path::Path;

use serde_json::Value;

use crate::process::{Server, rapport, run, stderr, stdout};

async fn get(server: &Server, key: &str, path: &str) -> Value {
    let response = reqwest::Client::new().get(server.url(path)).bearer_auth(key).send().await.unwrap();
    assert!(response.status().is_success(), "GET {path}: {}", response.status());
    response.json().await.unwrap()
}

fn rows(directory: &Path) -> Vec<(String, u64)> {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(directory.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "rapport-export");
    let files = manifest["files"].as_array().unwrap();
    files.iter().map(|f| (f["file"].as_str().unwrap().to_owned(), f["rows"].as_u64().unwrap())).collect()
}

fn export(directory: &Path, workspace: &str, into: &Path, database: &[&str]) {
    let output = run(rapport(directory).args(["export", "--workspace", workspace]).arg(into).args(database));
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_into_an_empty_sqlite_database_gives_the_same_metrics() {
    round_trip(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_from_sqlite_imported_into_postgres_gives_the_same_metrics() {
    let database = rapport_store::testing::TestDatabase::postgres().await;
    round_trip(&["--database-url", database.url()]).await;
}

/// Exports a small demo from SQLite, imports it into an empty database (`target_database` names
/// it; none: SQLite in a new directory) and compares what the API reports on both.
/// A way to spoil one file of an export.
type Damage = dyn Fn(&str) -> String;

async fn round_trip(target_database: &[&str]) {
    let (source, target, files) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let demo = run(rapport(source.path()).args([
        "demo",
        "--customers",
        "500",
        "--seed",
        "3",
        "--end",
        "2026-06-30",
        "--no-serve",
    ]));
    assert!(demo.status.success(), "{}", stderr(&demo));
    let source_key = stdout(&demo).trim().to_owned();
    let exported = files.path().join("evergreen");
    export(source.path(), "demo", &exported, &[]);
    let written = rows(&exported);
    for (file, count) in &written {
        if file != "cases.jsonl" {
            assert!(*count > 0, "{file} is empty: {written:?}");
        }
    }
    let count = |file: &str| written.iter().find(|(name, _)| name == file).map(|(_, rows)| *rows);
    for (jsonl, csv) in
        [("events.jsonl", "events.csv"), ("customers.jsonl", "customers.csv"), ("responses.jsonl", "responses.csv")]
    {
        assert_eq!(count(jsonl), count(csv), "{written:?}");
    }
    // The feedback CSV is `rapport import feedback`'s own format: every item comes in.
    let created = run(rapport(source.path()).args(["keys", "create", "--workspace", "demo-copy", "--role", "read"]));
    assert!(created.status.success());
    let from_csv = run(rapport(source.path())
        .args(["import", "feedback"])
        .arg(exported.join("feedback.csv"))
        .args(["--workspace", "demo-copy"]));
    assert_eq!(stdout(&from_csv).trim(), count("feedback.jsonl").unwrap().to_string(), "{}", stderr(&from_csv));
    // So is the events CSV for `rapport import events`.
    let events_csv = run(rapport(source.path())
        .args(["import", "events"])
        .arg(exported.join("events.csv"))
        .args(["--workspace", "demo-copy"]));
    assert_eq!(stdout(&events_csv).trim(), count("events.jsonl").unwrap().to_string(), "{}", stderr(&events_csv));
    let again = run(rapport(source.path()).args(["export", "--workspace", "demo"]).arg(&exported));
    assert!(stderr(&again).contains("is not empty"), "{}", stderr(&again));

    let import_from = |directory: &Path| {
        run(rapport(target.path())
            .args(["import", "workspace"])
            .arg(directory)
            .args(["--workspace", "restored"])
            .args(target_database))
    };
    let import = || import_from(&exported);
    // A damaged export is refused, naming the file, field and line, before anything is written:
    // the good one still goes into the same, untouched workspace afterwards.
    let nps_of_11 = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let line = lines.iter().position(|l| l.contains("\"question\":\"nps\"")).unwrap();
        let mut row: Value = serde_json::from_str(&lines[line]).unwrap();
        row["value"] = Value::from("11");
        lines[line] = row.to_string();
        lines.join("\n")
    };
    let negative_min_n = |text: &str| text.replacen("\"minN\": 30", "\"minN\": -1", 1);
    let stage_nowhere = |text: &str| text.replacen("\"stage\": \"checkout\"", "\"stage\": \"nowhere\"", 1);
    let damages: [(&str, &Damage, &str); 3] = [
        ("responses.jsonl", &nps_of_11, "responses.jsonl: 1 problem; nothing was imported"),
        ("settings.json", &negative_min_n, "settings.json: metrics: minN"),
        ("settings.json", &stage_nowhere, "settings.json: journeys[0]: touchpoints[0].stage"),
    ];
    for (file, damage, expected) in damages {
        let broken = files.path().join("broken");
        let _ = std::fs::remove_dir_all(&broken);
        std::fs::create_dir(&broken).unwrap();
        for entry in std::fs::read_dir(&exported).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), broken.join(entry.file_name())).unwrap();
        }
        let text = std::fs::read_to_string(broken.join(file)).unwrap();
        let damaged = damage(&text);
        assert_ne!(damaged, text, "{file} was damaged");
        std::fs::write(broken.join(file), damaged).unwrap();
        let refused = import_from(&broken);
        assert!(!refused.status.success() && stderr(&refused).contains(expected), "{}", stderr(&refused));
    }
    let imported = import();
    assert!(imported.status.success(), "{}", stderr(&imported));
    let twice = import();
    assert!(!twice.status.success() && stderr(&twice).contains("already holds data"), "{}", stderr(&twice));
    let key = run(rapport(target.path())
        .args(["keys", "create", "--workspace", "restored", "--role", "read"])
        .args(target_database));
    let target_key = stdout(&key).trim().to_owned();

    let (before, after) = (Server::start(source.path(), &[]), Server::start(target.path(), target_database));
    let year = "from=2025-07-01&to=2026-06-29";
    for path in [
        format!("/v1/metrics/nps?group_by=traits.region&{year}"),
        format!("/v1/metrics/nps?group_by=quarter,channel&{year}"),
        format!("/v1/metrics/csat?group_by=agent&{year}"),
        format!("/v1/metrics/ces?{year}"),
        format!("/v1/feedback/topics?{year}"),
    ] {
        let (was, is) = (get(&before, &source_key, &path).await, get(&after, &target_key, &path).await);
        // Which path served the figures (rollup, index, answers) may differ between databases.
        let groups = |report: &Value| (report["groups"].clone(), report["topics"].clone());
        assert_eq!(groups(&was), groups(&is), "{path}");
        let (figures, topics) = groups(&was);
        assert!(figures.as_array().or(topics.as_array()).is_some_and(|list| !list.is_empty()), "{path}: {was}");
    }
    // The journeys came along, and read the same.
    let (was, is) = (get(&before, &source_key, "/v1/journeys").await, get(&after, &target_key, "/v1/journeys").await);
    assert_eq!(is["data"].as_array().unwrap().len(), 2);
    for (old, new) in was["data"].as_array().unwrap().iter().zip(is["data"].as_array().unwrap()) {
        assert_eq!(
            (old["name"].clone(), old["touchpoints"].clone()),
            (new["name"].clone(), new["touchpoints"].clone())
        );
        let analytics = |id: &Value| format!("/v1/journeys/{}/analytics?{year}", id.as_str().unwrap());
        let (mut a, mut b) = (
            get(&before, &source_key, &analytics(&old["id"])).await,
            get(&after, &target_key, &analytics(&new["id"])).await,
        );
        a["journey"]["id"] = Value::Null;
        b["journey"]["id"] = Value::Null;
        assert_eq!(a, b, "{}", old["name"]);
    }
    // A customer found by the same identity has the same traits and identities.
    let find = "/v1/customers?identity=userId:cus_0000042";
    let (was, is) = (get(&before, &source_key, find).await, get(&after, &target_key, find).await);
    assert_eq!(was["data"][0]["traits"], is["data"][0]["traits"]);
    assert_eq!(
        was["data"][0]["identities"].as_array().unwrap().len(),
        is["data"][0]["identities"].as_array().unwrap().len()
    );
    before.terminate();
    after.terminate();

    // Exported again, the restored workspace holds the same rows.
    let round_trip = files.path().join("restored");
    export(target.path(), "restored", &round_trip, target_database);
    let expected: Vec<(String, u64)> = written.into_iter().filter(|(file, _)| file != "cases.jsonl").collect();
    let found: Vec<(String, u64)> = rows(&round_trip).into_iter().filter(|(file, _)| file != "cases.jsonl").collect();
    assert_eq!(found, expected);
}
