//! The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "'Counting Your Customers' the
//! Easy Way"): while alive a customer buys at Poisson rate lambda ~ Gamma(r, alpha) and after each
//! purchase drops out with probability p ~ Beta(a, b). Fitted by maximum likelihood (equation 6 of
//! the paper) with an analytic gradient, in log-parameters so all four stay positive.

use rayon::prelude::*;
use serde::Serialize;

use crate::clv::{ClvError, Rfm, check_customers};
use crate::optimize::{Objective, minimise};
use crate::special::{digamma, hyp2f1, ln_beta, ln_gamma, scaled_hyp2f1};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BgNbdFit {
    #[serde(flatten)]
    pub params: BgNbd,
    pub log_likelihood: f64,
    pub customers: usize,
    pub iterations: u64,
}

/// a + b beyond which Beta(a, b) is a point mass for every practical purpose (its standard
/// deviation is below 0.2% of the mean's scale): the hypergeometric series of the general formula
/// would need millions of terms there, and its limit is closed-form.
const DEGENERATE_BETA: f64 = 1e5;

/// Customers per parallel chunk: large enough that a chunk's bookkeeping is noise.
const CHUNK: usize = 16 * 1024;

impl BgNbdFit {
    /// What a reader of the parameters should know: a drop-out probability with no spread across
    /// customers (a + b unbounded) is not an error, but a and b then carry no meaning beyond
    /// a / (a + b).
    pub fn warnings(&self) -> Vec<String> {
        let BgNbd { a, b, .. } = self.params;
        if a + b > DEGENERATE_BETA {
            vec![format!(
                "the drop-out probability shows no spread across customers (a + b = {:.3e}): read a and b only as \
                 p = a / (a + b) = {:.4}; expectations use the fixed-p limit",
                a + b,
                a / (a + b)
            )]
        } else {
            Vec::new()
        }
    }
}

impl BgNbd {
    /// The maximum-likelihood fit. Checks every customer first (0 <= recency <= T, T > 0).
    pub fn fit(customers: &[Rfm]) -> Result<BgNbdFit, ClvError> {
        check_customers(customers, false)?;
        if customers.iter().all(|customer| customer.frequency == 0) {
            return Err(ClvError::NotEnoughData("no customer made a repeat purchase: BG/NBD cannot be fitted".into()));
        }
        let data = Data::new(customers);
        // Started where lifetimes starts after scaling time so the longest T is 10: alpha at a tenth
        // of the longest T, the shapes at 1.
        let longest = customers.iter().map(|customer| customer.age).fold(0.0, f64::max);
        let start = vec![0.0, (longest / 10.0).ln(), 0.0, 0.0];
        let minimum = minimise(&data, start, 500)?;
        let theta = &minimum.theta;
        let params = BgNbd { r: theta[0].exp(), alpha: theta[1].exp(), a: theta[2].exp(), b: theta[3].exp() };
        Ok(BgNbdFit {
            params,
            log_likelihood: params.log_likelihood(customers),
            customers: customers.len(),
            iterations: minimum.iterations,
        })
    }

    /// The log-likelihood of the customers under these parameters (the paper's equation 6, summed).
    pub fn log_likelihood(&self, customers: &[Rfm]) -> f64 {
        let data = Data::new(customers);
        let theta = [self.r.ln(), self.alpha.ln(), self.a.ln(), self.b.ln()];
        -data.value_and_gradient(&theta).0 * customers.len() as f64
    }

    /// ((alpha + T) / (alpha + t_x))^(r + x) * a / (b + x - 1): the odds against being alive.
    fn odds_dead(&self, customer: &Rfm) -> f64 {
        if customer.frequency == 0 {
            return 0.0;
        }
        let x = f64::from(customer.frequency);
        let ratio_ln = (self.r + x) * ((self.alpha + customer.age).ln() - (self.alpha + customer.recency).ln());
        self.a / (self.b + x - 1.0) * ratio_ln.exp()
    }

    /// P(alive | x, t_x, T) (the paper's equation 11): 1 for a customer with no repeat purchase.
    pub fn probability_alive(&self, customer: &Rfm) -> f64 {
        1.0 / (1.0 + self.odds_dead(customer))
    }

