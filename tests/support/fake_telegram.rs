//! A fake Telegram Bot API server for end-to-end tests.
//!
//! A real `teloxide::Bot` pointed at [`FakeTelegram::api_url`] can run against it unchanged. The
//! fake refuses what Telegram refuses (bad HTML, over-long text, broken buttons, unknown or
//! blocked chats), with Telegram's wording, so a conversation that passes here would pass in
//! production too. Tests play the users through the `user_*` methods and observe the bot through
//! [`FakeTelegram::next_message`], [`FakeTelegram::calls`] and [`FakeTelegram::rejections`].
//!
//! Updates are forgotten only when the bot confirms them with a higher `offset`, exactly as
//! Telegram does, so a bot that crashes between receiving and confirming sees them again. In
//! webhook mode ([`FakeTelegram::route_webhook_to`]) they are posted to the bot one at a time and
//! forgotten only when it answers 2xx, so an update the bot failed to take is posted again.
//!
//! Telegram's flood limits are enforced with real time (see [`FakeTelegram::flood_refusals`]),
//! and a test can make the server misbehave on purpose with [`FakeTelegram::fail_next`] and
//! [`FakeTelegram::fail_randomly`]: an injected [`Fault`] is the server's doing, not the bot's,
//! so it is recorded apart from [`FakeTelegram::rejections`].

// Shared test support: each test binary uses a different subset of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
// Flood limits are measured in real time: the injected clock jumps by hours in tests.
use std::time::Instant as RealInstant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{self, DefaultBodyLimit, FromRequest, Multipart, Path, Request};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use telegram_html::{CAPTION_LIMIT, MESSAGE_LIMIT, utf16_len};

// This file is a module of two different parents, `support/mod.rs` and `tests/fake_telegram.rs`
// by `#[path]`, which would look for a plain `mod` in different folders.
#[path = "telegram_html.rs"]
pub mod telegram_html;

/// Returns the current unix time in seconds; every message and update is stamped with it.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

const TOKEN: &str = "4242:TEST-TOKEN";
const BOT_ID: i64 = 4242;
const BOT_FIRST_NAME: &str = "Crossroads";
const BOT_USERNAME: &str = "crossroads_test_bot";

/// Telegram's update ids are large and arbitrary; starting far from 0 and 1 catches code that
/// treats them as a count.
const FIRST_UPDATE_ID: i64 = 10_000;

// Telegram's limits, written out here rather than taken from the crate under test: the fake
// must catch the crate getting them wrong. Text and caption limits are with the HTML rules.
const CALLBACK_DATA_LIMIT: usize = 64;
const COMMAND_LIMIT: usize = 100;
const UPLOAD_LIMIT: usize = 50 * 1024 * 1024;

/// The methods the fake implements; anything else is answered like an unknown method.
const METHODS: &[&str] = &[
    "getMe",
    "getUpdates",
    "setWebhook",
    "getWebhookInfo",
    "deleteWebhook",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "answerCallbackQuery",
    "setMyCommands",
    "deleteMyCommands",
    "getMyCommands",
    "leaveChat",
    "sendDocument",
    "sendChatAction",
];

/// The methods that send a message, which Telegram's flood limits count. sendChatAction sends
/// none, and edits, callback answers and the rest are not messages either. A send method added
/// to the fake belongs here too.
const FLOOD_LIMITED_METHODS: &[&str] = &["sendMessage", "sendDocument"];

// Telegram's FAQ: "more than ~30 messages per second" overall are refused; in a single chat,
// "avoid sending more than one message per second", with short bursts allowed; "in a group,
// bots are not able to send more than 20 messages per minute". Each is a token bucket here.
const DEFAULT_OVERALL_SENDS_PER_SECOND: u32 = 30;
const PRIVATE_CHAT_BURST: f64 = 3.0;
const PRIVATE_CHAT_SENDS_PER_SECOND: f64 = 1.0;
const GROUP_CHAT_BURST: f64 = 20.0;
const GROUP_CHAT_SENDS_PER_SECOND: f64 = 20.0 / 60.0;

/// The ports the Bot API documents for webhooks.
const WEBHOOK_PORTS: &[u16] = &[80, 88, 443, 8443];
const SECRET_TOKEN_LIMIT: usize = 256;
const DEFAULT_MAX_CONNECTIONS: i64 = 40;
/// How long a webhook delivery may take before it counts as failed. Telegram does not document
/// its own wait; tests of a slow bot shorten it with `set_webhook_timeout`.
const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Failed deliveries are retried after this, doubling up to the maximum: Telegram's own
/// schedule is undocumented and slower, and tests should not wait on it.
const FIRST_WEBHOOK_RETRY: Duration = Duration::from_millis(100);
const MAX_WEBHOOK_RETRY: Duration = Duration::from_secs(2);

/// What Telegram's nginx front end answers when the Bot API server behind it does not.
const BAD_GATEWAY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\
                                <body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n\
                                <hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Update kinds Telegram only sends when `allowed_updates` names them explicitly.
const OPT_IN_UPDATES: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

/// The fields of an inline keyboard button of which exactly one must be present.
const BUTTON_ACTIONS: &[&str] = &[
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
];

const CHAT_ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply \
                            markup are exactly the same as a current content and reply markup \
                            of the message";

// ---------------------------------------------------------------------------------------------
// What tests observe
// ---------------------------------------------------------------------------------------------

/// A message the bot sent, or the new state of one it edited.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub chat_id: i64,
    pub message_id: i32,
    /// The text (or document caption) exactly as the bot sent it.
    pub html: String,
    /// What the user sees once entities are parsed.
    pub text: String,
    pub parse_mode: Option<String>,
    pub buttons: Vec<Vec<Button>>,
    pub document: Option<SentDocument>,
    pub edited: bool,
    /// Sent with `protect_content`: it cannot be forwarded or saved.
    pub protect_content: bool,
    /// The parts of `text` hidden as spoilers until tapped, outermost first.
    pub spoilers: Vec<String>,
}

impl SentMessage {
    /// What a notification preview or the chat list shows of the text: spoilers masked.
    pub fn preview(&self) -> String {
        telegram_html::Parsed {
            text: self.text.clone(),
            spoilers: self.spoilers.clone(),
        }
        .preview()
    }

    /// The first line of the text, as a notification shows it first.
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    /// `(text, url)` of every URL button, row by row.
    pub fn url_buttons(&self) -> Vec<(String, String)> {
        self.buttons
            .iter()
            .flatten()
            .filter_map(|button| match button {
                Button::Url { text, url } => Some((text.clone(), url.clone())),
                Button::Callback { .. } => None,
            })
            .collect()
    }

    /// The callback data of every callback button, row by row.
    pub fn callback_data(&self) -> Vec<String> {
        self.buttons
            .iter()
            .flatten()
            .filter_map(|button| match button {
                Button::Callback { data, .. } => Some(data.clone()),
                Button::Url { .. } => None,
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SentDocument {
    pub filename: String,
    pub bytes: Vec<u8>,
    /// The caption exactly as the bot sent it.
    pub caption: Option<String>,
}

/// A key of a reply keyboard, as the user sees it under the message field.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyKey {
    pub text: String,
    /// Tapping it shares the user's location.
    pub request_location: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Button {
    Url { text: String, url: String },
    Callback { text: String, data: String },
}

/// A request the fake refused, kept so a test can assert that the bot never broke a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub method: String,
    pub status: u16,
    pub description: String,
    /// The request's parameters as JSON; uploaded files appear as their name and size.
    pub body: String,
}

/// A way for the server to fail a request on purpose, as Telegram's sometimes does, so a test
/// can check that the bot copes. None of them is the bot's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 502 with nginx's HTML page, not JSON: what Telegram's front end answers when the
    /// Bot API server behind it is down. The request never reached it, so it has no effect.
    BadGateway,
    /// HTTP 500 with a Bot API error body; the request has no effect.
    InternalError,
    /// HTTP 429 with `parameters.retry_after`, as a flood refusal looks; the request has no
    /// effect. Not counted in [`FakeTelegram::flood_refusals`]: the bot did nothing wrong.
    TooManyRequests { retry_after: u32 },
    /// The request is never answered, until the client gives up or the connection closes,
    /// and has no effect.
    Hang,
    /// The request takes effect (a message is sent and visible to the test) but its answer never
    /// comes: the ambiguous case, where a bot that retries sends twice.
    AcceptThenHang,
}

impl Fault {
    fn takes_effect(self) -> bool {
        matches!(self, Fault::AcceptThenHang)
    }
}

/// A request that got an injected [`Fault`] instead of Telegram's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedFault {
    /// The method as the fake names it, e.g. "sendMessage".
    pub method: String,
    pub fault: Fault,
    /// The request's parameters as JSON; uploaded files appear as their name and size.
    pub body: Value,
}

/// Which of Telegram's flood limits a send exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodLimit {
    /// Messages per second to all chats together.
    Overall,
    /// Messages to one chat: a short burst, then one per second in a private chat and 20 per
    /// minute in a group.
    Chat,
}

/// A send Telegram refused with 429 because the bot sent too fast: a broken rule, kept apart
/// from [`FakeTelegram::rejections`] so tests can check each on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodRefusal {
    pub method: String,
    pub chat_id: i64,
    pub at: RealInstant,
    pub retry_after: u32,
    pub limit: FloodLimit,
}

/// The webhook the bot set, as a test sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookInfo {
    pub url: String,
    pub secret_token: Option<String>,
    /// The update kinds the bot asked for, sorted; `None` for Telegram's default.
    pub allowed_updates: Option<Vec<String>>,
    pub max_connections: u32,
}

// ---------------------------------------------------------------------------------------------
// The test-facing handle
// ---------------------------------------------------------------------------------------------

pub struct FakeTelegram {
    shared: Arc<Shared>,
    address: SocketAddr,
    stop: watch::Sender<bool>,
}

