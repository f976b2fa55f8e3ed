//! Minimising a smooth objective (a negative log-likelihood) with argmin's L-BFGS and a
//! More-Thuente line search. Objectives compute their value and gradient in one pass; argmin asks
//! for them separately at the same point, so the last pass is remembered.

use std::cell::RefCell;

use argmin::core::{CostFunction, Error, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

/// A function to minimise: its value and gradient at `theta`, computed together.
pub trait Objective {
    fn value_and_gradient(&self, theta: &[f64]) -> (f64, Vec<f64>);
}

#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub theta: Vec<f64>,
    pub value: f64,
    pub iterations: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimiseError {
    #[error("the optimiser failed: {0}")]
    Failed(String),
    #[error("the objective is not finite at the start or the optimum (the data cannot be fitted)")]
    NotFinite,
}

/// Where the objective was last evaluated, its value and gradient there.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

struct Cached<'a, O> {
    objective: &'a O,
    last: RefCell<Option<Evaluation>>,
}

impl<O: Objective> Cached<'_, O> {
    fn evaluate(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        if let Some((at, value, gradient)) = self.last.borrow().as_ref()
            && at.as_slice() == theta
        {
            return (*value, gradient.clone());
        }
        let (value, gradient) = self.objective.value_and_gradient(theta);
        *self.last.borrow_mut() = Some((theta.to_vec(), value, gradient.clone()));
        (value, gradient)
    }
}

impl<O: Objective> CostFunction for Cached<'_, O> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Self::Param) -> Result<f64, Error> {
        let (value, _) = self.evaluate(theta);
        // An infinite value tells the line search to step back; NaN would poison it.
        Ok(if value.is_nan() { f64::INFINITY } else { value })
    }
}

impl<O: Objective> Gradient for Cached<'_, O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Self::Param) -> Result<Vec<f64>, Error> {
        Ok(self.evaluate(theta).1)
    }
}

/// Minimises `objective` from `start` with L-BFGS (memory 10): stops when the gradient's norm or
/// the change in value is negligible, or after `max_iterations`.
pub fn minimise<O: Objective>(objective: &O, start: Vec<f64>, max_iterations: u64) -> Result<Minimum, OptimiseError> {
    let (first, _) = objective.value_and_gradient(&start);
    if !first.is_finite() {
        return Err(OptimiseError::NotFinite);
    }
    let problem = Cached { objective, last: RefCell::new(None) };
    let failed = |error: Error| OptimiseError::Failed(error.to_string());
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-9)
        .map_err(failed)?
        .with_tolerance_cost(1e-13)
        .map_err(failed)?;
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(start).max_iters(max_iterations))
        .run()
        .map_err(failed)?;
    let state = result.state();
    let theta = state.get_best_param().cloned().ok_or_else(|| OptimiseError::Failed("no parameters".into()))?;
    let value = state.get_best_cost();
    if !value.is_finite() {
        return Err(OptimiseError::NotFinite);
    }
    Ok(Minimum { theta, value, iterations: state.get_iter() })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rosenbrock;

    impl Objective for Rosenbrock {
        fn value_and_gradient(&self, t: &[f64]) -> (f64, Vec<f64>) {
            let (x, y) = (t[0], t[1]);
            let value = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let gradient = vec![-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)];
            (value, gradient)
        }
    }

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let minimum = minimise(&Rosenbrock, vec![-1.2, 1.0], 500).unwrap();
        assert!((minimum.theta[0] - 1.0).abs() < 1e-5 && (minimum.theta[1] - 1.0).abs() < 1e-5, "{minimum:?}");
    }
}
