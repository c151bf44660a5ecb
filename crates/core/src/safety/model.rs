//! The learned detector beside the rules: two logistic regressions (crisis, advice) over hashed
//! TF-IDF features of words, word pairs and character n-grams. Plain arithmetic, run in the
//! binary, the same result on every machine.
//!
//! The weights in `model/weights.bin` are built from the corpora in `tests/data/` by
//! `cargo run --release -p crossroads-train`, which also fixes the thresholds out of fold
//! before any blind measurement; `model/CARD.md` says what it was trained on and how it does.

use std::{collections::BTreeMap, sync::LazyLock};

/// The model learned from messages that are sentences; on a word or two ("ok", "delete",
/// "bye") its score says more about the word than about the person, so only the rules read
/// those.
pub const MODEL_MIN_WORDS: usize = 3;

/// Features are hashed into this many slots.
pub const DIMENSIONS: usize = 1 << 18;

const MAGIC: &[u8; 8] = b"XRSAFE02";

/// How many thresholds and biases the file holds before its tables.
const HEADER_FLOATS: usize = 6;

/// The shipped model, read once.
static MODEL: LazyLock<Option<Model>> =
    LazyLock::new(|| Model::from_bytes(include_bytes!("model/weights.bin")).ok());

pub(crate) fn shipped() -> Option<&'static Model> {
    MODEL.as_ref()
}

/// Where a score must reach for each answer. Chosen out of fold on the training corpora.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// At or above: the crisis answer.
    pub crisis: f32,
    /// At or above, and below `crisis`: the acknowledgement with a gentle check-in line.
    pub check_in: f32,
    /// At or above: the advice answer.
    pub advice: f32,
    /// Below it, a crisis rule that fired on a message the model read is doubted: the rules
    /// match words, and the model, which reads the whole message, is then all but sure it is a
    /// figure of speech, the past or someone else's story. Such a message gets the check-in
    /// (the crisis lines a tap away) instead of the crisis answer, never nothing.
    pub rule_doubt: f32,
}

/// One binary classifier: a weight per feature slot and a bias.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub weights: Vec<f32>,
    pub bias: f32,
}

impl Linear {
    fn score(&self, features: &[(u32, f32)]) -> f32 {
        let sum: f32 = features
            .iter()
            .map(|(slot, value)| self.weights[*slot as usize] * value)
            .sum();
        sigmoid(sum + self.bias)
    }
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The model's two scores for a message, each between 0 and 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    pub crisis: f32,
    pub advice: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Inverse document frequency per slot, from the training corpora.
    pub idf: Vec<f32>,
    pub crisis: Linear,
    pub advice: Linear,
    pub thresholds: Thresholds,
}

impl Model {
    pub fn scores(&self, text: &str) -> Scores {
        self.scores_of(&sentences(text))
    }

    /// The scores as the bot uses them: `None` for a message shorter than [`MODEL_MIN_WORDS`],
    /// which the model does not read.
    pub fn scores_if_read(&self, text: &str) -> Option<Scores> {
        let sentences = sentences(text);
        let words: usize = sentences.iter().map(Vec::len).sum();
        (words >= MODEL_MIN_WORDS).then(|| self.scores_of(&sentences))
    }

    /// The crisis score reads the message whole. A request for advice is often one question
    /// inside a long answer, which the rest of the answer dilutes, so the advice score is the
    /// mean of the whole message's and that of its most advice-like run of one or two
    /// sentences. Not that run alone: a reply that opens by repeating the bot's own question
    /// ("What would I miss?") would then read as a request.
    fn scores_of(&self, sentences: &[Vec<String>]) -> Scores {
        let whole = weigh(&counts_of(&sentences.concat()), &self.idf);
        let whole_advice = self.advice.score(&whole);
        let mut advice = whole_advice;
        for width in (1..=2).filter(|width| *width < sentences.len()) {
            for window in sentences.windows(width) {
                let part = window.concat();
                if part.len() >= MODEL_MIN_WORDS {
                    advice = advice.max(self.advice.score(&weigh(&counts_of(&part), &self.idf)));
                }
            }
        }
        Scores {
            crisis: self.crisis.score(&whole),
            advice: (whole_advice + advice) / 2.0,
        }
    }

