//! Measures the crisis and advice detectors on the corpora in `tests/data/`, prints the figures,
//! and fails below the thresholds the practice agreed to.
//!
//! Four corpora, each written independently (see the README for their history):
//! - `tests/data/*.txt`: the development corpus the rules were first built on;
//! - `tests/data/heldout/` and `tests/data/fresh/`: written blind, measured blind once each,
//!   and then used to broaden the rules, so they are development corpora now too;
//! - `tests/data/fresh2/`: written last, by someone who saw neither the rules nor the other
//!   corpora, and never used to change a rule. Its figures are the honest estimate of how the
//!   rules do on words they were not built from; its misses are never printed here, so that
//!   nobody is tempted to write rules for them.
//!
//! Run with `cargo test --test safety_corpus -- --nocapture` to see the figures and every miss.

use crossroads::core::safety::{Concern, assess};

fn lines(path: &str) -> Vec<String> {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full)
        .unwrap_or_else(|error| panic!("cannot read {full}: {error}"))
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

struct Figures {
    recall: f64,
    false_positive_rate: f64,
    positives: usize,
    negatives: usize,
}

/// How often `target` is found in `positives`, and wrongly found in `negatives`. Misses are
/// listed only for the development corpus: listing the held-out ones would invite writing
/// rules for them, and then they would no longer be held out.
fn measure(
    name: &str,
    target: Concern,
    positives: &[String],
    negatives: &[String],
    list_misses: bool,
) -> Figures {
    let missed: Vec<&String> = positives
        .iter()
        .filter(|text| assess(text) != target)
        .collect();
    let false_alarms: Vec<&String> = negatives
        .iter()
        .filter(|text| assess(text) == target)
        .collect();
    let figures = Figures {
        recall: 1.0 - missed.len() as f64 / positives.len() as f64,
        false_positive_rate: false_alarms.len() as f64 / negatives.len() as f64,
        positives: positives.len(),
        negatives: negatives.len(),
    };
    println!(
        "{name}: recall {:.1}% ({} of {}), false positives {:.1}% ({} of {})",
        figures.recall * 100.0,
        positives.len() - missed.len(),
        figures.positives,
        figures.false_positive_rate * 100.0,
        false_alarms.len(),
        figures.negatives,
    );
    if list_misses {
        for text in missed {
            println!("  missed: {text}");
        }
        for text in false_alarms {
            println!("  false alarm: {text}");
        }
    }
    figures
}

#[test]
fn the_corpora_are_big_enough_to_mean_something() {
    assert!(lines("crisis.txt").len() >= 150);
    assert!(lines("advice.txt").len() >= 150);
    assert!(lines("ordinary.txt").len() >= 300);
}

#[test]
fn crisis_messages_are_found_and_ordinary_ones_left_alone() {
    let ordinary = [lines("ordinary.txt"), lines("advice.txt")].concat();
    let figures = measure(
        "crisis (development corpus)",
        Concern::Crisis,
        &lines("crisis.txt"),
        &ordinary,
        true,
    );
    assert!(figures.recall >= 0.95, "crisis recall below 95%");
    assert!(
        figures.false_positive_rate <= 0.03,
        "crisis false positives above 3%"
    );
}

#[test]
fn advice_requests_are_found_and_ordinary_replies_left_alone() {
    let figures = measure(
        "advice (development corpus)",
        Concern::Advice,
        &lines("advice.txt"),
        &lines("ordinary.txt"),
        true,
    );
    assert!(figures.recall >= 0.90, "advice recall below 90%");
    assert!(
        figures.false_positive_rate <= 0.05,
        "advice false positives above 5%"
    );
}

#[test]
fn the_rules_hold_on_the_later_development_corpora() {
    for folder in ["heldout", "fresh"] {
        let ordinary = lines(&format!("{folder}/ordinary.txt"));
        let advice_requests = lines(&format!("{folder}/advice.txt"));
        let crisis = measure(
            &format!("crisis ({folder} corpus)"),
            Concern::Crisis,
            &lines(&format!("{folder}/crisis.txt")),
            &[ordinary.clone(), advice_requests.clone()].concat(),
            true,
        );
        let advice = measure(
            &format!("advice ({folder} corpus)"),
            Concern::Advice,
            &advice_requests,
            &ordinary,
            true,
        );
        assert!(
            crisis.recall >= 0.95 && crisis.false_positive_rate <= 0.03,
            "crisis rules on {folder}"
        );
        assert!(
            advice.recall >= 0.90 && advice.false_positive_rate <= 0.05,
            "advice rules on {folder}"
        );
    }
}

#[test]
fn the_rules_on_a_corpus_never_used_to_build_them() {
    let ordinary = lines("fresh2/ordinary.txt");
    let advice_requests = lines("fresh2/advice.txt");
    let crisis = measure(
        "crisis (blind corpus)",
        Concern::Crisis,
        &lines("fresh2/crisis.txt"),
        &[ordinary.clone(), advice_requests.clone()].concat(),
        false,
    );
    let advice = measure(
        "advice (blind corpus)",
        Concern::Advice,
        &advice_requests,
        &ordinary,
        false,
    );
    // Regression guards set just below the one blind measurement, not targets to tune towards.
    assert!(
        crisis.recall >= BLIND_CRISIS_RECALL_FLOOR,
        "crisis recall fell on the blind corpus"
    );
    assert!(
        crisis.false_positive_rate <= BLIND_CRISIS_FALSE_POSITIVE_CEILING,
        "crisis false positives rose"
    );
    assert!(
        advice.recall >= BLIND_ADVICE_RECALL_FLOOR,
        "advice recall fell on the blind corpus"
    );
    assert!(
        advice.false_positive_rate <= BLIND_ADVICE_FALSE_POSITIVE_CEILING,
        "advice false positives rose"
    );
}

/// Measured once, blind, on 2026-11-25: crisis 59.2% recall (71 of 120) with 2.5% false
/// positives (8 of 320); advice 93.0% recall (93 of 100) with 0.5% false positives (1 of 220).
const BLIND_CRISIS_RECALL_FLOOR: f64 = 0.55;
const BLIND_CRISIS_FALSE_POSITIVE_CEILING: f64 = 0.04;
const BLIND_ADVICE_RECALL_FLOOR: f64 = 0.90;
const BLIND_ADVICE_FALSE_POSITIVE_CEILING: f64 = 0.02;

/// Lists the misses on a corpus, for working on the rules: `cargo test --test safety_corpus
/// list_misses -- --ignored --nocapture` with CORPUS set to a folder under tests/data.
#[test]
#[ignore = "a tool for working on the rules, not a check"]
fn list_misses() {
    let folder = std::env::var("CORPUS").unwrap_or_default();
    let at = |name: &str| {
        if folder.is_empty() {
            name.to_owned()
        } else {
            format!("{folder}/{name}")
        }
    };
    let ordinary = lines(&at("ordinary.txt"));
    measure(
        "crisis",
        Concern::Crisis,
        &lines(&at("crisis.txt")),
        &[ordinary.clone(), lines(&at("advice.txt"))].concat(),
        true,
    );
    measure(
        "advice",
        Concern::Advice,
        &lines(&at("advice.txt")),
        &ordinary,
        true,
    );
}
