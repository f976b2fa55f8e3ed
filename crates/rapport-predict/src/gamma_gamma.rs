//! The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013, "The Gamma-Gamma Model of
//! Monetary Value"; Colombo & Jiang 1999): a customer's transaction values are Gamma(p, nu) with
//! nu ~ Gamma(q, gamma) across customers, independent of how often they buy. Fitted by maximum
//! likelihood on the customers with repeat purchases, from each one's number of repeat
//! transactions x and their mean value.

use rayon::prelude::*;
use serde::Serialize;

use crate::clv::{ClvError, Rfm, check_customers};
use crate::optimize::{Objective, minimise};
use crate::special::{digamma, ln_gamma};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GammaGammaFit {
    #[serde(flatten)]
    pub params: GammaGamma,
    pub log_likelihood: f64,
    /// Customers the fit used: those with a repeat purchase.
    pub customers: usize,
    pub iterations: u64,
}

const CHUNK: usize = 16 * 1024;

impl GammaGammaFit {
    /// What a reader should know: with q <= 1 the population's mean spend does not exist, so
    /// expected spend (and value) is infinite.
    pub fn warnings(&self) -> Vec<String> {
        if self.params.q <= 1.0 {
            vec![format!(
                "q = {:.3} is not above 1: the population's mean spend does not exist and expected spend is infinite",
                self.params.q
            )]
        } else {
            Vec::new()
        }
    }
}

impl GammaGamma {
    /// The maximum-likelihood fit on the customers with repeat purchases (the others carry no spend
    /// information: their first purchase is not counted, as in the paper).
    pub fn fit(customers: &[Rfm]) -> Result<GammaGammaFit, ClvError> {
        check_customers(customers, true)?;
        let data = Data::new(customers);
        if data.index.len() < 2 {
            return Err(ClvError::NotEnoughData(
                "Gamma-Gamma needs at least two customers with repeat purchases".into(),
            ));
        }
        let minimum = minimise(&data, vec![0.0, 0.0, 0.0], 500)?;
        let theta = &minimum.theta;
        let params = GammaGamma { p: theta[0].exp(), q: theta[1].exp(), gamma: theta[2].exp() };
        let n = data.index.len();
        Ok(GammaGammaFit {
            params,
            log_likelihood: -minimum.value * n as f64,
            customers: n,
            iterations: minimum.iterations,
        })
    }

    /// The log-likelihood of the repeat customers' mean spends under these parameters.
    pub fn log_likelihood(&self, customers: &[Rfm]) -> f64 {
        let data = Data::new(customers);
        let theta = [self.p.ln(), self.q.ln(), self.gamma.ln()];
        -data.value_and_gradient(&theta).0 * data.index.len() as f64
    }

    /// E[Z | x, mean spend]: the expected spend per future transaction, a weighted mean of the
    /// population mean p gamma / (q - 1) and the customer's own mean (Fader & Hardie 2013, eq. 5);
    /// the population mean for a customer without repeat purchases. Infinite when q <= 1 (the
    /// population mean does not exist).
    pub fn expected_average_spend(&self, frequency: u32, mean_spend: f64) -> f64 {
        let (p, q, gamma) = (self.p, self.q, self.gamma);
        if q <= 1.0 {
            return f64::INFINITY;
        }
        if frequency == 0 {
            return p * gamma / (q - 1.0);
        }
        let x = f64::from(frequency);
        p * (gamma + x * mean_spend) / (p * x + q - 1.0)
    }
}

struct Data {
    frequencies: Vec<u32>,
    /// Per distinct frequency: customers, and the sum of their ln(mean spend).
    counts: Vec<f64>,
    sum_ln_spend: Vec<f64>,
    index: Vec<u32>,
    /// x * mean spend, per customer.
    total: Vec<f64>,
}

impl Data {
    fn new(customers: &[Rfm]) -> Data {
        let repeat: Vec<&Rfm> = customers.iter().filter(|customer| customer.frequency > 0).collect();
        let mut frequencies: Vec<u32> = repeat.iter().map(|customer| customer.frequency).collect();
        frequencies.sort_unstable();
        frequencies.dedup();
        let mut counts = vec![0.0; frequencies.len()];
        let mut sum_ln_spend = vec![0.0; frequencies.len()];
        let mut index = Vec::with_capacity(repeat.len());
        for customer in &repeat {
            let at = frequencies.binary_search(&customer.frequency).unwrap_or(0);
            counts[at] += 1.0;
            sum_ln_spend[at] += customer.monetary_value.ln();
            index.push(at as u32);
        }
        let total = repeat.iter().map(|customer| f64::from(customer.frequency) * customer.monetary_value).collect();
        Data { frequencies, counts, sum_ln_spend, index, total }
    }
}