impl FakeTelegram {
    /// Starts the server on a free local port inside the current tokio runtime.
    ///
    /// The clock should return realistic times: teloxide reads a callback query's message with
    /// date 0 as an inaccessible message, as the Bot API defines it.
    pub async fn start(clock: Clock) -> FakeTelegram {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Telegram: bind a local port");
        let address = listener
            .local_addr()
            .expect("fake Telegram: read the bound address");
        let (changes, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            changes,
            clock,
        });
        let (stop, mut stopped) = watch::channel(false);
        let app = router(Arc::clone(&shared));
        tokio::spawn(deliver_webhook_updates(Arc::clone(&shared)));
        tokio::spawn(async move {
            let stop_signal = async move {
                // An error means the handle was dropped, which is a reason to stop as well.
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stop_signal)
                .await
            {
                eprintln!("fake Telegram server failed: {error}");
            }
        });
        FakeTelegram {
            shared,
            address,
            stop,
        }
    }

    /// The base URL to give `Bot::set_api_url`; teloxide appends `bot{token}/{Method}` to it.
    pub fn api_url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/", self.address))
            .expect("fake Telegram: a socket address makes a valid URL")
    }

    /// The only token the fake accepts.
    pub fn token(&self) -> &str {
        TOKEN
    }

    /// Lets the bot and the user talk; the private chat's id is the user's id, as in Telegram.
    pub fn add_private_chat(&self, user_id: i64, first_name: &str) {
        assert!(user_id > 0, "fake Telegram: user ids are positive");
        self.shared.mutate(|state| {
            state.user_names.insert(user_id, first_name.to_owned());
            state.chats.entry(user_id).or_insert_with(|| {
                ChatState::new(
                    user_id,
                    ChatKind::Private {
                        first_name: first_name.to_owned(),
                        blocked: false,
                    },
                )
            });
        });
    }

    /// Adds a basic group with the bot in it; adding a group the bot left puts it back.
    pub fn add_group_chat(&self, chat_id: i64, title: &str) {
        assert!(chat_id < 0, "fake Telegram: group chat ids are negative");
        self.shared.mutate(|state| {
            let chat = state.chats.entry(chat_id).or_insert_with(|| {
                ChatState::new(
                    chat_id,
                    ChatKind::Group {
                        title: title.to_owned(),
                        member: true,
                    },
                )
            });
            if let ChatKind::Group { member, .. } = &mut chat.kind {
                *member = true;
            }
        });
    }

    /// Enqueues a `message` update whose text carries a lone UTF-16 surrogate escape
    /// (`\ud800`), which Telegram can deliver and strict JSON parsers refuse. Returns its
    /// update id.
    pub fn user_sends_unreadable_text(&self, chat_id: i64, from_user_id: i64) -> i64 {
        const PLACEHOLDER: &str = "placeholder-for-a-lone-surrogate";
        let raw = "\"words \\ud800 that no strict parser reads\"".to_owned();
        self.user_message_served_as(
            chat_id,
            from_user_id,
            |_| text_fields(PLACEHOLDER),
            Some((PLACEHOLDER, raw)),
        )
        .1
    }

    /// Enqueues a `message` update whose `reply_to_message` chain is `depth` messages deep, and
    /// returns its update id. Telegram never nests replies (a replied-to message carries no
    /// `reply_to_message` of its own), but a parser must survive it: from about 128 levels,
    /// serde_json refuses the document for its recursion limit, as it would a hostile one.
    pub fn user_sends_deeply_nested_reply(
        &self,
        chat_id: i64,
        from_user_id: i64,
        depth: usize,
    ) -> i64 {
        const PLACEHOLDER: &str = "placeholder-for-a-chain-of-replies";
        assert!(
            depth >= 1,
            "fake Telegram: a reply chain is at least one message deep"
        );
        let now = self.shared.now();
        let (from, chat) = self.shared.mutate(|state| {
            let from = state.user_json(from_user_id);
            (from, state.chat_for_user(chat_id, from_user_id).json())
        });
        // Built as text: a `Value` this deep would be dropped by recursion, too.
        let mut chain = String::new();
        for level in 1..=depth {
            let mut message = json!({
                "message_id": level,
                "from": from,
                "chat": chat,
                "date": now,
                "text": format!("reply {level}"),
            })
            .to_string();
            if !chain.is_empty() {
                message.pop();
                message = format!("{message},\"reply_to_message\":{chain}}}");
            }
            chain = message;
        }
        self.user_message_served_as(
            chat_id,
            from_user_id,
            |_| {
                let mut fields = text_fields("and so it went on");
                fields.insert("reply_to_message".into(), json!(PLACEHOLDER));
                fields
            },
            Some((PLACEHOLDER, chain)),
        )
        .1
    }

    /// Enqueues a `message` update and returns its message id. A leading `/command` gets a
    /// `bot_command` entity, as Telegram adds one.
    pub fn user_sends_text(&self, chat_id: i64, from_user_id: i64, text: &str) -> i32 {
        self.user_message(chat_id, from_user_id, |_| text_fields(text))
    }

    /// Enqueues a `message` update that is a Telegram reply to message `reply_to` of the same
    /// chat (the user swiped it and wrote), and returns its message id. As Telegram does, the
    /// replied-to message comes whole in `reply_to_message`, without a `reply_to_message` of
    /// its own.
    pub fn user_replies_to(
        &self,
        chat_id: i64,
        from_user_id: i64,
        reply_to: i32,
        text: &str,
    ) -> i32 {
        let replied = self.shared.mutate(|state| {
            let chat = state.chat_for_user(chat_id, from_user_id);
            let stored = chat.messages.get(&reply_to).unwrap_or_else(|| {
                panic!("fake Telegram: chat {chat_id} has no message {reply_to} to reply to")
            });
            let mut replied = stored.json.clone();
            if let Value::Object(fields) = &mut replied {
                fields.remove("reply_to_message");
            }
            replied
        });
        self.user_message(chat_id, from_user_id, |_| {
            let mut fields = text_fields(text);
            fields.insert("reply_to_message".into(), replied);
            fields
        })
    }

    /// Enqueues an `edited_message` update keeping the message's original date, as Telegram does.
    pub fn user_edits_text(
        &self,
        chat_id: i64,
        from_user_id: i64,
        message_id: i32,
        new_text: &str,
    ) {
        let now = self.shared.now();
        self.shared.mutate(|state| {
            let chat = state.chat_for_user(chat_id, from_user_id);
            let stored = chat.messages.get_mut(&message_id).unwrap_or_else(|| {
                panic!("fake Telegram: chat {chat_id} has no message {message_id} to edit")
            });
            assert!(
                stored.sender_id == from_user_id && stored.json.get("text").is_some(),
                "fake Telegram: message {message_id} is not a text message of user {from_user_id}"
            );
            let mut edited = stored.json.clone();
            if let Value::Object(fields) = &mut edited {
                fields.remove("entities");
                fields.extend(text_fields(new_text));
                fields.insert("edit_date".into(), json!(now));
            }
            stored.json = edited.clone();
            state.enqueue("edited_message", edited);
        });
    }

    pub fn user_sends_sticker(&self, chat_id: i64, from_user_id: i64) -> i32 {
        self.user_message(chat_id, from_user_id, |file| {
            object(json!({
                "sticker": {
                    "file_id": format!("sticker-{file}"),
                    "file_unique_id": format!("unique-sticker-{file}"),
                    "file_size": 24_000,
                    "width": 512,
                    "height": 512,
                    "type": "regular",
                    "is_animated": false,
                    "is_video": false,
                    "emoji": "🙂",
                }
            }))
        })
    }

    pub fn user_sends_photo(&self, chat_id: i64, from_user_id: i64) -> i32 {
        self.user_message(chat_id, from_user_id, |file| {
            object(json!({
                "photo": [
                    {
                        "file_id": format!("photo-small-{file}"),
                        "file_unique_id": format!("unique-photo-small-{file}"),
                        "file_size": 1_200,
                        "width": 90,
                        "height": 90,
                    },
                    {
                        "file_id": format!("photo-{file}"),
                        "file_unique_id": format!("unique-photo-{file}"),
                        "file_size": 120_000,
                        "width": 1280,
                        "height": 1280,
                    }
                ]
            }))
        })
    }

    pub fn user_sends_voice(&self, chat_id: i64, from_user_id: i64) -> i32 {
        self.user_message(chat_id, from_user_id, |file| {
            object(json!({
                "voice": {
                    "file_id": format!("voice-{file}"),
                    "file_unique_id": format!("unique-voice-{file}"),
                    "file_size": 9_000,
                    "duration": 3,
                    "mime_type": "audio/ogg",
                }
            }))
        })
    }

    /// Enqueues a `callback_query` update and returns the query's id. The message must be one
    /// the bot sent and must currently carry a callback button with this data: a user cannot
    /// press a button that is not there.
    pub fn user_presses_button(
        &self,
        chat_id: i64,
        from_user_id: i64,
        message_id: i32,
        data: &str,
    ) -> String {
        self.shared.mutate(|state| {
            let from = state.user_json(from_user_id);
            let chat = state.chat_for_user(chat_id, from_user_id);
            let stored = chat.messages.get(&message_id).unwrap_or_else(|| {
                panic!("fake Telegram: chat {chat_id} has no message {message_id}")
            });
            let has_button = stored
                .content
                .as_ref()
                .is_some_and(|sent| sent.callback_data().iter().any(|d| d == data));
            assert!(
                has_button,
                "fake Telegram: message {message_id} in chat {chat_id} has no callback button \
                 with data {data:?}"
            );
            let message = stored.json.clone();
            state.enqueue_callback(chat_id, from, message, data)
        })
    }

    /// From now on sends to this user get 403; enqueues the `my_chat_member` update (member to
    /// kicked) Telegram sends.
    pub fn user_blocks_bot(&self, user_id: i64) {
        self.set_blocked(user_id, true);
    }

    /// Enqueues the `my_chat_member` update (kicked to member) Telegram sends when a user restarts
    /// the bot.
    pub fn user_unblocks_bot(&self, user_id: i64) {
        self.set_blocked(user_id, false);
    }

    /// The next message the bot sent or edited in this chat that this method has not returned
    /// yet, waiting up to `timeout` for one to arrive.
    pub async fn next_message(&self, chat_id: i64, timeout: Duration) -> Option<SentMessage> {
        self.shared
            .wait_for(timeout, |state| state.chats.get_mut(&chat_id)?.take_next())
            .await
    }

    /// Waits up to `timeout` until a long-polling `getUpdates` is in progress, which tells a test
    /// the bot is up and listening. Returns whether one was seen. A poll whose client went away
    /// may count until its own timeout ends.
    pub async fn wait_until_polling(&self, timeout: Duration) -> bool {
        self.shared
            .wait_for(timeout, |state| (state.parked_polls > 0).then_some(()))
            .await
            .is_some()
    }

    /// Everything the bot sent or edited in this chat, including what `next_message` returned.
    pub fn sent_messages(&self, chat_id: i64) -> Vec<SentMessage> {
        let state = self.shared.lock();
        state
            .chats
            .get(&chat_id)
            .map(|chat| chat.outbox.clone())
            .unwrap_or_default()
    }

    pub fn rejections(&self) -> Vec<Rejection> {
        self.shared.lock().rejections.clone()
    }

    /// The parameters of every accepted request to `method`, compared without regard to case.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        let state = self.shared.lock();
        state
            .calls
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(method))
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// The highest offset the bot has confirmed updates with; 0 before the first confirmation.
    pub fn confirmed_offset(&self) -> i64 {
        self.shared.lock().confirmed_offset
    }

    /// Updates waiting for the bot to confirm them, whether or not it has received them yet.
    pub fn pending_update_count(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// Updates Telegram would never have delivered, because the bot's `allowed_updates` excluded
    /// their kind when they happened. Useful when a test waits for a reaction that never comes.
    pub fn filtered_updates(&self) -> Vec<Value> {
        self.shared.lock().filtered_updates.clone()
    }

    pub fn left_chats(&self) -> Vec<i64> {
        self.shared.lock().left_chats.clone()
    }

    /// Waits until the bot has left `chat_id`; false if it has not within `timeout`.
    pub async fn wait_until_left(&self, chat_id: i64, timeout: Duration) -> bool {
        self.shared
            .wait_for(timeout, |state| {
                state.left_chats.contains(&chat_id).then_some(())
            })
            .await
            .is_some()
    }

    /// The messages deleted from a chat with deleteMessage, in the order deleted.
    pub fn deleted_messages(&self, chat_id: i64) -> Vec<i32> {
        let state = self.shared.lock();
        state
            .deleted
            .iter()
            .filter(|(chat, _)| *chat == chat_id)
            .map(|(_, message_id)| *message_id)
            .collect()
    }

    /// Waits up to `timeout` until `message_id` was deleted from the chat. Returns whether it
    /// was.
    pub async fn wait_until_deleted(
        &self,
        chat_id: i64,
        message_id: i32,
        timeout: Duration,
    ) -> bool {
        self.shared
            .wait_for(timeout, |state| {
                state.deleted.contains(&(chat_id, message_id)).then_some(())
            })
            .await
            .is_some()
    }

    /// Whether the chat still shows the message: not deleted by the bot or by the user.
    pub fn still_in_chat(&self, chat_id: i64, message_id: i32) -> bool {
        let state = self.shared.lock();
        state
            .chats
            .get(&chat_id)
            .is_some_and(|chat| chat.messages.contains_key(&message_id))
    }

    /// The user deletes a message from the chat themselves, as a Telegram app can: the bot is
    /// not told.
    pub fn user_deletes_message(&self, chat_id: i64, message_id: i32) {
        self.shared.mutate(|state| {
            if let Some(chat) = state.chats.get_mut(&chat_id) {
                chat.messages.remove(&message_id);
            }
        });
    }

    pub fn answered_callbacks(&self) -> Vec<String> {
        self.shared.lock().answered_callbacks.clone()
    }

    /// Enqueues a message sharing a location, as the Telegram app sends it when the user taps
    /// a `request_location` key or attaches their location. Returns its message id.
    pub fn user_sends_location(
        &self,
        chat_id: i64,
        from_user_id: i64,
        latitude: f64,
        longitude: f64,
    ) -> i32 {
        self.user_message(chat_id, from_user_id, |_| {
            object(json!({
                "location": { "latitude": latitude, "longitude": longitude }
            }))
        })
    }

    /// The keys the bot's reply keyboard shows under the user's message field now, row by
    /// row, or `None` when it shows none (never sent, or removed).
    pub fn reply_keys(&self, chat_id: i64) -> Option<Vec<Vec<ReplyKey>>> {
        self.shared
            .lock()
            .chats
            .get(&chat_id)
            .and_then(|chat| chat.reply_keys.clone())
    }

    /// The user taps a key of the reply keyboard shown now: a `request_location` key shares
    /// `location`, any other sends its label as a message. The key must be there: a user can
    /// only tap what they see. Returns the message id.
    pub fn user_taps_key(
        &self,
        chat_id: i64,
        from_user_id: i64,
        label: &str,
        location: (f64, f64),
    ) -> i32 {
        let key = self
            .reply_keys(chat_id)
            .into_iter()
            .flatten()
            .flatten()
            .find(|key| key.text == label)
            .unwrap_or_else(|| {
                panic!("fake Telegram: chat {chat_id} shows no reply key labelled {label:?}")
            });
        if key.request_location {
            self.user_sends_location(chat_id, from_user_id, location.0, location.1)
        } else {
            self.user_sends_text(chat_id, from_user_id, label)
        }
    }

    /// Enqueues a `callback_query` carrying any data at all on one of the bot's messages, as a
    /// modified client could send: the bot must judge the data, not trust that a button held
    /// it. Returns the query's id.
    pub fn user_presses_forged_button(
        &self,
        chat_id: i64,
        from_user_id: i64,
        message_id: i32,
        data: &str,
    ) -> String {
        self.shared.mutate(|state| {
            let from = state.user_json(from_user_id);
            let chat = state.chat_for_user(chat_id, from_user_id);
            let message = chat
                .messages
                .get(&message_id)
                .filter(|stored| stored.sender_id == BOT_ID)
                .unwrap_or_else(|| {
                    panic!("fake Telegram: chat {chat_id} has no bot message {message_id}")
                })
                .json
                .clone();
            state.enqueue_callback(chat_id, from, message, data)
        })
    }

    // -- Faults ---------------------------------------------------------------------------------

    /// The next `times` calls of `method` (named in any case) get `fault` instead of Telegram's
    /// answer; faults scheduled earlier for the method are served first. Only calls with the
    /// right token count: a fault stands for the server failing, not for the bot's mistakes.
    pub fn fail_next(&self, method: &str, fault: Fault, times: usize) {
        let method = known_method(method);
        if times == 0 {
            return;
        }
        self.shared.mutate(|state| {
            let plan = state.fault_plans.entry(method).or_default();
            plan.next.push_back((fault, times));
        });
    }

    /// From now on each call of `method` gets `fault` with `probability`, drawn from a small
    /// generator seeded with `seed`: the same seed and the same calls fail the same way in
    /// every run. Faults scheduled with [`FakeTelegram::fail_next`] go first; a second call
    /// replaces the first.
    pub fn fail_randomly(&self, method: &str, fault: Fault, probability: f64, seed: u64) {
        let method = known_method(method);
        assert!(
            (0.0..=1.0).contains(&probability),
            "fake Telegram: a probability is between 0 and 1, not {probability}"
        );
        self.shared.mutate(|state| {
            let plan = state.fault_plans.entry(method).or_default();
            plan.random = Some(RandomFault {
                fault,
                probability,
                generator: SplitMix64(seed),
            });
        });
    }

    /// Stops every scheduled and random fault; the ones served stay recorded.
    pub fn clear_faults(&self) {
        self.shared.mutate(|state| state.fault_plans.clear());
    }

    /// Every request that got an injected fault, in order.
    pub fn faults_served(&self) -> Vec<ServedFault> {
        self.shared.lock().faults_served.clone()
    }

    /// Requests held unanswered by [`Fault::Hang`] or [`Fault::AcceptThenHang`] whose client has
    /// not gone away yet.
    pub fn hanging_requests(&self) -> usize {
        self.shared.lock().hanging_requests
    }

    // -- Flood limits ---------------------------------------------------------------------------

    /// Changes the overall limit to a bucket of `per_second` sends refilled at `per_second`, and
    /// fills it: 30 is Telegram's default, paid broadcasts allow up to 1000.
    pub fn set_overall_limit(&self, per_second: u32) {
        assert!(
            per_second > 0,
            "fake Telegram: the overall limit must allow some sends"
        );
        let per_second = f64::from(per_second);
        self.shared.mutate(|state| {
            state.flood.overall = TokenBucket::full(per_second, per_second, RealInstant::now());
        });
    }

    /// Turns flood limits off for a test that sends fast on purpose, not to test them.
    pub fn disable_flood_limits(&self) {
        self.shared.mutate(|state| state.flood.enabled = false);
    }

    /// How many sends were refused with 429 for exceeding a flood limit. Each is a broken rule:
    /// a bot that keeps Telegram's limits, and waits out `retry_after`, gets none.
    pub fn flood_refusals(&self) -> usize {
        self.shared.lock().flood.refusals.len()
    }

    /// The sends [`FakeTelegram::flood_refusals`] counts, in order.
    pub fn flood_refused_sends(&self) -> Vec<FloodRefusal> {
        self.shared.lock().flood.refusals.clone()
    }

    /// When each accepted send happened, in real time, and to which chat: for rates.
    pub fn send_times(&self) -> Vec<(RealInstant, i64)> {
        self.shared.lock().flood.send_times.clone()
    }

    // -- Webhook --------------------------------------------------------------------------------

    /// Delivers webhook updates to `local` over plain HTTP, keeping the path and query of the
    /// webhook URL: the bot's public HTTPS address does not exist in a test.
    pub fn route_webhook_to(&self, local: SocketAddr) {
        self.shared
            .mutate(|state| state.webhook_route = Some(local));
    }

    /// The webhook the bot set, if one is set.
    pub fn webhook(&self) -> Option<WebhookInfo> {
        let state = self.shared.lock();
        let webhook = state.webhook.as_ref()?;
        Some(WebhookInfo {
            url: webhook.url.to_string(),
            secret_token: webhook.secret_token.clone(),
            allowed_updates: state.allowed_update_list(),
            max_connections: webhook.max_connections,
        })
    }

    /// Every webhook delivery attempt as `(update_id, HTTP status)`, in order; the status is 0
    /// when no answer came (connection refused or timed out).
    pub fn webhook_attempts(&self) -> Vec<(i64, u16)> {
        self.shared.lock().webhook_attempts.clone()
    }

    /// Waits up to `timeout` until at least `count` webhook deliveries were attempted, and
    /// returns the attempts as [`FakeTelegram::webhook_attempts`] does; fewer if time ran out.
    pub async fn wait_for_webhook_attempts(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<(i64, u16)> {
        self.shared
            .wait_for(timeout, |state| {
                (state.webhook_attempts.len() >= count).then(|| state.webhook_attempts.clone())
            })
            .await
            .unwrap_or_else(|| self.webhook_attempts())
    }

    /// How long a webhook delivery may take before it counts as failed and is retried.
    pub fn set_webhook_timeout(&self, timeout: Duration) {
        self.shared.mutate(|state| state.webhook_timeout = timeout);
    }

    /// Stops accepting connections and releases every waiting long poll with no updates.
    pub fn shutdown(&self) {
        self.shared.mutate(|state| state.closed = true);
        self.stop.send_replace(true);
    }

    /// Adds a message from a user; `content` receives a string unique to the message, for file
    /// ids.
    fn user_message(
        &self,
        chat_id: i64,
        from_user_id: i64,
        content: impl FnOnce(&str) -> Map<String, Value>,
    ) -> i32 {
        self.user_message_served_as(chat_id, from_user_id, content, None)
            .0
    }

    /// As [`FakeTelegram::user_message`]; with `raw`, the JSON string `raw.0` in the update is
    /// served as the text `raw.1`, decided under the same lock as the enqueueing so that no
    /// getUpdates in between can take the update as plain JSON. Returns the message id and
    /// the update id.
    fn user_message_served_as(
        &self,
        chat_id: i64,
        from_user_id: i64,
        content: impl FnOnce(&str) -> Map<String, Value>,
        raw: Option<(&str, String)>,
    ) -> (i32, i64) {
        let now = self.shared.now();
        self.shared.mutate(|state| {
            let from = state.user_json(from_user_id);
            let chat = state.chat_for_user(chat_id, from_user_id);
            let message_id = chat.next_message_id();
            let mut message = json!({
                "message_id": message_id,
                "from": from,
                "chat": chat.json(),
                "date": now,
            });
            if let Value::Object(fields) = &mut message {
                fields.extend(content(&format!("{chat_id}-{message_id}")));
            }
            chat.messages.insert(
                message_id,
                StoredMessage {
                    sender_id: from_user_id,
                    json: message.clone(),
                    content: None,
                },
            );
            state.enqueue("message", message);
            let update_id = match raw {
                Some((placeholder, replacement)) => {
                    state.serve_newest_update_raw(placeholder, replacement)
                }
                None => state.next_update_id - 1,
            };
            (message_id, update_id)
        })
    }

    fn set_blocked(&self, user_id: i64, now_blocked: bool) {
        let now = self.shared.now();
        self.shared.mutate(|state| {
            let user = state.user_json(user_id);
            let chat = state.chats.get_mut(&user_id).unwrap_or_else(|| {
                panic!("fake Telegram: user {user_id} has no private chat with the bot")
            });
            let ChatKind::Private { blocked, .. } = &mut chat.kind else {
                panic!("fake Telegram: chat {user_id} is not a private chat");
            };
            // Telegram reports a change of membership, so repeating the same action says nothing.
            if *blocked == now_blocked {
                return;
            }
            *blocked = now_blocked;
            let (old, new) = if now_blocked {
                ("member", "kicked")
            } else {
                ("kicked", "member")
            };
            let update = my_chat_member(chat.json(), user, now, old, new);
            state.enqueue("my_chat_member", update);
        });
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.shutdown();
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------------

struct Shared {
    state: Mutex<State>,
    /// Bumped after every change, so waiters re-check the state instead of spinning.
    changes: watch::Sender<u64>,
    clock: Clock,
}

impl Shared {
    fn now(&self) -> i64 {
        (self.clock)()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test helper that panics (on purpose, to report misuse) must not take the server
        // down with it and bury the real failure under poisoned-lock panics.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state and wakes everything waiting on it.
    fn mutate<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let result = change(&mut self.lock());
        self.changes
            .send_modify(|version| *version = version.wrapping_add(1));
        result
    }

    /// Re-runs `check` after every change until it finds something or `timeout` passes.
    async fn wait_for<R>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&mut State) -> Option<R>,
    ) -> Option<R> {
        let deadline = Instant::now() + timeout;
        // Subscribing before the first check means a change between check and wait still wakes us.
        let mut changes = self.changes.subscribe();
        loop {
            let found = check(&mut self.lock());
            if found.is_some() {
                return found;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }
}

struct State {
    chats: HashMap<i64, ChatState>,
    user_names: HashMap<i64, String>,
    /// Updates not yet confirmed, oldest first.
    updates: VecDeque<QueuedUpdate>,
    next_update_id: i64,
    confirmed_offset: i64,
    /// `None` until the bot names a non-empty list, meaning Telegram's default.
    allowed_updates: Option<HashSet<String>>,
    filtered_updates: Vec<Value>,
    open_callbacks: HashSet<String>,
    answered_callbacks: Vec<String>,
    next_callback_id: u64,
    /// Command lists by scope and language, as setMyCommands keeps them.
    commands: BTreeMap<String, Value>,
    calls: Vec<(String, Value)>,
    rejections: Vec<Rejection>,
    left_chats: Vec<i64>,
    /// Messages deleted with deleteMessage, by chat, in the order deleted.
    deleted: Vec<(i64, i32)>,
    parked_polls: usize,
    closed: bool,
    /// The exact text of updates that are not valid JSON documents, by update id; the queue
    /// holds a marker for each that getUpdates swaps for this text.
    raw_updates: HashMap<i64, String>,
    fault_plans: HashMap<&'static str, FaultPlan>,
    faults_served: Vec<ServedFault>,
    hanging_requests: usize,
    flood: FloodControl,
    webhook: Option<Webhook>,
    /// Where webhook updates really go: the test's stand-in for the webhook URL's host.
    webhook_route: Option<SocketAddr>,
    webhook_attempts: Vec<(i64, u16)>,
    webhook_timeout: Duration,
    /// The unix time and Telegram's wording of the latest failed delivery, for getWebhookInfo.
    last_webhook_error: Option<(i64, String)>,
}

/// A webhook as setWebhook set it.
struct Webhook {
    url: url::Url,
    secret_token: Option<String>,
    max_connections: u32,
}

/// The faults waiting for one method's calls.
#[derive(Default)]
struct FaultPlan {
    /// Faults for the next calls, in order, each with how many calls it still gets.
    next: VecDeque<(Fault, usize)>,
    random: Option<RandomFault>,
}

struct RandomFault {
    fault: Fault,
    probability: f64,
    generator: SplitMix64,
}

impl FaultPlan {
    /// The fault for the call being made now, if any; each call draws once.
    fn draw(&mut self) -> Option<Fault> {
        if let Some((fault, calls_left)) = self.next.front_mut() {
            let fault = *fault;
            *calls_left -= 1;
            if *calls_left == 0 {
                self.next.pop_front();
            }
            return Some(fault);
        }
        let random = self.random.as_mut()?;
        (random.generator.next_fraction() < random.probability).then_some(random.fault)
    }
}

/// SplitMix64 (Steele, Lea and Flood): tiny, fast, and good enough to decide which calls fail,
/// with no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 53 bits, as many as an `f64` holds exactly.
    fn next_fraction(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// A token bucket: `capacity` sends at once, then `per_second` sends a second.
struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    refilled_at: RealInstant,
}

impl TokenBucket {
    fn full(capacity: f64, per_second: f64, now: RealInstant) -> Self {
        TokenBucket {
            capacity,
            per_second,
            tokens: capacity,
            refilled_at: now,
        }
    }

    /// How long until a send is allowed; zero if it is allowed now.
    fn wait(&mut self, now: RealInstant) -> Duration {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.capacity);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.per_second)
        }
    }
}

