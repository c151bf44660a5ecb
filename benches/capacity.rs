//! Capacity on a small server (1 vCPU / 1 GiB): memory, disk and the daily purge at 100,000
//! users and 1,000,000 entries of about 200 characters, measured from outside with the store and
//! service APIs. Run with `cargo bench --bench capacity` and record the figures in BENCHMARKS.md.
//!
//! Each phase runs in its own child process (this same binary, `--phase NAME DIR`), so that each
//! peak of resident memory (VmHWM) is that phase's own; inside a phase the peak is reset through
//! `/proc/self/clear_refs` before the part measured. Sizes and sled's levers come from the
//! environment:
//!
//! - `CAPACITY_QUICK=1`: 10,000 users and 100,000 entries, shorter phases;
//! - `CAPACITY_USERS`, `CAPACITY_ENTRIES`, `CAPACITY_DAYS` (400), `CAPACITY_WRITE_SECS` (60);
//! - `CAPACITY_CACHE_MB` (the bot's default, 16), `CAPACITY_SEGMENT_KB`, `CAPACITY_COMPRESSION=1`,
//!   `CAPACITY_FLUSH_MS` (0 turns sled's own flusher off), `CAPACITY_MODE=fast|small`;
//! - `CAPACITY_PHASES`: a comma-separated subset of
//!   `load,steady,writes,purge,outage,crash` (all by default);
//! - `CAPACITY_DIR`: where the databases go (a temporary folder by default);
//! - `CAPACITY_KEEP=DIR`: a copy of the loaded database is left there; `CAPACITY_FROM=DIR`
//!   starts from such a copy instead of loading (for the levers a database can change).
//!
//! The load writes profiles and entries straight through `Store::apply`, one change per record
//! as the service writes them, with a durable flush every 2,000 records: the service's own path
//! (the safety detector and a flush per burst of replies) would take hours for a million entries.
//! The sustained writes, the purges' concurrent replies and the crash use `Service::handle`.

use std::{
    collections::BTreeMap,
    io::{BufRead, Write},
    path::{Path, PathBuf},
    process::{Command as Process, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    time::{Duration as StdDuration, Instant},
};

use chrono::{DateTime, Duration, NaiveTime, Utc};
use crossroads::{
    clock::{Clock, ManualClock},
    service::Service,
};
use crossroads_core::{
    command::Command,
    content::Catalog,
    event::{Chat, Event, Incoming},
    fixtures,
    model::{Entry, Profile},
    voice::Settings,
};
use crossroads_store::{Change, EngineTuning, Store, StoreOptions};

/// The moment the loaded history ends; entries go back `days` from it.
const HISTORY_END: &str = "2027-06-01T00:00:00Z";
const KEY_HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Sizes {
    users: i64,
    entries: u64,
    days: i64,
    write_secs: u64,
    quick: bool,
}

fn env_num<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
}

fn sizes() -> Sizes {
    let quick = std::env::var("CAPACITY_QUICK").is_ok_and(|value| value == "1");
    Sizes {
        users: env_num("CAPACITY_USERS").unwrap_or(if quick { 10_000 } else { 100_000 }),
        entries: env_num("CAPACITY_ENTRIES").unwrap_or(if quick { 100_000 } else { 1_000_000 }),
        days: env_num("CAPACITY_DAYS").unwrap_or(400),
        write_secs: env_num("CAPACITY_WRITE_SECS").unwrap_or(if quick { 10 } else { 60 }),
        quick,
    }
}

fn cache_mb() -> u64 {
    env_num("CAPACITY_CACHE_MB")
        .unwrap_or_else(|| crossroads::config::StorageConfig::default().cache_capacity_mb)
}

