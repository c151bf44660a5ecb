//! Telegram's "HTML" parse mode, judged by the rules of the Bot API's "Formatting options".
//!
//! The fake server checks the bot's messages with this module, so it deliberately shares no code
//! with the bot's own markup helpers: a mistake there must not be repeated here and pass both.
//! `quick-xml` only splits the text into tags, text and `&...;` references; every rule about
//! which tags, attributes, entities and nestings Telegram takes is written out below.
//!
//! Refusals use the wording Telegram's parser uses where Telegram refuses too. The fake is
//! stricter than Telegram in a few places, each marked below: there Telegram would not refuse
//! but would silently show the message differently from what the bot meant.

use std::fmt;

use quick_xml::Reader;
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesEnd, BytesStart, Event};

/// Why Telegram would refuse a text in HTML parse mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlError {
    detail: String,
}

impl HtmlError {
    fn new(detail: impl Into<String>) -> Self {
        HtmlError {
            detail: detail.into(),
        }
    }

    /// What follows "can't parse entities: " in Telegram's description.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The whole `description` of Telegram's 400 answer.
    pub fn description(&self) -> String {
        format!("Bad Request: can't parse entities: {}", self.detail)
    }
}

impl fmt::Display for HtmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for HtmlError {}

/// Telegram's limits on a message's text and a caption, in UTF-16 units after entities are
/// parsed: written out here rather than taken from the crate under test.
pub const MESSAGE_LIMIT: usize = 4096;
pub const CAPTION_LIMIT: usize = 1024;

/// Length as Telegram counts it for its limits: in UTF-16 code units.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The text a user sees: tags removed, entities decoded. Refused as Telegram would refuse it.
pub fn visible_text(html: &str) -> Result<String, HtmlError> {
    parse(html).map(|parsed| parsed.text)
}

/// What Telegram makes of a text: what the user sees, and which parts of it are hidden as
/// spoilers until tapped (`<tg-spoiler>` or `<span class="tg-spoiler">`, outermost ones only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub text: String,
    pub spoilers: Vec<String>,
}

impl Parsed {
    /// The text as a notification preview or the chat list shows it: spoilers masked.
    pub fn preview(&self) -> String {
        let mut shown = self.text.clone();
        for spoiler in &self.spoilers {
            shown = shown.replacen(spoiler.as_str(), &"▒".repeat(spoiler.chars().count()), 1);
        }
        shown
    }
}

pub fn parse(html: &str) -> Result<Parsed, HtmlError> {
    let mut reader = Reader::from_str(html);
    let config = reader.config_mut();
    // Left to the rules below, so that each refusal can be worded as Telegram words it.
    config.allow_dangling_amp = true;
    config.allow_unmatched_ends = true;
    config.check_end_names = false;

    let mut parser = Parser {
        html,
        open: Vec::new(),
        text: String::new(),
        spoiler: None,
        spoilers: Vec::new(),
    };
    loop {
        let at = byte_offset(reader.buffer_position());
        let event = reader
            .read_event()
            .map_err(|_| unterminated_markup(html, byte_offset(reader.error_position())))?;
        match event {
            Event::Eof => break,
            Event::Text(text) => parser.text(&text, at)?,
            Event::GeneralRef(reference) => {
                let character = decode_reference(&reference, at)?;
                parser.content(at)?;
                parser.text.push(character);
            }
            Event::Start(start) => parser.start(&start, at)?,
            Event::End(end) => parser.end(&end, at)?,
            Event::Empty(empty) => {
                // Telegram reads a tag name up to a space or '>', so `<b/>` names a tag "b/".
                return Err(HtmlError::new(format!(
                    "Unsupported start tag \"{}/\" at byte offset {at}",
                    empty.name().0.to_lowercase()
                )));
            }
            Event::Comment(_)
            | Event::CData(_)
            | Event::Decl(_)
            | Event::PI(_)
            | Event::DocType(_) => return Err(unsupported_start_tag(html, at)),
        }
    }
    if let Some(unclosed) = parser.open.last() {
        return Err(HtmlError::new(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            unclosed.name
        )));
    }
    Ok(Parsed {
        text: parser.text,
        spoilers: parser.spoilers,
    })
}

/// The entity types of the documentation's nesting rules, which decide what may hold what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// bold, italic, underline, strikethrough and spoiler.
    Style,
    Link,
    CustomEmoji,
    Code,
    Pre,
    Quote,
}

