//! What waits in the outbox and the inbox, in the form the store keeps (encrypted) for us.
//!
//! A [`Shipment`] is everything one decision sends to one chat, in order: the steps left to
//! deliver, and the question to open once they are. An [`Arrival`] is an update reduced to what
//! the conversation needs: nobody's name, no media, only the text of a private chat's message.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crossroads_core::{
    command::looks_like_command,
    event::{Chat, Event, Incoming},
    markup::Html,
    model::{OpenPrompt, UserId},
    reply::{Button, Outbound, ReplyKeyboard},
};

/// One Bot API call's worth of a shipment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Message {
        html: String,
        buttons: Vec<StepButton>,
        /// Telegram's `protect_content`: no forwarding or saving (discreet mode).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        protect: bool,
        /// Deleted from the chat this many seconds after delivery (discreet mode).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delete_after_secs: Option<i64>,
    },
    Document {
        filename: String,
        #[serde(with = "base64_bytes")]
        bytes: Vec<u8>,
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        protect: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delete_after_secs: Option<i64>,
    },
    LeaveChat,
    /// Deletes a message from the chat: the user's own once kept, or one of the bot's whose
    /// time in the chat is up (discreet mode). Telegram refusing it (too old, already gone)
    /// costs nothing else in the parcel.
    DeleteMessage {
        message_id: i32,
    },
    /// Stops a pressed button's spinner, and takes the buttons off its message so that they are
    /// pressed once.
    AnswerButton {
        callback_id: String,
        message_id: Option<i32>,
        /// A short line shown over the chat, as plain text.
        #[serde(default)]
        text: Option<String>,
    },
    /// Replaces a message's text and buttons; with no message to replace, sends it anew.
    Edit {
        message_id: Option<i32>,
        html: String,
        rows: Vec<Vec<StepButton>>,
    },
    /// A message with keys under the message field, or taking them away.
    Keyboard {
        html: String,
        keyboard: StepKeyboard,
    },
}

impl Step {
    /// Whether Telegram counts this against its flood limits: messages do, housekeeping does not.
    pub fn is_a_message(&self) -> bool {
        matches!(
            self,
            Step::Message { .. }
                | Step::Document { .. }
                | Step::Edit { .. }
                | Step::Keyboard { .. }
        )
    }

