//! Builds the learned safety detector: `cargo run --release -p crossroads-train`.
//!
//! 1. Reads every development corpus in `tests/data/` (never a blind one; see [`BLIND`]).
//! 2. Scores each message out of fold (5 folds), and fixes the thresholds on those scores, for
//!    the detector as it runs: a rule fires OR the score crosses the threshold.
//! 3. Trains on everything and writes `crates/core/src/safety/model/weights.bin`, and the
//!    reviewed examples `crossroads safety` shows as nearest, and prints the out-of-fold figures.
//!
//! Deterministic: the same corpora give the same bytes.
//!
//! `--dump <path>` (or `CROSSROADS_TRAIN_DUMP=<path>`) also writes the out-of-fold scores of
//! every training example as TSV, for comparing other detectors on the same folds; it changes
//! nothing else.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use crossroads_core::safety::{
    Concern, Scores, combine,
    model::{DIMENSIONS, Linear, Model, Thresholds, sigmoid, term_counts, weigh},
    rules_only,
};

/// Corpora that are measured, never trained on: every folder under `blind/` (including those
/// kept unmeasured for the next round). A blind corpus, once measured, retires to `retired/`
/// and is trained on from the next round.
const BLIND: [&str; 1] = ["blind"];

/// Out-of-fold false-positive budgets the thresholds are fixed at. The crisis budget is for
/// the model alone, on messages that are not a crisis; the rules add their own, which the
/// development corpora cannot show (the rules were built on them).
const CRISIS_MODEL_FALSE_POSITIVES: f64 = 0.014;
/// The share of ordinary messages (neither crisis nor advice) that may get a check-in line.
const CHECK_IN_SHARE: f64 = 0.05;
const ADVICE_MODEL_FALSE_POSITIVES: f64 = 0.025;
/// The share of the crisis messages a rule finds (among those the model reads) whose rule may
/// be doubted, and softened to a check-in, on the model's word.
const RULE_DOUBT_BUDGET: f64 = 0.01;

const FOLDS: u64 = 5;
const EPOCHS: usize = 20;
const LEARNING_RATE: f32 = 0.5;
const L2: f32 = 1e-5;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Label {
    Crisis,
    Advice,
    Ordinary,
}

struct Example {
    text: String,
    label: Label,
    /// The crisis category or ordinary kind named by the file, where it names one.
    category: String,
}

fn label_of(file: &str) -> Option<(Label, String)> {
    let stem = file.strip_suffix(".txt")?;
    let stem = stem
        .strip_suffix(".short")
        .or_else(|| stem.strip_suffix(".reply"))
        .unwrap_or(stem);
    if let Some(category) = stem.strip_prefix("crisis-") {
        return Some((Label::Crisis, category.to_owned()));
    }
    if let Some(kind) = stem.strip_prefix("ordinary-") {
        return Some((Label::Ordinary, kind.to_owned()));
    }
    match stem {
        "crisis" => Some((Label::Crisis, "unlabelled".to_owned())),
        "advice" => Some((Label::Advice, "advice".to_owned())),
        "ordinary" => Some((Label::Ordinary, "unlabelled".to_owned())),
        _ => None,
    }
}

/// Every corpus file under `root`, with the folder it is in relative to `root`.
fn corpus_files(root: &Path, folder: &Path, found: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", folder.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            corpus_files(root, &path, found);
        } else if path.extension().is_some_and(|ext| ext == "txt") {
            let relative = path
                .parent()
                .and_then(|parent| parent.strip_prefix(root).ok())
                .map(|parent| parent.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            found.push((relative, path));
        }
    }
}

fn is_blind(folder: &str) -> bool {
    BLIND
        .iter()
        .any(|blind| folder == *blind || folder.starts_with(&format!("{blind}/")))
}

fn read_examples(root: &Path) -> Vec<Example> {
    let mut files = Vec::new();
    corpus_files(root, root, &mut files);
    // A line that is also in a blind corpus is never trained on, so that corpus stays blind.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (folder, path) in files.iter().filter(|(folder, _)| is_blind(folder)) {
        let text = fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("cannot read {folder}: {error}"));
        seen.extend(text.lines().map(str::trim).map(str::to_owned));
    }
    let mut examples = Vec::new();
    for (folder, path) in files {
        if is_blind(&folder) {
            continue;
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let Some((label, category)) = label_of(&name) else {
            continue;
        };
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
            // Independent writers sometimes land on the same words; one copy is enough.
            if seen.insert(line.to_owned()) {
                examples.push(Example {
                    text: line.to_owned(),
                    label,
                    category: category.clone(),
                });
            }
        }
    }
    examples
}

/// A small deterministic generator (SplitMix64), so training needs no dependency and no seed
/// from the machine.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = (self.next() % (index as u64 + 1)) as usize;
            items.swap(index, other);
        }
    }
}

