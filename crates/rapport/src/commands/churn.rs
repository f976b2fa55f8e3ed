//! `rapport churn evaluate`: a churn model cross-validated on any customer table.

use std::path::PathBuf;
use std::time::Instant;

use rapport_predict::churn::{Evaluation, ModelChoice, cross_validate};
use rapport_predict::dataset::Dataset;

use crate::commands::table::Table;

#[derive(Debug, Clone, clap::Args)]
pub struct EvaluateArgs {
    /// The customer table: one row per customer, numeric and categorical columns, blanks or NA
    /// for missing values.
    #[arg(long, value_name = "FILE")]
    csv: PathBuf,
    /// The column saying whether the customer churned: yes/no, true/false or 1/0.
    #[arg(long, value_name = "COLUMN")]
    label: String,
    /// An identifier column, kept out of the features.
    #[arg(long, value_name = "COLUMN")]
    id: Option<String>,
    /// auto (logistic regression, boosted trees or their blend, chosen on held-out training
    /// rows in each fold), logistic or boosted.
    #[arg(long, default_value = "auto")]
    model: String,
    /// Folds of the stratified cross-validation.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the fold shuffle.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object (roc_auc_mean, roc_auc_sd, pr_auc_mean, fit_seconds, folds, …).
    #[arg(long)]
    json: bool,
}

pub fn evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
    let choice = ModelChoice::parse(&args.model)
        .ok_or_else(|| anyhow::anyhow!("--model must be auto, logistic or boosted, not `{}`", args.model))?;
    if args.folds < 2 {
        anyhow::bail!("--folds must be at least 2");
    }
    let table = Table::read(&args.csv)?;
    let rows: Vec<Vec<String>> = table.rows.iter().map(|(_, cells)| cells.clone()).collect();
    let data = Dataset::from_cells(&table.headers, &rows, &args.label, args.id.as_deref()).map_err(|error| {
        // Row numbers in errors are data rows; the file line is what a user can find.
        let message = error.to_string();
        match error {
            rapport_predict::dataset::DatasetError::BadLabel { row, .. } => {
                anyhow::anyhow!(
                    "line {}: {}",
                    table.rows[row].0,
                    message.split_once(": ").map_or(&*message, |(_, rest)| rest)
                )
            }
            _ => anyhow::anyhow!("{}: {message}", args.csv.display()),
        }
    })?;
    let started = Instant::now();
    let clock = move || started.elapsed().as_secs_f64();
    let evaluation = cross_validate(&data, args.folds, choice, args.seed, &clock)?;
    if args.json {
        println!("{}", serde_json::to_string(&evaluation)?);
    } else {
        print!("{}", report(&evaluation, args.folds));
    }
    Ok(())
}

fn report(evaluation: &Evaluation, folds: usize) -> String {
    let mut models: Vec<&str> = evaluation.folds.iter().map(|fold| fold.model).collect();
    models.sort_unstable();
    models.dedup();
    let chosen: Vec<String> = models
        .iter()
        .map(|model| format!("{model} x{}", evaluation.folds.iter().filter(|fold| fold.model == *model).count()))
        .collect();
    let mut text = format!(
        "{} rows, {} churners ({:.1}%), {folds}-fold stratified cross-validation\n",
        evaluation.rows,
        evaluation.churners,
        100.0 * evaluation.churners as f64 / evaluation.rows as f64
    );
    text.push_str(&format!("ROC AUC  {:.4} ± {:.4}\n", evaluation.roc_auc_mean, evaluation.roc_auc_sd));
    text.push_str(&format!("PR AUC   {:.4} ± {:.4}\n", evaluation.pr_auc_mean, evaluation.pr_auc_sd));
    text.push_str(&format!("Brier    {:.4}\n", evaluation.brier));
    text.push_str(&format!("fit      {:.3} s per fold ({})\n", evaluation.fit_seconds, chosen.join(", ")));
    text.push_str("calibration (predicted -> observed):");
    for bin in &evaluation.calibration {
        text.push_str(&format!(" {:.2}->{:.2} (n {})", bin.mean_predicted, bin.observed, bin.n));
    }
    text.push_str("\ntop factors (mean |log-odds| per customer):");
    for importance in evaluation.importance.iter().take(8) {
        text.push_str(&format!(" {} {:.3};", importance.column, importance.mean_abs_contribution));
    }
    text.push('\n');
    text
}
