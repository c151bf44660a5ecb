//! Backups, restores and key rotation through the real binary, as an operator runs them: words
//! written in the terminal chat, `crossroads backup`, `restore` elsewhere (refused when the
//! path is not empty, or the key is another), `rotate-key` and a start with the new key; and a
//! rotation killed with SIGKILL at many moments, after which the database must open with the
//! old key or the new one, with every entry readable.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Output, Stdio},
    time::{Duration, Instant},
};

use chrono::{TimeZone, Utc};
use crossroads::transport::terminal::LOCAL_USER;
use crossroads_core::model::{Entry, UserId};
use crossroads_store::{Change, SecretKey, Store, StoreError, StoreOptions};

#[path = "support/binary.rs"]
mod binary;

use binary::{crossroads, text, typed_into};

fn run(args: &[&str]) -> Output {
    crossroads(args).output().unwrap()
}

fn chat(data_dir: &Path, input: &str, key: Option<&str>) -> Output {
    let mut command = crossroads(&["chat", "--data-dir", data_dir.to_str().unwrap()]);
    if let Some(key) = key {
        command.env("CROSSROADS_KEY", key);
    }
    typed_into(command, input)
}

/// A config whose database and key are where `chat --data-dir` keeps them.
fn config_for(dir: &Path, name: &str, storage: &Path, key_file: &Path) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "[practice]\nname = \"P\"\nbooking_url = \"https://example.com/book\"\n\
             [storage]\npath = {:?}\n[privacy]\nkey_file = {:?}\n",
            storage.to_str().unwrap(),
            key_file.to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

fn options(storage: &Path, key_file: &Path) -> StoreOptions {
    StoreOptions {
        path: storage.to_owned(),
        key_file: key_file.to_owned(),
        key_from_env: None,
        cache_capacity_bytes: 8 * 1024 * 1024,
    }
}

