//! Proves the fake Telegram server against a real `teloxide::Bot`: if teloxide accepts its
//! answers and it refuses what Telegram refuses, end-to-end tests built on it mean something.

#[path = "support/fake_telegram.rs"]
mod fake_telegram;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, Uri};
use fake_telegram::{Button, FakeTelegram, Fault, FloodLimit, telegram_html};
use serde_json::{Value, json};
use teloxide::prelude::*;
use teloxide::types::{
    AllowedUpdate, BotCommand, ChatAction, ChatMemberKind, InlineKeyboardButton,
    InlineKeyboardMarkup, InputFile, MediaKind, MessageEntityKind, MessageId, MessageKind,
    ParseMode, Seconds, Update, UpdateKind,
};
use teloxide::{ApiError, RequestError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Only a safety net: every wait below ends as soon as its event happens.
const PATIENCE: Duration = Duration::from_secs(10);

const START_TIME: i64 = 1_750_000_000;
const ANA: i64 = 1001;
const BEN: i64 = 1002;
const GROUP: i64 = -5001;

struct Harness {
    fake: FakeTelegram,
    bot: Bot,
    clock: Arc<AtomicI64>,
}

async fn start() -> Harness {
    let clock = Arc::new(AtomicI64::new(START_TIME));
    let reader = Arc::clone(&clock);
    let fake = FakeTelegram::start(Arc::new(move || reader.load(Ordering::SeqCst))).await;
    fake.add_private_chat(ANA, "Ana");
    fake.add_private_chat(BEN, "Ben");
    fake.add_group_chat(GROUP, "Crossroads circle");
    let bot = Bot::new(fake.token()).set_api_url(fake.api_url());
    Harness { fake, bot, clock }
}

fn api_error(result: Result<impl std::fmt::Debug, RequestError>) -> ApiError {
    match result {
        Err(RequestError::Api(error)) => error,
        other => panic!("expected a Telegram API error, got {other:?}"),
    }
}

fn one_button_keyboard(button: InlineKeyboardButton) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[button]])
}

fn url(text: &str) -> url::Url {
    url::Url::parse(text).unwrap()
}

/// Sends a request teloxide would never produce, to probe the server's own checks.
async fn raw_request(fake: &FakeTelegram, path: &str, json_body: &str) -> (u16, Value) {
    let api = fake.api_url();
    let address = format!("{}:{}", api.host_str().unwrap(), api.port().unwrap());
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{json_body}",
        json_body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap())
}

// ---------------------------------------------------------------------------------------------
// Routing and authorisation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_me_describes_the_test_bot() {
    let Harness { fake, bot, .. } = start().await;

    let me = bot.get_me().await.unwrap();

    assert_eq!(me.id, UserId(4242));
    assert!(me.is_bot);
    assert_eq!(me.first_name, "Crossroads");
    assert_eq!(me.username(), "crossroads_test_bot");
    assert_eq!(fake.calls("getMe").len(), 1);
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized() {
    let Harness { fake, .. } = start().await;
    let intruder = Bot::new("4242:WRONG").set_api_url(fake.api_url());

    assert_eq!(api_error(intruder.get_me().await), ApiError::InvalidToken);

    let (status, body) = raw_request(&fake, "/bot4242:WRONG/getMe", "{}").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({ "ok": false, "error_code": 401, "description": "Unauthorized" })
    );
    let rejections = fake.rejections();
    assert_eq!(rejections.len(), 2);
    assert!(rejections.iter().all(|r| r.status == 401));
}

#[tokio::test]
async fn an_unknown_method_is_not_found() {
    let Harness { fake, bot, .. } = start().await;

    // Telegram answers "Not Found", which teloxide reads as an invalid token.
    assert_eq!(
        api_error(bot.get_chat(ChatId(ANA)).await),
        ApiError::InvalidToken
    );

    let path = format!("/bot{}/noSuchMethod", fake.token());
    let (status, body) = raw_request(&fake, &path, "{}").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({ "ok": false, "error_code": 404, "description": "Not Found" })
    );
    let rejections = fake.rejections();
    assert_eq!(rejections[0].method, "GetChat");
    assert_eq!(rejections[0].status, 404);
    assert_eq!(rejections[1].method, "noSuchMethod");
}

#[tokio::test]
async fn method_names_match_without_regard_to_case() {
    let Harness { fake, bot, .. } = start().await;

    // teloxide itself sends PascalCase: "GetMe".
    bot.get_me().await.unwrap();
    for method in ["getme", "GETME", "getMe"] {
        let path = format!("/bot{}/{method}", fake.token());
        let (status, body) = raw_request(&fake, &path, "").await;
        assert_eq!(status, 200, "{method}");
        assert_eq!(body["result"]["username"], "crossroads_test_bot");
    }

    assert_eq!(fake.calls("GETME").len(), 4);
    assert!(fake.rejections().is_empty());
}

// ---------------------------------------------------------------------------------------------
// getUpdates
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_long_poll_returns_an_update_that_arrives_while_it_waits() {
    let Harness { fake, bot, .. } = start().await;
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(8).await }
    });

    assert!(fake.wait_until_polling(PATIENCE).await);
    assert!(!poll.is_finished());
    fake.user_sends_text(ANA, ANA, "hello");

    let updates = tokio::time::timeout(PATIENCE, poll)
        .await
        .expect("the long poll should return as soon as the update arrives")
        .unwrap()
        .unwrap();
    assert_eq!(updates.len(), 1);
    assert!(matches!(&updates[0].kind, UpdateKind::Message(m) if m.text() == Some("hello")));
}

#[tokio::test]
async fn a_long_poll_with_nothing_to_deliver_ends_empty_at_its_timeout() {
    let Harness { fake, bot, .. } = start().await;
    let started = tokio::time::Instant::now();

    let updates = bot.get_updates().timeout(1).await.unwrap();

    assert!(updates.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(!fake.wait_until_polling(Duration::ZERO).await);
}

#[tokio::test]
async fn an_offset_confirms_every_earlier_update() {
    let Harness { fake, bot, .. } = start().await;
    for text in ["one", "two", "three"] {
        fake.user_sends_text(ANA, ANA, text);
    }

    let updates = bot.get_updates().await.unwrap();
    let ids: Vec<u32> = updates.iter().map(|u| u.id.0).collect();
    assert_eq!(ids, [10_000, 10_001, 10_002]);
    // Receiving is not confirming.
    assert_eq!(bot.get_updates().await.unwrap().len(), 3);
    assert_eq!(fake.confirmed_offset(), 0);

    let rest = bot
        .get_updates()
        .offset(updates[1].id.as_offset())
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id.0, 10_002);
    assert_eq!(fake.confirmed_offset(), 10_002);
    assert_eq!(fake.pending_update_count(), 1);

    let limited = bot.get_updates().limit(1).await.unwrap();
    assert_eq!(limited.len(), 1);

    bot.get_updates()
        .offset(rest[0].id.as_offset())
        .await
        .unwrap();
    assert_eq!(fake.pending_update_count(), 0);
    assert_eq!(fake.confirmed_offset(), 10_003);
}

#[tokio::test]
async fn a_negative_offset_keeps_only_the_newest_updates() {
    let Harness { fake, bot, .. } = start().await;
    for text in ["one", "two", "three"] {
        fake.user_sends_text(ANA, ANA, text);
    }

    let newest = bot.get_updates().offset(-1).await.unwrap();

    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].id.0, 10_002);
    assert_eq!(fake.pending_update_count(), 1);
}

#[tokio::test]
async fn allowed_updates_drop_later_updates_of_other_kinds() {
    let Harness { fake, bot, .. } = start().await;
    let sent = bot
        .send_message(ChatId(ANA), "Choose")
        .reply_markup(one_button_keyboard(InlineKeyboardButton::callback(
            "Yes", "yes",
        )))
        .await
        .unwrap();
    bot.get_updates()
        .allowed_updates([AllowedUpdate::Message])
        .await
        .unwrap();

    fake.user_presses_button(ANA, ANA, sent.id.0, "yes");
    fake.user_sends_text(ANA, ANA, "typed instead");

    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 1);
    assert!(matches!(updates[0].kind, UpdateKind::Message(_)));
    assert_eq!(fake.filtered_updates().len(), 1);
    assert!(fake.filtered_updates()[0]["callback_query"].is_object());
}