/// Telegram's flood limits, and what they refused.
struct FloodControl {
    enabled: bool,
    overall: TokenBucket,
    chats: HashMap<i64, TokenBucket>,
    /// After a 429, Telegram refuses every send until its `retry_after` has passed: all sends
    /// for the overall limit, the chat's for a chat's.
    overall_refused_until: Option<RealInstant>,
    chat_refused_until: HashMap<i64, RealInstant>,
    refusals: Vec<FloodRefusal>,
    send_times: Vec<(RealInstant, i64)>,
}

impl FloodControl {
    fn new(now: RealInstant) -> Self {
        let overall = f64::from(DEFAULT_OVERALL_SENDS_PER_SECOND);
        FloodControl {
            enabled: true,
            overall: TokenBucket::full(overall, overall, now),
            chats: HashMap::new(),
            overall_refused_until: None,
            chat_refused_until: HashMap::new(),
            refusals: Vec::new(),
            send_times: Vec::new(),
        }
    }

    /// Refuses a send to `chat_id` that would break a limit, and records the refusal. Takes
    /// nothing from the buckets: only [`FloodControl::sent`] does, once the send is accepted.
    fn admit(
        &mut self,
        method: &str,
        chat_id: i64,
        is_group: bool,
        now: RealInstant,
    ) -> Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        let refused = self.exceeded_limit(chat_id, is_group, now);
        let Some((limit, retry_after)) = refused else {
            return Ok(());
        };
        self.refusals.push(FloodRefusal {
            method: method.to_owned(),
            chat_id,
            at: now,
            retry_after,
            limit,
        });
        Err(Refusal::too_many_requests(retry_after))
    }

    /// The limit a send now would break, with the whole seconds to wait.
    fn exceeded_limit(
        &mut self,
        chat_id: i64,
        is_group: bool,
        now: RealInstant,
    ) -> Option<(FloodLimit, u32)> {
        if let Some(until) = self.overall_refused_until.filter(|until| *until > now) {
            return Some((FloodLimit::Overall, whole_seconds(until - now)));
        }
        if let Some(until) = self.chat_refused_until.get(&chat_id).filter(|u| **u > now) {
            return Some((FloodLimit::Chat, whole_seconds(*until - now)));
        }
        let wait = self.overall.wait(now);
        if !wait.is_zero() {
            let retry_after = whole_seconds(wait);
            self.overall_refused_until = Some(now + seconds(retry_after));
            return Some((FloodLimit::Overall, retry_after));
        }
        let wait = self
            .chats
            .entry(chat_id)
            .or_insert_with(|| {
                if is_group {
                    TokenBucket::full(GROUP_CHAT_BURST, GROUP_CHAT_SENDS_PER_SECOND, now)
                } else {
                    TokenBucket::full(PRIVATE_CHAT_BURST, PRIVATE_CHAT_SENDS_PER_SECOND, now)
                }
            })
            .wait(now);
        if !wait.is_zero() {
            let retry_after = whole_seconds(wait);
            self.chat_refused_until
                .insert(chat_id, now + seconds(retry_after));
            return Some((FloodLimit::Chat, retry_after));
        }
        None
    }

    /// Counts an accepted send against the limits.
    fn sent(&mut self, chat_id: i64, now: RealInstant) {
        self.send_times.push((now, chat_id));
        if !self.enabled {
            return;
        }
        self.overall.tokens -= 1.0;
        if let Some(chat) = self.chats.get_mut(&chat_id) {
            chat.tokens -= 1.0;
        }
    }
}

