//! A metric query (`/v1/metrics/{metric}?from=…&to=…&group_by=…&filter=…`), checked whole, and the
//! calendar it groups by. Days are UTC days numbered from 1970-01-01 (day 0).

use time::Date;
use time::macros::format_description;

use crate::metrics::figures::{FigureOptions, Metric};
use crate::problem::FieldProblem;

pub const MS_PER_DAY: i64 = 86_400_000;
/// 1970-01-01 as a Julian day number.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
/// A query's range is capped so that a day-bucketed report stays a sensible size.
pub const MAX_RANGE_DAYS: i64 = 3_700;
pub const MAX_GROUP_BYS: usize = 4;
/// Each trait read is a join through the identity graph: a query reads at most this many.
pub const MAX_TRAITS: usize = 4;

/// The UTC day of a time in milliseconds since the epoch.
pub fn day_of_ms(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY)
}

pub fn date_of_day(day: i64) -> Date {
    Date::from_julian_day((day + UNIX_EPOCH_JULIAN_DAY) as i32).unwrap_or(Date::MIN)
}

pub fn day_of_date(date: Date) -> i64 {
    date.to_julian_day() as i64 - UNIX_EPOCH_JULIAN_DAY
}

/// A calendar bucket (UTC; weeks are ISO weeks, starting on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
    Quarter,
}

impl Bucket {
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
            Bucket::Quarter => "quarter",
        }
    }

    /// The first day of the bucket that holds `day`.
    pub fn start(self, day: i64) -> i64 {
        let date = date_of_day(day);
        match self {
            Bucket::Day => day,
            Bucket::Week => day - i64::from(date.weekday().number_days_from_monday()),
            Bucket::Month => day - i64::from(date.day()) + 1,
            Bucket::Quarter => {
                let month = date.month() as u8;
                let first_month = time::Month::try_from((month - 1) / 3 * 3 + 1).unwrap_or(time::Month::January);
                Date::from_calendar_date(date.year(), first_month, 1).map(day_of_date).unwrap_or(day)
            }
        }
    }

    /// The first day of the bucket after the one starting at `start`.
    pub fn next(self, start: i64) -> i64 {
        match self {
            Bucket::Day => start + 1,
            Bucket::Week => start + 7,
            Bucket::Month => self.start(start + 31),
            Bucket::Quarter => self.start(start + 92),
        }
    }

    /// The first day of the bucket before the one starting at `start`.
    pub fn previous(self, start: i64) -> i64 {
        self.start(start - 1)
    }

    /// `2025-01-31`, `2025-W05`, `2025-01`, `2025-Q1`.
    pub fn label(self, start: i64) -> String {
        let date = date_of_day(start);
        match self {
            Bucket::Day => format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day()),
            Bucket::Week => {
                let (year, week, _) = date.to_iso_week_date();
                format!("{year:04}-W{week:02}")
            }
            Bucket::Month => format!("{:04}-{:02}", date.year(), date.month() as u8),
            Bucket::Quarter => format!("{:04}-Q{}", date.year(), (date.month() as u8 - 1) / 3 + 1),
        }
    }
}

/// What answers can be grouped and filtered by, besides time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Survey,
    Question,
    /// A CSAT service dimension (`knowledge`, …); the overall CSAT question has none.
    ServiceDimension,
    Touchpoint,
    Channel,
    Agent,
    /// The customer's account: the `groupId` of its latest Segment `group` call, resolved through
    /// the identity graph at query time.
    Account,
    /// A customer trait, resolved through the identity graph at query time.
    Trait(String),
    /// The stage of the query's journey (`journey=<id>`) that the answer's touchpoint belongs to:
    /// read as the touchpoint (`MetricQuery::by_touchpoint`) and labelled with its stage
    /// (`MetricQuery::label_stages`).
    JourneyStage,
}

impl Dimension {
    pub fn parse(name: &str) -> Option<Dimension> {
        Some(match name {
            "survey" => Dimension::Survey,
            "question" => Dimension::Question,
            "dimension" => Dimension::ServiceDimension,
            "touchpoint" => Dimension::Touchpoint,
            "channel" => Dimension::Channel,
            "agent" => Dimension::Agent,
            "account" => Dimension::Account,
            "journey_stage" => Dimension::JourneyStage,
            _ => {
                let key = name.strip_prefix("traits.")?;
                if key.is_empty() || key.len() > 200 {
                    return None;
                }
                Dimension::Trait(key.to_owned())
            }
        })
    }

