//! One turn of a conversation: what it needs from storage, and what it decides.
//!
//! The service reads a [`Turn`] from an event, loads what [`Turn::needs`] names, and calls
//! [`Conversation::decide`]; the features (one module each) do the rest. Nothing here touches
//! storage or Telegram, and time comes in as [`Conversation::now`].

use chrono::{DateTime, Utc};

use crate::{
    command::Command,
    deletion::DeleteChoice,
    discreet::Veil,
    event::Event,
    model::{Entry, EntryKey, OpenPrompt, Profile, Stats, UserId},
    panel::SettingsTap,
    reply::Outbound,
    safety::{self, Concern, Reading},
    themes::ThemeChoice,
    voice::Voice,
};

/// The data of the button that shows the crisis lines at a tap. It carries nothing about the
/// user, and pressing it in one's own chat only ever shows what `/urgent` shows.
pub(crate) const URGENT_BUTTON: &str = "urgent";

/// What changed, and what to say. The service persists `profile` and `entry` durably before it
/// sends anything in `outbound`.
#[derive(Debug, Default)]
pub struct Outcome {
    pub profile: Option<Profile>,
    pub entry: Option<Entry>,
    pub erase_user: bool,
    pub outbound: Vec<Outbound>,
    /// The question in `outbound`, to open for an answer once it is delivered.
    pub opens: Option<OpenPrompt>,
}

impl Outcome {
    pub(crate) fn reply(outbound: Outbound) -> Outcome {
        Outcome {
            outbound: vec![outbound],
            ..Outcome::default()
        }
    }

    pub(crate) fn saving(profile: Profile, outbound: Vec<Outbound>) -> Outcome {
        Outcome {
            profile: Some(profile),
            outbound,
            ..Outcome::default()
        }
    }

    pub fn writes_anything(&self) -> bool {
        self.profile.is_some() || self.entry.is_some() || self.erase_user
    }

    /// For a transport that delivers as it is told (the terminal): the question is open at
    /// once, as if its delivery had already been confirmed. With the number it is shown as, a
    /// reply to that number answers it later, as a Telegram reply to a question does.
    pub fn open_at_once(&mut self, shown_as: Option<i32>) {
        if let (Some(mut opens), Some(profile)) = (self.opens.take(), self.profile.as_mut()) {
            if let Some(message_id) = shown_as.filter(|id| *id > 0) {
                profile.remember_asked(crate::model::Asked {
                    message_id,
                    prompt_id: opens.prompt_id.clone(),
                    sent_at: opens.sent_at,
                });
                opens.message_id = Some(message_id);
            }
            profile.open_prompt = Some(opens);
        }
    }
}

/// Which of the user's entries a turn reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntrySpan {
    /// Those written in `[from, to)`.
    Between(DateTime<Utc>, DateTime<Utc>),
    All,
}

/// What a turn needs loaded, beyond the user's profile (always loaded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    pub entries: Option<EntrySpan>,
    pub entry_count: bool,
    /// The entry this message was already kept as, if it was (a redelivery or an edit).
    pub kept: Option<EntryKey>,
    /// The practice's counts, for an admin's /stats.
    pub stats: bool,
}

/// What the service loaded for a turn, as its [`Needs`] asked.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub profile: Option<Profile>,
    pub entries: Vec<Entry>,
    pub entry_count: usize,
    pub kept: Option<Entry>,
    pub stats: Option<Stats>,
}

/// An event from a user's private chat, read once: what it sounds like is decided here, before
/// anything is loaded, because a crisis changes what the turn is.
#[derive(Clone, Debug)]
pub struct Turn {
    user_id: UserId,
    event: Event,
    reading: Reading,
}

impl Turn {
    pub fn event(&self) -> &Event {
        &self.event
    }

    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// What the safety detector heard in it, for the operator's counts.
    pub fn reading(&self) -> Reading {
        self.reading
    }

