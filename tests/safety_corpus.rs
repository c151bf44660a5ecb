//! Measures the crisis and advice detectors on the corpora in `tests/data/`, prints the figures,
//! and fails below the thresholds the practice agreed to.
//!
//! The corpora, each written independently by someone who had not seen the rules (the README
//! tells their history):
//! - development: `tests/data/*.txt`, `heldout/`, `fresh/` and `dev2/`. The rules were built or
//!   broadened on them, so they must all pass the thresholds;
//! - blind: `fresh2/` and `fresh3/`, never used to change a rule. Their figures are the honest
//!   estimate of how the rules do on words they were not built from, and their misses are never
//!   printed here, so that nobody is tempted to write rules for them.

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
    // The larger crisis corpus, with its 500 ordinary replies (300 of them hard negatives).
    let crisis = measure(
        "crisis (dev2 corpus)",
        Concern::Crisis,
        &lines("dev2/crisis.txt"),
        &lines("dev2/ordinary.txt"),
        true,
    );
    assert!(
        crisis.recall >= 0.95 && crisis.false_positive_rate <= 0.03,
        "crisis rules on dev2"
    );
}

/// One blind corpus: measured, never used to change a rule, its misses never listed.
struct Blind {
    folder: &'static str,
    crisis_recall_floor: f64,
    crisis_false_positive_ceiling: f64,
    advice_recall_floor: f64,
    advice_false_positive_ceiling: f64,
}

/// The floors and ceilings are regression guards set just below the measurements the README
/// records, not targets to tune towards.
const BLIND: [Blind; 2] = [
    // First measured at crisis 59.2% recall, 2.5% false positives; advice 93.0%, 0.5%. Measured
    // again after the rules were broadened on dev2: crisis 62.5%, 1.6%; advice 93.0%, 0.5%.
    Blind {
        folder: "fresh2",
        crisis_recall_floor: 0.60,
        crisis_false_positive_ceiling: 0.03,
        advice_recall_floor: 0.90,
        advice_false_positive_ceiling: 0.02,
    },
    // Measured once, after all rule work: crisis 71.7% recall, 2.2% false positives; advice
    // 94.0%, 0.5%.
    Blind {
        folder: "fresh3",
        crisis_recall_floor: 0.68,
        crisis_false_positive_ceiling: 0.03,
        advice_recall_floor: 0.90,
        advice_false_positive_ceiling: 0.02,
    },
];

#[test]
fn the_rules_on_corpora_never_used_to_build_them() {
    for blind in BLIND {
        let folder = blind.folder;
        let ordinary = lines(&format!("{folder}/ordinary.txt"));
        let advice_requests = lines(&format!("{folder}/advice.txt"));
        let crisis = measure(
            &format!("crisis (blind corpus {folder})"),
            Concern::Crisis,
            &lines(&format!("{folder}/crisis.txt")),
            &[ordinary.clone(), advice_requests.clone()].concat(),
            false,
        );
        let advice = measure(
            &format!("advice (blind corpus {folder})"),
            Concern::Advice,
            &advice_requests,
            &ordinary,
            false,
        );
        assert!(
            crisis.recall >= blind.crisis_recall_floor,
            "crisis recall fell on {folder}"
        );
        assert!(
            crisis.false_positive_rate <= blind.crisis_false_positive_ceiling,
            "crisis false positives rose on {folder}"
        );
        assert!(
            advice.recall >= blind.advice_recall_floor,
            "advice recall fell on {folder}"
        );
        assert!(
            advice.false_positive_rate <= blind.advice_false_positive_ceiling,
            "advice false positives rose on {folder}"
        );
    }
}

/// Lists the misses on a development corpus, for working on the rules: `cargo test --test
/// safety_corpus list_misses -- --ignored --nocapture` with CORPUS set to a folder under
/// tests/data. Never point it at a blind corpus.
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
