//! The rule engine: it normalises text, runs the rules in `rules/` over it, and sets a match
//! aside when a guard says it is negated, reported, a figure of speech or past and resolved.
//! The rules and the words the guards use are data, apart from this code, so that they can be
//! read, reviewed and extended without reading the engine.

use std::{collections::BTreeMap, sync::LazyLock};

use regex::Regex;
use serde::Deserialize;

use super::Concern;

const CRISIS_RULES: &str = include_str!("rules/crisis.toml");
const ADVICE_RULES: &str = include_str!("rules/advice.toml");
const CONTEXT: &str = include_str!("rules/context.toml");

/// What sets a match aside. The words each guard uses are in `rules/context.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Guard {
    /// The rule holds wherever it matches.
    Always,
    /// Not when negated just before ("never", "not", …).
    Unnegated,
    /// Not when negated, and not when a threat is a figure of speech: "would kill me if she
    /// knew", "will kill me for saying this".
    LiteralThreat,
    /// As [`Guard::LiteralThreat`], and not when someone else's words are reported: "someone
    /// said I looked like I wanted to kill someone".
    ReportedThreat,
    /// Not when negated, and not when someone else's question is being reported: "I asked
    /// myself what I should do", "my friend told me what to do".
    Reported,
    /// Not when negated, and not when the harm is to feelings: "I hurt her feelings".
    Bodily,
    /// Not when negated, and not when the verb is a figure of speech: "pushed me to apply",
    /// "pushes my buttons", "grabbed my hand", "choked me up".
    Violent,
    /// Not when negated, and not when used of something harmless: "overdosed on Netflix".
    Figurative,
    /// Not when negated, and not a place or a sport: "the gun range", "a gun club".
    Weapon,
}

impl Guard {
    fn negatable(self) -> bool {
        !matches!(self, Guard::Always)
    }

