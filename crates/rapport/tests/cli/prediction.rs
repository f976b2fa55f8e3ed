//! `rapport clv fit` on the CDNOW cohort (beside the checkout in `../shared/data`, as in CI).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::process::{rapport, run, stderr, stdout};

fn cdnow(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cdnow").join(file)
}

/// The paper's 1/10 sample as the `customer_id,date,amount` CSV the command takes.
fn sample_as_csv(directory: &Path) -> PathBuf {
    let text = std::fs::read_to_string(cdnow("CDNOW_sample.txt")).unwrap();
    let mut csv = String::from("customer_id,date,amount\n");
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        csv.push_str(&format!("{},{}-{}-{},{}\n", f[1], &f[2][..4], &f[2][4..6], &f[2][6..], f[4]));
    }
    let path = directory.join("transactions.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

fn within(value: &Value, published: f64) {
    let actual = value.as_f64().unwrap();
    assert!(((actual - published) / published).abs() <= 0.005, "{actual} vs published {published}");
}

fn check_published(report: &Value) {
    let (bgnbd, spend) = (&report["bgnbd"], &report["gamma_gamma"]);
    within(&bgnbd["r"], 0.243);
    within(&bgnbd["alpha"], 4.414);
    within(&bgnbd["a"], 0.793);
    within(&bgnbd["b"], 2.426);
    within(&bgnbd["log_likelihood"], -9582.4);
    within(&spend["p"], 6.25);
    within(&spend["q"], 3.74);
    within(&spend["gamma"], 15.44);
    assert_eq!(report["warnings"], serde_json::json!([]), "a well-posed fit has nothing to warn about");
}

#[test]
fn clv_fit_reproduces_cdnow_from_the_summary_and_the_transaction_log() {
    let directory = tempfile::tempdir().unwrap();
    let summary = cdnow("cdnow_customers_summary_with_transactions.csv");
    let output = run(rapport(directory.path()).args(["clv", "fit", "--json", "--summary"]).arg(&summary));
    assert!(output.status.success(), "{}", stderr(&output));
    check_published(&serde_json::from_str(&stdout(&output)).unwrap());

    let log = sample_as_csv(directory.path());
    let predictions = directory.path().join("predictions.csv");
    let output = run(rapport(directory.path())
        .args(["clv", "fit", "--json", "--calibration-end", "1997-09-30", "--transactions"])
        .arg(&log)
        .arg("--predict")
        .arg(&predictions)
        .args(["--horizon", "39"]));
    assert!(output.status.success(), "{}", stderr(&output));
    check_published(&serde_json::from_str(&stdout(&output)).unwrap());

    // One prediction per customer; over the 39-week holdout the cohort's expected repeat purchases
    // agree with lifetimes 0.11.3 on the same cohort (1,653.42; the sample's customers made 1,882).
    let mut reader = csv::Reader::from_path(&predictions).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2357);
    let expected: f64 = rows.iter().map(|row| row[6].parse::<f64>().unwrap()).sum();
    assert!((expected - 1653.42).abs() < 2.0, "{expected}");
    assert!(rows.iter().all(|row| (0.0..=1.0).contains(&row[5].parse::<f64>().unwrap())));
}

#[test]
fn clv_fit_names_what_is_wrong_with_its_input() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("bad.csv");
    let fails = |contents: &str, args: &[&str]| {
        std::fs::write(&file, contents).unwrap();
        let output = run(rapport(directory.path()).args(["clv", "fit"]).args(args).arg(&file));
        assert!(!output.status.success());
        stderr(&output)
    };
    let error = fails("id,frequency,T\n1,2,30\n", &["--summary"]);
    assert!(error.contains("no column named recency or t_x"), "{error}");
    let error = fails("frequency,recency,T\n1,2,30\n2,40,30\n", &["--summary"]);
    assert!(error.contains("line 3: recency must be between 0 and T (30), not 40"), "{error}");
    let error = fails("frequency,recency,T\n1,two,30\n", &["--summary"]);
    assert!(error.contains("line 2, column recency: `two` is not a number"), "{error}");
    let error =
        fails("customer_id,date,amount\na,1997-13-01,3\n", &["--calibration-end", "1997-09-30", "--transactions"]);
    assert!(error.contains("line 2, column date: `1997-13-01` is not a date"), "{error}");
    let error = fails("customer_id,date,amount\na,1997-01-01,3\n", &["--transactions"]);
    assert!(error.contains("--transactions needs --calibration-end"), "{error}");
    let error = fails("", &["--summary"]);
    assert!(error.contains("is empty"), "{error}");
}

/// A customer table with a planted churn rule: month-to-month contracts, short tenure and many
/// support tickets raise the odds; `region` is noise. Drawn from a fixed generator.
fn churn_table(rows: usize) -> String {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = String::from("customer,tenure,contract,tickets,region,monthly,churned\n");
    for i in 0..rows {
        let tenure = (uniform() * 72.0).floor();
        let contract = if uniform() < 0.55 { "monthly" } else { "yearly" };
        let tickets = (uniform() * 5.0).floor();
        let region = ["north", "south", "east", "west"][(uniform() * 4.0) as usize];
        let monthly = if uniform() < 0.05 { String::new() } else { format!("{:.2}", 20.0 + uniform() * 80.0) };
        let odds = -1.0 - 0.05 * tenure + 1.5 * f64::from(u8::from(contract == "monthly")) + 0.5 * tickets;
        let churned = if uniform() < 1.0 / (1.0 + (-odds).exp()) { "yes" } else { "no" };
        csv.push_str(&format!("c{i},{tenure},{contract},{tickets},{region},{monthly},{churned}\n"));
    }
    csv
}

