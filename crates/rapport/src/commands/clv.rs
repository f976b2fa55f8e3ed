//! `rapport clv fit`: BG/NBD and Gamma-Gamma fitted to a customer summary or a transaction log,
//! with per-customer predictions on request (`rapport_predict` does the modelling).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use rapport_predict::bgnbd::{BgNbd, BgNbdFit};
use rapport_predict::clv::{CustomerValue, Projection, Rfm, TimeUnit, Transaction, customer_value, summarise};
use rapport_predict::gamma_gamma::{GammaGamma, GammaGammaFit};
use serde_json::json;
use time::Date;

use crate::commands::table::{Table, number};

#[derive(Debug, Clone, clap::Args)]
pub struct FitArgs {
    /// One row per customer: frequency, recency, T and optionally monetary_value (the mean spend
    /// of the repeat purchases), in one time unit; an id column is kept for --predict.
    #[arg(long, value_name = "FILE", conflicts_with = "transactions")]
    summary: Option<PathBuf>,
    /// One row per purchase: customer_id, date (YYYY-MM-DD), amount. Purchases on one day count
    /// as one transaction.
    #[arg(long, value_name = "FILE")]
    transactions: Option<PathBuf>,
    /// Last day of the calibration period (with --transactions).
    #[arg(long, value_name = "YYYY-MM-DD")]
    calibration_end: Option<String>,
    /// The time unit of recency, T and --horizon: days or weeks (the paper's).
    #[arg(long, default_value = "weeks", value_name = "UNIT")]
    time_unit: String,
    /// Print {"bgnbd": {...}, "gamma_gamma": {...}, "fit_seconds": ...}.
    #[arg(long)]
    json: bool,
    /// Write each customer's probability alive, expected purchases, expected spend per purchase
    /// and discounted expected value over --horizon to this CSV file.
    #[arg(long, value_name = "OUT.csv")]
    predict: Option<PathBuf>,
    /// Prediction horizon in time units [default: one year].
    #[arg(long, value_name = "N")]
    horizon: Option<f64>,
    /// Yearly discount rate, applied monthly.
    #[arg(long, default_value_t = 0.1, value_name = "RATE")]
    discount_rate: f64,
}

/// Customers with their ids, and whether spend is known.
struct Customers {
    ids: Vec<String>,
    rfm: Vec<Rfm>,
    with_spend: bool,
}

pub fn fit(args: FitArgs) -> anyhow::Result<()> {
    let unit = TimeUnit::parse(&args.time_unit)
        .ok_or_else(|| anyhow::anyhow!("--time-unit must be days or weeks, not `{}`", args.time_unit))?;
    let customers = match (&args.summary, &args.transactions) {
        (Some(path), None) => {
            if args.calibration_end.is_some() {
                anyhow::bail!("--calibration-end goes with --transactions, not --summary");
            }
            read_summary(&Table::read(path)?)?
        }
        (None, Some(path)) => {
            let end = args
                .calibration_end
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("--transactions needs --calibration-end YYYY-MM-DD"))?;
            let end = parse_day(end.trim())
                .ok_or_else(|| anyhow::anyhow!("--calibration-end: `{end}` is not a date (YYYY-MM-DD)"))?;
            read_transactions(&Table::read(path)?, end, unit)?
        }
        _ => anyhow::bail!("give either --summary FILE or --transactions FILE --calibration-end DATE"),
    };
    let started = Instant::now();
    let bgnbd = BgNbd::fit(&customers.rfm).context("BG/NBD")?;
    let spend = if customers.with_spend { Some(GammaGamma::fit(&customers.rfm).context("Gamma-Gamma")?) } else { None };
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string(&report_json(&bgnbd, spend.as_ref(), seconds))?);
    } else {
        print!("{}", report_text(&bgnbd, spend.as_ref(), seconds));
    }
    if let Some(path) = &args.predict {
        let spend =
            spend.ok_or_else(|| anyhow::anyhow!("--predict needs spend: a monetary_value column or amounts"))?;
        let year = 365.25 / unit.days();
        let horizon = args.horizon.unwrap_or(year);
        if !(horizon.is_finite() && horizon > 0.0) {
            anyhow::bail!("--horizon must be a positive number of {}", args.time_unit);
        }
        if !(args.discount_rate.is_finite() && args.discount_rate > -1.0) {
            anyhow::bail!("--discount-rate must be above -1 (0.1 is 10% a year)");
        }
        // Discounted monthly, as lifetimes does: the yearly rate compounded over each month.
        let steps = (horizon * unit.days() / 30.4375).round().max(1.0) as u32;
        let years_per_step = horizon / year / f64::from(steps);
        let projection =
            Projection { horizon, steps, discount_per_step: (1.0 + args.discount_rate).powf(years_per_step) - 1.0 };
        write_predictions(path, &customers, &bgnbd.params, &spend.params, &projection)?;
    }
    Ok(())
}

fn warnings(bgnbd: &BgNbdFit, spend: Option<&GammaGammaFit>) -> Vec<String> {
    let mut warnings = bgnbd.warnings();
    warnings.extend(spend.map(GammaGammaFit::warnings).unwrap_or_default());
    warnings
}

fn report_json(bgnbd: &BgNbdFit, spend: Option<&GammaGammaFit>, seconds: f64) -> serde_json::Value {
    json!({"bgnbd": bgnbd, "gamma_gamma": spend, "fit_seconds": seconds, "warnings": warnings(bgnbd, spend)})
}