fn fold_of(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash % FOLDS
}

fn idf(documents: &[&std::collections::BTreeMap<u32, f32>]) -> Vec<f32> {
    let mut frequency = vec![0u32; DIMENSIONS];
    for counts in documents {
        for slot in counts.keys() {
            frequency[*slot as usize] += 1;
        }
    }
    let total = documents.len() as f32;
    frequency
        .iter()
        .map(|df| {
            if *df == 0 {
                // Never seen in training: no weight to learn, and no share of a message's length.
                0.0
            } else {
                ((1.0 + total) / (1.0 + *df as f32)).ln() + 1.0
            }
        })
        .collect()
}

/// Logistic regression by AdaGrad, classes weighted to balance.
fn train(features: &[&Vec<(u32, f32)>], targets: &[bool], seed: u64) -> Linear {
    let positives = targets.iter().filter(|target| **target).count().max(1) as f32;
    let negatives = (targets.len() as f32 - positives).max(1.0);
    let total = targets.len() as f32;
    let (positive_weight, negative_weight) = (total / (2.0 * positives), total / (2.0 * negatives));
    let mut weights = vec![0.0f32; DIMENSIONS];
    let mut squares = vec![1e-8f32; DIMENSIONS];
    let (mut bias, mut bias_squares) = (0.0f32, 1e-8f32);
    let mut order: Vec<usize> = (0..features.len()).collect();
    let mut random = Random(seed);
    for _ in 0..EPOCHS {
        random.shuffle(&mut order);
        for &index in &order {
            let x = features[index];
            let z: f32 = x
                .iter()
                .map(|(slot, value)| weights[*slot as usize] * value)
                .sum();
            let target = if targets[index] { 1.0 } else { 0.0 };
            let weight = if targets[index] {
                positive_weight
            } else {
                negative_weight
            };
            let error = (sigmoid(z + bias) - target) * weight;
            for (slot, value) in x {
                let slot = *slot as usize;
                let gradient = error * value + L2 * weights[slot];
                squares[slot] += gradient * gradient;
                weights[slot] -= LEARNING_RATE * gradient / squares[slot].sqrt();
            }
            bias_squares += error * error;
            bias -= LEARNING_RATE * error / bias_squares.sqrt();
        }
    }
    Linear { weights, bias }
}

/// The lowest threshold at which the share of `scores` at or above it stays within `budget`.
fn threshold_for(mut scores: Vec<f32>, budget: f64) -> f32 {
    scores.sort_by(|a, b| b.total_cmp(a));
    let allowed = (scores.len() as f64 * budget).floor() as usize;
    // Just above the first score that would exceed the budget.
    scores
        .get(allowed)
        .map_or(0.5, |score| next_up(*score))
        .clamp(0.05, 0.999_999)
}

fn next_up(value: f32) -> f32 {
    f32::from_bits(value.to_bits() + 1)
}

fn share(count: usize, of: usize) -> f64 {
    count as f64 / of.max(1) as f64 * 100.0
}

/// Where to write the out-of-fold dump, if asked for.
fn dump_path() -> Option<PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--dump" {
            return Some(PathBuf::from(args.next().expect("--dump needs a path")));
        }
        if let Some(path) = arg.strip_prefix("--dump=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("CROSSROADS_TRAIN_DUMP")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
}