fn tuning() -> EngineTuning {
    let mut tuning = EngineTuning::default();
    if let Some(kib) = env_num::<usize>("CAPACITY_SEGMENT_KB") {
        tuning.segment_size = kib * 1024;
    }
    if std::env::var("CAPACITY_COMPRESSION").is_ok_and(|value| value == "1") {
        tuning.use_compression = true;
    }
    if let Some(ms) = env_num::<u64>("CAPACITY_FLUSH_MS") {
        tuning.flush_every_ms = (ms > 0).then_some(ms);
    }
    match std::env::var("CAPACITY_MODE").as_deref() {
        Ok("fast") => tuning.high_throughput = true,
        Ok("small") => tuning.high_throughput = false,
        _ => {}
    }
    tuning
}

fn open_store(dir: &Path) -> Store {
    let options = StoreOptions {
        path: dir.join("db"),
        key_file: dir.join("unused.key"),
        key_from_env: Some(KEY_HEX.to_owned()),
        cache_capacity_bytes: cache_mb() * 1024 * 1024,
    };
    Store::open_tuned(&options, &tuning()).expect("the bench's store opens")
}

fn settings(retention_days: u32) -> Settings {
    Settings {
        retention_days,
        default_zone: "UTC".parse().expect("UTC is a zone"),
        ..fixtures::settings()
    }
}

fn service(store: Store, clock: &ManualClock, retention_days: u32) -> Arc<Service> {
    Arc::new(Service::new(
        Arc::new(store),
        Catalog::builtin().expect("the built-in dialogues are valid"),
        settings(retention_days),
        Arc::new(clock.clone()),
    ))
}

fn history_end() -> DateTime<Utc> {
    HISTORY_END.parse().expect("a valid instant")
}

/// A small deterministic generator: the same data on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "we",
    "talked",
    "about",
    "the",
    "house",
    "again",
    "and",
    "I",
    "felt",
    "far",
    "away",
    "from",
    "him",
    "tonight",
    "it",
    "was",
    "quiet",
    "kids",
    "asleep",
    "tired",
    "but",
    "honest",
    "maybe",
    "next",
    "week",
    "something",
    "shifted",
    "when",
    "laughed",
    "remember",
    "used",
    "to",
    "walk",
    "together",
    "after",
    "dinner",
    "now",
    "phones",
    "instead",
    "of",
    "words",
    "still",
    "care",
];

