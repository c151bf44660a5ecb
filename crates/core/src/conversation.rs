//! One turn of a conversation: what it needs from storage, and what it decides.
//!
//! The service reads a [`Turn`] from an event, loads what [`Turn::needs`] names, and calls
//! [`Conversation::decide`]; the features (one module each) do the rest. Nothing here touches
//! storage or Telegram, and time comes in as [`Conversation::now`].

use chrono::{DateTime, Utc};

use crate::{
    command::Command,
    deletion::DeleteChoice,
    event::Event,
    model::{Entry, EntryKey, Profile, UserId},
    reply::Outbound,
    safety::{self, Concern, Reading},
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
}

/// What the service loaded for a turn, as its [`Needs`] asked.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub profile: Option<Profile>,
    pub entries: Vec<Entry>,
    pub entry_count: usize,
    pub kept: Option<Entry>,
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

    pub fn needs(&self, conversation: &Conversation<'_>) -> Needs {
        match &self.event {
            Event::Command(Command::Recap, _) => Needs {
                entries: Some(conversation.recap_window()),
                ..Needs::default()
            },
            Event::Command(Command::Export, _) => Needs {
                entries: Some(EntrySpan::All),
                ..Needs::default()
            },
            Event::Command(Command::Delete, _) => Needs {
                entry_count: true,
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

    /// Decides a turn, given what its [`Turn::needs`] asked to load.
    pub fn decide(&self, turn: Turn, loaded: Loaded) -> Outcome {
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
        } = loaded;
        match event {
            Event::Command(command, _) => match command {
                Command::Start => self.start(user_id, profile),
                Command::Help => self.help(),
                Command::Book => self.book(),
                Command::Privacy => self.privacy(),
                Command::Urgent => self.urgent(),
                Command::Prompt => self.prompt_now(user_id, profile),
                Command::Time(input) => self.set_time(user_id, profile, &input),
                Command::Timezone(input) => self.set_timezone(user_id, profile, &input),
                Command::Pause => self.pause(user_id, profile),
                Command::Resume => self.resume(user_id, profile),
                Command::Settings => self.show_settings(user_id, profile),
                Command::Recap => self.recap(profile.as_ref(), &entries),
                Command::Export => self.export(profile.as_ref(), &entries),
                Command::Delete => self.ask_to_delete(profile, entry_count),
            },
            Event::UnknownCommand(_) => self.unknown_command(),
            Event::Text(incoming) => self.keep(user_id, profile, incoming, kept, reading),
            Event::Edited(incoming) => self.edited(incoming, kept, reading.concern),
            Event::NonText => self.non_text(),
            Event::ButtonPressed { data } if data == URGENT_BUTTON => self.urgent(),
            Event::ButtonPressed { data } => match DeleteChoice::decode(&data) {
                Some(choice) => self.delete_choice(profile, choice),
                None => self.stale_button(),
            },
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
