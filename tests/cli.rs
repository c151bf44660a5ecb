//! The binary as an operator and a newcomer use it: `chat`, `check` and `run`, including a
//! SIGTERM that must end in a clean exit.

mod support;

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use support::{
    binary::{BINARY, chat, crossroads, text},
    fake_telegram::FakeTelegram,
};

#[test]
fn the_terminal_chat_works_with_no_token_and_keeps_words_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let first = chat(
        dir.path(),
        "/start\n/prompt\nIt shifted after the move & the <baby>\nshould I leave?\n",
    );
    let output = text(&first.stdout);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(output.contains("Hello, and welcome"));
    assert!(output.contains("Today's question"));
    assert!(output.contains("[ Book a consultation ]  https://example.com/book"));
    assert!(output.contains("not able to give advice"));

    let second = chat(dir.path(), "/recap\n/delete\n!2\n/export\n");
    let output = text(&second.stdout);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        output.contains("It shifted after the move & the <baby>"),
        "{output}"
    );
    assert!(output.contains("type !1 to press"));
    assert!(output.contains("Nothing was erased"));
    assert!(output.contains("crossroads-export.json"));
    assert!(dir.path().join("exports/crossroads-export.txt").exists());
}

#[test]
fn a_wrong_key_stops_the_start_with_a_clear_message_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(chat(dir.path(), "/start\nsome words\n").status.success());
    let key = dir.path().join("crossroads.key");
    let right_key = std::fs::read_to_string(&key).unwrap();
    std::fs::write(&key, "ab".repeat(32)).unwrap();
    let refused = chat(dir.path(), "/recap\n");
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    assert!(message.contains("key does not match"), "{message}");
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        "ab".repeat(32),
        "the key file is left alone"
    );

    std::fs::remove_file(&key).unwrap();
    let refused = chat(dir.path(), "/recap\n");
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("Restore the key file"),
        "{}",
        text(&refused.stderr)
    );
    assert!(
        !key.exists(),
        "a missing key is never replaced by a new one"
    );

    // With the right key back, everything is there.
    std::fs::write(&key, right_key).unwrap();
    let recap = chat(dir.path(), "/recap\n");
    assert!(recap.status.success());
    assert!(text(&recap.stdout).contains("some words"));
}

#[test]
fn the_deployment_configs_pass_check() {
    for name in ["config.toml", "config.container.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy")
            .join(name);
        let checked = crossroads(&["check", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "deploy/{name}: {}",
            text(&checked.stderr)
        );
    }
}

#[test]
fn check_validates_webhook_mode_and_the_sending_rate() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let base = "[practice]\nname = \"P\"\nbooking_url = \"https://example.com\"\n";
    std::fs::write(
        &config,
        format!("{base}[telegram]\nmode = \"webhook\"\nwebhook_url = \"http://bot.example.org/hook\"\nmessages_per_second = 5000\n"),
    )
    .unwrap();
    let broken = crossroads(&["check", "--config", config.to_str().unwrap()])
        .env_remove("CROSSROADS_WEBHOOK_SECRET")
        .output()
        .unwrap();
    let report = text(&broken.stderr);
    assert!(!broken.status.success());
    for named in [
        "telegram.webhook_url",
        "telegram.listen",
        "telegram.messages_per_second",
    ] {
        assert!(report.contains(named), "{named} is named: {report}");
    }

    std::fs::write(
        &config,
        format!("{base}[telegram]\nmode = \"webhook\"\nwebhook_url = \"https://bot.example.org/hook\"\nlisten = \"127.0.0.1:8443\"\n"),
    )
    .unwrap();
    let no_secret = crossroads(&["check", "--config", config.to_str().unwrap()])
        .env_remove("CROSSROADS_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert!(!no_secret.status.success());
    assert!(text(&no_secret.stderr).contains("webhook_secret"));
    let with_secret = crossroads(&["check", "--config", config.to_str().unwrap()])
        .env("CROSSROADS_WEBHOOK_SECRET", "a-long_secret-0123")
        .output()
        .unwrap();
    assert!(
        with_secret.status.success(),
        "{}",
        text(&with_secret.stderr)
    );
    let bad_secret = crossroads(&["check", "--config", config.to_str().unwrap()])
        .env("CROSSROADS_WEBHOOK_SECRET", "not allowed!")
        .output()
        .unwrap();
    assert!(!bad_secret.status.success());
    assert!(text(&bad_secret.stderr).contains("CROSSROADS_WEBHOOK_SECRET"));
}

