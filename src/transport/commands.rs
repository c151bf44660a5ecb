//! Text to events, the same way for Telegram and the terminal: commands through teloxide's
//! `BotCommands`, everything else as the user's words.

use chrono::{DateTime, Utc};
use teloxide::utils::command::BotCommands;

use crate::{
    core::{command::Command, conversation::Incoming},
    service::Event,
};

/// The command set as Telegram sees it. Names must match [`Command::NAMES`]; the descriptions
/// users see come from `dialogues/commands.toml`, so they are not written here.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum TelegramCommand {
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
    Urgent,
}

impl From<TelegramCommand> for Command {
    fn from(command: TelegramCommand) -> Command {
        match command {
            TelegramCommand::Start => Command::Start,
            TelegramCommand::Help => Command::Help,
            TelegramCommand::Prompt => Command::Prompt,
            TelegramCommand::Recap => Command::Recap,
            TelegramCommand::Book => Command::Book,
            TelegramCommand::Time(argument) => Command::Time(argument),
            TelegramCommand::Timezone(argument) => Command::Timezone(argument),
            TelegramCommand::Pause => Command::Pause,
            TelegramCommand::Resume => Command::Resume,
            TelegramCommand::Settings => Command::Settings,
            TelegramCommand::Privacy => Command::Privacy,
            TelegramCommand::Export => Command::Export,
            TelegramCommand::Delete => Command::Delete,
            TelegramCommand::Urgent => Command::Urgent,
        }
    }
}

/// Whether a text is meant as a command, by Telegram's own rule: a slash followed at once by
/// letters, digits or underscores. "/ I feel lost" is someone's words, and is kept as such.
pub fn looks_like_command(text: &str) -> bool {
    let Some(rest) = text.trim_start().strip_prefix('/') else {
        return false;
    };
    let word = rest.split(char::is_whitespace).next().unwrap_or("");
    let name = word.split_once('@').map_or(word, |(name, _)| name);
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads what a user typed in a private chat.
pub fn event_from_text(
    text: &str,
    bot_username: &str,
    message_id: i32,
    sent_at: DateTime<Utc>,
) -> Event {
    let message = Incoming {
        message_id,
        sent_at,
        text: text.to_owned(),
    };
    if !looks_like_command(text) {
        return Event::Text(message);
    }
    // Phones capitalise the first letter of a message; "/Start" still means /start.
    let trimmed = text.trim();
    let (word, rest) = trimmed.split_at(trimmed.find(char::is_whitespace).unwrap_or(trimmed.len()));
    let normalised = format!("{}{rest}", word.to_lowercase());
    match TelegramCommand::parse(&normalised, bot_username) {
        Ok(command) => Event::Command(command.into(), message),
        Err(_) => Event::UnknownCommand(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(text: &str) -> Event {
        event_from_text(
            text,
            "crossroads_bot",
            7,
            "2026-01-01T00:00:00Z".parse().unwrap(),
        )
    }

    /// The command a text parses to; `None` for an unknown command; panics for plain words.
    fn command(text: &str) -> Option<Command> {
        match event(text) {
            Event::Command(command, message) => {
                assert_eq!(message.text, text, "the message is kept whole");
                Some(command)
            }
            Event::UnknownCommand(_) => None,
            other => panic!("{text:?} is not a command: {other:?}"),
        }
    }

    #[test]
    fn commands_parse_with_and_without_arguments() {
        assert_eq!(command("/start"), Some(Command::Start));
        assert_eq!(command("/time 08:30"), Some(Command::Time("08:30".into())));
        assert_eq!(command("/time"), Some(Command::Time(String::new())));
        assert_eq!(
            command("/timezone Europe/Paris"),
            Some(Command::Timezone("Europe/Paris".into()))
        );
        assert_eq!(
            command("/timezone UTC+02:00"),
            Some(Command::Timezone("UTC+02:00".into()))
        );
        assert_eq!(command("  /recap  "), Some(Command::Recap));
        assert_eq!(command("/Start"), Some(Command::Start));
        assert_eq!(command("/start@crossroads_bot"), Some(Command::Start));
    }

    #[test]
    fn unknown_commands_are_named_as_such() {
        assert_eq!(command("/dance"), None);

        assert_eq!(command("/start@some_other_bot"), None);
        // Words after a command that takes none are simply ignored.
        assert_eq!(command("/recap now please"), Some(Command::Recap));
    }

    #[test]
    fn a_slash_that_starts_no_command_name_is_the_users_words() {
        for text in ["/", "/ I feel lost", "/-: we barely talk", "//"] {
            assert!(matches!(event(text), Event::Text(_)), "{text:?}");
        }
        assert!(looks_like_command("/shrug we barely talk"));
        assert!(looks_like_command("/start@crossroads_bot"));
    }

    #[test]
    fn everything_else_is_the_users_words_kept_exactly() {
        let text = "  It shifted after the move. /sigh  ";
        assert_eq!(
            event(text),
            Event::Text(Incoming {
                message_id: 7,
                sent_at: "2026-01-01T00:00:00Z".parse().unwrap(),
                text: text.into()
            })
        );
    }

    #[test]
    fn the_telegram_command_set_is_exactly_the_core_one() {
        let mut telegram: Vec<String> = TelegramCommand::bot_commands()
            .into_iter()
            .map(|command| command.command.trim_start_matches('/').to_owned())
            .collect();
        telegram.sort();
        let mut core: Vec<&str> = Command::NAMES.to_vec();
        core.sort();
        assert_eq!(telegram, core);
    }
}
