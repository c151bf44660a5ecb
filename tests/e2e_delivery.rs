//! Delivery against a Telegram that misbehaves: 5xx, 429, requests that hang, updates that
//! cannot be read, updates posted twice, and webhook mode with and without its secret. The fake
//! enforces Telegram's flood limits in these scenarios, and the bot sends as in production.

mod support;

use std::time::{Duration, Instant};

use support::{World, fake_telegram::Fault, has_booking_button, hours};

const ANN: i64 = 1001;
const BEN: i64 = 1002;

fn notes(world: &World, chat_id: i64) -> usize {
    world
        .fake
        .sent_messages(chat_id)
        .iter()
        .filter(|message| support::dialogues::is_message(&message.text, "note_acks"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_502_is_retried_and_nobody_else_waits_for_it() {
    let world = World::start_as_telegram().await;
    let ann = world.user(ANN, "Ann");
    let ben = world.user(BEN, "Ben");
    ann.asks("/start").await;
    ben.asks("/start").await;
    world.fake.fail_next("sendMessage", Fault::BadGateway, 2);
    ann.says("the first thing on my mind");
    // Ann's acknowledgement met two 502s and waits two seconds for its next try; Ben's goes now.
    let started = Instant::now();
    while world.fake.faults_served().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no fault served"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ben.says("and mine");
    assert!(has_booking_button(&ben.next_reply().await));
    assert_eq!(notes(&world, ANN), 0, "Ann's retry has not come yet");
    assert!(has_booking_button(&ann.next_reply().await));
    ann.has_no_unread().await;
    assert_eq!(notes(&world, ANN), 1, "acknowledged once");
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_and_a_hung_request_are_retried_until_they_go_through() {
    let world = World::start_as_telegram().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    world.fake.fail_next("sendMessage", Fault::InternalError, 1);
    world.fake.fail_next("sendMessage", Fault::Hang, 1);
    ann.says("still here");
    let reply = ann.next_reply().await;
    assert!(has_booking_button(&reply));
    ann.has_no_unread().await;
    assert_eq!(world.fake.faults_served().len(), 2);
    assert_eq!(world.kept_texts(ANN), ["still here"]);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_every_send_for_as_long_as_telegram_asks() {
    let world = World::start_as_telegram().await;
    let ann = world.user(ANN, "Ann");
    let ben = world.user(BEN, "Ben");
    ann.asks("/start").await;
    ben.asks("/start").await;
    world
        .fake
        .fail_next("sendMessage", Fault::TooManyRequests { retry_after: 2 }, 1);
    let started = Instant::now();
    ann.says("one");
    ben.says("two");
    assert!(has_booking_button(&ann.next_reply().await));
    assert!(has_booking_button(&ben.next_reply().await));
    // Whichever chat met the 429, the other waited too: nothing went in between.
    let after: Vec<Duration> = world
        .fake
        .send_times()
        .iter()
        .filter(|(at, _)| *at >= started)
        .map(|(at, _)| at.duration_since(started))
        .collect();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after.iter().all(|sent| *sent >= Duration::from_secs(2)),
        "sent before retry_after: {after:?}"
    );
    assert_eq!((notes(&world, ANN), notes(&world, BEN)), (1, 1));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_chain_nested_past_the_parsers_limit_costs_only_its_own_update() {
    let world = World::start_as_telegram().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    ann.says("before");
    let nested = world.fake.user_sends_deeply_nested_reply(ANN, ANN, 150);
    ann.says("after");
    ann.replies(2).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while world.fake.confirmed_offset() <= nested {
        assert!(Instant::now() < deadline, "stuck before the nested update");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(world.kept_texts(ANN), ["before", "after"]);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_lost_with_a_crash_is_not_left_open() {
    let mut world = World::start_as_telegram().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    // The question is queued at 09:00, and its send hangs when the bot dies.
    world.fake.fail_next("sendMessage", Fault::Hang, 1);
    world.set_time("2026-03-02T09:00:00Z").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while world.fake.faults_served().is_empty() {
        assert!(Instant::now() < deadline, "the question was never sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    world.crash().await;
    // Back past the catch-up window: the question is closed, not sent hours late.
    world.clock.advance(hours(4));
    world.restart_after_stop().await;
    ann.says("I wanted to say something anyway");
    let reply = ann.next_reply().await;
    assert!(reply.is("note_acks"), "kept as a note: {}", reply.text);
    ann.has_no_unread().await;
    let entries = world.service().store().all_entries(ANN).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].prompt_id, None,
        "not the answer to an unseen question"
    );
    assert!(
        !world
            .fake
            .sent_messages(ANN)
            .iter()
            .any(|message| message.is("prompt")),
        "the late question was never sent"
    );
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_waiting_at_a_crash_is_sent_after_a_restart_within_catch_up() {
    let mut world = World::start_as_telegram().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    world.fake.fail_next("sendMessage", Fault::Hang, 1);
    world.set_time("2026-03-02T09:00:00Z").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while world.fake.faults_served().is_empty() {
        assert!(Instant::now() < deadline, "the question was never sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    world.crash().await;
    // Back within the catch-up window: the question goes, and opens.
    world.clock.advance(hours(1));
    world.restart_after_stop().await;
    let question = ann.next_reply().await;
    assert!(question.is("prompt"));
    world.question_opens(&question).await;
    ann.says("my answer, an hour late");
    assert!(has_booking_button(&ann.next_reply().await));
    let entries = world.service().store().all_entries(ANN).unwrap();
    assert!(
        entries[0].prompt_id.is_some(),
        "kept as the answer to the question"
    );
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_waiting_at_a_crash_are_sent_once_after_the_restart() {
    let mut world = World::start_as_telegram().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    // Every send hangs: the acknowledgement is decided and queued, and never goes out.
    world.fake.fail_next("sendMessage", Fault::Hang, 100);
    ann.says("kept before the crash");
    let deadline = Instant::now() + Duration::from_secs(15);
    while world.fake.faults_served().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the acknowledgement was never tried"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    world.crash().await;
    world.fake.clear_faults();
    world.restart_after_stop().await;
    assert!(has_booking_button(&ann.next_reply().await));
    ann.has_no_unread().await;
    assert_eq!(notes(&world, ANN), 1);
    assert_eq!(world.kept_texts(ANN), ["kept before the crash"]);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_went_through_unanswered_is_sent_at_most_once_more() {
    let world = World::start_as_telegram().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    world
        .fake
        .fail_next("sendMessage", Fault::AcceptThenHang, 1);
    ann.says("did that arrive?");
    ann.replies(2).await;
    ann.has_no_unread().await;
    assert_eq!(
        notes(&world, ANN),
        2,
        "Telegram took it but never said so: the one duplicate the design allows"
    );
    world.finish().await;
}

mod webhook {
    use super::*;

    const SECRET: &str = "only-telegram-knows_this";

    async fn post(world: &World, secret: Option<&str>, body: String) -> u16 {
        let bound = world.webhook_address().expect("webhook mode");
        let mut request = reqwest::Client::new()
            .post(format!("http://{bound}/telegram/hook"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        request.send().await.unwrap().status().as_u16()
    }

    fn update(update_id: i64, text: &str) -> String {
        serde_json::json!({
            "update_id": update_id,
            "message": {
                "message_id": 77, "date": 1_772_434_800,
                "chat": {"id": ANN, "type": "private", "first_name": "Ann"},
                "from": {"id": ANN, "is_bot": false, "first_name": "Ann"},
                "text": text
            }
        })
        .to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn telegram_posts_updates_with_the_secret_and_the_bot_answers() {
        let world = World::start_with_webhook(SECRET).await;
        let webhook = world.fake.webhook().expect("the bot set its webhook");
        assert_eq!(webhook.url, "https://bot.example.org/telegram/hook");
        assert_eq!(webhook.secret_token.as_deref(), Some(SECRET));
        let ann = world.user(ANN, "Ann");
        assert!(ann.asks("/start").await.is("welcome"));
        ann.says("written by webhook");
        assert!(has_booking_button(&ann.next_reply().await));
        assert_eq!(world.kept_texts(ANN), ["written by webhook"]);
        assert!(
            world
                .fake
                .webhook_attempts()
                .iter()
                .all(|(_, status)| *status == 200),
            "{:?}",
            world.fake.webhook_attempts()
        );
        world.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_without_the_right_secret_is_refused_and_nothing_is_kept() {
        let world = World::start_with_webhook(SECRET).await;
        let ann = world.user(ANN, "Ann");
        assert_eq!(post(&world, None, update(1, "forged words")).await, 401);
        assert_eq!(
            post(
                &world,
                Some("only-telegram-knows_thiS"),
                update(2, "forged words")
            )
            .await,
            401
        );
        assert_eq!(post(&world, Some(""), update(3, "forged words")).await, 401);
        assert_eq!(world.service().waiting_updates(), 0);
        assert!(world.kept_texts(ANN).is_empty());
        ann.has_no_unread().await;
        world.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_update_posted_twice_is_acknowledged_once() {
        let world = World::start_with_webhook(SECRET).await;
        let ann = world.user(ANN, "Ann");
        assert!(ann.asks("/start").await.is("welcome"));
        let again = update(900, "said once, delivered twice");
        assert_eq!(post(&world, Some(SECRET), again.clone()).await, 200);
        assert!(has_booking_button(&ann.next_reply().await));
        // Telegram did not hear the 200 (a timeout on its side) and posts it again.
        assert_eq!(post(&world, Some(SECRET), again).await, 200);
        ann.has_no_unread().await;
        assert_eq!(notes(&world, ANN), 1);
        assert_eq!(world.kept_texts(ANN), ["said once, delivered twice"]);
        world.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreadable_update_is_answered_200_and_skipped() {
        let world = World::start_with_webhook(SECRET).await;
        let ann = world.user(ANN, "Ann");
        let unreadable = update(901, "x").replace("\"x\"", "\"\\ud800\"");
        assert_eq!(post(&world, Some(SECRET), unreadable).await, 200);
        assert!(ann.asks("/start").await.is("welcome"));
        assert!(world.kept_texts(ANN).is_empty());
        world.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn switching_back_to_polling_removes_the_webhook() {
        let mut world = World::start_with_webhook(SECRET).await;
        world.stop().await;
        world.receiving = crossroads::transport::telegram::Receiving::Polling;
        world.restart_after_stop().await;
        assert!(world.fake.webhook().is_none());
        let ann = world.user(ANN, "Ann");
        assert!(ann.asks("/start").await.is("welcome"));
        world.finish().await;
    }
}