    fn checks_reporting(self) -> bool {
        matches!(self, Guard::Reported | Guard::ReportedThreat)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSource {
    pattern: String,
    guard: Guard,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CrisisSource {
    vocabulary: BTreeMap<String, String>,
    rule: Vec<RuleSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdviceSource {
    question_opening: String,
    counterfactual: String,
    declines: String,
    tags: Vec<String>,
    direct: Vec<RuleSource>,
    question: Vec<RuleSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextSource {
    negators: Vec<String>,
    reporting: Vec<String>,
    threat_subjects: Vec<String>,
    threat_conditions: Vec<String>,
    literal_after_on: Vec<String>,
    resolved_past: String,
    safe_now: String,
    not_about_the_writer: String,
    harmless: String,
    said_in_jest: String,
    figurative_next: BTreeMap<Guard, Vec<String>>,
}

struct Rule {
    pattern: Regex,
    guard: Guard,
}

/// The rules, compiled once.
struct Rules {
    crisis: Vec<Rule>,
    direct_request: Vec<Rule>,
    advice_question: Vec<Rule>,
    question_opening: Regex,
    counterfactual: Regex,
    declines_advice: Regex,
    tags: Vec<String>,
    context: Context,
}

struct Context {
    negators: Vec<String>,
    reporting: Vec<String>,
    threat_subjects: Vec<String>,
    threat_conditions: Vec<String>,
    literal_after_on: Vec<String>,
    resolved_past: Regex,
    safe_now: Regex,
    not_about_the_writer: Regex,
    harmless: Regex,
    said_in_jest: Regex,
    figurative_next: BTreeMap<Guard, Vec<String>>,
}

/// The rule files are part of the binary and a unit test loads them, so a broken one fails the
/// build's tests rather than a user's message.
static RULES: LazyLock<Rules> = LazyLock::new(|| {
    Rules::parse(CRISIS_RULES, ADVICE_RULES, CONTEXT)
        .unwrap_or_else(|problem| panic!("the safety rules do not load: {problem}"))
});

fn compile(name: &str, pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|error| format!("{name}: {error}"))
}

impl Rules {
    fn parse(crisis: &str, advice: &str, context: &str) -> Result<Rules, String> {
        let crisis: CrisisSource =
            toml::from_str(crisis).map_err(|error| format!("crisis.toml: {error}"))?;
        let advice: AdviceSource =
            toml::from_str(advice).map_err(|error| format!("advice.toml: {error}"))?;
        let context: ContextSource =
            toml::from_str(context).map_err(|error| format!("context.toml: {error}"))?;
        let rules = |file: &str, sources: &[RuleSource], vocabulary: &BTreeMap<String, String>| {
            sources
                .iter()
                .enumerate()
                .map(|(index, source)| {
                    let mut pattern = source.pattern.clone();
                    for (name, words) in vocabulary {
                        pattern = pattern.replace(&format!("{{{{{name}}}}}"), words);
                    }
                    if pattern.contains("{{") {
                        return Err(format!(
                            "{file}: rule {} names a vocabulary entry that is not defined",
                            index + 1
                        ));
                    }
                    Ok(Rule {
                        pattern: compile(&format!("{file}: rule {}", index + 1), &pattern)?,
                        guard: source.guard,
                    })
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let none = BTreeMap::new();
        Ok(Rules {
            crisis: rules("crisis.toml", &crisis.rule, &crisis.vocabulary)?,
            direct_request: rules("advice.toml direct", &advice.direct, &none)?,
            advice_question: rules("advice.toml question", &advice.question, &none)?,
            question_opening: compile("question_opening", &advice.question_opening)?,
            counterfactual: compile("counterfactual", &advice.counterfactual)?,
            declines_advice: compile("declines", &advice.declines)?,
            tags: advice.tags,
            context: Context {
                negators: context.negators,
                reporting: context.reporting,
                threat_subjects: context.threat_subjects,
                threat_conditions: context.threat_conditions,
                literal_after_on: context.literal_after_on,
                resolved_past: compile("resolved_past", &context.resolved_past)?,
                safe_now: compile("safe_now", &context.safe_now)?,
                not_about_the_writer: compile(
                    "not_about_the_writer",
                    &context.not_about_the_writer,
                )?,
                harmless: compile("harmless", &context.harmless)?,
                said_in_jest: compile("said_in_jest", &context.said_in_jest)?,
                figurative_next: context.figurative_next,
            },
        })
    }
}

fn contains(words: &[String], word: &str) -> bool {
    words.iter().any(|listed| listed == word)
}

pub(super) fn crisis_rule_pattern(number: usize) -> Option<String> {
    let rule = RULES.crisis.get(number.checked_sub(1)?)?;
    Some(rule.pattern.as_str().to_owned())
}

/// What the rules decide, and the crisis rule that fired (numbered from 1 as in
/// `crisis.toml`), if one did: finding the first that fires costs no more than finding any.
pub(super) fn read(text: &str) -> (Concern, Option<usize>) {
    let rules = &*RULES;
    let context = &rules.context;
    let normalised = normalise(text);
    let about_the_writer = context.not_about_the_writer.replace_all(&normalised, " . ");
    let normalised = context
        .harmless
        .replace_all(&about_the_writer, " . ")
        .into_owned();
    let resolved = (context.resolved_past.is_match(&normalised)
        && context.safe_now.is_match(&normalised))
        || context.said_in_jest.is_match(&normalised);
    let crisis_rule = (!resolved)
        .then(|| {
            rules
                .crisis
                .iter()
                .position(|rule| rule.matches(&normalised, context))
        })
        .flatten()
        .map(|index| index + 1);
    let concern = if crisis_rule.is_some() {
        Concern::Crisis
    } else if rules.asks_for_advice(&normalised) {
        Concern::Advice
    } else {
        Concern::None
    };
    (concern, crisis_rule)
}

pub(super) fn assess(text: &str) -> Concern {
    read(text).0
}

/// Lower case, apostrophes dropped ("don't" and "dont" read alike), other punctuation but
/// sentence ends turned to spaces, spaces collapsed.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    for c in text.chars().flat_map(char::to_lowercase) {
        let mapped = match c {
            '\'' | '’' | '‘' | '`' | '´' => continue,
            '?' | '.' | '!' | '\n' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        };
        match mapped {
            Some('\n') => {
                out.push('.');
                last_space = false;
            }
            Some(c) => {
                if matches!(c, '?' | '.' | '!') && out.ends_with(' ') {
                    out.pop();
                }
                out.push(c);
                last_space = false;
                if matches!(c, '?' | '.' | '!') {
                    out.push(' ');
                    last_space = true;
                }
            }
            None if !last_space => {
                out.push(' ');
                last_space = true;
            }
            None => {}
        }
    }
    out.trim().to_owned()
}

impl Context {
    fn negated_before(&self, text: &str, start: usize) -> bool {
        text[..start]
            .rsplit(['.', '?', '!'])
            .next()
            .unwrap_or("")
            .split_whitespace()
            .rev()
            .take(3)
            .any(|word| contains(&self.negators, word))
    }

    /// "He'll kill me if I leave" is a threat; "she'd kill me if I skipped book club" is not.
    fn threat_on_leaving(&self, after: &str) -> bool {
        let mut words = after.split_whitespace().skip(1);
        let someone = words
            .next()
            .is_some_and(|word| contains(&self.threat_subjects, word));
        someone
            && words
                .take(4)
                .any(|word| contains(&self.threat_conditions, word))
    }

    /// "Overdosed on Saturday" or "on my pills" is literal; "overdosed on Netflix" is not.
    fn literal_after_on(&self, after: &str) -> bool {
        after
            .split_whitespace()
            .nth(1)
            .is_some_and(|word| contains(&self.literal_after_on, word))
    }

    fn reported_before(&self, text: &str, start: usize) -> bool {
        text[..start]
            .split_whitespace()
            .rev()
            .take(4)
            .any(|word| contains(&self.reporting, word))
    }

    fn figurative_next(&self, guard: Guard) -> &[String] {
        self.figurative_next.get(&guard).map_or(&[], Vec::as_slice)
    }
}

impl Rule {
    fn matches(&self, text: &str, context: &Context) -> bool {
        let guard = self.guard;
        self.pattern.captures_iter(text).any(|found| {
            let whole = found.get(0).expect("group 0 always exists");
            let between = found.name("between").map_or("", |m| m.as_str());
            let negated = context.negated_before(text, whole.start())
                || between
                    .split_whitespace()
                    .any(|word| contains(&context.negators, word));
            let next = text[whole.end()..].split_whitespace().next().unwrap_or("");
            let turned_around = guard.negatable() && negated;
            let reported = guard.checks_reporting() && context.reported_before(text, whole.start());
            let next = next.trim_end_matches(['.', '?', '!']);
            let figurative = contains(context.figurative_next(guard), next)
                && !(next == "if" && context.threat_on_leaving(&text[whole.end()..]))
                && !(next == "on" && context.literal_after_on(&text[whole.end()..]));
            !turned_around && !reported && !figurative
        })
    }
}

impl Rules {
    /// Asking the bot to decide, judge or advise. Looked for in explicit requests anywhere, and
    /// in what the message ends on: a question the writer answers ("Why did I stop trying? I
    /// think because…") is reflection, not a request.
    fn asks_for_advice(&self, text: &str) -> bool {
        if self.declines_advice.is_match(text) {
            return false;
        }
        if self
            .direct_request
            .iter()
            .any(|rule| rule.matches(text, &self.context))
        {
            return true;
        }
        let Some(question) = self.final_question(text) else {
            return false;
        };
        !self.counterfactual.is_match(question)
            && self
                .advice_question
                .iter()
                .any(|rule| rule.matches(question, &self.context))
    }

    /// The last sentence, if it is a question (with or without its question mark).
    fn final_question<'t>(&self, text: &'t str) -> Option<&'t str> {
        let mut sentences: Vec<&str> = text
            .split_inclusive(['.', '?', '!'])
            .map(str::trim)
            .filter(|sentence| !sentence.is_empty())
            .collect();
        if sentences.len() > 1 {
            let last = sentences[sentences.len() - 1].trim_end_matches(['.', '!', '?']);
            if contains(&self.tags, last) {
                sentences.pop();
            }
        }
        let last = *sentences.last()?;
        (last.ends_with('?') || self.question_opening.is_match(last)).then_some(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_files_load_and_every_pattern_compiles() {
        let rules = Rules::parse(CRISIS_RULES, ADVICE_RULES, CONTEXT).unwrap();
        assert!(rules.crisis.len() > 100);
        assert!(!rules.direct_request.is_empty() && !rules.advice_question.is_empty());
    }

    #[test]
    fn a_rule_naming_an_undefined_vocabulary_entry_is_refused() {
        let crisis =
            "[vocabulary]\n\n[[rule]]\npattern = '{{nobody}} hits me'\nguard = \"always\"\n";
        let refused = Rules::parse(crisis, ADVICE_RULES, CONTEXT).err().unwrap();
        assert!(refused.contains("vocabulary"), "{refused}");
    }

    #[test]
    fn normalising_reads_apostrophes_and_punctuation_alike() {
        assert_eq!(
            normalise("I DON’T want… to be here!!"),
            "i dont want to be here!!"
        );
        assert_eq!(normalise("what—do  I do?"), "what do i do?");
    }

    #[test]
    fn crisis_is_found_in_direct_and_coded_forms() {
        for text in [
            "I want to kill myself",
            "I don't want to be here anymore",
            "honestly some days I want to end it all",
            "kms",
            "been thinking about how to unalive myself",
            "he choked me last night",
            "I'm scared he'll kill me",
            "I'm going to hurt him if he touches me again",
        ] {
            assert_eq!(assess(text), Concern::Crisis, "{text}");
        }
    }

    #[test]
    fn figures_of_speech_are_not_a_crisis() {
        for text in [
            "this job is killing me",
            "I could kill for a coffee",
            "our love died years ago",
            "I'm not in danger, just sad",
            "my mother-in-law would kill me if she knew",
            "he never hits me, he just ignores me",
            "I cut my hair short, first time in years",
            "shoot, I forgot our anniversary",
        ] {
            assert_eq!(assess(text), Concern::None, "{text}");
        }
    }

    #[test]
    fn an_everyday_thing_named_with_a_crisis_word_is_set_aside_but_a_crisis_beside_it_is_not() {
        for text in [
            "the rope swing over the river is where he proposed",
            "wrote a goodbye letter to my old flat before we handed the keys back",
            "I volunteer for a suicide prevention charity and it's made me kinder to him",
        ] {
            assert_eq!(assess(text), Concern::None, "{text}");
        }
        for text in [
            "the rope swing is still up and I keep thinking about using it to hang myself",
            "I wrote a goodbye letter to my old flat, and goodbye notes to the kids for when I'm gone",
            "I climbed into the loft and put the rope round my neck",
            "wrote goodbye letters to my pupils tonight, tomorrow it will be over",
            "I'm going to sleep forever this weekend, I've stocked up on enough to do it",
        ] {
            assert_eq!(assess(text), Concern::Crisis, "{text}");
        }
    }

    #[test]
    fn advice_requests_are_found_and_reflective_questions_are_not() {
        for text in [
            "should I leave him?",
            "what would you do?",
            "tell me what to do",
            "is it normal that I feel nothing?",
        ] {
            assert_eq!(assess(text), Concern::Advice, "{text}");
        }
        for text in [
            "why did I stop trying? I think because I was tired",
            "I asked myself what I should do and I wrote a list",
            "my friend told me to leave but I'm not sure",
        ] {
            assert_eq!(assess(text), Concern::None, "{text}");
        }
    }

    #[test]
    fn a_crisis_outranks_a_request_for_advice() {
        assert_eq!(assess("should I just end it all?"), Concern::Crisis);
    }
}
