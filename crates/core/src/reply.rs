//! What the bot sends back, before any transport turns it into a Telegram call or terminal text.

use chrono::Duration;

use super::markup::Html;

/// How a message is kept out of sight, in discreet mode: Telegram's `protect_content` (no
/// forwarding or saving) and a deletion from the chat a while after it arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Discretion {
    pub protect: bool,
    pub delete_after: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Button {
    Url { label: String, url: String },
    Callback { label: String, data: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub html: Html,
    /// One button per row: they are few, and full-width buttons are easier to tap.
    pub buttons: Vec<Button>,
    pub discretion: Discretion,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub caption: Option<Html>,
    pub discretion: Discretion,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    Message(Message),
    Document(Document),
    /// Leave a group chat, after saying why.
    LeaveChat,
    /// Replaces the text and buttons of the message whose button was just pressed, so that a
    /// menu changes in place instead of piling up messages.
    Edit(Panel),
    /// A short line shown over the chat where a button was pressed, as plain text (Telegram's
    /// `answerCallbackQuery` text: at most 200 characters).
    Notice(String),
    /// A message that sets the buttons under the message field, or takes them away.
    Keyboard(Keyed),
    /// Delete one of the user's own messages from the chat (discreet mode, once their words
    /// are kept).
    DeleteMessage {
        message_id: i32,
    },
}

/// A message whose buttons are laid out in rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panel {
    pub html: Html,
    pub rows: Vec<Vec<Button>>,
}

/// A message with a reply keyboard: buttons that send their label as the user's message, or
/// the user's location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyed {
    pub html: Html,
    pub keyboard: ReplyKeyboard,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyKeyboard {
    /// One key per row.
    Offer(Vec<Key>),
    Remove,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub label: String,
    /// Pressing it shares the user's location instead of sending the label.
    pub location: bool,
}

impl Outbound {
    pub fn text(html: Html) -> Outbound {
        Outbound::Message(Message {
            html,
            buttons: Vec::new(),
            discretion: Discretion::default(),
        })
    }

    pub fn with_buttons(html: Html, buttons: Vec<Button>) -> Outbound {
        Outbound::Message(Message {
            html,
            buttons,
            discretion: Discretion::default(),
        })
    }
}
