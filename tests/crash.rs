//! Kill the bot without warning while it is acknowledging words, many times over, and check
//! that every word it acknowledged is still there: an acknowledgement is only sent once the
//! words are on disk. The terminal chat is used, since it runs the same service and store.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Command, Stdio},
};

use crossroads_store::{Store, StoreOptions};

const BINARY: &str = env!("CARGO_BIN_EXE_crossroads");
const BOOKING_LINE: &str = "[ Book a consultation ]";

/// Starts a chat, sends `/start` and then `lines`, and kills the process without warning once
/// `kill_after` of them were acknowledged. Returns the texts acknowledged.
fn run_and_kill(dir: &Path, lines: &[String], kill_after: usize) -> Vec<String> {
    let mut child = Command::new(BINARY)
        .args(["chat", "--data-dir", dir.to_str().unwrap()])
        .env_remove("CROSSROADS_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut read_until_booking = || {
        let mut line = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                panic!("the chat ended early");
            }
            if line.contains(BOOKING_LINE) {
                return;
            }
        }
    };
    writeln!(stdin, "/start").unwrap();
    read_until_booking();
    let mut acknowledged = Vec::new();
    // Everything is written at once: the bot is still working through it when it is killed.
    let all: String = lines.iter().map(|line| format!("{line}\n")).collect();
    stdin.write_all(all.as_bytes()).unwrap();
    stdin.flush().unwrap();
    for line in lines.iter().take(kill_after) {
        read_until_booking();
        acknowledged.push(line.clone());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    acknowledged
}

#[test]
fn every_acknowledged_word_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged_so_far = BTreeSet::new();
    for round in 0..10 {
        let lines: Vec<String> = (0..120)
            .map(|i| format!("round {round} entry {i:03}"))
            .collect();
        let kill_after = 10 + round * 10;
        acknowledged_so_far.extend(run_and_kill(dir.path(), &lines, kill_after));

        let store = Store::open(&StoreOptions {
            path: dir.path().join("crossroads.sled"),
            key_file: dir.path().join("crossroads.key"),
            key_from_env: None,
            cache_capacity_bytes: 8 * 1024 * 1024,
        })
        .unwrap_or_else(|error| {
            panic!("round {round}: the database does not open after a kill: {error}")
        });
        let kept: BTreeSet<String> = store
            .all_entries(crossroads::transport::terminal::LOCAL_USER)
            .unwrap()
            .into_iter()
            .map(|entry| entry.text)
            .collect();
        let lost: Vec<_> = acknowledged_so_far.difference(&kept).collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged and then lost: {lost:?}"
        );
        assert!(
            store
                .profile(crossroads::transport::terminal::LOCAL_USER)
                .unwrap()
                .is_some()
        );
    }
}
