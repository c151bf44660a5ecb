//! `/time`, `/timezone`, `/pause`, `/resume` and `/settings`, and whether Telegram can reach
//! the user at all.

use chrono::NaiveTime;

use crate::{
    content::args,
    conversation::{Conversation, Outcome},
    markup::{Html, truncate_utf16},
    model::{Profile, UserId},
    reply::{Keyed, Outbound, ReplyKeyboard},
    voice::Voice,
    zone::Zone,
};

impl Conversation<'_> {
    /// "The next one comes on Wed 25 Nov at 09:00", or that questions are paused.
    pub(crate) fn status(&self, profile: &Profile) -> Html {
        let words = self.voice.words();
        match &profile.next_due {
            Some(due) if !profile.paused => words.status_active(args::StatusActive {
                next: self.voice.moment(due, &profile.zone),
            }),
            _ => words.status_paused(),
        }
    }

    pub(crate) fn next(&self, profile: &Profile) -> Html {
        profile
            .next_due
            .as_ref()
            .map_or_else(Html::default, |due| self.voice.moment(due, &profile.zone))
    }

    /// Moves the daily question to `chosen`, and says so with when the next one comes: from
    /// `/time` typed or from the time picker tapped.
    pub(crate) fn move_daily_time(&self, profile: &mut Profile, chosen: NaiveTime) -> Html {
        profile.prompt_time = chosen;
        profile.reschedule(self.now);
        self.voice.words().time_set(args::TimeSet {
            time: Voice::time(chosen),
            zone: Voice::zone(&profile.zone),
            next: self.next(profile),
        })
    }

    pub(crate) fn set_time(
        &self,
        user_id: UserId,
        profile: Option<Profile>,
        input: &str,
    ) -> Outcome {
        let words = self.voice.words();
        let input = input.trim();
        let chosen = match parse_time_of_day(input) {
            None if !input.is_empty() => {
                return Outcome::reply(Outbound::text(words.time_invalid(args::TimeInvalid {
                    input: quote_input(input),
                })));
            }
            chosen => chosen,
        };
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        let html = match chosen {
            None => words.time_show(args::TimeShow {
                time: Voice::time(profile.prompt_time),
                zone: Voice::zone(&profile.zone),
            }),
            Some(chosen) => self.move_daily_time(&mut profile, chosen),
        };
        outbound.push(Outbound::text(html));
        Outcome::saving(profile, outbound)
    }

    pub(crate) fn set_timezone(
        &self,
        user_id: UserId,
        profile: Option<Profile>,
        input: &str,
    ) -> Outcome {
        let words = self.voice.words();
        let input = input.trim();
        let chosen = match input.parse::<Zone>() {
            Err(_) if !input.is_empty() => {
                return Outcome::reply(Outbound::text(words.timezone_invalid(
                    args::TimezoneInvalid {
                        input: quote_input(input),
                    },
                )));
            }
            chosen => chosen.ok(),
        };
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        let time = Voice::time(profile.prompt_time);
        match chosen {
            // The zone by location or by a tap, with the keys under the message field.
            None => {
                profile.zone_offered = true;
                outbound.push(self.zone_offer(&profile));
            }
            Some(zone) => {
                let offered = std::mem::take(&mut profile.zone_offered);
                profile.zone = zone;
                profile.reschedule(self.now);
                let html = words.timezone_set(args::TimezoneSet {
                    zone: Voice::zone(&zone),
                    time,
                    next: self.next(&profile),
                });
                // The zone keys go once a zone is chosen, whichever way it was.
                outbound.push(if offered {
                    Outbound::Keyboard(Keyed {
                        html,
                        keyboard: ReplyKeyboard::Remove,
                    })
                } else {
                    Outbound::text(html)
                });
            }
        }
        Outcome::saving(profile, outbound)
    }

    pub(crate) fn pause(&self, user_id: UserId, profile: Option<Profile>) -> Outcome {
        let words = self.voice.words();
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        if profile.paused {
            outbound.push(Outbound::text(words.already_paused()));
        } else {
            profile.paused = true;
            profile.reschedule(self.now);
            outbound.push(Outbound::text(words.paused()));
        }
        Outcome::saving(profile, outbound)
    }

    pub(crate) fn resume(&self, user_id: UserId, profile: Option<Profile>) -> Outcome {
        let words = self.voice.words();
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        let was_paused = profile.paused;
        profile.paused = false;
        profile.reachable = true;
        profile.reschedule(self.now);
        let next = self.next(&profile);
        outbound.push(Outbound::text(if was_paused {
            words.resumed(args::Resumed { next })
        } else {
            words.already_active(args::AlreadyActive { next })
        }));
        Outcome::saving(profile, outbound)
    }

    /// A shared location, already reduced to the zone it lies in: the zone is set, said in
    /// words with the time there now, and the zone buttons are taken away.
    pub(crate) fn located(
        &self,
        user_id: UserId,
        profile: Option<Profile>,
        zone: Option<&str>,
    ) -> Outcome {
        let words = self.voice.words();
        let Some(zone) = zone.and_then(|zone| zone.parse::<Zone>().ok()) else {
            return Outcome::reply(Outbound::text(words.timezone_not_located()));
        };
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        profile.zone = zone;
        profile.zone_offered = false;
        profile.reschedule(self.now);
        let html = words.timezone_located(args::TimezoneLocated {
            zone: Voice::zone(&zone),
            local_time: Voice::time(zone.local_datetime(self.now).time()),
            time: Voice::time(profile.prompt_time),
            next: self.next(&profile),
        });
        outbound.push(Outbound::Keyboard(Keyed {
            html,
            keyboard: ReplyKeyboard::Remove,
        }));
        Outcome::saving(profile, outbound)
    }

    /// Telegram said the user blocked the bot: stop sending, keep everything.
    pub(crate) fn unreachable(&self, profile: Option<Profile>) -> Outcome {
        match profile {
            Some(mut profile) if profile.reachable => {
                profile.reachable = false;
                profile.reschedule(self.now);
                Outcome::saving(profile, Vec::new())
            }
            _ => Outcome::default(),
        }
    }

    /// The user unblocked the bot: questions resume, unless they paused them.
    pub(crate) fn reachable_again(&self, profile: Option<Profile>) -> Outcome {
        match profile {
            Some(mut profile) if !profile.reachable => {
                profile.reachable = true;
                profile.reschedule(self.now);
                Outcome::saving(profile, Vec::new())
            }
            _ => Outcome::default(),
        }
    }
}

/// Discreet mode on or off; returns whether it is now on. The /discreet command and the
/// settings button both come here.
pub(crate) fn toggle_discreet(profile: &mut Profile) -> bool {
    profile.discreet = !profile.discreet;
    profile.discreet
}

/// What a user typed back to us, shown in an error message: kept short and always escaped.
fn quote_input(input: &str) -> Html {
    const SHOWN: usize = 40;
    let shown = truncate_utf16(input, SHOWN);
    if shown.len() < input.len() {
        Html::text(&format!("{shown}…"))
    } else {
        Html::text(shown)
    }
}

/// Reads a time of day the way people type it: `08:30`, `8:30`, `8.30`, `0830`, `8`, `8am`,
/// `9:15 pm`. Always 24-hour unless am/pm says otherwise.
pub(crate) fn parse_time_of_day(input: &str) -> Option<NaiveTime> {
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
}
