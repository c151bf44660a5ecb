//! The real binary against the fake Bot API (with Telegram's flood limits), killed with SIGKILL
//! over and over while forty people write to it, as an operator would meet a crash loop. Every word must be kept exactly
//! once, every one acknowledged, the offset must move in the cycles that live long enough to
//! poll, and repeated acknowledgements must stay rare (they are possible only for a message
//! whose send succeeded in the instant before a kill).
//!
//! The figures it prints are the README's crash-loop figures.

mod support;

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use crossroads_store::{Store, StoreOptions};
use support::{dialogues::is_message, fake_telegram::FakeTelegram};

const BINARY: &str = env!("CARGO_BIN_EXE_crossroads");
const USERS: i64 = 40;
const FIRST_USER: i64 = 5000;

/// A small deterministic generator, so a failing run can be repeated exactly.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

fn config(dir: &Path, fake: &FakeTelegram) -> std::path::PathBuf {
    let text = format!(
        r#"
[telegram]
api_url = "{api}"

[storage]
path = "db"

[practice]
name = "Boutique Psychotherapy"
booking_url = "https://example.com/book"

[safety]
emergency_number = "112"

[[safety.crisis_lines]]
name = "Find a Helpline"
url = "https://findahelpline.com"

[privacy]
key_file = "crossroads.key"

[log]
filter = "warn"
"#,
        api = fake.api_url().as_str().trim_end_matches('/')
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(config: &Path, fake: &FakeTelegram) -> Child {
    Command::new(BINARY)
        .args(["run", "--config", config.to_str().unwrap()])
        .env("TELOXIDE_TOKEN", fake.token())
        .env_remove("TELOXIDE_API_URL")
        .env_remove("CROSSROADS_KEY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let waited = child.wait().unwrap();
    assert!(waited.success(), "a clean stop exits 0, not {waited:?}");
}

/// How many of a chat's messages from the bot answered a note. Most are acknowledgements; the
/// safety detector may read a run of these machine-made notes as heavy, and a second heavy one
/// in a day gets the crisis answer (which says the words were kept) instead. Either way it is
/// the one answer that note gets.
fn acknowledgements(fake: &FakeTelegram, chat_id: i64) -> usize {
    fake.sent_messages(chat_id)
        .iter()
        .filter(|message| {
            is_message(&message.text, "note_acks")
                || (is_message(&message.text, "crisis") && is_message(&message.text, "crisis_kept"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_loses_nothing_doubles_nothing_and_makes_progress() {
    let cycles: usize = std::env::var("CROSSROADS_CRASH_CYCLES")
        .ok()
        .and_then(|cycles| cycles.parse().ok())
        .unwrap_or(12);
    let fake = Arc::new(FakeTelegram::start(Arc::new(|| chrono::Utc::now().timestamp())).await);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &fake);
    let users: Vec<i64> = (FIRST_USER..FIRST_USER + USERS).collect();
    for &user in &users {
        fake.add_private_chat(user, "Someone");
        fake.user_sends_text(user, user, "/start");
    }
    let mut written: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut random = Lcg(0x5eed);
    let mut advanced = 0;
    let mut kills = 0;
    let looping = tokio::time::Instant::now();
    for cycle in 0..cycles {
        let before = fake.confirmed_offset();
        let mut child = start(&config, &fake);
        // People keep writing, whether the bot is up or not.
        let life = Duration::from_millis(1000 + random.below(3000));
        let deadline = tokio::time::Instant::now() + life;
        let mut sent = 0;
        while tokio::time::Instant::now() < deadline {
            let user = users[random.below(USERS as u64) as usize];
            let text = format!("cycle {cycle} note {sent} from {user}");
            fake.user_sends_text(user, user, &text);
            written.entry(user).or_default().push(text);
            sent += 1;
            // Ten notes a second between the forty: each person writes every four seconds,
            // well within what Telegram lets the bot send to one chat.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        if fake.confirmed_offset() > before {
            advanced += 1;
        }
    }

    let during_loop: usize = users
        .iter()
        .map(|&user| acknowledgements(&fake, user))
        .sum();
    let loop_seconds = looping.elapsed().as_secs_f64();
    // A last, clean run works through whatever is left.
    let mut child = start(&config, &fake);
    let total: usize = written.values().map(Vec::len).sum();
    let all_acknowledged = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let acknowledged = users
                .iter()
                .filter(|&&user| {
                    acknowledgements(&fake, user) >= written.get(&user).map_or(0, Vec::len)
                })
                .count();
            if acknowledged == users.len() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    terminate(&mut child);

    let store = Store::open(&StoreOptions {
        path: dir.path().join("db"),
        key_file: dir.path().join("crossroads.key"),
        key_from_env: None,
        cache_capacity_bytes: 8 * 1024 * 1024,
    })
    .unwrap();
    let mut lost = Vec::new();
    let mut stored_twice = Vec::new();
    let mut repeated = 0;
    let mut most_repeats = 0;
    for (&user, texts) in &written {
        let mut kept: HashMap<String, usize> = HashMap::new();
        for entry in store.all_entries(user).unwrap() {
            *kept.entry(entry.text).or_default() += 1;
        }
        for text in texts {
            match kept.get(text) {
                None => lost.push(text.clone()),
                Some(&count) if count > 1 => stored_twice.push(text.clone()),
                _ => {}
            }
        }
        let extra = acknowledgements(&fake, user).saturating_sub(texts.len());
        repeated += extra;
        most_repeats = most_repeats.max(extra);
    }
    println!(
        "crash loop: {kills} kills in {loop_seconds:.0} s, {advanced} of them after the offset advanced; \
         {total} notes written, {during_loop} acknowledged during the loop ({:.1} a second), \
         lost {}, stored twice {}, repeated acknowledgements {repeated} (at most {most_repeats} in one chat), \
         {} sends over Telegram's flood limits",
        during_loop as f64 / loop_seconds,
        lost.len(),
        stored_twice.len(),
        fake.flood_refusals()
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(stored_twice.is_empty(), "stored twice: {stored_twice:?}");
    assert!(
        all_acknowledged.is_ok(),
        "not every note was acknowledged after the last start"
    );
    assert!(
        advanced * 4 >= kills * 3,
        "the offset advanced in only {advanced} of {kills} cycles"
    );
    assert!(
        repeated <= kills,
        "{repeated} repeated acknowledgements in {kills} crashes"
    );
}
