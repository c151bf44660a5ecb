//! Telegram's HTML subset: escaping for what we quote back, and a strict parser that refuses what
//! Telegram refuses, so a template or a rendered message can be judged before it is ever sent.
//!
//! The parser is deliberately stricter than Telegram on one point: a bare `>` or a bare `&` is an
//! error here, because in our output either one means something was not escaped.

mod template;

use std::fmt;

pub use self::template::{Template, TemplateError};

/// Telegram's limit for a message text, counted in UTF-16 code units after entity parsing.
pub const MESSAGE_LIMIT: usize = 4096;

/// Telegram's limit for a document caption, counted like [`MESSAGE_LIMIT`].
pub const CAPTION_LIMIT: usize = 1024;

/// Text in Telegram HTML: either written by the practice (templates from the catalog, validated
/// when it loads) or escaped from someone's words. The field is private to this module, and no
/// constructor takes raw markup, so an unescaped quote of the user is a compile error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Html(String);

impl Html {
    /// The user's (or an operator's) words, shown literally.
    pub fn text(text: &str) -> Html {
        Html(escape(text))
    }

    /// A link whose address and label are shown literally.
    pub fn link(url: &str, label: &str) -> Html {
        Html(format!("<a href=\"{}\">{}</a>", escape(url), escape(label)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn push(&mut self, other: &Html) {
        self.0.push_str(&other.0);
    }

    /// Joins pieces with a separator, itself escaped text or markup.
    pub fn join(pieces: impl IntoIterator<Item = Html>, separator: &Html) -> Html {
        let parts: Vec<String> = pieces.into_iter().map(Html::into_string).collect();
        Html(parts.join(&separator.0))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same text hidden behind Telegram's spoiler until tapped. Telegram takes no code or
    /// pre inside a spoiler, so their tags are dropped and their text kept.
    pub fn spoiler(&self) -> Html {
        let mut inner = String::with_capacity(self.0.len());
        let mut rest = self.0.as_str();
        // Escaped text holds no '<', so every '<' here opens a tag of our own markup.
        while let Some(start) = rest.find('<') {
            inner.push_str(&rest[..start]);
            let tail = &rest[start..];
            let end = tail.find('>').map_or(tail.len(), |end| end + 1);
            let tag = &tail[..end];
            let name = tag
                .trim_start_matches(['<', '/'])
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if name != "code" && name != "pre" {
                inner.push_str(tag);
            }
            rest = &tail[end..];
        }
        inner.push_str(rest);
        Html(format!("<tg-spoiler>{inner}</tg-spoiler>"))
    }

    /// Visible length as Telegram counts it; our own markup always parses.
    pub fn visible_len(&self) -> usize {
        visible_text(&self.0).map_or(utf16_len(&self.0), |text| utf16_len(&text))
    }
}

/// Escapes text so Telegram shows it literally inside an HTML-mode message.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Length as Telegram counts it.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Cuts `text` to at most `max_units` UTF-16 units, never inside a character.
pub fn truncate_utf16(text: &str, max_units: usize) -> &str {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max_units {
            return &text[..index];
        }
    }
    text
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkupError {
    UnsupportedTag(String),
    UnexpectedEndTag(String),
    UnclosedTag(String),
    BadAttribute { tag: String, attribute: String },
    MissingHref,
    UnterminatedTag,
    BareAmpersand,
    BareGreaterThan,
    UnknownEntity(String),
}

impl fmt::Display for MarkupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedTag(tag) => write!(f, "unsupported start tag <{tag}>"),
            Self::UnexpectedEndTag(tag) => write!(f, "end tag </{tag}> does not match an open tag"),
            Self::UnclosedTag(tag) => write!(f, "tag <{tag}> is never closed"),
            Self::BadAttribute { tag, attribute } => {
                write!(f, "tag <{tag}> does not take the attribute {attribute:?}")
            }
            Self::MissingHref => write!(f, "<a> needs an href"),
            Self::UnterminatedTag => write!(f, "a tag is opened with '<' but never ends with '>'"),
            Self::BareAmpersand => write!(f, "a bare '&' must be written &amp;"),
            Self::BareGreaterThan => write!(f, "a bare '>' must be written &gt;"),
            Self::UnknownEntity(name) => write!(f, "unsupported entity &{name};"),
        }
    }
}

impl std::error::Error for MarkupError {}

/// Parses Telegram HTML and returns the text a reader sees, or the reason Telegram would refuse it.
pub fn visible_text(html: &str) -> Result<String, MarkupError> {
    let mut visible = String::with_capacity(html.len());
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(position) = rest.find(['<', '>', '&']) {
        visible.push_str(&rest[..position]);
        let tail = &rest[position..];
        match tail.as_bytes()[0] {
            b'>' => return Err(MarkupError::BareGreaterThan),
            b'&' => {
                let end = tail.find(';').ok_or(MarkupError::BareAmpersand)?;
                visible.push(decode_entity(&tail[1..end])?);
                rest = &tail[end + 1..];
            }
            _ => {
                let end = tail.find('>').ok_or(MarkupError::UnterminatedTag)?;
                apply_tag(&tail[1..end], &mut open)?;
                rest = &tail[end + 1..];
            }
        }
    }
    visible.push_str(rest);
    match open.pop() {
        Some(tag) => Err(MarkupError::UnclosedTag(tag)),
        None => Ok(visible),
    }
}

fn decode_entity(name: &str) -> Result<char, MarkupError> {
    let unknown = || MarkupError::UnknownEntity(name.chars().take(16).collect());
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "quot" => Ok('"'),
        _ => {
            let number = name.strip_prefix('#').ok_or_else(unknown)?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => number.parse(),
            }
            .map_err(|_| unknown())?;
            char::from_u32(code).ok_or_else(unknown)
        }
    }
}