fn kind_of(tag: &str) -> Option<Kind> {
    Some(match tag {
        "b" | "strong" | "i" | "em" | "u" | "ins" | "s" | "strike" | "del" | "tg-spoiler"
        | "span" => Kind::Style,
        "a" => Kind::Link,
        "tg-emoji" => Kind::CustomEmoji,
        "code" => Kind::Code,
        "pre" => Kind::Pre,
        "blockquote" => Kind::Quote,
        _ => return None,
    })
}

/// Whether the documentation forbids an entity of kind `inner` anywhere inside one of `outer`.
/// Telegram does not refuse these: it drops the inner formatting, which the fake treats as a bug.
fn forbids(outer: Kind, inner: Kind) -> bool {
    use Kind::*;
    match (outer, inner) {
        // Nothing goes inside code; inside pre only the code that names its language, which
        // `Parser::start` checks on its own.
        (Code, _) | (Pre, _) => true,
        // "bold, italic, underline, strikethrough, and spoiler entities can contain and can be
        // part of any other entities, except pre and code."
        (Style, Code | Pre) => true,
        (Style, _) => false,
        // "blockquote and expandable_blockquote entities can't be nested."
        (Quote, Quote) => true,
        (Quote, _) => false,
        // "All other entities can't contain each other."
        (Link | CustomEmoji, Style) => false,
        (Link | CustomEmoji, _) => true,
    }
}

/// A tag that is open, as written (lower-cased, the way Telegram compares tag names).
struct Open {
    name: String,
    kind: Kind,
    /// Text or a child tag has been seen inside it.
    has_content: bool,
    /// A `pre` whose content is a `code` child.
    has_code: bool,
}

struct Parser<'a> {
    html: &'a str,
    open: Vec<Open>,
    text: String,
    /// The outermost open spoiler: how many tags were open outside it, and where in `text`
    /// it began.
    spoiler: Option<(usize, usize)>,
    spoilers: Vec<String>,
}

impl Parser<'_> {
    fn text(&mut self, text: &str, at: usize) -> Result<(), HtmlError> {
        // Every valid reference arrives as its own event, so any '&' left here is a bare one.
        if let Some((index, character)) = text.char_indices().find(|&(_, c)| c == '&' || c == '>') {
            return Err(reserved(character, at + index));
        }
        self.content(at)?;
        self.text.push_str(text);
        Ok(())
    }

    /// Records content at `at` inside the innermost open tag.
    fn content(&mut self, at: usize) -> Result<(), HtmlError> {
        if let Some(parent) = self.open.last_mut() {
            // A language applies only when the code is all of the pre; Telegram would drop it.
            if parent.has_code {
                return Err(code_must_fill_pre(at));
            }
            parent.has_content = true;
        }
        Ok(())
    }

    fn start(&mut self, start: &BytesStart<'_>, at: usize) -> Result<(), HtmlError> {
        let name = start.name().0.to_lowercase();
        let Some(kind) = kind_of(&name) else {
            return Err(unsupported_start_tag(self.html, at));
        };
        let attributes = attributes(start, &name, at)?;
        let in_pre = self
            .open
            .last()
            .is_some_and(|parent| parent.kind == Kind::Pre);
        check_attributes(&name, &attributes, in_pre, at)?;

        for outer in &self.open {
            let language_block = outer.kind == Kind::Pre && kind == Kind::Code;
            if forbids(outer.kind, kind) && !language_block {
                return Err(HtmlError::new(format!(
                    "Tag \"{name}\" can't be inside the tag \"{}\" at byte offset {at}",
                    outer.name
                )));
            }
        }
        if let Some(parent) = self.open.last_mut() {
            if parent.kind == Kind::Pre {
                if parent.has_content || parent.has_code {
                    return Err(code_must_fill_pre(at));
                }
                parent.has_code = true;
            } else {
                parent.has_content = true;
            }
        }
        if self.spoiler.is_none() && (name == "tg-spoiler" || name == "span") {
            self.spoiler = Some((self.open.len(), self.text.len()));
        }
        self.open.push(Open {
            name,
            kind,
            has_content: false,
            has_code: false,
        });
        Ok(())
    }

    fn end(&mut self, end: &BytesEnd<'_>, at: usize) -> Result<(), HtmlError> {
        let name = end.name().0.to_lowercase();
        if name.contains(char::is_whitespace) {
            return Err(HtmlError::new(format!(
                "Unclosed end tag at byte offset {at}"
            )));
        }
        let Some(open) = self.open.last() else {
            return Err(HtmlError::new(format!(
                "Unexpected end tag at byte offset {at}"
            )));
        };
        // Telegram lets `</>` close any tag; the documentation never writes one, nor does the fake.
        if name != open.name {
            return Err(HtmlError::new(format!(
                "Unmatched end tag at byte offset {at}, expected \"</{}>\", found \"</{name}>\"",
                open.name
            )));
        }
        self.open.pop();
        if let Some((depth, start)) = self.spoiler
            && depth == self.open.len()
        {
            self.spoilers.push(self.text[start..].to_owned());
            self.spoiler = None;
        }
        Ok(())
    }
}

