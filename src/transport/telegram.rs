//! Telegram: updates become inbox arrivals, outbox steps become Bot API calls. Nothing here
//! decides anything.
//!
//! teloxide is kept for its Bot API types (updates, keyboards), for `getMe`, `setMyCommands`
//! and the webhook calls. Its Dispatcher and Throttle are not used: the inbox and the sender
//! replace them, with durability, lanes and retries they do not have. Messages are sent with
//! our own requests on teloxide's HTTP client, because teloxide's request path sleeps ten
//! seconds on a 5xx and then fails to read its HTML body, and a sender must see every answer.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use teloxide::{
    ApiError, RequestError,
    prelude::*,
    types::{
        BotCommand, BotCommandScope, ChatMemberUpdated, InlineKeyboardButton, InlineKeyboardMarkup,
        LinkPreviewOptions, Recipient, UpdateKind,
    },
};
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};

use crossroads_core::{
    command::{ADMIN_ONLY, Command},
    model::UserId,
};
use crossroads_store::Received;

use super::{polling, webhook};
use crate::service::{
    Service, cause_chain,
    parcel::{Arrival, ArrivalChat, PressedButton, Step, StepButton, StepKeyboard, What},
    scheduler,
    sender::{self, Carried, Courier, SenderOptions},
};

/// How updates reach the bot.
#[derive(Clone, Debug, Default)]
pub enum Receiving {
    /// Long polling with getUpdates.
    #[default]
    Polling,
    /// Telegram posts each update to `webhook_url`, which reaches our HTTP server on `listen`.
    Webhook(webhook::WebhookOptions),
}

#[derive(Clone, Debug)]
pub struct TelegramOptions {
    /// How long one getUpdates may wait for news.
    pub polling_timeout_secs: u32,
    pub sender: SenderOptions,
    pub receiving: Receiving,
    /// How long one send may take before it counts as failed, and is retried.
    pub send_timeout: Duration,
    /// Where to serve `/metrics` and `/healthz`, if anywhere.
    pub metrics: Option<crate::ops::MetricsOptions>,
    /// Periodic backups, if `[backup] dir` is set.
    pub backup: Option<crate::backup::BackupOptions>,
}

impl Default for TelegramOptions {
    fn default() -> Self {
        TelegramOptions {
            polling_timeout_secs: 10,
            sender: SenderOptions::default(),
            receiving: Receiving::Polling,
            send_timeout: SEND_TIMEOUT,
            metrics: None,
            backup: None,
        }
    }
}

/// What the bot listens to; everything else Telegram never sends.
pub(crate) const ALLOWED_UPDATES: [teloxide::types::AllowedUpdate; 4] = [
    teloxide::types::AllowedUpdate::Message,
    teloxide::types::AllowedUpdate::EditedMessage,
    teloxide::types::AllowedUpdate::CallbackQuery,
    teloxide::types::AllowedUpdate::MyChatMember,
];

