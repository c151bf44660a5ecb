//! `dialogues/` turned into a validated catalog: the questions, and every word the bot says.
//!
//! A catalog either loads whole or reports every problem it found, so an operator editing the
//! files fixes them in one pass (`crossroads check`) rather than one error per restart.

pub mod template;

use std::{
    collections::{BTreeSet, HashSet},
    fmt,
    path::Path,
};

use serde::Deserialize;

pub use self::template::Template;
use crate::core::{command::Command, markup::utf16_len};

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

/// Every word the bot says besides the questions. Field names are the keys of `messages.toml`;
/// the placeholders each may use are listed in [`Messages::rules`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    pub booking_button: String,
    pub welcome: Template,
    pub welcome_back: Template,
    pub help: Template,
    pub help_line: Template,
    pub prompt: Template,
    pub reply_acks: Vec<Template>,
    pub note_acks: Vec<Template>,
    pub advice: Template,
    pub crisis: Template,
    pub crisis_line: Template,
    pub crisis_kept: Template,
    pub book: Template,
    pub settings: Template,
    pub status_active: Template,
    pub status_paused: Template,
    pub time_show: Template,
    pub time_set: Template,
    pub time_invalid: Template,
    pub timezone_show: Template,
    pub timezone_set: Template,
    pub timezone_invalid: Template,
    pub paused: Template,
    pub already_paused: Template,
    pub resumed: Template,
    pub already_active: Template,
    pub unknown_command: Template,
    pub non_text: Template,
    pub private_only: Template,
    pub trouble: Template,
    pub recap_header: Template,
    pub recap_themes: Template,
    pub recap_day: Template,
    pub recap_reply: Template,
    pub recap_note: Template,
    pub recap_shortened: Template,
    pub recap_more: Template,
    pub recap_empty: Template,
    pub recap_footer: Template,
    pub recap_cell_written: String,
    pub recap_cell_empty: String,
    pub privacy: Template,
    pub export_caption: Template,
    pub export_empty: Template,
    pub export_text: Template,
    pub export_text_reply: Template,
    pub export_text_note: Template,
    pub export_text_none: Template,
    pub delete_confirm: Template,
    pub delete_yes_button: String,
    pub delete_no_button: String,
    pub deleted: Template,
    pub delete_cancelled: Template,
    pub delete_stale: Template,
    pub weekdays: Vec<String>,
    pub months: Vec<String>,
    pub date: Template,
    pub moment: Template,
}

/// What a template may contain: `allowed` placeholders, of which `required` must appear.
pub struct Rule<'a> {
    pub key: &'static str,
    pub template: &'a Template,
    pub allowed: &'static [&'static str],
    pub required: &'static [&'static str],
}

