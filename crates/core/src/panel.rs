//! `/settings` by tapping: buttons under the settings message for the daily time (an hour, then
//! the minutes in steps of 15, in the same message), the timezone, pausing and resuming, and
//! discreet mode. Typed commands keep working beside them.
//!
//! Every button's data carries the nonce of the user's newest /settings, kept in their profile
//! as /delete keeps its own: an older keyboard, or data made up to look like someone else's,
//! matches nothing and changes nothing.

use chrono::NaiveTime;

use crate::{
    content::args,
    conversation::{Conversation, Outcome},
    markup::{Html, visible_text},
    model::{Profile, UserId},
    reply::{Button, Key, Keyed, Outbound, Panel, ReplyKeyboard},
    settings::toggle_discreet,
    voice::Voice,
    zone::Zone,
};

/// The minutes offered for an hour: 00, 15, 30 and 45.
pub(crate) const MINUTE_STEP: u32 = 15;

/// How many hours share a row of the picker: four rows of six fit a phone.
const HOURS_PER_ROW: u32 = 6;

/// At most this many zones are offered as buttons.
const ZONES_OFFERED: usize = 6;

/// What a settings button does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tap {
    /// Opens the hour picker.
    Time,
    /// An hour was picked: the minutes come next.
    Hour(u32),
    /// The time was picked.
    Minute {
        hour: u32,
        minute: u32,
    },
    Zone,
    Pause,
    Resume,
    Discreet,
    /// Back to the settings themselves.
    Back,
}

/// A settings button's data: what it does, and the /settings it belongs to. Short (Telegram
/// allows 64 bytes) and carrying nothing about the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SettingsTap {
    pub(crate) tap: Tap,
    pub(crate) nonce: u64,
}

impl SettingsTap {
    const PREFIX: &'static str = "set:";

    pub(crate) fn encode(&self) -> String {
        let code = match self.tap {
            Tap::Time => "t".to_owned(),
            Tap::Hour(hour) => format!("h{hour:02}"),
            Tap::Minute { hour, minute } => format!("m{hour:02}{minute:02}"),
            Tap::Zone => "z".to_owned(),
            Tap::Pause => "p".to_owned(),
            Tap::Resume => "r".to_owned(),
            Tap::Discreet => "d".to_owned(),
            Tap::Back => "b".to_owned(),
        };
        format!("{}{code}:{:x}", Self::PREFIX, self.nonce)
    }

    /// Data shaped like a settings button's, whether or not it reads as one.
    pub(crate) fn looks_like(data: &str) -> bool {
        data.starts_with(Self::PREFIX)
    }

    pub(crate) fn decode(data: &str) -> Option<SettingsTap> {
        let (code, nonce) = data.strip_prefix(Self::PREFIX)?.split_once(':')?;
        let nonce = u64::from_str_radix(nonce, 16).ok()?;
        let number = |digits: &str| -> Option<u32> {
            (digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse().ok())
                .flatten()
        };
        let tap = match code {
            "t" => Tap::Time,
            "z" => Tap::Zone,
            "p" => Tap::Pause,
            "r" => Tap::Resume,
            "d" => Tap::Discreet,
            "b" => Tap::Back,
            _ => match code.split_at_checked(1)? {
                ("h", hour) => Tap::Hour(number(hour).filter(|hour| *hour < 24)?),
                ("m", time) if time.len() == 4 && time.is_ascii() => {
                    let (hour, minute) = time.split_at(2);
                    let (hour, minute) = (number(hour)?, number(minute)?);
                    (hour < 24 && minute < 60 && minute % MINUTE_STEP == 0)
                        .then_some(Tap::Minute { hour, minute })?
                }
                _ => return None,
            },
        };
        Some(SettingsTap { tap, nonce })
    }
}

/// The hours of the day, in rows for the first step of the picker.
pub(crate) fn hour_rows() -> Vec<Vec<u32>> {
    (0..24 / HOURS_PER_ROW)
        .map(|row| (row * HOURS_PER_ROW..(row + 1) * HOURS_PER_ROW).collect())
        .collect()
}