fn apply_tag(inner: &str, open: &mut Vec<String>) -> Result<(), MarkupError> {
    if let Some(name) = inner.strip_prefix('/') {
        let name = name.trim().to_ascii_lowercase();
        return match open.pop() {
            Some(top) if top == name => Ok(()),
            _ => Err(MarkupError::UnexpectedEndTag(name)),
        };
    }
    let (name, attributes) = match inner.find(char::is_whitespace) {
        Some(split) => (&inner[..split], inner[split..].trim()),
        None => (inner, ""),
    };
    let name = name.to_ascii_lowercase();
    check_attributes(&name, attributes, open.last().map(String::as_str))?;
    open.push(name);
    Ok(())
}

fn check_attributes(tag: &str, attributes: &str, parent: Option<&str>) -> Result<(), MarkupError> {
    let bad = |attribute: &str| MarkupError::BadAttribute {
        tag: tag.to_owned(),
        attribute: attribute.chars().take(32).collect(),
    };
    match tag {
        "b" | "strong" | "i" | "em" | "u" | "ins" | "s" | "strike" | "del" | "tg-spoiler" => {
            if attributes.is_empty() {
                Ok(())
            } else {
                Err(bad(attributes))
            }
        }
        "pre" => {
            if attributes.is_empty() {
                Ok(())
            } else {
                Err(bad(attributes))
            }
        }
        "blockquote" => match attributes {
            "" | "expandable" => Ok(()),
            other => Err(bad(other)),
        },
        "span" => match attribute_value(attributes, "class") {
            Some("tg-spoiler") => Ok(()),
            _ => Err(bad(attributes)),
        },
        "code" => match (attributes, parent) {
            ("", _) => Ok(()),
            (other, Some("pre"))
                if attribute_value(other, "class")
                    .is_some_and(|class| class.starts_with("language-")) =>
            {
                Ok(())
            }
            (other, _) => Err(bad(other)),
        },
        "a" => match attribute_value(attributes, "href") {
            Some(href) if !href.is_empty() => Ok(()),
            _ => Err(MarkupError::MissingHref),
        },
        other => Err(MarkupError::UnsupportedTag(
            other.chars().take(32).collect(),
        )),
    }
}

