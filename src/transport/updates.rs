//! getUpdates, read one update at a time.
//!
//! teloxide parses a getUpdates answer as one JSON document, so a single update it cannot read
//! (a lone UTF-16 surrogate escape such as `\ud800` in someone's text, a reply chain nested
//! deeper than serde's limit) fails the whole answer, and the bot asks for the same offset
//! forever. Here the answer's `result` array is split into the raw text of each update by a
//! scanner that decodes no string and keeps no stack, and each update is parsed on its own; one
//! that cannot be read is reported by its id and kind (never its text) and skipped.

use std::time::Duration;

use serde::Serialize;
use teloxide::{Bot, prelude::*, types::AllowedUpdate};

/// What one getUpdates answer held.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub(crate) updates: Vec<Update>,
    pub(crate) skipped: Vec<Skipped>,
}

/// An update that could not be read. Its id is kept so that the offset can move past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub(crate) update_id: Option<i64>,
    /// The update's kind (`message`, `edited_message` …), for the log.
    pub(crate) kind: String,
}

/// Why a getUpdates call brought nothing.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// No answer: the connection failed or timed out. Already stripped of the URL, which holds
    /// the token.
    Network(String),
    /// Telegram answered with an error, and maybe a time to wait (flood control).
    Refused {
        code: i64,
        description: String,
        retry_after: Option<Duration>,
    },
    /// An answer that is not a Bot API answer at all.
    Unreadable,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Network(cause) => write!(f, "network: {cause}"),
            FetchError::Refused {
                code, description, ..
            } => write!(f, "Telegram refused ({code}): {description}"),
            FetchError::Unreadable => f.write_str("Telegram's answer could not be read"),
        }
    }
}

#[derive(Serialize)]
struct Request<'a> {
    offset: i32,
    timeout: u32,
    allowed_updates: &'a [AllowedUpdate],
}

/// Asks for the updates from `offset` on, waiting up to `timeout_secs` for one.
pub(crate) async fn fetch(
    bot: &Bot,
    offset: i32,
    timeout_secs: u32,
    allowed: &[AllowedUpdate],
) -> Result<Fetched, FetchError> {
    let mut url = bot.api_url();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop_if_empty()
            .push(&format!("bot{}", bot.token()))
            .push("getUpdates");
    }
    let body = serde_json::to_vec(&Request {
        offset,
        timeout: timeout_secs,
        allowed_updates: allowed,
    })
    .map_err(|_| FetchError::Unreadable)?;
    let answer = bot
        .client()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        // Longer than the long poll itself, so a quiet poll is never an error.
        .timeout(Duration::from_secs(u64::from(timeout_secs) + 10))
        .send()
        .await
        .map_err(|error| FetchError::Network(error.without_url().to_string()))?;
    let bytes = answer
        .bytes()
        .await
        .map_err(|error| FetchError::Network(error.without_url().to_string()))?;
    read_answer(&bytes)
}

/// Reads one update's JSON text; one that cannot be read is described by its id and kind.
pub(crate) fn read_one(element: &[u8]) -> Result<Update, Skipped> {
    serde_json::from_slice::<Update>(element).map_err(|_| Skipped {
        update_id: update_id(element),
        kind: top_level_keys(element)
            .into_iter()
            .find(|key| *key != "update_id")
            .unwrap_or("unknown")
            .to_owned(),
    })
}

/// Reads a getUpdates answer update by update.
pub(crate) fn read_answer(body: &[u8]) -> Result<Fetched, FetchError> {
    if let Some(elements) = result_elements(body) {
        let mut fetched = Fetched::default();
        for element in elements {
            match read_one(element) {
                Ok(update) => fetched.updates.push(update),
                Err(skipped) => fetched.skipped.push(skipped),
            }
        }
        return Ok(fetched);
    }
    // An error answer is small and plain: `{"ok":false,"error_code":429,"description":…,
    // "parameters":{"retry_after":3}}`.
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| FetchError::Unreadable)?;
    if value.get("ok") != Some(&serde_json::Value::Bool(false)) {
        return Err(FetchError::Unreadable);
    }
    Err(FetchError::Refused {
        code: value
            .get("error_code")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0),
        description: value
            .get("description")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("no description")
            .chars()
            .take(200)
            .collect(),
        retry_after: value
            .pointer("/parameters/retry_after")
            .and_then(serde_json::Value::as_u64)
            .map(Duration::from_secs),
    })
}

/// A byte scanner over JSON text that knows only where strings, objects and arrays begin and
/// end: it never decodes an escape and never recurses, so no content can make it fail.
struct Scanner<'a> {
    text: &'a [u8],
}

/// One structural event: a string's raw contents (between the quotes) at a depth, or a value
/// boundary.
enum Token<'a> {
    /// An object key (a string a `:` follows) at `depth`: 1 inside the top-level object.
    Key(&'a [u8], usize),
    Open(usize, usize),
    Close(usize, usize),
    Comma(usize, usize),
    Other(usize, usize),
}

impl<'a> Scanner<'a> {
    fn tokens(&self) -> Vec<Token<'a>> {
        let text = self.text;
        let mut tokens = Vec::new();
        let mut depth = 0usize;
        let mut index = 0;
        while index < text.len() {
            let byte = text[index];
            match byte {
                b'"' => {
                    let start = index + 1;
                    let mut end = start;
                    while end < text.len() && text[end] != b'"' {
                        end += if text[end] == b'\\' { 2 } else { 1 };
                    }
                    let end = end.min(text.len());
                    let mut after = end + 1;
                    while after < text.len() && text[after].is_ascii_whitespace() {
                        after += 1;
                    }
                    if text.get(after) == Some(&b':') {
                        tokens.push(Token::Key(&text[start..end], depth));
                    } else {
                        tokens.push(Token::Other(index, depth));
                    }
                    index = end + 1;
                    continue;
                }
                b'{' | b'[' => {
                    tokens.push(Token::Open(index, depth));
                    depth += 1;
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    tokens.push(Token::Close(index, depth));
                }
                b',' => tokens.push(Token::Comma(index, depth)),
                byte if byte.is_ascii_whitespace() || byte == b':' => {}
                _ => tokens.push(Token::Other(index, depth)),
            }
            index += 1;
        }
        tokens
    }
}

