//! A journey analytics query (`?from=…&to=…&segment=…&compare=…&minN=…`), checked whole.

use crate::metrics::query::parse_day;
use crate::problem::FieldProblem;

/// Days a query may span.
pub const MAX_RANGE_DAYS: i64 = 3 * 366;
/// Days the default period covers, ending today.
pub const DEFAULT_DAYS: i64 = 90;

/// The query string as sent.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawJourneyQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub segment: Option<String>,
    pub compare: Option<String>,
    pub min_n: Option<String>,
}

/// A segment as named in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentSpec {
    All,
    /// `channel:mobile`: customers whose first visit in the period came through the channel.
    Channel(String),
    /// `new`: customers whose first visit of the journey ever is in the period.
    New,
    /// `returning`: customers who visited the journey before the period.
    Returning,
    /// `trait:plan=plus`: customers whose trait has the value now.
    Trait(String, String),
}

impl SegmentSpec {
    pub fn parse(field: &str, value: &str, problems: &mut Vec<FieldProblem>) -> Option<SegmentSpec> {
        let value = value.trim();
        let segment = match value {
            "" | "all" => Some(SegmentSpec::All),
            "new" => Some(SegmentSpec::New),
            "returning" => Some(SegmentSpec::Returning),
            _ => match value.split_once(':') {
                Some(("channel", channel)) if !channel.trim().is_empty() => {
                    Some(SegmentSpec::Channel(channel.trim().to_lowercase()))
                }
                Some(("trait", pair)) => match pair.split_once('=') {
                    Some((key, wanted)) if !key.trim().is_empty() => {
                        Some(SegmentSpec::Trait(key.trim().to_owned(), wanted.trim().to_owned()))
                    }
                    _ => None,
                },
                _ => None,
            },
        };
        if segment.is_none() {
            problems.push(FieldProblem::envelope(
                field,
                &format!("`{value}` is not a segment: all, new, returning, channel:NAME or trait:KEY=VALUE"),
            ));
        }
        segment
    }

    pub fn name(&self) -> String {
        match self {
            SegmentSpec::All => "all".to_owned(),
            SegmentSpec::Channel(channel) => format!("channel:{channel}"),
            SegmentSpec::New => "new".to_owned(),
            SegmentSpec::Returning => "returning".to_owned(),
            SegmentSpec::Trait(key, value) => format!("trait:{key}={value}"),
        }
    }
}

/// A checked query: the period as UTC days (both included) and in ms (`[from, to)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyQuery {
    pub from_day: i64,
    pub to_day: i64,
    pub segment: SegmentSpec,
    pub compare: Option<SegmentSpec>,
    pub min_n: Option<u64>,
}

impl JourneyQuery {
    pub fn period_ms(&self) -> (i64, i64) {
        (self.from_day * 86_400_000, (self.to_day + 1) * 86_400_000)
    }
}

/// Checks a query whole; `today` is the current UTC day (the default period is the 90 days
/// ending today).
pub fn parse_query(raw: &RawJourneyQuery, today: i64) -> Result<JourneyQuery, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let to_day = raw.to.as_deref().map_or(Some(today), |to| parse_day("to", to, &mut problems));
    let from_day = raw
        .from
        .as_deref()
        .map_or(to_day.map(|to| to - (DEFAULT_DAYS - 1)), |from| parse_day("from", from, &mut problems));
    if let (Some(from), Some(to)) = (from_day, to_day) {
        if from > to {
            problems.push(FieldProblem::envelope("from", "is after `to`"));
        } else if to - from >= MAX_RANGE_DAYS {
            problems.push(FieldProblem::envelope("from", &format!("the range is longer than {MAX_RANGE_DAYS} days")));
        }
    }
    let segment = SegmentSpec::parse("segment", raw.segment.as_deref().unwrap_or("all"), &mut problems);
    let compare = raw.compare.as_deref().map(|value| SegmentSpec::parse("compare", value, &mut problems));
    let min_n = match raw.min_n.as_deref().map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) if (1..=1_000_000).contains(&n) => Some(n),
        Some(_) => {
            problems.push(FieldProblem::envelope("minN", "must be a whole number from 1 to 1000000"));
            None
        }
    };
    match (problems.is_empty(), from_day, to_day, segment) {
        (true, Some(from_day), Some(to_day), Some(segment)) => {
            Ok(JourneyQuery { from_day, to_day, segment, compare: compare.flatten(), min_n })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawJourneyQuery {
        let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned());
        RawJourneyQuery {
            from: get("from"),
            to: get("to"),
            segment: get("segment"),
            compare: get("compare"),
            min_n: get("minN"),
        }
    }

    #[test]
    fn defaults_are_the_last_ninety_days_for_everyone() {
        let query = parse_query(&raw(&[]), 20_000).unwrap();
        assert_eq!((query.from_day, query.to_day), (19_911, 20_000));
        assert_eq!(query.segment, SegmentSpec::All);
        assert_eq!(query.period_ms(), (19_911 * 86_400_000, 20_001 * 86_400_000));
    }

    #[test]
    fn segments_are_named_as_in_the_docs() {
        let query =
            parse_query(&raw(&[("segment", "channel:Mobile"), ("compare", "trait:plan=plus")]), 20_000).unwrap();
        assert_eq!(query.segment, SegmentSpec::Channel("mobile".into()));
        assert_eq!(query.compare, Some(SegmentSpec::Trait("plan".into(), "plus".into())));
        assert_eq!(query.compare.unwrap().name(), "trait:plan=plus");
    }

    #[test]
    fn every_problem_names_its_parameter() {
        let problems = parse_query(
            &raw(&[
                ("from", "2026-13-01"),
                ("to", "yesterday"),
                ("segment", "vip"),
                ("compare", "trait:"),
                ("minN", "0"),
            ]),
            20_000,
        )
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["to", "from", "segment", "compare", "minN"]);
        let reversed = parse_query(&raw(&[("from", "2026-02-01"), ("to", "2026-01-01")]), 20_000).unwrap_err();
        assert_eq!(reversed[0].problem, "is after `to`");
    }
}
