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
//!
//! Run with `cargo test --test safety_corpus -- --nocapture` to see the figures.

use std::path::PathBuf;

use crossroads_core::safety::{Concern, assess};

fn path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file)
}

/// Every corpus folder ("" for the top one) and the number of messages each of its files
/// holds. A file that goes missing, is emptied or loses lines fails the test that checks this,
/// and reading one fails every other test, so no guard can pass on a corpus that is not there.
const CORPORA: [(&str, &[(&str, usize)]); 6] = [
    (
        "",
        &[
            ("crisis.txt", 238),
            ("advice.txt", 236),
            ("ordinary.txt", 420),
        ],
    ),
    (
        "heldout",
        &[
            ("crisis.txt", 80),
            ("advice.txt", 80),
            ("ordinary.txt", 160),
        ],
    ),
    (
        "fresh",
        &[
            ("crisis.txt", 100),
            ("advice.txt", 100),
            ("ordinary.txt", 200),
        ],
    ),
    ("dev2", &[("crisis.txt", 300), ("ordinary.txt", 500)]),
    (
        "fresh2",
        &[
            ("crisis.txt", 120),
            ("advice.txt", 100),
            ("ordinary.txt", 220),
        ],
    ),
    (
        "fresh3",
        &[
            ("crisis.txt", 120),
            ("advice.txt", 100),
            ("ordinary.txt", 220),
        ],
    ),
];

/// The non-empty lines of a corpus file. A file that is missing or empty is an error, never an
/// empty corpus: an empty crisis set would otherwise score 100% recall.
fn lines(file: &str) -> Vec<String> {
    let full = path(file);
    let lines: Vec<String> = std::fs::read_to_string(&full)
        .unwrap_or_else(|error| panic!("cannot read the corpus {}: {error}", full.display()))
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(!lines.is_empty(), "the corpus {} is empty", full.display());
    lines
}

fn has_file(folder: &str, name: &str) -> bool {
    CORPORA
        .iter()
        .find(|(listed, _)| *listed == folder)
        .unwrap_or_else(|| panic!("{folder:?} is not a listed corpus folder"))
        .1
        .iter()
        .any(|(file, _)| *file == name)
}

struct Figures {
    recall: f64,
    false_positive_rate: f64,
}

/// How often `target` is found in `positives`, and wrongly found in `negatives`.
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
    assert!(
        !positives.is_empty() && !negatives.is_empty(),
        "{name}: nothing to measure on"
    );
    let figures = Figures {
        recall: 1.0 - missed.len() as f64 / positives.len() as f64,
        false_positive_rate: false_alarms.len() as f64 / negatives.len() as f64,
    };
    println!(
        "{name}: recall {:.1}% ({} of {}), false positives {:.1}% ({} of {})",
        figures.recall * 100.0,
        positives.len() - missed.len(),
        positives.len(),
        figures.false_positive_rate * 100.0,
        false_alarms.len(),
        negatives.len(),
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

/// Both detectors on one corpus folder ("" for the top one). A crisis false positive is counted
/// over the ordinary replies and the advice requests; an advice false positive over the
/// ordinary replies. `None` for advice where the folder has no advice requests.
fn measure_folder(folder: &str, list_misses: bool) -> (Figures, Option<Figures>) {
    let file = |name: &str| {
        if folder.is_empty() {
            name.to_owned()
        } else {
            format!("{folder}/{name}")
        }
    };
    let label = if folder.is_empty() {
        "development"
    } else {
        folder
    };
    let ordinary = lines(&file("ordinary.txt"));
    let advice_requests = if has_file(folder, "advice.txt") {
        lines(&file("advice.txt"))
    } else {
        Vec::new()
    };
    let crisis = measure(
        &format!("crisis ({label})"),
        Concern::Crisis,
        &lines(&file("crisis.txt")),
        &[ordinary.clone(), advice_requests.clone()].concat(),
        list_misses,
    );
    let advice = (!advice_requests.is_empty()).then(|| {
        measure(
            &format!("advice ({label})"),
            Concern::Advice,
            &advice_requests,
            &ordinary,
            list_misses,
        )
    });
    (crisis, advice)
}

#[test]
fn every_corpus_holds_what_it_should() {
    for (folder, files) in CORPORA {
        for (name, expected) in files {
            let file = if folder.is_empty() {
                (*name).to_owned()
            } else {
                format!("{folder}/{name}")
            };
            assert_eq!(
                lines(&file).len(),
                *expected,
                "tests/data/{file} should hold {expected} messages"
            );
        }
    }
}

/// The thresholds the practice agreed to, on every corpus the rules were built on.
#[test]
fn the_development_corpora_meet_the_thresholds() {
    for folder in ["", "heldout", "fresh", "dev2"] {
        let (crisis, advice) = measure_folder(folder, true);
        assert!(
            crisis.recall >= 0.95,
            "crisis recall below 95% on {folder:?}"
        );
        assert!(
            crisis.false_positive_rate <= 0.03,
            "crisis false positives above 3% on {folder:?}"
        );
        if let Some(advice) = advice {
            assert!(
                advice.recall >= 0.90,
                "advice recall below 90% on {folder:?}"
            );
            assert!(
                advice.false_positive_rate <= 0.05,
                "advice false positives above 5% on {folder:?}"
            );
        }
    }
}

/// One blind corpus, with regression guards set just below the measurements the README records:
/// not targets to tune towards.
struct Blind {
    folder: &'static str,
    crisis_recall_floor: f64,
    crisis_false_positive_ceiling: f64,
    advice_recall_floor: f64,
    advice_false_positive_ceiling: f64,
}

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
        let (crisis, advice) = measure_folder(folder, false);
        let advice = advice.expect("every blind corpus has advice requests");
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

/// Lists the misses on a development corpus, for working on the rules: `CORPUS=dev2 cargo test
/// --test safety_corpus list_misses -- --ignored --nocapture`. Never point it at a blind corpus.
#[test]
#[ignore = "a tool for working on the rules, not a check"]
fn list_misses() {
    let folder = std::env::var("CORPUS").unwrap_or_default();
    assert!(
        !BLIND.iter().any(|blind| blind.folder == folder),
        "{folder} is blind: its misses stay unread"
    );
    measure_folder(&folder, true);
}