/// Runs the bot until `shutdown` is cancelled: receiving stops, the update each worker is on
/// is finished, what is being sent is seen through, and the store is flushed. Whatever was
/// received or decided and not yet handled or sent waits durably for the next start.
pub async fn serve(
    service: Arc<Service>,
    bot: Bot,
    options: TelegramOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let me = bot.get_me().await.map_err(|error| match error {
        RequestError::Api(ApiError::InvalidToken) => anyhow::anyhow!(
            "Telegram does not accept the bot token. Check TELOXIDE_TOKEN or [telegram] token (get one from @BotFather)."
        ),
        other => anyhow::anyhow!("cannot reach the Telegram Bot API: {}", describe_error(&other)),
    })?;
    tracing::info!(bot = %me.username(), "connected to Telegram");
    service.telegram_reached();
    register_commands(&bot, &service).await;
    let backing_up = options.backup.clone().map(|backup| {
        AbortOnDropHandle::new(tokio::spawn(service.backups(backup, shutdown.clone())))
    });
    let watching = options.metrics.clone().map(|metrics| {
        AbortOnDropHandle::new(tokio::spawn(crate::ops::serve(
            Arc::clone(&service),
            metrics,
            shutdown.clone(),
        )))
    });

    let stop_sending = CancellationToken::new();
    let courier: Arc<dyn Courier> = Arc::new(TelegramCourier {
        bot: bot.clone(),
        timeout: options.send_timeout,
    });
    let sending = AbortOnDropHandle::new(tokio::spawn(sender::run(
        Arc::clone(&service),
        courier,
        options.sender.clone(),
        stop_sending.clone(),
    )));
    // Before anything new is received, so an update is never both restored and received.
    crate::service::inbox::restore(&service);
    // Tied to this future: if it is dropped (a crash, in tests), the tasks go with it.
    let handling = AbortOnDropHandle::new(tokio::spawn(crate::service::inbox::run(
        Arc::clone(&service),
        me.username().to_owned(),
        shutdown.clone(),
    )));
    let scheduler = AbortOnDropHandle::new(scheduler::spawn_supervised(
        Arc::clone(&service),
        shutdown.clone(),
    ));

    let received = match &options.receiving {
        Receiving::Polling => {
            stop_webhook(&bot).await;
            polling::run(
                bot.clone(),
                Arc::clone(&service),
                options.polling_timeout_secs,
                shutdown.clone(),
            )
            .await
        }
        Receiving::Webhook(webhook) => {
            webhook::run(
                bot.clone(),
                Arc::clone(&service),
                webhook.clone(),
                shutdown.clone(),
            )
            .await
        }
    };
    if received.is_err() {
        shutdown.cancel();
    }
    tracing::info!("shutting down: no new updates; finishing those being handled");
    let _ = handling.await;
    let scheduled = scheduler.await;
    stop_sending.cancel();
    let _ = sending.await;
    if let Some(backing_up) = backing_up {
        let _ = backing_up.await;
    }
    if let Some(watching) = watching
        && let Ok(Err(error)) = watching.await
    {
        tracing::error!(error = %format!("{error:#}"), "metrics stopped");
    }
    service
        .flush()
        .await
        .context("cannot flush the database at shutdown")?;
    received?;
    match scheduled {
        Ok(Ok(())) => {}
        Ok(Err(failed)) => return Err(failed.into()),
        Err(error) => return Err(anyhow::anyhow!("the scheduler task was lost: {error}")),
    }
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Polling and a webhook exclude each other: a webhook left from an earlier run in webhook
/// mode would make every getUpdates fail.
async fn stop_webhook(bot: &Bot) {
    match bot.get_webhook_info().await {
        Ok(info) if info.url.is_some() => match bot.delete_webhook().await {
            Ok(_) => tracing::info!("removed the webhook set by an earlier run; polling now"),
            Err(error) => {
                tracing::warn!(error = %describe_error(&error), "cannot remove the webhook; polling will fail until it is")
            }
        },
        Ok(_) => {}
        Err(error) => {
            tracing::debug!(error = %describe_error(&error), "cannot read the webhook state")
        }
    }
}

/// The command menu, with descriptions from the dialogues: everyone's without the admins'
/// commands, and each admin's own chat with them.
async fn register_commands(bot: &Bot, service: &Service) {
    let catalog = service.catalog();
    // The catalog only loads if it describes exactly the commands the core declares.
    let menu = |with_admin: bool| -> Vec<BotCommand> {
        catalog
            .commands
            .iter()
            .filter(|help| Command::NAMES.contains(&help.name.as_str()))
            .filter(|help| with_admin || !ADMIN_ONLY.contains(&help.name.as_str()))
            .map(|help| BotCommand::new(help.name.clone(), help.description.clone()))
            .collect()
    };
    if let Err(error) = bot.set_my_commands(menu(false)).await {
        tracing::warn!(error = %describe_error(&error), "cannot register the command menu; commands still work");
    }
    for &admin in service.admins() {
        let scope = BotCommandScope::Chat {
            chat_id: Recipient::Id(ChatId(admin)),
        };
        if let Err(error) = bot.set_my_commands(menu(true)).scope(scope).await {
            tracing::warn!(chat_id = admin, error = %describe_error(&error), "cannot register an admin's command menu; /stats still works");
        }
    }
}

/// An update as the inbox keeps it, or `None` if it needs nothing from us.
pub(crate) fn received(update: &Update) -> Option<Received> {
    let arrival = convert(update)?;
    Some(Received {
        chat_id: arrival.chat.id(),
        update_id: i64::from(update.id.0),
        payload: arrival.encode(),
    })
}

fn private_or_other(chat: &teloxide::types::Chat) -> ArrivalChat {
    if chat.is_private() {
        ArrivalChat::Private(chat.id.0)
    } else {
        ArrivalChat::Other(chat.id.0)
    }
}

fn convert(update: &Update) -> Option<Arrival> {
    match &update.kind {
        UpdateKind::Message(message) => {
            let chat = private_or_other(&message.chat);
            let what = match chat {
                // Only the zone is read from a location; the coordinates go no further.
                ArrivalChat::Private(_) if message.location().is_some() => What::Location {
                    zone: message.location().and_then(|location| {
                        super::location::zone_at(location.latitude, location.longitude)
                    }),
                },
                ArrivalChat::Private(_) => What::Message {
                    message_id: message.id.0,
                    sent_at: message.date,
                    text: message.text().map(str::to_owned),
                    reply_to: message.reply_to_message().map(|replied| replied.id.0),
                },
                // Nothing of what is said in a group is kept, not even for a moment.
                ArrivalChat::Other(_) => What::Group,
            };
            Some(Arrival {
                chat,
                what,
                button: None,
            })
        }
        UpdateKind::EditedMessage(message) => {
            let text = message.text()?;
            message.chat.is_private().then(|| Arrival {
                chat: ArrivalChat::Private(message.chat.id.0),
                what: What::Edited {
                    message_id: message.id.0,
                    sent_at: message.date,
                    text: text.to_owned(),
                },
                button: None,
            })
        }
        UpdateKind::CallbackQuery(query) => {
            let message = query.message.as_ref()?;
            let chat_id = message.chat().id.0;
            let button = Some(PressedButton {
                callback_id: query.id.0.clone(),
                message_id: Some(message.id().0),
            });
            // A button acts for whoever pressed it, and only in their own private chat; any
            // other press only has its spinner stopped.
            let own_chat = message.chat().is_private()
                && UserId::try_from(query.from.id.0).ok() == Some(chat_id);
            match query.data.clone().filter(|_| own_chat) {
                Some(data) => Some(Arrival {
                    chat: ArrivalChat::Private(chat_id),
                    what: What::Button { data },
                    button,
                }),
                None => Some(Arrival {
                    chat: ArrivalChat::Other(chat_id),
                    what: What::Nothing,
                    button,
                }),
            }
        }
        UpdateKind::MyChatMember(change) => member_change(change),
        _ => None,
    }
}

/// A user blocking or unblocking the bot, or the bot being added to a group.
fn member_change(change: &ChatMemberUpdated) -> Option<Arrival> {
    let (was_in, is_in) = (
        change.old_chat_member.is_present(),
        change.new_chat_member.is_present(),
    );
    if change.chat.is_private() {
        let what = match (was_in, is_in) {
            (true, false) => What::Blocked,
            (false, true) => What::Unblocked,
            _ => return None,
        };
        return Some(Arrival {
            chat: ArrivalChat::Private(change.chat.id.0),
            what,
            button: None,
        });
    }
    (!was_in && is_in && !change.chat.is_channel()).then_some(Arrival {
        chat: ArrivalChat::Other(change.chat.id.0),
        what: What::Group,
        button: None,
    })
}

const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Carries outbox steps to Telegram.
struct TelegramCourier {
    bot: Bot,
    timeout: Duration,
}

impl Courier for TelegramCourier {
    fn carry(&self, chat_id: i64, step: Step) -> BoxFuture<'_, Carried> {
        Box::pin(async move {
            match step {
                Step::Message {
                    html,
                    buttons,
                    protect,
                    ..
                } => {
                    let mut body = json!({
                        "chat_id": chat_id,
                        "text": html,
                        "parse_mode": "HTML",
                        "link_preview_options": no_preview(),
                    });
                    if protect {
                        body["protect_content"] = json!(true);
                    }
                    if let Some(markup) = keyboard(&buttons) {
                        body["reply_markup"] = json!(markup);
                    }
                    self.call_json("sendMessage", &body).await
                }
                Step::Document {
                    filename,
                    bytes,
                    caption,
                    protect,
                    ..
                } => {
                    let part = reqwest::multipart::Part::bytes(bytes).file_name(filename);
                    let mut form = reqwest::multipart::Form::new()
                        .text("chat_id", chat_id.to_string())
                        .part("document", part);
                    if protect {
                        form = form.text("protect_content", "true");
                    }
                    if let Some(caption) = caption {
                        form = form.text("caption", caption).text("parse_mode", "HTML");
                    }
                    let request = self.request("sendDocument").multipart(form);
                    // A document can be large: an export of years of entries.
                    self.answer(request, self.timeout * 6).await
                }
                Step::DeleteMessage { message_id } => {
                    let deleted = self
                        .call_json(
                            "deleteMessage",
                            &json!({ "chat_id": chat_id, "message_id": message_id }),
                        )
                        .await;
                    // The answer is `true`, not a message: there is no new id to record.
                    match deleted {
                        Carried::Delivered { .. } => Carried::Delivered { message_id: None },
                        other => other,
                    }
                }
                Step::LeaveChat => {
                    self.call_json("leaveChat", &json!({ "chat_id": chat_id }))
                        .await
                }
                Step::Edit {
                    message_id: Some(message_id),
                    html,
                    rows,
                } => {
                    let body = json!({
                        "chat_id": chat_id,
                        "message_id": message_id,
                        "text": html,
                        "parse_mode": "HTML",
                        "link_preview_options": no_preview(),
                        "reply_markup": inline_rows(&rows),
                    });
                    self.call_json("editMessageText", &body).await
                }
                Step::Edit {
                    message_id: None,
                    html,
                    rows,
                } => {
                    let body = json!({
                        "chat_id": chat_id,
                        "text": html,
                        "parse_mode": "HTML",
                        "link_preview_options": no_preview(),
                        "reply_markup": inline_rows(&rows),
                    });
                    self.call_json("sendMessage", &body).await
                }
                Step::Keyboard { html, keyboard } => {
                    let body = json!({
                        "chat_id": chat_id,
                        "text": html,
                        "parse_mode": "HTML",
                        "link_preview_options": no_preview(),
                        "reply_markup": reply_keyboard(&keyboard),
                    });
                    self.call_json("sendMessage", &body).await
                }
                Step::AnswerButton {
                    callback_id,
                    message_id,
                    text,
                } => {
                    let mut body = json!({ "callback_query_id": callback_id });
                    if let Some(text) = text {
                        body["text"] = json!(text);
                    }
                    let answered = self.call_json("answerCallbackQuery", &body).await;
                    if let Some(message_id) = message_id {
                        // Best effort: the buttons may be gone already.
                        let removed = self
                            .call_json(
                                "editMessageReplyMarkup",
                                &json!({ "chat_id": chat_id, "message_id": message_id }),
                            )
                            .await;
                        if !matches!(removed, Carried::Delivered { .. }) {
                            tracing::debug!(chat_id, "cannot remove pressed buttons");
                        }
                    }
                    match answered {
                        Carried::Delivered { .. } => Carried::Delivered { message_id: None },
                        other => other,
                    }
                }
            }
        })
    }
}