    /// The message as a unit-length TF-IDF vector, sparse, sorted by slot.
    pub fn features(&self, text: &str) -> Vec<(u32, f32)> {
        weigh(&term_counts(text), &self.idf)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + HEADER_FLOATS * 4 + DIMENSIONS * 12);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(DIMENSIONS as u32).to_le_bytes());
        for value in [
            self.thresholds.crisis,
            self.thresholds.check_in,
            self.thresholds.advice,
            self.thresholds.rule_doubt,
            self.crisis.bias,
            self.advice.bias,
        ] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        for table in [&self.idf, &self.crisis.weights, &self.advice.weights] {
            for value in table.iter() {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Model, String> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or("not a Crossroads safety model")?;
        let mut floats = rest
            .chunks_exact(4)
            .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        let dimensions = rest
            .get(..4)
            .map(|head| u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize);
        if dimensions != Some(DIMENSIONS) || rest.len() != 4 + HEADER_FLOATS * 4 + DIMENSIONS * 12 {
            return Err(format!(
                "the model has the wrong size ({} bytes) for {DIMENSIONS} slots",
                bytes.len()
            ));
        }
        floats.next();
        let mut next = || floats.next().unwrap_or_default();
        let thresholds = Thresholds {
            crisis: next(),
            check_in: next(),
            advice: next(),
            rule_doubt: next(),
        };
        let (crisis_bias, advice_bias) = (next(), next());
        let idf: Vec<f32> = (0..DIMENSIONS).map(|_| next()).collect();
        let crisis: Vec<f32> = (0..DIMENSIONS).map(|_| next()).collect();
        let advice: Vec<f32> = (0..DIMENSIONS).map(|_| next()).collect();
        Ok(Model {
            idf,
            crisis: Linear {
                weights: crisis,
                bias: crisis_bias,
            },
            advice: Linear {
                weights: advice,
                bias: advice_bias,
            },
            thresholds,
        })
    }
}

/// The message's words, sentence by sentence (a sentence ends at `.`, `!`, `?` or a line break).
fn sentences(text: &str) -> Vec<Vec<String>> {
    text.split_inclusive(['.', '!', '?', '\n'])
        .map(tokens)
        .filter(|words| !words.is_empty())
        .collect()
}

/// Lower case, apostrophes dropped, ASCII punctuation and general punctuation turned into
/// spaces; letters, digits and emoji kept, since "🪦🪦 soon" says as much as words do.
pub fn tokens(text: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            '\'' | '’' | '‘' | '`' | '´' => {}
            c if c.is_alphanumeric() => cleaned.push(c),
            c if c.is_ascii() || c.is_whitespace() || ('\u{2000}'..='\u{206f}').contains(&c) => {
                cleaned.push(' ');
            }
            // Emoji and other symbols: each one a word of its own.
            c => {
                cleaned.push(' ');
                cleaned.push(c);
                cleaned.push(' ');
            }
        }
    }
    cleaned.split_whitespace().map(str::to_owned).collect()
}

/// FNV-1a, 64 bits: small, fast and the same everywhere.
fn slot(kind: u8, text: &str) -> u32 {
    let mut hash = Fnv::new(kind);
    hash.bytes(text.as_bytes());
    hash.slot()
}

/// The same hash as [`slot`] of the characters' UTF-8, without building a string.
fn slot_of_chars(kind: u8, chars: &[char]) -> u32 {
    let mut hash = Fnv::new(kind);
    let mut buffer = [0; 4];
    for c in chars {
        hash.bytes(c.encode_utf8(&mut buffer).as_bytes());
    }
    hash.slot()
}

