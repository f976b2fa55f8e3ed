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

/// The first admin is made from a shell, before any server runs; the audit log records it and
/// `rapport audit verify` finds a rewritten entry.
#[test]
fn users_are_made_from_a_shell_and_the_audit_log_verifies() {
    let directory = tempfile::tempdir().unwrap();
    let create = |email: &str, role: &str| {
        run(rapport(directory.path()).args([
            "users",
            "create",
            "--workspace",
            "shop",
            "--email",
            email,
            "--role",
            role,
        ]))
    };
    let output = create("Ana@Shop.test", "admin");
    assert!(output.status.success(), "{}", stderr(&output));
    let password = stdout(&output).trim().to_owned();
    assert_eq!(password.len(), 20, "the password alone on stdout");
    assert!(stderr(&output).contains("ana@shop.test"));
    let taken = create("ana@shop.test", "viewer");
    assert!(!taken.status.success() && stderr(&taken).contains("already has an account"), "{}", stderr(&taken));
    let bad = create("ana", "owner");
    assert!(!bad.status.success() && stdout(&bad).is_empty());
    let key = run(rapport(directory.path()).args(["keys", "create", "--workspace", "shop", "--role", "read"]));
    assert!(key.status.success());
    let listed = run(rapport(directory.path()).args(["users", "list", "--workspace", "shop"]));
    let table = stdout(&listed);
    assert!(table.contains("ana@shop.test") && table.contains("admin") && table.contains("never"), "{table}");

    let database = directory.path().join("rapport-data/rapport.db");
    let verify = || run(rapport(directory.path()).args(["audit", "verify", "--workspace", "shop"]));
    let intact = verify();
    assert!(intact.status.success(), "{}", stderr(&intact));
    assert!(stdout(&intact).starts_with("intact: 2 entries; head "), "{}", stdout(&intact));
    let bytes = std::fs::read(&database).unwrap();
    let wal = std::fs::read(directory.path().join("rapport-data/rapport.db-wal")).unwrap_or_default();
    let holds = |haystack: &[u8]| haystack.windows(password.len()).any(|window| window == password.as_bytes());
    assert!(!holds(&bytes) && !holds(&wal), "passwords are stored hashed");

    // Rewriting the first entry behind Rapport's back (UPDATE is refused; delete and insert).
    let connection = rusqlite::Connection::open(&database).unwrap();
    assert!(connection.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1", []).is_err());
    connection
        .execute_batch(
            "CREATE TEMP TABLE kept AS SELECT * FROM audit_log WHERE seq = 1; \
             DELETE FROM audit_log WHERE seq = 1; \
             UPDATE kept SET actor = 'mallory'; \
             INSERT INTO audit_log SELECT * FROM kept;",
        )
        .unwrap();
    drop(connection);
    let broken = verify();
    assert!(!broken.status.success());
    assert!(stderr(&broken).contains("broken at entry 1"), "{}", stderr(&broken));
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

/// Store options with the keys of the default data directory under `directory` (made there
/// first if the CLI has not made them yet), so the test and the CLI open one database alike.
fn data_dir_options(directory: &std::path::Path) -> rapport_store::StoreOptions {
    let path = directory.join("rapport-data/keys.json");
    let keys = match std::fs::read_to_string(&path) {
        Ok(text) => rapport_core::sealing::Keyring::from_json(&text).unwrap(),
        Err(_) => {
            let keys = rapport_store::sealing::generate_keyring();
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, keys.to_json()).unwrap();
            keys
        }
    };
    rapport_store::StoreOptions { keys: std::sync::Arc::new(keys), ..Default::default() }
}

/// The default database under `directory`, with a workspace `shop` holding one survey.
async fn shop_with_survey(
    directory: &std::path::Path,
    definition: serde_json::Value,
) -> (rapport_store::Store, rapport_core::ids::WorkspaceId, rapport_store::records::SurveyRecord) {
    let url = format!("sqlite://{}/rapport-data/rapport.db", directory.display());
    let store = rapport_store::Store::connect(&url, data_dir_options(directory)).await.unwrap();
    let shop = store.ensure_workspace("shop").await.unwrap().id;
    let definition = rapport_core::survey::parse_definition(&definition).unwrap();
    let survey = store.create_survey(&shop, &definition).await.unwrap();
    (store, shop, survey)
}

/// `rapport metrics` reads the database directly: a table by default, the API's JSON with --json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_prints_a_table_or_json() {
    use rapport_core::survey_answers::check_answers;
    use rapport_store::records::NewResponse;

    let directory = tempfile::tempdir().unwrap();
    let definition =
        serde_json::json!({"name": "NPS", "kind": "relational", "questions": [{"id": "nps", "type": "nps"}]});
    let (store, shop, survey) = shop_with_survey(directory.path(), definition).await;
    let definition = survey.definition.clone();
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
            feedback: Vec::new(),
            invitation: None,
        };
        store.insert_response(&shop, &response).await.unwrap();
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

    // With a target and a benchmark, the table shows the gaps to them.
    let store = rapport_store::Store::connect(
        &format!("sqlite://{}/rapport-data/rapport.db", directory.path().display()),
        data_dir_options(directory.path()),
    )
    .await
    .unwrap();
    let settings = rapport_core::metrics::settings::parse_settings(&serde_json::json!({
        "targets": {"nps": 50}, "benchmarks": [{"metric": "nps", "name": "Retail", "score": 30}]}))
    .unwrap();
    store.put_metric_settings(&shop, &settings).await.unwrap();
    store.close().await;
    let with_gaps = stdout(&run(rapport(directory.path()).args(args)));
    let lines: Vec<&str> = with_gaps.lines().collect();
    assert!(lines[1].contains("vs target 50") && lines[1].contains("vs Retail 30"), "{with_gaps}");
    // April: NPS 100, so +50 against the target and +70 against the benchmark, in the last columns.
    let april: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(april[april.len() - 2..], ["+50.0", "+70.0"], "{with_gaps}");

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

