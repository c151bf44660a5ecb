//! When the daily question is due: pure date maths over a user's zone and chosen time.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::zone::Zone;

/// One scheduled question: the instant it goes out, and the local date it belongs to. The date is
/// kept rather than derived, because a time moved out of a spring-forward gap can land on the
/// next local day, and "once per local date" must still count it for the day it was meant for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    pub at: DateTime<Utc>,
    pub local_date: NaiveDate,
}

/// The first question strictly after `after` for a local date that has not had one yet.
pub fn next_due(
    zone: &Zone,
    time: NaiveTime,
    last_prompted_on: Option<NaiveDate>,
    after: DateTime<Utc>,
) -> Due {
    let today = zone.local_date(after);
    let first_open = last_prompted_on
        .and_then(|last| last.succ_opt())
        .map_or(today, |next| next.max(today));
    first_open
        .iter_days()
        .map(|date| {
            let at = zone.resolve(date.and_time(time));
            // A time moved out of a gap that crosses midnight (Greenland springs forward at
            // 23:00) lands on the next day, and counts for that day, so the next day's own
            // question does not come as a second one.
            Due {
                at,
                local_date: date.max(zone.local_date(at)),
            }
        })
        .find(|due| due.at > after && last_prompted_on.is_none_or(|last| due.local_date > last))
        .expect("some later day always has a later instant")
}

