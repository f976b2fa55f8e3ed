//! How well a churn model ranks and how well its probabilities are calibrated: ROC AUC (the
//! Mann-Whitney statistic, ties counted half), PR AUC (average precision, as scikit-learn's
//! `average_precision_score`), the Brier score, a reliability table, and stratified folds.

use serde::Serialize;

/// ROC AUC: the probability that a random churner scores above a random non-churner. None
/// without both classes.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mid-ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += order[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * rank;
        i = j + 1;
    }
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// A 95% interval for a ROC AUC from `positives` churners and `negatives` others (Hanley &
/// McNeil 1982), clamped to [0, 1].
pub fn roc_auc_interval(auc: f64, positives: usize, negatives: usize) -> (f64, f64) {
    let (n1, n2) = (positives as f64, negatives as f64);
    let q1 = auc / (2.0 - auc);
    let q2 = 2.0 * auc * auc / (1.0 + auc);
    let variance = (auc * (1.0 - auc) + (n1 - 1.0) * (q1 - auc * auc) + (n2 - 1.0) * (q2 - auc * auc)) / (n1 * n2);
    let half = 1.959_964 * variance.max(0.0).sqrt();
    ((auc - half).max(0.0), (auc + half).min(1.0))
}

/// Average precision: the mean over churners of the precision at their score's threshold (tied
/// scores form one threshold).
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    if positives == 0.0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut true_positives, mut seen, mut previous_recall, mut area) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        true_positives += order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        seen += (j - i + 1) as f64;
        let recall = true_positives / positives;
        area += (recall - previous_recall) * (true_positives / seen);
        previous_recall = recall;
        i = j + 1;
    }
    Some(area)
}

/// Mean squared difference between the probability and the outcome.
pub fn brier(probabilities: &[f64], labels: &[bool]) -> f64 {
    probabilities.iter().zip(labels).map(|(p, &l)| (p - f64::from(u8::from(l))).powi(2)).sum::<f64>()
        / probabilities.len() as f64
}

/// One bin of a reliability table: customers whose predicted probability fell in [from, to).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalibrationBin {
    pub from: f64,
    pub to: f64,
    pub n: usize,
    pub mean_predicted: f64,
    pub observed: f64,
}

/// Ten equal-width bins of predicted probability, empty bins left out.
pub fn calibration(probabilities: &[f64], labels: &[bool]) -> Vec<CalibrationBin> {
    let mut sums = [(0usize, 0.0f64, 0usize); 10];
    for (&p, &l) in probabilities.iter().zip(labels) {
        let bin = ((p * 10.0) as usize).min(9);
        sums[bin].0 += 1;
        sums[bin].1 += p;
        sums[bin].2 += usize::from(l);
    }
    sums.iter()
        .enumerate()
        .filter(|(_, (n, _, _))| *n > 0)
        .map(|(bin, &(n, predicted, churned))| CalibrationBin {
            from: bin as f64 / 10.0,
            to: (bin + 1) as f64 / 10.0,
            n,
            mean_predicted: predicted / n as f64,
            observed: churned as f64 / n as f64,
        })
        .collect()
}

/// Seeded shuffles (Fisher-Yates over xorshift64*): deterministic without depending on rand's
/// stream staying the same across versions. Successive shuffles continue one stream.
pub struct Shuffler(u64);

impl Shuffler {
    pub fn new(seed: u64) -> Shuffler {
        Shuffler(seed | 1)
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let random = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
            items.swap(i, (random % (i as u64 + 1)) as usize);
        }
    }
}

/// `k` folds with each class spread evenly: rows of each class shuffled (seeded), then dealt in
/// turn. Returns each fold's test rows.
pub fn stratified_folds(labels: &[bool], k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut shuffler = Shuffler::new(seed);
    let mut folds = vec![Vec::new(); k];
    let mut dealt = 0;
    for class in [true, false] {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        shuffler.shuffle(&mut rows);
        for row in rows {
            folds[dealt % k].push(row);
            dealt += 1;
        }
    }
    for fold in &mut folds {
        fold.sort_unstable();
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_and_average_precision_match_hand_computed_values() {
        let scores = [0.1, 0.4, 0.35, 0.8];
        let labels = [false, false, true, true];
        // scikit-learn: roc_auc_score = 0.75, average_precision_score = 0.8333…
        assert_eq!(roc_auc(&scores, &labels), Some(0.75));
        assert!((average_precision(&scores, &labels).unwrap() - 5.0 / 6.0).abs() < 1e-12);
        // Ties count half.
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.7], &[true, true]), None);
    }

    #[test]
    fn auc_interval_narrows_with_more_customers() {
        // AUC 0.8, 50 of each class: Q1 = 2/3, Q2 = 0.7111, variance 4.951 / 2500, SE 0.0445.
        let (low, high) = roc_auc_interval(0.8, 50, 50);
        assert!(((high - low) / 2.0 / 1.959_964 - 0.0445).abs() < 0.0002, "{low} {high}");
        let (wide_low, _) = roc_auc_interval(0.8, 10, 10);
        assert!(wide_low < low);
    }

    #[test]
    fn folds_are_stratified_and_cover_every_row_once() {
        let labels: Vec<bool> = (0..103).map(|i| i % 4 == 0).collect();
        let folds = stratified_folds(&labels, 5, 7);
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        for fold in &folds {
            let positives = fold.iter().filter(|&&i| labels[i]).count();
            assert!((5..=6).contains(&positives), "{positives}");
        }
    }

    #[test]
    fn calibration_bins_count_and_average() {
        let bins = calibration(&[0.05, 0.08, 0.95], &[false, true, true]);
        assert_eq!(bins.len(), 2);
        assert_eq!((bins[0].n, bins[0].observed), (2, 0.5));
        assert!((bins[0].mean_predicted - 0.065).abs() < 1e-12);
    }
}
