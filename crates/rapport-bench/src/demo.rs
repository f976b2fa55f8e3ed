//! The demo suite: `rapport demo --no-serve` (the default company: 20,000 customers) from an
//! empty database to ready, timed as a new user meets it; then the company exported and its
//! events imported into an empty database (`rapport import events`: the 100,000 rows/s target),
//! and the whole export imported (`rapport import workspace`). The built `rapport` binary next to
//! this one is run as a child (`cargo build --release -p rapport` first); its own report on
//! stderr gives the counts and the time of each demo stage.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use rapport_store::testing::TestDatabase;

fn binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name("rapport");
    anyhow::ensure!(path.exists(), "{} is missing: cargo build --release -p rapport first", path.display());
    Ok(path)
}

/// Runs `rapport ARGS --database-url URL` in `directory`: wall seconds and stderr.
fn rapport(directory: &Path, args: &[&str], database_url: &str) -> anyhow::Result<(f64, String)> {
    let started = Instant::now();
    let output = Command::new(binary()?)
        .args(args)
        .args(["--database-url", database_url])
        .current_dir(directory)
        .output()
        .with_context(|| format!("run rapport {args:?}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    anyhow::ensure!(output.status.success(), "rapport {args:?} failed: {log}");
    Ok((seconds, log))
}

fn sqlite_url(directory: &Path) -> String {
    format!("sqlite://{}", directory.join("rapport.db").display())
}

fn median(mut values: Vec<f64>) -> (f64, String) {
    values.sort_by(f64::total_cmp);
    let runs: Vec<String> = values.iter().map(|v| format!("{v:.1}")).collect();
    (values[values.len() / 2], runs.join(", "))
}

/// The demo's own report: its `loaded …` and `trained …` lines.
fn stages(log: &str) -> (String, String) {
    let line = |prefix: &str| log.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_owned();
    (line("loaded "), line("trained "))
}

/// Imports `events` into a new workspace of an empty database (PostgreSQL at `postgres`, else a
/// new SQLite file): seconds.
fn import_events(events: &Path, postgres: Option<&str>) -> anyhow::Result<f64> {
    let directory = tempfile::tempdir()?;
    let sqlite = sqlite_url(directory.path());
    let database_url = postgres.unwrap_or(&sqlite);
    rapport(directory.path(), &["keys", "create", "--workspace", "imported", "--role", "read"], database_url)?;
    let events = events.to_string_lossy();
    Ok(rapport(directory.path(), &["import", "events", &events, "--workspace", "imported"], database_url)?.0)
}

/// The demo table and the import/export table.
pub async fn measure(customers: usize, repeats: usize) -> anyhow::Result<(String, String)> {
    let count = customers.to_string();
    let demo = ["demo", "--no-serve", "--seed", "1", "--customers", count.as_str()];
    let mut rows = Vec::new();
    let (mut times, mut last) = (Vec::new(), None);
    for _ in 0..repeats.max(1) {
        let directory = tempfile::tempdir()?;
        let (seconds, log) = rapport(directory.path(), &demo, &sqlite_url(directory.path()))?;
        times.push(seconds);
        last = Some((directory, log));
    }
    let (directory, log) = last.context("no run")?;
    let (seconds, runs) = median(times);
    let (loaded, trained) = stages(&log);
    rows.push(format!("| SQLite | {customers} | **{seconds:.1} s** (runs: {runs} s) | {loaded} | {trained} |"));
    let postgres = TestDatabase::postgres().await;
    let scratch = tempfile::tempdir()?;
    let (seconds, log) = rapport(scratch.path(), &demo, postgres.url())?;
    let (loaded, trained) = stages(&log);
    rows.push(format!("| PostgreSQL | {customers} | **{seconds:.1} s** (one run) | {loaded} | {trained} |"));

    // The last SQLite company, exported and imported again.
    let export = directory.path().join("export");
    let exported = export.to_string_lossy().into_owned();
    let (export_seconds, export_log) =
        rapport(directory.path(), &["export", "--workspace", "demo", &exported], &sqlite_url(directory.path()))?;
    let events: usize = export_log
        .lines()
        .find(|l| l.trim_end().ends_with(" events.jsonl"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("the export's event count")?;
    let file = export.join("events.jsonl");
    let mut import = Vec::new();
    let (sqlite, runs) = median((0..repeats.max(1)).map(|_| import_events(&file, None)).collect::<Result<_, _>>()?);
    import.push(format!(
        "| `rapport import events` | SQLite | {events} | {sqlite:.1} s (runs: {runs} s) | **{:.0}** |",
        events as f64 / sqlite
    ));
    let target = TestDatabase::postgres().await;
    let postgres_seconds = import_events(&file, Some(target.url()))?;
    import.push(format!(
        "| `rapport import events` | PostgreSQL | {events} | {postgres_seconds:.1} s (one run) | **{:.0}** |",
        events as f64 / postgres_seconds
    ));
    import.push(format!(
        "| `rapport export` (JSONL and CSV) | SQLite | {events} events, {customers} customers | {export_seconds:.1} s | {:.0} events |",
        events as f64 / export_seconds
    ));
    let whole = tempfile::tempdir()?;
    let (whole_seconds, _) = rapport(
        whole.path(),
        &["import", "workspace", &exported, "--workspace", "restored"],
        &sqlite_url(whole.path()),
    )?;
    import.push(format!(
        "| `rapport import workspace` (settings, surveys, events, responses, feedback analysed again) | SQLite | {events} events | {whole_seconds:.1} s | {:.0} events |",
        events as f64 / whole_seconds
    ));
    Ok((rows.join("\n"), import.join("\n")))
}