#[test]
fn churn_evaluate_cross_validates_any_table() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("customers.csv");
    std::fs::write(&file, churn_table(3000)).unwrap();
    let output = run(rapport(directory.path())
        .args(["churn", "evaluate", "--label", "churned", "--id", "customer", "--json", "--csv"])
        .arg(&file));
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    // The planted rule's AUC is about 0.85; a model that learned it is well above 0.8.
    assert!(report["roc_auc_mean"].as_f64().unwrap() > 0.8, "{report}");
    assert!(report["roc_auc_sd"].as_f64().unwrap() < 0.05);
    assert!(report["pr_auc_mean"].as_f64().unwrap() > 0.5);
    assert!(report["fit_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(report["folds"].as_array().unwrap().len(), 5);
    // The planted columns lead; the noise column trails them.
    let importance: Vec<&str> =
        report["importance"].as_array().unwrap().iter().map(|i| i["column"].as_str().unwrap()).collect();
    let mut leading = importance[..3].to_vec();
    leading.sort_unstable();
    assert_eq!(leading, ["contract", "tenure", "tickets"], "{importance:?}");
    let output = run(rapport(directory.path()).args(["churn", "evaluate", "--label", "churned", "--csv"]).arg(&file));
    assert!(stdout(&output).contains("ROC AUC"), "{}", stdout(&output));
}

#[test]
fn churn_evaluate_rejects_tables_it_cannot_learn_from() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("customers.csv");
    let fails = |contents: &str, label: &str| {
        std::fs::write(&file, contents).unwrap();
        let output = run(rapport(directory.path()).args(["churn", "evaluate", "--label", label, "--csv"]).arg(&file));
        assert!(!output.status.success());
        stderr(&output)
    };
    let error = fails("tenure,churned\n1,yes\n2,no\n", "churn");
    assert!(error.contains("no column named `churn` (the columns are: tenure, churned)"), "{error}");
    let error = fails("tenure,churned\n1,yes\n2,yes\n3,YES\n", "churned");
    assert!(error.contains("is yes on every row"), "{error}");
    let error = fails("", "churned");
    assert!(error.contains("is empty"), "{error}");
    let error = fails("tenure,churned\n", "churned");
    assert!(error.contains("no data rows"), "{error}");
    let error = fails("tenure,churned\n1,yes\n2,perhaps\n", "churned");
    assert!(error.contains("line 3: the label `perhaps`"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_customers_and_orders_feed_profiles_and_lifetime_value() {
    let directory = tempfile::tempdir().unwrap();
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/import");
    let created = run(rapport(directory.path()).args(["keys", "create", "--workspace", "shop", "--role", "read"]));
    assert!(created.status.success());
    let key = stdout(&created).trim().to_owned();
    let import = |file: &Path, extra: &[&str]| {
        run(rapport(directory.path()).args(["import", "orders"]).arg(file).args(["--workspace", "shop"]).args(extra))
    };
    let orders = examples.join("orders.csv");
    let rows = std::fs::read_to_string(&orders).unwrap().lines().count() - 1;
    let first = import(&orders, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first).trim(), rows.to_string());
    assert_eq!(stdout(&import(&orders, &[])).trim(), "0", "nothing twice");

    let bad = directory.path().join("bad.csv");
    std::fs::write(
        &bad,
        "order_id,customer,timestamp,amount\nB1,userId:9,2026-02-01,12\nB2,userId:9,2026-02-30,5\nB3,,2026-03-01,x\n",
    )
    .unwrap();
    let refused = import(&bad, &[]);
    assert!(!refused.status.success());
    let report = stderr(&refused);
    assert!(report.contains("line 3: timestamp") && report.contains("line 4: customer: required"), "{report}");
    assert!(
        report.contains("line 4: amount: required: a number") && report.contains("nothing was imported"),
        "{report}"
    );
    assert_eq!(stdout(&import(&bad, &["--skip-bad-rows"])).trim(), "1");

    // The orders are the workspace's order events: lifetime value fits from them.
    // Customers with their traits; the e-mail customer of the orders file is the same customer.
    let customers = examples.join("customers.csv");
    let imported =
        run(rapport(directory.path()).args(["import", "customers"]).arg(&customers).args(["--workspace", "shop"]));
    assert_eq!(stdout(&imported).trim(), "4", "{}", stderr(&imported));
    let again =
        run(rapport(directory.path()).args(["import", "customers"]).arg(&customers).args(["--workspace", "shop"]));
    assert_eq!(stdout(&again).trim(), "0", "nothing twice");

    let server = crate::process::Server::start(directory.path(), &[]);
    let client = reqwest::Client::new();
    let customer = async |identity: &str| -> Value {
        let url = server.url("/v1/customers");
        let found: Value = client
            .get(url)
            .query(&[("identity", identity)])
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        found["data"][0].clone()
    };
    let by_email = customer("email:customer0@example.com").await;
    assert_eq!(by_email["traits"]["plan"]["value"], "team", "{by_email}");
    let by_phone = customer("phone:+491511234567").await;
    assert_eq!(by_phone["traits"]["seats"]["value"], 12.0, "{by_phone}");
    let url = server.url("/v1/clv?calibrationEnd=2026-12-31&timeUnit=weeks");
    let clv: Value = client.get(url).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    let log = crate::process::Server::log(directory.path());
    assert!(clv["bgnbd"]["customers"].as_u64().is_some_and(|n| n >= 12), "{clv}\n{log}");
    assert!(clv["gamma_gamma"]["customers"].as_u64().unwrap() >= 2, "{clv}");
    server.terminate();
}
