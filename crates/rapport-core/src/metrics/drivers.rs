//! The macro loop's statistics: which topics a group of respondents mentions more than the rest
//! (root causes), and which drivers move a metric most (key driver analysis by Johnson's relative
//! weights, with bootstrap intervals and an importance-against-performance quadrant).
//!
//! Relative weights (Johnson 2000, "A heuristic method for estimating the relative weight of
//! predictor variables in multiple regression", Multivariate Behavioral Research 35(1)): with the
//! predictors' correlation matrix R = V diag(λ) Vᵀ, Λ = V diag(√λ) Vᵀ relates the predictors to
//! their closest orthogonal counterparts; β = Λ⁻¹ r_xy regresses the outcome on those; predictor
//! j's raw weight is Σ_k Λ_jk² β_k². The weights sum to the model's R², and share it out even when
//! predictors are correlated (where regression coefficients do not).

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::Serialize;

use crate::metrics::stats::{Interval, benjamini_hochberg, difference, splitmix64, wilson};

/// How much each predictor explains of the outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelativeWeights {
    /// The model's R² (ordinary least squares on all predictors).
    pub r_squared: f64,
    /// Raw weights, summing to `r_squared`; 0 for a constant predictor.
    pub weights: Vec<f64>,
}

/// Johnson's relative weights of the columns of `x` (rows are observations) for `y`; `None` with
/// fewer than three observations or no varying predictor.
pub fn relative_weights(x: &[Vec<f64>], y: &[f64]) -> Option<RelativeWeights> {
    let n = y.len();
    let p = x.first().map_or(0, Vec::len);
    if n < 3 || x.len() != n || p == 0 {
        return None;
    }
    let standardised = |column: &dyn Fn(usize) -> f64| -> Option<Vec<f64>> {
        let mean = (0..n).map(column).sum::<f64>() / n as f64;
        let sd = ((0..n).map(|i| (column(i) - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        (sd > 1e-12).then(|| (0..n).map(|i| (column(i) - mean) / sd).collect())
    };
    let zy = standardised(&|i| y[i])?;
    let columns: Vec<Option<Vec<f64>>> = (0..p).map(|j| standardised(&|i| x[i][j])).collect();
    let varying: Vec<usize> = (0..p).filter(|&j| columns[j].is_some()).collect();
    if varying.is_empty() {
        return None;
    }
    let q = varying.len();
    let zx = DMatrix::from_fn(n, q, |i, k| columns[varying[k]].as_ref().map_or(0.0, |c| c[i]));
    let scale = 1.0 / (n - 1) as f64;
    let rxx = zx.transpose() * &zx * scale;
    let rxy = zx.transpose() * DVector::from_vec(zy) * scale;
    let eigen = SymmetricEigen::new(rxx);
    let roots = eigen.eigenvalues.map(|l| l.max(0.0).sqrt());
    let lambda = &eigen.eigenvectors * DMatrix::from_diagonal(&roots) * eigen.eigenvectors.transpose();
    // Λ⁻¹ through the same decomposition, leaving out directions with no variance (collinearity).
    let inverse_roots = roots.map(|r| if r > 1e-9 { 1.0 / r } else { 0.0 });
    let lambda_inverse = &eigen.eigenvectors * DMatrix::from_diagonal(&inverse_roots) * eigen.eigenvectors.transpose();
    let beta = lambda_inverse * rxy;
    let mut weights = vec![0.0; p];
    for (k, &j) in varying.iter().enumerate() {
        weights[j] = (0..q).map(|m| lambda[(k, m)].powi(2) * beta[m].powi(2)).sum();
    }
    Some(RelativeWeights { r_squared: weights.iter().sum(), weights })
}

/// Percentile bootstrap 95% intervals of each relative weight over `rounds` resamples.
pub fn bootstrap_intervals(x: &[Vec<f64>], y: &[f64], rounds: usize, seed: u64) -> Vec<Option<Interval>> {
    let p = x.first().map_or(0, Vec::len);
    let n = y.len();
    let mut next = splitmix64(seed);
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); p];
    for _ in 0..rounds {
        let picks: Vec<usize> = (0..n).map(|_| (next() % n as u64) as usize).collect();
        let xs: Vec<Vec<f64>> = picks.iter().map(|&i| x[i].clone()).collect();
        let ys: Vec<f64> = picks.iter().map(|&i| y[i]).collect();
        if let Some(weights) = relative_weights(&xs, &ys) {
            for (j, w) in weights.weights.into_iter().enumerate() {
                samples[j].push(w);
            }
        }
    }
    samples
        .into_iter()
        .map(|mut values| {
            if values.len() < 20 {
                return None;
            }
            values.sort_by(f64::total_cmp);
            let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
            Some(Interval { low: at(0.025), high: at(0.975) })
        })
        .collect()
}

/// One driver of a metric: its share of R², interval, and how the metric fares where it is present.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Driver {
    pub name: String,
    pub weight: f64,
    /// Its share of the explained variance (weight ÷ R²).
    pub importance: f64,
    pub interval: Option<Interval>,
    /// Observations where the driver is present (a value other than 0).
    pub n: usize,
    /// The metric's mean where the driver is present, minus its mean overall.
    pub performance: Option<f64>,
    /// `fix_first` (important, below average), `keep` (important, above), `monitor` (minor,
    /// below), `secondary` (minor, above).
    pub quadrant: &'static str,
}

