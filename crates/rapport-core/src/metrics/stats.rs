//! The statistics behind every figure: intervals (adjusted Wald for NPS-like nets, Wilson for
//! proportions, Student t for means), z tests of a difference, and Benjamini-Hochberg.
//! Formulas and references are in METRICS.md; the tests check them against hand-computed values
//! and by simulation.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The 97.5th percentile of the standard normal: two-sided 95%.
pub const Z95: f64 = 1.959_963_984_540_054;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    fn clamped(center: f64, half_width: f64, low: f64, high: f64) -> Interval {
        Interval { low: (center - half_width).max(low), high: (center + half_width).min(high) }
    }

    pub fn scaled(self, factor: f64) -> Interval {
        Interval { low: self.low * factor, high: self.high * factor }
    }
}

/// Wilson score interval for `successes` out of `n` (a proportion in 0..1); `None` when n = 0.
pub fn wilson(successes: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let (n, p, z2) = (n as f64, successes as f64 / n as f64, Z95 * Z95);
    let center = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval::clamped(center, half, 0.0, 1.0))
}

/// A net of two shares, such as NPS (promoters − detractors): the estimate and its variance with
/// Rocks' adjustment (2016): add 3 to n and ¾ to each of the two counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Net {
    /// The plain net, (plus − minus) / n, in −1..1.
    pub net: f64,
    /// The adjusted net and the variance of one observation around it.
    pub adjusted: f64,
    pub adjusted_variance: f64,
    pub adjusted_n: f64,
}

impl Net {
    /// `None` when n = 0.
    pub fn new(plus: u64, minus: u64, n: u64) -> Option<Net> {
        Net::of(plus as f64, minus as f64, n as f64)
    }

    /// The same with counts that need not be whole: weighted shares times an effective n.
    pub fn of(plus: f64, minus: f64, n: f64) -> Option<Net> {
        if n <= 0.0 {
            return None;
        }
        let adjusted_n = n + 3.0;
        let p = (plus + 0.75) / adjusted_n;
        let d = (minus + 0.75) / adjusted_n;
        let adjusted = p - d;
        Some(Net { net: (plus - minus) / n, adjusted, adjusted_variance: p + d - adjusted * adjusted, adjusted_n })
    }

    /// The adjusted Wald interval, in −1..1.
    pub fn interval(&self) -> Interval {
        Interval::clamped(self.adjusted, Z95 * self.variance_of_estimate().sqrt(), -1.0, 1.0)
    }

    /// The variance of the estimate (one observation's variance over the adjusted n).
    pub fn variance_of_estimate(&self) -> f64 {
        self.adjusted_variance / self.adjusted_n
    }
}

/// The 97.5th percentile of Student's t with `df` degrees of freedom.
pub fn t95(df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map(|t| t.inverse_cdf(0.975)).unwrap_or(Z95)
}

/// Mean, sample standard deviation and n of a set of scores given as (score, count).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub sd: f64,
}

impl Moments {
    /// `None` when n = 0; sd is 0 when n = 1.
    pub fn of(counts: impl Iterator<Item = (i64, u64)> + Clone) -> Option<Moments> {
        let n: u64 = counts.clone().map(|(_, count)| count).sum();
        if n == 0 {
            return None;
        }
        let mean = counts.clone().map(|(score, count)| score as f64 * count as f64).sum::<f64>() / n as f64;
        let squares: f64 = counts.map(|(score, count)| (score as f64 - mean).powi(2) * count as f64).sum();
        let sd = if n > 1 { (squares / (n - 1) as f64).sqrt() } else { 0.0 };
        Some(Moments { n, mean, sd })
    }

    /// The t interval of the mean; `None` below two observations.
    pub fn interval(&self) -> Option<Interval> {
        if self.n < 2 {
            return None;
        }
        let half = t95((self.n - 1) as f64) * self.sd / (self.n as f64).sqrt();
        Some(Interval { low: self.mean - half, high: self.mean + half })
    }

    pub fn variance_of_estimate(&self) -> f64 {
        self.sd * self.sd / self.n as f64
    }
}

/// A difference between two estimates with its 95% interval and two-sided z-test p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
}

/// `later − earlier`, from each estimate and the variance of each estimate.
pub fn difference(earlier: f64, earlier_variance: f64, later: f64, later_variance: f64) -> Difference {
    let difference = later - earlier;
    let se = (earlier_variance + later_variance).sqrt();
    let p_value = if se > 0.0 {
        2.0 * (1.0 - standard_normal_cdf(difference.abs() / se))
    } else if difference == 0.0 {
        1.0
    } else {
        0.0
    };
    Difference { difference, ci_low: difference - Z95 * se, ci_high: difference + Z95 * se, p_value }
}

