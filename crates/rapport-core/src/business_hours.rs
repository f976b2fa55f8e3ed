//! Business hours: a calendar (time zone, opening hours per weekday, holidays) and the arithmetic
//! SLAs need: a due time N business minutes after an instant, and the business minutes between
//! two instants. Local days are walked in the calendar's zone (jiff, bundled tz database), so
//! daylight-saving changes and holidays fall where people see them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::problem::FieldProblem;

const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
/// Longest walk of a calculation: no calendar is shut for two years.
const MAX_DAYS: i64 = 800;

/// Opening hours of one weekday, `"09:00"`-`"17:00"` local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hours {
    pub open: String,
    pub close: String,
}

/// A calendar as sent and stored: `{"timeZone": "Europe/Berlin", "hours": {"monday": {"open":
/// "09:00", "close": "17:00"}, …}, "holidays": ["2026-12-25"]}`. A weekday left out is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CalendarSpec {
    pub time_zone: String,
    pub hours: std::collections::BTreeMap<String, Hours>,
    #[serde(default)]
    pub holidays: Vec<String>,
}

impl Default for CalendarSpec {
    /// Monday to Friday, 09:00-17:00 UTC.
    fn default() -> Self {
        let hours = WEEKDAYS[..5]
            .iter()
            .map(|day| ((*day).to_owned(), Hours { open: "09:00".into(), close: "17:00".into() }))
            .collect();
        CalendarSpec { time_zone: "UTC".into(), hours, holidays: Vec::new() }
    }
}

/// A checked calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: TimeZone,
    /// Monday first: the day's opening and closing time.
    days: [Option<(Time, Time)>; 7],
    holidays: Vec<Date>,
}

/// A time zone by IANA name, looked up in the bundled database once per name per process (a
/// lookup decodes the zone's rules: too slow to repeat for every response a rule reads).
fn zone_named(name: &str) -> Option<TimeZone> {
    static ZONES: OnceLock<Mutex<HashMap<String, Option<TimeZone>>>> = OnceLock::new();
    if name == "UTC" {
        return Some(TimeZone::UTC);
    }
    let mut zones = ZONES.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    zones.entry(name.to_owned()).or_insert_with(|| TimeZone::get(name).ok()).clone()
}

