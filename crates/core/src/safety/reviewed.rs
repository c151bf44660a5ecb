//! The reviewed examples the model was trained on, for explaining a decision: the messages
//! nearest to a new one, with the labels their writers gave them. Built into the binary with
//! the model (`model/reviewed.tsv`, written by the trainer), so `crossroads safety` works on a
//! server that has no copy of the corpora.

use super::model::Model;

const REVIEWED: &str = include_str!("model/reviewed.tsv");

/// A reviewed message and how close it is to the one explained.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbour {
    /// `crisis`, `advice` or `ordinary`.
    pub label: String,
    /// The crisis category or the ordinary kind, where the corpus names one.
    pub category: String,
    pub text: String,
    /// Cosine similarity of the two messages' TF-IDF vectors, 0 to 1.
    pub similarity: f32,
}

/// The `count` reviewed messages most like `text`, closest first.
pub fn nearest(model: &Model, text: &str, count: usize) -> Vec<Neighbour> {
    let query = model.features(text);
    let mut scored: Vec<Neighbour> = REVIEWED
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let (label, category, example) = (fields.next()?, fields.next()?, fields.next()?);
            Some(Neighbour {
                label: label.to_owned(),
                category: category.to_owned(),
                text: example.to_owned(),
                similarity: dot(&query, &model.features(example)),
            })
        })
        .collect();
    scored.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    scored.truncate(count);
    scored
}

/// The dot product of two sparse vectors sorted by slot.
fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_example_to_a_reviewed_message_is_itself() {
        let model = super::super::model::shipped().expect("the shipped model loads");
        let line = REVIEWED.lines().next().expect("reviewed examples");
        let text = line.splitn(3, '\t').nth(2).unwrap();
        let nearest = nearest(model, text, 3);
        assert_eq!(nearest[0].text, text);
        assert!(nearest[0].similarity > 0.99);
        assert!(nearest[1].similarity <= nearest[0].similarity);
    }
}