impl Messages {
    pub fn rules(&self) -> Vec<Rule<'_>> {
        fn rule<'a>(
            key: &'static str,
            template: &'a Template,
            allowed: &'static [&'static str],
            required: &'static [&'static str],
        ) -> Rule<'a> {
            Rule {
                key,
                template,
                allowed,
                required,
            }
        }
        let mut rules = vec![
            rule(
                "welcome",
                &self.welcome,
                &["practice", "time", "zone", "emergency"],
                &["time", "zone", "emergency"],
            ),
            rule(
                "welcome_back",
                &self.welcome_back,
                &["practice", "time", "zone", "status"],
                &[],
            ),
            rule("help", &self.help, &["commands", "practice"], &["commands"]),
            rule(
                "help_line",
                &self.help_line,
                &["command", "description"],
                &["command", "description"],
            ),
            rule(
                "prompt",
                &self.prompt,
                &["question", "theme"],
                &["question"],
            ),
            rule("advice", &self.advice, &["practice"], &[]),
            rule(
                "crisis",
                &self.crisis,
                &["emergency", "lines", "practice"],
                &["emergency", "lines"],
            ),
            rule(
                "crisis_line",
                &self.crisis_line,
                &["name", "contact"],
                &["name", "contact"],
            ),
            rule("crisis_kept", &self.crisis_kept, &[], &[]),
            rule("book", &self.book, &["practice"], &[]),
            rule(
                "settings",
                &self.settings,
                &["time", "zone", "status"],
                &["time", "zone", "status"],
            ),
            rule("status_active", &self.status_active, &["next"], &[]),
            rule("status_paused", &self.status_paused, &[], &[]),
            rule("time_show", &self.time_show, &["time", "zone"], &["time"]),
            rule(
                "time_set",
                &self.time_set,
                &["time", "zone", "next"],
                &["time"],
            ),
            rule("time_invalid", &self.time_invalid, &["input"], &[]),
            rule(
                "timezone_show",
                &self.timezone_show,
                &["time", "zone"],
                &["zone"],
            ),
            rule(
                "timezone_set",
                &self.timezone_set,
                &["time", "zone", "next"],
                &["zone"],
            ),
            rule("timezone_invalid", &self.timezone_invalid, &["input"], &[]),
            rule("paused", &self.paused, &[], &[]),
            rule("already_paused", &self.already_paused, &[], &[]),
            rule("resumed", &self.resumed, &["next"], &[]),
            rule("already_active", &self.already_active, &["next"], &[]),
            rule("unknown_command", &self.unknown_command, &[], &[]),
            rule("non_text", &self.non_text, &[], &[]),
            rule("private_only", &self.private_only, &[], &[]),
            rule("trouble", &self.trouble, &[], &[]),
            rule(
                "recap_header",
                &self.recap_header,
                &["from", "to", "days", "cells", "written", "total"],
                &["days", "cells"],
            ),
            rule("recap_themes", &self.recap_themes, &["themes"], &["themes"]),
            rule("recap_day", &self.recap_day, &["date"], &["date"]),
            rule(
                "recap_reply",
                &self.recap_reply,
                &["question", "text"],
                &["text"],
            ),
            rule("recap_note", &self.recap_note, &["text"], &["text"]),
            rule("recap_shortened", &self.recap_shortened, &[], &[]),
            rule("recap_more", &self.recap_more, &["count"], &["count"]),
            rule("recap_empty", &self.recap_empty, &[], &[]),
            rule("recap_footer", &self.recap_footer, &["practice"], &[]),
            rule(
                "privacy",
                &self.privacy,
                &["practice", "retention_days"],
                &[],
            ),
            rule("export_caption", &self.export_caption, &["count"], &[]),
            rule("export_empty", &self.export_empty, &[], &[]),
            rule(
                "export_text",
                &self.export_text,
                &["practice", "exported", "time", "zone", "status", "entries"],
                &["entries"],
            ),
            rule(
                "export_text_reply",
                &self.export_text_reply,
                &["date", "time", "question", "text"],
                &["text"],
            ),
            rule(
                "export_text_note",
                &self.export_text_note,
                &["date", "time", "text"],
                &["text"],
            ),
            rule("export_text_none", &self.export_text_none, &[], &[]),
            rule("delete_confirm", &self.delete_confirm, &["count"], &[]),
            rule("deleted", &self.deleted, &[], &[]),
            rule("delete_cancelled", &self.delete_cancelled, &[], &[]),
            rule("delete_stale", &self.delete_stale, &[], &[]),
            rule(
                "date",
                &self.date,
                &["weekday", "day", "month", "year"],
                &["day"],
            ),
            rule("moment", &self.moment, &["date", "time"], &["date", "time"]),
        ];
        rules.extend(
            self.reply_acks
                .iter()
                .map(|ack| rule("reply_acks", ack, &[], &[])),
        );
        rules.extend(
            self.note_acks
                .iter()
                .map(|ack| rule("note_acks", ack, &[], &[])),
        );
        rules
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for rule in self.rules() {
            let slots = rule.template.slots();
            for slot in &slots {
                if !rule.allowed.contains(slot) {
                    let allowed = if rule.allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        rule.allowed
                            .iter()
                            .map(|name| format!("{{{name}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    problems.push(format!(
                        "{}: unknown placeholder {{{slot}}} (allowed: {allowed})",
                        rule.key
                    ));
                }
            }
            for required in rule.required {
                if !slots.contains(required) {
                    problems.push(format!(
                        "{}: must contain the placeholder {{{required}}}",
                        rule.key
                    ));
                }
            }
            if let Err(error) = rule.template.validate_markup() {
                problems.push(format!(
                    "{}: Telegram would refuse this HTML: {error}",
                    rule.key
                ));
            }
        }
        if self.reply_acks.is_empty() {
            problems.push("reply_acks: needs at least one acknowledgement".to_owned());
        }
        if self.note_acks.is_empty() {
            problems.push("note_acks: needs at least one acknowledgement".to_owned());
        }
        if self.weekdays.len() != 7 {
            problems.push(format!(
                "weekdays: needs 7 names, Monday first (found {})",
                self.weekdays.len()
            ));
        }
        if self.months.len() != 12 {
            problems.push(format!(
                "months: needs 12 names, January first (found {})",
                self.months.len()
            ));
        }
        for (key, label) in [
            ("booking_button", &self.booking_button),
            ("delete_yes_button", &self.delete_yes_button),
            ("delete_no_button", &self.delete_no_button),
            ("recap_cell_written", &self.recap_cell_written),
            ("recap_cell_empty", &self.recap_cell_empty),
        ] {
            if label.trim().is_empty() || utf16_len(label) > 64 {
                problems.push(format!("{key}: needs 1 to 64 characters"));
            }
        }
        problems
    }
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

struct Sources<'a> {
    prompts: (&'a str, String),
    messages: (&'a str, String),
    commands: (&'a str, String),
}

impl Catalog {
    /// The dialogues compiled into the binary: a copy of `dialogues/` at build time.
    pub fn builtin() -> Result<Catalog, Vec<Problem>> {
        Catalog::from_sources(Sources {
            prompts: (
                PROMPTS_FILE,
                include_str!("../../dialogues/prompts.toml").to_owned(),
            ),
            messages: (
                MESSAGES_FILE,
                include_str!("../../dialogues/messages.toml").to_owned(),
            ),
            commands: (
                COMMANDS_FILE,
                include_str!("../../dialogues/commands.toml").to_owned(),
            ),
        })
    }

    pub fn load_dir(dir: &Path) -> Result<Catalog, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut read = |name: &'static str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).unwrap_or_else(|error| {
                problems.push(Problem {
                    file: path.display().to_string(),
                    message: format!("cannot read it: {error}"),
                });
                String::new()
            })
        };
        let sources = Sources {
            prompts: (PROMPTS_FILE, read(PROMPTS_FILE)),
            messages: (MESSAGES_FILE, read(MESSAGES_FILE)),
            commands: (COMMANDS_FILE, read(COMMANDS_FILE)),
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Catalog::from_sources(sources).map_err(|problems| {
            problems
                .into_iter()
                .map(|problem| Problem {
                    file: dir.join(&problem.file).display().to_string(),
                    ..problem
                })
                .collect()
        })
    }

    fn from_sources(sources: Sources<'_>) -> Result<Catalog, Vec<Problem>> {
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
            report(sources.messages.0, messages.problems());
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
    let known: BTreeSet<&str> = Command::NAMES.into_iter().collect();
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