impl TelegramCourier {
    fn request(&self, method: &str) -> reqwest::RequestBuilder {
        let mut url = self.bot.api_url();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .push(&format!("bot{}", self.bot.token()))
                .push(method);
        }
        self.bot.client().post(url)
    }

    async fn call_json(&self, method: &str, body: &Value) -> Carried {
        let request = self
            .request(method)
            .header("content-type", "application/json")
            .body(body.to_string());
        self.answer(request, self.timeout).await
    }

    /// Sends a request and reads Telegram's answer into what the sender acts on.
    async fn answer(&self, request: reqwest::RequestBuilder, timeout: Duration) -> Carried {
        let response = match request.timeout(timeout).send().await {
            Ok(response) => response,
            // Without the URL: it holds the token.
            Err(error) => return Carried::Transient(error.without_url().to_string()),
        };
        let status = response.status().as_u16();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return Carried::Transient(error.without_url().to_string()),
        };
        classify(status, &body)
    }
}

/// What an answer from the Bot API means for the sender. The body of a success is read only
/// for the message id; it is never logged, since it holds what the bot said.
pub(crate) fn classify(status: u16, body: &[u8]) -> Carried {
    let answer: Option<Value> = serde_json::from_slice(body).ok();
    let Some(answer) = answer.filter(|answer| answer.get("ok").is_some()) else {
        // nginx's own pages (502, 504) are HTML, not Bot API answers; a proxy may say 429 the
        // same way.
        if status == 429 {
            return Carried::Flood {
                retry_after: Duration::from_secs(1),
            };
        }
        return if status >= 500 || status == 0 {
            Carried::Transient(format!("HTTP {status} without a Bot API answer"))
        } else {
            Carried::Refused(format!("HTTP {status} without a Bot API answer"))
        };
    };
    if answer["ok"] == Value::Bool(true) {
        let message_id = answer
            .pointer("/result/message_id")
            .and_then(Value::as_i64)
            .and_then(|id| i32::try_from(id).ok());
        return Carried::Delivered { message_id };
    }
    let code = answer["error_code"].as_i64().unwrap_or(i64::from(status));
    let description: String = answer["description"]
        .as_str()
        .unwrap_or("no description")
        .chars()
        .take(200)
        .collect();
    match code {
        429 => Carried::Flood {
            retry_after: Duration::from_secs(
                answer
                    .pointer("/parameters/retry_after")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .max(1),
            ),
        },
        403 => Carried::Unreachable,
        code if code >= 500 => {
            Carried::Transient(format!("Telegram failed ({code}): {description}"))
        }
        // The token stopped working, or the server is misconfigured: no message can be the
        // cause, so none is dropped for it.
        401 | 404 => Carried::Stopped(format!("Telegram refused ({code}): {description}")),
        code => Carried::Refused(format!("Telegram refused ({code}): {description}")),
    }
}

fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

fn keyboard(buttons: &[StepButton]) -> Option<InlineKeyboardMarkup> {
    let rows: Vec<Vec<InlineKeyboardButton>> = buttons
        .iter()
        .filter_map(|button| match button {
            StepButton::Url { label, url } => match url::Url::parse(url) {
                Ok(url) => Some(InlineKeyboardButton::url(label.clone(), url)),
                Err(_) => {
                    tracing::error!(
                        "a configured button address is not a URL; the button is left out"
                    );
                    None
                }
            },
            StepButton::Callback { label, data } => {
                Some(InlineKeyboardButton::callback(label.clone(), data.clone()))
            }
        })
        .map(|button| vec![button])
        .collect();
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

/// Inline buttons laid out in rows, for a message that changes in place.
fn inline_rows(rows: &[Vec<StepButton>]) -> Value {
    let rows: Vec<Vec<Value>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|button| match button {
                    StepButton::Url { label, url } => json!({ "text": label, "url": url }),
                    StepButton::Callback { label, data } => {
                        json!({ "text": label, "callback_data": data })
                    }
                })
                .collect()
        })
        .collect();
    json!({ "inline_keyboard": rows })
}

/// Keys under the message field: one per row, small, and gone once one is used; or none.
fn reply_keyboard(keyboard: &StepKeyboard) -> Value {
    match keyboard {
        StepKeyboard::Offer(keys) => {
            let rows: Vec<Vec<Value>> = keys
                .iter()
                .map(|key| {
                    let mut button = json!({ "text": key.label });
                    if key.location {
                        button["request_location"] = json!(true);
                    }
                    vec![button]
                })
                .collect();
            json!({ "keyboard": rows, "resize_keyboard": true, "one_time_keyboard": true })
        }
        StepKeyboard::Remove => json!({ "remove_keyboard": true }),
    }
}

