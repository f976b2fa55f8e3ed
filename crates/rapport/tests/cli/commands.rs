use std::path::PathBuf;

use reqwest::StatusCode;

use crate::process::{Server, rapport, run, stderr, stdout};

#[test]
fn default_config_is_a_commented_example() {
    let directory = tempfile::tempdir().unwrap();
    let output = run(rapport(directory.path()).arg("default-config"));
    assert!(output.status.success());
    let text = stdout(&output);
    for key in ["data_dir", "listen", "database_url", "admin_key", "log_format", "max_identities_per_customer"] {
        assert!(text.contains(&format!("# {key} = ")), "{key} is documented");
    }
    assert!(text.contains("Precedence"));
}

/// flag > environment > config file > default, read back through `rapport config`.
#[test]
fn settings_precedence() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("rapport.toml");
    std::fs::write(&file, "data_dir = \"/from/file\"\nlisten = \"0.0.0.0:9999\"\n").unwrap();
    let data_dir_of = |with_file: bool, with_env: bool, with_flag: bool| {
        let mut command = rapport(directory.path());
        command.arg("config");
        if with_file {
            command.args(["--config", file.to_str().unwrap()]);
        }
        if with_env {
            command.env("RAPPORT_DATA_DIR", "/from/env");
        }
        if with_flag {
            command.args(["--data-dir", "/from/flag"]);
        }
        let output = run(&mut command);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output).lines().find(|line| line.starts_with("data_dir")).unwrap().to_owned()
    };
    assert_eq!(data_dir_of(true, true, true), "data_dir = \"/from/flag\"  # flag or environment");
    assert_eq!(data_dir_of(true, true, false), "data_dir = \"/from/env\"  # flag or environment");
    assert_eq!(data_dir_of(true, false, false), "data_dir = \"/from/file\"  # config file");
    assert_eq!(data_dir_of(false, false, false), "data_dir = \"./rapport-data\"  # default");

    let output = run(rapport(directory.path()).args(["config", "--config", file.to_str().unwrap()]));
    let text = stdout(&output);
    assert!(text.contains("listen = \"0.0.0.0:9999\"  # config file"), "{text}");
    assert!(text.contains("database_url = \"sqlite:///from/file/rapport.db\"  # default"), "{text}");

    let output = run(rapport(directory.path()).args(["config"]).env("RAPPORT_ADMIN_KEY", "a-long-enough-master-key"));
    assert!(stdout(&output).contains("admin_key = \"[redacted]\""));
    assert!(!stdout(&output).contains("a-long-enough-master-key"));

    std::fs::write(&file, "lissten = \"x\"\n").unwrap();
    let output = run(rapport(directory.path()).args(["config", "--config", file.to_str().unwrap()]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("lissten"), "the unknown key is named: {}", stderr(&output));
    let output = run(rapport(directory.path()).args(["config", "--database-url", "mysql://db"]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("mysql://db"));
}

#[test]
fn keys_create_prints_the_key_alone() {
    let directory = tempfile::tempdir().unwrap();
    let output = run(rapport(directory.path()).args(["keys", "create", "--workspace", "shop", "--role", "write"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1);
    let key = text.trim();
    assert!(key.starts_with("rpk_") && key.len() == 68, "{key}");
    assert!(PathBuf::from(directory.path()).join("rapport-data/rapport.db").exists(), "zero config: ./rapport-data");
    let database = std::fs::read(directory.path().join("rapport-data/rapport.db")).unwrap();
    let wal = std::fs::read(directory.path().join("rapport-data/rapport.db-wal")).unwrap_or_default();
    let needle = key.as_bytes();
    let holds_key = |bytes: &[u8]| bytes.windows(needle.len()).any(|window| window == needle);
    assert!(!holds_key(&database) && !holds_key(&wal), "keys are stored hashed");

    for (args, problem) in [
        (["--workspace", "shop", "--role", "owner"], "owner"),
        (["--workspace", "bad name", "--role", "read"], "bad name"),
    ] {
        let output = run(rapport(directory.path()).args(["keys", "create"]).args(args));
        assert!(!output.status.success());
        assert!(stderr(&output).contains(problem), "{}", stderr(&output));
        assert!(stdout(&output).is_empty());
    }
}

/// A new user's first run: no configuration at all, then ctrl-c/SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_with_zero_configuration_and_stops_on_sigterm() {
    let directory = tempfile::tempdir().unwrap();
    let key_output =
        run(rapport(directory.path()).args(["keys", "create", "--workspace", "default", "--role", "admin"]));
    let key = stdout(&key_output).trim().to_owned();
    let server = Server::start(directory.path(), &[]);
    let client = reqwest::Client::new();
    assert_eq!(client.get(server.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let event = serde_json::json!({"userId": "first", "event": "Hello"});
    let response = client.post(server.url("/v1/track")).bearer_auth(&key).json(&event).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(directory.path().join("rapport-data/rapport.db-wal").exists(), "SQLite runs in WAL mode");
    assert_eq!(server.terminate(), Some(0), "a clean exit on SIGTERM");
}

/// `rapport metrics` reads the database directly: a table by default, the API's JSON with --json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_prints_a_table_or_json() {
    use rapport_core::survey::parse_definition;
    use rapport_core::survey_answers::check_answers;
    use rapport_store::records::NewResponse;
    use rapport_store::{Store, StoreOptions};

    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/rapport-data/rapport.db", directory.path().display());
    let store = Store::connect(&url, StoreOptions::default()).await.unwrap();
    let shop = store.ensure_workspace("shop").await.unwrap();
    let definition = parse_definition(
        &serde_json::json!({"name": "NPS", "kind": "relational", "questions": [{"id": "nps", "type": "nps"}]}),
    )
    .unwrap();
    let survey = store.create_survey(&shop.id, &definition).await.unwrap();
    // March: 10, 10, 0 → NPS 33.3; April: 9 → NPS 100.
    for (day, score) in [("2025-03-02", 10), ("2025-03-03", 10), ("2025-03-04", 0), ("2025-04-01", 9)] {
        let at =
            time::OffsetDateTime::parse(&format!("{day}T10:00:00Z"), &time::format_description::well_known::Rfc3339)
                .unwrap();
        let answers = serde_json::json!({"nps": score});
        let response = NewResponse {
            survey_id: survey.id.clone(),
            version: 1,
            identity_key: format!("email:{day}@example.com"),
            channel: Some("email".into()),
            touchpoint: None,
            agent: None,
            submitted_at_ms: (at.unix_timestamp_nanos() / 1_000_000) as i64,
            received_at_ms: 0,
            idempotency_key: None,
            answers: check_answers(&definition, answers.as_object().unwrap()).unwrap(),
        };
        store.insert_response(&shop.id, &response).await.unwrap();
    }
    store.close().await;

    let args =
        ["metrics", "nps", "--workspace", "shop", "--from", "2025-03-01", "--to", "2025-04-30", "--group-by", "month"];
    let output = run(rapport(directory.path()).args(args));
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NPS: points (-100..100), 2025-03-01 to 2025-04-30, counts from the rollup"),
        "{table}"
    );
    assert!(lines[1].starts_with("month") && lines[1].contains("95% CI"), "{table}");
    assert!(lines[2].starts_with("2025-03") && lines[2].contains("3*") && lines[2].contains("33.3"), "{table}");
    assert!(lines[3].starts_with("2025-04") && lines[3].contains("100.0") && lines[3].contains("+66.7"), "{table}");
    assert!(table.contains("* n below the minimum of 30"), "{table}");

    let output = run(rapport(directory.path()).args(args).arg("--json"));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(report["groups"][1]["n"], 1);

    let output = run(rapport(directory.path()).args(["metrics", "nps", "--workspace", "shop", "--group-by", "colour"]));
    assert!(
        !output.status.success() && stderr(&output).contains("group_by: unknown group-by `colour`"),
        "{}",
        stderr(&output)
    );
    let output = run(rapport(directory.path()).args(["metrics", "nps", "--workspace", "nobody"]));
    assert!(!output.status.success() && stderr(&output).contains("no workspace `nobody`"));
}