    pub fn name(&self) -> String {
        match self {
            Dimension::Survey => "survey".into(),
            Dimension::Question => "question".into(),
            Dimension::ServiceDimension => "dimension".into(),
            Dimension::Touchpoint => "touchpoint".into(),
            Dimension::Channel => "channel".into(),
            Dimension::Agent => "agent".into(),
            Dimension::Account => "account".into(),
            Dimension::Trait(key) => format!("traits.{key}"),
            Dimension::JourneyStage => "journey_stage".into(),
        }
    }

    /// Whether the response-rate metric (over invitations) knows this dimension.
    fn on_invitations(&self) -> bool {
        matches!(self, Dimension::Survey | Dimension::Channel)
    }
}

const DIMENSION_NAMES: &str =
    "survey, question, dimension, touchpoint, channel, agent, account, journey_stage, traits.<key>";

/// Answers kept when one of `values` matches the dimension (`channel:email|sms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub dimension: Dimension,
    pub values: Vec<String>,
}

/// The query string as sent, every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct RawQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub group_by: Option<String>,
    pub filter: Option<String>,
    pub min_n: Option<String>,
    pub satisfied_from: Option<String>,
    /// The journey (its id) whose stages `journey_stage` groups and filters by.
    pub journey: Option<String>,
}

/// A checked query. `from_day..=to_day` is the reported range; with a time bucket it is widened
/// to whole buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub metric: Metric,
    pub from_day: i64,
    pub to_day: i64,
    pub bucket: Option<Bucket>,
    pub dimensions: Vec<Dimension>,
    pub filters: Vec<Filter>,
    pub options: FigureOptions,
    /// The journey `journey_stage` reads, when the query uses it.
    pub journey: Option<String>,
}

impl MetricQuery {
    /// Whether the query groups or filters by journey stage.
    pub fn reads_journey_stages(&self) -> bool {
        self.dimensions_read().any(|dimension| *dimension == Dimension::JourneyStage)
    }

    /// The query as the answers can be read: journey stages as touchpoints, a stage filter as a
    /// filter on the stage's touchpoints (`stage_of`: touchpoint → stage), meeting any touchpoint
    /// filter there is. None when the filters leave no touchpoint to read.
    pub fn by_touchpoint(&self, stage_of: &std::collections::BTreeMap<String, String>) -> Option<MetricQuery> {
        let mut query = self.clone();
        // What it reads has no stages left.
        query.journey = None;
        for dimension in &mut query.dimensions {
            if *dimension == Dimension::JourneyStage {
                *dimension = Dimension::Touchpoint;
            }
        }
        let Some(position) = query.filters.iter().position(|filter| filter.dimension == Dimension::JourneyStage) else {
            return Some(query);
        };
        let stages = query.filters.remove(position).values;
        let mut touchpoints: Vec<String> = stage_of
            .iter()
            .filter(|(_, stage)| stages.contains(stage))
            .map(|(touchpoint, _)| touchpoint.clone())
            .collect();
        if let Some(filter) = query.filters.iter_mut().find(|filter| filter.dimension == Dimension::Touchpoint) {
            touchpoints.retain(|touchpoint| filter.values.contains(touchpoint));
            filter.values = touchpoints.clone();
        } else {
            query.filters.push(Filter { dimension: Dimension::Touchpoint, values: touchpoints.clone() });
        }
        (!touchpoints.is_empty()).then_some(query)
    }

    /// Relabels the rows `by_touchpoint`'s query read: where this query groups by journey stage,
    /// each touchpoint becomes its stage (none when the journey does not have it).
    pub fn label_stages(
        &self,
        rows: &mut [super::report::TallyRow],
        stage_of: &std::collections::BTreeMap<String, String>,
    ) {
        let positions: Vec<usize> = (0..self.dimensions.len())
            .filter(|position| self.dimensions[*position] == Dimension::JourneyStage)
            .collect();
        for row in rows {
            for position in &positions {
                if let Some(value) = row.values.get_mut(*position) {
                    *value = value.as_ref().and_then(|touchpoint| stage_of.get(touchpoint).cloned());
                }
            }
        }
    }

    /// The days to read (inclusive): the range plus the period its first group is compared with.
    pub fn read_range(&self) -> (i64, i64) {
        match self.bucket {
            Some(bucket) => (bucket.previous(self.from_day), self.to_day),
            None => (self.from_day - (self.to_day - self.from_day + 1), self.to_day),
        }
    }