fn report_text(bgnbd: &BgNbdFit, spend: Option<&GammaGammaFit>, seconds: f64) -> String {
    let p = bgnbd.params;
    let mut text = format!(
        "BG/NBD       {} customers: r = {:.4}  alpha = {:.4}  a = {:.4}  b = {:.4}  log-likelihood = {:.2}\n",
        bgnbd.customers, p.r, p.alpha, p.a, p.b, bgnbd.log_likelihood
    );
    match spend {
        Some(fit) => text.push_str(&format!(
            "Gamma-Gamma  {} repeat customers: p = {:.4}  q = {:.4}  gamma = {:.4}  log-likelihood = {:.2}\n",
            fit.customers, fit.params.p, fit.params.q, fit.params.gamma, fit.log_likelihood
        )),
        None => text.push_str("Gamma-Gamma  not fitted: no monetary_value column\n"),
    }
    text.push_str(&format!("fitted in {:.1} ms\n", seconds * 1000.0));
    for warning in warnings(bgnbd, spend) {
        text.push_str(&format!("warning: {warning}\n"));
    }
    text
}

/// `frequency, recency, T[, monetary_value]` (or the paper's `x, t_x, T, zbar`), any id column.
fn read_summary(table: &Table) -> anyhow::Result<Customers> {
    let frequency = table.require(&["frequency", "x"])?;
    let recency = table.require(&["recency", "t_x"])?;
    let age = table.require(&["T"])?;
    let spend = table.column(&["monetary_value", "zbar"]);
    let id = table.column(&["id", "customer_id", "customer"]);
    let mut customers = Customers { ids: Vec::new(), rfm: Vec::new(), with_spend: spend.is_some() };
    for (line, cells) in &table.rows {
        let count = number(table, *line, cells, frequency)?;
        if count < 0.0 || count.fract() != 0.0 {
            anyhow::bail!(
                "line {line}, column {}: frequency must be a whole number of repeat purchases, not {count}",
                table.headers[frequency]
            );
        }
        let rfm = Rfm {
            frequency: count as u32,
            recency: number(table, *line, cells, recency)?,
            age: number(table, *line, cells, age)?,
            monetary_value: match spend {
                Some(column) => number(table, *line, cells, column)?,
                None => 0.0,
            },
        };
        if let Some(problem) = rfm.problem(spend.is_some()) {
            anyhow::bail!("line {line}: {problem}");
        }
        customers.ids.push(id.map_or_else(|| customers.rfm.len().to_string(), |column| cells[column].clone()));
        customers.rfm.push(rfm);
    }
    Ok(customers)
}

/// `customer_id, date, amount`: one row per purchase.
fn read_transactions(table: &Table, calibration_end: Date, unit: TimeUnit) -> anyhow::Result<Customers> {
    let customer = table.require(&["customer_id", "customer", "id"])?;
    let date = table.require(&["date", "day", "timestamp"])?;
    let amount = table.require(&["amount", "revenue", "value"])?;
    let mut log = Vec::with_capacity(table.rows.len());
    for (line, cells) in &table.rows {
        let id = cells[customer].trim();
        if id.is_empty() {
            anyhow::bail!("line {line}, column {}: the customer is empty", table.headers[customer]);
        }
        let text = cells[date].trim();
        let day = parse_day(text).ok_or_else(|| {
            anyhow::anyhow!(
                "line {line}, column {}: `{text}` is not a date (YYYY-MM-DD, YYYYMMDD or RFC 3339)",
                table.headers[date]
            )
        })?;
        let value = number(table, *line, cells, amount)?;
        if value < 0.0 {
            anyhow::bail!(
                "line {line}, column {}: a purchase amount cannot be negative ({value})",
                table.headers[amount]
            );
        }
        log.push(Transaction { customer: id.to_string(), day, amount: value });
    }
    let summary = summarise(&log, calibration_end, unit);
    if summary.is_empty() {
        anyhow::bail!("no customer made a first purchase on or before the calibration end {calibration_end}");
    }
    Ok(Customers {
        ids: summary.iter().map(|customer| customer.customer.clone()).collect(),
        rfm: summary.iter().map(|customer| customer.rfm).collect(),
        with_spend: true,
    })
}

/// YYYY-MM-DD, YYYYMMDD, or an RFC 3339 timestamp (its UTC day).
pub fn parse_day(text: &str) -> Option<Date> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .or_else(|_| Date::parse(text, format_description!("[year][month][day]")))
        .ok()
        .or_else(|| {
            time::OffsetDateTime::parse(text, &Rfc3339).ok().map(|at| at.to_offset(time::UtcOffset::UTC).date())
        })
}

fn write_predictions(
    path: &std::path::Path,
    customers: &Customers,
    bgnbd: &BgNbd,
    spend: &GammaGamma,
    projection: &Projection,
) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    writer.write_record([
        "id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "probability_alive",
        "expected_purchases",
        "expected_average_spend",
        "expected_value",
    ])?;
    for (id, rfm) in customers.ids.iter().zip(&customers.rfm) {
        let CustomerValue { probability_alive, expected_purchases, expected_average_spend, expected_value } =
            customer_value(bgnbd, spend, rfm, projection);
        writer.write_record([
            id.clone(),
            rfm.frequency.to_string(),
            rfm.recency.to_string(),
            rfm.age.to_string(),
            rfm.monetary_value.to_string(),
            format!("{probability_alive:.6}"),
            format!("{expected_purchases:.6}"),
            format!("{expected_average_spend:.4}"),
            format!("{expected_value:.4}"),
        ])?;
    }
    writer.flush()?;
    Ok(())
}
