//! Telegram through teloxide: updates become service events, replies become Bot API calls.
//! Nothing here decides anything.

use std::{
    collections::HashSet,
    convert::Infallible,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, atomic::Ordering},
    time::Duration,
};

use anyhow::Context as _;
use futures::{FutureExt as _, future::BoxFuture};
use teloxide::{
    ApiError, RequestError,
    adaptors::{Throttle, throttle::Limits},
    dispatching::{Dispatcher, UpdateHandler},
    error_handlers::LoggingErrorHandler,
    prelude::*,
    types::{
        BotCommand, ChatMemberUpdated, InlineKeyboardButton, InlineKeyboardMarkup, InputFile,
        LinkPreviewOptions, Me, MessageId, ParseMode, UpdateKind,
    },
};
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};

use crossroads_core::{
    command::{Command, looks_like_command},
    event::{Chat, Event, Incoming},
    model::UserId,
    reply::{Button, Outbound},
};

use super::polling::{self, InFlight};
use crate::service::{
    Service, cause_chain,
    scheduler::{self, Delivery, Outbox},
};

/// Every request goes through Throttle, which keeps to Telegram's flood limits and waits out
/// a 429 for us.
pub(crate) type Api = Throttle<Bot>;

#[derive(Clone, Debug)]
pub struct TelegramOptions {
    /// How long one getUpdates may wait for news. Must stay under the HTTP client's own
    /// timeout (17 s in teloxide's default client) or every quiet poll ends in an error.
    pub polling_timeout_secs: u32,
    pub limits: Limits,
}

impl Default for TelegramOptions {
    fn default() -> Self {
        TelegramOptions {
            polling_timeout_secs: 10,
            limits: Limits::default(),
        }
    }
}

/// Group chats already told goodbye in this run: a burst of group messages gets one answer.
/// Only chat ids, only in memory, and never about a person.
#[derive(Default)]
struct GroupsLeft(Mutex<HashSet<i64>>);

impl GroupsLeft {
    const MAX_REMEMBERED: usize = 10_000;

    fn first_time(&self, chat_id: i64) -> bool {
        let mut left = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if left.len() >= Self::MAX_REMEMBERED {
            left.clear();
        }
        left.insert(chat_id)
    }
}

/// Runs the bot until `shutdown` is cancelled, then finishes what is in flight, saves the
/// polling offset and flushes the store.
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
    let api = bot.throttle(options.limits);
    register_commands(&api, &service).await;

    let in_flight = Arc::new(InFlight::default());
    let (listener, control) = polling::listener(
        api.clone(),
        Arc::clone(&service),
        Arc::clone(&in_flight),
        options.polling_timeout_secs,
    )
    .context("cannot read the saved polling offset")?;

    let outbox: Arc<dyn Outbox> = Arc::new(TelegramOutbox { api: api.clone() });
    // Tied to this future: if it is dropped (a crash, in tests), the scheduler goes with it.
    let scheduler = AbortOnDropHandle::new(scheduler::spawn_supervised(
        Arc::clone(&service),
        outbox,
        shutdown.clone(),
    ));
    let stop = control.stop.clone();
    let stopper = AbortOnDropHandle::new(tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown.cancelled().await;
            tracing::info!("shutting down: no new updates; finishing those in flight");
            stop.stop();
        }
    }));

    let mut dispatcher = Dispatcher::builder(api.clone(), schema())
        .dependencies(dptree::deps![
            Arc::clone(&service),
            in_flight,
            Arc::new(GroupsLeft::default())
        ])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text(
            "an update handler failed",
        ))
        .build();
    let dispatched = dispatcher
        .try_dispatch_with_listener(
            listener,
            LoggingErrorHandler::with_custom_text("the update listener failed"),
        )
        .await;

    // The dispatcher returns once every update it was handed has been handled.
    shutdown.cancel();
    stopper.abort();
    let scheduled = scheduler.await;
    let offset = control.next_offset.load(Ordering::SeqCst);
    if let Err(error) = service.save_update_offset(offset).await {
        tracing::error!(error = %cause_chain(&error), "cannot save the update offset");
    }
    service
        .flush()
        .await
        .context("cannot flush the database at shutdown")?;
    dispatched.map_err(|error| {
        anyhow::anyhow!("cannot start receiving updates: {}", describe_error(&error))
    })?;
    match scheduled {
        Ok(Ok(())) => {}
        Ok(Err(failed)) => return Err(failed.into()),
        Err(error) => return Err(anyhow::anyhow!("the scheduler task was lost: {error}")),
    }
    tracing::info!("stopped cleanly");
    Ok(())
}

/// The command menu, with descriptions from the dialogues.
async fn register_commands(api: &Api, service: &Service) {
    let catalog = service.catalog();
    // The catalog only loads if it describes exactly the commands the core declares.
    let commands: Vec<BotCommand> = catalog
        .commands
        .iter()
        .filter(|help| Command::NAMES.contains(&help.name.as_str()))
        .map(|help| BotCommand::new(help.name.clone(), help.description.clone()))
        .collect();
    if let Err(error) = api.set_my_commands(commands).await {
        tracing::warn!(error = %describe_error(&error), "cannot register the command menu; commands still work");
    }
}