// ---------------------------------------------------------------------------------------------
// Sending and recording
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn send_message_records_the_html_its_visible_text_and_buttons() {
    let Harness { fake, bot, .. } = start().await;
    let keyboard = InlineKeyboardMarkup::new([
        vec![InlineKeyboardButton::url(
            "Read more",
            url("https://example.com/guide"),
        )],
        vec![InlineKeyboardButton::callback("Next", "step:2")],
    ]);

    let message = bot
        .send_message(ChatId(ANA), "<b>Hello</b> Ana &amp; welcome")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard)
        .await
        .unwrap();

    assert_eq!(message.text(), Some("Hello Ana & welcome"));
    assert_eq!(message.chat.id, ChatId(ANA));
    assert!(message.from.as_ref().unwrap().is_bot);
    assert!(message.reply_markup().is_some());
    assert_eq!(message.date.timestamp(), START_TIME);

    let sent = fake.next_message(ANA, PATIENCE).await.unwrap();
    assert_eq!(sent.message_id, message.id.0);
    assert_eq!(sent.html, "<b>Hello</b> Ana &amp; welcome");
    assert_eq!(sent.text, "Hello Ana & welcome");
    assert_eq!(sent.parse_mode.as_deref(), Some("HTML"));
    assert!(!sent.edited);
    assert_eq!(
        sent.url_buttons(),
        [(
            "Read more".to_owned(),
            "https://example.com/guide".to_owned()
        )]
    );
    assert_eq!(sent.callback_data(), ["step:2"]);
    assert_eq!(
        sent.buttons[1],
        [Button::Callback {
            text: "Next".into(),
            data: "step:2".into()
        }]
    );
    assert_eq!(fake.sent_messages(ANA), [sent]);
    assert_eq!(fake.calls("sendMessage")[0]["chat_id"], ANA);
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn next_message_waits_for_a_message_sent_later_and_returns_each_once() {
    let Harness { fake, bot, .. } = start().await;

    let (sent, _) = tokio::join!(fake.next_message(ANA, PATIENCE), async {
        bot.send_message(ChatId(ANA), "first").await.unwrap();
        bot.send_message(ChatId(ANA), "second").await.unwrap();
    });

    assert_eq!(sent.unwrap().text, "first");
    assert_eq!(
        fake.next_message(ANA, PATIENCE).await.unwrap().text,
        "second"
    );
    assert_eq!(
        fake.next_message(ANA, Duration::from_millis(50)).await,
        None
    );
    assert_eq!(fake.sent_messages(ANA).len(), 2);
}

#[tokio::test]
async fn message_ids_are_shared_per_chat_and_update_ids_increase() {
    let Harness { fake, bot, .. } = start().await;

    let first = fake.user_sends_text(ANA, ANA, "hi");
    let reply = bot.send_message(ChatId(ANA), "hello").await.unwrap();
    let second = fake.user_sends_text(ANA, ANA, "again");
    let elsewhere = fake.user_sends_text(BEN, BEN, "hi");

    assert_eq!((first, reply.id.0, second), (1, 2, 3));
    assert_eq!(elsewhere, 1);
    let ids: Vec<u32> = bot
        .get_updates()
        .await
        .unwrap()
        .iter()
        .map(|u| u.id.0)
        .collect();
    assert_eq!(ids, [10_000, 10_001, 10_002]);
}