    /// How long after delivery the message this step sends is deleted from the chat, if it is.
    pub fn delete_after(&self) -> Option<chrono::Duration> {
        match self {
            Step::Message {
                delete_after_secs, ..
            }
            | Step::Document {
                delete_after_secs, ..
            } => delete_after_secs.map(chrono::Duration::seconds),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKeyboard {
    /// One key per row.
    Offer(Vec<StepKey>),
    Remove,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepKey {
    pub label: String,
    /// Shares the user's location instead of sending the label.
    pub location: bool,
}

fn step_button(button: Button) -> StepButton {
    match button {
        Button::Url { label, url } => StepButton::Url { label, url },
        Button::Callback { label, data } => StepButton::Callback { label, data },
    }
}

/// A decided turn's steps after `steps` (the answer to the button press that caused it, if one
/// did): the turn's notice goes on that answer, and an edit goes to the pressed message, whose
/// buttons the edit replaces instead of their being taken off.
pub fn with_outcome(mut steps: Vec<Step>, outbound: &[Outbound]) -> Vec<Step> {
    let notice = outbound.iter().find_map(|outbound| match outbound {
        Outbound::Notice(text) => Some(text.clone()),
        _ => None,
    });
    let edits = outbound
        .iter()
        .any(|outbound| matches!(outbound, Outbound::Edit(_)));
    let mut pressed = None;
    for step in &mut steps {
        if let Step::AnswerButton {
            message_id, text, ..
        } = step
        {
            pressed = Some(*message_id);
            if edits {
                *message_id = None;
            }
            if notice.is_some() {
                text.clone_from(&notice);
            }
        }
    }
    let answered = pressed.is_some();
    steps.extend(
        outbound
            .iter()
            // Without a press to answer, a notice is said in the chat instead.
            .filter(|outbound| !(answered && matches!(outbound, Outbound::Notice(_))))
            .cloned()
            .map(|outbound| match Step::from(outbound) {
                Step::Edit { html, rows, .. } => Step::Edit {
                    message_id: pressed.flatten(),
                    html,
                    rows,
                },
                step => step,
            }),
    );
    steps
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepButton {
    Url { label: String, url: String },
    Callback { label: String, data: String },
}

impl From<Outbound> for Step {
    fn from(outbound: Outbound) -> Step {
        match outbound {
            Outbound::Message(message) => Step::Message {
                protect: message.discretion.protect,
                delete_after_secs: message
                    .discretion
                    .delete_after
                    .map(|after| after.num_seconds()),
                html: message.html.into_string(),
                buttons: message.buttons.into_iter().map(step_button).collect(),
            },
            Outbound::Edit(panel) => Step::Edit {
                message_id: None,
                html: panel.html.into_string(),
                rows: panel
                    .rows
                    .into_iter()
                    .map(|row| row.into_iter().map(step_button).collect())
                    .collect(),
            },
            Outbound::Notice(text) => Step::Message {
                html: Html::text(&text).into_string(),
                buttons: Vec::new(),
                protect: false,
                delete_after_secs: None,
            },
            Outbound::Keyboard(keyed) => Step::Keyboard {
                html: keyed.html.into_string(),
                keyboard: match keyed.keyboard {
                    ReplyKeyboard::Offer(keys) => StepKeyboard::Offer(
                        keys.into_iter()
                            .map(|key| StepKey {
                                label: key.label,
                                location: key.location,
                            })
                            .collect(),
                    ),
                    ReplyKeyboard::Remove => StepKeyboard::Remove,
                },
            },
            Outbound::Document(document) => Step::Document {
                protect: document.discretion.protect,
                delete_after_secs: document
                    .discretion
                    .delete_after
                    .map(|after| after.num_seconds()),
                filename: document.filename,
                bytes: document.bytes,
                caption: document.caption.map(|caption| caption.into_string()),
            },
            Outbound::LeaveChat => Step::LeaveChat,
            Outbound::DeleteMessage { message_id } => Step::DeleteMessage { message_id },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// What is left to deliver, in order.
    pub steps: Vec<Step>,
    /// The question among the steps, opened for an answer once the last step is delivered.
    pub opens: Option<OpenPrompt>,
    pub queued_at: DateTime<Utc>,
}

impl Shipment {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Shipment> {
        serde_json::from_slice(bytes).ok()
    }
}

/// An update as the inbox keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    pub chat: ArrivalChat,
    pub what: What,
    /// A button press to answer, whatever else happens.
    pub button: Option<PressedButton>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArrivalChat {
    Private(UserId),
    /// A group or any chat that is not a person's own.
    Other(i64),
}

impl ArrivalChat {
    pub fn id(self) -> i64 {
        match self {
            ArrivalChat::Private(id) | ArrivalChat::Other(id) => id,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum What {
    /// A message; `text` is `None` for a sticker, photo or anything else that is not text.
    Message {
        message_id: i32,
        sent_at: DateTime<Utc>,
        text: Option<String>,
        /// The id of the message this one replies to, if it is a Telegram reply; nothing else
        /// of that message is kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<i32>,
    },
    Edited {
        message_id: i32,
        sent_at: DateTime<Utc>,
        text: String,
    },
    Button {
        data: String,
    },
    /// A shared location, as the timezone it lies in and nothing more: the coordinates are
    /// let go when the update is read, before anything is written.
    Location {
        zone: Option<String>,
    },
    Blocked,
    Unblocked,
    /// The bot was added to a group, or a group member wrote.
    Group,
    /// Nothing for the conversation: only the button's spinner to stop.
    Nothing,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PressedButton {
    pub callback_id: String,
    pub message_id: Option<i32>,
}

impl Arrival {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Arrival> {
        serde_json::from_slice(bytes).ok()
    }

    /// The event for the conversation, if there is one. Commands are read here, at handling
    /// time, so a command added in a newer version applies to updates waiting from before.
    pub fn event(&self, bot_username: &str) -> Option<(Chat, Event)> {
        let chat = match self.chat {
            ArrivalChat::Private(user_id) => Chat::Private(user_id),
            ArrivalChat::Other(_) => Chat::Group,
        };
        let event = match &self.what {
            What::Message {
                message_id,
                sent_at,
                text: Some(text),
                reply_to,
            } if chat != Chat::Group => {
                Event::from_text(text, bot_username, *message_id, *sent_at).replying_to(*reply_to)
            }
            What::Message { .. } | What::Group => Event::NonText,
            What::Edited {
                message_id,
                sent_at,
                text,
            } => {
                if looks_like_command(text) {
                    return None;
                }
                Event::Edited(Incoming {
                    message_id: *message_id,
                    sent_at: *sent_at,
                    text: text.clone(),
                    reply_to: None,
                })
            }
            What::Button { data } => Event::ButtonPressed { data: data.clone() },
            What::Location { .. } if chat == Chat::Group => Event::NonText,
            What::Location { zone } => Event::Location { zone: zone.clone() },
            What::Blocked => Event::Blocked,
            What::Unblocked => Event::Unblocked,
            What::Nothing => return None,
        };
        Some((chat, event))
    }
}

/// Bytes as base64 text: JSON has no bytes, and an array of numbers is four times the size.
mod base64_bytes {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shipment_survives_encoding_with_its_document_bytes() {
        let shipment = Shipment {
            steps: vec![
                Step::AnswerButton {
                    callback_id: "cb".into(),
                    message_id: Some(3),
                    text: None,
                },
                Step::Document {
                    filename: "export.json".into(),
                    bytes: vec![0, 159, 146, 150, 255],
                    caption: Some("<b>yours</b>".into()),
                    protect: true,
                    delete_after_secs: Some(900),
                },
                Step::DeleteMessage { message_id: 9 },
            ],
            opens: None,
            queued_at: "2026-03-02T10:00:00Z".parse().unwrap(),
        };
        assert_eq!(Shipment::decode(&shipment.encode()), Some(shipment));
    }

    #[test]
    fn a_step_queued_before_discreet_mode_still_reads() {
        let old = r#"{"steps":[{"Message":{"html":"hi","buttons":[]}}],"opens":null,"queued_at":"2026-03-02T10:00:00Z"}"#;
        let shipment = Shipment::decode(old.as_bytes()).expect("an old shipment reads");
        assert_eq!(
            shipment.steps[0],
            Step::Message {
                html: "hi".into(),
                buttons: Vec::new(),
                protect: false,
                delete_after_secs: None,
            }
        );
    }

    #[test]
    fn an_edited_command_is_not_read_again() {
        let arrival = Arrival {
            chat: ArrivalChat::Private(7),
            what: What::Edited {
                message_id: 1,
                sent_at: "2026-03-02T10:00:00Z".parse().unwrap(),
                text: "/delete".into(),
            },
            button: None,
        };
        assert_eq!(arrival.event("bot"), None);
    }

    #[test]
    fn a_group_message_is_never_read_as_a_users_words() {
        let arrival = Arrival {
            chat: ArrivalChat::Other(-500),
            what: What::Message {
                message_id: 1,
                sent_at: "2026-03-02T10:00:00Z".parse().unwrap(),
                text: Some("my private words".into()),
                reply_to: None,
            },
            button: None,
        };
        assert_eq!(arrival.event("bot"), Some((Chat::Group, Event::NonText)));
    }

    fn press(message_id: Option<i32>) -> Vec<Step> {
        vec![Step::AnswerButton {
            callback_id: "cb".into(),
            message_id,
            text: None,
        }]
    }

    #[test]
    fn an_edit_goes_to_the_pressed_message_which_keeps_its_new_buttons() {
        let panel = Outbound::Edit(crossroads_core::reply::Panel {
            html: Html::text("hours"),
            rows: vec![vec![Button::Callback {
                label: "07".into(),
                data: "set:h07:1".into(),
            }]],
        });
        let steps = with_outcome(press(Some(9)), std::slice::from_ref(&panel));
        assert_eq!(
            steps[0],
            Step::AnswerButton {
                callback_id: "cb".into(),
                message_id: None,
                text: None
            },
            "the buttons are not taken off: the edit replaces them"
        );
        assert!(
            matches!(&steps[1], Step::Edit { message_id: Some(9), rows, .. } if rows.len() == 1)
        );
        // A press on a message Telegram no longer shows the bot: the panel comes anew.
        let steps = with_outcome(press(None), std::slice::from_ref(&panel));
        assert!(matches!(
            &steps[1],
            Step::Edit {
                message_id: None,
                ..
            }
        ));
        let steps = with_outcome(Vec::new(), &[panel]);
        assert!(matches!(
            steps.as_slice(),
            [Step::Edit {
                message_id: None,
                ..
            }]
        ));
    }

    #[test]
    fn a_notice_goes_on_the_answer_to_the_press_and_the_old_buttons_come_off() {
        let notice = Outbound::Notice("out of date <b>".into());
        let steps = with_outcome(press(Some(4)), std::slice::from_ref(&notice));
        assert_eq!(
            steps,
            vec![Step::AnswerButton {
                callback_id: "cb".into(),
                message_id: Some(4),
                text: Some("out of date <b>".into())
            }]
        );
        // With nothing pressed, it is said in the chat, escaped.
        let steps = with_outcome(Vec::new(), &[notice]);
        assert!(
            matches!(steps.as_slice(), [Step::Message { html, .. }] if html == "out of date &lt;b&gt;")
        );
    }

    #[test]
    fn a_location_is_kept_only_as_its_zone_and_never_from_a_group() {
        let private = Arrival {
            chat: ArrivalChat::Private(7),
            what: What::Location {
                zone: Some("Europe/Paris".into()),
            },
            button: None,
        };
        assert_eq!(Arrival::decode(&private.encode()), Some(private.clone()));
        assert_eq!(
            private.event("bot"),
            Some((
                Chat::Private(7),
                Event::Location {
                    zone: Some("Europe/Paris".into())
                }
            ))
        );
        let group = Arrival {
            chat: ArrivalChat::Other(-5),
            ..private
        };
        assert_eq!(group.event("bot"), Some((Chat::Group, Event::NonText)));
    }
}