fn schema() -> UpdateHandler<Infallible> {
    dptree::endpoint(on_update)
}

/// What an update means for the service, and where to answer it.
struct Converted {
    chat_id: i64,
    chat: Chat,
    /// `None` when there is nothing to do but answer the button press.
    event: Option<Event>,
    callback: Option<(String, Option<MessageId>)>,
}

async fn on_update(
    api: Api,
    me: Me,
    update: Update,
    service: Arc<Service>,
    in_flight: Arc<InFlight>,
    groups: Arc<GroupsLeft>,
) -> Result<(), Infallible> {
    let _handled = in_flight.handling();
    let Some(converted) = convert(&update, &me) else {
        tracing::debug!(update_id = update.id.0, "update needs nothing from us");
        return Ok(());
    };
    let kind = converted
        .event
        .as_ref()
        .map_or("button_elsewhere", Event::kind);
    tracing::info!(chat_id = converted.chat_id, kind, "update");
    if let Some((callback_id, message_id)) = converted.callback {
        finish_callback(&api, converted.chat_id, callback_id, message_id).await;
    }
    let Some(event) = converted.event else {
        return Ok(());
    };
    if converted.chat == Chat::Group && !groups.first_time(converted.chat_id) {
        return Ok(());
    }
    // A panic must not kill this chat's worker (and later the dispatcher): it becomes an error.
    let outbound = AssertUnwindSafe(service.handle(converted.chat, event))
        .catch_unwind()
        .await;
    let outbound = outbound.unwrap_or_else(|_| {
        tracing::error!(chat_id = converted.chat_id, "handling an update panicked");
        vec![service.trouble()]
    });
    let delivered = deliver(&api, converted.chat_id, outbound).await;
    if delivered == Delivery::Unreachable
        && let Chat::Private(user_id) = converted.chat
    {
        service.mark_unreachable(user_id).await;
    }
    Ok(())
}

fn convert(update: &Update, me: &Me) -> Option<Converted> {
    match &update.kind {
        UpdateKind::Message(message) => {
            let chat_id = message.chat.id.0;
            if !message.chat.is_private() {
                return Some(Converted {
                    chat_id,
                    chat: Chat::Group,
                    event: Some(Event::NonText),
                    callback: None,
                });
            }
            let event = match message.text() {
                Some(text) => Event::from_text(text, me.username(), message.id.0, message.date),
                None => Event::NonText,
            };
            Some(Converted {
                chat_id,
                chat: Chat::Private(chat_id),
                event: Some(event),
                callback: None,
            })
        }
        UpdateKind::EditedMessage(message) => {
            let text = message.text().filter(|text| !looks_like_command(text))?;
            let chat_id = message.chat.id.0;
            message.chat.is_private().then(|| Converted {
                chat_id,
                chat: Chat::Private(chat_id),
                event: Some(Event::Edited(Incoming {
                    message_id: message.id.0,
                    sent_at: message.date,
                    text: text.to_owned(),
                })),
                callback: None,
            })
        }
        UpdateKind::CallbackQuery(query) => {
            let message = query.message.as_ref()?;
            let chat_id = message.chat().id.0;
            let callback = Some((query.id.0.clone(), Some(message.id())));
            // A button acts for whoever pressed it, and only in their own private chat; any
            // other press only has its spinner stopped.
            let own_chat = message.chat().is_private()
                && UserId::try_from(query.from.id.0).ok() == Some(chat_id);
            let Some(data) = query.data.clone().filter(|_| own_chat) else {
                return Some(Converted {
                    chat_id,
                    chat: Chat::Group,
                    event: None,
                    callback,
                });
            };
            Some(Converted {
                chat_id,
                chat: Chat::Private(chat_id),
                event: Some(Event::ButtonPressed { data }),
                callback,
            })
        }
        UpdateKind::MyChatMember(change) => member_change(change),
        _ => None,
    }
}

/// A user blocking or unblocking the bot, or the bot being added to a group.
fn member_change(change: &ChatMemberUpdated) -> Option<Converted> {
    let chat_id = change.chat.id.0;
    let (was_in, is_in) = (
        change.old_chat_member.is_present(),
        change.new_chat_member.is_present(),
    );
    if change.chat.is_private() {
        let event = match (was_in, is_in) {
            (true, false) => Event::Blocked,
            (false, true) => Event::Unblocked,
            _ => return None,
        };
        return Some(Converted {
            chat_id,
            chat: Chat::Private(chat_id),
            event: Some(event),
            callback: None,
        });
    }
    (!was_in && is_in && !change.chat.is_channel()).then_some(Converted {
        chat_id,
        chat: Chat::Group,
        event: Some(Event::NonText),
        callback: None,
    })
}

