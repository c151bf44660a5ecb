//! The commands a user can send, and the pure parsing of their arguments.

use chrono::NaiveTime;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Start,
    Help,
    Prompt,
    Recap,
    Book,
    Time(String),
    Timezone(String),
    Pause,
    Resume,
    Settings,
    Privacy,
    Export,
    Delete,
    /// Crisis lines and the emergency number, whenever someone needs them.
    Urgent,
}

impl Command {
    /// Every command name, in the order `/help` lists them.
    pub const NAMES: [&'static str; 14] = [
        "start", "prompt", "recap", "book", "time", "timezone", "pause", "resume", "settings",
        "privacy", "export", "delete", "urgent", "help",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Help => "help",
            Command::Prompt => "prompt",
            Command::Recap => "recap",
            Command::Book => "book",
            Command::Time(_) => "time",
            Command::Timezone(_) => "timezone",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Settings => "settings",
            Command::Privacy => "privacy",
            Command::Export => "export",
            Command::Delete => "delete",
            Command::Urgent => "urgent",
        }
    }
}

/// Reads a time of day the way people type it: `08:30`, `8:30`, `8.30`, `0830`, `8`, `8am`,
/// `9:15 pm`. Always 24-hour unless am/pm says otherwise.
pub fn parse_time_of_day(input: &str) -> Option<NaiveTime> {
    let lowered = input.trim().to_ascii_lowercase();
    let (clock, meridiem) = match lowered
        .strip_suffix("am")
        .or_else(|| lowered.strip_suffix("a.m."))
    {
        Some(rest) => (rest.trim_end(), Some(false)),
        None => match lowered
            .strip_suffix("pm")
            .or_else(|| lowered.strip_suffix("p.m."))
        {
            Some(rest) => (rest.trim_end(), Some(true)),
            None => (lowered.as_str(), None),
        },
    };
    let (hours, minutes) = match clock.split_once([':', '.', 'h']) {
        Some((h, m)) if m.len() == 2 => (h, m),
        Some(_) => return None,
        // Byte positions are only safe to split at once the text is known to be ASCII.
        None if clock.len() == 4 && clock.is_ascii() && meridiem.is_none() => clock.split_at(2),
        None if (1..=2).contains(&clock.len()) => (clock, "00"),
        None => return None,
    };
    if hours.is_empty()
        || hours.len() > 2
        || !hours
            .chars()
            .chain(minutes.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let mut hours: u32 = hours.parse().ok()?;
    let minutes: u32 = minutes.parse().ok()?;
    if let Some(afternoon) = meridiem {
        if !(1..=12).contains(&hours) {
            return None;
        }
        hours = match (hours, afternoon) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
    }
    NaiveTime::from_hms_opt(hours, minutes, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(h: u32, m: u32) -> Option<NaiveTime> {
        NaiveTime::from_hms_opt(h, m, 0)
    }

    #[test]
    fn reads_times_as_people_type_them() {
        for (input, expected) in [
            ("08:30", hm(8, 30)),
            ("8:30", hm(8, 30)),
            (" 21:05 ", hm(21, 5)),
            ("8.30", hm(8, 30)),
            ("0830", hm(8, 30)),
            ("8", hm(8, 0)),
            ("00:00", hm(0, 0)),
            ("23:59", hm(23, 59)),
            ("8am", hm(8, 0)),
            ("8 AM", hm(8, 0)),
            ("9:15 pm", hm(21, 15)),
            ("12am", hm(0, 0)),
            ("12pm", hm(12, 0)),
            ("12:30 a.m.", hm(0, 30)),
            ("7h45", hm(7, 45)),
        ] {
            assert_eq!(parse_time_of_day(input), expected, "{input}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for input in [
            "25:99", "24:00", "12:60", "", "noon", "8:3", "8:300", "-1:00", "13pm", "0am", "123",
            "12345", "8:30:00", "８:30", "1 2", "+8:30", "1é1", "é", "12é", "ü:30",
        ] {
            assert_eq!(parse_time_of_day(input), None, "{input}");
        }
    }

    #[test]
    fn names_list_every_command_once() {
        let all = [
            Command::Start,
            Command::Help,
            Command::Prompt,
            Command::Recap,
            Command::Book,
            Command::Time(String::new()),
            Command::Timezone(String::new()),
            Command::Pause,
            Command::Resume,
            Command::Settings,
            Command::Privacy,
            Command::Export,
            Command::Delete,
            Command::Urgent,
        ];
        let mut names: Vec<_> = all.iter().map(Command::name).collect();
        names.sort();
        let mut listed = Command::NAMES.to_vec();
        listed.sort();
        assert_eq!(names, listed);
    }
}
