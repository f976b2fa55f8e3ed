//! Gradient-boosted trees for a binary label (log loss), histogram-based as LightGBM and
//! scikit-learn's HistGradientBoostingClassifier are: features binned into at most 255 bins by
//! training quantiles, trees grown best-first to `MAX_LEAVES` leaves from per-bin sums of gradients
//! and hessians (the larger child's histogram is the parent's minus the smaller's). Explanations
//! follow each row's path (Saabas): a split's feature is credited with the change in the node value.
//! Written here rather than taken from a crate: the Rust GBDT crates checked (gbdt, lightgbm
//! bindings, xgboost bindings) are unmaintained or need a C++ build; this is ~300 lines.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encode::Matrix;
use crate::logistic::sigmoid;

const MAX_BINS: usize = 255;
const MAX_LEAVES: usize = 31;
const MIN_ROWS_PER_LEAF: usize = 20;
const LEARNING_RATE: f64 = 0.1;
const ITERATIONS: usize = 100;
const L2: f64 = 1e-3;
/// Row-feature cells below which a histogram is built on one thread.
const PARALLEL_CELLS: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Split: rows with feature <= threshold go left. None for a leaf.
    pub split: Option<(u32, f64)>,
    pub left: u32,
    pub right: u32,
    /// The node's value (the leaf value it would have), already scaled by the learning rate.
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boosted {
    pub base: f64,
    pub trees: Vec<Vec<Node>>,
}

/// Per feature, the upper edges of its bins (a value goes to the first bin whose edge is >= it).
struct Bins {
    edges: Vec<Vec<f64>>,
    /// Column-major bin codes: codes[f * rows + i].
    codes: Vec<u8>,
    rows: usize,
}

impl Bins {
    fn new(x: &Matrix) -> Bins {
        let mut edges = Vec::with_capacity(x.width);
        let mut codes = vec![0u8; x.width * x.rows];
        for f in 0..x.width {
            let mut column: Vec<f64> = (0..x.rows).map(|i| x.values[i * x.width + f]).collect();
            let mut sorted = column.clone();
            sorted.sort_by(f64::total_cmp);
            sorted.dedup();
            let feature_edges: Vec<f64> = if sorted.len() <= MAX_BINS {
                // Midpoints between distinct values, the last bin open-ended.
                let mut e: Vec<f64> = sorted.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
                e.push(f64::INFINITY);
                e
            } else {
                column.sort_by(f64::total_cmp);
                let mut e: Vec<f64> = (1..MAX_BINS).map(|k| column[k * column.len() / MAX_BINS]).collect();
                e.dedup();
                e.push(f64::INFINITY);
                e
            };
            for i in 0..x.rows {
                let value = x.values[i * x.width + f];
                codes[f * x.rows + i] =
                    feature_edges.partition_point(|edge| *edge < value).min(feature_edges.len() - 1) as u8;
            }
            edges.push(feature_edges);
        }
        Bins { edges, codes, rows: x.rows }
    }
}

#[derive(Clone, Copy, Default)]
struct Cell {
    gradient: f64,
    hessian: f64,
    count: u32,
}

struct Histogram(Vec<Vec<Cell>>);

impl Histogram {
    fn build(bins: &Bins, rows: &[u32], gradient: &[f64], hessian: &[f64]) -> Histogram {
        let build = |(f, edges): (usize, &Vec<f64>)| {
            let mut cells = vec![Cell::default(); edges.len()];
            let codes = &bins.codes[f * bins.rows..(f + 1) * bins.rows];
            for &i in rows {
                let cell = &mut cells[codes[i as usize] as usize];
                cell.gradient += gradient[i as usize];
                cell.hessian += hessian[i as usize];
                cell.count += 1;
            }
            cells
        };
        // Features in parallel when there is enough work to share.
        if rows.len() * bins.edges.len() >= PARALLEL_CELLS {
            Histogram(bins.edges.par_iter().enumerate().map(build).collect())
        } else {
            Histogram(bins.edges.iter().enumerate().map(build).collect())
        }
    }

    /// The sums over all the rows (any feature's bins add up to them).
    fn total(&self) -> Cell {
        self.0.first().map_or(Cell::default(), |cells| {
            cells.iter().fold(Cell::default(), |sum, cell| Cell {
                gradient: sum.gradient + cell.gradient,
                hessian: sum.hessian + cell.hessian,
                count: sum.count + cell.count,
            })
        })
    }

    fn minus(&self, other: &Histogram) -> Histogram {
        Histogram(
            self.0
                .iter()
                .zip(&other.0)
                .map(|(mine, theirs)| {
                    mine.iter()
                        .zip(theirs)
                        .map(|(a, b)| Cell {
                            gradient: a.gradient - b.gradient,
                            hessian: a.hessian - b.hessian,
                            count: a.count - b.count,
                        })
                        .collect()
                })
                .collect(),
        )
    }
}

