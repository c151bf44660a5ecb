//! The whole bot, end to end: the real dispatcher and a real teloxide `Bot` against the fake
//! Bot API server, with time moved by hand.

mod support;

use support::{World, days, has_booking_button, hours, minutes};

const ANN: i64 = 1001;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_greets_explains_and_registers_the_commands() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    let welcome = ann.asks("/start").await;
    assert!(welcome.is("welcome"), "{}", welcome.text);
    assert!(welcome.text.contains("Boutique Psychotherapy"));
    assert!(welcome.text.contains("09:00") && welcome.text.contains("Europe/London"));
    assert!(welcome.text.contains("112"), "the emergency number");
    assert_eq!(welcome.parse_mode.as_deref(), Some("HTML"));
    assert!(has_booking_button(&welcome));

    let registered = world.fake.calls("setMyCommands");
    assert_eq!(registered.len(), 1);
    let names: Vec<&str> = registered[0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    for name in [
        "start", "prompt", "recap", "book", "time", "timezone", "pause", "resume", "settings",
        "help",
    ] {
        assert!(names.contains(&name), "{name} is not in the command menu");
    }
    let help = ann.asks("/help").await;
    for name in names {
        assert!(
            help.text.contains(&format!("/{name}")),
            "/help does not list /{name}"
        );
    }

    // /start again keeps everything.
    ann.asks("/time 07:45").await;
    let again = ann.asks("/start").await;
    assert!(again.is("welcome_back") && !again.is("welcome"));
    assert!(again.text.contains("07:45"));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_question_arrives_and_a_reply_is_acknowledged_with_the_booking_button() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    world.advance(hours(1) + minutes(59)).await;
    ann.has_no_unread().await;
    world.advance(minutes(1)).await;
    let question = ann.next_reply().await;
    assert!(question.is("prompt"), "{}", question.text);
    world.question_opens(&question).await;

    let ack = ann
        .asks("It shifted after our second child. We became a team, not a couple.")
        .await;
    assert!(has_booking_button(&ack));
    assert!(
        ack.text.len() < 200,
        "an acknowledgement stays short: {}",
        ack.text
    );
    let entries = world.service().store().all_entries(ANN).unwrap();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].prompt_id.is_some());

    // The next day, the next question, and only one.
    world.advance(days(1)).await;
    let next = ann.next_reply().await;
    assert!(next.is("prompt"));
    assert_ne!(next.text, question.text);
    ann.has_no_unread().await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recap_after_several_days_shows_every_day_in_the_users_words() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    for day in 0..5 {
        world
            .set_time(&format!("2026-03-{:02}T09:00:00Z", 2 + day))
            .await;
        ann.next_reply().await;
        world.advance(minutes(20)).await;
        if day != 2 {
            ann.asks(&format!("Day {day}: I feel <unseen> & tired, \"again\""))
                .await;
        }
    }
    ann.says("/recap");
    let recap = ann.next_reply().await;
    assert!(recap.is("recap_header"));
    assert!(
        recap.text.contains("You wrote on 4 of these 7 days"),
        "{}",
        recap.text
    );
    for day in [0, 1, 3, 4] {
        assert!(
            recap
                .text
                .contains(&format!("Day {day}: I feel <unseen> & tired, \"again\"")),
            "day {day} missing"
        );
    }
    assert!(!recap.text.contains("Day 2"));
    assert!(support::dialogues::is_message(&recap.text, "recap_themes"));
    assert!(has_booking_button(&recap));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_recap_is_split_to_fit_and_never_refused() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let long = "<&> ".repeat(1000) + "end";
    for day in 0..7 {
        world
            .set_time(&format!("2026-03-{:02}T09:00:00Z", 2 + day))
            .await;
        ann.next_reply().await;
        ann.asks(&long).await;
        ann.asks(&format!("a note on day {day}: {}", "and more ".repeat(450)))
            .await;
    }
    ann.says("/recap");
    let first = ann.next_reply().await;
    assert!(first.text.contains("You wrote on 7 of these 7 days"));
    let mut recap = vec![first];
    while !has_booking_button(recap.last().unwrap()) {
        recap.push(ann.next_reply().await);
    }
    assert!(
        recap.len() > 1 && recap.len() <= 6,
        "{} messages",
        recap.len()
    );
    let all: String = recap.iter().map(|message| message.text.clone()).collect();
    for day in [
        "Mon 2 Mar",
        "Tue 3 Mar",
        "Wed 4 Mar",
        "Thu 5 Mar",
        "Fri 6 Mar",
        "Sat 7 Mar",
        "Sun 8 Mar",
    ] {
        assert!(all.contains(day), "{day} is missing from the recap");
    }
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn book_sends_the_booking_link() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    let book = ann.asks("/book").await;
    assert!(book.is("book"));
    assert_eq!(
        book.url_buttons(),
        vec![(
            "Book a consultation".to_owned(),
            support::BOOKING_URL.to_owned()
        )]
    );
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_kind_answer_and_changes_nothing() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let before = world.service().store().profile(ANN).unwrap();

    let answer = ann.asks("/time 25:99").await;
    assert!(answer.is("time_invalid") && answer.text.contains("25:99"));
    let answer = ann.asks("/timezone Mars/Olympus").await;
    assert!(answer.is("timezone_invalid") && answer.text.contains("Mars/Olympus"));
    let answer = ann.asks("/time <b>&nbsp;").await;
    assert!(
        answer.text.contains("<b>&nbsp;"),
        "quoted back literally: {}",
        answer.text
    );
    let answer = ann.asks("/dance").await;
    assert!(answer.is("unknown_command"));
    for send in [
        support::User::sends_sticker,
        support::User::sends_photo,
        support::User::sends_voice,
    ] {
        send(&ann);
        let answer = ann.next_reply().await;
        assert!(answer.is("non_text"), "{}", answer.text);
    }
    assert_eq!(world.service().store().profile(ANN).unwrap(), before);
    assert!(world.service().store().all_entries(ANN).unwrap().is_empty());
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_change_and_show_what_they_are() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let set = ann.asks("/timezone UTC+02:00").await;
    assert!(set.text.contains("UTC+02:00"));
    let set = ann.asks("/time 21:30").await;
    assert!(set.text.contains("21:30"));
    let paused = ann.asks("/pause").await;
    assert!(paused.is("paused"));
    let settings = ann.asks("/settings").await;
    assert!(settings.is("settings"));
    assert!(settings.text.contains("21:30") && settings.text.contains("UTC+02:00"));
    assert!(support::dialogues::is_message(
        &settings.text,
        "status_paused"
    ));
    world.set_time("2026-03-03T19:30:00Z").await;
    ann.has_no_unread().await;
    let resumed = ann.asks("/resume").await;
    assert!(resumed.is("resumed"), "{}", resumed.text);
    world.set_time("2026-03-04T19:30:00Z").await;
    assert!(ann.next_reply().await.is("prompt"));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_told_once_and_left_and_nothing_is_kept() {
    let world = World::start().await;
    let group = world.group(-500, "Family");
    // One message only: once the bot has left, Telegram sends it nothing more from the group.
    // That a burst of group messages gets a single answer is tested where updates are converted.
    group.member_says(2002, "hello bot, my husband and I are struggling");
    let notice = group.next_message().await;
    assert!(notice.is("private_only"));
    assert!(group.is_left_by_the_bot().await);
    assert_eq!(world.fake.left_chats(), vec![-500]);
    assert_eq!(group.all_messages().len(), 1, "said once");
    assert_eq!(world.service().store().profile_count(), 0);
    assert!(
        world
            .service()
            .store()
            .all_entries(2002)
            .unwrap()
            .is_empty()
    );
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_reply_replaces_the_kept_words() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/prompt").await;
    let question = ann.next_reply().await;
    world.question_opens(&question).await;
    let message_id = ann.says("I think love is gone");
    ann.next_reply().await;
    world.advance(minutes(3)).await;
    ann.edits(message_id, "I think love is buried, not gone");
    let recap = ann.asks("/recap").await;
    assert!(recap.text.contains("I think love is buried, not gone"));
    assert!(!recap.text.contains("I think love is gone"));
    assert_eq!(world.service().store().all_entries(ANN).unwrap().len(), 1);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_everything_and_does_not_resend_todays_question() {
    let mut world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    world.set_time("2026-03-02T09:00:00Z").await;
    ann.next_reply().await;
    ann.asks("kept through a restart").await;
    world.restart().await;
    world.advance(hours(2)).await;
    ann.has_no_unread().await;
    let recap = ann.asks("/recap").await;
    assert!(recap.text.contains("kept through a restart"));
    world.set_time("2026-03-03T09:00:00Z").await;
    assert!(ann.next_reply().await.is("prompt"));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_missed_during_downtime_is_caught_up_or_skipped() {
    let mut world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    world.stop().await;
    // Down over 09:00, back at 10:30: within catch-up, so it comes on start.
    world.clock.set("2026-03-02T10:30:00Z".parse().unwrap());
    world.restart_after_stop().await;
    world.settle().await;
    assert!(ann.next_reply().await.is("prompt"));
    world.stop().await;
    // Down over the next 09:00, back at 14:00: too late, skipped, and no pile-up tomorrow.
    world.clock.set("2026-03-03T14:00:00Z".parse().unwrap());
    world.restart_after_stop().await;
    world.settle().await;
    ann.has_no_unread().await;
    world.set_time("2026-03-04T09:00:00Z").await;
    assert!(ann.next_reply().await.is("prompt"));
    ann.has_no_unread().await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_nothing_acknowledged_is_lost_and_nothing_is_doubled() {
    let mut world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    ann.asks("first words").await;
    ann.asks("second words").await;
    world.restart_after_crash().await;
    ann.catches_up().await;
    ann.asks("third words").await;
    let texts = world.kept_texts(ANN);
    assert_eq!(texts, ["first words", "second words", "third words"]);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_blocks_the_bot_stops_getting_questions_and_keeps_their_data() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    ann.asks("something worth keeping").await;
    ann.blocks_bot();
    // Updates are handled from the inbox, a moment after they arrive.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while world
        .service()
        .store()
        .profile(ANN)
        .unwrap()
        .unwrap()
        .reachable
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the block was never handled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    world.set_time("2026-03-02T09:00:00Z").await;
    world.set_time("2026-03-03T09:00:00Z").await;
    let profile = world.service().store().profile(ANN).unwrap().unwrap();
    assert!(!profile.reachable);
    assert_eq!(profile.next_due, None);
    assert_eq!(world.service().store().all_entries(ANN).unwrap().len(), 1);
    ann.unblocks_bot();
    assert!(ann.asks("/start").await.is("welcome_back"));
    world.set_time("2026-03-04T09:00:00Z").await;
    let reply = ann.next_reply().await;
    assert!(reply.is("prompt"), "{}", reply.text);
    ann.has_no_unread().await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_update_is_skipped_and_everyone_else_is_answered() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    let ben = world.user(1002, "Ben");
    ann.asks("/start").await;
    ben.asks("/start").await;
    // One update in the batch cannot be parsed; the ones around it must still be handled.
    ann.says("before the bad one");
    let unreadable = world.fake.user_sends_unreadable_text(1002, 1002);
    ann.says("after the bad one");
    let acknowledged = ann.replies(2).await;
    assert!(acknowledged.iter().all(has_booking_button));
    assert!(ben.asks("/settings").await.is("settings"));
    // The next poll confirms everything handled, the unreadable update included.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while world.fake.confirmed_offset() <= unreadable {
        assert!(
            std::time::Instant::now() < deadline,
            "the offset never moved past the unreadable update"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let kept = world.kept_texts(ANN);
    assert_eq!(kept, ["before the bad one", "after the bad one"]);
    assert!(
        world
            .service()
            .store()
            .all_entries(1002)
            .unwrap()
            .is_empty()
    );
    world.finish().await;
}