/// The raw text of each element of the top-level `result` array, if the answer has one.
fn result_elements(body: &[u8]) -> Option<Vec<&[u8]>> {
    let tokens = Scanner { text: body }.tokens();
    let key_at = tokens
        .iter()
        .position(|token| matches!(token, Token::Key(key, 1) if *key == b"result"))?;
    let Some(Token::Open(array_start, 1)) = tokens.get(key_at + 1) else {
        return None;
    };
    if body[*array_start] != b'[' {
        return None;
    }
    let mut elements = Vec::new();
    let mut element_start: Option<usize> = None;
    for token in &tokens[key_at + 2..] {
        match *token {
            Token::Open(at, 2) | Token::Other(at, 2) if element_start.is_none() => {
                element_start = Some(at);
            }
            Token::Comma(at, 2) => {
                if let Some(start) = element_start.take() {
                    elements.push(body[start..at].trim_ascii());
                }
            }
            Token::Close(at, 1) => {
                if let Some(start) = element_start.take() {
                    elements.push(body[start..at].trim_ascii());
                }
                return Some(elements);
            }
            _ => {}
        }
    }
    None
}

/// The keys of an object's own level.
fn top_level_keys(object: &[u8]) -> Vec<&str> {
    Scanner { text: object }
        .tokens()
        .into_iter()
        .filter_map(|token| match token {
            Token::Key(key, 1) => std::str::from_utf8(key).ok(),
            _ => None,
        })
        .collect()
}

/// The number after the object's own `"update_id":`.
fn update_id(object: &[u8]) -> Option<i64> {
    let tokens = Scanner { text: object }.tokens();
    let at = tokens
        .iter()
        .position(|token| matches!(token, Token::Key(key, 1) if *key == b"update_id"))?;
    let Some(Token::Other(start, 1)) = tokens.get(at + 1) else {
        return None;
    };
    let digits: Vec<u8> = object[*start..]
        .iter()
        .copied()
        .take_while(|byte| byte.is_ascii_digit() || *byte == b'-')
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, text: &str) -> String {
        format!(
            r#"{{"update_id":{id},"message":{{"message_id":{id},"date":1770000000,"chat":{{"id":1001,"type":"private","first_name":"Ann"}},"from":{{"id":1001,"is_bot":false,"first_name":"Ann"}},"text":"{text}"}}}}"#
        )
    }

    fn answer(updates: &[String]) -> Vec<u8> {
        format!(r#"{{"ok":true,"result":[{}]}}"#, updates.join(",")).into_bytes()
    }

    #[test]
    fn every_readable_update_is_read() {
        let fetched = read_answer(&answer(&[
            message(10, "one"),
            message(11, "two, with [brackets] {and} \\\"quotes\\\""),
        ]))
        .unwrap();
        assert_eq!(fetched.updates.len(), 2);
        assert_eq!(fetched.updates[1].id.0, 11);
        assert!(fetched.skipped.is_empty());
        assert!(
            read_answer(br#"{"ok":true,"result":[]}"#)
                .unwrap()
                .updates
                .is_empty()
        );
    }

    #[test]
    fn a_lone_surrogate_costs_only_its_own_update() {
        let body = answer(&[
            message(10, "fine"),
            message(11, "bad \\ud800 text"),
            message(12, "also fine"),
        ]);
        assert!(
            serde_json::from_slice::<serde_json::Value>(&body).is_err(),
            "the whole answer does not parse as one document"
        );
        let fetched = read_answer(&body).unwrap();
        let ids: Vec<u32> = fetched.updates.iter().map(|update| update.id.0).collect();
        assert_eq!(ids, [10, 12]);
        assert_eq!(
            fetched.skipped,
            [Skipped {
                update_id: Some(11),
                kind: "message".to_owned()
            }]
        );
    }

    #[test]
    fn a_reply_chain_deeper_than_the_parser_allows_costs_only_its_own_update() {
        let mut nested = r#"{"message_id":1,"date":1770000000,"chat":{"id":1001,"type":"private","first_name":"Ann"},"text":"x"}"#.to_owned();
        for id in 2..152 {
            nested = format!(
                r#"{{"message_id":{id},"date":1770000000,"chat":{{"id":1001,"type":"private","first_name":"Ann"}},"text":"x","reply_to_message":{nested}}}"#
            );
        }
        let deep = format!(r#"{{"update_id":11,"message":{nested}}}"#);
        let fetched = read_answer(&answer(&[deep, message(12, "fine")])).unwrap();
        assert_eq!(fetched.updates.len(), 1);
        assert_eq!(fetched.skipped[0].update_id, Some(11));
    }

    #[test]
    fn an_error_answer_is_read_with_its_wait() {
        let Err(FetchError::Refused {
            code, retry_after, ..
        }) = read_answer(
            br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
        )
        else {
            panic!("a refusal");
        };
        assert_eq!((code, retry_after), (429, Some(Duration::from_secs(3))));
        assert!(matches!(
            read_answer(b"<html>502 Bad Gateway</html>"),
            Err(FetchError::Unreadable)
        ));
    }
}