    pub fn needs(&self, conversation: &Conversation<'_>) -> Needs {
        match &self.event {
            Event::Command(Command::Recap, _) => Needs {
                entries: Some(conversation.recap_window()),
                ..Needs::default()
            },
            Event::Command(Command::Export | Command::Brief, _) => Needs {
                entries: Some(EntrySpan::All),
                ..Needs::default()
            },
            Event::Command(Command::Delete, _) => Needs {
                entry_count: true,
                ..Needs::default()
            },
            Event::Command(Command::Stats, _) => Needs {
                stats: conversation.voice.settings.admins.contains(&self.user_id),
                ..Needs::default()
            },
            Event::Text(incoming) | Event::Edited(incoming) => Needs {
                kept: Some(incoming.key(self.user_id)),
                ..Needs::default()
            },
            Event::Command(..)
            | Event::UnknownCommand(_)
            | Event::NonText
            | Event::ButtonPressed { .. }
            | Event::Location { .. }
            | Event::Blocked
            | Event::Unblocked => Needs::default(),
        }
    }
}

/// A command's text as words: `/i_want_to_die@some_bot now` reads as "i want to die now".
fn command_as_words(text: &str) -> String {
    let trimmed = text.trim_start().trim_start_matches('/');
    let (word, rest) = trimmed
        .split_once(char::is_whitespace)
        .unwrap_or((trimmed, ""));
    let name = word.split_once('@').map_or(word, |(name, _)| name);
    format!("{} {rest}", name.replace('_', " "))
        .trim()
        .to_owned()
}

pub struct Conversation<'a> {
    pub voice: Voice<'a>,
    pub now: DateTime<Utc>,
}

impl<'a> Conversation<'a> {
    pub fn new(voice: Voice<'a>, now: DateTime<Utc>) -> Self {
        Conversation { voice, now }
    }

    /// Reads an event from a user's private chat. A crisis answer comes before any other flow:
    /// a command whose text sounds like a crisis ("/time I can't go on") is answered as what it
    /// is, and its words are kept like any others.
    pub fn read(&self, user_id: UserId, event: Event) -> Turn {
        let quiet = Reading::default();
        let reading = match &event {
            // A command is read as words, without its slash, its addressee or underscores:
            // "/time I can't go on" and "/i_want_to_die" are heard; "/delete" says nothing
            // about the person, and is too short for the model to read.
            Event::Command(_, message) | Event::UnknownCommand(message) => {
                safety::read(&command_as_words(&message.text))
            }
            Event::Text(message) | Event::Edited(message) => safety::read(&message.text),
            _ => quiet,
        };
        let event = match event {
            Event::Command(_, message) | Event::UnknownCommand(message)
                if reading.concern == Concern::Crisis =>
            {
                Event::Text(message)
            }
            other => other,
        };
        Turn {
            user_id,
            event,
            reading,
        }
    }

    /// Decides a turn, given what its [`Turn::needs`] asked to load; in discreet mode, what it
    /// sends is veiled.
    pub fn decide(&self, turn: Turn, loaded: Loaded) -> Outcome {
        let veil = Veil {
            before: loaded.profile.clone(),
            kept_message: match &turn.event {
                Event::Text(incoming) if loaded.kept.is_none() => Some(incoming.message_id),
                _ => None,
            },
            fading: matches!(
                turn.event,
                Event::Command(Command::Recap | Command::Export | Command::Brief, _)
            ),
        };
        let outcome = self.decide_plainly(turn, loaded);
        self.veiled(outcome, veil)
    }

