//! Proves the fake Telegram server against a real `teloxide::Bot`: if teloxide accepts its
//! answers and it refuses what Telegram refuses, end-to-end tests built on it mean something.

#[path = "support/fake_telegram.rs"]
mod fake_telegram;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use fake_telegram::{Button, FakeTelegram, telegram_html};
use serde_json::{Value, json};
use teloxide::prelude::*;
use teloxide::types::{
    AllowedUpdate, BotCommand, ChatAction, ChatMemberKind, InlineKeyboardButton,
    InlineKeyboardMarkup, InputFile, MediaKind, MessageEntityKind, MessageId, MessageKind,
    ParseMode, UpdateKind,
};
use teloxide::{ApiError, RequestError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
