//! What can happen in a chat, in the core's own terms. Each transport converts what it receives
//! (a Telegram update, a line typed in the terminal) into one of these and nothing more.

use chrono::{DateTime, Utc};

use crate::{
    command::{Command, Parsed},
    model::{EntryKey, UserId},
};

/// Where a message came from. Only private chats are served; a group gets one line and a goodbye.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chat {
    Private(UserId),
    Group,
}

/// Text a user sent, as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    pub message_id: i32,
    /// Telegram's own date for the message: kept on edits and redeliveries, so it is part of the
    /// entry's identity.
    pub sent_at: DateTime<Utc>,
    pub text: String,
    /// The message this one is a Telegram reply to, if it is one: only its id.
    pub reply_to: Option<i32>,
}

impl Incoming {
    pub fn key(&self, user_id: UserId) -> EntryKey {
        EntryKey {
            user_id,
            written_at: self.sent_at,
            message_id: self.message_id,
        }
    }
}

/// Something a user did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A command, and the message that carried it.
    Command(Command, Incoming),
    UnknownCommand(Incoming),
    Text(Incoming),
    Edited(Incoming),
    /// A sticker, photo, voice message or anything else that is not text.
    NonText,
    ButtonPressed {
        data: String,
    },
    /// A location the user shared, already reduced to the timezone it lies in (`None` when it
    /// lies in none): the coordinates never reach the core.
    Location {
        zone: Option<String>,
    },
    /// Telegram reported that the user blocked the bot.
    Blocked,
    Unblocked,
}

impl Event {
    /// Reads what a user typed in a private chat: a command, or their words.
    pub fn from_text(
        text: &str,
        bot_username: &str,
        message_id: i32,
        sent_at: DateTime<Utc>,
    ) -> Event {
        let message = Incoming {
            message_id,
            sent_at,
            text: text.to_owned(),
            reply_to: None,
        };
        match Command::parse(text, bot_username) {
            Parsed::Command(command) => Event::Command(command, message),
            Parsed::Unknown => Event::UnknownCommand(message),
            Parsed::Words => Event::Text(message),
        }
    }

    /// The same event, as a Telegram reply to message `reply_to`. Only words take it: a
    /// command sent as a reply is still the command.
    pub fn replying_to(mut self, reply_to: Option<i32>) -> Event {
        if let Event::Text(incoming) = &mut self {
            incoming.reply_to = reply_to;
        }
        self
    }

    /// A label for the log: what kind of thing happened, never what it said.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Command(command, _) => command.name(),
            Event::UnknownCommand(_) => "unknown_command",
            Event::Text(_) => "text",
            Event::Edited(_) => "edited_text",
            Event::NonText => "non_text",
            Event::ButtonPressed { .. } => "button",
            Event::Location { .. } => "location",
            Event::Blocked => "blocked",
            Event::Unblocked => "unblocked",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_that_is_not_a_command_is_the_users_words_kept_exactly() {
        let at = "2026-01-01T00:00:00Z".parse().unwrap();
        let text = "  It shifted after the move. /sigh  ";
        assert_eq!(
            Event::from_text(text, "crossroads_bot", 7, at),
            Event::Text(Incoming {
                message_id: 7,
                sent_at: at,
                text: text.into(),
                reply_to: None,
            })
        );
        let Event::Command(Command::Time(argument), message) =
            Event::from_text("/time 8am", "crossroads_bot", 8, at)
        else {
            panic!("/time 8am is a command");
        };
        assert_eq!(argument, "8am");
        assert_eq!(message.text, "/time 8am", "the message is kept whole");
    }
}