/// An attribute as written: its name, and its value with entities decoded, or `None` when the
/// attribute stands alone (`<blockquote expandable>`).
type Attribute = (String, Option<String>);

fn attributes(start: &BytesStart<'_>, tag: &str, at: usize) -> Result<Vec<Attribute>, HtmlError> {
    // quick-xml's HTML mode takes valueless and unquoted attributes, which strict XML refuses.
    let raw: &str = start;
    let mut found = Vec::new();
    for attribute in start.html_attributes() {
        let attribute = attribute.map_err(|error| {
            HtmlError::new(match error {
                AttrError::Duplicated(..) => {
                    format!("Duplicate attribute in the tag \"{tag}\" at byte offset {at}")
                }
                AttrError::ExpectedValue(_) => format!(
                    "Expected a value of an attribute of the tag \"{tag}\" at byte offset {at}"
                ),
                _ => format!("Unclosed start tag at byte offset {at}"),
            })
        })?;
        let key = attribute.key.0;
        // quick-xml hands out a valueless attribute like one with an empty value; what follows
        // the name in the tag tells them apart, and tells whether the value is quoted.
        let after_key = offset_within(raw, key)
            .and_then(|start| raw.get(start + key.len()..))
            .unwrap_or("")
            .trim_start();
        let Some(after_equals) = after_key.strip_prefix('=') else {
            found.push((key.to_owned(), None));
            continue;
        };
        let value = if after_equals.trim_start().starts_with(['"', '\'']) {
            decode_attribute(&attribute.value, at)?
        } else if !attribute.value.is_empty()
            && attribute
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            // An unquoted value is an SGML name token: Telegram takes one, case-folded.
            attribute.value.to_lowercase()
        } else {
            return Err(HtmlError::new(format!(
                "Unexpected end of name token at byte offset {at}"
            )));
        };
        found.push((key.to_owned(), Some(value)));
    }
    Ok(found)
}

/// The documentation lists each tag with the only attributes it takes; the fake refuses any
/// other, where Telegram would ignore it, because a bot that writes one expects it to matter.
fn check_attributes(
    tag: &str,
    attributes: &[Attribute],
    in_pre: bool,
    at: usize,
) -> Result<(), HtmlError> {
    let allowed: &[&str] = match tag {
        "a" => &["href"],
        "span" | "code" => &["class"],
        "tg-emoji" => &["emoji-id"],
        "blockquote" => &["expandable"],
        _ => &[],
    };
    if let Some((name, _)) = attributes
        .iter()
        .find(|(name, _)| !allowed.contains(&name.as_str()))
    {
        return Err(HtmlError::new(format!(
            "Unsupported attribute \"{name}\" in the tag \"{tag}\" at byte offset {at}"
        )));
    }
    let value = |name: &str| {
        attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_deref())
    };
    let bad_value = |name: &str| {
        HtmlError::new(format!(
            "Unsupported value of the attribute \"{name}\" in the tag \"{tag}\" at byte offset {at}"
        ))
    };
    match tag {
        "a" => match value("href") {
            Some(Some(href)) if !href.is_empty() => Ok(()),
            Some(_) => Err(bad_value("href")),
            None => Err(HtmlError::new(format!(
                "Tag \"a\" must have attribute \"href\" at byte offset {at}"
            ))),
        },
        "span" => match value("class") {
            Some(Some("tg-spoiler")) => Ok(()),
            _ => Err(HtmlError::new(format!(
                "Tag \"span\" must have class \"tg-spoiler\" at byte offset {at}"
            ))),
        },
        "tg-emoji" => match value("emoji-id").flatten().map(str::parse::<i64>) {
            Some(Ok(id)) if id > 0 => Ok(()),
            _ => Err(HtmlError::new("Invalid custom emoji identifier specified")),
        },
        "code" => match value("class") {
            None => Ok(()),
            Some(Some(class)) if class.len() > "language-".len() => {
                if !class.starts_with("language-") {
                    Err(bad_value("class"))
                } else if !in_pre {
                    // The documentation: "Programming language can't be specified for standalone
                    // code tags." Telegram would drop the language; the fake refuses it.
                    Err(HtmlError::new(format!(
                        "Programming language can't be specified for standalone code tags at \
                         byte offset {at}"
                    )))
                } else {
                    Ok(())
                }
            }
            Some(_) => Err(bad_value("class")),
        },
        "blockquote" => match value("expandable") {
            None | Some(None) => Ok(()),
            Some(Some(_)) => Err(bad_value("expandable")),
        },
        _ => Ok(()),
    }
}

