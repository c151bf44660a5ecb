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
        self.advance_among(items, id_of, |_| true)
    }

    /// Picks the next item among those `allowed` (the themes a user chose) and records it as
    /// given. When every allowed item was given, only those start again: the others keep their
    /// place, so turning a theme back on does not repeat its questions early. If nothing is
    /// allowed, every item is, so a question still comes. `None` only for an empty catalog.
    pub fn advance_among<'a, T>(
        &mut self,
        items: &'a [T],
        id_of: impl Fn(&T) -> &str,
        allowed: impl Fn(&T) -> bool,
    ) -> Option<&'a T> {
        // Ids that left the catalog would otherwise linger forever.
        self.given
            .retain(|given| items.iter().any(|item| id_of(item) == given));
        let none_allowed = !items.iter().any(&allowed);
        let allowed = |item: &T| none_allowed || allowed(item);
        let is_given = |given: &[String], item: &T| given.iter().any(|id| id == id_of(item));
        let next = match items
            .iter()
            .find(|item| allowed(item) && !is_given(&self.given, item))
        {
            Some(next) => next,
            None => {
                self.given.retain(|given| {
                    !items
                        .iter()
                        .any(|item| allowed(item) && id_of(item) == given)
                });
                items.iter().find(|item| allowed(item))?
            }
        };
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

    fn walk_among(
        rotation: &mut Rotation,
        items: &[&'static str],
        allowed: &[&str],
        steps: usize,
    ) -> Vec<&'static str> {
        (0..steps)
            .map(|_| {
                *rotation
                    .advance_among(items, |s| s, |s| allowed.contains(s))
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn only_allowed_items_come_each_once_then_again() {
        let mut rotation = Rotation::default();
        let items = ["a1", "b1", "a2", "b2", "a3"];
        assert_eq!(
            walk_among(&mut rotation, &items, &["a1", "a2", "a3"], 7),
            ["a1", "a2", "a3", "a1", "a2", "a3", "a1"]
        );
    }

    #[test]
    fn items_turned_off_keep_their_place_for_when_they_come_back() {
        let mut rotation = Rotation::default();
        let items = ["a1", "b1", "a2", "b2"];
        assert_eq!(walk(&mut rotation, &items, 2), ["a1", "b1"]);
        // Only the a's for a while: they go around, b1 stays given.
        assert_eq!(
            walk_among(&mut rotation, &items, &["a1", "a2"], 3),
            ["a2", "a1", "a2"]
        );
        assert!(rotation.given.contains(&"b1".to_owned()));
        // Everything again: b1 does not come back before b2.
        assert_eq!(walk(&mut rotation, &items, 2), ["b2", "a1"]);
    }

    #[test]
    fn nothing_allowed_means_everything_is() {
        let mut rotation = Rotation::default();
        assert_eq!(
            walk_among(&mut rotation, &["a", "b"], &[], 3),
            ["a", "b", "a"]
        );
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