/// A wait as Telegram's `retry_after` states it: whole seconds, rounded up, at least one.
fn whole_seconds(wait: Duration) -> u32 {
    let seconds = wait.as_secs_f64().ceil().max(1.0);
    // Waits are seconds to minutes long; the cast cannot overflow.
    seconds as u32
}

fn seconds(count: u32) -> Duration {
    Duration::from_secs(u64::from(count))
}

struct QueuedUpdate {
    id: i64,
    json: Value,
}

impl State {
    fn new() -> Self {
        State {
            chats: HashMap::new(),
            user_names: HashMap::new(),
            updates: VecDeque::new(),
            next_update_id: FIRST_UPDATE_ID,
            confirmed_offset: 0,
            allowed_updates: None,
            filtered_updates: Vec::new(),
            open_callbacks: HashSet::new(),
            answered_callbacks: Vec::new(),
            next_callback_id: 0,
            commands: BTreeMap::new(),
            calls: Vec::new(),
            rejections: Vec::new(),
            left_chats: Vec::new(),
            deleted: Vec::new(),
            parked_polls: 0,
            closed: false,
            raw_updates: HashMap::new(),
            fault_plans: HashMap::new(),
            faults_served: Vec::new(),
            hanging_requests: 0,
            flood: FloodControl::new(RealInstant::now()),
            webhook: None,
            webhook_route: None,
            webhook_attempts: Vec::new(),
            webhook_timeout: DEFAULT_WEBHOOK_TIMEOUT,
            last_webhook_error: None,
        }
    }

    /// The fault for a call of `method` now, if any, recorded as served.
    fn draw_fault(&mut self, method: &'static str, body: &RequestBody) -> Option<Fault> {
        let fault = self.fault_plans.get_mut(method)?.draw()?;
        self.faults_served.push(ServedFault {
            method: method.to_owned(),
            fault,
            body: body.to_json(),
        });
        Some(fault)
    }

    /// Sets the update kinds to deliver from now on, as getUpdates and setWebhook do: an empty
    /// list restores Telegram's default.
    fn set_allowed_updates(&mut self, kinds: HashSet<String>) {
        self.allowed_updates = (!kinds.is_empty()).then_some(kinds);
    }

    fn allowed_update_list(&self) -> Option<Vec<String>> {
        let mut kinds: Vec<String> = self.allowed_updates.as_ref()?.iter().cloned().collect();
        kinds.sort();
        Some(kinds)
    }

    fn drop_pending_updates(&mut self) {
        let past_newest = self.next_update_id;
        self.confirm(past_newest);
    }

    fn is_group_chat(&self, chat_id: i64) -> bool {
        self.chats
            .get(&chat_id)
            .map_or(chat_id < 0, ChatState::is_group)
    }

    /// The oldest pending update, ready to post, if a webhook is set and routed.
    fn next_webhook_delivery(&self) -> Option<WebhookDelivery> {
        let webhook = self.webhook.as_ref()?;
        let route = self.webhook_route?;
        let update = self.updates.front()?;
        let query = webhook
            .url
            .query()
            .map(|query| format!("?{query}"))
            .unwrap_or_default();
        let body = match self.raw_updates.get(&update.id) {
            Some(raw) => raw.clone(),
            None => update.json.to_string(),
        };
        Some(WebhookDelivery {
            update_id: update.id,
            target: format!("http://{route}{}{query}", webhook.url.path()),
            secret_token: webhook.secret_token.clone(),
            body,
            timeout: self.webhook_timeout,
        })
    }

    /// Records a delivery attempt and forgets the update if the bot took it. Returns whether it
    /// did.
    fn webhook_attempted(
        &mut self,
        update_id: i64,
        outcome: &Result<StatusCode, String>,
        now: i64,
    ) -> bool {
        let status = outcome.as_ref().map_or(0, StatusCode::as_u16);
        self.webhook_attempts.push((update_id, status));
        let error = match outcome {
            Ok(status) if status.is_success() => {
                self.updates.retain(|update| update.id != update_id);
                return true;
            }
            Ok(status) => format!("Wrong response from the webhook: {status}"),
            Err(error) => error.clone(),
        };
        self.last_webhook_error = Some((now, error));
        false
    }

    /// Replaces the JSON string `placeholder` in the newest queued update with `replacement`,
    /// text no `Value` can hold, and serves the update as that exact text. Returns its id.
    fn serve_newest_update_raw(&mut self, placeholder: &str, replacement: String) -> i64 {
        let queued = self
            .updates
            .back_mut()
            .expect("fake Telegram: the update was just enqueued");
        let text = queued
            .json
            .to_string()
            .replace(&format!("\"{placeholder}\""), &replacement);
        let id = queued.id;
        queued.json = Value::String(raw_marker(id));
        self.raw_updates.insert(id, text);
        id
    }

    /// Enqueues a `callback_query` from `from` on `message`, carrying `data`, and keeps it
    /// open for answerCallbackQuery. Returns its id.
    fn enqueue_callback(
        &mut self,
        chat_id: i64,
        from: Value,
        message: Value,
        data: &str,
    ) -> String {
        self.next_callback_id += 1;
        let id = format!("{}", 7_000_000_000_u64 + self.next_callback_id);
        self.open_callbacks.insert(id.clone());
        self.enqueue(
            "callback_query",
            json!({
                "id": id,
                "from": from,
                "message": message,
                "chat_instance": format!("instance{chat_id}"),
                "data": data,
            }),
        );
        id
    }

    fn enqueue(&mut self, kind: &str, payload: Value) {
        let id = self.next_update_id;
        self.next_update_id += 1;
        let mut update = Map::new();
        update.insert("update_id".into(), json!(id));
        update.insert(kind.into(), payload);
        let json = Value::Object(update);
        // Telegram applies allowed_updates when an update happens, not when it is fetched.
        let allowed = match &self.allowed_updates {
            Some(kinds) => kinds.contains(kind),
            None => !OPT_IN_UPDATES.contains(&kind),
        };
        if allowed {
            self.updates.push_back(QueuedUpdate { id, json });
        } else {
            self.filtered_updates.push(json);
        }
    }

    /// Forgets updates as Telegram does for getUpdates' `offset`: a positive offset confirms
    /// every update below it, a negative one keeps only that many of the newest.
    fn confirm(&mut self, offset: i64) {
        let first_kept = if offset >= 0 {
            offset
        } else {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let skip = self.updates.len().saturating_sub(keep);
            match self.updates.get(skip) {
                Some(update) => update.id,
                None => return,
            }
        };
        while self.updates.front().is_some_and(|u| u.id < first_kept) {
            self.updates.pop_front();
        }
        self.confirmed_offset = self.confirmed_offset.max(first_kept);
    }

    /// What a getUpdates call returns now, or `None` to keep a long poll waiting.
    fn deliverable(&self, limit: usize) -> Option<Vec<Value>> {
        let batch: Vec<Value> = self
            .updates
            .iter()
            .take(limit)
            .map(|update| update.json.clone())
            .collect();
        (!batch.is_empty() || self.closed).then_some(batch)
    }

    fn user_json(&self, user_id: i64) -> Value {
        let first_name = self
            .user_names
            .get(&user_id)
            .cloned()
            .unwrap_or_else(|| format!("User {user_id}"));
        json!({ "id": user_id, "is_bot": false, "first_name": first_name })
    }