/// Stops the button's spinner, and takes the buttons off the message so they are pressed once.
async fn finish_callback(
    api: &Api,
    chat_id: i64,
    callback_id: String,
    message_id: Option<MessageId>,
) {
    if let Err(error) = api
        .answer_callback_query(teloxide::types::CallbackQueryId(callback_id))
        .await
    {
        tracing::warn!(chat_id, error = %describe_error(&error), "cannot answer a button press");
    }
    let Some(message_id) = message_id else { return };
    if let Err(error) = api
        .edit_message_reply_markup(ChatId(chat_id), message_id)
        .await
    {
        tracing::debug!(chat_id, error = %describe_error(&error), "cannot remove pressed buttons");
    }
}

/// Sends replies in order. Stops at the first failure: later lines would read out of context.
async fn deliver(api: &Api, chat_id: i64, outbound: Vec<Outbound>) -> Delivery {
    for item in outbound {
        let sent = match item {
            Outbound::Message(message) => {
                let mut request = api
                    .send_message(ChatId(chat_id), message.html.into_string())
                    .parse_mode(ParseMode::Html)
                    .link_preview_options(no_preview());
                if let Some(markup) = keyboard(&message.buttons) {
                    request = request.reply_markup(markup);
                }
                with_retries(|| request.clone().send()).await.map(|_| ())
            }
            Outbound::Document(document) => {
                let file = InputFile::memory(document.bytes).file_name(document.filename);
                let mut request = api.send_document(ChatId(chat_id), file);
                if let Some(caption) = document.caption {
                    request = request
                        .caption(caption.into_string())
                        .parse_mode(ParseMode::Html);
                }
                with_retries(|| request.clone().send()).await.map(|_| ())
            }
            Outbound::LeaveChat => api.leave_chat(ChatId(chat_id)).send().await.map(|_| ()),
        };
        if let Err(error) = sent {
            return match error {
                RequestError::Api(
                    ApiError::BotBlocked
                    | ApiError::UserDeactivated
                    | ApiError::CantInitiateConversation
                    | ApiError::BotKicked,
                ) => {
                    tracing::info!(
                        chat_id,
                        "the user blocked the bot or left Telegram; questions stop, data stays"
                    );
                    Delivery::Unreachable
                }
                error => {
                    tracing::error!(chat_id, error = %describe_error(&error), "cannot send a reply");
                    Delivery::Failed
                }
            };
        }
    }
    Delivery::Delivered
}

/// A network hiccup should not cost a reply; a refusal is final.
async fn with_retries<T, F, Fut>(mut attempt: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut delay = Duration::from_secs(1);
    for _ in 0..2 {
        match attempt().await {
            Err(RequestError::Network(_)) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            result => return result,
        }
    }
    attempt().await
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

fn keyboard(buttons: &[Button]) -> Option<InlineKeyboardMarkup> {
    let rows: Vec<Vec<InlineKeyboardButton>> = buttons
        .iter()
        .filter_map(|button| match button {
            Button::Url { label, url } => match url::Url::parse(url) {
                Ok(url) => Some(InlineKeyboardButton::url(label.clone(), url)),
                Err(_) => {
                    tracing::error!(
                        "a configured button address is not a URL; the button is left out"
                    );
                    None
                }
            },
            Button::Callback { label, data } => {
                Some(InlineKeyboardButton::callback(label.clone(), data.clone()))
            }
        })
        .map(|button| vec![button])
        .collect();
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
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

/// Delivers scheduled questions.
struct TelegramOutbox {
    api: Api,
}

impl Outbox for TelegramOutbox {
    fn deliver(&self, user_id: UserId, messages: Vec<Outbound>) -> BoxFuture<'_, Delivery> {
        Box::pin(deliver(&self.api, user_id, messages))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn me() -> Me {
        serde_json::from_value(json!({
            "id": 4242, "is_bot": true, "first_name": "Crossroads", "username": "crossroads_bot",
            "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false
        }))
        .unwrap()
    }

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
        let own = convert(&button_press(1001, 1001), &me()).unwrap();
        assert_eq!(own.chat, Chat::Private(1001));
        assert_eq!(
            own.event,
            Some(Event::ButtonPressed {
                data: "delete:yes:1".into()
            })
        );
        let forged = convert(&button_press(1001, 666), &me()).unwrap();
        assert_eq!(
            forged.event, None,
            "someone else's press only has its spinner stopped"
        );
        assert!(forged.callback.is_some());
    }

    #[test]
    fn a_burst_of_group_messages_gets_one_goodbye() {
        let groups = GroupsLeft::default();
        assert!(groups.first_time(-500));
        assert!(!groups.first_time(-500));
        assert!(groups.first_time(-501));
    }

    #[test]
    fn a_group_message_is_never_read_as_a_users_words() {
        let update = update(json!({
            "update_id": 2,
            "message": {
                "message_id": 9, "date": 1_770_000_000,
                "chat": {"id": -500, "type": "group", "title": "Family"},
                "from": {"id": 2002, "is_bot": false, "first_name": "Ben"},
                "text": "my private words"
            }
        }));
        let converted = convert(&update, &me()).unwrap();
        assert_eq!(converted.chat, Chat::Group);
        assert_eq!(converted.event, Some(Event::NonText));
    }
}