#[test]
fn check_validates_the_backup_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let base = "[practice]\nname = \"P\"\nbooking_url = \"https://example.com\"\n";
    let check = || {
        crossroads(&["check", "--config", config.to_str().unwrap()])
            .output()
            .unwrap()
    };
    std::fs::write(
        &config,
        format!(
            "{base}[backup]\ndir = \"data/crossroads.sled/backups\"\nevery = \"30s\"\nkeep = 0\n"
        ),
    )
    .unwrap();
    let broken = check();
    let report = text(&broken.stderr);
    assert!(!broken.status.success());
    for named in ["backup.dir", "backup.every", "backup.keep"] {
        assert!(report.contains(named), "{named} is named: {report}");
    }
    std::fs::write(&config, format!("{base}[backup]\nevry = \"1h\"\n")).unwrap();
    let unknown = check();
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("evry"),
        "{}",
        text(&unknown.stderr)
    );

    std::fs::write(dir.path().join("not-a-folder"), "x").unwrap();
    std::fs::write(&config, format!("{base}[backup]\ndir = \"not-a-folder\"\n")).unwrap();
    let file = check();
    assert!(!file.status.success());
    assert!(
        text(&file.stderr).contains("not a folder"),
        "{}",
        text(&file.stderr)
    );

    std::fs::write(
        &config,
        format!("{base}[backup]\ndir = \"backups\"\nevery = \"1m\"\nkeep = 1\n"),
    )
    .unwrap();
    let valid = check();
    assert!(valid.status.success(), "{}", text(&valid.stderr));
    assert!(!text(&valid.stderr).contains("[backup]"));
    std::fs::write(&config, base).unwrap();
    let without = check();
    assert!(without.status.success());
    assert!(
        text(&without.stderr).contains("no [backup] dir"),
        "no backups is worth a warning: {}",
        text(&without.stderr)
    );
}

