//! Safety: what a message sounds like (a crisis, a request for advice, or neither, and whether
//! it is worth a gentle check-in), and the crisis answer, which comes before every other flow.
//!
//! Two detectors side by side:
//! - the rules ([`engine`](self)) over data: `rules/*.toml` holds the rules and the words the
//!   guards use; every decision can be read and corrected;
//! - a learned model ([`model`]): logistic regression over TF-IDF features, trained on the
//!   corpora in `tests/data/`, with thresholds fixed out of fold.
//!
//! A message is a crisis when a rule fires or the model's crisis score reaches its threshold.
//! Between that and nothing lies the check-in band: a score that does not reach the crisis
//! threshold but reaches the check-in one. Nothing leaves the machine.

mod answer;
mod engine;
pub mod model;
pub mod reviewed;

pub use self::model::MODEL_MIN_WORDS;
use self::model::{Model, Scores, Thresholds};

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
    let (crisis_score, advice_score, thresholds) = match model {
        Some((scores, thresholds)) => (scores.crisis, scores.advice, Some(thresholds)),
        None => (0.0, 0.0, None),
    };
    let reaches = |score: f32, pick: fn(&Thresholds) -> f32| {
        thresholds.is_some_and(|thresholds| score >= pick(&thresholds))
    };
    let crisis = rules == Concern::Crisis || reaches(crisis_score, |t| t.crisis);
    let advice = rules == Concern::Advice || reaches(advice_score, |t| t.advice);
    let concern = if crisis {
        Concern::Crisis
    } else if advice {
        Concern::Advice
    } else {
        Concern::None
    };
    let check_in = !crisis && reaches(crisis_score, |t| t.check_in);
    Explanation {
        reading: Reading {
            concern,
            check_in,
            near_crisis: check_in && reaches(crisis_score, |t| (t.check_in + t.crisis) / 2.0),
        },
        rules,
        crisis_rule,
        model,
    }
}