    /// The chat a user writes in; misuse by the test is a bug in the test, so it panics.
    fn chat_for_user(&mut self, chat_id: i64, user_id: i64) -> &mut ChatState {
        let chat = self.chats.get_mut(&chat_id).unwrap_or_else(|| {
            panic!(
                "fake Telegram: chat {chat_id} does not exist; add it with add_private_chat or \
                 add_group_chat first"
            )
        });
        match chat.kind {
            ChatKind::Private { .. } if chat_id != user_id => {
                panic!(
                    "fake Telegram: user {user_id} cannot write in user {chat_id}'s private chat"
                )
            }
            ChatKind::Private { blocked: true, .. } => panic!(
                "fake Telegram: user {user_id} has blocked the bot; call user_unblocks_bot first, \
                 as the Telegram app would make them"
            ),
            ChatKind::Group { member: false, .. } => {
                panic!("fake Telegram: the bot is not in group {chat_id}; add it again first")
            }
            _ => chat,
        }
    }

    /// The chat the bot wants to act in, refused as Telegram refuses it.
    fn chat_for_bot(&mut self, params: &Params) -> Result<&mut ChatState, Refusal> {
        let chat_id = chat_id(params)?;
        let chat = self
            .chats
            .get_mut(&chat_id)
            .ok_or_else(|| Refusal::bad_request("chat not found"))?;
        match chat.kind {
            ChatKind::Private { blocked: true, .. } => {
                Err(Refusal::forbidden("bot was blocked by the user"))
            }
            ChatKind::Group { member: false, .. } => {
                Err(Refusal::forbidden("bot is not a member of the group chat"))
            }
            _ => Ok(chat),
        }
    }

    /// Keeps a handled request for `calls` or `rejections` and passes its outcome through.
    fn record(
        &mut self,
        method: &str,
        body: &RequestBody,
        outcome: Result<Value, Refusal>,
    ) -> Result<Value, Refusal> {
        match &outcome {
            Ok(_) => self.calls.push((method.to_owned(), body.to_json())),
            Err(refusal) => self.reject(method, refusal, body.to_json().to_string()),
        }
        outcome
    }

    fn reject(&mut self, method: &str, refusal: &Refusal, body: String) {
        self.rejections.push(Rejection {
            method: method.to_owned(),
            status: refusal.status,
            description: refusal.description.clone(),
            body,
        });
    }
}

struct ChatState {
    id: i64,
    kind: ChatKind,
    /// Shared by users and the bot, as Telegram numbers a chat's messages.
    next_message_id: i32,
    messages: BTreeMap<i32, StoredMessage>,
    /// Every message the bot sent or edited here, in order.
    outbox: Vec<SentMessage>,
    /// How much of `outbox` `next_message` has returned.
    cursor: usize,
    /// The reply keyboard the user sees under the message field, until one replaces or
    /// removes it.
    reply_keys: Option<Vec<Vec<ReplyKey>>>,
}

enum ChatKind {
    Private { first_name: String, blocked: bool },
    Group { title: String, member: bool },
}

/// A message as Telegram currently knows it.
struct StoredMessage {
    sender_id: i64,
    json: Value,
    /// Present for the bot's own messages.
    content: Option<SentMessage>,
}

impl ChatState {
    fn new(id: i64, kind: ChatKind) -> Self {
        ChatState {
            id,
            kind,
            next_message_id: 1,
            messages: BTreeMap::new(),
            outbox: Vec::new(),
            cursor: 0,
            reply_keys: None,
        }
    }

    fn json(&self) -> Value {
        match &self.kind {
            ChatKind::Private { first_name, .. } => {
                json!({ "id": self.id, "type": "private", "first_name": first_name })
            }
            ChatKind::Group { title, .. } => {
                json!({ "id": self.id, "type": "group", "title": title })
            }
        }
    }

    fn is_group(&self) -> bool {
        matches!(self.kind, ChatKind::Group { .. })
    }

    fn next_message_id(&mut self) -> i32 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        id
    }

    /// Stores a new message from the bot and returns it as the Bot API does.
    fn deliver(&mut self, sent: SentMessage, date: i64) -> Value {
        let message = bot_message_json(&self.json(), &sent, date, None);
        self.messages.insert(
            sent.message_id,
            StoredMessage {
                sender_id: BOT_ID,
                json: message.clone(),
                content: Some(sent.clone()),
            },
        );
        self.outbox.push(sent);
        message
    }

    /// Replaces one of the bot's messages with its edited version and returns that.
    fn replace(&mut self, edited: SentMessage, edit_date: i64) -> Value {
        let chat = self.json();
        let stored = self
            .messages
            .get_mut(&edited.message_id)
            .expect("fake Telegram: an edited message was looked up before");
        let date = stored.json["date"].as_i64().unwrap_or(edit_date);
        let message = bot_message_json(&chat, &edited, date, Some(edit_date));
        stored.json = message.clone();
        stored.content = Some(edited.clone());
        self.outbox.push(edited);
        message
    }

    fn take_next(&mut self) -> Option<SentMessage> {
        let next = self.outbox.get(self.cursor).cloned()?;
        self.cursor += 1;
        Some(next)
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{bot_token}/{method}", any(handle_method))
        .fallback(handle_unknown_path)
        .layer(DefaultBodyLimit::max(UPLOAD_LIMIT))
        .with_state(shared)
}

async fn handle_method(
    extract::State(shared): extract::State<Arc<Shared>>,
    Path((bot_token, requested)): Path<(String, String)>,
    request: Request,
) -> Response {
    let body = match RequestBody::read(request).await {
        Ok(body) => body,
        Err(refusal) => {
            shared.mutate(|state| state.reject(&requested, &refusal, String::new()));
            return telegram_response(Err(refusal));
        }
    };
    let method = match authorize(&bot_token).and_then(|()| resolve(&requested)) {
        Ok(method) => method,
        Err(refusal) => {
            let outcome = shared.mutate(|state| state.record(&requested, &body, Err(refusal)));
            return telegram_response(outcome);
        }
    };
    let fault = shared.mutate(|state| state.draw_fault(method, &body));
    if let Some(fault) = fault {
        if fault.takes_effect() {
            // Recorded like any call; only its answer is lost.
            let _ = process(&shared, method, &body).await;
        }
        return fault_response(&shared, fault).await;
    }
    let outcome = process(&shared, method, &body).await;
    if method == "getUpdates" {
        return updates_response(&shared, outcome);
    }
    telegram_response(outcome)
}

/// What the client gets instead of an answer when a fault is injected.
async fn fault_response(shared: &Shared, fault: Fault) -> Response {
    match fault {
        Fault::BadGateway => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            BAD_GATEWAY_PAGE,
        )
            .into_response(),
        Fault::InternalError => telegram_response(Err(Refusal::new(500, "Internal Server Error"))),
        Fault::TooManyRequests { retry_after } => {
            telegram_response(Err(Refusal::too_many_requests(retry_after)))
        }
        Fault::Hang | Fault::AcceptThenHang => {
            // Hyper drops this future when the client closes the connection, which ends it.
            let _hanging = CountedWhileAlive::new(shared, |state| &mut state.hanging_requests);
            std::future::pending().await
        }
    }
}

/// Counts something in the state for as long as it lives, even when its request is dropped
/// because the client went away: a request held unanswered, a long poll in progress.
struct CountedWhileAlive<'a> {
    shared: &'a Shared,
    count: fn(&mut State) -> &mut usize,
}

impl<'a> CountedWhileAlive<'a> {
    fn new(shared: &'a Shared, count: fn(&mut State) -> &mut usize) -> Self {
        shared.mutate(|state| *count(state) += 1);
        CountedWhileAlive { shared, count }
    }
}

impl Drop for CountedWhileAlive<'_> {
    fn drop(&mut self) {
        let count = self.count;
        self.shared.mutate(|state| *count(state) -= 1);
    }
}

async fn handle_unknown_path(
    extract::State(shared): extract::State<Arc<Shared>>,
    uri: Uri,
) -> Response {
    let refusal = Refusal::new(404, "Not Found");
    shared.mutate(|state| state.reject(uri.path(), &refusal, String::new()));
    telegram_response(Err(refusal))
}

/// Runs an authorised call of a known method and records it.
async fn process(
    shared: &Shared,
    method: &'static str,
    body: &RequestBody,
) -> Result<Value, Refusal> {
    if method == "getUpdates" {
        // The only method that waits, so it cannot run under the lock like the others.
        let outcome = get_updates(shared, &body.params).await;
        return shared.mutate(|state| state.record(method, body, outcome));
    }
    let now = shared.now();
    // Effect and record happen under one lock, so a test that saw the effect sees the record.
    shared.mutate(|state| {
        if let Err(refusal) = check_required(method, body) {
            return state.record(method, body, Err(refusal));
        }
        let sent_at = RealInstant::now();
        // A send with no readable chat is refused for that below, and sends nothing.
        let flood_limited = FLOOD_LIMITED_METHODS.contains(&method);
        let limited_chat = flood_limited.then(|| chat_id(&body.params).ok()).flatten();
        if let Some(chat_id) = limited_chat {
            let is_group = state.is_group_chat(chat_id);
            // Not a rejection: flood refusals are counted on their own.
            state.flood.admit(method, chat_id, is_group, sent_at)?;
        }
        let outcome = run(state, method, body, now);
        if let (Some(chat_id), Ok(_)) = (limited_chat, &outcome) {
            state.flood.sent(chat_id, sent_at);
        }
        state.record(method, body, outcome)
    })
}

fn authorize(bot_token: &str) -> Result<(), Refusal> {
    match bot_token.strip_prefix("bot") {
        Some(TOKEN) => Ok(()),
        _ => Err(Refusal::new(401, "Unauthorized")),
    }
}

/// Telegram matches method names without regard to case; teloxide sends them in PascalCase.
fn resolve(requested: &str) -> Result<&'static str, Refusal> {
    METHODS
        .iter()
        .copied()
        .find(|method| method.eq_ignore_ascii_case(requested))
        .ok_or_else(|| Refusal::new(404, "Not Found"))
}

/// The fake's name for a method a test names; naming one it lacks is a bug in the test.
fn known_method(method: &str) -> &'static str {
    resolve(method).unwrap_or_else(|_| panic!("fake Telegram: there is no method {method:?}"))
}

fn raw_marker(update_id: i64) -> String {
    format!("raw-update-{update_id}")
}

/// A getUpdates answer with each raw update's exact text in place of its marker.
fn updates_response(shared: &Shared, outcome: Result<Value, Refusal>) -> Response {
    let raw = shared.lock().raw_updates.clone();
    if raw.is_empty() || outcome.is_err() {
        return telegram_response(outcome);
    }
    let mut body = json!({ "ok": true, "result": outcome.unwrap_or_default() }).to_string();
    for (id, text) in raw {
        body = body.replace(&format!("\"{}\"", raw_marker(id)), &text);
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn telegram_response(outcome: Result<Value, Refusal>) -> Response {
    match outcome {
        Ok(result) => Json(json!({ "ok": true, "result": result })).into_response(),
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut body = json!({
                "ok": false,
                "error_code": refusal.status,
                "description": refusal.description,
            });
            if let Some(retry_after) = refusal.retry_after {
                body["parameters"] = json!({ "retry_after": retry_after });
            }
            (status, Json(body)).into_response()
        }
    }
}

/// Why Telegram refuses a request; the status goes into both the HTTP status and `error_code`.
#[derive(Debug)]
struct Refusal {
    status: u16,
    description: String,
    /// Seconds to wait before sending again, for a 429; Telegram puts it in `parameters`.
    retry_after: Option<u32>,
}

impl Refusal {
    fn new(status: u16, description: impl Into<String>) -> Self {
        Refusal {
            status,
            description: description.into(),
            retry_after: None,
        }
    }

    fn too_many_requests(retry_after: u32) -> Self {
        Refusal {
            retry_after: Some(retry_after),
            ..Self::new(429, format!("Too Many Requests: retry after {retry_after}"))
        }
    }

    fn conflict(detail: impl std::fmt::Display) -> Self {
        Self::new(409, format!("Conflict: {detail}"))
    }

    fn bad_request(detail: impl std::fmt::Display) -> Self {
        Self::new(400, format!("Bad Request: {detail}"))
    }

    fn forbidden(detail: impl std::fmt::Display) -> Self {
        Self::new(403, format!("Forbidden: {detail}"))
    }
}

/// A request's parameters, however they were sent, plus any uploaded files by part name.
struct RequestBody {
    params: Params,
    files: HashMap<String, Upload>,
}

struct Upload {
    filename: String,
    bytes: Vec<u8>,
}

impl RequestBody {
    /// Reads the query string and a JSON, url-encoded or multipart body: the Bot API takes all
    /// of them, and teloxide uses JSON, or multipart when it uploads a file.
    async fn read(request: Request) -> Result<RequestBody, Refusal> {
        let mut params = Map::new();
        if let Some(query) = request.uri().query() {
            params.extend(url_encoded(query.as_bytes()));
        }
        let mut files = HashMap::new();
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let unreadable = |error: &dyn std::fmt::Display| {
                Refusal::bad_request(format!("can't parse multipart body: {error}"))
            };
            let mut multipart = Multipart::from_request(request, &())
                .await
                .map_err(|error| unreadable(&error))?;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|error| unreadable(&error))?
            {
                let name = field.name().unwrap_or_default().to_owned();
                let filename = field.file_name().map(str::to_owned);
                let bytes = field.bytes().await.map_err(|error| unreadable(&error))?;
                match filename {
                    Some(filename) => {
                        let bytes = bytes.to_vec();
                        files.insert(name, Upload { filename, bytes });
                    }
                    // Non-file parts are text, structured values included (as JSON text).
                    None => {
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        params.insert(name, Value::String(text));
                    }
                }
            }
        } else {
            let bytes = Bytes::from_request(request, &())
                .await
                .map_err(|error| Refusal::bad_request(format!("can't read the body: {error}")))?;
            if content_type.starts_with("application/x-www-form-urlencoded") {
                params.extend(url_encoded(&bytes));
            } else if !bytes.iter().all(u8::is_ascii_whitespace) {
                match serde_json::from_slice(&bytes) {
                    Ok(Value::Object(fields)) => params.extend(fields),
                    _ => return Err(Refusal::bad_request("can't parse JSON object")),
                }
            }
        }
        Ok(RequestBody {
            params: Params(params),
            files,
        })
    }

    /// The parameters as recorded for tests; files appear as their name and size.
    fn to_json(&self) -> Value {
        let mut fields = self.params.0.clone();
        for (name, upload) in &self.files {
            let summary = json!({ "filename": upload.filename, "size": upload.bytes.len() });
            fields.insert(name.clone(), summary);
        }
        Value::Object(fields)
    }
}

