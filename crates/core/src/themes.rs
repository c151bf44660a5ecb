//! `/themes`: the article's parts as buttons to turn on and off; the daily question comes only
//! from those on (see [`crate::rotation::Rotation::advance_among`]).

use crate::{
    conversation::{Conversation, Outcome},
    markup::Html,
    model::{Profile, UserId},
    reply::{Button, Outbound},
};

impl Conversation<'_> {
    pub(crate) fn show_themes(&self, user_id: UserId, profile: Option<Profile>) -> Outcome {
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        outbound.push(self.theme_list(&mut profile, self.voice.words().themes()));
        Outcome::saving(profile, outbound)
    }

    /// A theme's button was pressed: it turns on or off, unless it is the last one on.
    pub(crate) fn theme_choice(&self, profile: Option<Profile>, choice: ThemeChoice) -> Outcome {
        let catalog = self.voice.catalog;
        let words = self.voice.words();
        let live = profile
            .as_ref()
            .is_some_and(|profile| profile.themes_nonce == Some(choice.nonce))
            && catalog.theme(&choice.theme).is_some();
        let (true, Some(mut profile)) = (live, profile) else {
            return self.stale_themes();
        };
        let html = if profile.chooses(&choice.theme) {
            let on = catalog
                .themes
                .iter()
                .filter(|theme| profile.chooses(&theme.id))
                .count();
            if on <= 1 {
                let mut html = words.themes_keep_one();
                html.push(&Html::text("\n\n"));
                html.push(&words.themes());
                html
            } else {
                profile.themes_off.push(choice.theme);
                words.themes()
            }
        } else {
            profile.themes_off.retain(|off| *off != choice.theme);
            words.themes()
        };
        let list = self.theme_list(&mut profile, html);
        Outcome::saving(profile, vec![list])
    }

    /// A theme button that no longer means anything: from an older list, or never ours.
    pub(crate) fn stale_themes(&self) -> Outcome {
        Outcome::reply(Outbound::text(self.voice.words().themes_stale()))
    }

    /// The list of themes as buttons, under `html`, tied to a fresh nonce: the buttons of any
    /// list shown before stop meaning anything.
    fn theme_list(&self, profile: &mut Profile, html: Html) -> Outbound {
        let words = self.voice.words();
        let previous = profile
            .themes_nonce
            .map_or(0, |nonce| nonce.saturating_add(1));
        let nonce = self.now.timestamp_micros().unsigned_abs().max(previous);
        profile.themes_nonce = Some(nonce);
        let buttons = self
            .voice
            .catalog
            .themes
            .iter()
            .map(|theme| {
                let mark = if profile.chooses(&theme.id) {
                    words.theme_on_mark()
                } else {
                    words.theme_off_mark()
                };
                Button::Callback {
                    label: format!("{mark} {}", theme.title.trim()),
                    data: ThemeChoice {
                        nonce,
                        theme: theme.id.clone(),
                    }
                    .encode(),
                }
            })
            .collect();
        Outbound::with_buttons(html, buttons)
    }
}

/// The data of a theme's button: the list's nonce and the theme's id (at most 40 characters,
/// so with the prefix and a 64-bit nonce it stays within Telegram's 64 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ThemeChoice {
    nonce: u64,
    theme: String,
}

impl ThemeChoice {
    const PREFIX: &'static str = "themes:";

    pub(crate) fn encode(&self) -> String {
        format!("{}{:x}:{}", Self::PREFIX, self.nonce, self.theme)
    }

    /// Whether the data is meant for a theme button, even if it is not one any more.
    pub(crate) fn is_ours(data: &str) -> bool {
        data.starts_with(Self::PREFIX)
    }

    pub(crate) fn decode(data: &str) -> Option<ThemeChoice> {
        let (nonce, theme) = data.strip_prefix(Self::PREFIX)?.split_once(':')?;
        Some(ThemeChoice {
            nonce: u64::from_str_radix(nonce, 16).ok()?,
            theme: theme.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::{fixtures, reply::Message, voice::Voice};

    const ANN: UserId = 1001;

    fn at(time: &str) -> DateTime<Utc> {
        time.parse().unwrap()
    }

    fn buttons(outcome: &Outcome) -> Vec<(String, String)> {
        let Some(Outbound::Message(Message { buttons, .. })) = outcome.outbound.last() else {
            panic!("a list of themes");
        };
        buttons
            .iter()
            .map(|button| match button {
                Button::Callback { label, data } => (label.clone(), data.clone()),
                Button::Url { .. } => panic!("only theme buttons"),
            })
            .collect()
    }

    #[test]
    fn every_theme_is_a_button_and_each_press_toggles_it_until_one_is_left() {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let mut now = at("2026-03-02T10:00:00Z");
        let voice = Voice::new(&catalog, &settings);
        let mut outcome = Conversation::new(voice, now).show_themes(ANN, None);
        assert_eq!(buttons(&outcome).len(), catalog.themes.len());
        for theme in &catalog.themes {
            now += Duration::seconds(1);
            let (_, data) = buttons(&outcome)
                .into_iter()
                .find(|(label, _)| label.ends_with(theme.title.trim()))
                .unwrap();
            assert!(data.len() <= 64, "{data}");
            let choice = ThemeChoice::decode(&data).unwrap();
            outcome = Conversation::new(voice, now).theme_choice(outcome.profile, choice);
        }
        let profile = outcome.profile.as_ref().unwrap();
        let last = catalog.themes.last().unwrap();
        assert!(profile.chooses(&last.id), "the last theme stays on");
        assert_eq!(profile.themes_off.len(), catalog.themes.len() - 1);
    }

    #[test]
    fn an_older_lists_button_or_an_unknown_theme_changes_nothing() {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let voice = Voice::new(&catalog, &settings);
        let now = at("2026-03-02T10:00:00Z");
        let first = Conversation::new(voice, now).show_themes(ANN, None);
        let old = ThemeChoice::decode(&buttons(&first)[0].1).unwrap();
        let second = Conversation::new(voice, now + Duration::seconds(5))
            .show_themes(ANN, first.profile.clone());
        let stale = Conversation::new(voice, now + Duration::seconds(6))
            .theme_choice(second.profile.clone(), old.clone());
        assert!(stale.profile.is_none(), "nothing saved");
        let mut forged = ThemeChoice::decode(&buttons(&second)[0].1).unwrap();
        forged.theme = "not-a-theme".into();
        let forged = Conversation::new(voice, now + Duration::seconds(7))
            .theme_choice(second.profile.clone(), forged);
        assert!(forged.profile.is_none());
        assert_eq!(ThemeChoice::decode("themes:zz:buried-love"), None);
        assert_eq!(ThemeChoice::decode("delete:yes:1"), None);
    }
}
