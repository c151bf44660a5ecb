//! The commands a user can send, declared once: the enum, each command's name, whether it
//! takes an argument, and the parser all come from the list at the bottom of this file. The
//! menu descriptions are wording, so they live in `dialogues/commands.toml`, and the catalog
//! refuses to load unless it describes exactly these commands.

/// Generates [`Command`], [`Command::NAMES`], [`Command::name`] and [`Command::parse`].
macro_rules! declare_commands {
    ( $( $(#[$doc:meta])* $Variant:ident $( ( $argument:ident ) )? => $name:literal ),* $(,)? ) => {
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Command {
            $( $(#[$doc])* $Variant $( ( declare_commands!(@type $argument) ) )? ),*
        }

        impl Command {
            /// Every command name, in the order of the declaration.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            pub fn name(&self) -> &'static str {
                match self {
                    $( Command::$Variant $( (declare_commands!(@ignore $argument)) )? => $name ),*
                }
            }

            /// The command called `name` (already lower case, without the slash), given the
            /// text after it. Words after a command that takes none are ignored.
            fn from_name(name: &str, argument: &str) -> Option<Command> {
                let _ = argument;
                match name {
                    $( $name => Some(Command::$Variant $( ({ let $argument = argument.trim().to_owned(); $argument }) )?), )*
                    _ => None,
                }
            }
        }
    };
    (@type $argument:ident) => { String };
    (@ignore $argument:ident) => { _ };
}

declare_commands! {
    /// A welcome the first time; a welcome back after that. Never wipes anything.
    Start => "start",
    /// The next question now; it counts as today's.
    Prompt => "prompt",
    /// The last seven days in the user's own words.
    Recap => "recap",
    /// The booking link.
    Book => "book",
    /// When the daily question comes.
    Time(input) => "time",
    /// The timezone the time is read in.
    Timezone(input) => "timezone",
    Pause => "pause",
    Resume => "resume",
    Settings => "settings",
    Privacy => "privacy",
    /// Everything stored about the user, as files.
    Export => "export",
    /// Erase everything, after a confirmation.
    Delete => "delete",
    /// The user's words as a printable file, to keep or to bring to a consultation.
    Brief => "brief",
    /// Crisis lines and the emergency number, whenever someone needs them.
    Urgent => "urgent",
    /// Discreet mode on or off.
    Discreet => "discreet",
    Help => "help",
    /// Which parts of the article the daily question comes from.
    Themes => "themes",
    /// Aggregate counts for the practice's admins; for anyone else, a command the bot does
    /// not have.
    Stats => "stats",
}

/// Commands only the practice's admins have: left out of everyone else's /help and menu.
pub const ADMIN_ONLY: &[&str] = &["stats"];

/// What a text that starts like a command turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Command(Command),
    /// A command this bot does not have, or one addressed to another bot.
    Unknown,
    /// Not a command at all: the user's words.
    Words,
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

impl Command {
    /// Reads a text as Telegram users type commands: `/time 08:30`, `/start@this_bot`, and
    /// `/Start` as phones capitalise it.
    pub fn parse(text: &str, bot_username: &str) -> Parsed {
        if !looks_like_command(text) {
            return Parsed::Words;
        }
        let trimmed = text.trim();
        let split = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let (word, argument) = trimmed.split_at(split);
        let word = &word[1..];
        let (name, addressee) = match word.split_once('@') {
            Some((name, addressee)) => (name, Some(addressee)),
            None => (word, None),
        };
        if addressee.is_some_and(|addressee| !addressee.eq_ignore_ascii_case(bot_username)) {
            return Parsed::Unknown;
        }
        match Command::from_name(&name.to_lowercase(), argument) {
            Some(command) => Parsed::Command(command),
            None => Parsed::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Parsed {
        Command::parse(text, "crossroads_bot")
    }

    fn command(text: &str) -> Option<Command> {
        match parse(text) {
            Parsed::Command(command) => Some(command),
            Parsed::Unknown => None,
            Parsed::Words => panic!("{text:?} is not a command"),
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
        assert_eq!(command("/start@Crossroads_Bot"), Some(Command::Start));
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
        for text in [
            "/",
            "/ I feel lost",
            "/-: we barely talk",
            "//",
            "It shifted. /sigh",
        ] {
            assert_eq!(parse(text), Parsed::Words, "{text:?}");
        }
        assert!(looks_like_command("/shrug we barely talk"));
        assert!(looks_like_command("/start@crossroads_bot"));
    }

    #[test]
    fn every_name_parses_back_to_its_command() {
        for name in Command::NAMES {
            let Parsed::Command(command) = parse(&format!("/{name}")) else {
                panic!("/{name} does not parse");
            };
            assert_eq!(command.name(), *name);
        }
        let mut unique = Command::NAMES.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), Command::NAMES.len());
    }
}