fn url_encoded(bytes: &[u8]) -> impl Iterator<Item = (String, Value)> + '_ {
    url::form_urlencoded::parse(bytes)
        .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
}

fn check_required(method: &str, body: &RequestBody) -> Result<(), Refusal> {
    let required: &[&str] = match method {
        "sendMessage" => &["chat_id", "text"],
        // Telegram also allows a rich message instead of text; the fake does not simulate those.
        "editMessageText" => &["text"],
        "deleteMessage" => &["chat_id", "message_id"],
        "answerCallbackQuery" => &["callback_query_id"],
        "setMyCommands" => &["commands"],
        "leaveChat" => &["chat_id"],
        "sendDocument" => &["chat_id", "document"],
        "sendChatAction" => &["chat_id", "action"],
        "setWebhook" => &["url"],
        _ => &[],
    };
    let missing = required
        .iter()
        .find(|name| body.params.get(name).is_none() && !body.files.contains_key(**name));
    match missing {
        None => Ok(()),
        // Telegram words these two its own way; the generic wording is the fake's.
        Some(&"text") => Err(Refusal::bad_request("message text is empty")),
        Some(&"chat_id") => Err(Refusal::bad_request("chat_id is empty")),
        Some(name) => Err(Refusal::bad_request(format!("{name} is required"))),
    }
}

/// Parameters arrive typed in JSON but as text in multipart and url-encoded bodies; like
/// Telegram, the accessors take either.
struct Params(Map<String, Value>);

impl Params {
    /// A present, non-null parameter.
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<String>, Refusal> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(value @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(value.to_string())),
            Some(_) => Err(wrong_parameter(name)),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, Refusal> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(number)) => number.as_i64().map(Some).ok_or(wrong_parameter(name)),
            Some(Value::String(text)) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| wrong_parameter(name)),
            Some(_) => Err(wrong_parameter(name)),
        }
    }

    fn boolean(&self, name: &str) -> Result<bool, Refusal> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(Value::String(text)) => match text.as_str() {
                "true" | "True" | "1" => Ok(true),
                "false" | "False" | "0" | "" => Ok(false),
                _ => Err(wrong_parameter(name)),
            },
            Some(_) => Err(wrong_parameter(name)),
        }
    }

    /// A structured parameter, sent as JSON or as JSON text.
    fn structured(&self, name: &str) -> Result<Option<Value>, Refusal> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => serde_json::from_str(text)
                .map(Some)
                .map_err(|_| Refusal::bad_request(format!("can't parse {name} JSON object"))),
            Some(value) => Ok(Some(value.clone())),
        }
    }
}

fn wrong_parameter(name: &str) -> Refusal {
    Refusal::bad_request(format!("wrong parameter {name} in request"))
}

// ---------------------------------------------------------------------------------------------
// Webhook delivery
// ---------------------------------------------------------------------------------------------

/// One update on its way to the bot's webhook.
struct WebhookDelivery {
    update_id: i64,
    target: String,
    secret_token: Option<String>,
    /// The update as JSON text, or its raw text if it is not a valid JSON document.
    body: String,
    timeout: Duration,
}

/// Posts pending updates to the webhook while one is set and routed: one at a time, oldest
/// first, each until the bot answers 2xx, with a growing pause after each failure. Runs until
/// the server shuts down.
async fn deliver_webhook_updates(shared: Arc<Shared>) {
    // Telegram follows no redirects, and a proxy from the environment must not see test traffic.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("fake Telegram: build the webhook client");
    let mut retry_delay = FIRST_WEBHOOK_RETRY;
    loop {
        let next = shared
            .wait_for(Duration::from_secs(3600), |state| {
                if state.closed {
                    return Some(None);
                }
                state.next_webhook_delivery().map(Some)
            })
            .await;
        let delivery = match next {
            None => continue,
            Some(None) => return,
            Some(Some(delivery)) => delivery,
        };
        let outcome = post_update(&client, &delivery).await;
        let now = shared.now();
        let delivered =
            shared.mutate(|state| state.webhook_attempted(delivery.update_id, &outcome, now));
        if delivered {
            retry_delay = FIRST_WEBHOOK_RETRY;
        } else {
            tokio::time::sleep(retry_delay).await;
            retry_delay = (retry_delay * 2).min(MAX_WEBHOOK_RETRY);
        }
    }
}

/// The bot's HTTP status, or Telegram's wording of why no answer came.
async fn post_update(
    client: &reqwest::Client,
    delivery: &WebhookDelivery,
) -> Result<StatusCode, String> {
    let mut request = client
        .post(&delivery.target)
        .header(header::CONTENT_TYPE, "application/json")
        .timeout(delivery.timeout)
        .body(delivery.body.clone());
    if let Some(secret) = &delivery.secret_token {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    let describe = |error: reqwest::Error| {
        if error.is_timeout() {
            "Read timeout expired".to_owned()
        } else if error.is_connect() {
            "Connection refused".to_owned()
        } else {
            format!("Connection failed: {error}")
        }
    };
    let response = request.send().await.map_err(describe)?;
    let status = response.status();
    // The answer counts once it is complete, as a slow body is a slow answer.
    response.bytes().await.map_err(describe)?;
    Ok(status)
}

// ---------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------

fn run(state: &mut State, method: &str, body: &RequestBody, now: i64) -> Result<Value, Refusal> {
    let params = &body.params;
    match method {
        "getMe" => Ok(me_json()),
        "setWebhook" => set_webhook(state, params),
        "getWebhookInfo" => Ok(webhook_info(state)),
        "deleteWebhook" => delete_webhook(state, params),
        "sendMessage" => send_message(state, params, now),
        "editMessageText" => edit_message_text(state, params, now),
        "editMessageReplyMarkup" => edit_message_reply_markup(state, params, now),
        "deleteMessage" => delete_message(state, params, now),
        "answerCallbackQuery" => answer_callback_query(state, params),
        "setMyCommands" => set_my_commands(state, params),
        "deleteMyCommands" => {
            state.commands.remove(&commands_key(params)?);
            Ok(json!(true))
        }
        "getMyCommands" => Ok(state
            .commands
            .get(&commands_key(params)?)
            .cloned()
            .unwrap_or_else(|| json!([]))),
        "leaveChat" => leave_chat(state, params, now),
        "sendDocument" => send_document(state, body, now),
        "sendChatAction" => send_chat_action(state, params),
        other => unreachable!("fake Telegram lists {other} but does not implement it"),
    }
}

async fn get_updates(shared: &Shared, params: &Params) -> Result<Value, Refusal> {
    let offset = params.integer("offset")?;
    let limit = match params.integer("limit")? {
        None | Some(0) => 100,
        Some(limit) => limit.clamp(1, 100) as usize,
    };
    let timeout = params.integer("timeout")?.unwrap_or(0).max(0);
    let allowed_updates = allowed_updates(params)?;
    shared.mutate(|state| {
        if state.webhook.is_some() {
            return Err(Refusal::conflict(
                "can't use getUpdates method while webhook is active; use deleteWebhook to \
                 delete the webhook first",
            ));
        }
        if let Some(kinds) = allowed_updates {
            state.set_allowed_updates(kinds);
        }
        if let Some(offset) = offset {
            state.confirm(offset);
        }
        Ok(())
    })?;
    let batch = if timeout == 0 {
        shared.lock().deliverable(limit).unwrap_or_default()
    } else {
        let _parked = CountedWhileAlive::new(shared, |state| &mut state.parked_polls);
        let wait = Duration::from_secs(timeout.unsigned_abs());
        let found = shared.wait_for(wait, |state| {
            // Updates go to the webhook now; the poll must not take them too.
            if state.webhook.is_some() {
                return Some(Err(Refusal::conflict("terminated by setWebhook request")));
            }
            state.deliverable(limit).map(Ok)
        });
        found.await.transpose()?.unwrap_or_default()
    };
    Ok(Value::Array(batch))
}

/// The `allowed_updates` of getUpdates and setWebhook; `None` keeps the previous setting.
fn allowed_updates(params: &Params) -> Result<Option<HashSet<String>>, Refusal> {
    match params.structured("allowed_updates")? {
        None => Ok(None),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .map(|kind| kind.as_str().map(str::to_owned))
            .collect::<Option<HashSet<String>>>()
            .map(Some)
            .ok_or_else(|| wrong_parameter("allowed_updates")),
        Some(_) => Err(wrong_parameter("allowed_updates")),
    }
}

fn delete_webhook(state: &mut State, params: &Params) -> Result<Value, Refusal> {
    if params.boolean("drop_pending_updates")? {
        state.drop_pending_updates();
    }
    state.webhook = None;
    state.last_webhook_error = None;
    Ok(json!(true))
}

/// Every parameter is checked before any takes effect, so a refused call changes nothing. The
/// certificate and ip_address parameters are accepted and ignored: the fake reaches the bot
/// through `route_webhook_to`.
fn set_webhook(state: &mut State, params: &Params) -> Result<Value, Refusal> {
    let url = params.string("url")?.unwrap_or_default();
    // An empty URL removes the webhook, as the Bot API documents.
    let url = (!url.is_empty()).then(|| webhook_url(&url)).transpose()?;
    let secret_token = params.string("secret_token")?;
    if let Some(secret) = &secret_token {
        check_secret_token(secret)?;
    }
    let max_connections = params
        .integer("max_connections")?
        .unwrap_or(DEFAULT_MAX_CONNECTIONS);
    let max_connections = u32::try_from(max_connections)
        .ok()
        .filter(|count| (1..=100).contains(count))
        .ok_or_else(|| Refusal::bad_request("max_connections must be between 1 and 100"))?;
    let allowed_updates = allowed_updates(params)?;
    if params.boolean("drop_pending_updates")? {
        state.drop_pending_updates();
    }
    if let Some(kinds) = allowed_updates {
        state.set_allowed_updates(kinds);
    }
    state.webhook = url.map(|url| Webhook {
        url,
        secret_token,
        max_connections,
    });
    state.last_webhook_error = None;
    Ok(json!(true))
}

fn webhook_url(text: &str) -> Result<url::Url, Refusal> {
    let https_only =
        || Refusal::bad_request("bad webhook: An HTTPS URL must be provided for webhook");
    let url = url::Url::parse(text).map_err(|_| https_only())?;
    if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
        return Err(https_only());
    }
    if !url
        .port_or_known_default()
        .is_some_and(|port| WEBHOOK_PORTS.contains(&port))
    {
        return Err(Refusal::bad_request(
            "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ));
    }
    Ok(url)
}

/// The documented rule: 1-256 characters, only `A-Z`, `a-z`, `0-9`, `_` and `-`.
fn check_secret_token(secret: &str) -> Result<(), Refusal> {
    if !secret
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Refusal::bad_request(
            "secret token contains unallowed characters",
        ));
    }
    // Telegram's wording for a bad length is unknown; this one says what is wrong.
    if !(1..=SECRET_TOKEN_LIMIT).contains(&secret.len()) {
        return Err(Refusal::bad_request(
            "secret token must be 1-256 characters long",
        ));
    }
    Ok(())
}