struct Split {
    gain: f64,
    feature: usize,
    bin: usize,
}

fn score(gradient: f64, hessian: f64) -> f64 {
    gradient * gradient / (hessian + L2)
}

fn best_split(histogram: &Histogram, total: Cell) -> Option<Split> {
    let parent = score(total.gradient, total.hessian);
    let mut best: Option<Split> = None;
    for (feature, cells) in histogram.0.iter().enumerate() {
        let mut left = Cell::default();
        for (bin, cell) in cells.iter().enumerate().take(cells.len() - 1) {
            left.gradient += cell.gradient;
            left.hessian += cell.hessian;
            left.count += cell.count;
            let right_count = total.count - left.count;
            if (left.count as usize) < MIN_ROWS_PER_LEAF {
                continue;
            }
            if (right_count as usize) < MIN_ROWS_PER_LEAF {
                break;
            }
            let gain = score(left.gradient, left.hessian)
                + score(total.gradient - left.gradient, total.hessian - left.hessian)
                - parent;
            if gain > best.as_ref().map_or(1e-12, |b| b.gain) {
                best = Some(Split { gain, feature, bin });
            }
        }
    }
    best
}

/// A leaf being grown: its rows, histogram, sums and best split.
struct Open {
    node: usize,
    rows: Vec<u32>,
    histogram: Histogram,
    split: Option<Split>,
}

fn gain(leaf: &Open) -> f64 {
    leaf.split.as_ref().map_or(f64::NEG_INFINITY, |split| split.gain)
}

fn leaf_value(total: Cell) -> f64 {
    -total.gradient / (total.hessian + L2) * LEARNING_RATE
}

/// Grows one tree; returns its nodes and each leaf's rows (so training predictions need no walk).
fn grow(bins: &Bins, gradient: &[f64], hessian: &[f64], rows: Vec<u32>) -> (Vec<Node>, Vec<Open>) {
    let histogram = Histogram::build(bins, &rows, gradient, hessian);
    let total = histogram.total();
    let mut nodes = vec![Node { split: None, left: 0, right: 0, value: leaf_value(total) }];
    let split = best_split(&histogram, total);
    let mut open = vec![Open { node: 0, rows, histogram, split }];
    let mut leaves = 1;
    while leaves < MAX_LEAVES {
        // Best-first: split the open leaf with the largest gain.
        let Some(at) = open
            .iter()
            .enumerate()
            .filter(|(_, leaf)| leaf.split.is_some())
            .max_by(|a, b| gain(a.1).total_cmp(&gain(b.1)))
            .map(|(at, _)| at)
        else {
            break;
        };
        let leaf = open.swap_remove(at);
        let Some(split) = leaf.split else { break };
        let codes = &bins.codes[split.feature * bins.rows..(split.feature + 1) * bins.rows];
        let (left_rows, right_rows): (Vec<u32>, Vec<u32>) =
            leaf.rows.iter().partition(|&&i| codes[i as usize] as usize <= split.bin);
        let (small, small_is_left) =
            if left_rows.len() <= right_rows.len() { (&left_rows, true) } else { (&right_rows, false) };
        let small_histogram = Histogram::build(bins, small, gradient, hessian);
        let large_histogram = leaf.histogram.minus(&small_histogram);
        let (small_total, large_total) = (small_histogram.total(), large_histogram.total());
        let (left_h, right_h, left_t, right_t) = if small_is_left {
            (small_histogram, large_histogram, small_total, large_total)
        } else {
            (large_histogram, small_histogram, large_total, small_total)
        };
        let left = nodes.len();
        nodes.push(Node { split: None, left: 0, right: 0, value: leaf_value(left_t) });
        nodes.push(Node { split: None, left: 0, right: 0, value: leaf_value(right_t) });
        nodes[leaf.node].split = Some((split.feature as u32, bins.edges[split.feature][split.bin]));
        nodes[leaf.node].left = left as u32;
        nodes[leaf.node].right = left as u32 + 1;
        let left_split = best_split(&left_h, left_t);
        let right_split = best_split(&right_h, right_t);
        open.push(Open { node: left, rows: left_rows, histogram: left_h, split: left_split });
        open.push(Open { node: left + 1, rows: right_rows, histogram: right_h, split: right_split });
        leaves += 1;
    }
    (nodes, open)
}

fn predict_tree(nodes: &[Node], row: &[f64]) -> f64 {
    let mut at = 0;
    while let Some((feature, threshold)) = nodes[at].split {
        at = if row[feature as usize] <= threshold { nodes[at].left } else { nodes[at].right } as usize;
    }
    nodes[at].value
}

