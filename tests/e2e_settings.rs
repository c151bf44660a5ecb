//! Settings by tapping and the timezone from a shared location, end to end: the real bot
//! against the fake Bot API server, which checks inline and reply keyboards as Telegram does.

mod support;

use std::time::Duration;

use support::{
    World,
    fake_telegram::{Button, SentMessage},
};

const ANN: i64 = 1001;
const BEN: i64 = 1002;

const PARIS: (f64, f64) = (48.856_613, 2.352_222);
const TOKYO: (f64, f64) = (35.676_191, 139.650_311);

/// The next change the bot made in this chat to a message it had already sent.
async fn next_edit(world: &World, chat_id: i64) -> SentMessage {
    match world
        .fake
        .next_message(chat_id, Duration::from_secs(15))
        .await
    {
        Some(message) if message.edited => message,
        Some(message) => panic!("a new message came instead of an edit: {}", message.text),
        None => panic!("no edit came"),
    }
}

/// The data of the callback button labelled `label`.
fn data_of(message: &SentMessage, label: &str) -> String {
    message
        .buttons
        .iter()
        .flatten()
        .find_map(|button| match button {
            Button::Callback { text, data } if text == label => Some(data.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no button {label:?} in {:?}", message.buttons))
}

fn labels(message: &SentMessage) -> Vec<String> {
    message
        .buttons
        .iter()
        .flatten()
        .map(|button| match button {
            Button::Callback { text, .. } | Button::Url { text, .. } => text.clone(),
        })
        .collect()
}

/// The text of every answer the bot gave to button presses, in order; `None` for a bare one.
fn notices(world: &World) -> Vec<Option<String>> {
    world
        .fake
        .calls("answerCallbackQuery")
        .iter()
        .map(|call| call["text"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tapping_an_hour_then_minutes_moves_the_daily_question() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let settings = ann.asks("/settings").await;
    assert!(settings.is("settings"), "{}", settings.text);
    assert!(settings.text.contains("09:00") && settings.text.contains("Discreet mode: off"));

    ann.presses(&settings, &data_of(&settings, "Change the time"));
    let hours = next_edit(&world, ANN).await;
    assert_eq!(
        hours.message_id, settings.message_id,
        "the same message changes"
    );
    assert!(hours.is("settings_pick_hour"), "{}", hours.text);
    assert_eq!(hours.buttons.len(), 5, "four rows of hours, then Back");
    assert!(hours.buttons[..4].iter().all(|row| row.len() == 6));
    let hour_labels: Vec<String> = labels(&hours).into_iter().take(24).collect();
    assert_eq!(hour_labels[0], "00");
    assert_eq!(hour_labels[23], "23");

    ann.presses(&hours, &data_of(&hours, "21"));
    let minutes = next_edit(&world, ANN).await;
    assert_eq!(minutes.message_id, settings.message_id);
    assert!(minutes.is("settings_pick_minute"), "{}", minutes.text);
    assert_eq!(
        labels(&minutes),
        ["21:00", "21:15", "21:30", "21:45", "Back"]
    );

    ann.presses(&minutes, &data_of(&minutes, "21:15"));
    let done = next_edit(&world, ANN).await;
    assert_eq!(done.message_id, settings.message_id);
    assert!(done.is("settings") && done.is("time_set"), "{}", done.text);
    assert!(done.text.contains("Daily question: 21:15"), "{}", done.text);
    assert_eq!(
        labels(&done),
        labels(&settings),
        "the settings buttons are back"
    );
    assert_eq!(
        notices(&world),
        [None, None, None],
        "every tap answered, quietly"
    );
    let profile = world.service().store().profile(ANN).unwrap().unwrap();
    assert_eq!(profile.prompt_time.to_string(), "21:15:00");

    // 09:00 passes without a question; it comes at 21:15, London time (UTC in March).
    world.set_time("2026-03-02T09:30:00Z").await;
    ann.has_no_unread().await;
    world.set_time("2026-03-02T21:14:00Z").await;
    ann.has_no_unread().await;
    world.set_time("2026-03-02T21:15:00Z").await;
    let question = ann.next_reply().await;
    assert!(question.is("prompt"), "{}", question.text);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_discreet_mode_are_a_tap_away() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let settings = ann.asks("/settings").await;
    ann.presses(&settings, &data_of(&settings, "Pause the daily questions"));
    let paused = next_edit(&world, ANN).await;
    assert!(
        paused.is("settings") && paused.is("paused"),
        "{}",
        paused.text
    );
    assert!(labels(&paused).contains(&"Resume the daily questions".to_owned()));
    assert!(
        world
            .service()
            .store()
            .profile(ANN)
            .unwrap()
            .unwrap()
            .paused
    );
    world.set_time("2026-03-02T09:30:00Z").await;
    ann.has_no_unread().await;

    let settings = ann.asks("/settings").await;
    ann.presses(&settings, &data_of(&settings, "Turn discreet mode on"));
    let discreet = next_edit(&world, ANN).await;
    assert!(
        discreet.text.contains("Discreet mode: on"),
        "{}",
        discreet.text
    );
    assert!(labels(&discreet).contains(&"Turn discreet mode off".to_owned()));
    assert!(
        world
            .service()
            .store()
            .profile(ANN)
            .unwrap()
            .unwrap()
            .discreet
    );

    ann.presses(&discreet, &data_of(&discreet, "Resume the daily questions"));
    let resumed = next_edit(&world, ANN).await;
    assert!(resumed.is("resumed"), "{}", resumed.text);
    let profile = world.service().store().profile(ANN).unwrap().unwrap();
    assert!(!profile.paused && profile.discreet);
    // Today's 09:00 has passed: the next question is tomorrow's.
    world.set_time("2026-03-03T09:00:00Z").await;
    assert!(ann.next_reply().await.is("prompt"));

    // The typed commands still work beside the buttons.
    assert!(ann.asks("/pause").await.is("paused"));
    assert!(ann.asks("/settings").await.text.contains("paused"));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_keyboard_and_forged_data_change_nothing_and_say_so_kindly() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    let ben = world.user(BEN, "Ben");
    ann.asks("/start").await;
    ben.asks("/start").await;
    let older = ann.asks("/settings").await;
    let newer = ann.asks("/settings").await;

    // A button of the older /settings.
    ann.presses(&older, &data_of(&older, "Pause the daily questions"));
    let stripped = next_edit(&world, ANN).await;
    assert_eq!(stripped.message_id, older.message_id);
    assert!(
        stripped.buttons.is_empty(),
        "the out-of-date buttons come off"
    );
    assert!(
        !world
            .service()
            .store()
            .profile(ANN)
            .unwrap()
            .unwrap()
            .paused
    );

    // Ben's own button, and made-up data, sent from Ann's chat by a modified client.
    let bens = ben.asks("/settings").await;
    let forged = [
        data_of(&bens, "Pause the daily questions"),
        "set:p:1".to_owned(),
        "set:m2115:ffffffffffffffff".to_owned(),
        "set:zzz".to_owned(),
    ];
    let mut target = newer;
    for data in &forged {
        world
            .fake
            .user_presses_forged_button(ANN, ANN, target.message_id, data);
        let stripped = next_edit(&world, ANN).await;
        assert_eq!(stripped.message_id, target.message_id);
        assert!(stripped.buttons.is_empty());
        // The next one on a fresh /settings, whose buttons are still there to take off.
        target = ann.asks("/settings").await;
    }
    let ann_now = world.service().store().profile(ANN).unwrap().unwrap();
    assert!(!ann_now.paused, "nothing was paused");
    assert_eq!(
        ann_now.prompt_time.to_string(),
        "09:00:00",
        "nor the time moved"
    );
    assert!(
        !world
            .service()
            .store()
            .profile(BEN)
            .unwrap()
            .unwrap()
            .paused
    );
    let stale = notices(&world);
    assert_eq!(stale.len(), 1 + forged.len());
    for notice in &stale {
        let notice = notice.as_deref().expect("each press gets a short line");
        assert!(
            support::dialogues::is_message(notice, "settings_stale"),
            "{notice}"
        );
        assert!(notice.chars().count() <= 200);
    }
    ann.has_no_unread().await;
    ben.has_no_unread().await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_location_sets_the_timezone_and_the_keys_go_away() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let offer = ann.asks("/timezone").await;
    assert!(offer.is("timezone_show"), "{}", offer.text);
    let keys = world
        .fake
        .reply_keys(ANN)
        .expect("keys under the message field");
    assert_eq!(keys[0][0].text, "Share my location");
    assert!(keys[0][0].request_location);
    assert!(
        keys.iter()
            .flatten()
            .any(|key| key.text == "Europe/London" && !key.request_location)
    );

    world
        .fake
        .user_taps_key(ANN, ANN, "Share my location", PARIS);
    let located = ann.next_reply().await;
    assert!(located.is("timezone_located"), "{}", located.text);
    // 07:00 in London is 08:00 in Paris.
    assert!(
        located.text.contains("Europe/Paris, 08:00 there now"),
        "{}",
        located.text
    );
    assert_eq!(world.fake.reply_keys(ANN), None, "the keys are taken away");
    let profile = world.service().store().profile(ANN).unwrap().unwrap();
    assert_eq!(profile.zone.to_string(), "Europe/Paris");
    assert!(world.kept_texts(ANN).is_empty(), "a location is not words");
    // 09:00 in Paris is 08:00 UTC.
    world.set_time("2026-03-02T08:00:00Z").await;
    assert!(ann.next_reply().await.is("prompt"));

    // Tokyo, from the settings' own button this time.
    let settings = ann.asks("/settings").await;
    ann.presses(&settings, &data_of(&settings, "Change the timezone"));
    let zone_view = next_edit(&world, ANN).await;
    assert!(zone_view.is("settings_zone"), "{}", zone_view.text);
    let offer = ann.next_reply().await;
    assert!(offer.is("timezone_show"));
    let keys: Vec<String> = world
        .fake
        .reply_keys(ANN)
        .unwrap()
        .into_iter()
        .flatten()
        .map(|key| key.text)
        .collect();
    assert_eq!(keys, ["Share my location", "Europe/Paris", "Europe/London"]);
    world
        .fake
        .user_taps_key(ANN, ANN, "Share my location", TOKYO);
    let located = ann.next_reply().await;
    assert!(
        located.text.contains("Asia/Tokyo, 17:00 there now"),
        "{}",
        located.text
    );
    assert_eq!(
        world
            .service()
            .store()
            .profile(ANN)
            .unwrap()
            .unwrap()
            .zone
            .to_string(),
        "Asia/Tokyo"
    );

    // A zone key types its name: that is a choice, not words to keep.
    ann.asks("/timezone").await;
    world
        .fake
        .user_taps_key(ANN, ANN, "Europe/London", (0.0, 0.0));
    let chosen = ann.next_reply().await;
    assert!(chosen.is("timezone_set"), "{}", chosen.text);
    assert_eq!(world.fake.reply_keys(ANN), None);
    assert!(world.kept_texts(ANN).is_empty());
    // Once chosen, the same words are words again.
    assert!(!ann.asks("Europe/London").await.is("timezone_set"));
    assert_eq!(world.kept_texts(ANN), ["Europe/London"]);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_in_a_group_is_ignored() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let family = world.group(-500, "Family");
    world.fake.user_sends_location(-500, ANN, PARIS.0, PARIS.1);
    let goodbye = family.next_message().await;
    assert!(goodbye.is("private_only"), "{}", goodbye.text);
    assert!(family.is_left_by_the_bot().await);
    let profile = world.service().store().profile(ANN).unwrap().unwrap();
    assert_eq!(profile.zone.to_string(), "Europe/London", "nothing changed");
    ann.has_no_unread().await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_coordinates_are_kept_anywhere() {
    let mut world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/timezone").await;
    ann.next_reply().await;
    world
        .fake
        .user_taps_key(ANN, ANN, "Share my location", PARIS);
    assert!(ann.next_reply().await.is("timezone_located"));
    // One shared while the bot is down, which goes through the inbox at the restart.
    world.stop().await;
    world.fake.user_sends_location(ANN, ANN, TOKYO.0, TOKYO.1);
    world.restart_after_stop().await;
    assert!(ann.next_reply().await.text.contains("Asia/Tokyo"));
    let store = world.service().store();
    let traces = coordinate_traces();
    for record in store.raw_dump().unwrap() {
        for (label, trace) in &traces {
            assert!(
                !contains(&record.key, trace) && !contains(&record.value, trace),
                "{label} in tree {}",
                record.tree
            );
        }
    }
    world.stop().await;
    for file in files_under(world.data_dir()) {
        let bytes = std::fs::read(&file).unwrap();
        for (label, trace) in &traces {
            assert!(!contains(&bytes, trace), "{label} in {}", file.display());
        }
    }
    world.finish().await;
}

/// The coordinates as text and as the bytes of a float, either way round.
fn coordinate_traces() -> Vec<(String, Vec<u8>)> {
    let mut traces = Vec::new();
    for value in [PARIS.0, PARIS.1, TOKYO.0, TOKYO.1] {
        // The leading digits, however many more a format writes after them.
        let text: String = value.to_string().chars().take(6).collect();
        traces.push((format!("{value} as text"), text.into_bytes()));
        traces.push((format!("{value} as bytes"), value.to_le_bytes().to_vec()));
        traces.push((format!("{value} as bytes"), value.to_be_bytes().to_vec()));
    }
    traces
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_terminal_shows_the_buttons_as_text_and_takes_them_by_number_or_label() {
    let dir = tempfile::tempdir().unwrap();
    // /settings numbers its four buttons 1 to 4; the hours are 5 (00) to 28 (23), then Back;
    // the minutes are pressed by their label.
    let input = "/start\n/settings\n!1\n!26\n!21:15\n/timezone\nEurope/London\n!Turn discreet mode on\n\
                 /settings\n!4\n";
    let output = support::binary::chat(dir.path(), input);
    assert!(output.status.success());
    let shown = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "[ Change the time ]  type !1 to press",
        "[updated]",
        "[ 21 ]  type !26 to press",
        "[ 21:15 ]",
        "Done. Your daily question now comes at 21:15",
        "[ Share my location ]  type !location",
        "[ Europe/London ]  type it, or !",
        "Done. Your timezone is now Europe/London",
        "Discreet mode: on",
        // The first /settings' own discreet button, pressed after a newer /settings.
        "(This menu is out of date",
    ] {
        assert!(shown.contains(expected), "{expected:?} missing:\n{shown}");
    }
}