/// The value of `name="value"` when it is the only attribute.
fn attribute_value<'a>(attributes: &'a str, name: &str) -> Option<&'a str> {
    let (key, value) = attributes.split_once('=')?;
    if key.trim() != name {
        return None;
    }
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .filter(|v| !v.contains(['"', '\'']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_user_text_always_parses_back_to_itself() {
        for text in [
            "a < b",
            "x > y",
            "Tom & Jerry",
            "<b>not bold</b>",
            "&amp; literal",
            "\"quoted\"",
            "🙂 <3",
        ] {
            assert_eq!(visible_text(&escape(text)).unwrap(), text);
        }
    }

    #[test]
    fn supported_tags_are_removed_from_the_visible_text() {
        let html = "<b>Bold</b> <i>it</i> <a href=\"https://example.com/x?a=1&amp;b=2\">link</a> \
                    <blockquote>q</blockquote> <pre><code class=\"language-rust\">x</code></pre> \
                    <span class=\"tg-spoiler\">s</span> <blockquote expandable>e</blockquote>";
        assert_eq!(visible_text(html).unwrap(), "Bold it link q x s e");
    }

    #[test]
    fn a_spoiler_hides_everything_and_drops_code_telegram_refuses_inside_it() {
        let html = Html(
            "<b>Week</b>\n<code>Mon</code> <pre>x</pre> <blockquote>a &lt; b</blockquote>".into(),
        );
        let hidden = html.spoiler();
        assert_eq!(
            hidden.as_str(),
            "<tg-spoiler><b>Week</b>\nMon x <blockquote>a &lt; b</blockquote></tg-spoiler>"
        );
        assert_eq!(hidden.visible_len(), html.visible_len());
        assert_eq!(
            Html::text("<code>").spoiler().as_str(),
            "<tg-spoiler>&lt;code&gt;</tg-spoiler>"
        );
    }

    #[test]
    fn entities_decode_including_numeric_ones() {
        assert_eq!(
            visible_text("&lt;&gt;&amp;&quot;&#65;&#x42;").unwrap(),
            "<>&\"AB"
        );
    }

    #[test]
    fn refuses_what_telegram_refuses() {
        assert_eq!(visible_text("a < b"), Err(MarkupError::UnterminatedTag));
        assert_eq!(
            visible_text("a < b > c"),
            Err(MarkupError::UnsupportedTag("".into()))
        );
        assert_eq!(
            visible_text("<div>x</div>"),
            Err(MarkupError::UnsupportedTag("div".into()))
        );
        assert_eq!(
            visible_text("<b>x"),
            Err(MarkupError::UnclosedTag("b".into()))
        );
        assert_eq!(
            visible_text("<b><i>x</b></i>"),
            Err(MarkupError::UnexpectedEndTag("b".into()))
        );
        assert_eq!(
            visible_text("x</b>"),
            Err(MarkupError::UnexpectedEndTag("b".into()))
        );
        assert_eq!(visible_text("<a>x</a>"), Err(MarkupError::MissingHref));
        assert_eq!(
            visible_text("&nbsp;"),
            Err(MarkupError::UnknownEntity("nbsp".into()))
        );
        assert_eq!(
            visible_text("<code class=\"language-x\">y</code>").unwrap_err(),
            MarkupError::BadAttribute {
                tag: "code".into(),
                attribute: "class=\"language-x\"".into()
            }
        );
        assert!(visible_text("<b onclick=\"x\">y</b>").is_err());
        assert!(visible_text("<b").is_err());
    }

    #[test]
    fn stricter_than_telegram_on_bare_ampersand_and_greater_than() {
        assert_eq!(
            visible_text("fish & chips"),
            Err(MarkupError::BareAmpersand)
        );
        assert_eq!(visible_text("3 > 2"), Err(MarkupError::BareGreaterThan));
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("🙂"), 2);
        assert_eq!(utf16_len("é"), 1);
    }

    #[test]
    fn truncation_never_splits_a_character() {
        assert_eq!(truncate_utf16("ab🙂cd", 3), "ab");
        assert_eq!(truncate_utf16("ab🙂cd", 4), "ab🙂");
        assert_eq!(truncate_utf16("short", 100), "short");
        assert_eq!(truncate_utf16("", 0), "");
    }
}