fn webhook_info(state: &State) -> Value {
    let mut info = json!({
        "url": state.webhook.as_ref().map(|webhook| webhook.url.to_string()).unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": state.updates.len(),
    });
    if let Some(webhook) = &state.webhook {
        info["max_connections"] = json!(webhook.max_connections);
    }
    if let Some((date, message)) = &state.last_webhook_error {
        info["last_error_date"] = json!(date);
        info["last_error_message"] = json!(message);
    }
    if let Some(kinds) = state.allowed_update_list() {
        info["allowed_updates"] = json!(kinds);
    }
    info
}

fn send_message(state: &mut State, params: &Params, now: i64) -> Result<Value, Refusal> {
    let parse_mode = parse_mode(params)?;
    let chat = state.chat_for_bot(params)?;
    let html = params.string("text")?.unwrap_or_default();
    let parsed = parsed(&html, parse_mode.as_deref())?;
    let text = parsed.text;
    check_text(&text, "message is too long")?;
    let buttons = inline_keyboard(params)?;
    let keys = reply_keyboard(params, chat.is_group())?;
    check_reply_target(chat, params)?;
    match keys {
        KeysChange::Keep => {}
        KeysChange::Remove => chat.reply_keys = None,
        KeysChange::Show(keys) => chat.reply_keys = Some(keys),
    }
    let protect_content = params.boolean("protect_content")?;
    let sent = SentMessage {
        chat_id: chat.id,
        message_id: chat.next_message_id(),
        html,
        text,
        parse_mode,
        buttons,
        document: None,
        edited: false,
        protect_content,
        spoilers: parsed.spoilers,
    };
    Ok(chat.deliver(sent, now))
}

fn send_document(state: &mut State, body: &RequestBody, now: i64) -> Result<Value, Refusal> {
    let params = &body.params;
    let parse_mode = parse_mode(params)?;
    let chat = state.chat_for_bot(params)?;
    let upload = uploaded_document(body)?;
    let caption = params.string("caption")?;
    let caption_parsed = match &caption {
        Some(caption) => parsed(caption, parse_mode.as_deref())?,
        None => telegram_html::Parsed::default(),
    };
    let caption_text = caption_parsed.text;
    let protect_content = params.boolean("protect_content")?;
    if utf16_len(&caption_text) > CAPTION_LIMIT {
        return Err(Refusal::bad_request("message caption is too long"));
    }
    let buttons = inline_keyboard(params)?;
    check_reply_target(chat, params)?;
    let sent = SentMessage {
        chat_id: chat.id,
        message_id: chat.next_message_id(),
        html: caption.clone().unwrap_or_default(),
        text: caption_text,
        parse_mode,
        buttons,
        document: Some(SentDocument {
            filename: upload.filename.clone(),
            bytes: upload.bytes.clone(),
            caption,
        }),
        edited: false,
        protect_content,
        spoilers: caption_parsed.spoilers,
    };
    Ok(chat.deliver(sent, now))
}

/// The file of a sendDocument: a part named `document`, or the part `document` points to with
/// `attach://<name>`, which is how teloxide uploads.
fn uploaded_document(body: &RequestBody) -> Result<&Upload, Refusal> {
    let upload = match body.files.get("document") {
        Some(upload) => upload,
        None => {
            let reference = body.params.string("document")?.unwrap_or_default();
            let Some(part) = reference.strip_prefix("attach://") else {
                // A file_id or URL would need files the fake never stored, or a network.
                return Err(Refusal::bad_request(
                    "wrong file identifier/HTTP URL specified",
                ));
            };
            body.files
                .get(part)
                .ok_or_else(|| Refusal::bad_request("there is no document in the request"))?
        }
    };
    if upload.bytes.is_empty() {
        return Err(Refusal::bad_request("file must be non-empty"));
    }
    Ok(upload)
}

fn edit_message_text(state: &mut State, params: &Params, now: i64) -> Result<Value, Refusal> {
    let parse_mode = parse_mode(params)?;
    let (chat, current) = editable_message(state, params)?;
    if current.document.is_some() {
        return Err(Refusal::bad_request(
            "there is no text in the message to edit",
        ));
    }
    let html = params.string("text")?.unwrap_or_default();
    let parsed_text = parsed(&html, parse_mode.as_deref())?;
    let (text, spoilers) = (parsed_text.text, parsed_text.spoilers);
    // Telegram words this one differently for edits than for new messages.
    check_text(&text, "MESSAGE_TOO_LONG")?;
    // Leaving reply_markup out removes the keyboard, as it does in Telegram.
    let buttons = inline_keyboard(params)?;
    only_inline_markup(params)?;
    if html == current.html && parse_mode == current.parse_mode && buttons == current.buttons {
        return Err(Refusal::bad_request(NOT_MODIFIED));
    }
    let edited = SentMessage {
        html,
        text,
        parse_mode,
        buttons,
        edited: true,
        spoilers,
        ..current
    };
    Ok(chat.replace(edited, now))
}

fn edit_message_reply_markup(
    state: &mut State,
    params: &Params,
    now: i64,
) -> Result<Value, Refusal> {
    let (chat, current) = editable_message(state, params)?;
    let buttons = inline_keyboard(params)?;
    only_inline_markup(params)?;
    if buttons == current.buttons {
        return Err(Refusal::bad_request(NOT_MODIFIED));
    }
    let edited = SentMessage {
        buttons,
        edited: true,
        ..current
    };
    Ok(chat.replace(edited, now))
}

/// The chat and current content of the bot message an edit names.
fn editable_message<'a>(
    state: &'a mut State,
    params: &Params,
) -> Result<(&'a mut ChatState, SentMessage), Refusal> {
    if params.get("inline_message_id").is_some() {
        // The fake has no inline mode, so no inline message id can be valid.
        return Err(Refusal::bad_request("MESSAGE_ID_INVALID"));
    }
    let message_id = params.integer("message_id")?;
    let (Some(message_id), Some(_)) = (message_id, params.get("chat_id")) else {
        return Err(Refusal::bad_request("message identifier is not specified"));
    };
    let chat = state.chat_for_bot(params)?;
    let stored = i32::try_from(message_id)
        .ok()
        .and_then(|id| chat.messages.get(&id))
        .ok_or_else(|| Refusal::bad_request("message to edit not found"))?;
    let current = stored
        .content
        .clone()
        .ok_or_else(|| Refusal::bad_request("message can't be edited"))?;
    Ok((chat, current))
}

/// Telegram: "A message can only be deleted if it was sent less than 48 hours ago."
const DELETE_WINDOW_SECS: i64 = 48 * 3600;

fn delete_message(state: &mut State, params: &Params, now: i64) -> Result<Value, Refusal> {
    let chat = state.chat_for_bot(params)?;
    let not_found = || Refusal::bad_request("message to delete not found");
    let message_id = params
        .integer("message_id")?
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(not_found)?;
    let stored = chat.messages.get(&message_id).ok_or_else(not_found)?;
    // Without admin rights a bot deletes only its own messages in groups.
    if chat.is_group() && stored.sender_id != BOT_ID {
        return Err(Refusal::bad_request("message can't be deleted"));
    }
    let sent_at = stored.json["date"].as_i64().unwrap_or(now);
    if now - sent_at >= DELETE_WINDOW_SECS {
        return Err(Refusal::bad_request("message can't be deleted"));
    }
    let chat_id = chat.id;
    chat.messages.remove(&message_id);
    state.deleted.push((chat_id, message_id));
    Ok(json!(true))
}

fn answer_callback_query(state: &mut State, params: &Params) -> Result<Value, Refusal> {
    let id = params.string("callback_query_id")?.unwrap_or_default();
    let text = params.string("text")?.unwrap_or_default();
    if text.chars().count() > CALLBACK_ANSWER_LIMIT {
        return Err(Refusal::bad_request("MESSAGE_TOO_LONG"));
    }
    // A query can be answered once; Telegram treats a second answer like an unknown id.
    if !state.open_callbacks.remove(&id) {
        return Err(Refusal::bad_request(
            "query is too old and response timeout expired or query id is invalid",
        ));
    }
    state.answered_callbacks.push(id);
    Ok(json!(true))
}

fn set_my_commands(state: &mut State, params: &Params) -> Result<Value, Refusal> {
    let commands = match params.structured("commands")? {
        Some(Value::Array(commands)) => commands,
        _ => return Err(wrong_parameter("commands")),
    };
    if commands.len() > COMMAND_LIMIT {
        return Err(Refusal::bad_request("BOT_COMMANDS_TOO_MUCH"));
    }
    let mut kept = Vec::with_capacity(commands.len());
    for command in &commands {
        let name = command["command"].as_str().unwrap_or_default();
        let valid_name = (1..=32).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(Refusal::bad_request("BOT_COMMAND_INVALID"));
        }
        let description = command["description"].as_str().unwrap_or_default();
        if description.trim().is_empty() || description.chars().count() > 256 {
            return Err(Refusal::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
        kept.push(json!({ "command": name, "description": description }));
    }
    state
        .commands
        .insert(commands_key(params)?, Value::Array(kept));
    Ok(json!(true))
}

/// Telegram keeps one command list per scope and language.
fn commands_key(params: &Params) -> Result<String, Refusal> {
    let scope = params
        .structured("scope")?
        .unwrap_or_else(|| json!({ "type": "default" }));
    let language = params.string("language_code")?.unwrap_or_default();
    Ok(format!("{scope}|{language}"))
}

fn leave_chat(state: &mut State, params: &Params, now: i64) -> Result<Value, Refusal> {
    let chat_id = chat_id(params)?;
    let chat = state
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| Refusal::bad_request("chat not found"))?;
    match &mut chat.kind {
        ChatKind::Private { .. } => {
            return Err(Refusal::bad_request(
                "chat member status can't be changed in private chats",
            ));
        }
        ChatKind::Group { member: false, .. } => {
            return Err(Refusal::forbidden("bot is not a member of the group chat"));
        }
        ChatKind::Group { member, .. } => *member = false,
    }
    let update = my_chat_member(chat.json(), bot_user_json(), now, "member", "left");
    state.left_chats.push(chat_id);
    state.enqueue("my_chat_member", update);
    Ok(json!(true))
}

fn send_chat_action(state: &mut State, params: &Params) -> Result<Value, Refusal> {
    state.chat_for_bot(params)?;
    let action = params.string("action")?.unwrap_or_default();
    if !CHAT_ACTIONS.contains(&action.as_str()) {
        return Err(wrong_parameter("action"));
    }
    Ok(json!(true))
}

// ---------------------------------------------------------------------------------------------
// What Telegram checks
// ---------------------------------------------------------------------------------------------

fn chat_id(params: &Params) -> Result<i64, Refusal> {
    let not_found = || Refusal::bad_request("chat not found");
    match params.get("chat_id") {
        Some(Value::Number(number)) => number.as_i64().ok_or_else(not_found),
        // "@username" lands here too: the fake has no public chats with usernames.
        Some(Value::String(text)) => text.trim().parse().map_err(|_| not_found()),
        Some(_) => Err(not_found()),
        None => Err(Refusal::bad_request("chat_id is empty")),
    }
}

fn parse_mode(params: &Params) -> Result<Option<String>, Refusal> {
    match params.string("parse_mode")? {
        None => Ok(None),
        Some(mode) if matches!(mode.as_str(), "HTML" | "MarkdownV2" | "Markdown") => Ok(Some(mode)),
        Some(_) => Err(Refusal::bad_request("unsupported parse_mode")),
    }
}