struct Fnv(u64);

impl Fnv {
    fn new(kind: u8) -> Fnv {
        let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
        hash.bytes(&[kind]);
        hash
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn slot(&self) -> u32 {
        (self.0 % DIMENSIONS as u64) as u32
    }
}

/// How often each feature occurs in a message: words, pairs and triples of words, character
/// runs of 3 to 5 inside each word padded with spaces (which catch misspellings and word
/// forms), and runs of 6 across words.
pub fn term_counts(text: &str) -> BTreeMap<u32, f32> {
    counts_of(&tokens(text))
}

fn counts_of(words: &[String]) -> BTreeMap<u32, f32> {
    let mut counts = BTreeMap::new();
    let mut add = |slot: u32| *counts.entry(slot).or_insert(0.0) += 1.0;
    for word in words {
        add(slot(b'w', word));
        let padded: Vec<char> = format!(" {word} ").chars().collect();
        for n in 3..=5 {
            for window in padded.windows(n) {
                add(slot_of_chars(b'c', window));
            }
        }
    }
    for pair in words.windows(2) {
        add(slot(b'b', &format!("{} {}", pair[0], pair[1])));
    }
    // Across word boundaries too: "end it", "kill my" and "no way out" as runs of characters.
    let joined: Vec<char> = format!(" {} ", words.join(" ")).chars().collect();
    for window in joined.windows(6) {
        add(slot_of_chars(b'x', window));
    }
    for triple in words.windows(3) {
        add(slot(
            b't',
            &format!("{} {} {}", triple[0], triple[1], triple[2]),
        ));
    }
    counts
}

/// Sublinear term frequency times IDF, scaled to unit length.
pub fn weigh(counts: &BTreeMap<u32, f32>, idf: &[f32]) -> Vec<(u32, f32)> {
    let mut features: Vec<(u32, f32)> = counts
        .iter()
        .map(|(slot, count)| (*slot, (1.0 + count.ln()) * idf[*slot as usize]))
        .filter(|(_, value)| *value > 0.0)
        .collect();
    let norm = features
        .iter()
        .map(|(_, value)| value * value)
        .sum::<f32>()
        .sqrt();
    if norm > 0.0 {
        for (_, value) in &mut features {
            *value /= norm;
        }
    }
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_words_and_emoji_and_drop_punctuation() {
        assert_eq!(
            tokens("I DON’T want… to be here!! 🪦🪦"),
            ["i", "dont", "want", "to", "be", "here", "🪦", "🪦"]
        );
    }

    #[test]
    fn features_are_unit_length_and_the_same_for_the_same_text() {
        let idf = vec![1.0; DIMENSIONS];
        let a = weigh(&term_counts("we barely talk anymore"), &idf);
        let b = weigh(&term_counts("We barely talk, anymore."), &idf);
        assert_eq!(a, b);
        let norm: f32 = a.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn hashing_characters_is_hashing_their_text() {
        let chars: Vec<char> = " ünï🪦 ".chars().collect();
        assert_eq!(slot_of_chars(b'c', &chars), slot(b'c', " ünï🪦 "));
    }

    #[test]
    fn a_model_survives_its_file_format() {
        let mut weights = vec![0.0; DIMENSIONS];
        weights[7] = 1.5;
        let model = Model {
            idf: vec![2.0; DIMENSIONS],
            crisis: Linear {
                weights: weights.clone(),
                bias: -1.0,
            },
            advice: Linear { weights, bias: 0.5 },
            thresholds: Thresholds {
                crisis: 0.6,
                check_in: 0.3,
                advice: 0.5,
                rule_doubt: 0.02,
            },
        };
        assert_eq!(Model::from_bytes(&model.to_bytes()).unwrap(), model);
        assert!(Model::from_bytes(b"not a model").is_err());
    }

    #[test]
    fn the_shipped_model_loads() {
        assert!(shipped().is_some(), "model/weights.bin does not load");
    }
}
