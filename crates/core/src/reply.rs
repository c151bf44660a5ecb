//! What the bot sends back, before any transport turns it into a Telegram call or terminal text.

use super::markup::Html;

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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub caption: Option<Html>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    Message(Message),
    Document(Document),
    /// Leave a group chat, after saying why.
    LeaveChat,
}

impl Outbound {
    pub fn text(html: Html) -> Outbound {
        Outbound::Message(Message {
            html,
            buttons: Vec::new(),
        })
    }

    pub fn with_buttons(html: Html, buttons: Vec<Button>) -> Outbound {
        Outbound::Message(Message { html, buttons })
    }
}