pub fn standard_normal_cdf(z: f64) -> f64 {
    Normal::standard().cdf(z)
}

/// Benjamini-Hochberg adjusted p-values (q-values), in the order given: reject at false-discovery
/// rate α every hypothesis whose q-value is ≤ α.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut q = vec![0.0; m];
    let mut running_min = 1.0_f64;
    for (rank, &index) in order.iter().enumerate().rev() {
        running_min = running_min.min(p_values[index] * m as f64 / (rank + 1) as f64);
        q[index] = running_min;
    }
    q
}

/// A deterministic stream of pseudo-random numbers (splitmix64) for resampling and generated test
/// data: the seed is the caller's, so a report is reproducible.
pub fn splitmix64(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn wilson_matches_hand_computation() {
        // 8 of 10: p = .8, z² = 3.8415; center = (.8 + .19207)/1.38415 = .71673;
        // half = 1.95996/1.38415 · √(.016 + .0096037) = .22657.
        let interval = wilson(8, 10).unwrap();
        assert!(close(interval.low, 0.4902, 1e-4), "{interval:?}");
        assert!(close(interval.high, 0.9433, 1e-4), "{interval:?}");
        // All successes: the upper bound is 1 and the lower bound is above 0.
        let all = wilson(5, 5).unwrap();
        assert!(close(all.high, 1.0, 1e-12) && all.low > 0.5 && all.low < 0.6, "{all:?}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn adjusted_wald_follows_rocks() {
        // 50 promoters, 30 passives, 20 detractors: n' = 103, p' = 50.75/103, d' = 20.75/103.
        let net = Net::new(50, 20, 100).unwrap();
        assert!(close(net.net, 0.30, 1e-12));
        let (p, d): (f64, f64) = (50.75 / 103.0, 20.75 / 103.0);
        let variance = (p + d - (p - d) * (p - d)) / 103.0;
        let interval = net.interval();
        assert!(close(interval.low, (p - d) - Z95 * variance.sqrt(), 1e-12));
        assert!(close(interval.high, (p - d) + Z95 * variance.sqrt(), 1e-12));
        // By hand: p' − d' = .29126, variance = (.69417 − .08483)/103 = .0059159, half-width = .15075.
        assert!(close(interval.low, 0.1405, 1e-4) && close(interval.high, 0.4420, 1e-4), "{interval:?}");
    }

    #[test]
    fn t_interval_of_a_mean() {
        // Scores 1..=5 once each: mean 3, sd √2.5, t(4) = 2.7764.
        let moments = Moments::of([(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)].into_iter()).unwrap();
        assert!(close(moments.mean, 3.0, 1e-12) && close(moments.sd, 2.5_f64.sqrt(), 1e-12));
        let interval = moments.interval().unwrap();
        assert!(close(interval.high - 3.0, 2.776_445 * 2.5_f64.sqrt() / 5_f64.sqrt(), 1e-5), "{interval:?}");
        assert_eq!(Moments::of([(4, 1)].into_iter()).unwrap().interval(), None);
    }

    #[test]
    fn z_test_of_a_difference() {
        // Difference 1.96 standard errors away: p = .05.
        let d = difference(0.0, 0.5, 1.96, 0.5);
        assert!(close(d.p_value, 0.05, 1e-3), "{d:?}");
        assert!(close(d.ci_low, 1.96 - Z95, 1e-9));
        assert_eq!(difference(1.0, 0.0, 1.0, 0.0).p_value, 1.0);
    }

    #[test]
    fn benjamini_hochberg_by_hand() {
        // Sorted p: .01 .02 .03 .04 .5 (m = 5): p·m/rank = .05 .05 .05 .05 .5, then running minimum.
        let q = benjamini_hochberg(&[0.04, 0.01, 0.5, 0.03, 0.02]);
        let expected = [0.05, 0.05, 0.5, 0.05, 0.05];
        for (got, want) in q.iter().zip(expected) {
            assert!(close(*got, want, 1e-12), "{q:?}");
        }
        // Monotone: a larger p never gets a smaller q.
        let q = benjamini_hochberg(&[0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]);
        assert!(q.windows(2).all(|pair| pair[0] <= pair[1]), "{q:?}");
        assert!(close(q[0], 0.008, 1e-12) && close(q[2], 0.0672, 1e-12), "{q:?}");
    }
}
