//! The session brief for a user with a year of entries: how large the file is and how long it
//! takes to make, through the real service and an encrypted store (reading the entries
//! included). Run with `cargo bench --bench brief` (`BENCH_ENTRIES` for another number of
//! entries, `BENCH_CHARS` for their length) and record the figures in BENCHMARKS.md.

use std::time::Instant;

use chrono::Duration;
use crossroads::{
    clock::{Clock, ManualClock},
    service::Service,
};
use crossroads_core::{
    command::Command,
    content::Catalog,
    event::{Chat, Event, Incoming},
    fixtures,
    model::Entry,
    reply::Outbound,
};

fn from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let entries = from_env("BENCH_ENTRIES", 365);
    let chars = from_env("BENCH_CHARS", 400);
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new("2027-03-01T12:00:00Z".parse().unwrap());
    let service = Service::for_tests(dir.path(), fixtures::settings(), &clock);
    let catalog = Catalog::builtin().unwrap();
    let user = 1001;
    service
        .handle(
            Chat::Private(user),
            Event::Command(Command::Start, message(1, &clock, "/start")),
        )
        .await;
    let words: String = "We talked a little <tonight> & it felt 🙂 calmer. "
        .chars()
        .cycle()
        .take(chars)
        .collect();
    let start = clock.now() - Duration::days(entries as i64);
    for day in 0..entries {
        let written_at = start + Duration::hours(24 * day as i64);
        let entry = Entry {
            user_id: user,
            message_id: 100 + day as i32,
            written_at,
            local_date: written_at.date_naive(),
            prompt_id: (day % 5 != 4)
                .then(|| catalog.prompts[day % catalog.prompts.len()].id.clone()),
            text: words.clone(),
            edited_at: None,
        };
        service
            .store()
            .apply(crossroads_store::Change {
                entry: Some(&entry),
                ..Default::default()
            })
            .unwrap();
    }

    let runs = 20;
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for run in 0..runs {
        let started = Instant::now();
        let outbound = service
            .handle(
                Chat::Private(user),
                Event::Command(Command::Brief, message(2 + run as i32, &clock, "/brief")),
            )
            .await;
        times.push(started.elapsed());
        if let Some(Outbound::Document(document)) = outbound.first() {
            size = document.bytes.len();
        }
    }
    times.sort();
    println!(
        "brief: {entries} entries of {chars} characters -> {:.1} KiB; median {:.2} ms, slowest {:.2} ms ({runs} runs)",
        size as f64 / 1024.0,
        times[runs / 2].as_secs_f64() * 1000.0,
        times[runs - 1].as_secs_f64() * 1000.0,
    );
}

fn message(id: i32, clock: &ManualClock, text: &str) -> Incoming {
    Incoming {
        message_id: id,
        sent_at: clock.now(),
        text: text.into(),
        reply_to: None,
    }
}
