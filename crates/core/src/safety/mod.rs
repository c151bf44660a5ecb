//! Safety: what a message sounds like (a crisis, a request for advice, or neither, and whether
//! it is worth a gentle check-in), and the crisis answer, which comes before every other flow.
//!
//! Two detectors side by side:
//! - the rules ([`engine`](self)) over data: `rules/*.toml` holds the rules and the words the
//!   guards use; every decision can be read and corrected;
//! - a learned model ([`model`]): logistic regression over TF-IDF features, trained on the
//!   corpora in `tests/data/`, with thresholds fixed out of fold.
//!
//! A message is a crisis when a rule fires or the model's crisis score reaches its threshold,
//! unless the model read it and is all but sure it is not one (a figure of speech, the past,
//! someone else's story): then a rule's answer is softened to a check-in, never dropped.
//! Between the crisis answer and nothing lies the check-in band: a score that does not reach
//! the crisis threshold but reaches the check-in one. Nothing leaves the machine.

mod answer;
mod engine;
pub mod model;
pub mod reviewed;

pub use self::model::MODEL_MIN_WORDS;
use self::model::Model;
pub use self::model::{Scores, Thresholds};

/// What the bot must answer, beyond keeping the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concern {
    /// Thoughts of suicide or self-harm, harm to others, or violence or abuse at home.
    Crisis,
    /// A request for advice or a decision, which the bot never gives.
    Advice,
    None,
}

/// How a message reads: its concern, and whether it falls in the check-in band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub concern: Concern,
    /// Not a crisis, but close enough to one that the answer adds a gentle line and the crisis
    /// lines at a tap. Never set when `concern` is a crisis.
    pub check_in: bool,
    /// In the upper half of the check-in band: with another check-in the same day, such a
    /// message is answered as a crisis. Only ever set with `check_in`.
    pub near_crisis: bool,
}

impl Default for Reading {
    fn default() -> Self {
        Reading {
            concern: Concern::None,
            check_in: false,
            near_crisis: false,
        }
    }
}

/// Why a message reads as it does: for `crossroads safety` and for the corpus test.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub reading: Reading,
    /// What the rules alone decided.
    pub rules: Concern,
    /// The crisis rule that fired, as `crisis.toml` numbers it (1 for the first), if one did.
    pub crisis_rule: Option<usize>,
    /// A crisis rule fired, but the model read the message and scored it below
    /// [`Thresholds::rule_doubt`]: it gets the check-in rather than the crisis answer.
    pub rule_doubted: bool,
    /// The model's scores and its thresholds; `None` only if the shipped model cannot load.
    pub model: Option<(Scores, Thresholds)>,
}

/// The shipped model, if it loads (it always does in a build whose tests passed).
pub fn shipped_model() -> Option<&'static Model> {
    model::shipped()
}

/// The pattern of crisis rule `number`, as `crisis.toml` numbers them, with its vocabulary
/// filled in.
pub fn crisis_rule_pattern(number: usize) -> Option<String> {
    engine::crisis_rule_pattern(number)
}

/// What a message sounds like. A crisis outranks a request for advice.
pub fn assess(text: &str) -> Concern {
    read(text).concern
}

/// The concern and the check-in band, from the rules and the model together.
pub fn read(text: &str) -> Reading {
    explain(text).reading
}

/// The rules alone, as they were before the model: for training and measuring.
pub fn rules_only(text: &str) -> Concern {
    engine::assess(text)
}

/// How a message reads, and why.
pub fn explain(text: &str) -> Explanation {
    let (rules, crisis_rule) = engine::read(text);
    let model = model::shipped().and_then(|model: &Model| {
        model
            .scores_if_read(text)
            .map(|scores| (scores, model.thresholds))
    });
    let (reading, rule_doubted) = combine(rules, model);
    Explanation {
        reading,
        rules,
        crisis_rule,
        rule_doubted,
        model,
    }
}

/// How the rules' decision and the model's scores (`None` when the model does not read the
/// message) make one reading, and whether a crisis rule was doubted. The trainer fixes its
/// thresholds and reports its figures through this same function.
pub fn combine(rules: Concern, model: Option<(Scores, Thresholds)>) -> (Reading, bool) {
    let (crisis_score, advice_score, thresholds) = match model {
        Some((scores, thresholds)) => (scores.crisis, scores.advice, Some(thresholds)),
        None => (0.0, 0.0, None),
    };
    let reaches = |score: f32, pick: fn(&Thresholds) -> f32| {
        thresholds.is_some_and(|thresholds| score >= pick(&thresholds))
    };
    let rule_doubted = rules == Concern::Crisis
        && thresholds.is_some_and(|thresholds| crisis_score < thresholds.rule_doubt);
    let crisis = (rules == Concern::Crisis && !rule_doubted) || reaches(crisis_score, |t| t.crisis);
    let advice = rules == Concern::Advice || reaches(advice_score, |t| t.advice);
    let concern = if crisis {
        Concern::Crisis
    } else if advice {
        Concern::Advice
    } else {
        Concern::None
    };
    let check_in = !crisis && (rule_doubted || reaches(crisis_score, |t| t.check_in));
    let near_crisis = check_in && reaches(crisis_score, |t| (t.check_in + t.crisis) / 2.0);
    let reading = Reading {
        concern,
        check_in,
        near_crisis,
    };
    (reading, rule_doubted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_the_model_doubts_gets_the_check_in_and_one_it_shares_the_crisis_answer() {
        let shared = explain("I want to kill myself tonight, I have the pills ready");
        assert_eq!(shared.rules, Concern::Crisis);
        assert!(!shared.rule_doubted);
        assert_eq!(shared.reading.concern, Concern::Crisis);

        let doubted = explain(
            "My sister self-harmed as a teenager and she's a psychiatric nurse now. Weird how things go",
        );
        assert_eq!(doubted.rules, Concern::Crisis, "{doubted:?}");
        assert!(doubted.rule_doubted, "{doubted:?}");
        assert_eq!(doubted.reading.concern, Concern::None);
        assert!(doubted.reading.check_in && !doubted.reading.near_crisis);
    }

    #[test]
    fn a_rule_is_never_doubted_on_words_the_model_does_not_read() {
        let short = explain("kms");
        assert_eq!(short.rules, Concern::Crisis);
        assert!(short.model.is_none() && !short.rule_doubted);
        assert_eq!(short.reading.concern, Concern::Crisis);
    }

    #[test]
    fn a_reply_that_repeats_the_question_is_not_a_request_for_advice() {
        let reply = "What would I miss? His laugh, the Sunday walks with the dog, his mum's trifle. \
                     What I wouldn't miss is the snoring.";
        assert_ne!(read(reply).concern, Concern::Advice);
        let asking = "Is it about him or me? Bit of both, I've changed a lot since the kids. \
                      Honestly, should I just leave him? Tell me what to do.";
        assert_eq!(read(asking).concern, Concern::Advice);
    }
}
