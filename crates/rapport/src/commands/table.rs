//! Tables in and out: a CSV file read whole as text cells, for the commands that take a table
//! (`clv fit`, `churn evaluate`): header names, and each row with the file line it came from, so
//! every problem can name its line and column; and aligned columns for what commands print.

use std::path::Path;

use anyhow::Context;

pub struct Table {
    pub headers: Vec<String>,
    /// (file line, cells), one per data row.
    pub rows: Vec<(u64, Vec<String>)>,
}

impl Table {
    pub fn read(path: &Path) -> anyhow::Result<Table> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let headers: Vec<String> = reader
            .headers()
            .with_context(|| format!("{}: cannot read the header", path.display()))?
            .iter()
            .map(|header| header.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        if headers.iter().all(String::is_empty) {
            anyhow::bail!("{} is empty: it needs a header row and at least one data row", path.display());
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.with_context(|| format!("{}", path.display()))?;
            let line = record.position().map_or(0, |position| position.line());
            rows.push((line, record.iter().map(str::to_string).collect()));
        }
        if rows.is_empty() {
            anyhow::bail!("{} has a header but no data rows", path.display());
        }
        Ok(Table { headers, rows })
    }

    /// The index of the first column named any of `names` (case-insensitive).
    pub fn column(&self, names: &[&str]) -> Option<usize> {
        self.headers.iter().position(|header| names.iter().any(|name| header.eq_ignore_ascii_case(name)))
    }

    /// Like `column`, but a missing column is an error naming what was looked for and what is there.
    pub fn require(&self, names: &[&str]) -> anyhow::Result<usize> {
        self.column(names).ok_or_else(|| {
            anyhow::anyhow!("no column named {} (the columns are: {})", names.join(" or "), self.headers.join(", "))
        })
    }
}

/// A cell as a finite number, or an error naming its line and column.
pub fn number(table: &Table, line: u64, cells: &[String], column: usize) -> anyhow::Result<f64> {
    let text = cells[column].trim();
    text.parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
        .ok_or_else(|| anyhow::anyhow!("line {line}, column {}: `{text}` is not a number", table.headers[column]))
}

/// Aligned columns, the header first.
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}