/// Decodes the references in a quoted attribute value by the same rules as in text.
fn decode_attribute(value: &str, at: usize) -> Result<String, HtmlError> {
    let mut decoded = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(ampersand) = rest.find('&') {
        decoded.push_str(&rest[..ampersand]);
        let reference = &rest[ampersand + 1..];
        let Some(semicolon) = reference.find(';') else {
            return Err(reserved('&', at));
        };
        decoded.push(decode_reference(&reference[..semicolon], at)?);
        rest = &reference[semicolon + 1..];
    }
    decoded.push_str(rest);
    Ok(decoded)
}

/// The character a reference `&name;` stands for: only the four named entities the Bot API
/// supports, or any numeric one.
fn decode_reference(name: &str, at: usize) -> Result<char, HtmlError> {
    match name {
        "lt" => return Ok('<'),
        "gt" => return Ok('>'),
        "amp" => return Ok('&'),
        "quot" => return Ok('"'),
        _ => {}
    }
    let Some(number) = name.strip_prefix('#') else {
        // quick-xml takes whatever lies between '&' and the next ';' for a reference.
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()) {
            // Telegram would show an unsupported named entity as typed, not refuse it.
            return Err(HtmlError::new(format!(
                "Unsupported named entity \"&{name};\" at byte offset {at}"
            )));
        }
        return Err(reserved('&', at));
    };
    let (digits, radix) = match number.strip_prefix(['x', 'X']) {
        Some(hex) => (hex, 16),
        None => (number, 10),
    };
    let invalid = || {
        HtmlError::new(format!(
            "Invalid numeric entity \"&{name};\" at byte offset {at}"
        ))
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(invalid());
    }
    let code = u32::from_str_radix(digits, radix).map_err(|_| invalid())?;
    if (0xD800..=0xDFFF).contains(&code) {
        return Err(HtmlError::new(
            "Text contains invalid Unicode characters after decoding HTML entities, check for \
             unmatched surrogate code units",
        ));
    }
    char::from_u32(code)
        .filter(|&c| c != '\0')
        .ok_or_else(invalid)
}

/// A '<', '>' or '&' that is neither a tag nor an entity. Telegram reads a bare '<' as a tag, which
/// `unterminated_markup` words; '>' and '&' Telegram would show as typed, but the documentation
/// says they "must be replaced with the corresponding HTML entities", and the fake holds to that.
fn reserved(character: char, at: usize) -> HtmlError {
    let entity = if character == '>' { "&gt;" } else { "&amp;" };
    HtmlError::new(format!(
        "Character '{character}' at byte offset {at} is reserved and must be replaced with {entity}"
    ))
}

fn code_must_fill_pre(at: usize) -> HtmlError {
    HtmlError::new(format!(
        "Tag \"code\" must be the only content of the tag \"pre\" at byte offset {at}"
    ))
}

/// The tag name at `at` as Telegram reads it: from '<' up to a space or '>'.
fn telegram_tag_name(html: &str, at: usize) -> (String, bool) {
    let tail = html.get(at + 1..).unwrap_or("");
    match tail.find(|c: char| c.is_whitespace() || c == '>') {
        Some(end) => (tail[..end].to_lowercase(), true),
        None => (tail.to_lowercase(), false),
    }
}

fn unsupported_start_tag(html: &str, at: usize) -> HtmlError {
    let (name, _) = telegram_tag_name(html, at);
    HtmlError::new(format!(
        "Unsupported start tag \"{name}\" at byte offset {at}"
    ))
}

/// Words a tag that quick-xml found never ends, in the order Telegram's parser checks it.
fn unterminated_markup(html: &str, at: usize) -> HtmlError {
    let tail = html.get(at..).unwrap_or("");
    if tail.starts_with("</") {
        return HtmlError::new(format!("Unclosed end tag at byte offset {at}"));
    }
    let (name, name_ends) = telegram_tag_name(html, at);
    if name_ends && kind_of(&name).is_none() {
        return unsupported_start_tag(html, at);
    }
    HtmlError::new(format!("Unclosed start tag at byte offset {at}"))
}

/// Where `inner`, a slice that quick-xml borrowed from `outer`, starts in it.
fn offset_within(outer: &str, inner: &str) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

fn byte_offset(position: u64) -> usize {
    usize::try_from(position).expect("a message fits in memory")
}
