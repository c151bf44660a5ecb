//! The end-to-end world: the real bot (dispatcher, teloxide `Bot`, store, scheduler) against the
//! fake Bot API server, with a manual clock. Scenarios read like a chat:
//! `let ann = world.user(1, "Ann"); ann.says("/start"); ann.next_reply().await`.

#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]

pub mod binary;
pub mod captured_log;
pub mod dialogues;
pub mod fake_telegram;

use std::{path::Path, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use crossroads::{
    clock::{Clock, ManualClock},
    config::Config,
    service::Service,
    service::sender::SenderOptions,
    transport::telegram::{self, Receiving, TelegramOptions},
};
use fake_telegram::{FakeTelegram, SentMessage};
use teloxide::Bot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A Monday morning in London, before the default 09:00 question.
pub const START: &str = "2026-03-02T07:00:00Z";

/// A safety net only: every wait below ends as soon as what it waits for happens.
const PATIENCE: Duration = Duration::from_secs(15);

pub const BOOKING_URL: &str = "https://example.com/book";

struct Running {
    service: Arc<Service>,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// A scenario's world. It must end with [`World::finish`], which stops the bot cleanly and
/// checks that Telegram never had to refuse a request: a world dropped without it fails the
/// test, so no scenario can forget those checks.
pub struct World {
    pub fake: Arc<FakeTelegram>,
    pub clock: ManualClock,
    dir: tempfile::TempDir,
    running: Option<Running>,
    finished: bool,
    /// How the bot sends: by default faster than Telegram allows, so that scenarios about
    /// conversations do not wait on pacing; scenarios about delivery use Telegram's limits.
    pub sender: SenderOptions,
    pub receiving: Receiving,
    pub metrics: Option<crossroads::ops::MetricsOptions>,
    /// Appended to the practice's config.
    pub extra_config: String,
    /// Refusals a scenario causes on purpose (a deletion Telegram no longer allows), by a
    /// part of their description: `finish` lets these through.
    pub expected_refusals: Vec<String>,
}

impl Drop for World {
    fn drop(&mut self) {
        // A test that already failed says why; a second panic would only hide it.
        if !self.finished && !std::thread::panicking() {
            panic!(
                "the scenario ended without `world.finish().await`, so its end-of-test checks never ran"
            );
        }
    }
}

impl World {
    pub async fn start() -> World {
        World::start_at(START).await
    }

    pub async fn start_at(at: &str) -> World {
        let world = World::unstarted(at).await;
        // Conversations are not about pacing: send as fast as the fake takes it.
        world.fake.disable_flood_limits();
        World::boot_with(
            world,
            SenderOptions {
                messages_per_second: 1000,
                chat_burst: 1000,
                chat_interval: Duration::from_millis(1),
            },
        )
        .await
    }

    /// A world where the fake enforces Telegram's flood limits and the bot sends as it does in
    /// production, for scenarios about delivery.
    pub async fn start_as_telegram() -> World {
        let world = World::unstarted(START).await;
        World::boot_with(world, SenderOptions::default()).await
    }

    /// A world in webhook mode: Telegram posts updates to the bot's own server.
    pub async fn start_with_webhook(secret: &str) -> World {
        let mut world = World::unstarted(START).await;
        world.fake.disable_flood_limits();
        let bound = Arc::new(std::sync::OnceLock::new());
        world.receiving = Receiving::Webhook(crossroads::transport::webhook::WebhookOptions {
            url: "https://bot.example.org/telegram/hook".parse().unwrap(),
            listen: "127.0.0.1:0".parse().unwrap(),
            secret: crossroads::config::Secret::new(secret.to_owned()),
            bound,
        });
        World::boot_with(world, SenderOptions::default()).await
    }

    /// A world that serves `/metrics` and `/healthz`, counting Telegram as down after
    /// `telegram_window` without an answer.
    pub async fn start_with_metrics(telegram_window: Duration) -> World {
        let mut world = World::unstarted(START).await;
        world.fake.disable_flood_limits();
        world.metrics = Some(crossroads::ops::MetricsOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            telegram_window,
            bound: Arc::default(),
        });
        World::boot_with(world, SenderOptions::default()).await
    }

    /// Where `/metrics` and `/healthz` are served, once the bot is up.
    pub async fn metrics_address(&self) -> std::net::SocketAddr {
        let bound = &self.metrics.as_ref().expect("metrics are on").bound;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(address) = bound.get() {
                return *address;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "metrics never served"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn boot_with(mut world: World, sender: SenderOptions) -> World {
        world.sender = sender;
        world.boot().await;
        world
    }

    async fn unstarted(at: &str) -> World {
        let clock = ManualClock::new(at.parse().expect("a valid RFC 3339 time"));
        let stamp = clock.clone();
        let fake = Arc::new(FakeTelegram::start(Arc::new(move || stamp.now().timestamp())).await);
        World {
            fake,
            clock,
            dir: tempfile::tempdir().unwrap(),
            running: None,
            finished: false,
            sender: SenderOptions::default(),
            receiving: Receiving::Polling,
            metrics: None,
            extra_config: String::new(),
            expected_refusals: Vec::new(),
        }
    }

    /// A world whose practice has these admins (`[admin] user_ids`).
    pub async fn start_with_admins(admins: &[i64]) -> World {
        let mut world = World::unstarted(START).await;
        world.fake.disable_flood_limits();
        world.extra_config = format!("[admin]\nuser_ids = {admins:?}\n");
        World::boot_with(world, SenderOptions::default()).await
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> Config {
        let text = r#"
            [practice]
            name = "Boutique Psychotherapy"
            booking_url = "https://example.com/book"

            [schedule]
            default_time = "09:00"
            default_timezone = "Europe/London"
            catch_up = "3h"

            [storage]
            path = "db"

            [privacy]
            key_file = "crossroads.key"
            retention_days = 365

            [safety]
            emergency_number = "112"

            [[safety.crisis_lines]]
            name = "Samaritans"
            phone = "116 123"

            [[safety.crisis_lines]]
            name = "Find a Helpline"
            url = "https://findahelpline.com"
        "#;
        Config::parse(&format!("{text}\n{}", self.extra_config), self.dir.path())
            .expect("the test config is valid")
    }

    async fn boot(&mut self) {
        let service =
            crossroads::app::build_service(&self.config(), Arc::new(self.clock.clone())).unwrap();
        let bot = Bot::new(self.fake.token()).set_api_url(self.fake.api_url());
        let shutdown = CancellationToken::new();
        let options = TelegramOptions {
            polling_timeout_secs: 10,
            sender: self.sender.clone(),
            receiving: self.receiving.clone(),
            // A hung request is given up on soon, so scenarios about timeouts run quickly.
            send_timeout: Duration::from_secs(1),
            metrics: self.metrics.clone(),
            backup: None,
        };
        let task = tokio::spawn(telegram::serve(
            Arc::clone(&service),
            bot,
            options,
            shutdown.clone(),
        ));
        self.running = Some(Running {
            service,
            shutdown,
            task,
        });
        match &self.receiving {
            Receiving::Polling => assert!(
                self.fake.wait_until_polling(PATIENCE).await,
                "the bot never started polling"
            ),
            Receiving::Webhook(webhook) => {
                let deadline = tokio::time::Instant::now() + PATIENCE;
                let bound = loop {
                    if let (Some(bound), Some(_)) = (webhook.bound.get(), self.fake.webhook()) {
                        break *bound;
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the bot never set its webhook"
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                };
                self.fake.route_webhook_to(bound);
            }
        }
    }

    /// Where the bot's webhook server listens, in webhook mode.
    pub fn webhook_address(&self) -> Option<std::net::SocketAddr> {
        match &self.receiving {
            Receiving::Webhook(webhook) => webhook.bound.get().copied(),
            Receiving::Polling => None,
        }
    }

    pub fn service(&self) -> &Arc<Service> {
        &self.running.as_ref().expect("the bot is running").service
    }

    /// Waits until the bot has Telegram's word that `question` reached the user, which is when
    /// it opens for an answer. A person cannot reply before that confirmation comes back; a
    /// test can, and its words would then be kept as a note.
    pub async fn question_opens(&self, question: &SentMessage) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let profile = self
                .service()
                .store()
                .profile(question.chat_id)
                .expect("the profile reads");
            let opened = profile
                .and_then(|profile| profile.open_prompt)
                .and_then(|open| open.message_id);
            if opened == Some(question.message_id) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "question {} never opened for an answer",
                question.message_id
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A graceful stop, as on SIGTERM: must finish cleanly.
    pub async fn stop(&mut self) {
        let running = self.running.take().expect("the bot is running");
        running.shutdown.cancel();
        let result = tokio::time::timeout(PATIENCE, running.task)
            .await
            .expect("the bot did not stop in time");
        result
            .expect("the bot task panicked")
            .expect("the bot stopped with an error");
        Self::release(running.service).await;
    }

    /// A stop with no warning: everything in flight is dropped where it stands.
    pub async fn crash(&mut self) {
        let running = self.running.take().expect("the bot is running");
        running.task.abort();
        let _ = running.task.await;
        Self::release(running.service).await;
    }

    /// Waits until every task holding the store has let go of it, so it can be opened again.
    async fn release(service: Arc<Service>) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while Arc::strong_count(&service) > 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "something still holds the service"
            );
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }

    /// Starts again after [`World::stop`], for scenarios that move the clock while it is down.
    pub async fn restart_after_stop(&mut self) {
        self.boot().await;
    }

    pub async fn restart_after_crash(&mut self) {
        self.crash().await;
        self.boot().await;
    }

    /// The words kept for a user, oldest first, as the store holds them.
    pub fn kept_texts(&self, user_id: i64) -> Vec<String> {
        self.service()
            .store()
            .all_entries(user_id)
            .expect("the store reads")
            .into_iter()
            .map(|entry| entry.text)
            .collect()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Moves time and waits until the scheduler has acted on everything due by then.
    pub async fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
        self.settle().await;
    }

    pub async fn set_time(&self, to: &str) {
        self.clock.set(to.parse().expect("a valid RFC 3339 time"));
        self.settle().await;
    }

    pub async fn settle(&self) {
        let now = self.clock.now();
        tokio::time::timeout(PATIENCE, self.service().scheduled_through(now))
            .await
            .expect("the scheduler did not catch up with the clock");
    }

    pub fn user(&self, id: i64, name: &str) -> User {
        self.fake.add_private_chat(id, name);
        User {
            fake: Arc::clone(&self.fake),
            id,
        }
    }

    pub fn group(&self, id: i64, title: &str) -> Group {
        self.fake.add_group_chat(id, title);
        Group {
            fake: Arc::clone(&self.fake),
            id,
        }
    }

    /// Ends a scenario: the bot stops cleanly, and Telegram never had to refuse a request.
    pub async fn finish(mut self) {
        if self.running.is_some() {
            self.stop().await;
        }
        // Sending to someone who blocked the bot is how the bot learns it; anything else
        // refused means the bot broke one of Telegram's rules.
        let refused: Vec<_> = self
            .fake
            .rejections()
            .into_iter()
            .filter(|rejection| {
                !rejection
                    .description
                    .contains("bot was blocked by the user")
                    && !self
                        .expected_refusals
                        .iter()
                        .any(|expected| rejection.description.contains(expected.as_str()))
            })
            .collect();
        self.finished = true;
        assert!(
            refused.is_empty(),
            "Telegram would have refused: {refused:#?}"
        );
        assert_eq!(
            self.fake.flood_refusals(),
            0,
            "the bot went over Telegram's flood limits"
        );
    }
}

pub struct User {
    fake: Arc<FakeTelegram>,
    pub id: i64,
}

impl User {
    pub fn says(&self, text: &str) -> i32 {
        self.fake.user_sends_text(self.id, self.id, text)
    }

    /// Replies, in Telegram's sense, to `message` (one of the bot's or the user's own), as
    /// someone who swipes a message and writes.
    pub fn replies_to(&self, message: &SentMessage, text: &str) -> i32 {
        self.fake
            .user_replies_to(self.id, self.id, message.message_id, text)
    }

    /// Replies to the user's own message `message_id`.
    pub fn replies_to_own(&self, message_id: i32, text: &str) -> i32 {
        self.fake
            .user_replies_to(self.id, self.id, message_id, text)
    }

    /// The next new message the bot sent this user; edits of earlier ones (buttons taken off
    /// after a press) are passed over.
    pub async fn next_reply(&self) -> SentMessage {
        loop {
            match self.fake.next_message(self.id, PATIENCE).await {
                Some(message) if message.edited => continue,
                Some(message) => return message,
                None => panic!("user {} got no reply within {PATIENCE:?}", self.id),
            }
        }
    }

    pub async fn replies(&self, count: usize) -> Vec<SentMessage> {
        let mut replies = Vec::with_capacity(count);
        for _ in 0..count {
            replies.push(self.next_reply().await);
        }
        replies
    }

    /// Says something and returns the one reply it gets.
    pub async fn asks(&self, text: &str) -> SentMessage {
        self.says(text);
        self.next_reply().await
    }

    /// Reads replies until the answer to a fresh /settings: after a crash, Telegram delivers the
    /// unfinished updates again, and their answers come first.
    pub async fn catches_up(&self) {
        self.says("/settings");
        while !self.next_reply().await.is("settings") {}
    }

    /// Proves nothing else was sent so far: a chat is handled in order, so if the answer to a
    /// fresh /settings is the very next message, nothing came before it.
    pub async fn has_no_unread(&self) {
        let reply = self.asks("/settings").await;
        assert!(
            reply.is("settings"),
            "an unexpected message arrived first: {:?}",
            reply.text
        );
    }

    pub fn edits(&self, message_id: i32, text: &str) {
        self.fake
            .user_edits_text(self.id, self.id, message_id, text);
    }

    pub fn sends_sticker(&self) {
        self.fake.user_sends_sticker(self.id, self.id);
    }

    pub fn sends_photo(&self) {
        self.fake.user_sends_photo(self.id, self.id);
    }

    pub fn sends_voice(&self) {
        self.fake.user_sends_voice(self.id, self.id);
    }

    pub fn presses(&self, message: &SentMessage, data: &str) {
        self.fake
            .user_presses_button(self.id, self.id, message.message_id, data);
    }

    /// Presses a button on `message` with data none of its buttons carries (a tampered client).
    pub fn presses_forged(&self, message: &SentMessage, data: &str) {
        self.fake
            .user_presses_forged_button(self.id, self.id, message.message_id, data);
    }

    pub fn blocks_bot(&self) {
        self.fake.user_blocks_bot(self.id);
    }

    pub fn unblocks_bot(&self) {
        self.fake.user_unblocks_bot(self.id);
    }

    pub fn all_messages(&self) -> Vec<SentMessage> {
        self.fake.sent_messages(self.id)
    }

    /// Waits until the bot deleted this message from the chat; fails the test if it never does.
    pub async fn sees_deleted(&self, message_id: i32) {
        assert!(
            self.fake
                .wait_until_deleted(self.id, message_id, PATIENCE)
                .await,
            "message {message_id} was never deleted from chat {}",
            self.id
        );
    }
}

pub struct Group {
    fake: Arc<FakeTelegram>,
    pub id: i64,
}

impl Group {
    pub fn member_says(&self, member: i64, text: &str) -> i32 {
        self.fake.user_sends_text(self.id, member, text)
    }

    pub async fn next_message(&self) -> SentMessage {
        self.fake
            .next_message(self.id, PATIENCE)
            .await
            .expect("the group got no message")
    }

    pub fn all_messages(&self) -> Vec<SentMessage> {
        self.fake.sent_messages(self.id)
    }

    pub async fn is_left_by_the_bot(&self) -> bool {
        self.fake.wait_until_left(self.id, PATIENCE).await
    }
}

/// The booking button every answer to the user's words must carry.
pub fn has_booking_button(message: &SentMessage) -> bool {
    message
        .url_buttons()
        .iter()
        .any(|(_, url)| url == BOOKING_URL)
}

pub fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

pub fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

pub fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}