/// About 200 characters of ordinary words.
fn text(rng: &mut Rng) -> String {
    let mut text = String::with_capacity(220);
    while text.len() < 200 {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Measuring from outside.

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_mib() -> f64 {
    status_kib("VmRSS:") as f64 / 1024.0
}

fn peak_mib() -> f64 {
    status_kib("VmHWM:") as f64 / 1024.0
}

/// Sets the peak to the current resident size, so the next peak read is of what follows.
fn reset_peak() {
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        eprintln!("cannot reset VmHWM: peaks include everything before");
    }
}

/// Bytes of every file under `dir`, as their lengths and as blocks allocated.
fn disk_bytes(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = (0, 0);
    if let Ok(read) = std::fs::read_dir(dir) {
        for item in read.flatten() {
            let Ok(meta) = item.metadata() else { continue };
            if meta.is_dir() {
                let (len, blocks) = disk_bytes(&item.path());
                total.0 += len;
                total.1 += blocks;
            } else {
                total.0 += meta.len();
                total.1 += meta.blocks() * 512;
            }
        }
    }
    total
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A figure for the summary: the parent reads these lines from each phase.
fn report(key: &str, value: impl std::fmt::Display) {
    println!("RESULT {key} {value}");
    let _ = std::io::stdout().flush();
}

fn percentiles(times: &mut [StdDuration]) -> (f64, f64, f64) {
    if times.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    times.sort();
    let at = |share: f64| {
        times[((times.len() as f64 * share) as usize).min(times.len() - 1)].as_secs_f64() * 1e3
    };
    (at(0.50), at(0.99), at(1.0))
}

// ---------------------------------------------------------------------------------------------
// Phases.

fn runtime() -> tokio::runtime::Runtime {
    // The target server has one core; two workers keep the bench's own tasks from queueing.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Profiles, then entries in the order they were written (day by day, users interleaved).
async fn load(dir: &Path) {
    let sizes = sizes();
    let store = open_store(dir);
    let catalog = Catalog::builtin().expect("the built-in dialogues are valid");
    let prompt_ids: Vec<&str> = catalog.prompts.iter().map(|p| p.id.as_str()).collect();
    let end = history_end();
    let start = end - Duration::days(sizes.days);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    reset_peak();

    let started = Instant::now();
    let mut profile_json = 0;
    let mut ticket = None;
    for user in 0..sizes.users {
        let minute = rng.below(24 * 60) as u32;
        let time = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).expect("a time");
        let mut profile = Profile::new(user, start, time, "UTC".parse().expect("UTC"));
        let given = rng.below(prompt_ids.len() as u64) as usize;
        profile.rotation.given = prompt_ids[..given]
            .iter()
            .map(|id| (*id).to_owned())
            .collect();
        profile.last_prompted_on = Some((end - Duration::days(1)).date_naive());
        profile.reschedule(end);
        profile_json += serde_json::to_vec(&profile).expect("json").len();
        ticket = Some(
            store
                .apply(Change {
                    profile: Some(&profile),
                    ..Change::default()
                })
                .expect("a profile is written"),
        );
        if user % 2_000 == 1_999 {
            store
                .durable(ticket.take().expect("a ticket"))
                .await
                .expect("durable");
        }
    }
    if let Some(ticket) = ticket.take() {
        store.durable(ticket).await.expect("durable");
    }
    let profiles_took = started.elapsed();
    let (profiles_disk, _) = disk_bytes(dir);
    report(
        "load.profiles_seconds",
        format!("{:.1}", profiles_took.as_secs_f64()),
    );
    report(
        "load.profile_json_bytes",
        profile_json / sizes.users.max(1) as usize,
    );
    report(
        "load.disk_per_profile_bytes",
        profiles_disk / sizes.users.max(1) as u64,
    );

    let started = Instant::now();
    let per_day = sizes.entries / sizes.days as u64;
    let mut written = 0u64;
    let mut sealed_bytes = 0u64;
    let mut message_id = 0i32;
    for day in 0..sizes.days {
        let count = if day == sizes.days - 1 {
            sizes.entries - written
        } else {
            per_day
        };
        let mut seconds: Vec<i64> = (0..count).map(|_| rng.below(86_400) as i64).collect();
        seconds.sort_unstable();
        for second in seconds {
            message_id += 1;
            let written_at = start + Duration::days(day) + Duration::seconds(second);
            let user = rng.below(sizes.users as u64) as i64;
            let entry = Entry {
                user_id: user,
                message_id,
                written_at,
                local_date: written_at.date_naive(),
                prompt_id: (rng.below(2) == 0)
                    .then(|| prompt_ids[rng.below(prompt_ids.len() as u64) as usize].to_owned()),
                text: text(&mut rng),
                edited_at: None,
            };
            // A format byte, a 24-byte nonce and a 16-byte tag around the JSON, and a 21-byte key.
            sealed_bytes += serde_json::to_vec(&entry).expect("json").len() as u64 + 41 + 21;
            ticket = Some(
                store
                    .apply(Change {
                        entry: Some(&entry),
                        ..Change::default()
                    })
                    .expect("an entry is written"),
            );
            written += 1;
            if written.is_multiple_of(2_000) {
                store
                    .durable(ticket.take().expect("a ticket"))
                    .await
                    .expect("durable");
            }
        }
    }
    if let Some(ticket) = ticket.take() {
        store.durable(ticket).await.expect("durable");
    }
    let took = started.elapsed();
    let (disk, allocated) = disk_bytes(dir);
    report("load.entries", written);
    report("load.entries_seconds", format!("{:.1}", took.as_secs_f64()));
    report(
        "load.entries_per_second",
        format!("{:.0}", written as f64 / took.as_secs_f64()),
    );
    report(
        "load.encrypted_bytes_per_entry",
        sealed_bytes / written.max(1),
    );
    report(
        "load.disk_per_entry_bytes",
        (disk.saturating_sub(profiles_disk)) / written.max(1),
    );
    report("load.disk_mib", format!("{:.0}", mib(disk)));
    report("load.disk_allocated_mib", format!("{:.0}", mib(allocated)));
    report("load.rss_peak_mib", format!("{:.0}", peak_mib()));
    report("load.rss_end_mib", format!("{:.0}", rss_mib()));
}

/// Reopen, read every profile and every user's week, time a tick with 10 due and a warm recap.
async fn steady(dir: &Path) {
    let sizes = sizes();
    let started = Instant::now();
    let store = open_store(dir);
    report(
        "steady.open_seconds",
        format!("{:.2}", started.elapsed().as_secs_f64()),
    );
    let end = history_end();
    let clock = ManualClock::new(end);
    let service = service(store, &clock, 365);
    let store = service.store();
    reset_peak();
    let started = Instant::now();
    let mut read = 0;
    for user in 0..sizes.users {
        let _ = store.profile(user).expect("a profile");
        read += store
            .entries_between(user, end - Duration::days(7), end)
            .expect("entries")
            .len();
    }
    let counts = store.user_counts().expect("counts");
    report(
        "steady.read_seconds",
        format!("{:.1}", started.elapsed().as_secs_f64()),
    );
    report("steady.entries_read", read);
    report("steady.users_active", counts.active);
    report("steady.rss_after_reads_mib", format!("{:.0}", rss_mib()));
    report("steady.rss_peak_reads_mib", format!("{:.0}", peak_mib()));

    // A warm /recap: the second of two in a row, for 200 users.
    let mut times = Vec::new();
    for user in 0..200.min(sizes.users) {
        for round in 0..2 {
            let recap = Incoming {
                message_id: 1_000_000_000 + round,
                sent_at: clock.now(),
                text: "/recap".into(),
                reply_to: None,
            };
            let started = Instant::now();
            service
                .handle(Chat::Private(user), Event::Command(Command::Recap, recap))
                .await;
            if round == 1 {
                times.push(started.elapsed());
            }
        }
    }
    let (p50, p99, max) = percentiles(&mut times);
    report("steady.recap_warm_p50_ms", format!("{p50:.2}"));
    report("steady.recap_warm_p99_ms", format!("{p99:.2}"));
    report("steady.recap_warm_max_ms", format!("{max:.2}"));

    // Everyone is due a day later; each tick takes 10 of them, as a quiet minute would.
    clock.set(end + Duration::days(1));
    let mut times = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let taken = service.take_due(clock.now(), 10).await.expect("a tick");
        times.push(started.elapsed());
        assert_eq!(taken, 10);
    }
    let (p50, p99, max) = percentiles(&mut times);
    report("steady.tick_10_due_p50_ms", format!("{p50:.2}"));
    report("steady.tick_10_due_max_ms", format!("{max:.2}"));
    let _ = (p99, sizes.quick);
}

/// Writers that each send a note, wait for its acknowledgement, and go again.
fn spawn_writers(
    service: &Arc<Service>,
    clock: &ManualClock,
    writers: usize,
    pause: StdDuration,
    stop: &Arc<AtomicBool>,
    seed: u64,
) -> Vec<tokio::task::JoinHandle<Vec<(Instant, StdDuration)>>> {
    static MESSAGE_ID: AtomicI32 = AtomicI32::new(1_100_000_000);
    let users = sizes().users as u64;
    (0..writers)
        .map(|writer| {
            let service = Arc::clone(service);
            let clock = clock.clone();
            let stop = Arc::clone(stop);
            tokio::spawn(async move {
                let mut rng = Rng(seed + writer as u64 * 7_919 + 1);
                let mut times = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let user = rng.below(users) as i64;
                    let note = Incoming {
                        message_id: MESSAGE_ID.fetch_add(1, Ordering::Relaxed),
                        sent_at: clock.now(),
                        text: text(&mut rng),
                        reply_to: None,
                    };
                    let started = Instant::now();
                    service.handle(Chat::Private(user), Event::Text(note)).await;
                    times.push((started, started.elapsed()));
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
                times
            })
        })
        .collect()
}

/// Other people writing while something else runs: a note every `every`, each in its own
/// task and timed on its own, whether or not the ones before were answered (so that a stall
/// shows in every reply it holds up, not once per writer).
fn spawn_open_loop(
    service: &Arc<Service>,
    clock: &ManualClock,
    every: StdDuration,
    stop: &Arc<AtomicBool>,
    seed: u64,
) -> tokio::task::JoinHandle<Vec<(Instant, StdDuration)>> {
    static MESSAGE_ID: AtomicI32 = AtomicI32::new(1_300_000_000);
    let users = sizes().users as u64;
    let service = Arc::clone(service);
    let clock = clock.clone();
    let stop = Arc::clone(stop);
    tokio::spawn(async move {
        let mut rng = Rng(seed);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut replies = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            ticks.tick().await;
            let service = Arc::clone(&service);
            let user = rng.below(users) as i64;
            let note = Incoming {
                message_id: MESSAGE_ID.fetch_add(1, Ordering::Relaxed),
                sent_at: clock.now(),
                text: text(&mut rng),
                reply_to: None,
            };
            let started = Instant::now();
            replies.push(tokio::spawn(async move {
                service.handle(Chat::Private(user), Event::Text(note)).await;
                (started, started.elapsed())
            }));
        }
        let mut times = Vec::new();
        for reply in replies {
            times.push(reply.await.expect("a reply"));
        }
        times
    })
}

