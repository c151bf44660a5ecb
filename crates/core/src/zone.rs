//! A user's timezone: an IANA zone, or a fixed offset for people who think in "UTC+2".

use std::{fmt, str::FromStr};

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IANA timezone such as Europe/Paris, nor an offset such as UTC+02:00")]
pub struct ZoneError(pub String);

/// Offsets beyond these are not in use anywhere on Earth.
const MAX_OFFSET_MINUTES: i32 = 14 * 60;

impl FromStr for Zone {
    type Err = ZoneError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let trimmed = input.trim();
        if let Some(offset) = parse_offset(trimmed) {
            return Ok(Zone::Fixed(offset));
        }
        // IANA names are case-sensitive in the database but people type "europe/paris".
        trimmed
            .parse::<Tz>()
            .or_else(|_| Tz::from_str_insensitive(trimmed))
            .map(Zone::Named)
            .map_err(|_| ZoneError(input.chars().take(64).collect()))
    }
}

/// Accepts `UTC+2`, `UTC+02`, `UTC+02:00`, `GMT-5:30`, `+0530`, and `UTC` / `GMT` alone.
fn parse_offset(input: &str) -> Option<FixedOffset> {
    // People paste a typographic minus from clocks and websites.
    let upper = input.replace('\u{2212}', "-").to_ascii_uppercase();
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    if rest.is_empty() && upper != rest {
        return FixedOffset::east_opt(0);
    }
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() == 4 && digits.is_ascii() => digits.split_at(2),
        None => (digits, "0"),
    };
    if hours.is_empty() || hours.len() > 2 || minutes.len() > 2 {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    let total = hours * 60 + minutes;
    if minutes >= 60 || total > MAX_OFFSET_MINUTES {
        return None;
    }
    FixedOffset::east_opt(sign * total * 60)
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Named(tz) => f.write_str(tz.name()),
            Zone::Fixed(offset) => {
                let seconds = offset.local_minus_utc();
                let sign = if seconds < 0 { '-' } else { '+' };
                let minutes = seconds.abs() / 60;
                write!(f, "UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
            }
        }
    }
}

impl TryFrom<String> for Zone {
    type Error = ZoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Zone> for String {
    fn from(zone: Zone) -> Self {
        zone.to_string()
    }
}

impl Zone {
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        self.local_datetime(instant).date()
    }

    pub fn local_datetime(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Named(tz) => instant.with_timezone(tz).naive_local(),
            Zone::Fixed(offset) => instant.with_timezone(offset).naive_local(),
        }
    }

    /// The instant a wall-clock time names in this zone. A time skipped by a spring-forward
    /// change moves to the first instant after the gap; a time repeated by a fall-back change
    /// takes its first occurrence, so a daily prompt is neither lost nor doubled.
    pub fn resolve(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Fixed(offset) => (local - offset.fix()).and_utc(),
            Zone::Named(tz) => resolve_named(tz, local),
        }
    }
}

fn resolve_named(tz: &Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => first_instant_after_gap(tz, local),
    }
}