/// The drivers of `y` among the columns of `x`, most important first; `None` when the weights
/// cannot be computed.
pub fn key_drivers(
    names: &[String],
    x: &[Vec<f64>],
    y: &[f64],
    rounds: usize,
    seed: u64,
) -> Option<(f64, Vec<Driver>)> {
    let weights = relative_weights(x, y)?;
    let intervals = bootstrap_intervals(x, y, rounds, seed);
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let fair_share = 1.0 / names.len().max(1) as f64;
    let mut drivers: Vec<Driver> = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let present: Vec<f64> = x.iter().zip(y).filter(|(row, _)| row[j] != 0.0).map(|(_, v)| *v).collect();
            let performance = (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64 - mean);
            let importance = if weights.r_squared > 0.0 { weights.weights[j] / weights.r_squared } else { 0.0 };
            let quadrant = match (importance >= fair_share, performance.unwrap_or(0.0) < 0.0) {
                (true, true) => "fix_first",
                (true, false) => "keep",
                (false, true) => "monitor",
                (false, false) => "secondary",
            };
            Driver {
                name: name.clone(),
                weight: weights.weights[j],
                importance,
                interval: intervals.get(j).copied().flatten(),
                n: present.len(),
                performance,
                quadrant,
            }
        })
        .collect();
    drivers.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    Some((weights.r_squared, drivers))
}

/// A topic's share among a group's responses and among the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicShare {
    pub topic: String,
    pub group_mentions: u64,
    pub group_n: u64,
    pub group_share: Option<f64>,
    pub group_interval: Option<Interval>,
    pub rest_mentions: u64,
    pub rest_n: u64,
    pub rest_share: Option<f64>,
    pub rest_interval: Option<Interval>,
    /// Group share − rest share, its 95% interval and p-value; q across the topics (BH).
    pub difference: Option<f64>,
    pub difference_interval: Option<Interval>,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
}

