//! Churn models on a customer table: fitting (logistic regression, boosted trees, or the better of
//! them and their blend on a held-out fifth of the training rows), probabilities with each
//! customer's top factors, and stratified cross-validation. Methods: PREDICTION.md.

use serde::{Deserialize, Serialize};

use crate::boosting::Boosted;
use crate::dataset::{Dataset, Values};
use crate::encode::{Encoder, Matrix};
use crate::evaluation::{
    CalibrationBin, Shuffler, average_precision, brier, calibration, roc_auc, roc_auc_interval, stratified_folds,
};
use crate::logistic::{Logistic, sigmoid};
use crate::optimize::OptimiseError;

/// Which learner to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelChoice {
    /// Logistic regression, boosted trees and their blend compared on a held-out fifth of the
    /// training rows: the logistic regression unless one of the others beats its AUC by more than
    /// a standard error; the choice refitted on all of them.
    Auto,
    Logistic,
    Boosted,
}

impl ModelChoice {
    pub fn parse(text: &str) -> Option<ModelChoice> {
        match text {
            "auto" => Some(ModelChoice::Auto),
            "logistic" | "logistic_regression" => Some(ModelChoice::Logistic),
            "boosted" | "gradient_boosting" | "trees" => Some(ModelChoice::Boosted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Learner {
    Logistic {
        model: Logistic,
    },
    Boosted {
        model: Boosted,
    },
    /// The mean of both log-odds.
    Blend {
        logistic: Logistic,
        boosted: Boosted,
    },
}

impl Learner {
    pub fn name(&self) -> &'static str {
        match self {
            Learner::Logistic { .. } => "logistic_regression",
            Learner::Boosted { .. } => "gradient_boosting",
            Learner::Blend { .. } => "blend",
        }
    }

    fn log_odds(&self, row: &[f64]) -> f64 {
        match self {
            Learner::Logistic { model } => model.log_odds(row),
            Learner::Boosted { model } => model.log_odds(row),
            Learner::Blend { logistic, boosted } => (logistic.log_odds(row) + boosted.log_odds(row)) / 2.0,
        }
    }

    fn contributions(&self, row: &[f64]) -> Vec<f64> {
        match self {
            Learner::Logistic { model } => model.contributions(row),
            Learner::Boosted { model } => model.contributions(row, row.len()),
            Learner::Blend { logistic, boosted } => logistic
                .contributions(row)
                .iter()
                .zip(boosted.contributions(row, row.len()))
                .map(|(a, b)| (a + b) / 2.0)
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChurnError {
    #[error("{0}")]
    Data(#[from] crate::dataset::DatasetError),
    #[error("the training rows have only one class: both churners and others are needed")]
    OneClass,
    #[error(transparent)]
    Optimise(#[from] OptimiseError),
    #[error("cross-validation needs at least {needed} rows of each class, found {found}")]
    TooFewRows { needed: usize, found: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnModel {
    pub encoder: Encoder,
    pub learner: Learner,
}

/// A factor in one customer's score: a column, its value, and how much it moves the log-odds of
/// churn (positive raises the risk).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factor {
    pub column: String,
    pub value: String,
    pub contribution: f64,
    pub direction: &'static str,
}

/// One customer's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub probability: f64,
    pub factors: Vec<Factor>,
}

/// The rows of a fold's training set kept back to choose the learner.
const SELECTION_FOLDS: usize = 5;
/// L2 penalty of the logistic regression (scikit-learn's default C = 1).
const LAMBDA: f64 = 1.0;

fn fit_learner(x: &Matrix, y: &[bool], choice: ModelChoice, seed: u64) -> Result<Learner, ChurnError> {
    match choice {
        ModelChoice::Logistic => Ok(Learner::Logistic { model: Logistic::fit(x, y, LAMBDA)? }),
        ModelChoice::Boosted => Ok(Learner::Boosted { model: Boosted::fit(x, y) }),
        ModelChoice::Auto => {
            let minority = y.iter().filter(|&&l| l).count().min(y.iter().filter(|&&l| !l).count());
            if minority < 2 * SELECTION_FOLDS {
                return fit_learner(x, y, ModelChoice::Logistic, seed);
            }
            let held_out = &stratified_folds(y, SELECTION_FOLDS, seed)[0];
            let mut is_held = vec![false; y.len()];
            held_out.iter().for_each(|&i| is_held[i] = true);
            let kept: Vec<usize> = (0..y.len()).filter(|&i| !is_held[i]).collect();
            let (train_x, train_y) = rows(x, y, &kept);
            let (test_x, test_y) = rows(x, y, held_out);
            let (logistic, boosted) =
                rayon::join(|| Logistic::fit(&train_x, &train_y, LAMBDA), || Boosted::fit(&train_x, &train_y));
            let logistic = logistic?;
            let candidates = [
                Learner::Logistic { model: logistic.clone() },
                Learner::Boosted { model: boosted.clone() },
                Learner::Blend { logistic, boosted },
            ];
            let auc = |learner: &Learner| {
                let scores: Vec<f64> = (0..test_x.rows).map(|i| learner.log_odds(test_x.row(i))).collect();
                roc_auc(&scores, &test_y).unwrap_or(0.5)
            };
            // The one-standard-error rule: the logistic regression (the simplest, the steadiest
            // explanations) unless another beats its held-out AUC by more than that AUC's standard
            // error (Hanley & McNeil); a small hold-out cannot tell close models apart.
            let aucs: Vec<f64> = candidates.iter().map(auc).collect();
            let positives = test_y.iter().filter(|&&l| l).count();
            let (low, high) = roc_auc_interval(aucs[0], positives, test_y.len() - positives);
            let margin = (high - low) / 2.0 / 1.959_964;
            let challenger = if aucs[2] >= aucs[1] { 2 } else { 1 };
            let best = if aucs[challenger] > aucs[0] + margin { Some(&candidates[challenger]) } else { None };
            Ok(match best {
                Some(Learner::Boosted { .. }) => Learner::Boosted { model: Boosted::fit(x, y) },
                Some(Learner::Blend { .. }) => {
                    Learner::Blend { logistic: Logistic::fit(x, y, LAMBDA)?, boosted: Boosted::fit(x, y) }
                }
                _ => Learner::Logistic { model: Logistic::fit(x, y, LAMBDA)? },
            })
        }
    }
}

fn rows(x: &Matrix, y: &[bool], indices: &[usize]) -> (Matrix, Vec<bool>) {
    let mut values = Vec::with_capacity(indices.len() * x.width);
    for &i in indices {
        values.extend_from_slice(x.row(i));
    }
    (Matrix { rows: indices.len(), width: x.width, values }, indices.iter().map(|&i| y[i]).collect())
}

/// A cell of `data` as text, for explanations.
fn cell_text(data: &Dataset, column: usize, row: usize) -> String {
    match &data.columns[column].values {
        Values::Numeric(values) if values[row].is_nan() => "missing".into(),
        Values::Numeric(values) => format!("{}", (values[row] * 1e4).round() / 1e4),
        Values::Categorical { levels, codes } => {
            levels.get(codes[row] as usize).cloned().unwrap_or_else(|| "missing".into())
        }
    }
}

impl ChurnModel {
    pub fn fit(data: &Dataset, choice: ModelChoice, seed: u64) -> Result<ChurnModel, ChurnError> {
        if data.labels.iter().all(|&l| l) || data.labels.iter().all(|&l| !l) {
            return Err(ChurnError::OneClass);
        }
        let encoder = Encoder::fit(data);
        let x = encoder.transform(data);
        let learner = fit_learner(&x, &data.labels, choice, seed)?;
        Ok(ChurnModel { encoder, learner })
    }

    /// The probability of churn of every row of `data`.
    pub fn probabilities(&self, data: &Dataset) -> Vec<f64> {
        let x = self.encoder.transform(data);
        (0..x.rows).map(|i| sigmoid(self.learner.log_odds(x.row(i)))).collect()
    }

    /// Every row's probability and its `top` factors by the size of their pull, largest first.
    pub fn score(&self, data: &Dataset, top: usize) -> Vec<Scored> {
        let x = self.encoder.transform(data);
        (0..x.rows)
            .map(|i| {
                let row = x.row(i);
                let per_column = self.column_contributions(row);
                let mut order: Vec<usize> = (0..per_column.len()).filter(|&c| per_column[c].abs() > 1e-9).collect();
                order.sort_by(|&a, &b| per_column[b].abs().total_cmp(&per_column[a].abs()));
                let factors = order
                    .into_iter()
                    .take(top)
                    .map(|column| Factor {
                        column: self.encoder.columns[column].clone(),
                        value: cell_text(data, column, i),
                        contribution: (per_column[column] * 1e4).round() / 1e4,
                        direction: if per_column[column] > 0.0 { "raises" } else { "lowers" },
                    })
                    .collect();
                Scored { probability: sigmoid(self.learner.log_odds(row)), factors }
            })
            .collect()
    }

    /// Each column's part of one encoded row's log-odds (its features' parts added up).
    fn column_contributions(&self, row: &[f64]) -> Vec<f64> {
        let mut per_column = vec![0.0; self.encoder.columns.len()];
        for (contribution, (_, column)) in self.learner.contributions(row).into_iter().zip(&self.encoder.features) {
            per_column[*column] += contribution;
        }
        per_column
    }

    /// The sum over `data`'s rows of each column's absolute part of the log-odds, in the
    /// encoder's column order (divide by the rows for the mean pull).
    pub fn total_abs_contributions(&self, data: &Dataset) -> Vec<f64> {
        let x = self.encoder.transform(data);
        let mut totals = vec![0.0; self.encoder.columns.len()];
        for i in 0..x.rows {
            for (total, part) in totals.iter_mut().zip(self.column_contributions(x.row(i))) {
                *total += part.abs();
            }
        }
        totals
    }
}

/// Permutation importance: how much the ROC AUC on `data` falls when one column's values are
/// shuffled among the rows (seeded), per column, largest fall first. A column the model does not
/// really use falls by about zero, whatever its weight.
pub fn permutation_importance(model: &ChurnModel, data: &Dataset, seed: u64) -> Vec<(String, f64)> {
    let base = roc_auc(&model.probabilities(data), &data.labels).unwrap_or(0.5);
    let mut order: Vec<usize> = (0..data.len()).collect();
    Shuffler::new(seed).shuffle(&mut order);
    let mut importance: Vec<(String, f64)> = (0..data.columns.len())
        .map(|column| {
            let mut shuffled = data.clone();
            shuffled.columns[column].values = match &data.columns[column].values {
                Values::Numeric(values) => Values::Numeric(order.iter().map(|&i| values[i]).collect()),
                Values::Categorical { levels, codes } => {
                    Values::Categorical { levels: levels.clone(), codes: order.iter().map(|&i| codes[i]).collect() }
                }
            };
            let auc = roc_auc(&model.probabilities(&shuffled), &data.labels).unwrap_or(0.5);
            (data.columns[column].name.clone(), base - auc)
        })
        .collect();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    importance
}

/// One fold of a cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldResult {
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub fit_seconds: f64,
    pub model: &'static str,
}

/// A column's mean absolute pull on the out-of-fold scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Importance {
    pub column: String,
    pub mean_abs_contribution: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub rows: usize,
    pub churners: usize,
    pub folds: Vec<FoldResult>,
    pub roc_auc_mean: f64,
    pub roc_auc_sd: f64,
    pub pr_auc_mean: f64,
    pub pr_auc_sd: f64,
    /// Mean seconds per fold to fit (encoding and learner choice included).
    pub fit_seconds: f64,
    /// Pooled over the out-of-fold probabilities.
    pub brier: f64,
    pub calibration: Vec<CalibrationBin>,
    pub importance: Vec<Importance>,
}

fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (mean, (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt())
}

/// `k`-fold stratified cross-validation (seeded shuffle). `clock` returns seconds: fits are timed
/// by the caller's clock (this crate reads none).
pub fn cross_validate(
    data: &Dataset,
    k: usize,
    choice: ModelChoice,
    seed: u64,
    clock: &dyn Fn() -> f64,
) -> Result<Evaluation, ChurnError> {
    let churners = data.labels.iter().filter(|&&l| l).count();
    let minority = churners.min(data.len() - churners);
    if minority < k {
        return Err(ChurnError::TooFewRows { needed: k, found: minority });
    }
    let folds = stratified_folds(&data.labels, k, seed);
    let mut results = Vec::with_capacity(k);
    let mut out_of_fold = vec![0.0; data.len()];
    let mut importance = vec![0.0; data.columns.len()];
    for test in &folds {
        let mut in_test = vec![false; data.len()];
        test.iter().for_each(|&i| in_test[i] = true);
        let train: Vec<usize> = (0..data.len()).filter(|&i| !in_test[i]).collect();
        let train_data = data.subset(&train);
        let test_data = data.subset(test);
        let started = clock();
        let model = ChurnModel::fit(&train_data, choice, seed)?;
        let fit_seconds = clock() - started;
        let probabilities = model.probabilities(&test_data);
        for (&row, probability) in test.iter().zip(&probabilities) {
            out_of_fold[row] = *probability;
        }
        // The fold's columns are the table's, in the same order.
        for (total, part) in importance.iter_mut().zip(model.total_abs_contributions(&test_data)) {
            *total += part;
        }
        results.push(FoldResult {
            roc_auc: roc_auc(&probabilities, &test_data.labels).unwrap_or(0.5),
            pr_auc: average_precision(&probabilities, &test_data.labels).unwrap_or(0.0),
            fit_seconds,
            model: model.learner.name(),
        });
    }
    let (roc_auc_mean, roc_auc_sd) = mean_sd(&results.iter().map(|r| r.roc_auc).collect::<Vec<_>>());
    let (pr_auc_mean, pr_auc_sd) = mean_sd(&results.iter().map(|r| r.pr_auc).collect::<Vec<_>>());
    let fit_seconds = results.iter().map(|r| r.fit_seconds).sum::<f64>() / k as f64;
    let mut importance: Vec<Importance> = data
        .columns
        .iter()
        .zip(importance)
        .map(|(column, total)| Importance {
            column: column.name.clone(),
            mean_abs_contribution: (total / data.len() as f64 * 1e4).round() / 1e4,
        })
        .collect();
    importance.sort_by(|a, b| b.mean_abs_contribution.total_cmp(&a.mean_abs_contribution));
    Ok(Evaluation {
        rows: data.len(),
        churners,
        folds: results,
        roc_auc_mean,
        roc_auc_sd,
        pr_auc_mean,
        pr_auc_sd,
        fit_seconds,
        brier: brier(&out_of_fold, &data.labels),
        calibration: calibration(&out_of_fold, &data.labels),
        importance,
    })
}
