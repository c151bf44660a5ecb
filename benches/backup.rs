//! What backups and key rotation cost on a large store: by default 10,000 users and 100,000
//! replies of about 200 characters (`BENCH_USERS`, `BENCH_ENTRIES` for others). Measures a
//! backup taken while writers keep writing (how long it takes, how long writers waited, the
//! file's size), a restore, and a key rotation (time and peak memory). Run with
//! `cargo bench --bench backup` and record the figures in BENCHMARKS.md. With `BENCH_KEEP=DIR`
//! the database is left in `DIR` with a `config.toml` for it, to time the commands themselves
//! (`/usr/bin/time -v crossroads rotate-key --config DIR/config.toml --new-key-file …`).

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{NaiveTime, TimeZone, Utc};
use crossroads_core::model::{Entry, Profile};
use crossroads_store::{Change, SecretKey, Store, StoreOptions};

fn options(path: &Path, key_file: &Path) -> StoreOptions {
    StoreOptions {
        path: path.to_owned(),
        key_file: key_file.to_owned(),
        key_from_env: None,
        cache_capacity_bytes: 64 * 1024 * 1024,
    }
}

/// A field of /proc/self/status in MiB (Linux only; 0 elsewhere).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Resets the peak resident size, so the next reading is the peak of what follows.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn folder_mib(path: &Path) -> f64 {
    fn bytes(path: &Path) -> u64 {
        std::fs::read_dir(path).map_or(0, |entries| {
            entries
                .flatten()
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => bytes(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
    }
    bytes(path) as f64 / 1_048_576.0
}

const WORDS: &str = "Some evenings I sit in the car a little longer before going in, and I am not sure \
                     what I am waiting for. We talked about the holidays and it felt like planning with \
                     a colleague. ";

fn reply(user: i64, message: i32) -> Entry {
    let written_at = Utc
        .timestamp_opt(1_780_000_000 + i64::from(message) * 86_400, 0)
        .unwrap();
    Entry {
        user_id: user,
        message_id: message,
        written_at,
        local_date: written_at.date_naive(),
        prompt_id: Some("buried-love-01".into()),
        text: format!(
            "{user}/{message}: {}",
            WORDS.chars().cycle().take(190).collect::<String>()
        ),
        edited_at: None,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users: i64 = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let entries: i64 = std::env::var("BENCH_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let per_user = (entries / users).max(1) as i32;
    let temporary = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("BENCH_KEEP").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temporary.path());
    std::fs::create_dir_all(dir).unwrap();
    let storage = dir.join("crossroads.sled");
    let key_file = dir.join("crossroads.key");
    std::fs::write(&key_file, SecretKey::generate().to_hex()).unwrap();
    println!(
        "users: {users}, replies: {} of about 200 characters",
        users * i64::from(per_user)
    );

    let store = Arc::new(Store::open(&options(&storage, &key_file)).unwrap());
    let started = Instant::now();
    for user in 0..users {
        let profile = Profile::new(
            user,
            Utc::now(),
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            "Europe/Paris".parse().unwrap(),
        );
        store
            .apply(Change {
                profile: Some(&profile),
                ..Change::default()
            })
            .unwrap();
        for message in 0..per_user {
            store
                .apply(Change {
                    entry: Some(&reply(user, message)),
                    ..Change::default()
                })
                .unwrap();
        }
    }
    store.flush().await.unwrap();
    println!(
        "written in {:.1} s; database {:.0} MiB on disk",
        started.elapsed().as_secs_f64(),
        folder_mib(&storage)
    );

    // Writers keep writing, each waiting for durability as the service does; the longest any
    // single write waited is what a user would feel.
    let stop = Arc::new(AtomicBool::new(false));
    let slowest_us = Arc::new(AtomicU64::new(0));
    let written = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let (store, stop, slowest_us, written) = (
                Arc::clone(&store),
                Arc::clone(&stop),
                Arc::clone(&slowest_us),
                Arc::clone(&written),
            );
            tokio::spawn(async move {
                let mut message = 1_000_000;
                while !stop.load(Ordering::SeqCst) {
                    message += 1;
                    let entry = reply(writer, message);
                    let started = Instant::now();
                    let ticket = store
                        .apply(Change {
                            entry: Some(&entry),
                            ..Change::default()
                        })
                        .unwrap();
                    store.durable(ticket).await.unwrap();
                    slowest_us.fetch_max(started.elapsed().as_micros() as u64, Ordering::SeqCst);
                    written.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let slowest_before = slowest_us.swap(0, Ordering::SeqCst);
    let before = written.load(Ordering::SeqCst);
    reset_peak();
    let backup_path = dir.join("bench.backup");
    let report = {
        let (store, path) = (Arc::clone(&store), backup_path.clone());
        tokio::task::spawn_blocking(move || store.backup_to(&path))
            .await
            .unwrap()
            .unwrap()
    };
    let backup_peak = status_mib("VmHWM:");
    let during = written.load(Ordering::SeqCst) - before;
    let slowest_during = slowest_us.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    println!(
        "backup while 8 writers write: {:.2} s, writers paused {:.0} ms, {} records ({} entries), \
         {:.1} MiB; {during} writes went through during it; the slowest write waited {:.0} ms \
         (before the backup: {:.0} ms); peak resident {backup_peak:.0} MiB",
        report.took.as_secs_f64(),
        report.writers_paused.as_secs_f64() * 1000.0,
        report.records,
        report.entries,
        report.bytes as f64 / 1_048_576.0,
        slowest_during as f64 / 1000.0,
        slowest_before as f64 / 1000.0,
    );
    drop(store);

    let restored = dir.join("restored/crossroads.sled");
    reset_peak();
    let restore = Store::restore_from(&options(&restored, &key_file), &backup_path).unwrap();
    println!(
        "restore: {:.2} s, {} entries; peak resident {:.0} MiB",
        restore.took.as_secs_f64(),
        restore.entries,
        status_mib("VmHWM:")
    );

    let new_key = dir.join("new.key");
    reset_peak();
    let rss_before = status_mib("VmRSS:");
    let rotation = Store::rotate_key(&options(&storage, &key_file), &new_key).unwrap();
    println!(
        "rotation: {:.2} s, {} records re-encrypted of {}; peak resident {:.0} MiB (from {rss_before:.0} MiB before)",
        rotation.took.as_secs_f64(),
        rotation.resealed,
        rotation.records,
        status_mib("VmHWM:")
    );
    let reopened = Store::open(&options(&storage, &new_key)).unwrap();
    assert_eq!(
        reopened.all_entries(users - 1).unwrap().len(),
        per_user as usize
    );
    if kept.is_some() {
        std::fs::write(
            dir.join("config.toml"),
            "[practice]\nname = \"Bench\"\nbooking_url = \"https://example.com\"\n\
             [storage]\npath = \"crossroads.sled\"\n[privacy]\nkey_file = \"new.key\"\n",
        )
        .unwrap();
        println!("kept in {}", dir.display());
    }
}