    /// E[Y(t) | x, t_x, T]: the expected purchases in the next `t` time units (equation 10).
    /// Written with Euler's transformation already applied, so the hypergeometric series has small
    /// parameters whatever the customer's frequency:
    /// ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)
    /// with z = t / (alpha + T + t).
    pub fn expected_purchases(&self, customer: &Rfm, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let x = f64::from(customer.frequency);
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        if a + b > DEGENERATE_BETA {
            // The drop-out probability is the same p = a / (a + b) for everyone: given lambda and
            // alive, purchases until drop-out in t number (1 - e^(-lambda p t)) / p on average, and
            // lambda's posterior is Gamma(r + x, alpha + T).
            let p = a / (a + b);
            let kept = ((alpha + customer.age) / (alpha + customer.age + p * t)).powf(r + x);
            return (1.0 - kept) / p / (1.0 + self.odds_dead(customer));
        }
        let z = t / (alpha + customer.age + t);
        let tail = scaled_hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z, (a - 1.0) * (1.0 - z).ln());
        (a + b + x - 1.0) / (a - 1.0) * (1.0 - tail) / (1.0 + self.odds_dead(customer))
    }

    /// E[X(t)]: the expected purchases of a new customer in their first `t` time units (equation 9).
    pub fn expected_purchases_new(&self, t: f64) -> f64 {
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let z = t / (alpha + t);
        (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)).powf(r) * hyp2f1(r, b, a + b - 1.0, z))
    }
}

/// The customers as the likelihood reads them: an index into the distinct frequencies (whose
/// gamma and beta terms are computed once per evaluation), t_x and T.
struct Data {
    frequencies: Vec<u32>,
    index: Vec<u32>,
    recency: Vec<f64>,
    age: Vec<f64>,
}

impl Data {
    fn new(customers: &[Rfm]) -> Data {
        let mut frequencies: Vec<u32> = customers.iter().map(|customer| customer.frequency).collect();
        frequencies.sort_unstable();
        frequencies.dedup();
        let index = customers
            .iter()
            .map(|customer| frequencies.binary_search(&customer.frequency).unwrap_or(0) as u32)
            .collect();
        Data {
            frequencies,
            index,
            recency: customers.iter().map(|customer| customer.recency).collect(),
            age: customers.iter().map(|customer| customer.age).collect(),
        }
    }
}

/// Per distinct frequency x > 0, what every customer with that x shares.
#[derive(Clone, Copy, Default)]
struct PerFrequency {
    k: f64,
    /// ln Gamma(r+x) - ln Gamma(r) + r ln alpha + ln B(a, b+x) - ln B(a, b)
    constant: f64,
    /// ln(a / (b + x - 1))
    odds: f64,
    /// d constant / dr without the -ln(alpha+T) part: psi(r+x) - psi(r) + ln alpha
    d_r: f64,
    d_a: f64,
    d_b: f64,
    /// 1 / (b + x - 1)
    inverse_b: f64,
}

/// Sums of the log-likelihood and its gradient in (r, alpha, a, b).
#[derive(Clone, Copy, Default)]
struct Sums([f64; 5]);

impl Sums {
    fn add(mut self, other: Sums) -> Sums {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
        self
    }
}