/// For each topic: how many of the group's responses and of the rest's mention it, compared.
/// `responses` are (in the group, topics mentioned); sorted by the difference, largest first.
pub fn root_causes(topics: &[String], responses: &[(bool, Vec<String>)]) -> Vec<TopicShare> {
    let group_n = responses.iter().filter(|(g, _)| *g).count() as u64;
    let rest_n = responses.len() as u64 - group_n;
    let mut shares: Vec<TopicShare> = topics
        .iter()
        .map(|topic| {
            let count = |in_group: bool| {
                responses.iter().filter(|(g, mentioned)| *g == in_group && mentioned.contains(topic)).count() as u64
            };
            let (k1, k2) = (count(true), count(false));
            let share = |k: u64, n: u64| (n > 0).then(|| k as f64 / n as f64);
            let compared = match (share(k1, group_n), share(k2, rest_n)) {
                (Some(a), Some(b)) => {
                    let d = difference(b, b * (1.0 - b) / rest_n as f64, a, a * (1.0 - a) / group_n as f64);
                    Some(d)
                }
                _ => None,
            };
            TopicShare {
                topic: topic.clone(),
                group_mentions: k1,
                group_n,
                group_share: share(k1, group_n),
                group_interval: wilson(k1, group_n),
                rest_mentions: k2,
                rest_n,
                rest_share: share(k2, rest_n),
                rest_interval: wilson(k2, rest_n),
                difference: compared.map(|d| d.difference),
                difference_interval: compared.map(|d| Interval { low: d.ci_low, high: d.ci_high }),
                p_value: compared.map(|d| d.p_value),
                q_value: None,
            }
        })
        .collect();
    let tested: Vec<usize> = (0..shares.len()).filter(|&i| shares[i].p_value.is_some()).collect();
    let q = benjamini_hochberg(&tested.iter().map(|&i| shares[i].p_value.unwrap_or(1.0)).collect::<Vec<_>>());
    for (&i, q) in tested.iter().zip(q) {
        shares[i].q_value = Some(q);
    }
    shares.sort_by(|a, b| b.difference.unwrap_or(f64::MIN).total_cmp(&a.difference.unwrap_or(f64::MIN)));
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six observations, three correlated predictors; the reference weights were computed with
    /// numpy (`numpy.linalg.eigh` of the correlation matrix, the same formulas written
    /// independently) and R² by `numpy.linalg.lstsq`.
    #[test]
    fn weights_match_a_reference_computation_and_sum_to_r_squared() {
        let x = vec![
            vec![1.0, 2.0, 0.0],
            vec![2.0, 1.0, 1.0],
            vec![3.0, 4.0, 0.0],
            vec![4.0, 3.0, 1.0],
            vec![5.0, 6.0, 1.0],
            vec![6.0, 5.0, 0.0],
        ];
        let y = vec![2.0, 3.0, 5.0, 4.0, 7.0, 6.0];
        let weights = relative_weights(&x, &y).unwrap();
        let reference = [REFERENCE_W1, REFERENCE_W2, REFERENCE_W3];
        for (got, expected) in weights.weights.iter().zip(reference) {
            assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        }
        assert!((weights.r_squared - REFERENCE_R2).abs() < 1e-9, "{}", weights.r_squared);
        assert!((weights.weights.iter().sum::<f64>() - weights.r_squared).abs() < 1e-12);
    }

    const REFERENCE_W1: f64 = 0.396_696_736_390_340_03;
    const REFERENCE_W2: f64 = 0.529_475_490_957_632;
    const REFERENCE_W3: f64 = 0.016_684_915_509_170_65;
    const REFERENCE_R2: f64 = 0.942_857_142_857_143;

    #[test]
    fn a_planted_driver_leads_and_root_causes_find_it() {
        // 400 responses: mentioning "shipping" costs 4 points, "price" 1, "app" nothing.
        let mut next = splitmix64(7);
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut responses = Vec::new();
        for _ in 0..400 {
            let row: Vec<f64> = (0..3).map(|_| f64::from(u8::from(next().is_multiple_of(4)))).collect();
            let noise = (next() % 300) as f64 / 100.0 - 1.5;
            let score = (8.0 - 4.0 * row[0] - 1.0 * row[1] + noise).clamp(0.0, 10.0);
            let mentioned: Vec<String> = ["shipping", "price", "app"]
                .iter()
                .zip(&row)
                .filter(|(_, v)| **v > 0.0)
                .map(|(t, _)| (*t).to_owned())
                .collect();
            responses.push((score <= 6.0, mentioned));
            x.push(row);
            y.push(score);
        }
        let names: Vec<String> = ["shipping", "price", "app"].map(str::to_owned).to_vec();
        let (r2, drivers) = key_drivers(&names, &x, &y, 100, 1).unwrap();
        assert_eq!(drivers[0].name, "shipping");
        assert_eq!(drivers[0].quadrant, "fix_first");
        assert!(drivers[0].importance > 0.7, "{drivers:?}");
        assert!((drivers.iter().map(|d| d.weight).sum::<f64>() - r2).abs() < 1e-9);
        let interval = drivers[0].interval.unwrap();
        assert!(interval.low < drivers[0].weight && drivers[0].weight < interval.high);
        let causes = root_causes(&names, &responses);
        assert_eq!(causes[0].topic, "shipping");
        assert!(causes[0].group_share.unwrap() > 2.0 * causes[0].rest_share.unwrap(), "{causes:?}");
        assert!(causes[0].q_value.unwrap() < 0.001);
    }
}
