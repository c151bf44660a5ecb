//! `{placeholder}` templates for the words in `dialogues/`.

use std::{collections::BTreeSet, fmt};

use serde::Deserialize;

use super::{Html, visible_text};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Slot(String),
}

/// A message template. Its literal parts are HTML written by the practice; each `{slot}` is filled
/// with HTML the bot built, in which the user's own words are already escaped.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("a '{{' is never closed by '}}'")]
    Unclosed,
    #[error("a '}}' has no '{{' before it")]
    Unopened,
    #[error("{{{0}}} is not a placeholder name (letters, digits and _ only)")]
    BadName(String),
}

impl TryFrom<String> for Template {
    type Error = TemplateError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        Template::parse(&source)
    }
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(TemplateError::Unopened);
            }
            let close = rest[open..].find('}').ok_or(TemplateError::Unclosed)? + open;
            let name = &rest[open + 1..close];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(TemplateError::BadName(name.chars().take(32).collect()));
            }
            if open > 0 {
                pieces.push(Piece::Literal(rest[..open].to_owned()));
            }
            pieces.push(Piece::Slot(name.to_owned()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_owned()));
        }
        Ok(Template { pieces })
    }

    pub fn slots(&self) -> BTreeSet<&str> {
        self.pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Slot(name) => Some(name.as_str()),
                Piece::Literal(_) => None,
            })
            .collect()
    }

    /// Fills each slot with the value `value` gives for its name. Which names a template may use
    /// is checked when the catalog loads, against the typed declaration in
    /// `content::messages`, which also supplies a value for every one of them.
    pub(crate) fn fill<'v>(&self, value: impl Fn(&str) -> Option<&'v Html>) -> Html {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Slot(name) => {
                    if let Some(value) = value(name) {
                        out.push_str(value.as_str());
                    }
                }
            }
        }
        Html(trim_outer_newlines(out))
    }

    #[cfg(test)]
    fn render(&self, values: &[(&str, &Html)]) -> Html {
        self.fill(|slot| {
            values
                .iter()
                .find(|(key, _)| *key == slot)
                .map(|(_, value)| *value)
        })
    }

    /// Renders with placeholder text in every slot, to check the markup itself is sound.
    pub fn validate_markup(&self) -> Result<(), super::MarkupError> {
        let sample = Html::text("sample");
        visible_text(self.fill(|_| Some(&sample)).as_str()).map(|_| ())
    }
}

/// TOML multi-line strings are easiest to read with the text on its own lines.
fn trim_outer_newlines(text: String) -> String {
    let trimmed = text.trim_matches('\n');
    if trimmed.len() == text.len() {
        text
    } else {
        trimmed.to_owned()
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => f.write_str(text)?,
                Piece::Slot(name) => write!(f, "{{{name}}}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_slots_with_escaped_values() {
        let template = Template::parse("Hello <b>{name}</b>, it is {time}.").unwrap();
        let name = Html::text("A & <B>");
        let time = Html::text("09:00");
        assert_eq!(
            template
                .render(&[("name", &name), ("time", &time)])
                .as_str(),
            "Hello <b>A &amp; &lt;B&gt;</b>, it is 09:00."
        );
    }

    #[test]
    fn lists_its_slots() {
        let template = Template::parse("{a} and {b} and {a}").unwrap();
        assert_eq!(template.slots().into_iter().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn refuses_broken_placeholders() {
        assert_eq!(Template::parse("Hi {name"), Err(TemplateError::Unclosed));
        assert_eq!(Template::parse("Hi name}"), Err(TemplateError::Unopened));
        assert_eq!(
            Template::parse("Hi {}"),
            Err(TemplateError::BadName(String::new()))
        );
        assert_eq!(
            Template::parse("Hi {first name}"),
            Err(TemplateError::BadName("first name".into()))
        );
    }

    #[test]
    fn trims_the_newlines_a_multiline_toml_string_adds() {
        let template = Template::parse("\nLine one\nLine two\n").unwrap();
        assert_eq!(template.render(&[]).as_str(), "Line one\nLine two");
    }

    #[test]
    fn display_gives_back_the_source() {
        let source = "Hi {name}, <i>welcome</i>";
        assert_eq!(Template::parse(source).unwrap().to_string(), source);
    }

    #[test]
    fn markup_validation_catches_broken_html() {
        assert!(
            Template::parse("<b>{x}</b>")
                .unwrap()
                .validate_markup()
                .is_ok()
        );
        assert!(
            Template::parse("<b>{x}")
                .unwrap()
                .validate_markup()
                .is_err()
        );
        assert!(
            Template::parse("Fish & chips")
                .unwrap()
                .validate_markup()
                .is_err()
        );
    }
}