fn parse_time(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

impl Calendar {
    /// Checks a calendar; every problem names its field (`calendar.hours.monday.close`).
    pub fn from_spec(spec: &CalendarSpec, path: &str) -> Result<Calendar, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let zone = zone_named(&spec.time_zone).unwrap_or_else(|| {
            problems.push(FieldProblem::envelope(
                &format!("{path}.timeZone"),
                &format!("`{}` is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)", spec.time_zone),
            ));
            TimeZone::UTC
        });
        let mut days = [None; 7];
        for (day, hours) in &spec.hours {
            let field = format!("{path}.hours.{day}");
            let Some(index) = WEEKDAYS.iter().position(|d| d == day) else {
                problems.push(FieldProblem::envelope(&field, "not a weekday: monday … sunday"));
                continue;
            };
            match (parse_time(&hours.open), parse_time(&hours.close)) {
                (Some(open), Some(close)) if open < close => days[index] = Some((open, close)),
                (Some(_), Some(_)) => problems.push(FieldProblem::envelope(&field, "must open before it closes")),
                _ => problems.push(FieldProblem::envelope(&field, "open and close must be HH:MM (24-hour)")),
            }
        }
        if days.iter().all(Option::is_none) {
            problems.push(FieldProblem::envelope(&format!("{path}.hours"), "must open on at least one weekday"));
        }
        let mut holidays = Vec::new();
        for (i, holiday) in spec.holidays.iter().enumerate() {
            match holiday.parse::<Date>() {
                Ok(date) => holidays.push(date),
                Err(_) => problems.push(FieldProblem::envelope(&format!("{path}.holidays[{i}]"), "must be YYYY-MM-DD")),
            }
        }
        holidays.sort();
        if problems.is_empty() { Ok(Calendar { zone, days, holidays }) } else { Err(problems) }
    }

    /// The open window of a local date, as instants, if it is a working day.
    fn window(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        if self.holidays.binary_search(&date).is_ok() {
            return None;
        }
        let (open, close) = self.days[date.weekday().to_monday_zero_offset() as usize]?;
        let at = |time: Time| date.to_datetime(time).to_zoned(self.zone.clone()).ok().map(|z| z.timestamp());
        Some((at(open)?, at(close)?))
    }

    fn local_date(&self, at: Timestamp) -> Date {
        at.to_zoned(self.zone.clone()).date()
    }

    /// The instant `minutes` business minutes after `start` (at `start` itself when 0 and open).
    pub fn add_business_minutes(&self, start: Timestamp, minutes: i64) -> Timestamp {
        self.add_business_millis(start, minutes.max(0) * 60_000)
    }

    /// `start` moved on by `millis` of business time (to the millisecond).
    pub fn add_business_millis(&self, start: Timestamp, millis: i64) -> Timestamp {
        let mut left = millis.max(0);
        let mut date = self.local_date(start);
        for _ in 0..MAX_DAYS {
            if let Some((open, close)) = self.window(date) {
                let from = if start > open { start } else { open };
                if from < close {
                    let available = close.as_millisecond() - from.as_millisecond();
                    if left <= available {
                        return from.checked_add(left.milliseconds()).unwrap_or(from);
                    }
                    left -= available;
                }
            }
            date = date.tomorrow().unwrap_or(date);
        }
        start
    }

    /// Business minutes from `from` to `to` (0 when `to` is not after `from`), whole minutes.
    pub fn business_minutes_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        self.business_millis_between(from, to) / 60_000
    }

    /// Business time from `from` to `to` in milliseconds (0 when `to` is not after `from`).
    pub fn business_millis_between(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from {
            return 0;
        }
        let mut millis = 0;
        let mut date = self.local_date(from);
        let last = self.local_date(to);
        for _ in 0..MAX_DAYS {
            if let Some((open, close)) = self.window(date) {
                let start = if from > open { from } else { open };
                let end = if to < close { to } else { close };
                if start < end {
                    millis += end.as_millisecond() - start.as_millisecond();
                }
            }
            if date >= last {
                break;
            }
            date = date.tomorrow().unwrap_or(date);
        }
        millis
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn berlin() -> Calendar {
        let spec: CalendarSpec = serde_json::from_value(serde_json::json!({
            "timeZone": "Europe/Berlin",
            "hours": {"monday": {"open": "09:00", "close": "17:00"}, "tuesday": {"open": "09:00", "close": "17:00"},
                      "wednesday": {"open": "09:00", "close": "17:00"}, "thursday": {"open": "09:00", "close": "17:00"},
                      "friday": {"open": "09:00", "close": "13:00"}},
            "holidays": ["2026-12-25", "2026-12-28"]
        }))
        .unwrap();
        Calendar::from_spec(&spec, "calendar").unwrap()
    }

    #[test]
    fn due_times_skip_nights_weekends_and_holidays() {
        let calendar = berlin();
        // Thursday 2026-12-24 16:00 Berlin (15:00 UTC) + 4 business hours: 1 h on Thursday,
        // Friday the 25th is a holiday, the weekend is closed, Monday the 28th is a holiday:
        // 3 h on Tuesday the 29th from 09:00 → 12:00 Berlin (11:00 UTC).
        assert_eq!(calendar.add_business_minutes(at("2026-12-24T15:00:00Z"), 240), at("2026-12-29T11:00:00Z"));
        // Friday closes at 13:00: 2 h from Friday 12:00 end Monday 10:00.
        assert_eq!(calendar.add_business_minutes(at("2026-11-20T11:00:00Z"), 120), at("2026-11-23T09:00:00Z"));
        // Before opening, the clock starts at opening.
        assert_eq!(calendar.add_business_minutes(at("2026-11-23T05:00:00Z"), 30), at("2026-11-23T08:30:00Z"));
        assert_eq!(calendar.business_minutes_between(at("2026-12-24T15:00:00Z"), at("2026-12-29T11:00:00Z")), 240);
    }

    #[test]
    fn daylight_saving_changes_keep_local_hours() {
        let calendar = berlin();
        // Friday 2026-03-27 12:00 CET (11:00 UTC) + 2 h: 1 h Friday, then Monday 09:00 CEST (07:00 UTC) + 1 h.
        assert_eq!(calendar.add_business_minutes(at("2026-03-27T11:00:00Z"), 120), at("2026-03-30T08:00:00Z"));
    }

    #[test]
    fn bad_calendars_are_named() {
        let spec = CalendarSpec {
            time_zone: "Mars/Olympus".into(),
            hours: [
                ("funday".to_owned(), Hours { open: "9".into(), close: "17:00".into() }),
                ("monday".to_owned(), Hours { open: "18:00".into(), close: "17:00".into() }),
            ]
            .into_iter()
            .collect(),
            holidays: vec!["Christmas".into()],
        };
        let problems = Calendar::from_spec(&spec, "calendar").unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "calendar.timeZone",
                "calendar.hours.funday",
                "calendar.hours.monday",
                "calendar.hours",
                "calendar.holidays[0]"
            ]
        );
        assert!(Calendar::from_spec(&CalendarSpec::default(), "calendar").is_ok());
    }
}
