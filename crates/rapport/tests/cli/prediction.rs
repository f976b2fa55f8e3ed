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
