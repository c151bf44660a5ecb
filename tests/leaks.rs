//! The log of a whole session, captured at the most detailed level, holds nothing a user wrote
//! and no part of the bot token. One test per binary: the log subscriber is global.

mod support;

use support::{World, captured_log::Captured, days, minutes};

const ANN: i64 = 1001;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_session_logs_no_user_words_and_no_token() {
    let captured = Captured::install_at_trace();

    let mut world = World::start().await;
    let ann = world.user(ANN, "Ann");
    let words = [
        "Quietly-unique-reply: we became flatmates",
        "Note-marigold-7731 about the in-laws",
        "I want to kill myself, cobalt-heron-42",
        "should I leave him? saffron-otter-9",
    ];
    ann.asks("/start").await;
    world.set_time("2026-03-02T09:00:00Z").await;
    ann.next_reply().await;
    let first = ann.says(words[0]);
    ann.next_reply().await;
    for text in &words[1..] {
        ann.asks(text).await;
    }
    ann.edits(first, "Edited-tangerine-5150 words");
    ann.asks("/time lavender-typo-88").await;
    ann.asks("/recap").await;
    ann.says("/export");
    ann.next_reply().await;
    ann.next_reply().await;
    world.advance(days(1) + minutes(1)).await;
    ann.next_reply().await;
    let question = ann.asks("/delete").await;
    ann.presses(&question, &question.callback_data()[0]);
    ann.next_reply().await;
    world.restart().await;
    world.stop().await;

    let log = captured.text();
    assert!(
        log.contains("chat_id=1001"),
        "the capture must hold the session's log lines:\n{log}"
    );
    assert!(
        log.contains("kind=\"text\"") && log.contains("kind=\"recap\""),
        "{log}"
    );
    assert!(
        log.contains("DEBUG") || log.contains("TRACE"),
        "the capture must reach the detailed levels"
    );
    let token = world.fake.token().to_owned();
    for (label, secret) in [
        ("the token", token.as_str()),
        ("the token's secret part", token.split(':').nth(1).unwrap()),
        ("a reply", "Quietly-unique-reply"),
        ("a note", "marigold-7731"),
        ("a crisis message", "cobalt-heron-42"),
        ("a request for advice", "saffron-otter-9"),
        ("an edit", "tangerine-5150"),
        ("a command argument", "lavender-typo-88"),
        ("the user's name", "Ann"),
    ] {
        assert!(!log.contains(secret), "{label} appears in the log");
    }
    world.finish().await;
}
