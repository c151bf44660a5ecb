//! Discreet mode end to end, through the real bot and the fake Bot API server: the neutral
//! first line and spoilers, the user's words deleted once kept, recaps and exports protected
//! and deleted after `[privacy] discreet_lifetime` (by the injected clock), deletions that
//! outlive a crash, deletions Telegram refuses, and turning it off.

mod support;

use std::time::Duration;

use support::{World, fake_telegram::SentMessage, has_booking_button, hours, minutes};

const ANN: i64 = 1001;

/// The neutral line, read from the dialogues as a practice would write it.
fn header() -> String {
    let table: toml::Table =
        toml::from_str(include_str!("../dialogues/messages.toml")).expect("messages.toml");
    table["discreet_header"].as_str().unwrap().to_owned()
}

/// Opens with the neutral line, and shows nothing else until tapped.
fn is_veiled(message: &SentMessage) -> bool {
    let preview = message.preview();
    let mut lines = preview.lines();
    lines.next() == Some(header().as_str())
        && !message.spoilers.is_empty()
        && lines.all(|line| line.chars().all(|c| c == '▒' || c.is_whitespace()))
}

/// Waits until the bot has recorded that it must delete `count` messages: each record is
/// written with the delivery, just after Telegram answered.
async fn deletions_recorded(world: &World, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let far = world.now() + support::days(3);
    while world
        .service()
        .store()
        .fading_until(far, 100)
        .unwrap()
        .len()
        < count
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no deletion was recorded"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until Telegram refused a deletion with this description.
async fn deletion_refused(world: &World, description: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let refused = world.fake.rejections().into_iter().any(|rejection| {
            rejection.method.eq_ignore_ascii_case("deleteMessage")
                && rejection.description.contains(description)
        });
        if refused {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no deletion was refused with {description:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_and_answers_show_only_a_neutral_line_and_kept_words_leave_the_chat() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    let welcome = ann.asks("/start").await;
    assert!(
        welcome.text.contains("/discreet"),
        "the welcome mentions it"
    );
    assert!(!is_veiled(&welcome), "off by default");
    let on = ann.asks("/discreet").await;
    assert!(on.is("discreet_on"), "{}", on.text);
    assert!(is_veiled(&on), "{:?}", on.preview());

    // The daily question, at its time.
    world.set_time("2026-03-02T09:00:00Z").await;
    let question = ann.next_reply().await;
    assert!(question.is("prompt"), "{}", question.text);
    assert_eq!(question.first_line(), header());
    assert!(is_veiled(&question), "{:?}", question.preview());
    world.question_opens(&question).await;

    // The answer is kept, then deleted from the chat; the first time, the bot says so.
    let words = "We barely talk <anymore> & I miss him";
    let written = ann.says(words);
    let ack = ann.next_reply().await;
    ann.sees_deleted(written).await;
    assert!(!world.fake.still_in_chat(ANN, written));
    assert!(
        ack.is("reply_acks") && has_booking_button(&ack),
        "{}",
        ack.text
    );
    assert_eq!(ack.first_line(), header());
    assert!(
        support::dialogues::is_message(&ack.text, "discreet_deleted_notice"),
        "{}",
        ack.text
    );
    assert!(!ack.protect_content, "an acknowledgement is not a record");
    assert_eq!(world.kept_texts(ANN), [words]);

    // Once is enough.
    let again = ann.says("And a note for today");
    let ack = ann.next_reply().await;
    ann.sees_deleted(again).await;
    assert!(is_veiled(&ack), "{:?}", ack.preview());
    assert!(!support::dialogues::is_message(
        &ack.text,
        "discreet_deleted_notice"
    ));
    assert_eq!(world.kept_texts(ANN).len(), 2);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recaps_and_exports_are_protected_and_leave_the_chat_after_their_lifetime() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    ann.asks("/discreet").await;
    let written = ann.says("The kitchen felt cold tonight");
    ann.next_reply().await;
    ann.sees_deleted(written).await;

    let recap = ann.asks("/recap").await;
    assert!(recap.protect_content, "a recap can't be forwarded");
    assert!(is_veiled(&recap), "{:?}", recap.preview());
    assert!(recap.text.contains("The kitchen felt cold tonight"));
    ann.says("/export");
    let exports = ann.replies(2).await;
    for export in &exports {
        assert!(export.document.is_some() && export.protect_content);
        assert_eq!(export.first_line(), header());
    }
    deletions_recorded(&world, 3).await;

    world.advance(minutes(14)).await;
    ann.has_no_unread().await;
    assert!(world.fake.still_in_chat(ANN, recap.message_id));
    world.advance(minutes(1)).await;
    ann.sees_deleted(recap.message_id).await;
    for export in &exports {
        ann.sees_deleted(export.message_id).await;
    }
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_pending_at_a_crash_are_carried_out_after_the_restart() {
    let mut world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    ann.asks("/discreet").await;
    ann.says("Words for the week");
    ann.next_reply().await;
    let recap = ann.asks("/recap").await;
    deletions_recorded(&world, 1).await;

    world.restart_after_crash().await;
    world.advance(minutes(15)).await;
    ann.sees_deleted(recap.message_id).await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_telegram_refuses_is_let_go_and_nothing_else_waits_for_it() {
    let mut world = World::start().await;
    world.expected_refusals = vec![
        "message to delete not found".into(),
        "message can't be deleted".into(),
    ];
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    ann.asks("/discreet").await;
    ann.says("Words for the week");
    ann.next_reply().await;

    // Already gone: Ann deleted the recap herself.
    let recap = ann.asks("/recap").await;
    deletions_recorded(&world, 1).await;
    world.fake.user_deletes_message(ANN, recap.message_id);
    world.advance(minutes(15)).await;
    deletion_refused(&world, "message to delete not found").await;
    ann.has_no_unread().await;

    // Too old: the bot was down for more than two days.
    let recap = ann.asks("/recap").await;
    deletions_recorded(&world, 1).await;
    world.stop().await;
    world.clock.advance(hours(49));
    world.restart_after_stop().await;
    world.settle().await;
    deletion_refused(&world, "message can't be deleted").await;
    assert!(world.fake.still_in_chat(ANN, recap.message_id));
    assert_eq!(world.service().store().earliest_fading().unwrap(), None);
    ann.has_no_unread().await;
    let refused = world
        .fake
        .rejections()
        .iter()
        .filter(|rejection| rejection.method.eq_ignore_ascii_case("deleteMessage"))
        .count();
    assert_eq!(
        refused, 2,
        "each refused deletion is tried once, then let go"
    );
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turned_off_it_stops_from_then_on_and_nothing_deleted_comes_back() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    ann.asks("/discreet").await;
    let hidden = ann.says("Written while discreet");
    ann.next_reply().await;
    ann.sees_deleted(hidden).await;

    let off = ann.asks("/discreet").await;
    assert!(off.is("discreet_off"), "{}", off.text);
    assert_ne!(off.first_line(), header());
    assert!(off.spoilers.is_empty());

    let shown = ann.says("Written in plain sight");
    let ack = ann.next_reply().await;
    assert!(ack.spoilers.is_empty() && ack.first_line() != header());
    let recap = ann.asks("/recap").await;
    assert!(!recap.protect_content && recap.spoilers.is_empty());
    world.advance(minutes(20)).await;
    ann.has_no_unread().await;
    assert!(world.fake.still_in_chat(ANN, shown));
    assert!(world.fake.still_in_chat(ANN, recap.message_id));
    assert_eq!(world.fake.deleted_messages(ANN), [hidden], "nothing else");
    assert!(
        !world.fake.still_in_chat(ANN, hidden),
        "and that stays gone"
    );
    assert_eq!(
        world.kept_texts(ANN),
        ["Written while discreet", "Written in plain sight"]
    );
    world.finish().await;
}

/// A year of entries written straight into the store: answers to every question in turn and a
/// note now and then, with words that need escaping, in several scripts, with emoji.
fn a_year_of_entries(world: &World, user: i64) -> Vec<String> {
    let catalog = crossroads_core::content::Catalog::builtin().unwrap();
    let start = world.now() - support::days(365);
    let mut texts = Vec::new();
    for day in 0..365 {
        let written_at = start + support::days(day);
        let prompt = (day % 5 != 4).then(|| {
            catalog.prompts[day as usize % catalog.prompts.len()]
                .id
                .clone()
        });
        let text = format!(
            "Day {day}: we talked <a little> & it was 🙂 ok. Сегодня было тихо. 今日は静か。"
        );
        let entry = crossroads_core::model::Entry {
            user_id: user,
            message_id: 10_000 + day as i32,
            written_at,
            local_date: written_at.date_naive(),
            prompt_id: prompt,
            text: text.clone(),
            edited_at: None,
        };
        world
            .service()
            .store()
            .apply(crossroads_store::Change {
                entry: Some(&entry),
                ..Default::default()
            })
            .unwrap();
        texts.push(text);
    }
    texts
}

/// Reads the brief strictly, as XML (it is written to be well-formed), and returns every tag
/// name and every address it points to.
fn tags_and_addresses(html: &str) -> (Vec<String>, Vec<String>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(html);
    let (mut tags, mut addresses) = (Vec::new(), Vec::new());
    loop {
        match reader.read_event().expect("the brief is well-formed") {
            Event::Eof => break,
            Event::Start(tag) | Event::Empty(tag) => {
                tags.push(tag.name().0.to_owned());
                for attribute in tag.attributes() {
                    let attribute = attribute.unwrap();
                    let key = attribute.key.0.to_lowercase();
                    if key == "src" || key == "href" || key.starts_with("on") {
                        addresses.push(attribute.value.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    (tags, addresses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brief_of_a_year_is_one_printable_file_of_their_own_words_and_fades_when_discreet() {
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let empty = ann.asks("/brief").await;
    assert!(empty.is("brief_empty"), "{}", empty.text);
    let texts = a_year_of_entries(&world, ANN);

    let brief = ann.asks("/brief").await;
    let document = brief.document.as_ref().expect("a file");
    assert_eq!(document.filename, "crossroads-brief.html");
    assert!(brief.is("brief_caption"), "{}", brief.text);
    assert!(brief.text.contains("nobody else receives it"));
    assert!(!brief.protect_content);
    let html = String::from_utf8(document.bytes.clone()).expect("UTF-8");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<meta charset=\"utf-8\" />"));
    let (tags, addresses) = tags_and_addresses(&html);
    assert!(
        !tags
            .iter()
            .any(|tag| tag == "script" || tag == "img" || tag == "link")
    );
    assert_eq!(
        addresses,
        [support::BOOKING_URL],
        "nothing remote but the booking link"
    );
    assert!(html.contains("@media print"));
    for text in &texts {
        let escaped = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(html.contains(&escaped), "{text} is in it, escaped");
    }
    assert!(
        html.contains("You wrote on 365 of these days"),
        "every day counted"
    );

    // In discreet mode it is protected, veiled, and leaves the chat.
    ann.asks("/discreet").await;
    let brief = ann.asks("/brief").await;
    assert!(brief.protect_content && brief.document.is_some());
    assert!(is_veiled(&brief), "{:?}", brief.preview());
    deletions_recorded(&world, 1).await;
    world.advance(minutes(15)).await;
    ann.sees_deleted(brief.message_id).await;
    world.finish().await;
}
