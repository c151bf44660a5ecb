//! `dialogues/` turned into a validated catalog: the questions, and every word the bot says.
//!
//! A catalog either loads whole or reports every problem it found, so an operator editing the
//! files fixes them in one pass (`crossroads check`) rather than one error per restart.

mod messages;

use std::{
    collections::{BTreeSet, HashSet},
    fmt,
};

use serde::Deserialize;

pub use self::messages::Messages;
pub(crate) use self::messages::args;
use crate::{command::Command, markup::utf16_len};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    pub id: String,
    pub title: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    pub id: String,
    pub theme: String,
    pub text: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandHelp {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptsFile {
    theme: Vec<Theme>,
    prompt: Vec<Prompt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandsFile {
    command: Vec<CommandHelp>,
}

fn message_problems(messages: &Messages) -> Vec<String> {
    let mut problems = Vec::new();
    for declared in messages.declared() {
        let slots = declared.template.slots();
        let allowed = || {
            let names: Vec<String> = declared
                .required
                .iter()
                .chain(declared.optional)
                .map(|name| format!("{{{name}}}"))
                .collect();
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        };
        for slot in &slots {
            if !declared.required.contains(slot) && !declared.optional.contains(slot) {
                problems.push(format!(
                    "{}: unknown placeholder {{{slot}}} (allowed: {})",
                    declared.key,
                    allowed()
                ));
            }
        }
        for required in declared.required {
            if !slots.contains(required) {
                problems.push(format!(
                    "{}: must contain the placeholder {{{required}}}",
                    declared.key
                ));
            }
        }
        if let Err(error) = declared.template.validate_markup() {
            problems.push(format!(
                "{}: Telegram would refuse this HTML: {error}",
                declared.key
            ));
        }
    }
    problems.extend(messages.shape_problems());
    problems
}

/// The validated content the bot speaks from.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub themes: Vec<Theme>,
    pub prompts: Vec<Prompt>,
    pub commands: Vec<CommandHelp>,
    pub messages: Messages,
}

/// One thing wrong with the dialogues, and the file it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

pub const PROMPTS_FILE: &str = "prompts.toml";
pub const MESSAGES_FILE: &str = "messages.toml";
pub const COMMANDS_FILE: &str = "commands.toml";

/// A question must leave room in its message for the words around it.
const MAX_PROMPT_LEN: usize = 1000;

/// setMyCommands takes descriptions of 1 to 256 characters.
const MAX_COMMAND_DESCRIPTION_LEN: usize = 256;

/// The text of the three dialogue files, each with the name problems are reported under.
pub struct Sources<'a> {
    pub prompts: (&'a str, String),
    pub messages: (&'a str, String),
    pub commands: (&'a str, String),
}

impl Catalog {
    /// The dialogues compiled into the binary: a copy of `dialogues/` at build time.
    pub fn builtin() -> Result<Catalog, Vec<Problem>> {
        Catalog::from_sources(Sources {
            prompts: (
                PROMPTS_FILE,
                include_str!("../../../../dialogues/prompts.toml").to_owned(),
            ),
            messages: (
                MESSAGES_FILE,
                include_str!("../../../../dialogues/messages.toml").to_owned(),
            ),
            commands: (
                COMMANDS_FILE,
                include_str!("../../../../dialogues/commands.toml").to_owned(),
            ),
        })
    }

    /// Parses and validates the dialogues, reporting every problem at once.
    pub fn from_sources(sources: Sources<'_>) -> Result<Catalog, Vec<Problem>> {
        let mut problems = Vec::new();
        let prompts: Option<PromptsFile> = parse(&sources.prompts, &mut problems);
        let messages: Option<Messages> = parse(&sources.messages, &mut problems);
        let commands: Option<CommandsFile> = parse(&sources.commands, &mut problems);

        let mut report = |file: &str, found: Vec<String>| {
            problems.extend(found.into_iter().map(|message| Problem {
                file: file.to_owned(),
                message,
            }));
        };
        if let Some(prompts) = &prompts {
            report(sources.prompts.0, prompt_problems(prompts));
        }
        if let Some(messages) = &messages {
            report(sources.messages.0, message_problems(messages));
        }
        if let Some(commands) = &commands {
            report(sources.commands.0, command_problems(&commands.command));
        }
        match (prompts, messages, commands) {
            (Some(prompts), Some(messages), Some(commands)) if problems.is_empty() => Ok(Catalog {
                themes: prompts.theme,
                prompts: prompts.prompt,
                commands: commands.command,
                messages,
            }),
            _ => Err(problems),
        }
    }

    pub fn theme(&self, id: &str) -> Option<&Theme> {
        self.themes.iter().find(|theme| theme.id == id)
    }

    pub fn prompt(&self, id: &str) -> Option<&Prompt> {
        self.prompts.iter().find(|prompt| prompt.id == id)
    }
}

fn parse<T: for<'de> Deserialize<'de>>(
    source: &(&str, String),
    problems: &mut Vec<Problem>,
) -> Option<T> {
    toml::from_str(&source.1)
        .map_err(|error| {
            problems.push(Problem {
                file: source.0.to_owned(),
                message: error.to_string(),
            })
        })
        .ok()
}

fn is_stable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn prompt_problems(file: &PromptsFile) -> Vec<String> {
    let mut problems = Vec::new();
    let mut theme_ids = HashSet::new();
    for theme in &file.theme {
        if !is_stable_id(&theme.id) {
            problems.push(format!(
                "theme {:?}: ids use a-z, 0-9 and '-' only (at most 40)",
                theme.id
            ));
        }
        if !theme_ids.insert(theme.id.as_str()) {
            problems.push(format!("theme {:?} is defined twice", theme.id));
        }
        if theme.title.trim().is_empty() {
            problems.push(format!("theme {:?} has an empty title", theme.id));
        }
    }
    let mut prompt_ids = HashSet::new();
    for prompt in &file.prompt {
        if !is_stable_id(&prompt.id) {
            problems.push(format!(
                "prompt {:?}: ids use a-z, 0-9 and '-' only (at most 40)",
                prompt.id
            ));
        }
        if !prompt_ids.insert(prompt.id.as_str()) {
            problems.push(format!(
                "prompt {:?} is defined twice; ids must be unique and stable",
                prompt.id
            ));
        }
        if !theme_ids.contains(prompt.theme.as_str()) {
            problems.push(format!(
                "prompt {:?} names theme {:?}, which is not defined",
                prompt.id, prompt.theme
            ));
        }
        let length = utf16_len(prompt.text.trim());
        if length == 0 || length > MAX_PROMPT_LEN {
            problems.push(format!(
                "prompt {:?} needs text of 1 to {MAX_PROMPT_LEN} characters",
                prompt.id
            ));
        }
    }
    if file.prompt.is_empty() {
        problems.push("there are no prompts".to_owned());
    }
    problems
}

fn command_problems(commands: &[CommandHelp]) -> Vec<String> {
    let mut problems = Vec::new();
    let listed: BTreeSet<&str> = commands
        .iter()
        .map(|command| command.name.as_str())
        .collect();
    let known: BTreeSet<&str> = Command::NAMES.iter().copied().collect();
    for missing in known.difference(&listed) {
        problems.push(format!("command {missing:?} needs a description"));
    }
    for unknown in listed.difference(&known) {
        problems.push(format!("command {unknown:?} is not a command the bot has"));
    }
    if listed.len() != commands.len() {
        problems.push("a command is described twice".to_owned());
    }
    for command in commands {
        let length = utf16_len(command.description.trim());
        if length == 0 || length > MAX_COMMAND_DESCRIPTION_LEN {
            problems.push(format!(
                "command {:?} needs a description of 1 to {MAX_COMMAND_DESCRIPTION_LEN} characters",
                command.name
            ));
        }
    }
    problems
}