    /// Every dimension the query reads (grouped or filtered), for choosing where to read from.
    pub fn dimensions_read(&self) -> impl Iterator<Item = &Dimension> {
        self.dimensions.iter().chain(self.filters.iter().map(|filter| &filter.dimension))
    }

    /// Whether the query groups or filters by CSAT service dimension; when not, only overall
    /// answers count (a CSAT figure is never a blend of the overall question and its dimensions).
    pub fn reads_service_dimensions(&self) -> bool {
        self.dimensions_read().any(|dimension| *dimension == Dimension::ServiceDimension)
    }

    /// The distinct trait keys the query reads, in first-use order.
    pub fn traits_read(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for dimension in self.dimensions_read() {
            if let Dimension::Trait(key) = dimension
                && !keys.contains(&key.as_str())
            {
                keys.push(key);
            }
        }
        keys
    }
}

/// Why a personal trait slices no metric.
fn sealed_trait(name: &str) -> String {
    format!("`{name}` is personal data, sealed at rest (every value is unique ciphertext): slice by another trait")
}

pub fn parse_day(field: &str, value: &str, problems: &mut Vec<FieldProblem>) -> Option<i64> {
    match Date::parse(value, format_description!("[year]-[month]-[day]")) {
        Ok(date) => Some(day_of_date(date)),
        Err(_) => {
            problems.push(FieldProblem::envelope(field, &format!("`{value}` is not a date (YYYY-MM-DD)")));
            None
        }
    }
}

fn parse_number(
    field: &str,
    value: &Option<String>,
    range: std::ops::RangeInclusive<i64>,
    problems: &mut Vec<FieldProblem>,
) -> Option<i64> {
    let value = value.as_deref()?;
    match value.parse::<i64>() {
        Ok(number) if range.contains(&number) => Some(number),
        _ => {
            let (low, high) = (range.start(), range.end());
            problems
                .push(FieldProblem::envelope(field, &format!("`{value}` is not a whole number from {low} to {high}")));
            None
        }
    }
}

