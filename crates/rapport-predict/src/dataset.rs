//! A customer table for churn models: named columns, each numeric or categorical, with missing
//! values, and a yes/no label. Built from text cells (a CSV file read by the caller, or features
//! Rapport computes), typed the way the scikit-learn peer types them: a column is numeric when at
//! least 95% of its non-missing cells are numbers (the rest become missing), else categorical.

use std::collections::HashMap;

/// A code for a missing categorical cell.
pub const MISSING: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// NaN where missing.
    Numeric(Vec<f64>),
    /// Codes into `levels`; `MISSING` where missing.
    Categorical { levels: Vec<String>, codes: Vec<u32> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub values: Values,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub columns: Vec<Column>,
    /// Churned (true) or not, per row.
    pub labels: Vec<bool>,
    /// The id column's cells, when there is one (never a feature).
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetError {
    #[error("the table has no rows")]
    Empty,
    #[error("no column named `{wanted}` (the columns are: {columns})")]
    MissingColumn { wanted: String, columns: String },
    #[error("row {row}: the label `{value}` in column `{column}` is not yes/no, true/false or 1/0")]
    BadLabel { row: usize, column: String, value: String },
    #[error("the label column `{column}` is {value} on every row: there is nothing to learn (both classes are needed)")]
    ConstantLabel { column: String, value: &'static str },
    #[error("row {row} has {found} cells, the header {expected}")]
    Ragged { row: usize, found: usize, expected: usize },
    #[error("no feature columns besides the label and the id")]
    NoFeatures,
}

/// Cells that mean "no value".
pub fn is_missing(cell: &str) -> bool {
    matches!(cell.trim().to_ascii_lowercase().as_str(), "" | "na" | "n/a" | "nan" | "null" | "none" | "?" | "-")
}

/// A label: yes/no, true/false, 1/0 (and y/n, t/f, churned/active), any case.
pub fn parse_label(cell: &str) -> Option<bool> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "1" | "1.0" | "yes" | "y" | "true" | "t" | "churned" => Some(true),
        "0" | "0.0" | "no" | "n" | "false" | "f" | "active" | "retained" => Some(false),
        _ => None,
    }
}

impl Dataset {
    /// Types every column from `rows` of text cells under `headers`; `label` names the label
    /// column and `id` an identifier column to keep out of the features.
    pub fn from_cells(
        headers: &[String],
        rows: &[Vec<String>],
        label: &str,
        id: Option<&str>,
    ) -> Result<Dataset, DatasetError> {
        if rows.is_empty() {
            return Err(DatasetError::Empty);
        }
        let find = |wanted: &str| {
            headers
                .iter()
                .position(|header| header == wanted)
                .ok_or_else(|| DatasetError::MissingColumn { wanted: wanted.to_string(), columns: headers.join(", ") })
        };
        let label_at = find(label)?;
        let id_at = id.map(find).transpose()?;
        for (row, cells) in rows.iter().enumerate() {
            if cells.len() != headers.len() {
                return Err(DatasetError::Ragged { row, found: cells.len(), expected: headers.len() });
            }
        }
        let mut labels = Vec::with_capacity(rows.len());
        for (row, cells) in rows.iter().enumerate() {
            let value = &cells[label_at];
            labels.push(parse_label(value).ok_or_else(|| DatasetError::BadLabel {
                row,
                column: label.to_string(),
                value: value.clone(),
            })?);
        }
        if labels.iter().all(|&churned| churned) || labels.iter().all(|&churned| !churned) {
            return Err(DatasetError::ConstantLabel {
                column: label.to_string(),
                value: if labels[0] { "yes" } else { "no" },
            });
        }
        let columns: Vec<Column> = (0..headers.len())
            .filter(|&at| at != label_at && Some(at) != id_at)
            .map(|at| Column {
                name: headers[at].clone(),
                values: type_column(rows.iter().map(|cells| cells[at].as_str())),
            })
            .collect();
        if columns.is_empty() {
            return Err(DatasetError::NoFeatures);
        }
        let ids = id_at.map_or_else(Vec::new, |at| rows.iter().map(|cells| cells[at].clone()).collect());
        Ok(Dataset { columns, labels, ids })
    }