#[test]
fn check_accepts_the_example_and_lists_every_problem_in_a_broken_setup() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let valid = crossroads(&["check", "--config", example.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(valid.status.success(), "{}", text(&valid.stderr));
    assert!(text(&valid.stdout).contains("valid"));
    assert!(
        text(&valid.stderr).contains("no bot token"),
        "a missing token is worth a warning"
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[practice]\nname = \"P\"\nbooking_url = \"https://example.com\"\n[schedule]\ndefault_tme = \"08:00\"\n").unwrap();
    let unknown_key = crossroads(&["check", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!unknown_key.status.success());
    assert!(
        text(&unknown_key.stderr).contains("default_tme"),
        "{}",
        text(&unknown_key.stderr)
    );

    let dialogues = dir.path().join("dialogues");
    std::fs::create_dir(&dialogues).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues");
    for file in ["prompts.toml", "messages.toml", "commands.toml"] {
        std::fs::copy(source.join(file), dialogues.join(file)).unwrap();
    }
    let messages = std::fs::read_to_string(dialogues.join("messages.toml")).unwrap();
    let broken = messages
        .replace("Today's question", "Today's <b>question")
        .replace("{practice}", "{practise}")
        .replace("Fish", "Fish & chips");
    std::fs::write(dialogues.join("messages.toml"), broken).unwrap();
    std::fs::write(
        &config,
        "[practice]\nname = \"P\"\nbooking_url = \"https://example.com\"\n[content]\ndir = \"dialogues\"\n",
    )
    .unwrap();
    let problems = crossroads(&["check", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let report = text(&problems.stderr);
    assert!(!problems.status.success());
    assert!(
        report.contains("prompt: Telegram would refuse this HTML"),
        "{report}"
    );
    assert!(
        report.contains("unknown placeholder {practise}"),
        "{report}"
    );
    assert!(
        report.matches("\n  - ").count() >= 5,
        "every problem is listed: {report}"
    );
}

#[test]
fn run_without_a_token_says_how_to_provide_one() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::copy(example, &config).unwrap();
    let output = crossroads(&["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = text(&output.stderr);
    assert!(
        message.contains("TELOXIDE_TOKEN") && message.contains("@BotFather"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_bot_cleanly_with_exit_code_zero() {
    let fake = FakeTelegram::start(std::sync::Arc::new(|| chrono::Utc::now().timestamp())).await;
    fake.add_private_chat(1001, "Ann");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[practice]\nname = \"P\"\nbooking_url = \"https://example.com/book\"\n",
    )
    .unwrap();
    let mut bot = tokio::process::Command::new(BINARY)
        .args(["run", "--config", config.to_str().unwrap()])
        .env("TELOXIDE_TOKEN", fake.token())
        .env(
            "TELOXIDE_API_URL",
            fake.api_url().as_str().trim_end_matches('/'),
        )
        .env_remove("RUST_LOG")
        .env_remove("CROSSROADS_KEY")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        fake.wait_until_polling(Duration::from_secs(20)).await,
        "the bot never polled"
    );
    fake.user_sends_text(1001, 1001, "/start");
    assert!(
        fake.next_message(1001, Duration::from_secs(20))
            .await
            .is_some()
    );

    let pid = bot.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(20), bot.wait())
        .await
        .expect("stopped in time")
        .unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut bot.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(status.success(), "exit status {status}: {stderr}");
    assert!(stderr.contains("stopped cleanly"), "{stderr}");
    assert!(
        !stderr.contains(fake.token()),
        "the token must never be printed"
    );
}

#[test]
fn safety_explains_a_decision_with_the_rule_the_scores_and_the_nearest_examples() {
    let output = crossroads(&[
        "safety",
        "I keep thinking everyone would be better off without me",
    ])
    .output()
    .unwrap();
    assert!(output.status.success());
    let shown = text(&output.stdout);
    assert!(shown.starts_with("decision: crisis"), "{shown}");
    assert!(
        shown.contains("crisis score") && shown.contains("threshold"),
        "{shown}"
    );
    assert!(shown.contains("nearest reviewed examples:"), "{shown}");
    let examples = shown
        .lines()
        .skip_while(|line| !line.starts_with("nearest"))
        .skip(1)
        .count();
    assert_eq!(examples, 5, "{shown}");

    let output = crossroads(&[
        "safety",
        "we had a lovely walk by the river",
        "--examples",
        "2",
    ])
    .output()
    .unwrap();
    let shown = text(&output.stdout);
    assert!(shown.starts_with("decision: none"), "{shown}");
    assert!(shown.contains("rules: nothing"), "{shown}");

    let output = crossroads(&[
        "safety",
        "honestly I want to kill myself",
        "--examples",
        "0",
    ])
    .output()
    .unwrap();
    let shown = text(&output.stdout);
    assert!(
        shown.contains("crisis rule") && shown.contains("crisis.toml"),
        "{shown}"
    );
}

#[test]
fn the_terminal_chat_marks_what_discreet_mode_hides_and_deletes_and_saves_a_brief() {
    let dir = tempfile::tempdir().unwrap();
    let session = chat(
        dir.path(),
        "/start\n/discreet\nWe barely talk <now> & then\n/recap\n/brief\n",
    );
    let output = text(&session.stdout);
    assert!(session.status.success(), "{}", text(&session.stderr));
    assert!(output.contains("Your daily moment"), "{output}");
    assert!(output.contains("[hidden: "), "{output}");
    assert!(output.contains("[deleted: your message"), "{output}");
    assert!(
        output.contains("[protected, can't be forwarded"),
        "{output}"
    );
    let brief = std::fs::read_to_string(dir.path().join("exports/crossroads-brief.html"))
        .expect("the brief is saved as a file");
    assert!(brief.contains("We barely talk &lt;now&gt; &amp; then"));
}

/// The number the terminal showed a question with: `#N Today's question`, the `nth` one shown.
fn question_number(output: &str, nth: usize) -> i32 {
    output
        .lines()
        .filter_map(|line| line.strip_suffix(" Today's question"))
        .filter_map(|number| number.strip_prefix('#')?.parse().ok())
        .nth(nth)
        .unwrap_or_else(|| panic!("question {nth} not shown with a number:\n{output}"))
}

/// Every number the terminal showed a bot message with.
fn numbers_shown(output: &str) -> Vec<i32> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix('#')?.split(' ').next()?.parse().ok())
        .collect()
}

/// The kept entries, as `(question_id, text)`, from the export the terminal saved.
fn exported_entries(dir: &Path) -> Vec<(Option<String>, String)> {
    let export: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("exports/crossroads-export.json")).unwrap(),
    )
    .unwrap();
    export["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["question_id"].as_str().map(str::to_owned),
                entry["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn in_the_terminal_a_reply_to_an_older_question_answers_it_in_this_run_and_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let first = chat(
        dir.path(),
        "/start\n/prompt\nabout the first\n!reply no number here\n!reply 9999 kept anyway\n/prompt\n/help\n",
    );
    let output = text(&first.stdout);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let (older, newer) = (question_number(&output, 0), question_number(&output, 1));
    let last_of_first_run = *numbers_shown(&output).iter().max().unwrap();
    assert!(
        last_of_first_run > newer,
        "/help is answered after the question: {output}"
    );
    assert!(older < newer, "{output}");
    assert!(
        output.contains("To answer an earlier message, type !reply"),
        "a reply without a number is explained: {output}"
    );
    assert!(
        output.contains("There's no message #9999"),
        "a number never shown is named: {output}"
    );

    // The next run numbers on from the last, and still knows the older question by its number.
    let second = chat(
        dir.path(),
        &format!("!reply {older} more about the first\nabout the second\n/export\n"),
    );
    let output = text(&second.stdout);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        numbers_shown(&output)
            .iter()
            .all(|&number| number > last_of_first_run),
        "numbers go on from the first run's, acknowledgements included: {output}"
    );

    let entries = exported_entries(dir.path());
    let answering = |text: &str| {
        entries
            .iter()
            .find(|(_, kept)| kept == text)
            .unwrap_or_else(|| panic!("{text:?} not kept: {entries:?}"))
            .0
            .clone()
    };
    let older_question = answering("about the first");
    assert!(older_question.is_some(), "{entries:?}");
    assert_eq!(
        answering("more about the first"),
        older_question,
        "the reply answers the question it replies to"
    );
    let newer_question = answering("about the second");
    assert!(newer_question.is_some() && newer_question != older_question);
    // A reply that names no message the bot sent is still kept, as words are on Telegram.
    assert_eq!(answering("no number here"), None, "{entries:?}");
    assert_eq!(answering("kept anyway"), None, "{entries:?}");
}

#[test]
fn in_the_terminal_a_shared_location_sets_the_timezone_and_is_never_shown_again() {
    let dir = tempfile::tempdir().unwrap();
    let session = chat(
        dir.path(),
        "/start\n/timezone\n!location 48.8566, 2.3522\n!location somewhere near 12.5\n!location 91.25 0\n/settings\n",
    );
    let output = text(&session.stdout);
    let log = text(&session.stderr);
    assert!(session.status.success(), "{log}");
    assert!(
        output.contains("[ Share my location ]  type !location"),
        "the location key says how to share one here: {output}"
    );
    assert!(output.contains("Done: Europe/Paris,"), "{output}");
    assert!(
        output.contains("To share a place here, type !location"),
        "a line that is not a place is explained: {output}"
    );
    assert!(
        output.contains("couldn't tell a timezone from that location"),
        "a place off the map changes nothing: {output}"
    );
    assert!(output.contains("Europe/Paris"), "{output}");
    for coordinate in ["48.8566", "2.3522", "12.5", "91.25"] {
        assert!(
            !output.contains(coordinate) && !log.contains(coordinate),
            "{coordinate} was shown or logged:\n{output}\n{log}"
        );
    }
    // Nothing of the place is in the database either, nor in the export.
    let export = chat(dir.path(), "/export\n");
    assert!(export.status.success());
    let exported =
        std::fs::read_to_string(dir.path().join("exports/crossroads-export.json")).unwrap();
    assert!(exported.contains("Europe/Paris"));
    for coordinate in ["48.8566", "2.3522"] {
        assert!(!exported.contains(coordinate));
    }
}
