//! Speed and memory figures for the parts that grow with users: replies kept durably, the
//! scheduler's tick, the recap, and the safety detector. Run with `cargo bench --bench throughput`
//! and record the figures in BENCHMARKS.md.

use std::{sync::Arc, time::Instant};

use chrono::Duration;
use crossroads::{
    clock::{Clock, ManualClock},
    service::Service,
};
use crossroads_core::{
    command::Command,
    event::{Chat, Event, Incoming},
    fixtures, safety,
    voice::Settings,
};

fn settings() -> Settings {
    Settings {
        retention_days: 365,
        ..fixtures::settings()
    }
}

fn service(dir: &std::path::Path, clock: &ManualClock) -> Arc<Service> {
    Service::for_tests(dir, settings(), clock)
}

fn message(id: i32, clock: &ManualClock, text: &str) -> Incoming {
    Incoming {
        message_id: id,
        sent_at: clock.now(),
        text: text.into(),
        reply_to: None,
    }
}

/// Resident set size in MiB, from /proc (Linux only; 0 elsewhere).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| {
                    line.split_whitespace()
                        .nth(1)
                        .and_then(|kib| kib.parse::<f64>().ok())
                })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users: i64 = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new("2026-03-02T07:00:00Z".parse().unwrap());
    let service = service(dir.path(), &clock);
    println!("users: {users}");

    // Onboarding: every user sends /start (profile + due index entry, flushed).
    let started = Instant::now();
    let tasks: Vec<_> = (0..users)
        .map(|user| {
            let service = Arc::clone(&service);
            let start = message(1, &clock, "/start");
            tokio::spawn(async move {
                service
                    .handle(Chat::Private(user), Event::Command(Command::Start, start))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "onboarding: {users} users in {:.2?} ({:.0} per second), {} flushes",
        elapsed,
        users as f64 / elapsed.as_secs_f64(),
        service.store().flush_count()
    );

    // A scheduler tick with nobody due reads one index key, however many users there are.
    let started = Instant::now();
    let rounds = 1_000;
    for _ in 0..rounds {
        assert_eq!(service.take_due(clock.now(), 500).await.unwrap(), 0);
    }
    println!(
        "idle scheduler tick: {:.1?} each",
        started.elapsed() / rounds
    );

    // Everyone's question falls due at 09:00: the tick handles them in batches of 100.
    clock.set("2026-03-02T09:00:00Z".parse().unwrap());
    let flushes_before = service.store().flush_count();
    let started = Instant::now();
    let mut sent = 0;
    loop {
        let batch = service.take_due(clock.now(), 100).await.unwrap();
        if batch == 0 {
            break;
        }
        sent += batch;
    }
    let elapsed = started.elapsed();
    println!(
        "due questions: {sent} in {:.2?} ({:.0} per second), {} flushes",
        elapsed,
        sent as f64 / elapsed.as_secs_f64(),
        service.store().flush_count() - flushes_before
    );

    // Everyone replies at once: each reply is durable before it is acknowledged.
    clock.advance(Duration::minutes(30));
    let flushes_before = service.store().flush_count();
    let started = Instant::now();
    let tasks: Vec<_> = (0..users)
        .map(|user| {
            let service = Arc::clone(&service);
            let reply = message(
                2,
                &clock,
                "It shifted after the move. We became a team that runs a house, not a couple.",
            );
            tokio::spawn(async move {
                service
                    .handle(Chat::Private(user), Event::Text(reply))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let flushes = service.store().flush_count() - flushes_before;
    println!(
        "concurrent replies: {users} in {:.2?} ({:.0} per second), {flushes} flushes ({:.1} replies per flush)",
        elapsed,
        users as f64 / elapsed.as_secs_f64(),
        users as f64 / flushes.max(1) as f64
    );

    // A heavy week for one user: 7 days, 10 long entries a day, then /recap.
    let heavy = users + 1;
    let mut id = 10;
    for _ in 0..7 {
        for _ in 0..10 {
            id += 1;
            service
                .handle(
                    Chat::Private(heavy),
                    Event::Text(message(id, &clock, &"words ".repeat(600))),
                )
                .await;
        }
        clock.advance(Duration::days(1));
    }
    let started = Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        let recap = message(id + 1, &clock, "/recap");
        service
            .handle(Chat::Private(heavy), Event::Command(Command::Recap, recap))
            .await;
    }
    println!(
        "recap of 70 entries of 3,600 characters: {:.1?} each",
        started.elapsed() / rounds
    );

    // The safety detector (rules and model) over a realistic mix: the first release's corpora
    // and one writer's, short messages and long replies. The first call loads the model.
    let data = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = ["ordinary.txt", "advice.txt", "crisis.txt"]
        .iter()
        .map(|file| format!("{data}/{file}"))
        .collect();
    for entry in std::fs::read_dir(format!("{data}/writers/w1")).unwrap() {
        files.push(entry.unwrap().path().display().to_string());
    }
    files.sort();
    let corpus: Vec<String> = files
        .iter()
        .flat_map(|file| {
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let started = Instant::now();
    std::hint::black_box(safety::read("the first message after a start"));
    println!(
        "safety model load (first message): {:.1?}",
        started.elapsed()
    );
    let rules_started = Instant::now();
    for text in &corpus {
        std::hint::black_box(safety::rules_only(text));
    }
    println!(
        "safety rules alone: {:.1?} per message",
        rules_started.elapsed() / corpus.len() as u32
    );
    let mut times: Vec<std::time::Duration> = Vec::with_capacity(corpus.len() * 5);
    for _ in 0..5 {
        for text in &corpus {
            let started = Instant::now();
            std::hint::black_box(safety::read(text));
            times.push(started.elapsed());
        }
    }
    times.sort();
    let at = |share: f64| times[((times.len() as f64 * share) as usize).min(times.len() - 1)];
    println!(
        "safety rules and model: p50 {:.1?}, p99 {:.1?}, max {:.1?} per message ({} messages)",
        at(0.50),
        at(0.99),
        times[times.len() - 1],
        corpus.len()
    );

    println!(
        "resident memory at the end: {:.0} MiB (sled cache capped at 16 MiB)",
        rss_mib()
    );
}