async fn collect(
    writers: Vec<tokio::task::JoinHandle<Vec<(Instant, StdDuration)>>>,
) -> Vec<(Instant, StdDuration)> {
    let mut all = Vec::new();
    for writer in writers {
        all.extend(writer.await.expect("a writer"));
    }
    all
}

/// People write as fast as the bot acknowledges, for a while: resident memory under writes.
async fn writes(dir: &Path) {
    let sizes = sizes();
    let store = open_store(dir);
    let clock = ManualClock::new(history_end() + Duration::hours(12));
    let service = service(store, &clock, 365);
    // The safety model loads on the first message; count it in, as the bot would.
    reset_peak();
    let stop = Arc::new(AtomicBool::new(false));
    let writers = spawn_writers(&service, &clock, 32, StdDuration::ZERO, &stop, 11);
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < StdDuration::from_secs(sizes.write_secs) {
        tokio::time::sleep(StdDuration::from_millis(250)).await;
        samples.push(rss_mib());
    }
    stop.store(true, Ordering::Relaxed);
    let mut times: Vec<StdDuration> = collect(writers).await.into_iter().map(|t| t.1).collect();
    let took = started.elapsed().as_secs_f64();
    let (disk, _) = disk_bytes(dir);
    let last_fifth = &samples[samples.len() * 4 / 5..];
    report("writes.notes", times.len());
    report(
        "writes.per_second",
        format!("{:.0}", times.len() as f64 / took),
    );
    let (p50, p99, max) = percentiles(&mut times);
    report("writes.ack_p50_ms", format!("{p50:.1}"));
    report("writes.ack_p99_ms", format!("{p99:.1}"));
    report("writes.ack_max_ms", format!("{max:.1}"));
    report("writes.rss_peak_mib", format!("{:.0}", peak_mib()));
    report(
        "writes.rss_last_fifth_mean_mib",
        format!(
            "{:.0}",
            last_fifth.iter().sum::<f64>() / last_fifth.len().max(1) as f64
        ),
    );
    report("writes.rss_end_mib", format!("{:.0}", rss_mib()));
    report("writes.disk_mib", format!("{:.0}", mib(disk)));
}