/// `rapport import responses`: bad rows are named and stop the import unless skipped; a second
/// run adds nothing; imported answers count in the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_responses_reports_bad_rows_and_is_idempotent() {
    let directory = tempfile::tempdir().unwrap();
    let definition = serde_json::json!({"name": "NPS", "kind": "relational", "questions": [
        {"id": "nps", "type": "nps", "required": true},
        {"id": "csat", "type": "csat", "dimensions": ["knowledge"]},
        {"id": "liked", "type": "multiple_choice", "text": "Liked?", "options": ["speed", "price"]}]});
    let (store, _, survey) = shop_with_survey(directory.path(), definition).await;
    let survey = survey.id;
    store.close().await;

    let csv = "response,customer,submitted_at,channel,question,dimension,value\n\
               r1,email:ann@example.com,2025-03-02T10:00:00Z,email,nps,,10\n\
               r1,email:ann@example.com,2025-03-02T10:00:00Z,email,csat,,5\n\
               r1,email:ann@example.com,2025-03-02T10:00:00Z,email,csat,knowledge,4\n\
               r1,email:ann@example.com,2025-03-02T10:00:00Z,email,liked,,speed\n\
               r1,email:ann@example.com,2025-03-02T10:00:00Z,email,liked,,price\n\
               r2,email:bob@example.com,2025-03-03T10:00:00Z,sms,nps,,3\n\
               r3,email:cy@example.com,2025-03-04T10:00:00Z,email,nps,,11\n\
               r4,email:dee@example.com,yesterday,email,nps,,9\n\
               ,email:eve@example.com,2025-03-04T10:00:00Z,email,nps,,9\n";
    let file = directory.path().join("answers.csv");
    std::fs::write(&file, csv).unwrap();
    let import = |extra: &[&str]| {
        let mut command = rapport(directory.path());
        command.args(["import", "responses"]).arg(&file).args(["--workspace", "shop", "--survey", &survey]).args(extra);
        run(&mut command)
    };
    let refused = import(&[]);
    assert!(!refused.status.success());
    let report = stderr(&refused);
    assert!(report.contains("line 8: answers.nps: 11 is outside 0-10"), "{report}");
    assert!(report.contains("line 9: submitted_at:"), "{report}");
    assert!(report.contains("line 10: response: required"), "{report}");
    assert!(report.contains("nothing was imported"), "{report}");

    let skipped = import(&["--skip-bad-rows"]);
    assert!(skipped.status.success(), "{}", stderr(&skipped));
    assert_eq!(stdout(&skipped).trim(), "2", "r1 and r2 are added");
    let again = import(&["--skip-bad-rows"]);
    assert_eq!(stdout(&again).trim(), "0", "a second run adds nothing: {}", stderr(&again));

    let metrics = ["metrics", "nps", "--workspace", "shop", "--from", "2025-03-01", "--to", "2025-03-31", "--json"];
    let report: serde_json::Value =
        serde_json::from_str(&stdout(&run(rapport(directory.path()).args(metrics)))).unwrap();
    assert_eq!((report["groups"][0]["n"].as_u64(), report["groups"][0]["score"].as_f64()), (Some(2), Some(0.0)));

    // JSONL takes the same fields; numbers may be numbers.
    let jsonl = directory.path().join("more.jsonl");
    std::fs::write(
        &jsonl,
        "{\"response\": \"r9\", \"customer\": \"email:fay@example.com\", \"submitted_at\": \"2025-03-09T10:00:00Z\", \"question\": \"nps\", \"value\": 9}\n\
         {\"response\": \"r10\", \"customer\": \"email:gus@example.com\", \"colour\": \"red\"}\n",
    )
    .unwrap();
    let mut command = rapport(directory.path());
    command.args(["import", "responses"]).arg(&jsonl).args(["--workspace", "shop", "--survey", &survey]);
    let output = run(&mut command);
    assert!(
        !output.status.success() && stderr(&output).contains("line 2: row: unknown field `colour`"),
        "{}",
        stderr(&output)
    );
    let output = run(command.arg("--skip-bad-rows"));
    assert_eq!(stdout(&output).trim(), "1", "{}", stderr(&output));
}