/// What to do with a question whose instant has passed: send it if it is late by no more than
/// `catch_up` (the bot was down, or busy), otherwise let it go, so a long outage never makes
/// a pile of stale questions arrive at once.
pub fn is_still_worth_sending(due: &Due, now: DateTime<Utc>, catch_up: Duration) -> bool {
    now >= due.at && now - due.at <= catch_up
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn time(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    fn zone(s: &str) -> Zone {
        s.parse().unwrap()
    }

    #[test]
    fn later_today_when_the_time_has_not_come_yet() {
        let due = next_due(
            &zone("Europe/Paris"),
            time("09:00"),
            None,
            utc("2026-01-15T06:00:00Z"),
        );
        assert_eq!(
            due,
            Due {
                at: utc("2026-01-15T08:00:00Z"),
                local_date: date("2026-01-15")
            }
        );
    }

    #[test]
    fn tomorrow_when_the_time_has_passed_today() {
        let due = next_due(
            &zone("Europe/Paris"),
            time("09:00"),
            None,
            utc("2026-01-15T08:00:00Z"),
        );
        assert_eq!(
            due,
            Due {
                at: utc("2026-01-16T08:00:00Z"),
                local_date: date("2026-01-16")
            }
        );
    }

    #[test]
    fn never_a_second_question_on_a_date_already_prompted() {
        let due = next_due(
            &zone("Europe/Paris"),
            time("22:00"),
            Some(date("2026-01-15")),
            utc("2026-01-15T06:00:00Z"),
        );
        assert_eq!(due.local_date, date("2026-01-16"));
    }

    #[test]
    fn local_date_not_utc_date_decides_the_day() {
        // 23:30 in Los Angeles is already the next day in UTC.
        let la = zone("America/Los_Angeles");
        let due = next_due(&la, time("23:30"), None, utc("2026-01-15T12:00:00Z"));
        assert_eq!(
            due,
            Due {
                at: utc("2026-01-16T07:30:00Z"),
                local_date: date("2026-01-15")
            }
        );
        // In Tokyo at 00:30 local, UTC is still the day before.
        let tokyo = zone("Asia/Tokyo");
        let due = next_due(&tokyo, time("00:30"), None, utc("2026-01-15T12:00:00Z"));
        assert_eq!(
            due,
            Due {
                at: utc("2026-01-15T15:30:00Z"),
                local_date: date("2026-01-16")
            }
        );
    }

    #[test]
    fn midnight_belongs_to_the_day_it_starts() {
        let due = next_due(
            &zone("Europe/London"),
            time("00:00"),
            Some(date("2026-06-01")),
            utc("2026-06-01T12:00:00Z"),
        );
        assert_eq!(
            due,
            Due {
                at: utc("2026-06-01T23:00:00Z"),
                local_date: date("2026-06-02")
            }
        );
    }

    #[test]
    fn spring_forward_day_sends_once_at_the_first_valid_instant() {
        let berlin = zone("Europe/Berlin");
        let before = utc("2026-03-28T12:00:00Z");
        let first = next_due(&berlin, time("02:30"), Some(date("2026-03-28")), before);
        assert_eq!(
            first,
            Due {
                at: utc("2026-03-29T01:00:00Z"),
                local_date: date("2026-03-29")
            }
        );
        let second = next_due(&berlin, time("02:30"), Some(first.local_date), first.at);
        assert_eq!(
            second,
            Due {
                at: utc("2026-03-30T00:30:00Z"),
                local_date: date("2026-03-30")
            }
        );
    }

    #[test]
    fn fall_back_day_sends_once_at_the_first_occurrence() {
        let berlin = zone("Europe/Berlin");
        let first = next_due(
            &berlin,
            time("02:30"),
            Some(date("2026-10-24")),
            utc("2026-10-24T12:00:00Z"),
        );
        assert_eq!(
            first,
            Due {
                at: utc("2026-10-25T00:30:00Z"),
                local_date: date("2026-10-25")
            }
        );
        // Asked again just after the first 02:30, while the repeated hour is still to come.
        let second = next_due(&berlin, time("02:30"), Some(first.local_date), first.at);
        assert_eq!(
            second,
            Due {
                at: utc("2026-10-26T01:30:00Z"),
                local_date: date("2026-10-26")
            }
        );
    }

    #[test]
    fn a_whole_year_in_many_zones_gives_at_most_one_question_per_local_date() {
        for name in [
            "Europe/London",
            "America/New_York",
            "America/Sao_Paulo",
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "Pacific/Chatham",
            "America/St_Johns",
            "Africa/Casablanca",
            "UTC+05:45",
            "Pacific/Apia",
            "America/Nuuk",
            "America/Scoresbysund",
            "America/Havana",
            "Asia/Tehran",
        ] {
            for chosen in [
                "00:00", "00:30", "01:30", "02:00", "02:30", "03:00", "09:00", "23:00", "23:30",
                "23:59",
            ] {
                let zone = zone(name);
                let mut last = None;
                let mut cursor = utc("2026-01-01T00:00:00Z");
                let mut previous_date: Option<NaiveDate> = None;
                let mut days_sent = 0;
                while cursor < utc("2027-01-01T00:00:00Z") {
                    let due = next_due(&zone, time(chosen), last, cursor);
                    assert!(
                        due.at > cursor,
                        "{name} {chosen}: {due:?} not after {cursor}"
                    );
                    assert_eq!(
                        zone.local_date(due.at),
                        due.local_date,
                        "{name} {chosen}: counted for another day than it is sent on"
                    );
                    if let Some(previous) = previous_date {
                        let step = (due.local_date - previous).num_days();
                        // Only a time moved out of a gap across midnight skips a day.
                        assert!(
                            (1..=2).contains(&step),
                            "{name} {chosen}: {step} days from {previous} to {due:?}"
                        );
                    }
                    previous_date = Some(due.local_date);
                    last = Some(due.local_date);
                    cursor = due.at;
                    days_sent += 1;
                }
                assert!(
                    days_sent >= 363,
                    "{name} {chosen}: only {days_sent} questions in a year"
                );
            }
        }
    }

    #[test]
    fn a_gap_across_midnight_moves_the_question_to_the_next_day_and_counts_it_there() {
        // Nuuk springs forward from Saturday 23:00 straight to Sunday 00:00 on 2026-03-28.
        let nuuk = zone("America/Nuuk");
        let saturday = next_due(
            &nuuk,
            time("23:30"),
            Some(date("2026-03-27")),
            utc("2026-03-28T12:00:00Z"),
        );
        assert_eq!(saturday.local_date, date("2026-03-29"));
        assert_eq!(nuuk.local_date(saturday.at), date("2026-03-29"));
        let next = next_due(&nuuk, time("23:30"), Some(saturday.local_date), saturday.at);
        assert_eq!(
            next.local_date,
            date("2026-03-30"),
            "never a second question on the Sunday"
        );
    }

    #[test]
    fn catch_up_sends_a_recently_missed_question_and_skips_an_old_one() {
        let due = Due {
            at: utc("2026-01-15T08:00:00Z"),
            local_date: date("2026-01-15"),
        };
        let three_hours = Duration::hours(3);
        assert!(is_still_worth_sending(
            &due,
            utc("2026-01-15T08:00:00Z"),
            three_hours
        ));
        assert!(is_still_worth_sending(
            &due,
            utc("2026-01-15T10:59:00Z"),
            three_hours
        ));
        assert!(is_still_worth_sending(
            &due,
            utc("2026-01-15T11:00:00Z"),
            three_hours
        ));
        assert!(!is_still_worth_sending(
            &due,
            utc("2026-01-15T11:00:01Z"),
            three_hours
        ));
        assert!(!is_still_worth_sending(
            &due,
            utc("2026-01-15T07:59:59Z"),
            three_hours
        ));
    }
}