/// How often someone else writes while a purge runs: 50 notes a second, several times what
/// 100,000 users write on average.
const REPLY_EVERY: StdDuration = StdDuration::from_millis(20);

/// The retention purge with `retention_days`, while other people write a note every 20 ms
/// between them; then as many new entries as were erased, to see whether the space is used again.
async fn purge(dir: &Path, name: &str, retention_days: u32) {
    let started = Instant::now();
    let store = open_store(dir);
    report(
        &format!("{name}.open_seconds"),
        format!("{:.2}", started.elapsed().as_secs_f64()),
    );
    let (disk_before, _) = disk_bytes(dir);
    let clock = ManualClock::new(history_end() + Duration::days(1));
    let service = service(store, &clock, retention_days);
    let baseline_secs = if sizes().quick { 2 } else { 5 };

    // Replies before the purge, once the safety model has loaded with a first one.
    let first = Incoming {
        message_id: 1_000_000_000,
        sent_at: clock.now(),
        text: "the first words after a start".into(),
        reply_to: None,
    };
    service.handle(Chat::Private(0), Event::Text(first)).await;
    report(
        &format!("{name}.rss_after_open_mib"),
        format!("{:.0}", rss_mib()),
    );
    // A bot that has run for a while has read its tree and filled its cache: so does this one,
    // so that what the purge adds is the purge's own.
    let warmed = Instant::now();
    let store = service.store();
    let _ = store.user_counts().expect("counts");
    let mut entries = 0;
    for user in 0..sizes().users {
        entries += store.count_entries(user).expect("a count");
    }
    report(
        &format!("{name}.warm_up_seconds"),
        format!(
            "{:.1} ({entries} entries read)",
            warmed.elapsed().as_secs_f64()
        ),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writers = spawn_open_loop(&service, &clock, REPLY_EVERY, &stop, 23);
    tokio::time::sleep(StdDuration::from_secs(baseline_secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut before: Vec<StdDuration> = writers
        .await
        .expect("replies")
        .into_iter()
        .map(|t| t.1)
        .collect();

    let rss_before = rss_mib();
    reset_peak();
    let stop = Arc::new(AtomicBool::new(false));
    let writers = spawn_open_loop(&service, &clock, REPLY_EVERY, &stop, 29);
    let started = Instant::now();
    let purging = {
        let service = Arc::clone(&service);
        let now = clock.now();
        tokio::spawn(async move { service.purge_expired(now).await })
    };
    let purged = purging.await.expect("the purge task").expect("the purge");
    let purge_took = started.elapsed();
    let peak = peak_mib();
    stop.store(true, Ordering::Relaxed);
    let mut during: Vec<StdDuration> = writers
        .await
        .expect("replies")
        .into_iter()
        .filter(|(at, _)| at.duration_since(started) < purge_took)
        .map(|t| t.1)
        .collect();
    service.flush().await.expect("a flush");
    let (disk_after, _) = disk_bytes(dir);

    report(&format!("{name}.purged"), purged);
    report(
        &format!("{name}.seconds"),
        format!("{:.1}", purge_took.as_secs_f64()),
    );
    report(
        &format!("{name}.rss_before_mib"),
        format!("{rss_before:.0}"),
    );
    report(&format!("{name}.rss_peak_mib"), format!("{peak:.0}"));
    report(
        &format!("{name}.rss_added_mib"),
        format!("{:.0}", peak - rss_before),
    );
    let (p50, p99, max) = percentiles(&mut before);
    report(
        &format!("{name}.replies_before_ms"),
        format!(
            "p50 {p50:.1} p99 {p99:.1} max {max:.1} ({} replies)",
            before.len()
        ),
    );
    let (p50, p99, max) = percentiles(&mut during);
    report(
        &format!("{name}.replies_during_ms"),
        format!(
            "p50 {p50:.1} p99 {p99:.1} max {max:.1} ({} replies)",
            during.len()
        ),
    );
    report(
        &format!("{name}.disk_before_mib"),
        format!("{:.0}", mib(disk_before)),
    );
    report(
        &format!("{name}.disk_after_mib"),
        format!("{:.0}", mib(disk_after)),
    );

    // As many new entries as were erased: does the file grow, or take the freed space?
    let store = service.store();
    let mut rng = Rng(31);
    let mut ticket = None;
    let now = clock.now();
    for id in 0..purged {
        let entry = Entry {
            user_id: rng.below(sizes().users as u64) as i64,
            message_id: 1_500_000_000 + id as i32,
            written_at: now,
            local_date: now.date_naive(),
            prompt_id: None,
            text: text(&mut rng),
            edited_at: None,
        };
        ticket = Some(
            store
                .apply(Change {
                    entry: Some(&entry),
                    ..Change::default()
                })
                .expect("an entry"),
        );
        if id % 2_000 == 1_999 {
            store
                .durable(ticket.take().expect("a ticket"))
                .await
                .expect("durable");
        }
    }
    if let Some(ticket) = ticket {
        store.durable(ticket).await.expect("durable");
    }
    let (disk_refilled, _) = disk_bytes(dir);
    report(
        &format!("{name}.disk_after_rewriting_as_many_mib"),
        format!("{:.0}", mib(disk_refilled)),
    );
}

/// Writes acknowledged notes until killed; prints each acknowledgement.
async fn crash_writer(dir: &Path) {
    let store = open_store(dir);
    let clock = ManualClock::new(history_end() + Duration::days(2));
    let service = service(store, &clock, 365);
    let users = sizes().users as u64;
    println!("READY");
    let _ = std::io::stdout().flush();
    let tasks: Vec<_> = (0..8)
        .map(|writer| {
            let service = Arc::clone(&service);
            let clock = clock.clone();
            tokio::spawn(async move {
                let mut rng = Rng(41 + writer);
                let mut id = 1_700_000_000 + writer as i32 * 10_000_000;
                loop {
                    id += 1;
                    let user = rng.below(users) as i64;
                    let note = Incoming {
                        message_id: id,
                        sent_at: clock.now(),
                        text: text(&mut rng),
                        reply_to: None,
                    };
                    service.handle(Chat::Private(user), Event::Text(note)).await;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "ACK {user} {id}");
                    let _ = out.flush();
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// Opens after the kill, and looks for every acknowledged note.
async fn reopen(dir: &Path) {
    let acked = std::fs::read_to_string(dir.join("acked.txt")).expect("the acknowledgements");
    let started = Instant::now();
    let store = open_store(dir);
    report(
        "crash.reopen_seconds",
        format!("{:.2}", started.elapsed().as_secs_f64()),
    );
    let mut by_user: BTreeMap<i64, Vec<i32>> = BTreeMap::new();
    for line in acked.lines() {
        let mut parts = line.split_whitespace().skip(1);
        let (Some(user), Some(id)) = (parts.next(), parts.next()) else {
            continue;
        };
        by_user
            .entry(user.parse().expect("a user"))
            .or_default()
            .push(id.parse().expect("an id"));
    }
    let mut lost = 0;
    let mut checked = 0;
    for (user, ids) in by_user {
        let kept: Vec<i32> = store
            .all_entries(user)
            .expect("entries")
            .iter()
            .map(|entry| entry.message_id)
            .collect();
        for id in ids {
            checked += 1;
            if !kept.contains(&id) {
                lost += 1;
            }
        }
    }
    report("crash.acknowledged", checked);
    report("crash.lost", lost);
}

fn run_phase(name: &str, dir: &Path, extra: Option<&str>) {
    let runtime = runtime();
    runtime.block_on(async {
        match name {
            "load" => load(dir).await,
            "steady" => steady(dir).await,
            "writes" => writes(dir).await,
            "purge" => {
                let days = extra.and_then(|d| d.parse().ok()).expect("retention days");
                purge(dir, &format!("purge_{days}d"), days).await;
            }
            "crash-writer" => crash_writer(dir).await,
            "reopen" => reopen(dir).await,
            other => panic!("no phase {other}"),
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The parent: runs each phase in a child and gathers the figures.

fn child(phase: &str, dir: &Path, extra: Option<&str>) -> Process {
    let mut command = Process::new(std::env::current_exe().expect("this binary"));
    command.arg("--phase").arg(phase).arg(dir);
    if let Some(extra) = extra {
        command.arg(extra);
    }
    command
}

fn run_child(phase: &str, dir: &Path, extra: Option<&str>, results: &mut Vec<(String, String)>) {
    let started = Instant::now();
    eprintln!("== {phase} {}", extra.unwrap_or(""));
    let output = child(phase, dir, extra)
        .stderr(Stdio::inherit())
        .output()
        .expect("a phase runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("RESULT ") {
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            eprintln!("   {key}: {value}");
            results.push((key.to_owned(), value.to_owned()));
        }
    }
    assert!(output.status.success(), "phase {phase} failed");
    eprintln!("   ({:.0} s)", started.elapsed().as_secs_f64());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for item in std::fs::read_dir(from).expect("a folder").flatten() {
        let target = to.join(item.file_name());
        if item.metadata().expect("metadata").is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).expect("a copy");
        }
    }
}

/// Kills a writer mid-write (SIGKILL), then reopens and checks every acknowledgement.
fn crash(dir: &Path, results: &mut Vec<(String, String)>) {
    eprintln!("== crash: kill -9 while writing");
    let mut writer = child("crash-writer", dir, None)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the writer starts");
    let stdout = writer.stdout.take().expect("its output");
    let reading = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("ACK ") {
                acked.push(line);
            }
        }
        acked
    });
    std::thread::sleep(StdDuration::from_secs(4));
    writer.kill().expect("SIGKILL");
    let _ = writer.wait();
    let acked = reading.join().expect("the reader");
    std::fs::write(dir.join("acked.txt"), acked.join("\n")).expect("written");
    run_child("reopen", dir, None, results);
}

fn main() {
    // As the bot's own main does, so each phase measures the allocator the bot runs with.
    crossroads::memory::limit_allocator_arenas();
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--phase") {
        let name = &args[at + 1];
        let dir = PathBuf::from(&args[at + 2]);
        run_phase(name, &dir, args.get(at + 3).map(String::as_str));
        return;
    }

    let sizes = sizes();
    let phases: Vec<String> = std::env::var("CAPACITY_PHASES")
        .unwrap_or_else(|_| "load,steady,writes,purge,outage,crash".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let wants = |phase: &str| phases.iter().any(|p| p == phase);
    let temp = tempfile::Builder::new()
        .prefix("capacity-")
        .tempdir_in(
            std::env::var("CAPACITY_DIR")
                .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
        )
        .expect("a folder");
    let main_dir = temp.path().join("main");
    let outage_dir = temp.path().join("outage");
    std::fs::create_dir_all(&main_dir).expect("a folder");
    eprintln!(
        "capacity: {} users, {} entries over {} days, cache {} MiB, {:?}",
        sizes.users,
        sizes.entries,
        sizes.days,
        cache_mb(),
        tuning()
    );
    let started = Instant::now();
    let mut results = Vec::new();
    match std::env::var("CAPACITY_FROM") {
        // A database loaded by an earlier run, for levers that need no new load (the cache,
        // the flush interval, the mode).
        Ok(from) => copy_dir(Path::new(&from), &main_dir),
        Err(_) if wants("load") => run_child("load", &main_dir, None, &mut results),
        Err(_) => {}
    }
    if let Ok(keep) = std::env::var("CAPACITY_KEEP") {
        copy_dir(&main_dir, Path::new(&keep));
    }
    for phase in ["steady", "writes"] {
        if wants(phase) {
            run_child(phase, &main_dir, None, &mut results);
        }
    }
    if wants("outage") {
        copy_dir(&main_dir, &outage_dir);
    }
    if wants("purge") {
        // 365 days kept of 400: the daily purge's first run after a long history.
        run_child("purge", &main_dir, Some("365"), &mut results);
    }
    if wants("outage") {
        // A lowered retention (or a purge after a long outage): half of everything at once.
        run_child("purge", &outage_dir, Some("200"), &mut results);
        let _ = std::fs::remove_dir_all(&outage_dir);
    }
    if wants("crash") {
        crash(&main_dir, &mut results);
    }
    println!(
        "\ncapacity: {} users, {} entries, cache {} MiB, {:?}",
        sizes.users,
        sizes.entries,
        cache_mb(),
        tuning()
    );
    for (key, value) in &results {
        println!("{key:40} {value}");
    }
    println!("total: {:.0} s", started.elapsed().as_secs_f64());
}