/// The example import files in `examples/import` import cleanly into their example survey.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_import_files_import() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/import");
    let definition: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(examples.join("survey.json")).unwrap()).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let (store, _, survey) = shop_with_survey(directory.path(), definition).await;
    store.close().await;
    for (file, added) in [("responses.csv", "2"), ("responses.jsonl", "2")] {
        let mut command = rapport(directory.path());
        command.args(["import", "responses"]).arg(examples.join(file)).args([
            "--workspace",
            "shop",
            "--survey",
            &survey.id,
        ]);
        let output = run(&mut command);
        assert!(output.status.success(), "{file}: {}", stderr(&output));
        assert_eq!(stdout(&output).trim(), added, "{file}");
    }
}

/// `rapport import events`: Segment calls, one per line; bad lines named; a second run adds none.
#[test]
fn import_events_resolves_customers_and_is_idempotent() {
    let directory = tempfile::tempdir().unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/import");
    assert!(
        run(rapport(directory.path()).args(["keys", "create", "--workspace", "shop", "--role", "read"]))
            .status
            .success()
    );
    let import = |file: &std::path::Path, extra: &[&str]| {
        run(rapport(directory.path()).args(["import", "events"]).arg(file).args(["--workspace", "shop"]).args(extra))
    };
    let first = import(&examples.join("events.jsonl"), &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first).trim(), "4");
    assert_eq!(stdout(&import(&examples.join("events.jsonl"), &[])).trim(), "0", "nothing twice");
    // The same kinds of calls as CSV rows, JSON in the JSON columns.
    let csv = import(&examples.join("events.csv"), &[]);
    assert_eq!(stdout(&csv).trim(), "4", "{}", stderr(&csv));
    assert_eq!(stdout(&import(&examples.join("events.csv"), &[])).trim(), "0", "nothing twice");
    let misspelt = directory.path().join("misspelt.csv");
    std::fs::write(&misspelt, "type,user,name\ntrack,u1,Viewed\n").unwrap();
    let refused = import(&misspelt, &[]);
    assert!(stderr(&refused).contains("unknown columns in the header: user"), "{}", stderr(&refused));

    let bad = directory.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"type\": \"track\", \"userId\": \"u1\"}\n{not json\n{\"type\": \"track\", \"userId\": \"u2\", \"event\": \"Signed In\"}\n")
        .unwrap();
    let refused = import(&bad, &[]);
    assert!(!refused.status.success());
    let report = stderr(&refused);
    assert!(report.contains("line 1: event: required") && report.contains("line 2: row:"), "{report}");
    let skipped = import(&bad, &["--skip-bad-rows"]);
    assert_eq!(stdout(&skipped).trim(), "1", "{}", stderr(&skipped));

    // A file longer than one chunk of the stream, a bad row far in: named by its line, and
    // nothing imported until it is skipped.
    let long = directory.path().join("long.jsonl");
    let lines: Vec<String> = (1..=25_000)
        .map(|line| match line {
            24_001 => "{\"type\": \"track\", \"userId\": \"late\"}".to_owned(),
            12_000 => String::new(),
            _ => format!(
                "{{\"type\": \"track\", \"userId\": \"c{}\", \"event\": \"Viewed\", \"messageId\": \"l{line}\"}}",
                line % 500
            ),
        })
        .collect();
    std::fs::write(&long, lines.join("\n")).unwrap();
    let refused = import(&long, &[]);
    let report = stderr(&refused);
    assert!(!refused.status.success() && report.contains("line 24001: event: required"), "{report}");
    assert!(report.contains("1 problem in 24999 rows; nothing was imported"), "{report}");
    let skipped = import(&long, &["--skip-bad-rows"]);
    assert_eq!(stdout(&skipped).trim(), "24998", "{}", stderr(&skipped));
}