/// A description of a request error that is safe to log: never the token (teloxide strips it
/// from network errors) and never a response body, which can hold what a user wrote.
pub(crate) fn describe_error(error: &RequestError) -> String {
    match error {
        RequestError::Api(api) => format!("Telegram refused: {api}"),
        RequestError::MigrateToChatId(_) => "the group moved to a supergroup".to_owned(),
        RequestError::RetryAfter(seconds) => {
            format!("flood limit: retry after {}s", seconds.seconds())
        }
        RequestError::Network(error) => format!("network: {}", cause_chain(error.as_ref())),
        RequestError::InvalidJson { source, .. } => {
            format!(
                "Telegram's answer could not be read (line {}, column {})",
                source.line(),
                source.column()
            )
        }
        RequestError::Io(error) => format!("i/o: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// teloxide reads updates from text; reading from an already parsed value loses them.
    fn update(value: serde_json::Value) -> Update {
        serde_json::from_str(&value.to_string()).unwrap()
    }

    fn button_press(chat_id: i64, from_id: i64) -> Update {
        update(json!({
            "update_id": 1,
            "callback_query": {
                "id": "cb1",
                "from": {"id": from_id, "is_bot": false, "first_name": "Someone"},
                "chat_instance": "x",
                "data": "delete:yes:1",
                "message": {
                    "message_id": 5, "date": 1_770_000_000,
                    "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
                    "from": {"id": 4242, "is_bot": true, "first_name": "Crossroads"},
                    "text": "Erase everything?"
                }
            }
        }))
    }

    #[test]
    fn a_button_acts_only_for_the_owner_of_the_chat() {
        let own = convert(&button_press(1001, 1001)).unwrap();
        assert_eq!(own.chat, ArrivalChat::Private(1001));
        assert_eq!(
            own.what,
            What::Button {
                data: "delete:yes:1".into()
            }
        );
        let forged = convert(&button_press(1001, 666)).unwrap();
        assert_eq!(
            forged.what,
            What::Nothing,
            "someone else's press only has its spinner stopped"
        );
        assert!(forged.button.is_some());
    }

    #[test]
    fn a_group_message_keeps_nothing_of_what_was_said() {
        let update = update(json!({
            "update_id": 2,
            "message": {
                "message_id": 9, "date": 1_770_000_000,
                "chat": {"id": -500, "type": "group", "title": "Family"},
                "from": {"id": 2002, "is_bot": false, "first_name": "Ben"},
                "text": "my private words"
            }
        }));
        let arrival = convert(&update).unwrap();
        assert_eq!(arrival.chat, ArrivalChat::Other(-500));
        assert_eq!(arrival.what, What::Group);
        let stored = received(&update).unwrap();
        assert!(!String::from_utf8_lossy(&stored.payload).contains("private words"));
        assert!(!String::from_utf8_lossy(&stored.payload).contains("Ben"));
    }

    fn location_in(chat: serde_json::Value) -> Update {
        update(json!({
            "update_id": 3,
            "message": {
                "message_id": 10, "date": 1_770_000_000,
                "chat": chat,
                "from": {"id": 1001, "is_bot": false, "first_name": "Ann"},
                "location": {"latitude": 48.858_37, "longitude": 2.294_481}
            }
        }))
    }

    #[test]
    fn a_location_is_kept_as_its_zone_and_nothing_else() {
        let update = location_in(json!({"id": 1001, "type": "private", "first_name": "Ann"}));
        let arrival = convert(&update).unwrap();
        assert_eq!(
            arrival.what,
            What::Location {
                zone: Some("Europe/Paris".into())
            }
        );
        let stored = String::from_utf8_lossy(&received(&update).unwrap().payload).into_owned();
        for trace in ["48.8", "2.29", "48", "294", "latitude"] {
            assert!(!stored.contains(trace), "{trace} in {stored}");
        }
        let in_a_group = location_in(json!({"id": -500, "type": "group", "title": "Family"}));
        let arrival = convert(&in_a_group).unwrap();
        assert_eq!(arrival.what, What::Group);
        assert!(!String::from_utf8_lossy(&received(&in_a_group).unwrap().payload).contains("48"));
    }

    #[test]
    fn answers_are_read_as_telegram_means_them() {
        assert_eq!(
            classify(200, br#"{"ok":true,"result":{"message_id":77,"date":1}}"#),
            Carried::Delivered {
                message_id: Some(77)
            }
        );
        assert_eq!(
            classify(
                429,
                br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#
            ),
            Carried::Flood {
                retry_after: Duration::from_secs(5)
            }
        );
        assert!(matches!(
            classify(
                502,
                b"<html><head><title>502 Bad Gateway</title></head></html>"
            ),
            Carried::Transient(_)
        ));
        assert!(matches!(
            classify(
                500,
                br#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#
            ),
            Carried::Transient(_)
        ));
        assert_eq!(
            classify(403, br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#),
            Carried::Unreachable
        );
        assert!(matches!(
            classify(400, br#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities"}"#),
            Carried::Refused(_)
        ));
    }
}
