//! What an operator meets: `/metrics` after a session, `/healthz` when Telegram goes away, and
//! JSON logs from the real binary, line by line.

mod support;

use std::{
    io::Read as _,
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use support::{World, fake_telegram::FakeTelegram, has_booking_button};

const ANN: i64 = 1001;

async fn get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{address}{path}"))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The value of one sample line, `name{labels} value`, or 0 when it is not there.
fn sample(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_session_and_never_quote_anyone() {
    let world = World::start_with_metrics(Duration::from_secs(90)).await;
    let address = world.metrics_address().await;
    let ann = world.user(ANN, "Annabel");
    ann.asks("/start").await;
    ann.says("The quiet at dinner says more than we do.");
    assert!(has_booking_button(&ann.next_reply().await));
    ann.says("I want to end my life");
    assert!(ann.next_reply().await.is("crisis"));
    let question = ann.asks("/prompt").await;
    world.question_opens(&question).await;

    let (status, body) = get(address, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        sample(&body, r#"crossroads_updates_total{kind="text"}"#) >= 2.0,
        "{body}"
    );
    assert!(sample(&body, r#"crossroads_updates_total{kind="start"}"#) >= 1.0);
    assert!(
        sample(
            &body,
            r#"crossroads_messages_sent_total{lane="reply",outcome="delivered"}"#
        ) >= 3.0,
        "{body}"
    );
    assert!(sample(&body, r#"crossroads_safety_answers_total{answer="crisis"}"#) >= 1.0);
    assert!(
        sample(&body, r#"crossroads_questions_total{outcome="sent"}"#) >= 1.0,
        "{body}"
    );
    assert_eq!(sample(&body, r#"crossroads_users{state="active"}"#), 1.0);
    assert_eq!(
        sample(&body, r#"crossroads_outbox_depth{lane="bulk"}"#),
        0.0
    );
    assert!(body.contains("crossroads_inbox_depth"));
    assert!(
        sample(&body, "crossroads_flush_seconds_count") >= 1.0,
        "{body}"
    );
    assert!(sample(&body, "crossroads_handling_seconds_count") >= 3.0);
    for private in ["quiet at dinner", "end my life", "Annabel", "1001"] {
        assert!(!body.contains(private), "the metrics quote {private:?}");
    }
    let (status, health) = get(address, "/healthz").await;
    assert_eq!((status, health.as_str()), (200, "ok\n"));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_goes_503_when_telegram_stops_answering() {
    let world = World::start_with_metrics(Duration::from_secs(2)).await;
    let address = world.metrics_address().await;
    assert_eq!(get(address, "/healthz").await.0, 200);
    world.fake.shutdown();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let reason = loop {
        let (status, body) = get(address, "/healthz").await;
        if status == 503 {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "still healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reason.contains("Telegram has not answered"), "{reason}");
    assert_eq!(reason.lines().count(), 1);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_parse_line_by_line_and_hold_no_words_or_token() {
    let fake = Arc::new(FakeTelegram::start(Arc::new(|| chrono::Utc::now().timestamp())).await);
    fake.disable_flood_limits();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[telegram]
api_url = "{api}"
[storage]
path = "db"
[practice]
name = "Boutique Psychotherapy"
booking_url = "https://example.com/book"
[privacy]
key_file = "crossroads.key"
[log]
filter = "debug"
format = "json"
"#,
            api = fake.api_url().as_str().trim_end_matches('/')
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crossroads"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env("TELOXIDE_TOKEN", fake.token())
        .env_remove("TELOXIDE_API_URL")
        .env_remove("RUST_LOG")
        .env_remove("CROSSROADS_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    fake.add_private_chat(ANN, "Ann");
    fake.user_sends_text(ANN, ANN, "/start");
    fake.user_sends_text(ANN, ANN, "Nobody at home knows I write here.");
    for _ in 0..2 {
        assert!(
            fake.next_message(ANN, Duration::from_secs(30))
                .await
                .is_some()
        );
    }
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(child.wait().unwrap().success());

    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() > 3, "{log}");
    let mut kinds = Vec::new();
    for line in &lines {
        let object: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        assert!(object["level"].is_string(), "{line}");
        assert!(object["timestamp"].is_string(), "{line}");
        assert!(object["message"].is_string(), "{line}");
        if let Some(kind) = object["kind"].as_str() {
            kinds.push(kind.to_owned());
        }
    }
    assert!(kinds.iter().any(|kind| kind == "text"), "{kinds:?}");
    assert!(!log.contains("Nobody at home"), "the log quotes a user");
    assert!(!log.contains(fake.token()), "the log holds the token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_are_for_admins_only_and_name_nobody() {
    const ADMIN: i64 = 4001;
    let world = World::start_with_admins(&[ADMIN]).await;
    let ann = world.user(ANN, "Annabel");
    ann.asks("/start").await;
    let question = ann.asks("/prompt").await;
    world.question_opens(&question).await;
    ann.says("Mostly we talk about logistics.");
    assert!(has_booking_button(&ann.next_reply().await));
    // A stranger meets a command the bot does not have, and it is not in their /help.
    assert!(ann.asks("/stats").await.is("unknown_command"));
    assert!(!ann.asks("/help").await.text.contains("/stats"));

    let admin = world.user(ADMIN, "Practice");
    admin.asks("/start").await;
    let stats = admin.asks("/stats").await;
    assert!(stats.is("stats"), "{}", stats.text);
    assert!(
        stats.text.contains("People who have started it: 2"),
        "{}",
        stats.text
    );
    assert!(
        stats.text.contains("Wrote in the last 7 days: 1"),
        "{}",
        stats.text
    );
    assert!(stats.text.contains("Answers kept: 1"), "{}", stats.text);
    for private in ["Annabel", "logistics", "1001"] {
        assert!(!stats.text.contains(private), "/stats names {private:?}");
    }
    assert!(admin.asks("/help").await.text.contains("/stats"));

    // Everyone's menu leaves /stats out; the admin's own chat has it.
    let menus = world.fake.calls("setMyCommands");
    let names = |call: &serde_json::Value| -> Vec<String> {
        call["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|command| command["command"].as_str().unwrap().to_owned())
            .collect()
    };
    let everyone = menus
        .iter()
        .find(|call| call.get("scope").is_none())
        .expect("a menu for everyone");
    assert!(!names(everyone).contains(&"stats".to_owned()));
    let admins = menus
        .iter()
        .find(|call| call["scope"]["chat_id"] == serde_json::json!(ADMIN))
        .expect("a menu for the admin's chat");
    assert!(names(admins).contains(&"stats".to_owned()));
    world.finish().await;
}

/// The running bot's backup, taken while people write: restored elsewhere, it holds every word
/// the bot had acknowledged before the backup began, and nothing that is not someone's word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_users_write_restores_every_acknowledged_word() {
    use std::{
        collections::BTreeSet,
        sync::{
            Mutex,
            atomic::{AtomicUsize, Ordering},
        },
    };

    const WRITERS: i64 = 3;
    const NOTES: usize = 12;
    let world = World::start().await;
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for n in 0..WRITERS {
        let user = world.user(ANN + n, "Writer");
        user.asks("/start").await;
        let acknowledged = Arc::clone(&acknowledged);
        let count = Arc::clone(&count);
        writers.push(tokio::spawn(async move {
            for note in 0..NOTES {
                let words = format!("writer {n}, note {note}: the kitchen at night");
                user.asks(&words).await;
                acknowledged.lock().unwrap().insert((user.id, words));
                count.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }

    // Mid-stream: a third of the notes are in, the rest are still coming.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::SeqCst) < (WRITERS as usize * NOTES) / 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writers stalled"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let before = acknowledged.lock().unwrap().clone();
    let backups = tempfile::tempdir().unwrap();
    let options = crossroads::backup::BackupOptions {
        dir: backups.path().to_owned(),
        every: Duration::from_secs(24 * 3600),
        keep: 7,
    };
    let store = Arc::clone(world.service().store());
    let now = world.now();
    let (report, _) =
        tokio::task::spawn_blocking(move || crossroads::backup::back_up_now(&store, &options, now))
            .await
            .unwrap()
            .expect("the running bot's store backs up");
    let during = count.load(Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(
        during < WRITERS as usize * NOTES,
        "the backup ended after the writers did, so nothing was written during it"
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let restored_options = crossroads_store::StoreOptions {
        path: elsewhere.path().join("restored.sled"),
        key_file: world.data_dir().join("crossroads.key"),
        key_from_env: None,
        cache_capacity_bytes: 8 * 1024 * 1024,
    };
    crossroads_store::Store::restore_from(&restored_options, &report.path)
        .expect("the backup restores");
    let restored = crossroads_store::Store::open(&restored_options).expect("it opens");
    let mut kept = BTreeSet::new();
    for n in 0..WRITERS {
        for entry in restored.all_entries(ANN + n).unwrap() {
            kept.insert((ANN + n, entry.text));
        }
    }
    let missing: Vec<_> = before.difference(&kept).collect();
    assert!(missing.is_empty(), "acknowledged, then lost: {missing:?}");
    let everything = acknowledged.lock().unwrap().clone();
    let foreign: Vec<_> = kept.difference(&everything).collect();
    assert!(
        foreign.is_empty(),
        "restored words nobody wrote: {foreign:?}"
    );
    drop(restored);
    world.finish().await;
}