    /// A table to score: typed like `from_cells`, without a label (every label reads false).
    pub fn unlabelled(headers: &[String], rows: &[Vec<String>]) -> Dataset {
        let columns = (0..headers.len())
            .map(|at| Column {
                name: headers[at].clone(),
                values: type_column(rows.iter().map(|cells| cells.get(at).map_or("", String::as_str))),
            })
            .collect();
        Dataset { columns, labels: vec![false; rows.len()], ids: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The rows at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let columns = self
            .columns
            .iter()
            .map(|column| Column {
                name: column.name.clone(),
                values: match &column.values {
                    Values::Numeric(values) => Values::Numeric(indices.iter().map(|&i| values[i]).collect()),
                    Values::Categorical { levels, codes } => Values::Categorical {
                        levels: levels.clone(),
                        codes: indices.iter().map(|&i| codes[i]).collect(),
                    },
                },
            })
            .collect();
        Dataset {
            columns,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            ids: if self.ids.is_empty() { Vec::new() } else { indices.iter().map(|&i| self.ids[i].clone()).collect() },
        }
    }
}

fn type_column<'a>(cells: impl Iterator<Item = &'a str> + Clone) -> Values {
    let present: Vec<&str> = cells.clone().filter(|cell| !is_missing(cell)).collect();
    let numbers = present.iter().filter(|cell| cell.trim().parse::<f64>().is_ok_and(f64::is_finite)).count();
    if !present.is_empty() && numbers as f64 >= 0.95 * present.len() as f64 {
        return Values::Numeric(
            cells
                .map(|cell| cell.trim().parse::<f64>().ok().filter(|value| value.is_finite()).unwrap_or(f64::NAN))
                .collect(),
        );
    }
    let mut levels: Vec<String> = Vec::new();
    let mut seen: HashMap<&str, u32> = HashMap::new();
    let codes = cells
        .map(|cell| {
            if is_missing(cell) {
                return MISSING;
            }
            let cell = cell.trim();
            *seen.entry(cell).or_insert_with(|| {
                levels.push(cell.to_string());
                (levels.len() - 1) as u32
            })
        })
        .collect();
    Values::Categorical { levels, codes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| cell.to_string()).collect()
    }

    #[test]
    fn types_columns_and_reads_labels() {
        let headers = strings(&["id", "tenure", "plan", "charges", "churn"]);
        let rows = vec![
            strings(&["a", "3", "pro", "10.5", "Yes"]),
            strings(&["b", "", "basic", " ", "no"]),
            strings(&["c", "12", "", "20", "TRUE"]),
            strings(&["d", "7", "pro", "30", "0"]),
        ];
        let data = Dataset::from_cells(&headers, &rows, "churn", Some("id")).unwrap();
        assert_eq!(data.labels, [true, false, true, false]);
        assert_eq!(data.ids, ["a", "b", "c", "d"]);
        assert_eq!(data.columns.len(), 3);
        let Values::Numeric(tenure) = &data.columns[0].values else { panic!() };
        assert!(tenure[1].is_nan() && tenure[2] == 12.0);
        let Values::Numeric(charges) = &data.columns[2].values else { panic!("a blank is missing, not a category") };
        assert!(charges[1].is_nan());
        let Values::Categorical { levels, codes } = &data.columns[1].values else { panic!() };
        assert_eq!(levels, &["pro", "basic"]);
        assert_eq!(codes, &[0, 1, MISSING, 0]);
    }

    #[test]
    fn refuses_what_cannot_be_learned_from() {
        let headers = strings(&["x", "churn"]);
        let rows = vec![strings(&["1", "yes"]), strings(&["2", "yes"])];
        let error = Dataset::from_cells(&headers, &rows, "churn", None).unwrap_err();
        assert!(error.to_string().contains("is yes on every row"), "{error}");
        let error = Dataset::from_cells(&headers, &rows, "churned", None).unwrap_err();
        assert_eq!(error.to_string(), "no column named `churned` (the columns are: x, churn)");
        let error = Dataset::from_cells(&headers, &[], "churn", None).unwrap_err();
        assert_eq!(error, DatasetError::Empty);
        let rows = vec![strings(&["1", "maybe"])];
        let error = Dataset::from_cells(&headers, &rows, "churn", None).unwrap_err();
        assert!(error.to_string().contains("`maybe`"), "{error}");
    }
}
