//! L2-regularised logistic regression on standardised features: minimises the summed log loss
//! plus (lambda / 2) ||w||^2 (the intercept unpenalised; lambda = 1 is scikit-learn's default
//! C = 1). Newton's method (the Hessian X'WX + lambda I by nalgebra, solved by Cholesky, steps
//! halved until the loss falls) up to `NEWTON_MAX_FEATURES` features, where a Hessian is cheap;
//! L-BFGS on the exact gradient beyond.

use nalgebra::{DMatrix, DVector};

use serde::{Deserialize, Serialize};

use crate::encode::Matrix;
use crate::optimize::{Objective, OptimiseError, minimise};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub intercept: f64,
    pub weights: Vec<f64>,
}

struct Problem<'a> {
    x: &'a Matrix,
    y: &'a [bool],
    lambda: f64,
}

/// ln(1 + e^z), without overflow.
pub fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Objective for Problem<'_> {
    fn value_and_gradient(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let (intercept, weights) = (theta[0], &theta[1..]);
        let mut value = 0.5 * self.lambda * weights.iter().map(|w| w * w).sum::<f64>();
        let mut gradient = vec![0.0; theta.len()];
        for (j, w) in weights.iter().enumerate() {
            gradient[j + 1] = self.lambda * w;
        }
        for i in 0..self.x.rows {
            let row = self.x.row(i);
            let z = intercept + row.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>();
            // Loss -y ln p - (1-y) ln(1-p) = softplus(z) - y z; its derivative p - y.
            let y = if self.y[i] { 1.0 } else { 0.0 };
            value += softplus(z) - y * z;
            let residual = sigmoid(z) - y;
            gradient[0] += residual;
            for (g, x) in gradient[1..].iter_mut().zip(row) {
                *g += residual * x;
            }
        }
        let n = self.x.rows as f64;
        (value / n, gradient.into_iter().map(|g| g / n).collect())
    }
}

const NEWTON_MAX_FEATURES: usize = 200;

impl Logistic {
    pub fn fit(x: &Matrix, y: &[bool], lambda: f64) -> Result<Logistic, OptimiseError> {
        let positives = y.iter().filter(|&&churned| churned).count() as f64;
        let prior = (positives / (y.len() as f64 - positives)).ln();
        let mut start = vec![0.0; x.width + 1];
        start[0] = if prior.is_finite() { prior } else { 0.0 };
        let problem = Problem { x, y, lambda };
        let theta = if x.width <= NEWTON_MAX_FEATURES {
            newton(&problem, start)?
        } else {
            minimise(&problem, start, 1000)?.theta
        };
        Ok(Logistic { intercept: theta[0], weights: theta[1..].to_vec() })
    }

    /// The log-odds of churn for one row of features.
    pub fn log_odds(&self, row: &[f64]) -> f64 {
        self.intercept + row.iter().zip(&self.weights).map(|(x, w)| x * w).sum::<f64>()
    }

    /// Each feature's part of the log-odds (weight times standardised value: its pull away from
    /// an average customer).
    pub fn contributions(&self, row: &[f64]) -> Vec<f64> {
        row.iter().zip(&self.weights).map(|(x, w)| x * w).collect()
    }
}

/// Newton's method with step halving: the loss is convex, so it converges in a few steps.
fn newton(problem: &Problem, mut theta: Vec<f64>) -> Result<Vec<f64>, OptimiseError> {
    let (x, n, width) = (problem.x, problem.x.rows, problem.x.width + 1);
    let mut design = DMatrix::<f64>::zeros(n, width);
    for i in 0..n {
        design[(i, 0)] = 1.0;
        for (j, value) in x.row(i).iter().enumerate() {
            design[(i, j + 1)] = *value;
        }
    }
    let (mut value, mut gradient) = problem.value_and_gradient(&theta);
    for _ in 0..100 {
        // Hessian of the mean loss: X' W X / n + lambda / n on the weights.
        let mut weighted = design.clone();
        for i in 0..n {
            let z: f64 = (0..width).map(|j| design[(i, j)] * theta[j]).sum();
            let p = sigmoid(z);
            weighted.row_mut(i).scale_mut((p * (1.0 - p)).max(1e-12).sqrt());
        }
        let mut hessian = weighted.transpose() * &weighted / n as f64;
        for j in 1..width {
            hessian[(j, j)] += problem.lambda / n as f64;
        }
        hessian[(0, 0)] += 1e-12;
        let Some(cholesky) = hessian.cholesky() else { return Err(OptimiseError::NotFinite) };
        let step = cholesky.solve(&DVector::from_vec(gradient.clone()));
        let mut scale = 1.0;
        loop {
            let candidate: Vec<f64> = theta.iter().zip(step.iter()).map(|(t, s)| t - scale * s).collect();
            let (next_value, next_gradient) = problem.value_and_gradient(&candidate);
            if next_value <= value || scale < 1e-6 {
                let change = step.iter().map(|s| (s * scale).abs()).fold(0.0, f64::max);
                (theta, value, gradient) = (candidate, next_value, next_gradient);
                if change < 1e-9 {
                    return Ok(theta);
                }
                break;
            }
            scale /= 2.0;
        }
        if !value.is_finite() {
            return Err(OptimiseError::NotFinite);
        }
    }
    Ok(theta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_relationship() {
        // y ~ Bernoulli(sigmoid(-0.5 + 2 x0 - 1 x1)), 4000 rows from a fixed generator.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let rows = 4000;
        let mut values = Vec::new();
        let mut y = Vec::new();
        for _ in 0..rows {
            let (a, b) = (uniform() * 2.0 - 1.0, uniform() * 2.0 - 1.0);
            values.extend([a * 1.7, b * 1.7]);
            y.push(uniform() < sigmoid(-0.5 + 2.0 * a * 1.7 - b * 1.7));
        }
        let x = Matrix { rows, width: 2, values };
        let model = Logistic::fit(&x, &y, 1e-6).unwrap();
        assert!((model.intercept + 0.5).abs() < 0.15, "{model:?}");
        assert!((model.weights[0] - 2.0).abs() < 0.2 && (model.weights[1] + 1.0).abs() < 0.15, "{model:?}");
        // Newton and L-BFGS find the same optimum.
        let problem = Problem { x: &x, y: &y, lambda: 1.0 };
        let by_newton = newton(&problem, vec![0.0; 3]).unwrap();
        let by_lbfgs = minimise(&problem, vec![0.0; 3], 1000).unwrap().theta;
        for (a, b) in by_newton.iter().zip(&by_lbfgs) {
            assert!((a - b).abs() < 1e-5, "{by_newton:?} vs {by_lbfgs:?}");
        }
    }
}
