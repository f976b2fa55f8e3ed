//! Prediction suite: BG/NBD and Gamma-Gamma fits by `rapport-predict` against the `lifetimes`
//! package (Python) in one run, on CDNOW (`../shared/data/cdnow/`) and on a synthetic million
//! customers drawn from the CDNOW fit by the peer's own generator (`clv.py synth`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use rapport_predict::bgnbd::BgNbd;
use rapport_predict::clv::Rfm;
use rapport_predict::gamma_gamma::GammaGamma;

pub struct PredictionArgs {
    pub cdnow: PathBuf,
    pub peers: PathBuf,
    pub python: String,
    pub rounds: usize,
    pub synthetic: usize,
}

fn peer(args: &PredictionArgs, script: &str, script_args: &[&str]) -> anyhow::Result<String> {
    crate::run_peer(&args.python, &args.peers, script, script_args)
}

/// `fit=71.3 ms` from the peer's line.
fn peer_milliseconds(output: &str) -> anyhow::Result<f64> {
    output
        .split_whitespace()
        .find_map(|field| field.strip_prefix("fit="))
        .and_then(|value| value.parse().ok())
        .with_context(|| format!("no fit time in: {output}"))
}

/// Reads a summary CSV with `frequency`/`x`, `recency`/`t_x`, `T`, `monetary_value`/`zbar` columns.
fn read_summary(path: &Path) -> anyhow::Result<Vec<Rfm>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("empty file")?.split(',').collect();
    let column = |names: &[&str]| header.iter().position(|h| names.contains(h));
    let (f, r, t) = (
        column(&["frequency", "x"]).context("frequency")?,
        column(&["recency", "t_x"]).context("recency")?,
        column(&["T"]).context("T")?,
    );
    let m = column(&["monetary_value", "zbar"]);
    lines
        .map(|line| {
            let cells: Vec<f64> = line.split(',').map(|cell| cell.parse().unwrap_or(0.0)).collect();
            Ok(Rfm {
                frequency: cells[f] as u32,
                recency: cells[r],
                age: cells[t],
                monetary_value: m.map_or(0.0, |m| cells[m]),
            })
        })
        .collect()
}

/// Median milliseconds of `rounds` runs of `fit`.
fn time_ms(rounds: usize, mut fit: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        fit()?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(crate::median(times))
}

/// One table row per data set and model: n, Rapport's parameters and time, lifetimes' time.
pub fn measure(args: &PredictionArgs) -> anyhow::Result<String> {
    let scratch = tempfile::tempdir()?;
    let synthetic_path = scratch.path().join("synthetic.csv");
    eprintln!("drawing {} synthetic customers with clv.py synth", args.synthetic);
    peer(args, "clv.py", &["synth", &args.synthetic.to_string(), &synthetic_path.to_string_lossy()])?;
    // The peer's BG/NBD reads `frequency`, which CDNOW's spend summary calls `x`.
    let sets = [
        (
            "CDNOW",
            args.cdnow.join("cdnow_customers_summary.csv"),
            args.cdnow.join("cdnow_customers_summary_with_transactions.csv"),
            args.rounds,
        ),
        ("synthetic", synthetic_path.clone(), synthetic_path, 3),
    ];
    let mut rows = String::new();
    for (name, path, spend_path, rounds) in sets {
        let customers = read_summary(&path)?;
        let path_text = path.to_string_lossy().into_owned();
        let mut bgnbd = None;
        let ours = time_ms(rounds, || {
            bgnbd = Some(BgNbd::fit(&customers)?);
            Ok(())
        })?;
        let fit = bgnbd.context("no fit")?;
        let theirs = peer_milliseconds(&peer(args, "clv.py", &["bgnbd", &path_text])?)?;
        eprintln!("{name} BG/NBD: Rapport {ours:.1} ms, lifetimes {theirs:.1} ms");
        rows.push_str(&format!(
            "| {name} | BG/NBD | {} | r {:.4}, alpha {:.4}, a {:.4}, b {:.4}, LL {:.2} | {ours:.1} ms | {theirs:.1} ms | {:.0}x |\n",
            fit.customers,
            fit.params.r,
            fit.params.alpha,
            fit.params.a,
            fit.params.b,
            fit.log_likelihood,
            theirs / ours
        ));
        let customers = read_summary(&spend_path)?;
        let path_text = spend_path.to_string_lossy().into_owned();
        let mut spend = None;
        let ours = time_ms(rounds, || {
            spend = Some(GammaGamma::fit(&customers)?);
            Ok(())
        })?;
        let fit = spend.context("no fit")?;
        let theirs = peer_milliseconds(&peer(args, "clv.py", &["gg", &path_text])?)?;
        eprintln!("{name} Gamma-Gamma: Rapport {ours:.1} ms, lifetimes {theirs:.1} ms");
        rows.push_str(&format!(
            "| {name} | Gamma-Gamma | {} | p {:.4}, q {:.4}, gamma {:.4}, LL {:.2} | {ours:.1} ms | {theirs:.1} ms | {:.0}x |\n",
            fit.customers,
            fit.params.p,
            fit.params.q,
            fit.params.gamma,
            fit.log_likelihood,
            theirs / ours
        ));
    }
    Ok(rows)
}