impl Boosted {
    /// Fits `ITERATIONS` trees (with early stopping on a tenth of the rows held out when there are
    /// more than 10,000, as scikit-learn's default does).
    pub fn fit(x: &Matrix, y: &[bool]) -> Boosted {
        let positives = y.iter().filter(|&&churned| churned).count() as f64;
        let base = (positives / (y.len() as f64 - positives)).ln();
        let bins = Bins::new(x);
        let all: Vec<u32> = (0..x.rows as u32).collect();
        let (train, validation): (Vec<u32>, Vec<u32>) =
            if x.rows > 10_000 { all.iter().partition(|&&i| !i.is_multiple_of(10)) } else { (all, Vec::new()) };
        let mut raw = vec![base; x.rows];
        let mut gradient = vec![0.0; x.rows];
        let mut hessian = vec![0.0; x.rows];
        let mut trees = Vec::new();
        let (mut best_loss, mut best_trees, mut since_best) = (f64::INFINITY, 0, 0);
        for _ in 0..ITERATIONS {
            for &i in &train {
                let p = sigmoid(raw[i as usize]);
                gradient[i as usize] = p - if y[i as usize] { 1.0 } else { 0.0 };
                hessian[i as usize] = (p * (1.0 - p)).max(1e-12);
            }
            let (tree, leaves) = grow(&bins, &gradient, &hessian, train.clone());
            for leaf in &leaves {
                let value = tree[leaf.node].value;
                leaf.rows.iter().for_each(|&i| raw[i as usize] += value);
            }
            for &i in &validation {
                raw[i as usize] += predict_tree(&tree, x.row(i as usize));
            }
            trees.push(tree);
            if !validation.is_empty() {
                let loss: f64 = validation
                    .iter()
                    .map(|&i| {
                        let z = raw[i as usize];
                        crate::logistic::softplus(z) - if y[i as usize] { z } else { 0.0 }
                    })
                    .sum();
                if best_loss.is_infinite() || loss < best_loss - 1e-7 * best_loss.abs() {
                    (best_loss, best_trees, since_best) = (loss, trees.len(), 0);
                } else {
                    since_best += 1;
                    if since_best >= 10 {
                        break;
                    }
                }
            }
        }
        if !validation.is_empty() {
            trees.truncate(best_trees.max(1));
        }
        Boosted { base, trees }
    }

    pub fn log_odds(&self, row: &[f64]) -> f64 {
        self.base + self.trees.iter().map(|tree| predict_tree(tree, row)).sum::<f64>()
    }

    /// Each feature's part of the log-odds along the row's paths: the sum of the node-value
    /// changes at the splits on that feature (the root values go to the base).
    pub fn contributions(&self, row: &[f64], width: usize) -> Vec<f64> {
        let mut parts = vec![0.0; width];
        for tree in &self.trees {
            let mut at = 0;
            while let Some((feature, threshold)) = tree[at].split {
                let next = if row[feature as usize] <= threshold { tree[at].left } else { tree[at].right } as usize;
                parts[feature as usize] += tree[next].value - tree[at].value;
                at = next;
            }
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_an_interaction_a_linear_model_cannot() {
        // y = x0 XOR x1 (noise-free, x0 unbalanced so a first split gains), and a useless x2.
        let rows = 2000;
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..rows {
            let (a, b) = (f64::from(u8::from(i % 5 < 3)), ((i / 5) % 2) as f64);
            values.extend([a, b, (i % 7) as f64]);
            y.push((a == 1.0) != (b == 1.0));
        }
        let x = Matrix { rows, width: 3, values };
        let model = Boosted::fit(&x, &y);
        let correct = (0..rows).filter(|&i| (model.log_odds(x.row(i)) > 0.0) == y[i]).count();
        assert_eq!(correct, rows);
        // Contributions add up to the prediction.
        let row = x.row(5);
        let total: f64 = model.contributions(row, 3).iter().sum::<f64>()
            + model.base
            + model.trees.iter().map(|tree| tree[0].value).sum::<f64>();
        assert!((total - model.log_odds(row)).abs() < 1e-9);
    }

    #[test]
    fn early_stopping_keeps_the_trees_that_help() {
        // Over 10,000 rows a tenth is held out; a smooth signal keeps improving, so most of the
        // 100 trees stay (a stopping rule that never records a best keeps one).
        let rows = 12_000;
        let mut values = Vec::new();
        let mut y = Vec::new();
        for i in 0..rows {
            let x = (i % 1000) as f64 / 1000.0;
            values.push(x);
            y.push((i * 7919 % 1000) as f64 / 1000.0 < x);
        }
        let model = Boosted::fit(&Matrix { rows, width: 1, values }, &y);
        assert!(model.trees.len() > 20, "{} trees", model.trees.len());
    }
}
