//! The demo suite: `rapport demo --no-serve` (the default company: 20,000 customers) from an
//! empty database to served-ready, timed as a new user meets it. The built `rapport` binary next to
//! this one is run as a child (`cargo build --release -p rapport` first); its own report on stderr
//! gives the counts and the time of each stage.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use rapport_store::testing::TestDatabase;

/// One run: wall time, and the loader's lines (counts and stage times).
struct Run {
    seconds: f64,
    loaded: String,
    trained: String,
}

fn binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name("rapport");
    anyhow::ensure!(path.exists(), "{} is missing: cargo build --release -p rapport first", path.display());
    Ok(path)
}

fn run_once(database_url: &str, customers: usize) -> anyhow::Result<Run> {
    let directory = tempfile::tempdir()?;
    let started = Instant::now();
    let output = Command::new(binary()?)
        .args([
            "demo",
            "--no-serve",
            "--seed",
            "1",
            "--customers",
            &customers.to_string(),
            "--database-url",
            database_url,
        ])
        .current_dir(directory.path())
        .output()
        .context("run rapport demo")?;
    let seconds = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    anyhow::ensure!(output.status.success(), "rapport demo failed: {log}");
    let line = |prefix: &str| log.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_owned();
    Ok(Run { seconds, loaded: line("loaded "), trained: line("trained ") })
}

/// `repeats` runs on SQLite (a fresh file each time) and one on PostgreSQL; a table row each.
pub async fn measure(customers: usize, repeats: usize) -> anyhow::Result<String> {
    let mut rows = Vec::new();
    let mut sqlite = Vec::new();
    for _ in 0..repeats.max(1) {
        let database = tempfile::tempdir()?;
        let url = format!("sqlite://{}", database.path().join("rapport.db").display());
        sqlite.push(run_once(&url, customers)?);
    }
    sqlite.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let times: Vec<String> = sqlite.iter().map(|r| format!("{:.1}", r.seconds)).collect();
    let median = &sqlite[sqlite.len() / 2];
    rows.push(format!(
        "| SQLite | {customers} | **{:.1} s** (runs: {} s) | {} | {} |",
        median.seconds,
        times.join(", "),
        median.loaded,
        median.trained
    ));
    let postgres = TestDatabase::postgres().await;
    let run = run_once(postgres.url(), customers)?;
    rows.push(format!(
        "| PostgreSQL | {customers} | **{:.1} s** (one run) | {} | {} |",
        run.seconds, run.loaded, run.trained
    ));
    Ok(rows.join("\n"))
}
