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

/// Uniform numbers in [0, 1) from a seeded xorshift64: the generated tables are the same every run.
fn uniform_stream(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A telecom-like customer table with a planted, partly non-linear churn rule (contract, tenure,
/// fibre, tickets, a short-tenure-high-charges interaction), 1% of charges missing as blanks,
/// drawn from a fixed generator.
fn churn_table(rows: usize, seed: u64) -> (Vec<String>, Vec<Vec<String>>) {
    let mut uniform = uniform_stream(seed);
    let headers = ["customer", "tenure", "contract", "internet", "monthly", "total", "senior", "tickets", "churned"];
    let table = (0..rows)
        .map(|i| {
            let tenure = (uniform() * 72.0).floor();
            let contract = match uniform() {
                u if u < 0.55 => "month-to-month",
                u if u < 0.8 => "one year",
                _ => "two year",
            };
            let internet = match uniform() {
                u if u < 0.35 => "dsl",
                u if u < 0.8 => "fibre",
                _ => "none",
            };
            let monthly =
                20.0 + if internet == "fibre" {
                    50.0
                } else if internet == "dsl" {
                    25.0
                } else {
                    0.0
                } + uniform() * 20.0;
            let total = if uniform() < 0.01 { " ".to_string() } else { format!("{:.2}", monthly * tenure) };
            let senior = u8::from(uniform() < 0.16);
            let tickets = (-uniform().ln() * 1.2).floor().min(9.0);
            let odds = -1.2 - 0.04 * tenure
                + if contract == "month-to-month" {
                    1.2
                } else if contract == "two year" {
                    -0.8
                } else {
                    0.0
                }
                + if internet == "fibre" { 0.7 } else { 0.0 }
                + 0.3 * f64::from(senior)
                + 0.4 * tickets.min(4.0)
                + if tenure < 6.0 && monthly > 70.0 { 0.8 } else { 0.0 };
            let churned = if uniform() < 1.0 / (1.0 + (-odds).exp()) { "yes" } else { "no" };
            vec![
                format!("c{i}"),
                tenure.to_string(),
                contract.into(),
                internet.into(),
                format!("{monthly:.2}"),
                total,
                senior.to_string(),
                tickets.to_string(),
                churned.into(),
            ]
        })
        .collect();
    (headers.iter().map(|h| h.to_string()).collect(), table)
}

/// A bank-like customer table whose churn is not linear in its columns: a bump with age, a U in
/// the number of products, interactions of country with balance and of inactivity with age;
/// salary, credit score and tenure are noise. Drawn from a fixed generator.
fn nonlinear_table(rows: usize, seed: u64) -> (Vec<String>, Vec<Vec<String>>) {
    let mut uniform = uniform_stream(seed);
    let headers = [
        "customer", "score", "country", "gender", "age", "tenure", "balance", "products", "active", "salary", "exited",
    ];
    let table = (0..rows)
        .map(|i| {
            let age = 18.0 + (uniform() * 72.0).floor();
            let balance = if uniform() < 0.35 { 0.0 } else { 60_000.0 + uniform() * 120_000.0 };
            let products = match uniform() {
                u if u < 0.5 => 1.0,
                u if u < 0.95 => 2.0,
                u if u < 0.99 => 3.0,
                _ => 4.0,
            };
            let active = u8::from(uniform() < 0.5);
            let country = match uniform() {
                u if u < 0.5 => "france",
                u if u < 0.75 => "germany",
                _ => "spain",
            };
            let gender = if uniform() < 0.5 { "male" } else { "female" };
            let products_effect = if products == 1.0 {
                0.4
            } else if products == 2.0 {
                -1.3
            } else {
                2.8
            };
            let odds = -2.2 + 0.09 * (age - 40.0).clamp(-10.0, 25.0) - 0.004 * (age - 65.0).max(0.0).powi(2)
                + products_effect
                - 0.9 * f64::from(active)
                + if country == "germany" { 0.7 + if balance > 0.0 { 0.4 } else { 0.0 } } else { 0.0 }
                + if gender == "female" { 0.3 } else { 0.0 }
                + if products == 1.0 && active == 0 && age > 45.0 { 0.8 } else { 0.0 };
            let exited = u8::from(uniform() < 1.0 / (1.0 + (-odds).exp()));
            vec![
                format!("c{i}"),
                (350.0 + (uniform() * 500.0).floor()).to_string(),
                country.into(),
                gender.into(),
                age.to_string(),
                (uniform() * 11.0).floor().to_string(),
                format!("{balance:.2}"),
                products.to_string(),
                active.to_string(),
                format!("{:.2}", uniform() * 200_000.0),
                exited.to_string(),
            ]
        })
        .collect();
    (headers.iter().map(|h| h.to_string()).collect(), table)
}

/// `logistic_regression\tauc=0.8412+-0.0101\tfit=0.021s/fold` lines from the peer.
fn peer_churn(output: &str) -> Vec<(String, String, f64)> {
    output
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let auc = fields.get(1)?.strip_prefix("auc=")?.to_string();
            let fit = fields.get(2)?.strip_prefix("fit=")?.trim_end_matches("s/fold").parse().ok()?;
            Some((fields[0].to_string(), auc, fit))
        })
        .collect()
}

