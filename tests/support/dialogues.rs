//! Which of the dialogues' messages a reply is, judged from `dialogues/messages.toml` read as
//! plain TOML: a reply is message `key` when every fixed piece of that template (the words
//! between its placeholders, with tags and entities reduced to what a reader sees) appears in
//! the reply's visible text, in order. Tests that say `reply.is("welcome_back")` keep passing
//! when a practice rewords a message, and fail when the bot sends the wrong one.

use std::sync::LazyLock;

use super::fake_telegram::SentMessage;

static MESSAGES: LazyLock<toml::Table> = LazyLock::new(|| {
    toml::from_str(include_str!("../../dialogues/messages.toml"))
        .expect("dialogues/messages.toml is TOML")
});

/// The fixed text of a template as a reader sees it, one piece per run of words between
/// placeholders and line breaks.
fn fixed_pieces(template: &str) -> Vec<String> {
    let mut visible = String::new();
    let mut in_tag = false;
    let mut in_slot = false;
    for c in template.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            '{' => {
                in_slot = true;
                visible.push('\n');
            }
            '}' if in_slot => in_slot = false,
            _ if in_tag || in_slot => {}
            c => visible.push(c),
        }
    }
    let visible = visible
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    visible
        .lines()
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every variant of message `key`: one template, or each line of a list of equivalent ones.
fn templates(key: &str) -> Vec<String> {
    match MESSAGES.get(key) {
        Some(toml::Value::String(template)) => vec![template.clone()],
        Some(toml::Value::Array(lines)) => lines
            .iter()
            .filter_map(toml::Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => panic!("dialogues/messages.toml has no message {key:?}"),
    }
}

/// Whether `text` holds every fixed piece of one variant of message `key`, in order.
pub fn is_message(text: &str, key: &str) -> bool {
    templates(key).iter().any(|template| {
        let mut rest = text;
        fixed_pieces(template)
            .iter()
            .all(|piece| match rest.find(piece.as_str()) {
                Some(at) => {
                    rest = &rest[at + piece.len()..];
                    true
                }
                None => false,
            })
    })
}

impl SentMessage {
    /// Whether this is the dialogues' message `key`, whatever its placeholders were filled with.
    pub fn is(&self, key: &str) -> bool {
        is_message(&self.text, key)
    }
}
