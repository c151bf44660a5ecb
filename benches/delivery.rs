//! Delivery figures against the fake Bot API server, which enforces Telegram's flood limits
//! (30 messages a second overall, or 1,000 for paid broadcasts; about one a second per chat):
//!
//! - P1: daily questions dispatched, as a share of `messages_per_second`, and 429s, at 30/s and
//!   at 1,000/s;
//! - P3: durable acknowledged replies per second with the rate raised, and CPU per reply;
//! - P5: how long replies from 50 other users wait while 10,000 daily questions drain at 30/s.
//!
//! Run with `cargo bench --bench delivery`; record the figures in BENCHMARKS.md. The real
//! service, store, inbox, sender and polling run in this process with the fake server, on a
//! manual clock for the schedule (Telegram's limits are in real time).

#[path = "../tests/support/fake_telegram.rs"]
#[allow(unreachable_pub)]
mod fake_telegram;

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use crossroads::{
    clock::{Clock, ManualClock},
    config::Config,
    service::{Service, sender::SenderOptions},
    transport::telegram::{self, TelegramOptions},
};
use crossroads_core::{
    command::Command,
    event::{Chat, Event, Incoming},
};
use fake_telegram::FakeTelegram;
use teloxide::Bot;
use tokio::{task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

struct Bench {
    fake: Arc<FakeTelegram>,
    clock: ManualClock,
    service: Arc<Service>,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

const CONFIG: &str = r#"
[practice]
name = "Boutique Psychotherapy"
booking_url = "https://example.com/book"
[schedule]
default_time = "09:00"
default_timezone = "UTC"
[storage]
path = "db"
[privacy]
key_file = "crossroads.key"
[safety]
emergency_number = "112"
[[safety.crisis_lines]]
name = "Find a Helpline"
url = "https://findahelpline.com"
"#;

impl Bench {
    async fn start(overall_limit: u32, sender: SenderOptions) -> Bench {
        let clock = ManualClock::new("2026-03-02T07:00:00Z".parse().unwrap());
        let stamp = clock.clone();
        let fake = Arc::new(FakeTelegram::start(Arc::new(move || stamp.now().timestamp())).await);
        fake.set_overall_limit(overall_limit);
        let dir = tempfile::tempdir().unwrap();
        let config = Config::parse(CONFIG, dir.path()).unwrap();
        let service = crossroads::app::build_service(&config, Arc::new(clock.clone())).unwrap();
        let bot = Bot::new(fake.token()).set_api_url(fake.api_url());
        let shutdown = CancellationToken::new();
        let options = TelegramOptions {
            sender,
            ..TelegramOptions::default()
        };
        let task = tokio::spawn(telegram::serve(
            Arc::clone(&service),
            bot,
            options,
            shutdown.clone(),
        ));
        assert!(fake.wait_until_polling(Duration::from_secs(30)).await);
        Bench {
            fake,
            clock,
            service,
            shutdown,
            task,
            _dir: dir,
        }
    }

    /// Users who already said /start (straight to the service: their welcomes are not part
    /// of the figures), with their daily question at `time`.
    async fn onboard(&self, first: i64, count: i64, time: &str) {
        let ids: Vec<i64> = (first..first + count).collect();
        for chunk in ids.chunks(500) {
            let turns = chunk.iter().map(|&user| {
                self.fake.add_private_chat(user, "Someone");
                let service = Arc::clone(&self.service);
                let now = self.clock.now();
                let time = time.to_owned();
                async move {
                    let incoming = |id, text: &str| Incoming {
                        message_id: id,
                        sent_at: now,
                        text: text.to_owned(),
                        reply_to: None,
                    };
                    service
                        .handle(
                            Chat::Private(user),
                            Event::Command(Command::Start, incoming(1, "/start")),
                        )
                        .await;
                    service
                        .handle(
                            Chat::Private(user),
                            Event::Command(
                                Command::Time(time.clone()),
                                incoming(2, &format!("/time {time}")),
                            ),
                        )
                        .await;
                }
            });
            futures::future::join_all(turns).await;
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// Process CPU time (user + system) in milliseconds, from /proc (Linux only).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are the 12th and 13th fields after the command name; 100 ticks a second.
    (ticks(11) + ticks(12)) * 10.0
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// P1: everyone's question falls due at once; how close to the allowed rate do they go out?
async fn p1(rate: u32, users: i64) {
    let bench = Bench::start(
        rate,
        SenderOptions {
            messages_per_second: rate,
            ..SenderOptions::default()
        },
    )
    .await;
    bench.onboard(10_000, users, "09:00").await;
    bench.clock.set("2026-03-02T09:00:00Z".parse().unwrap());
    bench.service.schedule_changed().notify_one();
    let started = Instant::now();
    while bench.fake.send_times().len() < users as usize {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "questions stopped going out"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let times = bench.fake.send_times();
    let (first, last) = (times[0].0, times[times.len() - 1].0);
    let achieved = (times.len() - 1) as f64 / last.duration_since(first).as_secs_f64();
    println!(
        "P1 at {rate}/s: {} questions in {:.2} s from the first to the last, {achieved:.1} a second = {:.1}% of the rate, {} sends over the flood limits",
        times.len(),
        last.duration_since(first).as_secs_f64(),
        achieved / f64::from(rate) * 100.0,
        bench.fake.flood_refusals()
    );
    bench.stop().await;
}

/// P3: many people write at once, with the rate raised: replies kept durably and acknowledged.
async fn p3(users: i64) {
    let bench = Bench::start(
        1000,
        SenderOptions {
            messages_per_second: 1000,
            ..SenderOptions::default()
        },
    )
    .await;
    bench.onboard(10_000, users, "21:00").await;
    let cpu_before = cpu_ms();
    let started = Instant::now();
    for user in 10_000..10_000 + users {
        bench
            .fake
            .user_sends_text(user, user, "We talked about the kids and the bills again.");
    }
    let mut acknowledged = 0;
    for user in 10_000..10_000 + users {
        if bench
            .fake
            .next_message(user, Duration::from_secs(120))
            .await
            .is_some()
        {
            acknowledged += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_ms() - cpu_before;
    println!(
        "P3 at 1000/s: {acknowledged} replies kept and acknowledged in {elapsed:.2} s = {:.0} a second; \
         {:.2} ms of CPU per reply (the whole process: bot, store and the fake server), {} sends over the flood limits",
        f64::from(acknowledged) / elapsed,
        cpu / f64::from(acknowledged),
        bench.fake.flood_refusals()
    );
    bench.stop().await;
}

/// P5: 10,000 questions drain at 30/s while 50 other people write; how long do they wait?
async fn p5(questions: i64, writers: i64, window: Duration) {
    let bench = Bench::start(30, SenderOptions::default()).await;
    bench.onboard(10_000, questions, "09:00").await;
    bench.onboard(50_000, writers, "21:00").await;
    bench.clock.set("2026-03-02T09:00:00Z".parse().unwrap());
    bench.service.schedule_changed().notify_one();
    while bench.fake.send_times().len() < 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fake = Arc::clone(&bench.fake);
    let spacing = window / u32::try_from(writers).unwrap();
    let waits = (0..writers).map(|n| {
        let fake = Arc::clone(&fake);
        async move {
            tokio::time::sleep(spacing * u32::try_from(n).unwrap()).await;
            let user = 50_000 + n;
            let sent = Instant::now();
            fake.user_sends_text(user, user, "Something I noticed this morning.");
            fake.next_message(user, Duration::from_secs(60))
                .await
                .map(|_| sent.elapsed())
        }
    });
    let mut waited: Vec<Duration> = futures::future::join_all(waits)
        .await
        .into_iter()
        .flatten()
        .collect();
    waited.sort();
    let questions_sent = bench
        .fake
        .send_times()
        .iter()
        .filter(|(_, chat)| *chat < 50_000)
        .count();
    println!(
        "P5: while {questions} questions drained at 30/s ({questions_sent} sent so far), {} of {writers} replies acknowledged: \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {} sends over the flood limits",
        waited.len(),
        percentile(&waited, 0.5).as_secs_f64() * 1000.0,
        percentile(&waited, 0.99).as_secs_f64() * 1000.0,
        waited.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        bench.fake.flood_refusals()
    );
    bench.stop().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::var("BENCH_QUICK").is_ok();
    let started = Utc::now();
    p1(30, if quick { 300 } else { 1_500 }).await;
    p1(1000, if quick { 2_000 } else { 10_000 }).await;
    p3(if quick { 500 } else { 2_000 }).await;
    p5(10_000, 50, Duration::from_secs(if quick { 20 } else { 60 })).await;
    println!("all in {:.0} s", (Utc::now() - started).num_seconds());
}
