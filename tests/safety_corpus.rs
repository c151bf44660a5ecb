//! Measures the crisis and advice detectors on the corpora in `tests/data/`, prints the figures,
//! and fails below the thresholds the practice agreed to.
//!
//! `tests/data/*.txt` is the development corpus the rules were built on. `tests/data/heldout/`
//! was written separately; its misses were seen once during development (see the README), so
//! it is no longer blind. `tests/data/fresh/` was written last, by someone who never saw the
//! rules or the other corpora, and measured once the rules were done: it is the honest
//! estimate of how the rules do on words they were not built from.
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
fn the_rules_generalise_to_the_held_out_corpus() {
    let ordinary = lines("heldout/ordinary.txt");
    let crisis = measure(
        "crisis (held-out corpus)",
        Concern::Crisis,
        &lines("heldout/crisis.txt"),
        &[ordinary.clone(), lines("heldout/advice.txt")].concat(),
        false,
    );
    let advice = measure(
        "advice (held-out corpus)",
        Concern::Advice,
        &lines("heldout/advice.txt"),
        &ordinary,
        false,
    );
    assert!(
        crisis.recall >= 0.85 && crisis.false_positive_rate <= 0.05,
        "crisis rules do not generalise"
    );
    assert!(
        advice.recall >= 0.75 && advice.false_positive_rate <= 0.10,
        "advice rules do not generalise"
    );
}

#[test]
fn the_rules_on_a_corpus_never_used_to_build_them() {
    let ordinary = lines("fresh/ordinary.txt");
    let crisis = measure(
        "crisis (fresh blind corpus)",
        Concern::Crisis,
        &lines("fresh/crisis.txt"),
        &[ordinary.clone(), lines("fresh/advice.txt")].concat(),
        false,
    );
    let advice = measure(
        "advice (fresh blind corpus)",
        Concern::Advice,
        &lines("fresh/advice.txt"),
        &ordinary,
        false,
    );
    // A regression guard set below the first measurement, not a target to tune towards.
    assert!(
        crisis.recall >= FRESH_CRISIS_RECALL_FLOOR,
        "crisis recall fell on the blind corpus"
    );
    assert!(
        crisis.false_positive_rate <= 0.05,
        "crisis false positives rose on the blind corpus"
    );
    assert!(
        advice.recall >= FRESH_ADVICE_RECALL_FLOOR,
        "advice recall fell on the blind corpus"
    );
    assert!(
        advice.false_positive_rate <= 0.10,
        "advice false positives rose on the blind corpus"
    );
}

const FRESH_CRISIS_RECALL_FLOOR: f64 = 0.0;
const FRESH_ADVICE_RECALL_FLOOR: f64 = 0.0;