/// Churn: `rapport-predict`'s cross-validation against scikit-learn's on the same files, and
/// scoring a million customers with their top three factors.
pub fn measure_churn(args: &PredictionArgs) -> anyhow::Result<String> {
    use rapport_predict::churn::{ChurnModel, ModelChoice, cross_validate};
    use rapport_predict::dataset::Dataset;

    let scratch = tempfile::tempdir()?;
    let mut rows = String::new();
    let tables = [
        ("telecom-like", churn_table(7_043, 0x5EED + 7_043), "churned"),
        ("telecom-like", churn_table(100_000, 0x5EED + 100_000), "churned"),
        ("bank-like, non-linear", nonlinear_table(10_000, 0xBA2C), "exited"),
    ];
    for (name, (headers, table), label) in tables {
        let size = table.len();
        let path = scratch.path().join(format!("churn-{name}-{size}.csv"));
        let mut csv = headers.join(",") + "\n";
        for row in &table {
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
        std::fs::write(&path, csv)?;
        let data = Dataset::from_cells(&headers, &table, label, Some("customer"))?;
        let theirs = peer_churn(&peer(args, "churn.py", &[&path.to_string_lossy(), label, "customer"])?);
        eprintln!("churn {size}: scikit-learn {theirs:?}");
        let both: f64 = theirs.iter().map(|(_, _, fit)| fit).sum();
        // Rapport's auto against fitting both of scikit-learn's models (what choosing between them
        // costs there); each learner against its counterpart.
        let pairs = [
            (ModelChoice::Auto, "both models".to_string(), "—".to_string(), both),
            (ModelChoice::Logistic, theirs[0].0.clone(), theirs[0].1.clone(), theirs[0].2),
            (ModelChoice::Boosted, theirs[1].0.clone(), theirs[1].1.clone(), theirs[1].2),
        ];
        for (choice, peer_name, peer_auc, peer_fit) in pairs {
            let started = Instant::now();
            let clock = move || started.elapsed().as_secs_f64();
            let ours = cross_validate(&data, 5, choice, 0, &clock)?;
            let mut chosen: Vec<&str> = ours.folds.iter().map(|fold| fold.model).collect();
            chosen.sort_unstable();
            chosen.dedup();
            eprintln!("churn {size} {choice:?}: Rapport {:.4} in {:.3} s/fold", ours.roc_auc_mean, ours.fit_seconds);
            rows.push_str(&format!(
                "| {name}, {size} | {choice:?} ({}) | {:.4} ± {:.4} | {:.4} | {:.3} s | {peer_name} | {peer_auc} | {peer_fit:.3} s | {:.1}x |\n",
                chosen.join(", "),
                ours.roc_auc_mean,
                ours.roc_auc_sd,
                ours.pr_auc_mean,
                ours.fit_seconds,
                peer_fit / ours.fit_seconds
            ));
        }
    }
    // Scoring: a model fitted on 7,043 customers scores a million, each with its top 3 factors.
    let (headers, table) = churn_table(7_043, 1);
    let model =
        ChurnModel::fit(&Dataset::from_cells(&headers, &table, "churned", Some("customer"))?, ModelChoice::Auto, 0)?;
    let (_, million) = churn_table(1_000_000, 2);
    let data = Dataset::from_cells(&headers, &million, "churned", Some("customer"))?;
    let started = Instant::now();
    let scored = model.score(&data, 3);
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("scored {} customers in {seconds:.2} s", scored.len());
    rows.push_str(&format!(
        "\nScoring 1,000,000 customers with their top 3 factors ({} model): {seconds:.2} s (target: under 10 s).\n",
        model.learner.name()
    ));
    Ok(rows)
}