fn words_in(store: &Store, user: UserId) -> BTreeSet<String> {
    store
        .all_entries(user)
        .unwrap()
        .into_iter()
        .map(|entry| entry.text)
        .collect()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn back_up_restore_elsewhere_and_rotate_the_key_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let words: Vec<String> = (0..30)
        .map(|i| format!("word {i:02}: what I could not say aloud"))
        .collect();
    let input = format!("/start\n/prompt\n{}\n", words.join("\n"));
    let wrote = chat(&data, &input, None);
    assert!(wrote.status.success(), "{}", text(&wrote.stderr));
    let written: BTreeSet<String> = words.iter().cloned().collect();

    let storage = data.join("crossroads.sled");
    let key_file = data.join("crossroads.key");
    let config = config_for(dir.path(), "config.toml", &storage, &key_file);
    let config = path_arg(&config);

    // A stopped bot's backup.
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let backup = backups.join("one.backup");
    let done = run(&["backup", "--config", config, "--out", path_arg(&backup)]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let said = text(&done.stdout);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.starts_with("wrote ") && said.contains("30 entries"),
        "{said}"
    );
    let again = run(&["backup", "--config", config, "--out", path_arg(&backup)]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );

    // Restored elsewhere, with the same key.
    let restored = dir.path().join("restored/crossroads.sled");
    let elsewhere = config_for(dir.path(), "elsewhere.toml", &restored, &key_file);
    let elsewhere = path_arg(&elsewhere);
    let done = run(&[
        "restore",
        "--config",
        elsewhere,
        "--from",
        path_arg(&backup),
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let said = text(&done.stdout);
    assert!(said.starts_with("restored 30 entries"), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");
    {
        let copy = Store::open(&options(&restored, &key_file)).unwrap();
        assert_eq!(words_in(&copy, LOCAL_USER), written, "every word, restored");
        assert!(copy.profile(LOCAL_USER).unwrap().is_some());
    }
    // Not over a database.
    let refused = run(&[
        "restore",
        "--config",
        elsewhere,
        "--from",
        path_arg(&backup),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let message = text(&refused.stderr);
    assert!(message.contains("not empty"), "{message}");
    assert!(message.contains(path_arg(&restored)), "{message}");
    // Not with another key.
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, SecretKey::generate().to_hex()).unwrap();
    let third = dir.path().join("third/crossroads.sled");
    let wrong = config_for(dir.path(), "wrong.toml", &third, &other_key);
    let refused = run(&[
        "restore",
        "--config",
        path_arg(&wrong),
        "--from",
        path_arg(&backup),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("another key"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!third.exists());
    // Not a truncated file.
    let bytes = std::fs::read(&backup).unwrap();
    let truncated = backups.join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let third_config = config_for(dir.path(), "third.toml", &third, &key_file);
    let refused = run(&[
        "restore",
        "--config",
        path_arg(&third_config),
        "--from",
        path_arg(&truncated),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("truncated"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!third.exists());

    // Key rotation.
    let new_key = data.join("new.key");
    let done = run(&[
        "rotate-key",
        "--config",
        config,
        "--new-key-file",
        path_arg(&new_key),
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let said = text(&done.stdout);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("re-encrypted") && said.contains("30 entries"),
        "{said}"
    );
    let new_key_hex = std::fs::read_to_string(&new_key).unwrap();
    // The old key no longer opens it, and the bot says which file to use.
    let old = chat(&data, "/recap\n", None);
    assert!(!old.status.success());
    let message = text(&old.stderr);
    assert!(message.contains("key does not match"), "{message}");
    assert!(message.contains("new.key"), "{message}");
    // The bot starts with the new key and shows the words.
    let recap = chat(&data, "/recap\n", Some(new_key_hex.trim()));
    assert!(recap.status.success(), "{}", text(&recap.stderr));
    assert!(text(&recap.stdout).contains("word 00: what I could not say aloud"));
    {
        let store = Store::open(&options(&storage, &new_key)).unwrap();
        assert_eq!(
            words_in(&store, LOCAL_USER),
            written,
            "every word, re-keyed"
        );
    }
    // Never over an existing key file: here, the one that now opens the database.
    let again = crossroads(&[
        "rotate-key",
        "--config",
        config,
        "--new-key-file",
        path_arg(&new_key),
    ])
    .env("CROSSROADS_KEY", new_key_hex.trim())
    .output()
    .unwrap();
    assert_eq!(again.status.code(), Some(1));
    let message = text(&again.stderr);
    assert!(
        message.contains("already exists") && message.contains("current key"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&new_key).unwrap(), new_key_hex);
    // A backup made before the rotation is under the old key, which restores it still.
    let fourth = dir.path().join("fourth/crossroads.sled");
    let fourth_config = config_for(dir.path(), "fourth.toml", &fourth, &key_file);
    let done = run(&[
        "restore",
        "--config",
        path_arg(&fourth_config),
        "--from",
        path_arg(&backup),
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
}

#[test]
fn backup_of_a_running_bot_points_to_its_own_backups() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bot = crossroads(&["chat", "--data-dir", path_arg(&data)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = bot.stdin.take().unwrap();
    writeln!(stdin, "/start").unwrap();
    let mut stdout = BufReader::new(bot.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 && !line.contains("Book a consultation") {
        line.clear();
    }
    let config = config_for(
        dir.path(),
        "config.toml",
        &data.join("crossroads.sled"),
        &data.join("crossroads.key"),
    );
    let out = dir.path().join("x.backup");
    let refused = run(&[
        "backup",
        "--config",
        path_arg(&config),
        "--out",
        path_arg(&out),
    ]);
    drop(stdin);
    bot.wait().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let message = text(&refused.stderr);
    assert!(message.contains("in use by another process"), "{message}");
    assert!(message.contains("[backup] dir"), "{message}");
    assert!(!out.exists());
    // Stopped now, rotate-key works; and with no database there is nothing to do.
    let rotated = run(&[
        "rotate-key",
        "--config",
        path_arg(&config),
        "--new-key-file",
        path_arg(&dir.path().join("n.key")),
    ]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let empty = config_for(
        dir.path(),
        "empty.toml",
        &dir.path().join("none/crossroads.sled"),
        &dir.path().join("none/crossroads.key"),
    );
    let nothing = run(&[
        "backup",
        "--config",
        path_arg(&empty),
        "--out",
        path_arg(&out),
    ]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(
        text(&nothing.stderr).contains("no database"),
        "{}",
        text(&nothing.stderr)
    );
    assert!(
        !dir.path().join("none").exists(),
        "no database or key is created"
    );
}

/// A small deterministic generator, seeded from the clock and printed, for kill delays.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

const USERS: i64 = 40;
const ENTRIES_PER_USER: i32 = 50;

fn big_entry(user: UserId, message: i32) -> Entry {
    let written_at = Utc
        .timestamp_opt(1_780_000_000 + i64::from(message) * 60, 0)
        .unwrap();
    Entry {
        user_id: user,
        message_id: message,
        written_at,
        local_date: written_at.date_naive(),
        prompt_id: None,
        text: format!(
            "user {user} entry {message}: {}",
            "a quiet evening ".repeat(12)
        ),
        edited_at: None,
    }
}

/// Which key opens the database now: the current one, or the one the killed rotation wrote.
/// Exactly one must, and every entry must read back.
fn open_with_either(storage: &Path, current: &Path, new: &Path, round: usize) -> PathBuf {
    let opened = match Store::open(&options(storage, current)) {
        Ok(store) => (store, current.to_owned()),
        Err(StoreError::WrongKey { .. }) => {
            let store = Store::open(&options(storage, new)).unwrap_or_else(|error| {
                panic!("round {round}: opens with neither the old key nor the new: {error}")
            });
            (store, new.to_owned())
        }
        Err(error) => panic!("round {round}: the database does not open: {error}"),
    };
    let (store, key) = opened;
    for user in 1..=USERS {
        let entries = store.all_entries(user).unwrap_or_else(|error| {
            panic!("round {round}: user {user}'s entries do not read: {error}")
        });
        assert_eq!(
            entries.len(),
            ENTRIES_PER_USER as usize,
            "round {round}, user {user}"
        );
        for (entry, message) in entries.iter().zip(0..) {
            assert_eq!(entry, &big_entry(user, message), "round {round}");
        }
    }
    let leftovers: Vec<String> = std::fs::read_dir(storage.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("rotating"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "round {round}: left behind {leftovers:?}"
    );
    key
}

#[test]
fn a_rotation_killed_at_any_moment_leaves_a_database_that_opens_with_the_old_key_or_the_new() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let storage = data.join("crossroads.sled");
    let first_key = data.join("crossroads.key");
    {
        let store = Store::open(&options(&storage, &first_key)).unwrap();
        for user in 1..=USERS {
            for message in 0..ENTRIES_PER_USER {
                store
                    .apply(Change {
                        entry: Some(&big_entry(user, message)),
                        ..Change::default()
                    })
                    .unwrap();
            }
        }
    }

    // One rotation to the end, to know how long one takes.
    let mut current = first_key.clone();
    let config = config_for(dir.path(), "config.toml", &storage, &current);
    let started = Instant::now();
    let whole = run(&[
        "rotate-key",
        "--config",
        path_arg(&config),
        "--new-key-file",
        path_arg(&data.join("key-0.key")),
    ]);
    let takes = started.elapsed();
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    current = open_with_either(&storage, &current, &data.join("key-0.key"), 0);
    assert_eq!(current, data.join("key-0.key"));

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("kill delays seeded with {seed}; a whole rotation took {takes:?}");
    let mut random = Lcg(seed);
    let rounds: usize = std::env::var("CROSSROADS_ROTATION_KILLS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(12);
    let (mut old_key_opened, mut new_key_opened, mut interrupted) = (0, 0, 0);
    for round in 1..=rounds {
        let config = config_for(dir.path(), "config.toml", &storage, &current);
        let new = data.join(format!("key-{round}.key"));
        // From just after the start to a little past the end of a whole rotation.
        let delay = Duration::from_micros(
            2_000 + random.next() % (takes.as_micros() as u64 * 11 / 10).max(1),
        );
        let mut child = crossroads(&[
            "rotate-key",
            "--config",
            path_arg(&config),
            "--new-key-file",
            path_arg(&new),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let key = open_with_either(&storage, &current, &new, round);
        if key == current {
            old_key_opened += 1;
            if new.exists() {
                // Killed after the new key was written and before the swap: half-way.
                interrupted += 1;
                std::fs::remove_file(&new).unwrap();
            }
        } else {
            new_key_opened += 1;
            current = key;
        }
        println!(
            "round {round}: killed after {delay:?} ({status}); opens with the {} key",
            if current == new { "new" } else { "old" }
        );
    }
    println!(
        "{rounds} kills: {old_key_opened} left the old key, {new_key_opened} the new, \
         {interrupted} of them after the new key was written and before the swap"
    );
    assert_eq!(old_key_opened + new_key_opened, rounds);
    assert!(
        interrupted > 0,
        "no kill landed in the middle of a rotation; the delays need another range"
    );
}