fn main() {
    let dump = dump_path();
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpora = workspace.join("tests/data");
    let examples = read_examples(&corpora);
    let by_label = |label| examples.iter().filter(|e| e.label == label).count();
    println!(
        "training on {} messages: {} crisis, {} advice, {} ordinary",
        examples.len(),
        by_label(Label::Crisis),
        by_label(Label::Advice),
        by_label(Label::Ordinary)
    );

    let counts: Vec<_> = examples.iter().map(|e| term_counts(&e.text)).collect();
    let folds: Vec<u64> = examples.iter().map(|e| fold_of(&e.text)).collect();
    let is_crisis: Vec<bool> = examples.iter().map(|e| e.label == Label::Crisis).collect();
    let is_advice: Vec<bool> = examples.iter().map(|e| e.label == Label::Advice).collect();

    // Out-of-fold scores: each message scored by a model that never saw it.
    let mut oof = vec![(0.0f32, 0.0f32); examples.len()];
    let mut read = vec![false; examples.len()];
    for fold in 0..FOLDS {
        let train_rows: Vec<usize> = (0..examples.len()).filter(|i| folds[*i] != fold).collect();
        let fold_idf = idf(&train_rows.iter().map(|i| &counts[*i]).collect::<Vec<_>>());
        let features: Vec<Vec<(u32, f32)>> = counts.iter().map(|c| weigh(c, &fold_idf)).collect();
        let train_features: Vec<&Vec<(u32, f32)>> =
            train_rows.iter().map(|i| &features[*i]).collect();
        let crisis = train(
            &train_features,
            &train_rows.iter().map(|i| is_crisis[*i]).collect::<Vec<_>>(),
            fold,
        );
        let advice = train(
            &train_features,
            &train_rows.iter().map(|i| is_advice[*i]).collect::<Vec<_>>(),
            fold + 100,
        );
        let fold_model = Model {
            idf: fold_idf,
            crisis,
            advice,
            thresholds: Thresholds {
                crisis: 1.0,
                check_in: 1.0,
                advice: 1.0,
                rule_doubt: 0.0,
            },
        };
        for index in (0..examples.len()).filter(|i| folds[*i] == fold) {
            // As the bot runs it: a message of a word or two is left to the rules.
            if let Some(scores) = fold_model.scores_if_read(&examples[index].text) {
                oof[index] = (scores.crisis, scores.advice);
                read[index] = true;
            }
        }
        println!("fold {} of {FOLDS} scored", fold + 1);
    }

    let not_crisis: Vec<f32> = (0..examples.len())
        .filter(|i| !is_crisis[*i])
        .map(|i| oof[i].0)
        .collect();
    let crisis_threshold = threshold_for(not_crisis, CRISIS_MODEL_FALSE_POSITIVES);
    let ordinary_below: Vec<f32> = (0..examples.len())
        .filter(|i| examples[*i].label == Label::Ordinary && oof[*i].0 < crisis_threshold)
        .map(|i| oof[i].0)
        .collect();
    let ordinary_total = by_label(Label::Ordinary);
    let check_in_threshold = threshold_for(
        ordinary_below,
        CHECK_IN_SHARE * ordinary_total as f64 / (ordinary_total as f64).max(1.0),
    )
    .min(crisis_threshold);
    let ordinary_advice: Vec<f32> = (0..examples.len())
        .filter(|i| examples[*i].label == Label::Ordinary)
        .map(|i| oof[i].1)
        .collect();
    let advice_threshold = threshold_for(ordinary_advice, ADVICE_MODEL_FALSE_POSITIVES);
    let rules: Vec<Concern> = examples.iter().map(|e| rules_only(&e.text)).collect();
    // The crisis messages a rule finds, by how low the model scores them: the doubt threshold
    // sits at or below the score of the lowest one it may soften.
    let mut found_by_rules: Vec<f32> = (0..examples.len())
        .filter(|i| is_crisis[*i] && read[*i] && rules[*i] == Concern::Crisis)
        .map(|i| oof[i].0)
        .collect();
    found_by_rules.sort_by(f32::total_cmp);
    let may_soften = (found_by_rules.len() as f64 * RULE_DOUBT_BUDGET).floor() as usize;
    println!(
        "crisis messages a rule finds and the model reads: {}; up to {may_soften} may be doubted",
        found_by_rules.len()
    );
    let rule_doubt = found_by_rules.get(may_soften).copied().unwrap_or(0.0);
    let thresholds = Thresholds {
        crisis: crisis_threshold,
        check_in: check_in_threshold,
        advice: advice_threshold,
        rule_doubt,
    };
    println!("thresholds, fixed out of fold: {thresholds:?}");
    report_out_of_fold(&examples, &oof, &read, &rules, &thresholds);
    if let Some(path) = &dump {
        write_dump(path, &examples, &folds, &oof, &read, &rules);
    }

    let final_idf = idf(&counts.iter().collect::<Vec<_>>());
    let features: Vec<Vec<(u32, f32)>> = counts.iter().map(|c| weigh(c, &final_idf)).collect();
    let all: Vec<&Vec<(u32, f32)>> = features.iter().collect();
    let model = Model {
        crisis: train(&all, &is_crisis, 7),
        advice: train(&all, &is_advice, 107),
        idf: final_idf,
        thresholds,
    };
    let model_dir = workspace.join("crates/core/src/safety/model");
    fs::write(model_dir.join("weights.bin"), model.to_bytes()).expect("write the model");
    let mut reviewed = String::new();
    for example in &examples {
        let label = label_name(example.label);
        reviewed.push_str(&format!(
            "{label}\t{}\t{}\n",
            example.category,
            example.text.replace('\t', " ")
        ));
    }
    fs::write(model_dir.join("reviewed.tsv"), reviewed).expect("write the reviewed examples");
    println!("wrote {}", model_dir.display());
}

fn label_name(label: Label) -> &'static str {
    match label {
        Label::Crisis => "crisis",
        Label::Advice => "advice",
        Label::Ordinary => "ordinary",
    }
}