#[tokio::test]
async fn send_document_uploads_the_file_with_its_caption() {
    let Harness { fake, bot, .. } = start().await;

    let message = bot
        .send_document(
            ChatId(ANA),
            InputFile::memory(b"my reflections".to_vec()).file_name("notes.txt"),
        )
        .caption("<i>Your notes</i>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();

    let MessageKind::Common(common) = &message.kind else {
        panic!("expected a common message, got {message:?}");
    };
    let MediaKind::Document(document) = &common.media_kind else {
        panic!("expected a document, got {:?}", common.media_kind);
    };
    assert_eq!(document.document.file_name.as_deref(), Some("notes.txt"));
    assert_eq!(document.caption.as_deref(), Some("Your notes"));

    let sent = fake.next_message(ANA, PATIENCE).await.unwrap();
    let file = sent.document.unwrap();
    assert_eq!(file.filename, "notes.txt");
    assert_eq!(file.bytes, b"my reflections");
    assert_eq!(file.caption.as_deref(), Some("<i>Your notes</i>"));
    assert_eq!(sent.text, "Your notes");
    assert_eq!(sent.parse_mode.as_deref(), Some("HTML"));
    assert_eq!(fake.calls("sendDocument").len(), 1);
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn set_my_commands_is_recorded_and_served_back() {
    let Harness { fake, bot, .. } = start().await;
    let commands = [
        BotCommand::new("start", "Begin a reflection"),
        BotCommand::new("stop", "Pause"),
    ];

    bot.set_my_commands(commands.clone()).await.unwrap();

    let calls = fake.calls("setMyCommands");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["commands"][0]["command"], "start");
    assert_eq!(bot.get_my_commands().await.unwrap(), commands);

    let refused = bot
        .set_my_commands([BotCommand::new("Start!", "Shouting")])
        .await;
    assert_eq!(
        api_error(refused),
        ApiError::Unknown("Bad Request: BOT_COMMAND_INVALID".into())
    );

    bot.delete_my_commands().await.unwrap();
    assert!(bot.get_my_commands().await.unwrap().is_empty());
}

#[tokio::test]
async fn edits_are_recorded_as_new_states_of_the_message() {
    let Harness { fake, bot, clock } = start().await;
    let original = bot
        .send_message(ChatId(ANA), "Pick one")
        .reply_markup(one_button_keyboard(InlineKeyboardButton::callback(
            "A", "a",
        )))
        .await
        .unwrap();
    clock.store(START_TIME + 60, Ordering::SeqCst);

    let edited = bot
        .edit_message_text(ChatId(ANA), original.id, "<b>Picked</b>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();

    assert_eq!(edited.text(), Some("Picked"));
    assert_eq!(edited.date.timestamp(), START_TIME);
    assert_eq!(edited.edit_date().unwrap().timestamp(), START_TIME + 60);
    let before = fake.next_message(ANA, PATIENCE).await.unwrap();
    assert_eq!(before.callback_data(), ["a"]);
    let recorded = fake.next_message(ANA, PATIENCE).await.unwrap();
    assert!(recorded.edited);
    assert_eq!(recorded.message_id, original.id.0);
    assert_eq!(recorded.text, "Picked");
    // Telegram drops the keyboard when an edit does not repeat it.
    assert!(recorded.buttons.is_empty());

    let unchanged = bot
        .edit_message_text(ChatId(ANA), original.id, "<b>Picked</b>")
        .parse_mode(ParseMode::Html)
        .await;
    assert_eq!(api_error(unchanged), ApiError::MessageNotModified);

    bot.edit_message_reply_markup(ChatId(ANA), original.id)
        .reply_markup(one_button_keyboard(InlineKeyboardButton::callback(
            "Undo", "undo",
        )))
        .await
        .unwrap();
    let with_keyboard = fake.next_message(ANA, PATIENCE).await.unwrap();
    assert!(with_keyboard.edited);
    assert_eq!(with_keyboard.text, "Picked");
    assert_eq!(with_keyboard.callback_data(), ["undo"]);

    let missing = bot
        .edit_message_text(ChatId(ANA), MessageId(999), "x")
        .await;
    assert_eq!(api_error(missing), ApiError::MessageToEditNotFound);
    assert_eq!(fake.sent_messages(ANA).len(), 3);
}

#[tokio::test]
async fn delete_message_chat_action_and_callback_answers() {
    let Harness { fake, bot, .. } = start().await;
    let sent = bot
        .send_message(ChatId(ANA), "Choose")
        .reply_markup(one_button_keyboard(InlineKeyboardButton::callback(
            "Yes", "yes",
        )))
        .await
        .unwrap();

    bot.send_chat_action(ChatId(ANA), ChatAction::Typing)
        .await
        .unwrap();

    let query = fake.user_presses_button(ANA, ANA, sent.id.0, "yes");
    bot.answer_callback_query(query.clone().into())
        .await
        .unwrap();
    assert_eq!(fake.answered_callbacks(), vec![query.clone()]);
    let twice = bot.answer_callback_query(query.into()).await;
    assert_eq!(api_error(twice), ApiError::InvalidQueryId);

    bot.delete_message(ChatId(ANA), sent.id).await.unwrap();
    let again = bot.delete_message(ChatId(ANA), sent.id).await;
    assert_eq!(api_error(again), ApiError::MessageToDeleteNotFound);
}

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn html_that_does_not_parse_is_refused_with_the_parse_error() {
    let Harness { fake, bot, .. } = start().await;

    for text in ["a <b", "1 < 2"] {
        let refused = bot
            .send_message(ChatId(ANA), text)
            .parse_mode(ParseMode::Html)
            .await;
        let ApiError::CantParseEntities(description) = api_error(refused) else {
            panic!("{text:?} should fail to parse");
        };
        assert!(
            description.starts_with("Bad Request: can't parse entities: "),
            "{description}"
        );
    }

    // Without a parse mode the same text is plain and fine.
    bot.send_message(ChatId(ANA), "1 < 2").await.unwrap();
    let rejections = fake.rejections();
    assert_eq!(rejections.len(), 2);
    assert_eq!(rejections[0].method, "sendMessage");
    assert_eq!(rejections[0].status, 400);
    assert!(rejections[0].body.contains("a <b"));
    assert!(rejections[1].body.contains("1 < 2"));
    assert_eq!(fake.sent_messages(ANA).len(), 1);
}

#[tokio::test]
async fn text_length_is_counted_in_utf16_units_after_entity_parsing() {
    let Harness { fake, bot, .. } = start().await;
    let send = |text: String| {
        bot.send_message(ChatId(ANA), text)
            .parse_mode(ParseMode::Html)
    };

    send(format!("<b>{}</b>", "a".repeat(4096))).await.unwrap();
    send("🙂".repeat(2048)).await.unwrap();
    assert_eq!(
        api_error(send("a".repeat(4097)).await),
        ApiError::MessageIsTooLong
    );
    assert_eq!(
        api_error(send("🙂".repeat(2048) + "a").await),
        ApiError::MessageIsTooLong
    );
    assert_eq!(
        api_error(send("<b> </b>".to_owned()).await),
        ApiError::MessageTextIsEmpty
    );
    assert_eq!(fake.rejections().len(), 3);
}

#[tokio::test]
async fn callback_data_must_be_1_to_64_bytes() {
    let Harness { fake, bot, .. } = start().await;
    let send = |data: String| {
        bot.send_message(ChatId(ANA), "Choose")
            .reply_markup(one_button_keyboard(InlineKeyboardButton::callback(
                "Go", data,
            )))
    };

    send("x".repeat(64)).await.unwrap();
    assert_eq!(
        api_error(send("x".repeat(65)).await),
        ApiError::ButtonDataInvalid
    );
    // 33 characters, 66 bytes.
    assert_eq!(
        api_error(send("é".repeat(33)).await),
        ApiError::ButtonDataInvalid
    );
    assert_eq!(
        api_error(send(String::new()).await),
        ApiError::ButtonDataInvalid
    );
    let rejections = fake.rejections();
    assert_eq!(rejections.len(), 3);
    assert!(rejections[0].body.contains(&"x".repeat(65)));
}

#[tokio::test]
async fn button_urls_must_be_http_https_or_tg() {
    let Harness { fake, bot, .. } = start().await;
    let send = |link: &str| {
        bot.send_message(ChatId(ANA), "Look")
            .reply_markup(one_button_keyboard(InlineKeyboardButton::url(
                "Open",
                url(link),
            )))
    };

    send("tg://resolve?domain=crossroads_test_bot")
        .await
        .unwrap();
    send("http://example.com/").await.unwrap();
    for link in ["ftp://example.com/file", "javascript:alert(1)"] {
        assert_eq!(api_error(send(link).await), ApiError::ButtonUrlInvalid);
    }
    assert_eq!(fake.rejections().len(), 2);
}

#[tokio::test]
async fn a_chat_the_server_does_not_know_is_not_found() {
    let Harness { fake, bot, .. } = start().await;

    let refused = bot.send_message(ChatId(777), "anyone?").await;

    assert_eq!(api_error(refused), ApiError::ChatNotFound);
    assert_eq!(
        fake.rejections()[0].description,
        "Bad Request: chat not found"
    );
}

#[tokio::test]
async fn a_user_who_blocked_the_bot_cannot_be_messaged_until_they_unblock_it() {
    let Harness { fake, bot, .. } = start().await;

    fake.user_blocks_bot(ANA);
    let refused = bot.send_message(ChatId(ANA), "still there?").await;
    assert_eq!(api_error(refused), ApiError::BotBlocked);
    let rejection = &fake.rejections()[0];
    assert_eq!(rejection.status, 403);
    assert_eq!(
        rejection.description,
        "Forbidden: bot was blocked by the user"
    );

    fake.user_unblocks_bot(ANA);
    bot.send_message(ChatId(ANA), "welcome back").await.unwrap();

    let statuses: Vec<(bool, bool)> = bot
        .get_updates()
        .await
        .unwrap()
        .into_iter()
        .map(|update| match update.kind {
            UpdateKind::MyChatMember(change) => (
                change.old_chat_member.is_banned(),
                change.new_chat_member.is_banned(),
            ),
            other => panic!("expected my_chat_member, got {other:?}"),
        })
        .collect();
    assert_eq!(statuses, [(false, true), (true, false)]);
}

#[tokio::test]
async fn after_leaving_a_group_the_bot_cannot_write_there() {
    let Harness { fake, bot, .. } = start().await;
    bot.send_message(ChatId(GROUP), "hello group")
        .await
        .unwrap();

    bot.leave_chat(ChatId(GROUP)).await.unwrap();

    assert_eq!(fake.left_chats(), [GROUP]);
    let refused = bot.send_message(ChatId(GROUP), "one more thing").await;
    assert_eq!(
        api_error(refused),
        ApiError::Unknown("Forbidden: bot is not a member of the group chat".into())
    );
    let updates = bot.get_updates().await.unwrap();
    let UpdateKind::MyChatMember(change) = &updates[0].kind else {
        panic!("expected my_chat_member, got {:?}", updates[0].kind);
    };
    assert!(change.new_chat_member.is_left());
    assert_eq!(change.chat.id, ChatId(GROUP));
}

#[tokio::test]
async fn a_caption_over_1024_units_is_refused() {
    let Harness { fake, bot, .. } = start().await;

    let refused = bot
        .send_document(
            ChatId(ANA),
            InputFile::memory(b"x".to_vec()).file_name("x.txt"),
        )
        .caption("c".repeat(1025))
        .await;

    assert_eq!(
        api_error(refused),
        ApiError::Unknown("Bad Request: message caption is too long".into())
    );
    assert!(fake.rejections()[0].body.contains("x.txt"));
}

#[tokio::test]
async fn bad_parse_modes_and_missing_parameters_are_refused() {
    let Harness { fake, .. } = start().await;
    let path = |method: &str| format!("/bot{}/{method}", fake.token());

    let (status, body) = raw_request(
        &fake,
        &path("sendMessage"),
        r#"{"chat_id":1001,"text":"hi","parse_mode":"BBCode"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["description"], "Bad Request: unsupported parse_mode");

    let (status, body) = raw_request(&fake, &path("sendMessage"), r#"{"chat_id":1001}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["description"], "Bad Request: message text is empty");

    let (status, body) = raw_request(&fake, &path("answerCallbackQuery"), "{}").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({
            "ok": false,
            "error_code": 400,
            "description": "Bad Request: callback_query_id is required",
        })
    );

    let (status, body) = raw_request(
        &fake,
        &path("sendMessage"),
        &json!({
            "chat_id": ANA,
            "text": "hi",
            "reply_markup": { "inline_keyboard": [[
                { "text": "Both", "url": "https://example.com", "callback_data": "x" }
            ]] },
        })
        .to_string(),
    )
    .await;
    assert_eq!(status, 400);
    let description = body["description"].as_str().unwrap();
    assert!(
        description.starts_with("Bad Request: can't parse inline keyboard button: "),
        "{description}"
    );

    assert_eq!(fake.rejections().len(), 4);
    assert!(fake.sent_messages(ANA).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Telegram's HTML rules
// ---------------------------------------------------------------------------------------------

#[test]
fn every_kind_of_markup_the_bot_api_documents_is_accepted() {
    let accepted = [
        ("<b>bold</b> <strong>bold</strong>", "bold bold"),
        ("<i>italic</i> <em>italic</em>", "italic italic"),
        (
            "<u>underline</u> <ins>underline</ins>",
            "underline underline",
        ),
        ("<s>s</s> <strike>s</strike> <del>s</del>", "s s s"),
        (
            "<span class=\"tg-spoiler\">spoiler</span> <tg-spoiler>spoiler</tg-spoiler>",
            "spoiler spoiler",
        ),
        (
            "<b>bold <i>italic bold <s>italic bold strikethrough <span class=\"tg-spoiler\">\
             italic bold strikethrough spoiler</span></s> <u>underline italic bold</u></i> bold</b>",
            "bold italic bold italic bold strikethrough italic bold strikethrough spoiler \
             underline italic bold bold",
        ),
        (
            "<a href=\"http://www.example.com/\">inline URL</a>",
            "inline URL",
        ),
        (
            "<a href=\"tg://user?id=123456789\">inline mention</a>",
            "inline mention",
        ),
        (
            "<a href='https://example.com/?a=1&amp;b=2'><b>bold</b> link</a>",
            "bold link",
        ),
        (
            "<tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji>",
            "👍",
        ),
        (
            "<code>inline fixed-width code</code>",
            "inline fixed-width code",
        ),
        ("<pre>pre-formatted block</pre>", "pre-formatted block"),
        (
            "<pre><code class=\"language-python\">print(1 &lt; 2)</code></pre>",
            "print(1 < 2)",
        ),
        ("<pre><code>no language</code></pre>", "no language"),
        (
            "<blockquote>Block\nquotation</blockquote>",
            "Block\nquotation",
        ),
        (
            "<blockquote expandable>Hidden\nat first</blockquote>",
            "Hidden\nat first",
        ),
        (
            "<blockquote><b>q</b> <a href=\"https://example.com\">l</a> <code>c</code></blockquote>",
            "q l c",
        ),
        (
            "<B>tag names</B> <I >ignore case</i>",
            "tag names ignore case",
        ),
        ("plain 🙂 text, no markup", "plain 🙂 text, no markup"),
        ("<b></b>", ""),
    ];
    for (html, visible) in accepted {
        assert_eq!(
            telegram_html::visible_text(html).as_deref(),
            Ok(visible),
            "{html}"
        );
    }
}

#[test]
fn the_four_named_entities_and_every_numeric_one_are_decoded() {
    assert_eq!(
        telegram_html::visible_text("&lt;&gt;&amp;&quot; &#65;&#x42;&#X43; &#x1F642;&#128578;")
            .unwrap(),
        "<>&\" ABC 🙂🙂"
    );
    assert_eq!(
        telegram_html::visible_text("<b>&lt;b&gt;</b> is bold").unwrap(),
        "<b> is bold"
    );
}

#[test]
fn markup_telegram_would_not_take_as_meant_is_refused_with_its_reason() {
    let refused = [
        // Tags Telegram does not know.
        (
            "<div>x</div>",
            "Unsupported start tag \"div\" at byte offset 0",
        ),
        ("a<br/>b", "Unsupported start tag \"br/\" at byte offset 1"),
        (
            "a<!-- note -->",
            "Unsupported start tag \"!--\" at byte offset 1",
        ),
        // Nesting and closing.
        (
            "<b><i>x</b></i>",
            "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\"",
        ),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        (
            "<b>x",
            "Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            "<b><i>x</i>",
            "Can't find end tag corresponding to start tag \"b\"",
        ),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<b>x</b y>", "Unclosed end tag at byte offset 4"),
        ("a <b", "Unclosed start tag at byte offset 2"),
        // Attributes.
        (
            "<b onclick=\"x\">y</b>",
            "Unsupported attribute \"onclick\" in the tag \"b\" at byte offset 0",
        ),
        (
            "<a href=\"https://example.com\" title=\"t\">l</a>",
            "Unsupported attribute \"title\" in the tag \"a\" at byte offset 0",
        ),
        (
            "<blockquote collapsed>q</blockquote>",
            "Unsupported attribute \"collapsed\" in the tag \"blockquote\" at byte offset 0",
        ),
        (
            "<a href=\"https://a.example\" href=\"https://b.example\">l</a>",
            "Duplicate attribute in the tag \"a\" at byte offset 0",
        ),
        (
            "<a>x</a>",
            "Tag \"a\" must have attribute \"href\" at byte offset 0",
        ),
        (
            "<span class=\"bold\">x</span>",
            "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0",
        ),
        (
            "<tg-emoji emoji-id=\"thumbs\">👍</tg-emoji>",
            "Invalid custom emoji identifier specified",
        ),
        (
            "<a href=https://example.com>l</a>",
            "Unexpected end of name token at byte offset 0",
        ),
        // Language only for a code block.
        (
            "<code class=\"language-rust\">x</code>",
            "Programming language can't be specified for standalone code tags at byte offset 0",
        ),
        (
            "<pre>x<code class=\"language-rust\">y</code></pre>",
            "Tag \"code\" must be the only content of the tag \"pre\" at byte offset 6",
        ),
        (
            "<pre><code class=\"language-rust\">y</code>\n</pre>",
            "Tag \"code\" must be the only content of the tag \"pre\" at byte offset 41",
        ),
        (
            "<pre><code>a</code><code>b</code></pre>",
            "Tag \"code\" must be the only content of the tag \"pre\" at byte offset 19",
        ),
        // The documentation's rules for nested entities.
        (
            "<code><b>x</b></code>",
            "Tag \"b\" can't be inside the tag \"code\" at byte offset 6",
        ),
        (
            "<b><pre>x</pre></b>",
            "Tag \"pre\" can't be inside the tag \"b\" at byte offset 3",
        ),
        (
            "<blockquote><i><blockquote>x</blockquote></i></blockquote>",
            "Tag \"blockquote\" can't be inside the tag \"blockquote\" at byte offset 15",
        ),
        (
            "<a href=\"https://a.example\"><a href=\"https://b.example\">x</a></a>",
            "Tag \"a\" can't be inside the tag \"a\" at byte offset 28",
        ),
        // '&', '<' and '>' that are neither tags nor entities.
        (
            "fish & chips",
            "Character '&' at byte offset 5 is reserved and must be replaced with &amp;",
        ),
        (
            "Tom & Jerry; friends",
            "Character '&' at byte offset 4 is reserved and must be replaced with &amp;",
        ),
        (
            "&lt no semicolon",
            "Character '&' at byte offset 0 is reserved and must be replaced with &amp;",
        ),
        (
            "<a href=\"https://example.com/?a=1&b=2\">l</a>",
            "Character '&' at byte offset 0 is reserved and must be replaced with &amp;",
        ),
        ("1 < 2", "Unsupported start tag \"\" at byte offset 2"),
        (
            "3 > 2",
            "Character '>' at byte offset 2 is reserved and must be replaced with &gt;",
        ),
        // Entities.
        (
            "a&nbsp;b",
            "Unsupported named entity \"&nbsp;\" at byte offset 1",
        ),
        (
            "&copy;",
            "Unsupported named entity \"&copy;\" at byte offset 0",
        ),
        (
            "&#xZZ;",
            "Invalid numeric entity \"&#xZZ;\" at byte offset 0",
        ),
        ("&#0;", "Invalid numeric entity \"&#0;\" at byte offset 0"),
        (
            "&#x110000;",
            "Invalid numeric entity \"&#x110000;\" at byte offset 0",
        ),
        (
            "&#xD83D;",
            "Text contains invalid Unicode characters after decoding HTML entities, check for \
             unmatched surrogate code units",
        ),
    ];
    for (html, detail) in refused {
        let error = telegram_html::visible_text(html).expect_err(html);
        assert_eq!(error.detail(), detail, "{html}");
        assert_eq!(
            error.description(),
            format!("Bad Request: can't parse entities: {detail}")
        );
    }
}

#[test]
fn length_is_counted_in_utf16_units_of_the_decoded_text() {
    assert_eq!(telegram_html::utf16_len("abc"), 3);
    assert_eq!(telegram_html::utf16_len("é"), 1);
    assert_eq!(telegram_html::utf16_len("🙂"), 2);

    // 2048 emoji written as entities, and one more unit: far longer as HTML than as text.
    let html = "&#x1F642;".repeat(2048) + "&amp;";
    let visible = telegram_html::visible_text(&html).unwrap();
    assert_eq!(visible.chars().count(), 2049);
    assert_eq!(telegram_html::utf16_len(&visible), 4097);
}

#[tokio::test]
async fn a_message_of_4097_utf16_units_once_decoded_is_too_long() {
    let Harness { fake, bot, .. } = start().await;
    let send = |text: String| {
        bot.send_message(ChatId(ANA), text)
            .parse_mode(ParseMode::Html)
    };

    send("<b>&#x1F642;</b>".repeat(2048)).await.unwrap();
    assert_eq!(
        api_error(send("<b>&#x1F642;</b>".repeat(2048) + "&amp;").await),
        ApiError::MessageIsTooLong
    );
    assert_eq!(fake.sent_messages(ANA)[0].text, "🙂".repeat(2048));
}

#[tokio::test]
async fn spoilers_are_parsed_and_count_only_their_text_against_the_limit() {
    let Harness { fake, bot, .. } = start().await;
    let send = |text: String| {
        bot.send_message(ChatId(ANA), text)
            .parse_mode(ParseMode::Html)
            .protect_content(true)
    };
    // 4096 units: a first line, then the rest hidden in the two spellings of a spoiler.
    let hidden = "x".repeat(2000);
    let html = format!(
        "Hello\n<tg-spoiler>{hidden}</tg-spoiler><span class=\"tg-spoiler\"><b>{hidden}</b>{}</span>",
        "y".repeat(4096 - 6 - 4000)
    );
    send(html.clone()).await.unwrap();
    let sent = &fake.sent_messages(ANA)[0];
    assert_eq!(telegram_html::utf16_len(&sent.text), 4096);
    assert_eq!(sent.spoilers.len(), 2);
    assert_eq!(sent.spoilers[0], hidden);
    assert!(sent.protect_content);
    assert_eq!(sent.first_line(), "Hello");
    assert!(!sent.preview().contains('x'), "a preview shows no spoiler");
    assert_eq!(
        api_error(send(html.replace("Hello", "Hello!")).await),
        ApiError::MessageIsTooLong
    );
    // Code cannot go inside a spoiler.
    assert!(matches!(
        api_error(send("<tg-spoiler><code>x</code></tg-spoiler>".into()).await),
        ApiError::CantParseEntities(_)
    ));
}

#[tokio::test]
async fn a_message_can_be_deleted_for_48_hours_and_only_once() {
    let Harness { fake, bot, clock } = start().await;
    let fresh = bot.send_message(ChatId(ANA), "fresh").await.unwrap();
    let old = bot.send_message(ChatId(ANA), "old").await.unwrap();
    let theirs = fake.user_sends_text(ANA, ANA, "my words");
    bot.delete_message(ChatId(ANA), fresh.id).await.unwrap();
    bot.delete_message(ChatId(ANA), teloxide::types::MessageId(theirs))
        .await
        .unwrap();
    assert_eq!(fake.deleted_messages(ANA), [fresh.id.0, theirs]);
    assert!(!fake.still_in_chat(ANA, theirs));
    let again = bot.delete_message(ChatId(ANA), fresh.id).await;
    assert_eq!(api_error(again), ApiError::MessageToDeleteNotFound);
    clock.store(START_TIME + 48 * 3600, Ordering::SeqCst);
    let late = bot.delete_message(ChatId(ANA), old.id).await;
    assert_eq!(api_error(late), ApiError::MessageCantBeDeleted);
    assert!(fake.still_in_chat(ANA, old.id.0));
}

#[tokio::test]
async fn the_fake_refuses_html_with_telegrams_description() {
    let Harness { fake, bot, .. } = start().await;

    let refused = bot
        .send_message(ChatId(ANA), "a&nbsp;b")
        .parse_mode(ParseMode::Html)
        .await;

    assert_eq!(
        api_error(refused),
        ApiError::CantParseEntities(
            "Bad Request: can't parse entities: Unsupported named entity \"&nbsp;\" at byte \
             offset 1"
                .into()
        )
    );
    let refused = bot
        .send_document(
            ChatId(ANA),
            InputFile::memory(b"x".to_vec()).file_name("x.txt"),
        )
        .caption("<i>x</b>")
        .parse_mode(ParseMode::Html)
        .await;
    assert!(matches!(
        api_error(refused),
        ApiError::CantParseEntities(description) if description.contains("Unmatched end tag")
    ));
    assert_eq!(fake.rejections().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Updates teloxide must understand
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_kind_of_user_update_deserializes_in_teloxide() {
    let Harness { fake, bot, clock } = start().await;
    let prompt = bot
        .send_message(ChatId(ANA), "Ready?")
        .reply_markup(one_button_keyboard(InlineKeyboardButton::callback(
            "Yes",
            "ready:yes",
        )))
        .await
        .unwrap();

    let command = fake.user_sends_text(ANA, ANA, "/start@crossroads_test_bot now");
    clock.store(START_TIME + 30, Ordering::SeqCst);
    fake.user_edits_text(ANA, ANA, command, "/start later");
    fake.user_sends_sticker(ANA, ANA);
    fake.user_sends_photo(ANA, ANA);
    fake.user_sends_voice(GROUP, BEN);
    let query = fake.user_presses_button(ANA, ANA, prompt.id.0, "ready:yes");
    fake.user_blocks_bot(BEN);

    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 7);
    let mut kinds = updates.into_iter().map(|update| update.kind);

    let Some(UpdateKind::Message(text)) = kinds.next() else {
        panic!("expected a text message");
    };
    assert_eq!(text.text(), Some("/start@crossroads_test_bot now"));
    let entities = text.entities().unwrap();
    assert_eq!(entities[0].kind, MessageEntityKind::BotCommand);
    assert_eq!((entities[0].offset, entities[0].length), (0, 26));
    assert_eq!(text.from.as_ref().unwrap().first_name, "Ana");

    let Some(UpdateKind::EditedMessage(edited)) = kinds.next() else {
        panic!("expected an edited message");
    };
    assert_eq!(edited.id.0, command);
    assert_eq!(edited.text(), Some("/start later"));
    assert_eq!(edited.entities().unwrap()[0].length, 6);
    assert_eq!(edited.date.timestamp(), START_TIME);
    assert_eq!(edited.edit_date().unwrap().timestamp(), START_TIME + 30);

    let Some(UpdateKind::Message(sticker)) = kinds.next() else {
        panic!("expected a sticker message");
    };
    assert!(sticker.sticker().is_some());

    let Some(UpdateKind::Message(photo)) = kinds.next() else {
        panic!("expected a photo message");
    };
    assert_eq!(photo.photo().unwrap().len(), 2);

    let Some(UpdateKind::Message(voice)) = kinds.next() else {
        panic!("expected a voice message");
    };
    assert!(voice.voice().is_some());
    assert_eq!(voice.chat.id, ChatId(GROUP));
    assert_eq!(voice.chat.title(), Some("Crossroads circle"));
    assert_eq!(voice.from.as_ref().unwrap().id, UserId(BEN as u64));

    let Some(UpdateKind::CallbackQuery(callback)) = kinds.next() else {
        panic!("expected a callback query");
    };
    assert_eq!(callback.id.0, query);
    assert_eq!(callback.data.as_deref(), Some("ready:yes"));
    assert_eq!(callback.from.id, UserId(ANA as u64));
    let pressed = callback.regular_message().unwrap();
    assert_eq!(pressed.id, prompt.id);
    assert_eq!(pressed.text(), Some("Ready?"));

    let Some(UpdateKind::MyChatMember(blocked)) = kinds.next() else {
        panic!("expected my_chat_member");
    };
    assert_eq!(blocked.chat.id, ChatId(BEN));
    assert_eq!(blocked.from.id, UserId(BEN as u64));
    assert!(matches!(
        blocked.new_chat_member.kind,
        ChatMemberKind::Banned(_)
    ));
    assert!(blocked.new_chat_member.user.is_bot);

    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn shutdown_releases_a_waiting_long_poll() {
    let Harness { fake, bot, .. } = start().await;
    let poll = tokio::spawn(async move { bot.get_updates().timeout(8).await });
    assert!(fake.wait_until_polling(PATIENCE).await);

    fake.shutdown();

    let updates = tokio::time::timeout(PATIENCE, poll)
        .await
        .expect("shutdown should answer the waiting poll at once")
        .unwrap()
        .unwrap();
    assert!(updates.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Malformed updates
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_reply_chain_150_deep_is_served_raw_beyond_serde_jsons_recursion_limit() {
    let Harness { fake, bot, .. } = start().await;

    let update_id = fake.user_sends_deeply_nested_reply(ANA, ANA, 150);

    let Err(RequestError::InvalidJson { source, .. }) = bot.get_updates().await else {
        panic!("a reply chain 150 deep should not parse");
    };
    assert!(
        source.to_string().contains("recursion limit exceeded"),
        "{source}"
    );
    let (status, _, body) = post_method(&fake, "getUpdates", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body.matches("\"reply_to_message\"").count(), 150);
    assert!(body.contains(&format!("\"update_id\":{update_id}")));
    assert!(serde_json::from_str::<Value>(&body).is_err());

    // Confirming it works like any other update.
    bot.get_updates()
        .offset(update_id as i32 + 1)
        .await
        .unwrap();
    assert_eq!(fake.pending_update_count(), 0);
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn a_shallow_reply_chain_reads_as_nested_messages() {
    let Harness { fake, bot, .. } = start().await;

    fake.user_sends_deeply_nested_reply(ANA, ANA, 2);

    let updates = bot.get_updates().await.unwrap();
    let UpdateKind::Message(message) = &updates[0].kind else {
        panic!("expected a message, got {:?}", updates[0].kind);
    };
    assert_eq!(message.text(), Some("and so it went on"));
    let replied = message.reply_to_message().unwrap();
    assert_eq!(replied.text(), Some("reply 2"));
    let first = replied.reply_to_message().unwrap();
    assert_eq!(first.text(), Some("reply 1"));
    assert!(first.reply_to_message().is_none());
    assert_eq!(first.chat.id, ChatId(ANA));
}

// ---------------------------------------------------------------------------------------------
// Injected faults
// ---------------------------------------------------------------------------------------------

/// A plain HTTP client: for answers teloxide would not show as they came.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Posts `body` as JSON to `method`; returns the status, the content type and the body.
async fn post_method(fake: &FakeTelegram, method: &str, body: Value) -> (u16, String, String) {
    let address = format!("{}bot{}/{method}", fake.api_url(), fake.token());
    let response = http_client()
        .post(address)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

/// Waits until `condition` holds; false if it does not within `PATIENCE`.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

fn text_to_ana(text: &str) -> Value {
    json!({ "chat_id": ANA, "text": text })
}

#[tokio::test]
async fn bad_gateway_answers_with_nginxs_page_and_has_no_effect() {
    let Harness { fake, .. } = start().await;
    fake.fail_next("sendMessage", Fault::BadGateway, 2);

    for attempt in ["first", "second"] {
        let (status, content_type, body) =
            post_method(&fake, "sendMessage", text_to_ana(attempt)).await;
        assert_eq!(status, 502);
        assert_eq!(content_type, "text/html");
        assert!(body.starts_with("<html>"), "{body}");
        assert!(body.contains("<title>502 Bad Gateway</title>"), "{body}");
    }
    let (status, _, _) = post_method(&fake, "sendMessage", text_to_ana("third")).await;
    assert_eq!(status, 200);

    let texts: Vec<String> = fake
        .sent_messages(ANA)
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["third"]);
    assert_eq!(fake.calls("sendMessage").len(), 1);
    let served = fake.faults_served();
    assert_eq!(served.len(), 2);
    assert!(served.iter().all(|f| f.fault == Fault::BadGateway));
    assert_eq!(served[0].method, "sendMessage");
    assert_eq!(served[0].body["text"], "first");
    // The server failed, not the bot.
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn internal_error_answers_with_a_bot_api_error_and_has_no_effect() {
    let Harness { fake, .. } = start().await;
    fake.fail_next("sendMessage", Fault::InternalError, 1);

    let (status, content_type, body) = post_method(&fake, "sendMessage", text_to_ana("x")).await;

    assert_eq!(status, 500);
    assert_eq!(content_type, "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "ok": false, "error_code": 500, "description": "Internal Server Error" })
    );
    assert!(fake.sent_messages(ANA).is_empty());
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn an_injected_429_carries_retry_after_and_is_no_flood_refusal() {
    let Harness { fake, bot, .. } = start().await;
    // Any case names the method, as in Telegram; teloxide sends "SendMessage".
    fake.fail_next("SENDMESSAGE", Fault::TooManyRequests { retry_after: 7 }, 2);

    let refused = bot.send_message(ChatId(ANA), "now?").await;
    assert!(
        matches!(refused, Err(RequestError::RetryAfter(after)) if after == Seconds::from_seconds(7)),
        "{refused:?}"
    );
    let (status, _, body) = post_method(&fake, "sendMessage", text_to_ana("now?")).await;
    assert_eq!(status, 429);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({
            "ok": false,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": { "retry_after": 7 },
        })
    );

    assert!(fake.sent_messages(ANA).is_empty());
    assert_eq!(fake.flood_refusals(), 0);
    assert_eq!(fake.faults_served().len(), 2);
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn a_hung_request_is_never_answered_has_no_effect_and_blocks_nothing_else() {
    let Harness { fake, bot, .. } = start().await;
    fake.fail_next("sendMessage", Fault::Hang, 1);

    let (hung, ()) = tokio::join!(
        tokio::time::timeout(
            Duration::from_millis(500),
            bot.send_message(ChatId(ANA), "hello?")
        ),
        async {
            assert!(eventually(|| fake.hanging_requests() == 1).await);
            // The server answers other requests meanwhile: nothing waits on the hung one.
            bot.get_me().await.unwrap();
            bot.send_message(ChatId(BEN), "hi Ben").await.unwrap();
        }
    );
    assert!(hung.is_err(), "the request should hang, got {hung:?}");

    // Giving up closes the connection, which lets the request go.
    assert!(eventually(|| fake.hanging_requests() == 0).await);
    assert!(fake.sent_messages(ANA).is_empty());
    assert_eq!(fake.calls("sendMessage").len(), 1);
    assert_eq!(fake.faults_served()[0].fault, Fault::Hang);
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn accept_then_hang_sends_the_message_but_never_answers() {
    let Harness { fake, bot, .. } = start().await;
    fake.fail_next("sendMessage", Fault::AcceptThenHang, 1);

    let (hung, seen) = tokio::join!(
        tokio::time::timeout(
            Duration::from_millis(500),
            bot.send_message(ChatId(ANA), "did it arrive?")
        ),
        fake.next_message(ANA, PATIENCE)
    );

    assert!(hung.is_err(), "the answer should never come, got {hung:?}");
    assert_eq!(seen.unwrap().text, "did it arrive?");
    assert_eq!(fake.calls("sendMessage").len(), 1);
    assert_eq!(fake.faults_served()[0].fault, Fault::AcceptThenHang);
    assert!(eventually(|| fake.hanging_requests() == 0).await);
    // The next send is answered again, and numbered after the one that took effect.
    let next = bot.send_message(ChatId(ANA), "again").await.unwrap();
    assert_eq!(next.id, MessageId(2));
}

/// Which of `calls` getMe calls failed, with faults drawn from `seed`.
async fn random_failures(probability: f64, seed: u64, calls: usize) -> Vec<bool> {
    let Harness { fake, .. } = start().await;
    fake.fail_randomly("getMe", Fault::InternalError, probability, seed);
    let mut failed = Vec::with_capacity(calls);
    for _ in 0..calls {
        let (status, _, _) = post_method(&fake, "getMe", json!({})).await;
        failed.push(status == 500);
    }
    assert_eq!(
        fake.faults_served().len(),
        failed.iter().filter(|f| **f).count()
    );
    failed
}

#[tokio::test]
async fn random_faults_follow_their_probability_and_repeat_with_their_seed() {
    let first = random_failures(0.25, 42, 200).await;
    let again = random_failures(0.25, 42, 200).await;
    let other_seed = random_failures(0.25, 43, 200).await;

    assert_eq!(first, again);
    assert_ne!(first, other_seed);
    let failures = first.iter().filter(|f| **f).count();
    assert!((25..=75).contains(&failures), "{failures} of 200");
    assert!(!random_failures(0.0, 1, 50).await.contains(&true));
    assert!(!random_failures(1.0, 1, 50).await.contains(&false));
}

#[tokio::test]
async fn scheduled_faults_come_before_random_ones_and_clearing_stops_both() {
    let Harness { fake, .. } = start().await;
    fake.fail_randomly("getMe", Fault::InternalError, 1.0, 7);
    fake.fail_next("getMe", Fault::BadGateway, 1);

    let statuses = async || {
        let mut statuses = Vec::new();
        for _ in 0..2 {
            statuses.push(post_method(&fake, "getMe", json!({})).await.0);
        }
        statuses
    };
    assert_eq!(statuses().await, [502, 500]);
    fake.clear_faults();
    assert_eq!(statuses().await, [200, 200]);
    assert_eq!(fake.faults_served().len(), 2);
}

#[tokio::test]
async fn a_fault_on_get_updates_leaves_the_updates_for_the_next_poll() {
    let Harness { fake, bot, .. } = start().await;
    fake.user_sends_text(ANA, ANA, "hello");
    fake.fail_next("getUpdates", Fault::TooManyRequests { retry_after: 1 }, 1);

    assert!(matches!(
        bot.get_updates().await,
        Err(RequestError::RetryAfter(_))
    ));
    assert_eq!(bot.get_updates().await.unwrap().len(), 1);
}

#[tokio::test]
#[should_panic(expected = "there is no method \"sendTelegram\"")]
async fn naming_a_method_the_fake_lacks_is_a_bug_in_the_test() {
    let Harness { fake, .. } = start().await;
    fake.fail_next("sendTelegram", Fault::Hang, 1);
}

// ---------------------------------------------------------------------------------------------
// Flood limits
// ---------------------------------------------------------------------------------------------

fn retry_after(result: Result<impl std::fmt::Debug, RequestError>) -> u32 {
    match result {
        Err(RequestError::RetryAfter(after)) => after.seconds(),
        other => panic!("expected a flood refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_private_chat_takes_a_burst_of_three_then_one_a_second() {
    let Harness { fake, bot, clock } = start().await;
    for text in ["one", "two", "three"] {
        bot.send_message(ChatId(ANA), text).await.unwrap();
    }

    assert_eq!(retry_after(bot.send_message(ChatId(ANA), "four").await), 1);
    // Another chat has its own limit.
    bot.send_message(ChatId(BEN), "hi Ben").await.unwrap();
    // The limit is in real time: the test's clock does not refill it.
    clock.fetch_add(3600, Ordering::SeqCst);
    assert_eq!(retry_after(bot.send_message(ChatId(ANA), "four").await), 1);

    let refused = fake.flood_refused_sends();
    assert_eq!(fake.flood_refusals(), 2);
    assert_eq!(refused[0].method, "sendMessage");
    assert_eq!(refused[0].chat_id, ANA);
    assert_eq!(refused[0].limit, FloodLimit::Chat);
    assert_eq!(refused[0].retry_after, 1);
    assert!(refused[1].at > refused[0].at);
    assert!(fake.rejections().is_empty());

    tokio::time::sleep(Duration::from_millis(1100)).await;
    bot.send_message(ChatId(ANA), "four").await.unwrap();
    assert_eq!(fake.sent_messages(ANA).len(), 4);
}

#[tokio::test]
async fn a_send_before_retry_after_has_passed_is_refused_again() {
    let Harness { fake, bot, .. } = start().await;
    for text in ["one", "two", "three"] {
        bot.send_message(ChatId(ANA), text).await.unwrap();
    }
    assert_eq!(retry_after(bot.send_message(ChatId(ANA), "four").await), 1);

    // A token is back after about a second, but Telegram said one second after the refusal.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = bot.send_message(ChatId(ANA), "four").await;

    assert_eq!(retry_after(again), 1);
    assert_eq!(fake.flood_refusals(), 2);
}

#[tokio::test]
async fn a_group_takes_twenty_messages_a_minute() {
    let Harness { fake, bot, .. } = start().await;
    for number in 1..=20 {
        bot.send_message(ChatId(GROUP), format!("message {number}"))
            .await
            .unwrap();
    }

    // One message every three seconds after the burst.
    assert_eq!(retry_after(bot.send_message(ChatId(GROUP), "21").await), 3);
    assert_eq!(fake.flood_refused_sends()[0].limit, FloodLimit::Chat);
    assert_eq!(fake.sent_messages(GROUP).len(), 20);
}

#[tokio::test]
async fn over_the_overall_limit_every_chat_waits_out_retry_after() {
    let Harness { fake, bot, .. } = start().await;
    fake.set_overall_limit(4);
    let chats: Vec<i64> = (2001..=2005).collect();
    for chat in &chats {
        fake.add_private_chat(*chat, "Someone");
    }
    for chat in &chats[..4] {
        bot.send_message(ChatId(*chat), "news").await.unwrap();
    }

    assert_eq!(
        retry_after(bot.send_message(ChatId(chats[4]), "news").await),
        1
    );
    // Until then no chat gets anything, not even one never written to.
    assert_eq!(retry_after(bot.send_message(ChatId(ANA), "news").await), 1);
    let limits: Vec<FloodLimit> = fake.flood_refused_sends().iter().map(|r| r.limit).collect();
    assert_eq!(limits, [FloodLimit::Overall, FloodLimit::Overall]);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    bot.send_message(ChatId(chats[4]), "news").await.unwrap();
}

#[tokio::test]
async fn the_default_overall_limit_is_thirty_sends_a_second() {
    let Harness { fake, bot, .. } = start().await;
    // Three to each chat, within each chat's own burst.
    let chats: Vec<i64> = (3001..=3015).collect();
    for chat in &chats {
        fake.add_private_chat(*chat, "Someone");
    }
    let started = std::time::Instant::now();

    let sends = chats.iter().flat_map(|chat| {
        let bot = bot.clone();
        (0..3).map(move |_| {
            let bot = bot.clone();
            async move { bot.send_message(ChatId(*chat), "news").await }
        })
    });
    let results = futures::future::join_all(sends).await;
    let elapsed = started.elapsed().as_secs_f64();

    let accepted = results.iter().filter(|result| result.is_ok()).count();
    // 30 at once, then 30 a second: however slow this machine is, no more than that.
    let most = 30 + (elapsed * 30.0).ceil() as usize + 1;
    assert!(
        (30..=most).contains(&accepted),
        "{accepted} accepted in {elapsed:.3}s"
    );
    assert_eq!(fake.flood_refusals(), 45 - accepted);
    assert!(
        fake.flood_refused_sends()
            .iter()
            .all(|r| r.limit == FloodLimit::Overall)
    );
}

#[tokio::test]
async fn paid_broadcasts_raise_the_overall_limit() {
    let Harness { fake, bot, .. } = start().await;
    fake.set_overall_limit(1000);
    let chats: Vec<i64> = (4001..=4120).collect();
    for chat in &chats {
        fake.add_private_chat(*chat, "Subscriber");
    }

    let sends = chats.iter().map(|chat| {
        let bot = bot.clone();
        async move { bot.send_message(ChatId(*chat), "news").await }
    });
    let results = futures::future::join_all(sends).await;

    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fake.flood_refusals(), 0);
    assert_eq!(fake.send_times().len(), 120);
}

#[tokio::test]
async fn only_sends_of_messages_are_flood_limited() {
    let Harness { fake, bot, .. } = start().await;
    let keyboard = |data: &str| one_button_keyboard(InlineKeyboardButton::callback("Go", data));
    let mut sent = Vec::new();
    for text in ["one", "two", "three"] {
        let message = bot
            .send_message(ChatId(ANA), text)
            .reply_markup(keyboard("go"))
            .await
            .unwrap();
        sent.push(message);
    }

    let query = fake.user_presses_button(ANA, ANA, sent[0].id.0, "go");
    bot.answer_callback_query(query.into()).await.unwrap();
    for (number, message) in sent.iter().enumerate() {
        bot.edit_message_text(ChatId(ANA), message.id, format!("edited {number}"))
            .await
            .unwrap();
        bot.send_chat_action(ChatId(ANA), ChatAction::Typing)
            .await
            .unwrap();
    }
    bot.edit_message_reply_markup(ChatId(ANA), sent[1].id)
        .reply_markup(keyboard("stop"))
        .await
        .unwrap();
    bot.set_my_commands([BotCommand::new("start", "Begin")])
        .await
        .unwrap();
    bot.get_updates().await.unwrap();
    assert_eq!(fake.flood_refusals(), 0);

    // The chat's burst is spent on the three messages, for documents too.
    let document = bot
        .send_document(
            ChatId(ANA),
            InputFile::memory(b"notes".to_vec()).file_name("notes.txt"),
        )
        .await;
    assert_eq!(retry_after(document), 1);
    assert_eq!(fake.flood_refused_sends()[0].method, "sendDocument");
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn refused_sends_spend_no_tokens() {
    let Harness { fake, bot, .. } = start().await;

    for _ in 0..5 {
        let refused = bot
            .send_message(ChatId(ANA), "a <b")
            .parse_mode(ParseMode::Html)
            .await;
        assert!(matches!(api_error(refused), ApiError::CantParseEntities(_)));
    }
    for text in ["one", "two", "three"] {
        bot.send_message(ChatId(ANA), text).await.unwrap();
    }

    assert_eq!(fake.flood_refusals(), 0);
    assert_eq!(fake.rejections().len(), 5);
}

#[tokio::test]
async fn send_times_record_accepted_sends_and_limits_can_be_turned_off() {
    let Harness { fake, bot, .. } = start().await;
    fake.disable_flood_limits();

    for number in 0..10 {
        bot.send_message(ChatId(ANA), format!("message {number}"))
            .await
            .unwrap();
    }

    let times = fake.send_times();
    assert_eq!(times.len(), 10);
    assert!(times.iter().all(|(_, chat)| *chat == ANA));
    assert!(times.windows(2).all(|pair| pair[0].0 <= pair[1].0));
    assert_eq!(fake.flood_refusals(), 0);
}

// ---------------------------------------------------------------------------------------------
// Webhook
// ---------------------------------------------------------------------------------------------

/// A public HTTPS address, as the bot would register it; tests route it to a local port.
const WEBHOOK_URL: &str = "https://crossroads.example.com:8443/telegram/hook?instance=a";
const SECRET: &str = "s3cret_-Token";

/// A request the stand-in webhook endpoint received.
struct Delivered {
    uri: Uri,
    headers: HeaderMap,
    body: String,
}

impl Delivered {
    fn update(&self) -> Update {
        serde_json::from_str(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }
}

/// A stand-in for the bot's webhook endpoint on a free local port. It answers each request with
/// the next planned `(status, delay)`, then with 200 at once.
struct WebhookEndpoint {
    address: SocketAddr,
    delivered: mpsc::UnboundedReceiver<Delivered>,
    most_at_once: Arc<AtomicUsize>,
}

struct EndpointState {
    answers: Mutex<VecDeque<(u16, Duration)>>,
    delivered: mpsc::UnboundedSender<Delivered>,
    in_flight: AtomicUsize,
    most_at_once: Arc<AtomicUsize>,
}

impl WebhookEndpoint {
    async fn start(answers: &[(u16, Duration)]) -> WebhookEndpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (sender, delivered) = mpsc::unbounded_channel();
        let most_at_once = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(EndpointState {
            answers: Mutex::new(answers.iter().copied().collect()),
            delivered: sender,
            in_flight: AtomicUsize::new(0),
            most_at_once: Arc::clone(&most_at_once),
        });
        let app = axum::Router::new()
            .fallback(Self::receive)
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        WebhookEndpoint {
            address,
            delivered,
            most_at_once,
        }
    }

    async fn receive(
        axum::extract::State(state): axum::extract::State<Arc<EndpointState>>,
        uri: Uri,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        struct InFlight<'a>(&'a AtomicUsize);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let at_once = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _in_flight = InFlight(&state.in_flight);
        state.most_at_once.fetch_max(at_once, Ordering::SeqCst);
        let (status, delay) = state
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or((200, Duration::ZERO));
        let _ = state.delivered.send(Delivered { uri, headers, body });
        tokio::time::sleep(delay).await;
        StatusCode::from_u16(status).unwrap()
    }

    async fn next(&mut self) -> Delivered {
        tokio::time::timeout(PATIENCE, self.delivered.recv())
            .await
            .expect("the webhook should have been called")
            .unwrap()
    }
}

fn update_text(update: &Update) -> Option<&str> {
    match &update.kind {
        UpdateKind::Message(message) => message.text(),
        _ => None,
    }
}

#[tokio::test]
async fn set_webhook_refuses_what_the_bot_api_refuses() {
    let Harness { fake, .. } = start().await;
    let refused = [
        (
            json!({ "url": "http://crossroads.example.com/hook" }),
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            json!({ "url": "not a url" }),
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            json!({ "url": "https://crossroads.example.com:8080/hook" }),
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
        (
            json!({ "url": WEBHOOK_URL, "secret_token": "4242:TEST-TOKEN" }),
            "Bad Request: secret token contains unallowed characters",
        ),
        (
            json!({ "url": WEBHOOK_URL, "secret_token": "x".repeat(257) }),
            "Bad Request: secret token must be 1-256 characters long",
        ),
        (
            json!({ "url": WEBHOOK_URL, "secret_token": "" }),
            "Bad Request: secret token must be 1-256 characters long",
        ),
        (
            json!({ "url": WEBHOOK_URL, "max_connections": 0 }),
            "Bad Request: max_connections must be between 1 and 100",
        ),
        (
            json!({ "url": WEBHOOK_URL, "max_connections": 101 }),
            "Bad Request: max_connections must be between 1 and 100",
        ),
        (json!({}), "Bad Request: url is required"),
    ];
    for (body, description) in &refused {
        let (status, _, answer) = post_method(&fake, "setWebhook", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&answer).unwrap()["description"],
            *description,
            "{body}"
        );
    }
    assert_eq!(fake.rejections().len(), refused.len());
    assert_eq!(fake.webhook(), None);

    let longest_secret = "A".repeat(256);
    let (status, _, answer) = post_method(
        &fake,
        "setWebhook",
        json!({ "url": WEBHOOK_URL, "secret_token": longest_secret }),
    )
    .await;
    assert_eq!(
        (status, answer.as_str()),
        (200, r#"{"ok":true,"result":true}"#)
    );
}

#[tokio::test]
async fn a_webhook_is_set_described_and_deleted() {
    let Harness { fake, bot, .. } = start().await;
    fake.user_sends_text(ANA, ANA, "waiting");
    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(info.url, None);
    assert_eq!(info.pending_update_count, 1);

    bot.set_webhook(url(WEBHOOK_URL))
        .secret_token(SECRET)
        .max_connections(5)
        .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
        .await
        .unwrap();

    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(info.url, Some(url(WEBHOOK_URL)));
    assert!(!info.has_custom_certificate);
    assert_eq!(info.pending_update_count, 1);
    assert_eq!(info.max_connections, Some(5));
    assert_eq!(
        info.allowed_updates,
        Some(vec![AllowedUpdate::CallbackQuery, AllowedUpdate::Message])
    );
    assert_eq!(info.last_error_message, None);
    let webhook = fake.webhook().unwrap();
    assert_eq!(webhook.url, WEBHOOK_URL);
    assert_eq!(webhook.secret_token.as_deref(), Some(SECRET));
    assert_eq!(webhook.max_connections, 5);
    assert_eq!(
        webhook.allowed_updates,
        Some(vec!["callback_query".to_owned(), "message".to_owned()])
    );

    bot.delete_webhook().await.unwrap();
    assert_eq!(fake.webhook(), None);
    assert_eq!(bot.get_webhook_info().await.unwrap().url, None);
    assert_eq!(bot.get_updates().await.unwrap().len(), 1);
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn get_updates_is_refused_while_a_webhook_is_active() {
    let Harness { fake, bot, .. } = start().await;
    fake.user_sends_text(ANA, ANA, "hello");
    bot.set_webhook(url(WEBHOOK_URL)).await.unwrap();

    let refused = bot.get_updates().offset(10_001).await;

    assert_eq!(
        api_error(refused),
        ApiError::Unknown(
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook \
             to delete the webhook first"
                .into()
        )
    );
    let rejection = &fake.rejections()[0];
    assert_eq!(
        (rejection.method.as_str(), rejection.status),
        ("getUpdates", 409)
    );
    // The refused call confirmed nothing.
    assert_eq!(fake.pending_update_count(), 1);
}

#[tokio::test]
async fn setting_a_webhook_ends_a_waiting_long_poll_with_a_conflict() {
    let Harness { fake, bot, .. } = start().await;
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(8).await }
    });
    assert!(fake.wait_until_polling(PATIENCE).await);

    bot.set_webhook(url(WEBHOOK_URL)).await.unwrap();
    fake.user_sends_text(ANA, ANA, "for the webhook");

    let ended = tokio::time::timeout(PATIENCE, poll)
        .await
        .expect("setWebhook should end the poll at once")
        .unwrap();
    assert_eq!(
        api_error(ended),
        ApiError::Unknown("Conflict: terminated by setWebhook request".into())
    );
    assert_eq!(fake.pending_update_count(), 1);
}

#[tokio::test]
async fn webhook_updates_are_posted_in_order_and_confirmed_by_2xx() {
    let Harness { fake, bot, .. } = start().await;
    let mut endpoint = WebhookEndpoint::start(&[]).await;
    bot.set_webhook(url(WEBHOOK_URL))
        .secret_token(SECRET)
        .await
        .unwrap();
    for text in ["one", "two", "three"] {
        fake.user_sends_text(ANA, ANA, text);
    }
    // Nothing can be delivered until the test says where the public address leads.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(fake.webhook_attempts().is_empty());

    fake.route_webhook_to(endpoint.address);

    for (expected_id, text) in [(10_000, "one"), (10_001, "two"), (10_002, "three")] {
        let delivered = endpoint.next().await;
        assert_eq!(delivered.uri.path(), "/telegram/hook");
        assert_eq!(delivered.uri.query(), Some("instance=a"));
        assert_eq!(delivered.header("content-type"), Some("application/json"));
        assert_eq!(
            delivered.header("x-telegram-bot-api-secret-token"),
            Some(SECRET)
        );
        let update = delivered.update();
        assert_eq!(update.id.0, expected_id);
        assert_eq!(update_text(&update), Some(text));
    }
    let attempts = fake.wait_for_webhook_attempts(3, PATIENCE).await;
    assert_eq!(attempts, [(10_000, 200), (10_001, 200), (10_002, 200)]);
    assert_eq!(fake.pending_update_count(), 0);
    assert_eq!(endpoint.most_at_once.load(Ordering::SeqCst), 1);

    // Updates that happen later are posted as they happen.
    fake.user_sends_text(ANA, ANA, "four");
    assert_eq!(update_text(&endpoint.next().await.update()), Some("four"));
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn a_webhook_without_a_secret_gets_no_header_and_only_allowed_updates() {
    let Harness { fake, bot, .. } = start().await;
    let mut endpoint = WebhookEndpoint::start(&[]).await;
    let prompt = bot
        .send_message(ChatId(ANA), "Ready?")
        .reply_markup(one_button_keyboard(InlineKeyboardButton::callback(
            "Yes", "yes",
        )))
        .await
        .unwrap();
    bot.set_webhook(url(WEBHOOK_URL))
        .allowed_updates([AllowedUpdate::CallbackQuery])
        .await
        .unwrap();
    fake.route_webhook_to(endpoint.address);

    fake.user_sends_text(ANA, ANA, "typed instead");
    fake.user_presses_button(ANA, ANA, prompt.id.0, "yes");

    let delivered = endpoint.next().await;
    assert_eq!(delivered.header("x-telegram-bot-api-secret-token"), None);
    assert!(matches!(
        delivered.update().kind,
        UpdateKind::CallbackQuery(_)
    ));
    assert_eq!(fake.filtered_updates().len(), 1);
    assert_eq!(fake.wait_for_webhook_attempts(1, PATIENCE).await.len(), 1);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_holds_back_later_updates() {
    let Harness { fake, bot, .. } = start().await;
    let mut endpoint =
        WebhookEndpoint::start(&[(500, Duration::ZERO), (404, Duration::ZERO)]).await;
    bot.set_webhook(url(WEBHOOK_URL)).await.unwrap();
    fake.route_webhook_to(endpoint.address);

    fake.user_sends_text(ANA, ANA, "first");
    fake.user_sends_text(ANA, ANA, "second");

    let mut texts = Vec::new();
    for _ in 0..4 {
        texts.push(
            update_text(&endpoint.next().await.update())
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(texts, ["first", "first", "first", "second"]);
    let attempts = fake.wait_for_webhook_attempts(4, PATIENCE).await;
    assert_eq!(
        attempts,
        [(10_000, 500), (10_000, 404), (10_000, 200), (10_001, 200)]
    );
    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(
        info.last_error_message.as_deref(),
        Some("Wrong response from the webhook: 404 Not Found")
    );
    assert_eq!(info.last_error_date.unwrap().timestamp(), START_TIME);
    assert_eq!(info.pending_update_count, 0);
}

#[tokio::test]
async fn an_unreachable_webhook_is_retried_until_it_can_be_reached() {
    let Harness { fake, bot, .. } = start().await;
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    bot.set_webhook(url(WEBHOOK_URL)).await.unwrap();
    fake.route_webhook_to(closed);
    fake.user_sends_text(ANA, ANA, "anyone there?");

    let attempts = fake.wait_for_webhook_attempts(2, PATIENCE).await;
    assert_eq!(attempts[..2], [(10_000, 0), (10_000, 0)]);
    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(
        info.last_error_message.as_deref(),
        Some("Connection refused")
    );
    assert_eq!(info.pending_update_count, 1);

    let mut endpoint = WebhookEndpoint::start(&[]).await;
    fake.route_webhook_to(endpoint.address);
    assert_eq!(
        update_text(&endpoint.next().await.update()),
        Some("anyone there?")
    );
    assert!(eventually(|| fake.pending_update_count() == 0).await);
}

#[tokio::test]
async fn a_webhook_too_slow_to_answer_gets_the_update_again() {
    let Harness { fake, bot, .. } = start().await;
    fake.set_webhook_timeout(Duration::from_millis(200));
    let mut endpoint = WebhookEndpoint::start(&[(200, Duration::from_secs(2))]).await;
    bot.set_webhook(url(WEBHOOK_URL)).await.unwrap();
    fake.route_webhook_to(endpoint.address);

    fake.user_sends_text(ANA, ANA, "hello");

    let first = endpoint.next().await.update();
    let second = endpoint.next().await.update();
    assert_eq!(first.id, second.id);
    let attempts = fake.wait_for_webhook_attempts(2, PATIENCE).await;
    assert_eq!(attempts, [(10_000, 0), (10_000, 200)]);
    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(
        info.last_error_message.as_deref(),
        Some("Read timeout expired")
    );
}

#[tokio::test]
async fn pending_updates_can_be_dropped_when_setting_or_deleting_the_webhook() {
    let Harness { fake, bot, .. } = start().await;
    fake.user_sends_text(ANA, ANA, "old");

    bot.set_webhook(url(WEBHOOK_URL))
        .drop_pending_updates(true)
        .await
        .unwrap();
    assert_eq!(fake.pending_update_count(), 0);

    fake.user_sends_text(ANA, ANA, "newer");
    bot.delete_webhook()
        .drop_pending_updates(true)
        .await
        .unwrap();
    assert_eq!(fake.pending_update_count(), 0);
    assert!(bot.get_updates().await.unwrap().is_empty());
}

#[tokio::test]
async fn updates_that_are_not_valid_json_are_posted_as_their_exact_text() {
    let Harness { fake, bot, .. } = start().await;
    let mut endpoint = WebhookEndpoint::start(&[]).await;
    bot.set_webhook(url(WEBHOOK_URL)).await.unwrap();
    fake.route_webhook_to(endpoint.address);

    fake.user_sends_unreadable_text(ANA, ANA);
    fake.user_sends_deeply_nested_reply(ANA, ANA, 150);

    let unreadable = endpoint.next().await.body;
    assert!(unreadable.contains(r"\ud800"), "{unreadable}");
    assert!(serde_json::from_str::<Update>(&unreadable).is_err());
    let nested = endpoint.next().await.body;
    assert_eq!(nested.matches("\"reply_to_message\"").count(), 150);
    assert!(nested.contains("\"update_id\":10001"));
}