/// Checks a query for `metric` whole, naming every problem by its parameter. `today` is the
/// current UTC day (the default range is the 365 days ending today); `defaults` are the
/// workspace's figure options.
pub fn parse_query(
    metric: &str,
    raw: &RawQuery,
    today: i64,
    defaults: FigureOptions,
) -> Result<MetricQuery, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let name = metric;
    let metric = Metric::parse(name);
    if metric.is_none() {
        let names: Vec<&str> = Metric::ALL.iter().map(|metric| metric.name()).collect();
        problems
            .push(FieldProblem::envelope("metric", &format!("unknown metric `{name}`: one of {}", names.join(", "))));
    }
    let to_day = raw.to.as_deref().map_or(Some(today), |to| parse_day("to", to, &mut problems));
    let from_day = raw.from.as_deref().map_or(to_day.map(|to| to - 364), |from| parse_day("from", from, &mut problems));
    if let (Some(from), Some(to)) = (from_day, to_day) {
        if from > to {
            problems.push(FieldProblem::envelope("from", "is after `to`"));
        } else if to - from >= MAX_RANGE_DAYS {
            problems.push(FieldProblem::envelope("from", &format!("the range is longer than {MAX_RANGE_DAYS} days")));
        }
    }

    let mut bucket = None;
    let mut dimensions = Vec::new();
    for name in raw.group_by.iter().flat_map(|list| list.split(',')).map(str::trim).filter(|name| !name.is_empty()) {
        let parsed_bucket = match name {
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            "month" => Some(Bucket::Month),
            "quarter" => Some(Bucket::Quarter),
            _ => None,
        };
        if let Some(parsed) = parsed_bucket {
            if bucket.replace(parsed).is_some() {
                problems
                    .push(FieldProblem::envelope("group_by", "at most one time bucket (day, week, month or quarter)"));
            }
        } else if let Some(dimension) = Dimension::parse(name) {
            if let Dimension::Trait(key) = &dimension
                && crate::sealing::is_sealed_trait(key)
            {
                problems.push(FieldProblem::envelope("group_by", &sealed_trait(name)));
            } else if dimensions.contains(&dimension) {
                problems.push(FieldProblem::envelope("group_by", &format!("`{name}` is listed twice")));
            }
            dimensions.push(dimension);
        } else {
            problems.push(FieldProblem::envelope(
                "group_by",
                &format!("unknown group-by `{name}`: one of day, week, month, quarter, {DIMENSION_NAMES}"),
            ));
        }
    }
    if dimensions.len() + usize::from(bucket.is_some()) > MAX_GROUP_BYS {
        problems.push(FieldProblem::envelope("group_by", &format!("at most {MAX_GROUP_BYS} group-bys")));
    }

    let mut filters: Vec<Filter> = Vec::new();
    for item in raw.filter.iter().flat_map(|list| list.split(',')).map(str::trim).filter(|item| !item.is_empty()) {
        let Some((field, values)) = item.split_once(':') else {
            problems.push(FieldProblem::envelope(
                "filter",
                &format!("`{item}` is not field:value (values separated by |)"),
            ));
            continue;
        };
        let Some(dimension) = Dimension::parse(field.trim()) else {
            problems.push(FieldProblem::envelope(
                "filter",
                &format!("unknown filter field `{field}`: one of {DIMENSION_NAMES}"),
            ));
            continue;
        };
        let values: Vec<String> = values.split('|').map(|value| value.trim().to_owned()).collect();
        if let Dimension::Trait(key) = &dimension
            && crate::sealing::is_sealed_trait(key)
        {
            problems.push(FieldProblem::envelope("filter", &sealed_trait(field.trim())));
        } else if values.iter().any(String::is_empty) {
            problems.push(FieldProblem::envelope("filter", &format!("`{item}` has an empty value")));
        } else if filters.iter().any(|filter| filter.dimension == dimension) {
            problems.push(FieldProblem::envelope(
                "filter",
                &format!("`{field}` is filtered twice: list its values with |"),
            ));
        } else {
            filters.push(Filter { dimension, values });
        }
    }

    let traits: std::collections::BTreeSet<&Dimension> = dimensions
        .iter()
        .chain(filters.iter().map(|filter| &filter.dimension))
        .filter(|dimension| matches!(dimension, Dimension::Trait(_)))
        .collect();
    if traits.len() > MAX_TRAITS {
        problems.push(FieldProblem::envelope("filter", &format!("at most {MAX_TRAITS} different traits per query")));
    }

    let reads_stages =
        dimensions.iter().chain(filters.iter().map(|filter| &filter.dimension)).any(|d| *d == Dimension::JourneyStage);
    let journey = raw.journey.as_deref().map(str::trim).filter(|journey| !journey.is_empty()).map(str::to_owned);
    match (reads_stages, &journey) {
        (true, None) => problems.push(FieldProblem::envelope(
            "journey",
            "journey_stage needs the journey whose stages it means: journey=<journey id>",
        )),
        (false, Some(_)) => {
            problems.push(FieldProblem::envelope("journey", "is only read with journey_stage in group_by or filter"))
        }
        _ => {}
    }

    if metric == Some(Metric::ResponseRate) {
        let read: Vec<&Dimension> = dimensions.iter().chain(filters.iter().map(|filter| &filter.dimension)).collect();
        if let Some(dimension) = read.into_iter().find(|dimension| !dimension.on_invitations()) {
            problems.push(FieldProblem::envelope(
                "group_by",
                &format!(
                    "response_rate is counted over invitations: it knows time, survey and channel, not `{}`",
                    dimension.name()
                ),
            ));
        }
    }

    if metric == Some(Metric::ChurnRate)
        && let Some(dimension) = dimensions
            .iter()
            .chain(filters.iter().map(|filter| &filter.dimension))
            .find(|dimension| !matches!(dimension, Dimension::Account | Dimension::Trait(_)))
    {
        problems.push(FieldProblem::envelope(
            "group_by",
            &format!(
                "churn_rate is counted over customers: it groups by time, account and traits, not `{}`",
                dimension.name()
            ),
        ));
    }

    if metric == Some(Metric::AccountNps)
        && let Some(dimension) = dimensions.first()
    {
        problems.push(FieldProblem::envelope(
            "group_by",
            &format!("account_nps is grouped by account already (and by time if asked), not `{}`", dimension.name()),
        ));
    }

    let min_n = parse_number("min_n", &raw.min_n, 1..=1_000_000, &mut problems);
    let satisfied_from = parse_number("satisfied_from", &raw.satisfied_from, 1..=5, &mut problems);

    match (metric, from_day, to_day) {
        (Some(metric), Some(from_day), Some(to_day)) if problems.is_empty() => {
            let (from_day, to_day) = match bucket {
                Some(bucket) => (bucket.start(from_day), bucket.next(bucket.start(to_day)) - 1),
                None => (from_day, to_day),
            };
            Ok(MetricQuery {
                metric,
                from_day,
                to_day,
                bucket,
                dimensions,
                filters,
                options: FigureOptions {
                    min_n: min_n.map_or(defaults.min_n, |n| n as u64),
                    satisfied_from: satisfied_from.unwrap_or(defaults.satisfied_from),
                },
                journey,
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn raw(pairs: &[(&str, &str)]) -> RawQuery {
        let mut raw = RawQuery::default();
        for (key, value) in pairs {
            let value = Some(value.to_string());
            match *key {
                "from" => raw.from = value,
                "to" => raw.to = value,
                "group_by" => raw.group_by = value,
                "filter" => raw.filter = value,
                "min_n" => raw.min_n = value,
                "satisfied_from" => raw.satisfied_from = value,
                "journey" => raw.journey = value,
                _ => unreachable!(),
            }
        }
        raw
    }

    fn fields(result: Result<MetricQuery, Vec<FieldProblem>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|problem| format!("{}: {}", problem.field, problem.problem)).collect()
    }

    #[test]
    fn buckets_start_label_and_step() {
        let day = day_of_date(date!(2025 - 02 - 14)); // a Friday
        assert_eq!(date_of_day(Bucket::Week.start(day)), date!(2025 - 02 - 10));
        assert_eq!(Bucket::Week.label(Bucket::Week.start(day)), "2025-W07");
        assert_eq!(date_of_day(Bucket::Month.start(day)), date!(2025 - 02 - 01));
        assert_eq!(date_of_day(Bucket::Month.next(Bucket::Month.start(day))), date!(2025 - 03 - 01));
        assert_eq!(date_of_day(Bucket::Month.previous(Bucket::Month.start(day))), date!(2025 - 01 - 01));
        assert_eq!(date_of_day(Bucket::Quarter.start(day)), date!(2025 - 01 - 01));
        assert_eq!(date_of_day(Bucket::Quarter.next(Bucket::Quarter.start(day))), date!(2025 - 04 - 01));
        assert_eq!(Bucket::Quarter.label(day), "2025-Q1");
        assert_eq!(Bucket::Day.label(day), "2025-02-14");
        // ISO week 1 of 2026 starts on 2025-12-29.
        let new_year = day_of_date(date!(2026 - 01 - 01));
        assert_eq!(Bucket::Week.label(Bucket::Week.start(new_year)), "2026-W01");
        assert_eq!(day_of_ms(-1), -1);
        assert_eq!(day_of_ms(MS_PER_DAY), 1);
    }

    #[test]
    fn a_full_query_parses() {
        let today = day_of_date(date!(2025 - 06 - 30));
        let query = parse_query(
            "nps",
            &raw(&[
                ("from", "2024-01-15"),
                ("to", "2025-06-30"),
                ("group_by", "month, channel,traits.plan"),
                ("filter", "channel:email|sms,survey:s1"),
                ("min_n", "50"),
            ]),
            today,
            FigureOptions::default(),
        )
        .unwrap();
        assert_eq!(query.metric, Metric::Nps);
        assert_eq!(query.bucket, Some(Bucket::Month));
        assert_eq!(date_of_day(query.from_day), date!(2024 - 01 - 01), "widened to whole months");
        assert_eq!(date_of_day(query.to_day), date!(2025 - 06 - 30));
        assert_eq!(query.dimensions, vec![Dimension::Channel, Dimension::Trait("plan".into())]);
        assert_eq!(
            query.filters[0],
            Filter { dimension: Dimension::Channel, values: vec!["email".into(), "sms".into()] }
        );
        assert_eq!(query.options.min_n, 50);
        assert_eq!(date_of_day(query.read_range().0), date!(2023 - 12 - 01));
    }

    #[test]
    fn defaults_are_the_last_365_days_without_grouping() {
        let today = day_of_date(date!(2025 - 06 - 30));
        let query = parse_query("csat", &RawQuery::default(), today, FigureOptions::default()).unwrap();
        assert_eq!((query.from_day, query.to_day), (today - 364, today));
        assert_eq!(query.read_range(), (today - 729, today));
        assert_eq!(query.options, FigureOptions::default());
    }

    #[test]
    fn bad_queries_name_every_problem() {
        let today = 20_000;
        assert_eq!(
            fields(parse_query("npx", &RawQuery::default(), today, FigureOptions::default())),
            [
                "metric: unknown metric `npx`: one of nps, enps, csat, ces, rating, response_rate, churn_rate, account_nps"
            ]
        );
        let problems = fields(parse_query(
            "nps",
            &raw(&[
                ("from", "2025-02-01"),
                ("to", "2025-01-01"),
                ("group_by", "month,week,colour"),
                ("filter", "channel,plan:pro"),
                ("min_n", "0"),
            ]),
            today,
            FigureOptions::default(),
        ));
        assert_eq!(problems.len(), 6, "{problems:#?}");
        assert!(problems[0].starts_with("from: is after `to`"));
        assert!(problems[1].starts_with("group_by: at most one time bucket"));
        assert!(problems[2].starts_with("group_by: unknown group-by `colour`"));
        assert!(problems[3].starts_with("filter: `channel` is not field:value"));
        assert!(problems[4].starts_with("filter: unknown filter field `plan`"));
        assert!(problems[5].starts_with("min_n: `0` is not a whole number from 1"));
        let dates = fields(parse_query("nps", &raw(&[("from", "yesterday")]), today, FigureOptions::default()));
        assert_eq!(dates, ["from: `yesterday` is not a date (YYYY-MM-DD)"]);
        let rate =
            fields(parse_query("response_rate", &raw(&[("group_by", "agent")]), today, FigureOptions::default()));
        assert!(rate[0].contains("not `agent`"), "{rate:?}");
    }

    #[test]
    fn journey_stages_are_read_as_their_touchpoints() {
        use crate::metrics::report::TallyRow;
        let today = 20_000;
        let missing = parse_query("nps", &raw(&[("group_by", "journey_stage")]), today, FigureOptions::default());
        assert!(missing.unwrap_err().iter().any(|p| p.field == "journey"));
        let stray = parse_query("nps", &raw(&[("journey", "j1")]), today, FigureOptions::default());
        assert!(stray.unwrap_err().iter().any(|p| p.field == "journey"));
        let churn = raw(&[("group_by", "journey_stage"), ("journey", "j1")]);
        assert!(parse_query("churn_rate", &churn, today, FigureOptions::default()).is_err());

        let stage_of: std::collections::BTreeMap<String, String> =
            [("browse", "Discover"), ("compare", "Discover"), ("checkout", "Buy")]
                .iter()
                .map(|(t, s)| (t.to_string(), s.to_string()))
                .collect();
        let query = parse_query(
            "nps",
            &raw(&[("group_by", "journey_stage,channel"), ("filter", "journey_stage:Discover"), ("journey", "j1")]),
            today,
            FigureOptions::default(),
        )
        .unwrap();
        assert!(query.reads_journey_stages());
        let read = query.by_touchpoint(&stage_of).unwrap();
        assert_eq!(read.dimensions, vec![Dimension::Touchpoint, Dimension::Channel]);
        assert!(!read.reads_journey_stages() && read.journey.is_none());
        assert_eq!(
            read.filters,
            vec![Filter { dimension: Dimension::Touchpoint, values: vec!["browse".into(), "compare".into()] }]
        );
        // A touchpoint filter as well: what both allow; nothing allowed, nothing read.
        let both = parse_query(
            "nps",
            &raw(&[("filter", "journey_stage:Discover,touchpoint:compare|checkout"), ("journey", "j1")]),
            today,
            FigureOptions::default(),
        )
        .unwrap();
        assert_eq!(both.by_touchpoint(&stage_of).unwrap().filters[0].values, vec!["compare".to_owned()]);
        let none = parse_query(
            "nps",
            &raw(&[("filter", "journey_stage:Buy,touchpoint:browse"), ("journey", "j1")]),
            today,
            FigureOptions::default(),
        )
        .unwrap();
        assert_eq!(none.by_touchpoint(&stage_of), None);

        let row = |touchpoint: Option<&str>| TallyRow {
            day: today,
            values: vec![touchpoint.map(str::to_owned), Some("web".into())],
            score: 9,
            count: 1,
        };
        let mut rows = vec![row(Some("compare")), row(Some("elsewhere")), row(None)];
        query.label_stages(&mut rows, &stage_of);
        let labels: Vec<Option<&str>> = rows.iter().map(|r| r.values[0].as_deref()).collect();
        assert_eq!(labels, vec![Some("Discover"), None, None]);
        assert!(rows.iter().all(|r| r.values[1].as_deref() == Some("web")));
    }
}
