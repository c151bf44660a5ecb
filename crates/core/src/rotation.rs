//! Which question comes next: every question once, in catalog order, then around again.

use serde::{Deserialize, Serialize};

/// The ids already given in the current pass through the catalog. Ids are kept, not a position,
/// so adding, removing or reordering questions in `dialogues/` never repeats or skips one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub given: Vec<String>,
}

impl Rotation {
    /// Picks the next item and records it as given. `None` only for an empty catalog.
    pub fn advance<'a, T>(&mut self, items: &'a [T], id_of: impl Fn(&T) -> &str) -> Option<&'a T> {
        // Ids that left the catalog would otherwise linger forever.
        self.given
            .retain(|given| items.iter().any(|item| id_of(item) == given));
        let next = items
            .iter()
            .find(|item| !self.given.iter().any(|given| given == id_of(item)))
            .or_else(|| {
                self.given.clear();
                items.first()
            })?;
        self.given.push(id_of(next).to_owned());
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(rotation: &mut Rotation, items: &[&'static str], steps: usize) -> Vec<&'static str> {
        (0..steps)
            .map(|_| *rotation.advance(items, |s| s).unwrap())
            .collect()
    }

    #[test]
    fn walks_in_order_without_repeats_then_starts_again() {
        let mut rotation = Rotation::default();
        assert_eq!(
            walk(&mut rotation, &["a", "b", "c"], 7),
            ["a", "b", "c", "a", "b", "c", "a"]
        );
    }

    #[test]
    fn a_question_added_mid_pass_is_reached_in_this_pass() {
        let mut rotation = Rotation::default();
        assert_eq!(walk(&mut rotation, &["a", "b", "c"], 2), ["a", "b"]);
        assert_eq!(
            walk(&mut rotation, &["a", "new", "b", "c"], 3),
            ["new", "c", "a"]
        );
    }

    #[test]
    fn a_removed_question_is_forgotten_and_never_blocks_the_pass() {
        let mut rotation = Rotation::default();
        assert_eq!(walk(&mut rotation, &["a", "b", "c"], 2), ["a", "b"]);
        assert_eq!(walk(&mut rotation, &["a", "c"], 3), ["c", "a", "c"]);
        assert_eq!(rotation.given, ["a", "c"]);
    }

    #[test]
    fn an_empty_catalog_gives_nothing() {
        let mut rotation = Rotation::default();
        assert!(rotation.advance(&[] as &[&str], |s| s).is_none());
    }

    #[test]
    fn every_question_once_per_pass_over_many_passes() {
        let items: Vec<String> = (0..48).map(|i| format!("q{i:02}")).collect();
        let mut rotation = Rotation::default();
        for _ in 0..5 {
            let mut pass: Vec<String> = (0..48)
                .map(|_| rotation.advance(&items, |s| s).unwrap().clone())
                .collect();
            pass.sort();
            assert_eq!(pass, items);
        }
    }
}