/// One row per training example: its fold, label and category, what the rules alone decide,
/// whether the model reads it (a message of a word or two is left to the rules), its
/// out-of-fold scores, and its text.
fn write_dump(
    path: &Path,
    examples: &[Example],
    folds: &[u64],
    oof: &[(f32, f32)],
    read: &[bool],
    rules: &[Concern],
) {
    let mut out = String::from("fold\tlabel\tcategory\trules_only\tread\tcrisis\tadvice\ttext\n");
    for (index, example) in examples.iter().enumerate() {
        let rules = match rules[index] {
            Concern::Crisis => "crisis",
            Concern::Advice => "advice",
            Concern::None => "none",
        };
        let (crisis, advice) = oof[index];
        out.push_str(&format!(
            "{}\t{}\t{}\t{rules}\t{}\t{crisis:.9}\t{advice:.9}\t{}\n",
            folds[index],
            label_name(example.label),
            example.category,
            u8::from(read[index]),
            example.text.replace(['\t', '\r', '\n'], " ")
        ));
    }
    fs::write(path, out).unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    println!("wrote the out-of-fold dump to {}", path.display());
}

/// Out-of-fold figures of the detector as it runs (rules OR model), on the development
/// corpora: optimistic for the rules, which were built on them, honest for the model.
fn report_out_of_fold(
    examples: &[Example],
    oof: &[(f32, f32)],
    read: &[bool],
    rules: &[Concern],
    thresholds: &Thresholds,
) {
    let mut crisis_found = BTreeMap::<String, (usize, usize)>::new();
    let (mut false_crisis, mut not_crisis) = (0, 0);
    let (mut check_ins, mut ordinary) = (0, 0);
    let (mut advice_found, mut advice_total, mut false_advice) = (0, 0, 0);
    let (mut model_found, mut model_false, mut rules_false, mut caught) = (0, 0, 0, 0);
    let (mut doubted_true, mut doubted_false) = (0, 0);
    for (((example, (crisis_score, advice_score)), read), rules) in
        examples.iter().zip(oof).zip(read).zip(rules)
    {
        let rules = *rules;
        let model_crisis = *read && *crisis_score >= thresholds.crisis;
        let scores = Scores {
            crisis: *crisis_score,
            advice: *advice_score,
        };
        let (reading, doubted) = combine(rules, read.then_some((scores, *thresholds)));
        if doubted {
            if example.label == Label::Crisis {
                doubted_true += 1;
            } else {
                doubted_false += 1;
            }
        }
        let crisis = reading.concern == Concern::Crisis;
        let check_in = reading.check_in;
        let advice = reading.concern == Concern::Advice;
        match example.label {
            Label::Crisis => {
                let entry = crisis_found.entry(example.category.clone()).or_default();
                entry.1 += 1;
                if crisis {
                    entry.0 += 1;
                }
                if model_crisis {
                    model_found += 1;
                }
                if crisis || check_in {
                    caught += 1;
                }
            }
            Label::Advice | Label::Ordinary => {
                not_crisis += 1;
                if crisis {
                    false_crisis += 1;
                }
                if model_crisis {
                    model_false += 1;
                }
                if rules == Concern::Crisis {
                    rules_false += 1;
                }
            }
        }
        if example.label == Label::Ordinary {
            ordinary += 1;
            if check_in {
                check_ins += 1;
            }
            if advice {
                false_advice += 1;
            }
        }
        if example.label == Label::Advice {
            advice_total += 1;
            if advice || crisis {
                advice_found += 1;
            }
        }
    }
    let (found, total) = crisis_found
        .values()
        .fold((0, 0), |(f, t), (found, total)| (f + found, t + total));
    println!(
        "model alone: crisis recall {model_found} of {total}, false positives {model_false}; rules alone: false positives {rules_false}"
    );
    println!(
        "rules doubted and softened to a check-in: {doubted_false} false alarms, {doubted_true} crisis messages"
    );
    println!(
        "out of fold, rules OR model: crisis recall {:.1}% ({found} of {total}), false positives {:.1}% ({false_crisis} of {not_crisis})",
        share(found, total),
        share(false_crisis, not_crisis)
    );
    for (category, (found, total)) in &crisis_found {
        println!(
            "  {category}: {:.1}% ({found} of {total})",
            share(*found, *total)
        );
    }
    println!(
        "  crisis answer or check-in: {:.1}% of crisis messages ({caught} of {total})",
        share(caught, total)
    );
    println!(
        "  check-in on {:.1}% of ordinary messages ({check_ins} of {ordinary})",
        share(check_ins, ordinary)
    );
    println!(
        "  advice recall {:.1}% ({advice_found} of {advice_total}), false positives {:.1}% ({false_advice} of {ordinary})",
        share(advice_found, advice_total),
        share(false_advice, ordinary)
    );
}