/// A gap is skipped wall-clock time, so every instant maps to a local time outside it. The
/// instant just after the gap is the smallest one whose local time is past `local`; the
/// offset before the gap bounds it from above, and it is found by bisection on seconds.
fn first_instant_after_gap(tz: &Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let offset_before = tz
        .offset_from_utc_datetime(&(local - chrono::Duration::days(2)))
        .fix();
    let mut high = (local - offset_before).and_utc().timestamp();
    let mut low = high - 2 * 86_400;
    let local_at = |seconds: i64| {
        DateTime::from_timestamp(seconds, 0).map(|at| at.with_timezone(tz).naive_local())
    };
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if local_at(middle).is_some_and(|at| at > local) {
            high = middle;
        } else {
            low = middle;
        }
    }
    DateTime::from_timestamp(high, 0)
        .expect("within chrono's range: it came from a valid local time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(date: (i32, u32, u32), time: (u32, u32)) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(date.0, date.1, date.2)
            .unwrap()
            .and_hms_opt(time.0, time.1, 0)
            .unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn parses_iana_names_in_any_case() {
        assert_eq!(
            "Europe/Paris".parse::<Zone>().unwrap().to_string(),
            "Europe/Paris"
        );
        assert_eq!(
            "europe/paris".parse::<Zone>().unwrap().to_string(),
            "Europe/Paris"
        );
        assert_eq!(
            " America/New_York ".parse::<Zone>().unwrap().to_string(),
            "America/New_York"
        );
    }

    #[test]
    fn parses_offsets_in_the_forms_people_write() {
        for (input, shown) in [
            ("UTC+02:00", "UTC+02:00"),
            ("utc+2", "UTC+02:00"),
            ("GMT-5:30", "UTC-05:30"),
            ("+0530", "UTC+05:30"),
            ("UTC-03", "UTC-03:00"),
            ("UTC", "UTC+00:00"),
            ("UTC+14:00", "UTC+14:00"),
            ("UTC\u{2212}3", "UTC-03:00"),
        ] {
            assert_eq!(input.parse::<Zone>().unwrap().to_string(), shown, "{input}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_zone() {
        for input in [
            "Mars/Olympus",
            "",
            "UTC+15",
            "UTC+02:60",
            "+",
            "UTC+2:3:4",
            "Paris",
            "12:00",
            "UTC+123",
            "+1é1",
            "UTC+1é1",
            "é",
        ] {
            assert!(input.parse::<Zone>().is_err(), "{input}");
        }
    }

    #[test]
    fn a_zone_round_trips_through_its_stored_form() {
        for input in ["Asia/Kolkata", "UTC-09:30"] {
            let zone: Zone = input.parse().unwrap();
            let json = serde_json::to_string(&zone).unwrap();
            assert_eq!(serde_json::from_str::<Zone>(&json).unwrap(), zone);
        }
    }

    #[test]
    fn ordinary_local_times_resolve_with_the_offset_of_the_day() {
        let paris: Zone = "Europe/Paris".parse().unwrap();
        assert_eq!(
            paris.resolve(at((2026, 1, 15), (9, 0))),
            utc("2026-01-15T08:00:00Z")
        );
        assert_eq!(
            paris.resolve(at((2026, 7, 15), (9, 0))),
            utc("2026-07-15T07:00:00Z")
        );
    }

    #[test]
    fn a_time_skipped_by_spring_forward_moves_to_the_end_of_the_gap() {
        // Berlin skips 02:00-03:00 on 2026-03-29; 03:00 CEST is 01:00 UTC.
        let berlin: Zone = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            berlin.resolve(at((2026, 3, 29), (2, 30))),
            utc("2026-03-29T01:00:00Z")
        );
        // New York skips 02:00-03:00 on 2026-03-08; 03:00 EDT is 07:00 UTC.
        let new_york: Zone = "America/New_York".parse().unwrap();
        assert_eq!(
            new_york.resolve(at((2026, 3, 8), (2, 0))),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            new_york.resolve(at((2026, 3, 8), (2, 59))),
            utc("2026-03-08T07:00:00Z")
        );
    }

    #[test]
    fn a_time_repeated_by_fall_back_takes_its_first_occurrence() {
        // Berlin repeats 02:00-03:00 on 2026-10-25; the first 02:30 is CEST, 00:30 UTC.
        let berlin: Zone = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            berlin.resolve(at((2026, 10, 25), (2, 30))),
            utc("2026-10-25T00:30:00Z")
        );
        // Sydney repeats 02:00-03:00 on 2026-04-05; the first 02:30 is AEDT (+11).
        let sydney: Zone = "Australia/Sydney".parse().unwrap();
        assert_eq!(
            sydney.resolve(at((2026, 4, 5), (2, 30))),
            utc("2026-04-04T15:30:00Z")
        );
    }

    #[test]
    fn half_hour_and_southern_zones_resolve() {
        let kolkata: Zone = "Asia/Kolkata".parse().unwrap();
        assert_eq!(
            kolkata.resolve(at((2026, 6, 1), (9, 0))),
            utc("2026-06-01T03:30:00Z")
        );
        let chatham: Zone = "Pacific/Chatham".parse().unwrap();
        assert_eq!(
            chatham.resolve(at((2026, 6, 1), (9, 0))),
            utc("2026-05-31T20:15:00Z")
        );
        // Lord Howe moves by only 30 minutes: 02:00-02:30 is skipped on 2026-10-04.
        let lord_howe: Zone = "Australia/Lord_Howe".parse().unwrap();
        assert_eq!(
            lord_howe.resolve(at((2026, 10, 4), (2, 15))),
            utc("2026-10-03T15:30:00Z")
        );
    }

    #[test]
    fn a_day_removed_from_the_calendar_resolves_to_the_next_day_start() {
        // Samoa skipped 2011-12-30 entirely, jumping from UTC-10 to UTC+14.
        let apia: Zone = "Pacific/Apia".parse().unwrap();
        assert_eq!(
            apia.resolve(at((2011, 12, 30), (9, 0))),
            utc("2011-12-30T10:00:00Z")
        );
        assert_eq!(
            apia.local_datetime(utc("2011-12-30T10:00:00Z")),
            at((2011, 12, 31), (0, 0))
        );
    }

    #[test]
    fn fixed_offsets_have_no_gaps() {
        let zone: Zone = "UTC-05:30".parse().unwrap();
        assert_eq!(
            zone.resolve(at((2026, 3, 8), (2, 30))),
            utc("2026-03-08T08:00:00Z")
        );
        assert_eq!(
            zone.local_date(utc("2026-03-08T04:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 3, 7).unwrap()
        );
    }
}
