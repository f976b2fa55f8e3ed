//! Columns to model features, learned from the training rows only: a numeric column becomes its
//! standardised value (missing imputed with the training median) and, when the training rows had
//! missing values, a 0/1 "missing" indicator; a categorical column becomes one 0/1 feature per
//! level seen at least `MIN_LEVEL_ROWS` times in training (at most `MAX_LEVELS`, the most
//! frequent), the rest and missing cells sharing an "other" feature. Every feature remembers its
//! column, so explanations speak of columns, not of one-hot features.

use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, MISSING, Values};

const MIN_LEVEL_ROWS: usize = 5;
const MAX_LEVELS: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnEncoding {
    Numeric {
        median: f64,
        mean: f64,
        scale: f64,
        missing_indicator: bool,
    },
    /// For each level code, its feature offset within the column's features (None: "other").
    Categorical {
        levels: Vec<String>,
        kept: Vec<Option<u32>>,
        other: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoder {
    pub columns: Vec<String>,
    pub encodings: Vec<ColumnEncoding>,
    /// Per feature: its name and the column it came from.
    pub features: Vec<(String, usize)>,
}

/// Row-major features.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub width: usize,
    pub values: Vec<f64>,
}

impl Matrix {
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.width..(i + 1) * self.width]
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] }
}

impl Encoder {
    pub fn fit(data: &Dataset) -> Encoder {
        let mut encodings = Vec::new();
        let mut features = Vec::new();
        for (at, column) in data.columns.iter().enumerate() {
            match &column.values {
                Values::Numeric(values) => {
                    let mut present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
                    let missing_indicator = present.len() < values.len();
                    let median = median(&mut present);
                    let n = values.len() as f64;
                    let mean = values.iter().map(|v| if v.is_nan() { median } else { *v }).sum::<f64>() / n;
                    let variance = values
                        .iter()
                        .map(|v| if v.is_nan() { median } else { *v })
                        .map(|v| (v - mean).powi(2))
                        .sum::<f64>()
                        / n;
                    let scale = if variance > 0.0 { variance.sqrt() } else { 1.0 };
                    features.push((column.name.clone(), at));
                    if missing_indicator {
                        features.push((format!("{} missing", column.name), at));
                    }
                    encodings.push(ColumnEncoding::Numeric { median, mean, scale, missing_indicator });
                }
                Values::Categorical { levels, codes } => {
                    let mut counts = vec![0usize; levels.len()];
                    let mut other = false;
                    for &code in codes {
                        if code == MISSING { other = true } else { counts[code as usize] += 1 }
                    }
                    let mut order: Vec<usize> =
                        (0..levels.len()).filter(|&level| counts[level] >= MIN_LEVEL_ROWS).collect();
                    order.sort_by_key(|&level| std::cmp::Reverse(counts[level]));
                    order.truncate(MAX_LEVELS);
                    let mut kept = vec![None; levels.len()];
                    for (offset, &level) in order.iter().enumerate() {
                        kept[level] = Some(offset as u32);
                        features.push((format!("{}={}", column.name, levels[level]), at));
                    }
                    other |= (0..levels.len()).any(|level| counts[level] > 0 && kept[level].is_none());
                    if other {
                        features.push((format!("{}=other", column.name), at));
                    }
                    encodings.push(ColumnEncoding::Categorical { levels: levels.clone(), kept, other });
                }
            }
        }
        Encoder { columns: data.columns.iter().map(|c| c.name.clone()).collect(), encodings, features }
    }

    pub fn width(&self) -> usize {
        self.features.len()
    }

    /// The features of every row of `data` (which must have this encoder's columns, in order; a
    /// level unseen in training counts as "other", or as nothing when training had no "other").
    pub fn transform(&self, data: &Dataset) -> Matrix {
        let (rows, width) = (data.len(), self.width());
        let mut values = vec![0.0; rows * width];
        let mut offset = 0;
        for (column, encoding) in data.columns.iter().zip(&self.encodings) {
            match (encoding, &column.values) {
                (ColumnEncoding::Numeric { median, mean, scale, missing_indicator }, Values::Numeric(cells)) => {
                    for (i, cell) in cells.iter().enumerate() {
                        let value = if cell.is_nan() { *median } else { *cell };
                        values[i * width + offset] = (value - mean) / scale;
                        if *missing_indicator && cell.is_nan() {
                            values[i * width + offset + 1] = 1.0;
                        }
                    }
                    offset += 1 + usize::from(*missing_indicator);
                }
                (
                    ColumnEncoding::Categorical { levels, kept, other },
                    Values::Categorical { levels: their_levels, codes },
                ) => {
                    let used = kept.iter().flatten().count();
                    // Codes are per table: map this table's levels to the training ones by name.
                    let mapping: Vec<Option<u32>> = their_levels
                        .iter()
                        .map(|level| levels.iter().position(|known| known == level).and_then(|known| kept[known]))
                        .collect();
                    for (i, &code) in codes.iter().enumerate() {
                        let feature = if code == MISSING { None } else { mapping[code as usize] };
                        match feature {
                            Some(feature) => values[i * width + offset + feature as usize] = 1.0,
                            None if *other => values[i * width + offset + used] = 1.0,
                            None => {}
                        }
                    }
                    offset += used + usize::from(*other);
                }
                // A column typed differently from training (numeric there, text here): its features
                // stay at the training mean (0) and it carries no information.
                (ColumnEncoding::Numeric { missing_indicator, .. }, _) => offset += 1 + usize::from(*missing_indicator),
                (ColumnEncoding::Categorical { kept, other, .. }, _) => {
                    offset += kept.iter().flatten().count() + usize::from(*other)
                }
            }
        }
        Matrix { rows, width, values }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_numbers_levels_and_missing() {
        let headers: Vec<String> = ["n", "plan", "y"].iter().map(|s| s.to_string()).collect();
        let mut rows = Vec::new();
        for i in 0..12 {
            let plan = if i < 6 {
                "pro"
            } else if i < 11 {
                "basic"
            } else {
                "rare"
            };
            let n = if i == 3 { String::new() } else { i.to_string() };
            rows.push(vec![n, plan.to_string(), (i % 2).to_string()]);
        }
        let data = Dataset::from_cells(&headers, &rows, "y", None).unwrap();
        let encoder = Encoder::fit(&data);
        let names: Vec<&str> = encoder.features.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["n", "n missing", "plan=pro", "plan=basic", "plan=other"]);
        let matrix = encoder.transform(&data);
        assert_eq!(&matrix.row(3)[1..], &[1.0, 1.0, 0.0, 0.0]);
        assert_eq!(&matrix.row(11)[2..], &[0.0, 0.0, 1.0]);
        let mean: f64 = (0..12).map(|i| matrix.row(i)[0]).sum::<f64>() / 12.0;
        assert!(mean.abs() < 1e-12, "standardised");
    }
}
