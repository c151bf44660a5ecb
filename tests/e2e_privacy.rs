//! Safety and data rights, end to end: crisis and advice answers, /privacy, /export, /delete
//! and retention, through the real bot and the fake Bot API server.

mod support;

use support::{World, days, has_booking_button};

const ANN: i64 = 1001;
const BEN: i64 = 1002;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crisis_gets_help_at_once_even_mid_question_and_the_words_are_kept() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/prompt").await;
    let question = ann.next_reply().await;
    world.question_opens(&question).await;
    let answer = ann.asks("honestly i don't want to be here anymore").await;
    assert!(answer.is("crisis"), "{}", answer.text);
    assert!(support::dialogues::is_message(&answer.text, "crisis_kept"));
    assert!(answer.text.contains("112"));
    assert!(answer.text.contains("Samaritans: 116 123"));
    assert!(
        answer
            .text
            .contains("Find a Helpline: https://findahelpline.com")
    );
    assert!(
        answer
            .html
            .contains("<a href=\"https://findahelpline.com\">")
    );
    assert!(has_booking_button(&answer));
    let entries = world.service().store().all_entries(ANN).unwrap();
    assert_eq!(entries[0].text, "honestly i don't want to be here anymore");
    assert!(
        entries[0].prompt_id.is_some(),
        "kept as the answer to the open question"
    );

    // Asked for directly, at any time.
    let urgent = ann.asks("/urgent").await;
    assert!(urgent.is("crisis") && !support::dialogues::is_message(&urgent.text, "crisis_kept"));
    assert!(urgent.text.contains("Samaritans: 116 123") && has_booking_button(&urgent));

    // In a command too: the crisis answer comes first.
    let answer = ann.asks("/time i want to end it all").await;
    assert!(answer.is("crisis"));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_advice_is_declined_kindly() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    for request in [
        "should I leave him?",
        "what would you do in my place",
        "tell me what to do",
    ] {
        let answer = ann.asks(request).await;
        assert!(answer.is("advice"), "{request}: {}", answer.text);
        assert!(has_booking_button(&answer));
    }
    assert_eq!(
        world.service().store().all_entries(ANN).unwrap().len(),
        3,
        "and still kept"
    );
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_says_what_where_how_long_who_and_how_to_leave() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    let privacy = ann.asks("/privacy").await;
    for needle in [
        "What is stored",
        "Where",
        "How long",
        "365 days",
        "Who can see it",
        "/export",
        "/delete",
        "encrypted",
    ] {
        assert!(
            privacy.text.contains(needle),
            "{needle} missing: {}",
            privacy.text
        );
    }
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_sends_everything_as_json_and_as_text() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/prompt").await;
    let question = ann.next_reply().await;
    world.question_opens(&question).await;
    ann.asks("It shifted <after> the move & the baby").await;
    ann.asks("a note for today").await;
    ann.says("/export");
    let json = ann.next_reply().await;
    let text = ann.next_reply().await;
    let json_file = json.document.expect("a JSON document");
    let text_file = text.document.expect("a text document");
    assert_eq!(json_file.filename, "crossroads-export.json");
    assert_eq!(text_file.filename, "crossroads-export.txt");
    let exported: serde_json::Value = serde_json::from_slice(&json_file.bytes).unwrap();
    assert_eq!(exported["settings"]["daily_question_time"], "09:00");
    assert_eq!(exported["settings"]["timezone"], "Europe/London");
    let entries = exported["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["text"], "It shifted <after> the move & the baby");
    assert!(
        entries[0]["question"]
            .as_str()
            .is_some_and(|question| question.ends_with('?'))
    );
    assert!(entries[0]["written_at"].is_string() && entries[0]["local_date"].is_string());
    assert_eq!(entries[1]["kind"], "note");
    let readable = String::from_utf8(text_file.bytes).unwrap();
    assert!(readable.contains("It shifted <after> the move & the baby"));
    assert!(readable.contains("a note for today"));
    let caption = text_file.caption.unwrap();
    assert!(support::dialogues::is_message(&caption, "export_caption") && caption.contains('2'));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_asks_then_erases_everything_and_only_for_the_user_who_pressed() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    let ben = world.user(BEN, "Ben");
    for user in [&ann, &ben] {
        user.asks("/start").await;
        let question = user.asks("/prompt").await;
        world.question_opens(&question).await;
        user.asks("words only this user wrote, zebra-lantern").await;
    }

    // "No" keeps everything.
    let question = ann.asks("/delete").await;
    assert!(question.is("delete_confirm") && question.text.contains('1'));
    let data = question.callback_data();
    assert_eq!(data.len(), 2);
    assert!(data.iter().all(|data| data.len() <= 64));
    ann.presses(&question, &data[1]);
    assert!(ann.next_reply().await.is("delete_cancelled"));
    assert_eq!(world.service().store().all_entries(ANN).unwrap().len(), 1);

    // A button from an older /delete no longer confirms anything. (Telegram itself lets only
    // Ann press buttons in her chat; a forged press by someone else is covered where events
    // are converted and in the service tests.)
    let older = ann.asks("/delete").await;
    let question = ann.asks("/delete").await;
    ann.presses(&older, &older.callback_data()[0]);
    assert!(ann.next_reply().await.is("delete_stale"));
    assert!(world.service().store().profile(ANN).unwrap().is_some());

    // Ann's own press erases all of hers, and nothing of Ben's.
    let confirm = question.callback_data()[0].clone();
    ann.presses(&question, &confirm);
    assert!(ann.next_reply().await.is("deleted"));
    let store = world.service().store();
    // The goodbye's delivery is recorded a moment after Telegram took it: wait for that, so
    // the scan below also sees what the record of it left.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while store.outbox_len() != (0, 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox never emptied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(store.profile(ANN).unwrap(), None);
    assert!(store.all_entries(ANN).unwrap().is_empty());
    // The store keys users as big-endian bytes with the sign bit flipped; written out here
    // rather than borrowed from the store, so a bug there cannot hide itself.
    let id = ((ANN as u64) ^ (1 << 63)).to_be_bytes();
    for record in store.raw_dump().unwrap() {
        assert!(
            !record.key.windows(8).any(|window| window == id),
            "{} still has a key for Ann",
            record.tree
        );
        assert!(
            !String::from_utf8_lossy(&record.value).contains(&ANN.to_string()),
            "{} still names Ann",
            record.tree
        );
    }
    assert!(store.profile(BEN).unwrap().is_some());
    assert_eq!(store.all_entries(BEN).unwrap().len(), 1);
    // The pressed button is gone from the message, and an old one is stale.
    assert!(world.fake.answered_callbacks().len() >= 3);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_words_are_erased_after_the_retention_period() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    ann.asks("written on the first day").await;
    world.advance(days(200)).await;
    ann.asks("written two hundred days later").await;
    world.advance(days(166)).await;
    let left = world.kept_texts(ANN);
    assert_eq!(left, ["written two hundred days later"]);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_borderline_message_gets_a_gentle_line_and_the_crisis_lines_at_a_tap() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let answer = ann
        .asks(crossroads_core::fixtures::borderline_message(false))
        .await;
    assert!(
        support::dialogues::is_message(&answer.text, "check_in"),
        "{}",
        answer.text
    );
    assert!(
        !answer.is("crisis"),
        "not the crisis answer: {}",
        answer.text
    );
    assert!(has_booking_button(&answer));
    assert_eq!(answer.callback_data(), vec!["urgent".to_owned()]);
    ann.presses(&answer, "urgent");
    let lines = ann.next_reply().await;
    assert!(lines.is("crisis") && lines.text.contains("Samaritans: 116 123"));
    assert_eq!(world.service().store().all_entries(ANN).unwrap().len(), 1);

    // A second one the same day, closer to a crisis, is answered as a crisis.
    world.advance(support::minutes(30)).await;
    let second = ann
        .asks(crossroads_core::fixtures::borderline_message(true))
        .await;
    assert!(second.is("crisis"), "{}", second.text);
    world.finish().await;
}