/// Personal data is sealed under keys made on first start (mode 0600); `rapport data-key rotate`
/// re-seals it under a new data key and drops the old one; other keys are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keys_are_made_rotated_and_checked() {
    let directory = tempfile::tempdir().unwrap();
    let key =
        stdout(&run(rapport(directory.path()).args(["keys", "create", "--workspace", "shop", "--role", "admin"])))
            .trim()
            .to_owned();
    let keys_file = directory.path().join("rapport-data/keys.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the keys file is the owner's alone");
    }
    let client = reqwest::Client::new();
    let server = Server::start(directory.path(), &[]);
    let identify =
        serde_json::json!({"userId": "u1", "traits": {"email": "rotate.me@example.com", "name": "Rosa Tate"}});
    let response = client.post(server.url("/v1/identify")).bearer_auth(&key).json(&identify).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.terminate(), Some(0));
    let database = directory.path().join("rapport-data/rapport.db");
    let on_disk = || {
        let mut bytes = std::fs::read(&database).unwrap();
        bytes.extend(std::fs::read(database.with_extension("db-wal")).unwrap_or_default());
        String::from_utf8_lossy(&bytes).into_owned()
    };
    assert!(on_disk().contains("enc1:k1:") && !on_disk().contains("rotate.me@example.com"));

    let rotated = run(rapport(directory.path()).args(["data-key", "rotate"]));
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(stderr(&rotated).contains("customer_traits: "), "progress by table: {}", stderr(&rotated));
    let keys = std::fs::read_to_string(&keys_file).unwrap();
    assert!(keys.contains("\"current\": \"k2\"") && !keys.contains("\"k1\""), "{keys}");
    let text = on_disk();
    assert!(text.contains("enc1:k2:") && !text.contains("enc1:k1:"), "every value re-sealed under k2");
    assert!(!text.contains("rotate.me@example.com") && !text.contains("Rosa Tate"));

    // Found and shown as before, with the new key.
    let server = Server::start(directory.path(), &[]);
    let found = client
        .get(server.url("/v1/customers?identity=email:rotate.me@example.com"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(found["data"][0]["traits"]["name"]["value"], "Rosa Tate", "{found}");
    assert_eq!(server.terminate(), Some(0));

    // Someone else's keys: the server refuses to start, and says why.
    let other = directory.path().join("other-keys.json");
    let refused = run(rapport(directory.path()).args(["serve", "--keys-file", other.to_str().unwrap()]));
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("written with other keys"), "{}", stderr(&refused));
    // And keys that are not keys are named.
    let refused = run(rapport(directory.path()).args(["serve"]).env("RAPPORT_DATA_KEYS", "{\"index_key\": 1}"));
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("RAPPORT_DATA_KEYS"), "{}", stderr(&refused));
}