impl Objective for Data {
    /// The mean negative log-likelihood and its gradient in log-parameters.
    fn value_and_gradient(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let (r, alpha, a, b) = (theta[0].exp(), theta[1].exp(), theta[2].exp(), theta[3].exp());
        // A line search may step where a parameter underflows to 0 or overflows (or is NaN):
        // no likelihood there (statrs's ln_beta panics on 0), so the search steps back.
        if ![r, alpha, a, b].iter().all(|p| p.is_finite() && *p > 0.0) {
            return (f64::INFINITY, vec![0.0; 4]);
        }
        let ln_alpha = alpha.ln();
        let beta_ab = ln_beta(a, b);
        let (psi_r, psi_a, psi_b, psi_ab) = (digamma(r), digamma(a), digamma(b), digamma(a + b));
        let per: Vec<PerFrequency> = self
            .frequencies
            .iter()
            .map(|&x| {
                if x == 0 {
                    return PerFrequency::default();
                }
                let x = f64::from(x);
                let psi_abx = digamma(a + b + x);
                PerFrequency {
                    k: r + x,
                    constant: ln_gamma(r + x) - ln_gamma(r) + r * ln_alpha + ln_beta(a, b + x) - beta_ab,
                    odds: (a / (b + x - 1.0)).ln(),
                    d_r: digamma(r + x) - psi_r + ln_alpha,
                    d_a: (psi_a - psi_abx) - (psi_a - psi_ab),
                    d_b: (digamma(b + x) - psi_abx) - (psi_b - psi_ab),
                    inverse_b: 1.0 / (b + x - 1.0),
                }
            })
            .collect();
        let sums = (0..self.age.len())
            .into_par_iter()
            .step_by(CHUNK)
            .map(|start| {
                let end = (start + CHUNK).min(self.age.len());
                let mut s = [0.0; 5];
                for i in start..end {
                    let age = self.age[i];
                    let big = (alpha + age).ln();
                    let f = per[self.index[i] as usize];
                    if f.k == 0.0 {
                        s[0] += r * (ln_alpha - big);
                        s[1] += ln_alpha - big;
                        s[2] += r / alpha - r / (alpha + age);
                        continue;
                    }
                    let small = (alpha + self.recency[i]).ln();
                    let u = f.odds + f.k * (big - small);
                    // softplus(u) = ln(1 + e^u) and its derivative, the logistic sigmoid.
                    let e = (-u.abs()).exp();
                    let softplus = u.max(0.0) + e.ln_1p();
                    let sigmoid = if u >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
                    let inverse_big = 1.0 / (alpha + age);
                    let inverse_small = 1.0 / (alpha + self.recency[i]);
                    s[0] += f.constant - f.k * big + softplus;
                    s[1] += f.d_r - big + sigmoid * (big - small);
                    s[2] += r / alpha - f.k * inverse_big + sigmoid * f.k * (inverse_big - inverse_small);
                    s[3] += f.d_a + sigmoid / a;
                    s[4] += f.d_b - sigmoid * f.inverse_b;
                }
                Sums(s)
            })
            .reduce(Sums::default, Sums::add)
            .0;
        let n = self.age.len() as f64;
        let gradient = vec![-sums[1] * r / n, -sums[2] * alpha / n, -sums[3] * a / n, -sums[4] * b / n];
        (-sums[0] / n, gradient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customers() -> Vec<Rfm> {
        let rfm = |frequency, recency, age| Rfm { frequency, recency, age, monetary_value: 0.0 };
        vec![
            rfm(0, 0.0, 30.0),
            rfm(2, 20.0, 30.0),
            rfm(1, 3.0, 35.0),
            rfm(5, 33.0, 38.0),
            rfm(0, 0.0, 38.0),
            rfm(3, 10.0, 28.0),
        ]
    }

    #[test]
    fn out_of_range_parameters_have_no_likelihood_and_do_not_panic() {
        let data = Data::new(&customers());
        for theta in [[-1.2, 1.4, -800.0, 0.9], [0.0, 0.0, 0.0, 800.0], [f64::NAN, 0.0, 0.0, 0.0]] {
            let (value, gradient) = data.value_and_gradient(&theta);
            assert_eq!((value, gradient), (f64::INFINITY, vec![0.0; 4]), "{theta:?}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let data = Data::new(&customers());
        let theta = [-1.2, 1.4, -0.2, 0.9];
        let (_, gradient) = data.value_and_gradient(&theta);
        for j in 0..4 {
            let h = 1e-6;
            let mut up = theta;
            let mut down = theta;
            up[j] += h;
            down[j] -= h;
            let numeric = (data.value_and_gradient(&up).0 - data.value_and_gradient(&down).0) / (2.0 * h);
            assert!((numeric - gradient[j]).abs() < 1e-6, "parameter {j}: {numeric} vs {}", gradient[j]);
        }
    }

    #[test]
    fn log_likelihood_matches_the_papers_equation() {
        let model = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        let direct: f64 = customers()
            .iter()
            .map(|c| {
                let (r, alpha, a, b) = (model.r, model.alpha, model.a, model.b);
                let x = f64::from(c.frequency);
                let common = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
                let a1 = (ln_beta(a, b + x) - ln_beta(a, b) - (r + x) * (alpha + c.age).ln()).exp();
                let a2 = if c.frequency > 0 {
                    (ln_beta(a + 1.0, b + x - 1.0) - ln_beta(a, b) - (r + x) * (alpha + c.recency).ln()).exp()
                } else {
                    0.0
                };
                common + (a1 + a2).ln()
            })
            .sum();
        assert!((model.log_likelihood(&customers()) - direct).abs() < 1e-9);
    }

    #[test]
    fn expectation_is_continuous_into_the_degenerate_beta() {
        // a + b just below and just above the switch: the series and the closed-form limit agree.
        let customer = Rfm { frequency: 5, recency: 14.0, age: 31.0, monetary_value: 0.0 };
        let below = BgNbd { r: 2.1, alpha: 8.0, a: 0.33e5 * 0.99, b: 0.67e5 * 0.99 };
        let above = BgNbd { r: 2.1, alpha: 8.0, a: 0.33e5 * 1.01, b: 0.67e5 * 1.01 };
        let (series, limit) = (below.expected_purchases(&customer, 26.0), above.expected_purchases(&customer, 26.0));
        assert!(series.is_finite() && limit.is_finite());
        assert!((series - limit).abs() < 1e-3 * series, "{series} vs {limit}");
        let huge = BgNbd { r: 2.1, alpha: 8.0, a: 5.1e6, b: 1.04e7 };
        assert!(huge.expected_purchases(&customer, 26.0).is_finite());
        let fit = |params| BgNbdFit { params, log_likelihood: 0.0, customers: 1, iterations: 1 };
        assert!(fit(huge).warnings()[0].contains("p = a / (a + b) = 0.3290"), "{:?}", fit(huge).warnings());
        assert!(fit(below).warnings().is_empty());
    }

    #[test]
    fn expectations_agree_with_their_limits() {
        let model = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        let new = Rfm { frequency: 0, recency: 0.0, age: 1e-9, monetary_value: 0.0 };
        // A customer observed for no time is a new customer: E[Y(t) | 0, 0, 0] = E[X(t)].
        let t = 39.0;
        assert!((model.expected_purchases(&new, t) - model.expected_purchases_new(t)).abs() < 1e-6);
        // The transformed formula agrees with the paper's equation 10 as written.
        for (x, recency, age, t) in [(3, 20.0, 38.0, 39.0), (1, 2.0, 30.0, 10.0), (7, 36.0, 38.0, 80.0)] {
            let c = Rfm { frequency: x, recency, age, monetary_value: 0.0 };
            let (r, alpha, a, b, x) = (model.r, model.alpha, model.a, model.b, f64::from(x));
            let z = t / (alpha + age + t);
            let as_written = (a + b + x - 1.0) / (a - 1.0)
                * (1.0 - ((alpha + age) / (alpha + age + t)).powf(r + x) * hyp2f1(r + x, b + x, a + b + x - 1.0, z))
                / (1.0 + a / (b + x - 1.0) * ((alpha + age) / (alpha + recency)).powf(r + x));
            let transformed = model.expected_purchases(&c, t);
            assert!((transformed - as_written).abs() < 1e-9 * as_written.abs(), "{transformed} vs {as_written}");
        }
        // Longer horizons expect more; a customer who bought recently and often more than one who
        // went quiet.
        let active = Rfm { frequency: 5, recency: 37.0, age: 38.0, monetary_value: 0.0 };
        let quiet = Rfm { frequency: 5, recency: 5.0, age: 38.0, monetary_value: 0.0 };
        assert!(model.expected_purchases(&active, 52.0) > model.expected_purchases(&active, 26.0));
        assert!(model.expected_purchases(&active, 52.0) > 3.0 * model.expected_purchases(&quiet, 52.0));
        assert!(model.probability_alive(&active) > 0.85 && model.probability_alive(&quiet) < 0.1);
        assert_eq!(model.probability_alive(&new), 1.0);
    }
}