/// The text a user sees. Markdown is not parsed: the bot writes HTML, and a Markdown message is
/// recorded as typed.
fn parsed(text: &str, parse_mode: Option<&str>) -> Result<telegram_html::Parsed, Refusal> {
    match parse_mode {
        Some("HTML") => {
            telegram_html::parse(text).map_err(|error| Refusal::new(400, error.description()))
        }
        _ => Ok(telegram_html::Parsed {
            text: text.to_owned(),
            spoilers: Vec::new(),
        }),
    }
}

fn check_text(visible: &str, too_long: &str) -> Result<(), Refusal> {
    // Telegram trims whitespace around a message, so blank text is empty text.
    if visible.trim().is_empty() {
        return Err(Refusal::bad_request("message text is empty"));
    }
    if utf16_len(visible) > MESSAGE_LIMIT {
        return Err(Refusal::bad_request(too_long));
    }
    Ok(())
}

fn check_reply_target(chat: &ChatState, params: &Params) -> Result<(), Refusal> {
    let Some(reply) = params.structured("reply_parameters")? else {
        return Ok(());
    };
    let target = reply["message_id"]
        .as_i64()
        .and_then(|id| i32::try_from(id).ok());
    let exists = target.is_some_and(|id| chat.messages.contains_key(&id));
    if exists || reply["allow_sending_without_reply"].as_bool() == Some(true) {
        Ok(())
    } else {
        Err(Refusal::bad_request("message to be replied not found"))
    }
}

/// The longest text answerCallbackQuery shows, in characters.
const CALLBACK_ANSWER_LIMIT: usize = 200;

/// The markup of `reply_markup` as JSON, if any.
fn markup_object(params: &Params) -> Result<Option<Map<String, Value>>, Refusal> {
    let unparsable = || Refusal::bad_request("can't parse reply keyboard markup JSON object");
    let markup: Value = match params.get("reply_markup") {
        None => return Ok(None),
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|_| unparsable())?,
        Some(value) => value.clone(),
    };
    markup.as_object().cloned().map(Some).ok_or_else(unparsable)
}

/// Messages are edited with inline keyboards only; a reply keyboard belongs to a new message.
fn only_inline_markup(params: &Params) -> Result<(), Refusal> {
    match markup_object(params)? {
        Some(markup) if !markup.contains_key("inline_keyboard") => {
            Err(Refusal::bad_request("inline keyboard expected"))
        }
        _ => Ok(()),
    }
}

/// What a message does to the keys under the message field.
enum KeysChange {
    Keep,
    Remove,
    Show(Vec<Vec<ReplyKey>>),
}

/// What a `reply_markup` does to the keys under the message field, checked as Telegram checks
/// a ReplyKeyboardMarkup or ReplyKeyboardRemove.
fn reply_keyboard(params: &Params, in_group: bool) -> Result<KeysChange, Refusal> {
    let Some(markup) = markup_object(params)? else {
        return Ok(KeysChange::Keep);
    };
    if let Some(remove) = markup.get("remove_keyboard") {
        return if remove == &json!(true) {
            Ok(KeysChange::Remove)
        } else {
            Err(Refusal::bad_request(
                "can't parse reply keyboard markup JSON object: remove_keyboard must be true",
            ))
        };
    }
    let Some(rows) = markup.get("keyboard") else {
        return Ok(KeysChange::Keep);
    };
    let unparsable =
        |why: &str| Refusal::bad_request(format!("can't parse keyboard button: {why}"));
    for flag in [
        "is_persistent",
        "resize_keyboard",
        "one_time_keyboard",
        "selective",
    ] {
        if markup.get(flag).is_some_and(|value| !value.is_boolean()) {
            return Err(wrong_parameter(flag));
        }
    }
    if let Some(placeholder) = markup.get("input_field_placeholder") {
        let length = placeholder.as_str().map_or(0, |text| text.chars().count());
        if !(1..=64).contains(&length) {
            return Err(Refusal::bad_request("input field placeholder is too long"));
        }
    }
    let rows = rows
        .as_array()
        .ok_or_else(|| unparsable("keyboard must be an Array of Arrays"))?;
    if rows.is_empty() {
        return Err(Refusal::bad_request("keyboard must be non-empty"));
    }
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let row = row
            .as_array()
            .ok_or_else(|| unparsable("a keyboard row must be an Array"))?;
        let mut kept = Vec::with_capacity(row.len());
        for button in row {
            let key = match button {
                Value::String(text) => ReplyKey {
                    text: text.clone(),
                    request_location: false,
                },
                Value::Object(fields) => {
                    let text = fields
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let kinds: Vec<&str> = REPLY_KEY_KINDS
                        .iter()
                        .copied()
                        .filter(|kind| {
                            fields
                                .get(*kind)
                                .is_some_and(|value| !value.is_null() && value != &json!(false))
                        })
                        .collect();
                    if kinds.len() > 1 {
                        return Err(unparsable(
                            "at most one of the optional fields must be used",
                        ));
                    }
                    let request_location = match fields.get("request_location") {
                        None | Some(Value::Null) => false,
                        Some(Value::Bool(location)) => *location,
                        Some(_) => return Err(unparsable("request_location must be a Boolean")),
                    };
                    // Telegram offers these only where the user talks with the bot alone.
                    if in_group && !kinds.is_empty() {
                        return Err(Refusal::bad_request(
                            "keyboard buttons requesting data are allowed only in private chats",
                        ));
                    }
                    ReplyKey {
                        text: text.to_owned(),
                        request_location,
                    }
                }
                _ => return Err(unparsable("KeyboardButton must be a String or an Object")),
            };
            if key.text.is_empty() {
                return Err(unparsable("Text must be non-empty"));
            }
            kept.push(key);
        }
        keys.push(kept);
    }
    Ok(KeysChange::Show(keys))
}

/// The fields of a KeyboardButton that make it do more than send its text.
const REPLY_KEY_KINDS: [&str; 8] = [
    "request_users",
    "request_chat",
    "request_managed_bot",
    "request_contact",
    "request_location",
    "request_poll",
    "web_app",
    "request_user",
];

/// The inline buttons of `reply_markup`; other keyboards are accepted and carry none.
fn inline_keyboard(params: &Params) -> Result<Vec<Vec<Button>>, Refusal> {
    let unparsable = || Refusal::bad_request("can't parse reply keyboard markup JSON object");
    let markup = match params.get("reply_markup") {
        None => return Ok(Vec::new()),
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|_| unparsable())?,
        Some(value) => value.clone(),
    };
    let markup = markup.as_object().ok_or_else(unparsable)?;
    let Some(rows) = markup.get("inline_keyboard") else {
        let other_keyboard = ["keyboard", "remove_keyboard", "force_reply"]
            .iter()
            .any(|kind| markup.contains_key(*kind));
        return if other_keyboard {
            Ok(Vec::new())
        } else {
            Err(unparsable())
        };
    };
    let rows = rows.as_array().ok_or_else(unparsable)?;
    rows.iter()
        .map(|row| {
            let row = row.as_array().ok_or_else(unparsable)?;
            row.iter().map(inline_button).collect()
        })
        .collect()
}

fn inline_button(button: &Value) -> Result<Button, Refusal> {
    let unparsable =
        |why: &str| Refusal::bad_request(format!("can't parse inline keyboard button: {why}"));
    let button = button
        .as_object()
        .ok_or_else(|| unparsable("InlineKeyboardButton must be an Object"))?;
    let text = button
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if text.is_empty() {
        return Err(unparsable("Text must be non-empty"));
    }
    let actions: Vec<&str> = BUTTON_ACTIONS
        .iter()
        .copied()
        .filter(|action| button.get(*action).is_some_and(|value| !value.is_null()))
        .collect();
    match actions.as_slice() {
        ["url"] => {
            let url = button["url"].as_str().unwrap_or_default().to_owned();
            if !is_allowed_button_url(&url) {
                return Err(Refusal::bad_request("BUTTON_URL_INVALID"));
            }
            Ok(Button::Url { text, url })
        }
        ["callback_data"] => {
            let data = button["callback_data"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            // The limit is in bytes, not characters: non-ASCII data runs out sooner.
            if !(1..=CALLBACK_DATA_LIMIT).contains(&data.len()) {
                return Err(Refusal::bad_request("BUTTON_DATA_INVALID"));
            }
            Ok(Button::Callback { text, data })
        }
        [other] => Err(unparsable(&format!(
            "the fake Telegram server simulates url and callback_data buttons only, not {other}"
        ))),
        _ => Err(unparsable(
            "exactly one of the optional fields must be used",
        )),
    }
}

fn is_allowed_button_url(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(url) => match url.scheme() {
            "http" | "https" => url.host_str().is_some_and(|host| !host.is_empty()),
            "tg" => true,
            _ => false,
        },
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Bot API objects
// ---------------------------------------------------------------------------------------------

fn bot_user_json() -> Value {
    json!({
        "id": BOT_ID,
        "is_bot": true,
        "first_name": BOT_FIRST_NAME,
        "username": BOT_USERNAME,
    })
}

fn me_json() -> Value {
    let mut me = bot_user_json();
    if let Value::Object(fields) = &mut me {
        fields.extend(object(json!({
            "can_join_groups": true,
            // Group messages all reach the bot here, as with privacy mode off.
            "can_read_all_group_messages": true,
            "supports_inline_queries": false,
            "can_connect_to_business": false,
            "has_main_web_app": false,
        })));
    }
    me
}

fn bot_message_json(chat: &Value, sent: &SentMessage, date: i64, edit_date: Option<i64>) -> Value {
    let mut message = json!({
        "message_id": sent.message_id,
        "from": bot_user_json(),
        "chat": chat,
        "date": date,
    });
    let fields = message
        .as_object_mut()
        .expect("fake Telegram: a message is a JSON object");
    match &sent.document {
        Some(document) => {
            let file = format!("{}-{}", sent.chat_id, sent.message_id);
            fields.insert(
                "document".into(),
                json!({
                    "file_id": format!("document-{file}"),
                    "file_unique_id": format!("unique-document-{file}"),
                    "file_name": document.filename,
                    "file_size": document.bytes.len(),
                }),
            );
            if !sent.text.is_empty() {
                fields.insert("caption".into(), json!(sent.text));
            }
        }
        None => {
            fields.insert("text".into(), json!(sent.text));
        }
    }
    if let Some(edit_date) = edit_date {
        fields.insert("edit_date".into(), json!(edit_date));
    }
    if !sent.buttons.is_empty() {
        fields.insert("reply_markup".into(), keyboard_json(&sent.buttons));
    }
    message
}

fn keyboard_json(buttons: &[Vec<Button>]) -> Value {
    let rows: Vec<Vec<Value>> = buttons
        .iter()
        .map(|row| {
            row.iter()
                .map(|button| match button {
                    Button::Url { text, url } => json!({ "text": text, "url": url }),
                    Button::Callback { text, data } => {
                        json!({ "text": text, "callback_data": data })
                    }
                })
                .collect()
        })
        .collect();
    json!({ "inline_keyboard": rows })
}

/// The fields of a text message, with the `bot_command` entity Telegram adds for `/command`.
fn text_fields(text: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("text".into(), json!(text));
    if let Some(length) = command_length(text) {
        let entity = json!({ "type": "bot_command", "offset": 0, "length": length });
        fields.insert("entities".into(), json!([entity]));
    }
    fields
}

/// The length of a leading `/command` or `/command@bot_username`, as Telegram recognises it.
fn command_length(text: &str) -> Option<usize> {
    let word_length = |text: &str| {
        text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len())
    };
    let name = text.strip_prefix('/')?;
    let mut length = word_length(name);
    if length == 0 {
        return None;
    }
    if let Some(mention) = name[length..].strip_prefix('@') {
        let username = word_length(mention);
        if username > 0 {
            length += 1 + username;
        }
    }
    // The command is ASCII, so its UTF-16 length is its byte length.
    Some(1 + length)
}

fn my_chat_member(chat: Value, from: Value, date: i64, old: &str, new: &str) -> Value {
    let member = |status: &str| {
        let mut member = json!({ "user": bot_user_json(), "status": status });
        if status == "kicked" {
            member["until_date"] = json!(0);
        }
        member
    };
    json!({
        "chat": chat,
        "from": from,
        "date": date,
        "old_chat_member": member(old),
        "new_chat_member": member(new),
    })
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}