/// The times offered once an hour is picked.
pub(crate) fn minutes_of(hour: u32) -> Vec<NaiveTime> {
    (0..60)
        .step_by(MINUTE_STEP as usize)
        .filter_map(|minute| NaiveTime::from_hms_opt(hour, minute, 0))
        .collect()
}

impl Conversation<'_> {
    /// `/settings`: the settings with buttons to change them. A user the bot does not know yet
    /// sees the defaults without buttons, and nothing is saved: buttons need someone to belong
    /// to.
    pub(crate) fn show_settings(&self, user_id: UserId, profile: Option<Profile>) -> Outcome {
        let Some(mut profile) = profile else {
            let shown = self.new_profile(user_id);
            return Outcome::reply(Outbound::text(self.settings_view(&shown, Html::default())));
        };
        // Only needs to differ from every earlier one, so that an older keyboard stops
        // matching.
        let previous = profile.settings_nonce.map_or(0, |nonce| nonce + 1);
        let nonce = self.now.timestamp_micros().unsigned_abs().max(previous);
        profile.settings_nonce = Some(nonce);
        let html = self.settings_view(&profile, Html::default());
        let buttons = self
            .settings_rows(&profile, nonce)
            .into_iter()
            .flatten()
            .collect();
        Outcome::saving(profile, vec![Outbound::with_buttons(html, buttons)])
    }

    /// A button under a /settings message was tapped.
    pub(crate) fn settings_tap(&self, profile: Option<Profile>, pressed: SettingsTap) -> Outcome {
        let words = self.voice.words();
        let Some(mut profile) =
            profile.filter(|profile| profile.settings_nonce == Some(pressed.nonce))
        else {
            return self.settings_stale();
        };
        let nonce = pressed.nonce;
        let button = |label: &str, tap: Tap| Button::Callback {
            label: label.to_owned(),
            data: SettingsTap { tap, nonce }.encode(),
        };
        let back = || vec![button(words.settings_back_button(), Tap::Back)];
        let zone = Voice::zone(&profile.zone);
        let edit = |html: Html, rows: Vec<Vec<Button>>| Outbound::Edit(Panel { html, rows });
        let changed: Html = match pressed.tap {
            Tap::Time => {
                let mut rows: Vec<Vec<Button>> = hour_rows()
                    .into_iter()
                    .map(|row| {
                        row.into_iter()
                            .map(|hour| button(&format!("{hour:02}"), Tap::Hour(hour)))
                            .collect()
                    })
                    .collect();
                rows.push(back());
                let local = profile.zone.local_datetime(self.now).time();
                let html = words.settings_pick_hour(args::SettingsPickHour {
                    zone,
                    time: Voice::time(local),
                });
                return Outcome::reply(edit(html, rows));
            }
            Tap::Hour(hour) => {
                let times = minutes_of(hour);
                let row = times
                    .iter()
                    .map(|time| {
                        button(
                            &time.format("%H:%M").to_string(),
                            Tap::Minute {
                                hour,
                                minute: chrono::Timelike::minute(time),
                            },
                        )
                    })
                    .collect();
                let html = words.settings_pick_minute(args::SettingsPickMinute {
                    hour: Html::text(&format!("{hour:02}")),
                    zone,
                });
                return Outcome::reply(edit(html, vec![row, back()]));
            }
            Tap::Back => return Outcome::reply(self.settings_edit(&profile, Html::default())),
            Tap::Zone => {
                profile.zone_offered = true;
                let html = words.settings_zone(args::SettingsZone { zone });
                let offer = self.zone_offer(&profile);
                return Outcome::saving(profile, vec![edit(html, vec![back()]), offer]);
            }
            Tap::Minute { hour, minute } => {
                let Some(chosen) = NaiveTime::from_hms_opt(hour, minute, 0) else {
                    return Outcome::default();
                };
                self.move_daily_time(&mut profile, chosen)
            }
            Tap::Pause if profile.paused => words.already_paused(),
            Tap::Pause => {
                profile.paused = true;
                profile.reschedule(self.now);
                words.paused()
            }
            Tap::Resume => {
                let was_paused = profile.paused;
                profile.paused = false;
                profile.reachable = true;
                profile.reschedule(self.now);
                let next = self.next(&profile);
                if was_paused {
                    words.resumed(args::Resumed { next })
                } else {
                    words.already_active(args::AlreadyActive { next })
                }
            }
            Tap::Discreet => {
                toggle_discreet(&mut profile);
                Html::default()
            }
        };
        let edited = self.settings_edit(&profile, changed);
        Outcome::saving(profile, vec![edited])
    }

    /// A settings button from an older /settings, or one never ours: nothing changes, and a
    /// short line over the chat says why.
    pub(crate) fn settings_stale(&self) -> Outcome {
        let stale = self.voice.words().settings_stale();
        Outcome::reply(Outbound::Notice(
            visible_text(stale.as_str()).unwrap_or_default(),
        ))
    }

    /// The settings message as text, with `changed` saying what a tap just did.
    fn settings_view(&self, profile: &Profile, changed: Html) -> Html {
        let words = self.voice.words();
        let discreet = if profile.discreet {
            words.discreet_state_on()
        } else {
            words.discreet_state_off()
        };
        words.settings(args::Settings {
            time: Voice::time(profile.prompt_time),
            zone: Voice::zone(&profile.zone),
            status: self.status(profile),
            discreet: Html::text(discreet),
            changed,
        })
    }

    /// The settings message back in place of whatever the last tap showed.
    fn settings_edit(&self, profile: &Profile, changed: Html) -> Outbound {
        let nonce = profile.settings_nonce.unwrap_or_default();
        Outbound::Edit(Panel {
            html: self.settings_view(profile, changed),
            rows: self.settings_rows(profile, nonce),
        })
    }

    /// One button per setting, one per row: few, and easier to tap full width.
    fn settings_rows(&self, profile: &Profile, nonce: u64) -> Vec<Vec<Button>> {
        let words = self.voice.words();
        let button = |label: &str, tap: Tap| {
            vec![Button::Callback {
                label: label.to_owned(),
                data: SettingsTap { tap, nonce }.encode(),
            }]
        };
        vec![
            button(words.settings_time_button(), Tap::Time),
            button(words.settings_zone_button(), Tap::Zone),
            if profile.paused {
                button(words.settings_resume_button(), Tap::Resume)
            } else {
                button(words.settings_pause_button(), Tap::Pause)
            },
            if profile.discreet {
                button(words.settings_discreet_off_button(), Tap::Discreet)
            } else {
                button(words.settings_discreet_on_button(), Tap::Discreet)
            },
        ]
    }

    /// The user's own zone, then the practice's suggestions and its default: the zones a
    /// person here most likely lives in.
    pub(crate) fn likely_zones(&self, profile: &Profile) -> Vec<Zone> {
        let settings = self.voice.settings;
        let mut zones: Vec<Zone> = Vec::new();
        let candidates = std::iter::once(profile.zone)
            .chain(settings.suggested_zones.iter().copied())
            .chain(std::iter::once(settings.default_zone));
        for zone in candidates {
            if !zones.contains(&zone) && zones.len() < ZONES_OFFERED {
                zones.push(zone);
            }
        }
        zones
    }

    /// The message offering a zone by location or by a tap, with the keys under the message
    /// field.
    pub(crate) fn zone_offer(&self, profile: &Profile) -> Outbound {
        let words = self.voice.words();
        let mut keys = vec![Key {
            label: words.location_button().to_owned(),
            location: true,
        }];
        keys.extend(self.likely_zones(profile).iter().map(|zone| Key {
            label: zone.to_string(),
            location: false,
        }));
        Outbound::Keyboard(Keyed {
            html: words.timezone_show(args::TimezoneShow {
                zone: Voice::zone(&profile.zone),
                time: Voice::time(profile.prompt_time),
            }),
            keyboard: ReplyKeyboard::Offer(keys),
        })
    }

    /// Whether `text` is a tap on one of the zone keys /timezone offered, and which zone.
    pub(crate) fn zone_key(&self, profile: Option<&Profile>, text: &str) -> Option<Zone> {
        let profile = profile.filter(|profile| profile.zone_offered)?;
        let zone: Zone = text.trim().parse().ok()?;
        self.likely_zones(profile)
            .into_iter()
            .find(|offered| offered.to_string() == text.trim() && *offered == zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{conversation::Conversation, fixtures, voice::Voice};

    #[test]
    fn every_tap_survives_its_data_and_fits_telegram() {
        let mut taps = vec![
            Tap::Time,
            Tap::Zone,
            Tap::Pause,
            Tap::Resume,
            Tap::Discreet,
            Tap::Back,
        ];
        taps.extend((0..24).map(Tap::Hour));
        for hour in 0..24 {
            for time in minutes_of(hour) {
                taps.push(Tap::Minute {
                    hour,
                    minute: chrono::Timelike::minute(&time),
                });
            }
        }
        for tap in taps {
            let pressed = SettingsTap {
                tap,
                nonce: u64::MAX,
            };
            let data = pressed.encode();
            assert!(data.len() <= 64, "{data} is {} bytes", data.len());
            assert_eq!(SettingsTap::decode(&data), Some(pressed), "{data}");
        }
    }

    #[test]
    fn made_up_data_is_not_a_tap() {
        for data in [
            "",
            "set:",
            "set:t",
            "set:t:",
            "set:t:xyz",
            "set:h24:1",
            "set:h7:1",
            "set:h-1:1",
            "set:m0710:1",
            "set:m2460:1",
            "set:m07:1",
            "set:mé715:1",
            "set:q:1",
            "delete:yes:1",
            "set:h+7:1",
            "set:m+7+5:1",
        ] {
            assert_eq!(SettingsTap::decode(data), None, "{data}");
        }
    }

    #[test]
    fn the_picker_offers_every_hour_then_quarter_hours() {
        let hours: Vec<u32> = hour_rows().into_iter().flatten().collect();
        assert_eq!(hours, (0..24).collect::<Vec<_>>());
        assert!(hour_rows().iter().all(|row| row.len() == 6));
        let quarters: Vec<String> = minutes_of(21)
            .iter()
            .map(|time| time.format("%H:%M").to_string())
            .collect();
        assert_eq!(quarters, ["21:00", "21:15", "21:30", "21:45"]);
    }

    fn conversation_at<'a>(
        catalog: &'a crate::content::Catalog,
        settings: &'a crate::voice::Settings,
        now: &str,
    ) -> Conversation<'a> {
        Conversation::new(Voice::new(catalog, settings), now.parse().unwrap())
    }

    fn taps_of(outbound: &Outbound) -> Vec<SettingsTap> {
        let buttons: Vec<&Button> = match outbound {
            Outbound::Message(message) => message.buttons.iter().collect(),
            Outbound::Edit(panel) => panel.rows.iter().flatten().collect(),
            _ => Vec::new(),
        };
        buttons
            .into_iter()
            .filter_map(|button| match button {
                Button::Callback { data, .. } => SettingsTap::decode(data),
                Button::Url { .. } => None,
            })
            .collect()
    }

    #[test]
    fn tapping_an_hour_then_minutes_sets_the_time_and_reschedules() {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let talk = conversation_at(&catalog, &settings, "2026-03-02T07:00:00Z");
        let profile = talk.new_profile(1);
        let shown = talk.show_settings(1, Some(profile));
        let profile = shown.profile.clone().expect("the nonce is saved");
        let time = taps_of(&shown.outbound[0])[0];
        assert_eq!(time.tap, Tap::Time);

        let hours = talk.settings_tap(Some(profile.clone()), time);
        assert!(
            hours.profile.is_none(),
            "opening the picker changes nothing"
        );
        let hour_taps = taps_of(&hours.outbound[0]);
        assert_eq!(hour_taps.len(), 25, "24 hours and Back");
        let evening = *hour_taps
            .iter()
            .find(|tap| tap.tap == Tap::Hour(21))
            .unwrap();

        let minutes = talk.settings_tap(Some(profile.clone()), evening);
        let minute_taps = taps_of(&minutes.outbound[0]);
        assert_eq!(
            minute_taps.iter().map(|tap| tap.tap).collect::<Vec<_>>(),
            [
                Tap::Minute {
                    hour: 21,
                    minute: 0
                },
                Tap::Minute {
                    hour: 21,
                    minute: 15
                },
                Tap::Minute {
                    hour: 21,
                    minute: 30
                },
                Tap::Minute {
                    hour: 21,
                    minute: 45
                },
                Tap::Back
            ]
        );

        let set = talk.settings_tap(Some(profile), minute_taps[1]);
        let saved = set.profile.expect("the time is saved");
        assert_eq!(
            saved.prompt_time,
            NaiveTime::from_hms_opt(21, 15, 0).unwrap()
        );
        assert_eq!(
            saved.next_due.unwrap().at,
            "2026-03-02T21:15:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap(),
            "London is on UTC in March"
        );
        assert!(matches!(set.outbound.as_slice(), [Outbound::Edit(_)]));
    }

    #[test]
    fn an_older_keyboard_or_another_nonce_changes_nothing() {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let talk = conversation_at(&catalog, &settings, "2026-03-02T07:00:00Z");
        let first = talk.show_settings(1, Some(talk.new_profile(1)));
        let old_pause = taps_of(&first.outbound[0])[2];
        assert_eq!(old_pause.tap, Tap::Pause);
        let later = conversation_at(&catalog, &settings, "2026-03-02T07:00:01Z");
        let second = later.show_settings(1, first.profile);
        let profile = second.profile.unwrap();
        for pressed in [
            old_pause,
            SettingsTap {
                tap: Tap::Pause,
                nonce: 12345,
            },
        ] {
            let outcome = later.settings_tap(Some(profile.clone()), pressed);
            assert!(outcome.profile.is_none(), "nothing is saved");
            assert!(
                matches!(outcome.outbound.as_slice(), [Outbound::Notice(text)] if !text.is_empty() && text.chars().count() <= 200)
            );
        }
        let nobody = later.settings_tap(None, old_pause);
        assert!(nobody.profile.is_none());
    }

    #[test]
    fn pause_resume_and_discreet_toggle_in_place() {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let talk = conversation_at(&catalog, &settings, "2026-03-02T07:00:00Z");
        let shown = talk.show_settings(1, Some(talk.new_profile(1)));
        let nonce = shown.profile.as_ref().unwrap().settings_nonce.unwrap();
        let tap = |tap| SettingsTap { tap, nonce };
        let paused = talk
            .settings_tap(shown.profile, tap(Tap::Pause))
            .profile
            .unwrap();
        assert!(paused.paused && paused.next_due.is_none());
        let discreet = talk.settings_tap(Some(paused), tap(Tap::Discreet));
        assert!(taps_of(&discreet.outbound[0]).contains(&tap(Tap::Resume)));
        let discreet = discreet.profile.unwrap();
        assert!(discreet.discreet);
        let resumed = talk
            .settings_tap(Some(discreet), tap(Tap::Resume))
            .profile
            .unwrap();
        assert!(!resumed.paused && resumed.next_due.is_some() && resumed.discreet);
    }

    #[test]
    fn the_zones_offered_start_with_the_users_own_and_repeat_none() {
        let catalog = fixtures::catalog();
        let settings = crate::voice::Settings {
            suggested_zones: vec![
                "Europe/London".parse().unwrap(),
                "Europe/Dublin".parse().unwrap(),
            ],
            ..fixtures::settings()
        };
        let talk = conversation_at(&catalog, &settings, "2026-03-02T07:00:00Z");
        let mut profile = talk.new_profile(1);
        profile.zone = "Asia/Tokyo".parse().unwrap();
        let names: Vec<String> = talk
            .likely_zones(&profile)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["Asia/Tokyo", "Europe/London", "Europe/Dublin"]);
        assert_eq!(
            talk.zone_key(Some(&profile), "Europe/Dublin"),
            None,
            "not offered yet"
        );
        profile.zone_offered = true;
        assert_eq!(
            talk.zone_key(Some(&profile), "Europe/Dublin"),
            Some("Europe/Dublin".parse().unwrap())
        );
        assert_eq!(talk.zone_key(Some(&profile), "Europe/Paris"), None);
        assert_eq!(talk.zone_key(Some(&profile), "europe/dublin"), None);
    }
}