    fn decide_plainly(&self, turn: Turn, loaded: Loaded) -> Outcome {
        let Turn {
            user_id,
            event,
            reading,
        } = turn;
        let Loaded {
            profile,
            entries,
            entry_count,
            kept,
            stats,
        } = loaded;
        match event {
            Event::Command(command, _) => match command {
                Command::Start => self.start(user_id, profile),
                Command::Help => self.help(user_id),
                Command::Book => self.book(),
                Command::Privacy => self.privacy(),
                Command::Urgent => self.urgent(),
                Command::Discreet => self.toggle_discreet_mode(user_id, profile),
                Command::Prompt => self.prompt_now(user_id, profile),
                Command::Time(input) => self.set_time(user_id, profile, &input),
                Command::Timezone(input) => self.set_timezone(user_id, profile, &input),
                Command::Pause => self.pause(user_id, profile),
                Command::Resume => self.resume(user_id, profile),
                Command::Settings => self.show_settings(user_id, profile),
                Command::Recap => self.recap(profile.as_ref(), &entries),
                Command::Export => self.export(profile.as_ref(), &entries),
                Command::Brief => self.brief(profile.as_ref(), &entries),
                Command::Delete => self.ask_to_delete(profile, entry_count),
                Command::Themes => self.show_themes(user_id, profile),
                Command::Stats => match stats {
                    Some(stats) if self.voice.settings.admins.contains(&user_id) => {
                        self.stats(stats)
                    }
                    _ => self.unknown_command(),
                },
            },
            Event::UnknownCommand(_) => self.unknown_command(),
            // A tap on a zone key /timezone offered types the zone's name: a choice, not words.
            Event::Text(incoming) if self.zone_key(profile.as_ref(), &incoming.text).is_some() => {
                self.set_timezone(user_id, profile, &incoming.text)
            }
            Event::Text(incoming) => self.keep(user_id, profile, incoming, kept, reading),
            Event::Location { zone } => self.located(user_id, profile, zone.as_deref()),
            Event::Edited(incoming) => self.edited(incoming, kept, reading.concern),
            Event::NonText => self.non_text(),
            Event::ButtonPressed { data } if data == URGENT_BUTTON => self.urgent(),
            Event::ButtonPressed { data } => {
                match (DeleteChoice::decode(&data), SettingsTap::decode(&data)) {
                    (Some(choice), _) => self.delete_choice(profile, choice),
                    (None, Some(tap)) => self.settings_tap(profile, tap),
                    (None, None) if SettingsTap::looks_like(&data) => self.settings_stale(),
                    (None, None) => match ThemeChoice::decode(&data) {
                        Some(choice) => self.theme_choice(profile, choice),
                        None if ThemeChoice::is_ours(&data) => self.stale_themes(),
                        None => self.stale_button(),
                    },
                }
            }
            Event::Blocked => self.unreachable(profile),
            Event::Unblocked => self.reachable_again(profile),
        }
    }

    /// The profile a user gets the first time they reach the bot: the practice's defaults, so
    /// questions come even if they never touch a setting.
    pub fn new_profile(&self, user_id: UserId) -> Profile {
        let settings = self.voice.settings;
        let mut profile = Profile::new(
            user_id,
            self.now,
            settings.default_time,
            settings.default_zone,
        );
        profile.reschedule(self.now);
        profile
    }

    /// A user's first contact is not always /start: whatever it is, they first learn what this
    /// is and what happens to their words, before anything is kept.
    pub(crate) fn known(
        &self,
        profile: Option<Profile>,
        user_id: UserId,
        outbound: &mut Vec<Outbound>,
    ) -> Profile {
        profile.unwrap_or_else(|| {
            let profile = self.new_profile(user_id);
            outbound.push(self.welcome(&profile));
            profile
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_read_as_the_words_it_is_made_of() {
        assert_eq!(command_as_words("/delete"), "delete");
        assert_eq!(
            command_as_words("/time I can't go on"),
            "time I can't go on"
        );
        assert_eq!(
            command_as_words("/i_want_to_die@crossroads_bot"),
            "i want to die"
        );
        assert_eq!(command_as_words("  /kms  "), "kms");
    }

    #[test]
    fn a_crisis_said_as_a_command_gets_the_crisis_answer_and_is_kept() {
        let (catalog, settings) = (crate::fixtures::catalog(), crate::fixtures::settings());
        let now = "2026-03-02T10:00:00Z".parse().unwrap();
        let conversation = Conversation::new(Voice::new(&catalog, &settings), now);
        for text in [
            "/kms",
            "/i_want_to_die",
            "/suicide",
            "/time i want to end it all",
        ] {
            let event = crate::event::Event::from_text(text, "crossroads_bot", 1, now);
            let turn = conversation.read(1001, event);
            assert!(
                matches!(turn.event(), Event::Text(_)),
                "{text} is answered as words"
            );
            let outcome = conversation.decide(turn, Loaded::default());
            assert!(outcome.entry.is_some(), "{text} is kept");
        }
        for text in ["/delete", "/recap", "/dance"] {
            let event = crate::event::Event::from_text(text, "crossroads_bot", 2, now);
            let turn = conversation.read(1001, event);
            assert!(
                !matches!(turn.event(), Event::Text(_)),
                "{text} stays a command"
            );
        }
    }
}