impl Objective for Data {
    /// The mean negative log-likelihood of Fader & Hardie (2013), equation 3, and its gradient in
    /// log-parameters. Per customer only ln(gamma + x zbar) and its reciprocal depend on both the
    /// parameters and the customer; everything else is summed per distinct x.
    fn value_and_gradient(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let (p, q, gamma) = (theta[0].exp(), theta[1].exp(), theta[2].exp());
        // Where a line search steps past what floats hold, there is no likelihood: it steps back.
        if ![p, q, gamma].iter().all(|v| v.is_finite() && *v > 0.0) {
            return (f64::INFINITY, vec![0.0; 3]);
        }
        let groups = self.frequencies.len();
        // Per distinct x: sum of ln(gamma + x zbar) and of 1 / (gamma + x zbar).
        let sums = self
            .index
            .par_chunks(CHUNK)
            .zip(self.total.par_chunks(CHUNK))
            .map(|(index, total)| {
                let mut sums = vec![0.0; 2 * groups];
                for (&at, &total) in index.iter().zip(total) {
                    let at = at as usize;
                    sums[2 * at] += (gamma + total).ln();
                    sums[2 * at + 1] += 1.0 / (gamma + total);
                }
                sums
            })
            .reduce(
                || vec![0.0; 2 * groups],
                |mut left, right| {
                    left.iter_mut().zip(right).for_each(|(l, r)| *l += r);
                    left
                },
            );
        let (ln_gamma_q, psi_q, ln_scale) = (ln_gamma(q), digamma(q), gamma.ln());
        let (mut value, mut d_p, mut d_q, mut d_gamma) = (0.0, 0.0, 0.0, 0.0);
        for (at, &frequency) in self.frequencies.iter().enumerate() {
            let x = f64::from(frequency);
            let (n, sum_ln, sum_log_total, sum_inverse) =
                (self.counts[at], self.sum_ln_spend[at], sums[2 * at], sums[2 * at + 1]);
            let (px, pxq) = (p * x, p * x + q);
            let psi_pxq = digamma(pxq);
            value += n * (ln_gamma(pxq) - ln_gamma(px) - ln_gamma_q + q * ln_scale + px * x.ln()) + (px - 1.0) * sum_ln
                - pxq * sum_log_total;
            d_p += n * x * (psi_pxq - digamma(px) + x.ln()) + x * sum_ln - x * sum_log_total;
            d_q += n * (psi_pxq - psi_q + ln_scale) - sum_log_total;
            d_gamma += n * q / gamma - pxq * sum_inverse;
        }
        let n = self.index.len() as f64;
        (-value / n, vec![-d_p * p / n, -d_q * q / n, -d_gamma * gamma / n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customers() -> Vec<Rfm> {
        let rfm = |frequency, monetary_value| Rfm { frequency, recency: 1.0, age: 2.0, monetary_value };
        vec![
            rfm(1, 20.0),
            rfm(2, 35.5),
            rfm(1, 12.0),
            rfm(4, 18.25),
            rfm(2, 60.0),
            Rfm { frequency: 0, recency: 0.0, age: 2.0, monetary_value: 0.0 },
        ]
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let data = Data::new(&customers());
        let theta = [1.5, 0.9, 2.4];
        let (_, gradient) = data.value_and_gradient(&theta);
        for j in 0..3 {
            let h = 1e-6;
            let (mut up, mut down) = (theta, theta);
            up[j] += h;
            down[j] -= h;
            let numeric = (data.value_and_gradient(&up).0 - data.value_and_gradient(&down).0) / (2.0 * h);
            assert!((numeric - gradient[j]).abs() < 1e-6, "parameter {j}: {numeric} vs {}", gradient[j]);
        }
    }

    #[test]
    fn log_likelihood_matches_the_density() {
        let model = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
        let direct: f64 = customers()
            .iter()
            .filter(|c| c.frequency > 0)
            .map(|c| {
                let (p, q, g, x, z) = (model.p, model.q, model.gamma, f64::from(c.frequency), c.monetary_value);
                ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
                    + q * g.ln()
                    + (p * x - 1.0) * z.ln()
                    + p * x * x.ln()
                    - (p * x + q) * (g + x * z).ln()
            })
            .sum();
        assert!((model.log_likelihood(&customers()) - direct).abs() < 1e-9);
    }

    #[test]
    fn expected_spend_shrinks_towards_the_population_mean() {
        let model = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
        let population = model.expected_average_spend(0, 0.0);
        assert!((population - 6.25 * 15.44 / 2.74).abs() < 1e-12);
        let one = model.expected_average_spend(1, 100.0);
        let many = model.expected_average_spend(20, 100.0);
        assert!(population < one && one < many && many < 100.0);
    }
}
