//! Answering an older question with a Telegram reply, and choosing the article's parts the
//! daily question comes from (`/themes`), end to end against the fake Bot API server.

mod support;

use crossroads_core::content::{Catalog, Prompt};
use support::{World, fake_telegram::SentMessage, has_booking_button, minutes};

const ANN: i64 = 1001;
const BEN: i64 = 1002;

fn catalog() -> Catalog {
    Catalog::builtin().expect("the built-in dialogues are valid")
}

/// The catalog's question a message carries, read from what the user sees.
fn question_in(catalog: &Catalog, message: &SentMessage) -> Prompt {
    assert!(message.is("prompt"), "not a question: {}", message.text);
    catalog
        .prompts
        .iter()
        .find(|prompt| message.text.contains(prompt.text.trim()))
        .unwrap_or_else(|| panic!("no catalog question in {}", message.text))
        .clone()
}

/// The daily question of one day of March 2026, delivered and open for an answer.
async fn question_on(world: &World, user: &support::User, day: u32) -> SentMessage {
    world.set_time(&format!("2026-03-{day:02}T09:00:00Z")).await;
    let question = user.next_reply().await;
    assert!(question.is("prompt"), "{}", question.text);
    world.question_opens(&question).await;
    question
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_question_from_three_days_ago_answers_it_on_the_day_it_is_written() {
    let world = World::start().await;
    let catalog = catalog();
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let monday = question_on(&world, &ann, 2).await;
    question_on(&world, &ann, 3).await;
    question_on(&world, &ann, 4).await;
    let thursday = question_on(&world, &ann, 5).await;
    world.advance(minutes(30)).await;

    // Thursday: Ann swipes Monday's question and answers it, while Thursday's is open.
    let late = ann.replies_to(&monday, "Monday's question stayed with me all week.");
    let ack = ann.next_reply().await;
    assert!(
        ack.is("reply_acks"),
        "acknowledged as an answer: {}",
        ack.text
    );
    assert!(has_booking_button(&ack));
    // Thursday's question is still open: the next words answer it.
    let today = ann.says("And today I noticed the quiet at dinner.");
    assert!(ann.next_reply().await.is("reply_acks"));

    let entries = world.service().store().all_entries(ANN).unwrap();
    let kept = |id: i32| entries.iter().find(|entry| entry.message_id == id).unwrap();
    let thursday_date = "2026-03-05".parse().unwrap();
    assert_eq!(
        kept(late).prompt_id.as_deref(),
        Some(question_in(&catalog, &monday).id.as_str())
    );
    assert_eq!(
        kept(late).local_date,
        thursday_date,
        "kept on the day written"
    );
    assert_eq!(
        kept(today).prompt_id.as_deref(),
        Some(question_in(&catalog, &thursday).id.as_str())
    );

    // An edit of the reply updates the kept words and keeps them under Monday's question.
    ann.edits(
        late,
        "Monday's question stayed with me all week, and still does.",
    );
    ann.has_no_unread().await;
    let entries = world.service().store().all_entries(ANN).unwrap();
    let edited = entries
        .iter()
        .find(|entry| entry.message_id == late)
        .unwrap();
    assert_eq!(
        edited.text,
        "Monday's question stayed with me all week, and still does."
    );
    assert_eq!(
        edited.prompt_id.as_deref(),
        Some(question_in(&catalog, &monday).id.as_str())
    );

    // The recap shows the late answer under Monday's question.
    let recap = ann.asks("/recap").await;
    assert!(recap.is("recap_header"), "{}", recap.text);
    let monday_question = question_in(&catalog, &monday).text.trim().to_owned();
    let asked_at = recap
        .text
        .find(&monday_question)
        .expect("Monday's question is in the recap");
    let answered_at = recap
        .text
        .find("and still does.")
        .expect("the late answer is in the recap");
    assert!(asked_at < answered_at);
    assert!(
        recap.text[asked_at + monday_question.len()..answered_at].len()
            < "Monday's question stayed with me all week,".len() + 4,
        "the answer comes right under its question: {}",
        recap.text
    );
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_message_that_is_no_question_is_ordinary_words() {
    let world = World::start().await;
    let catalog = catalog();
    let ann = world.user(ANN, "Ann");
    let welcome = ann.asks("/start").await;

    // No question open: a reply to the welcome is a note.
    let note = ann.replies_to(&welcome, "I'm not sure where to begin.");
    assert!(ann.next_reply().await.is("note_acks"));
    // A question open: a reply to the welcome, or to her own words, answers it as any words do.
    let question = question_on(&world, &ann, 2).await;
    let answer = ann.replies_to_own(note, "Maybe here: we stopped laughing together.");
    assert!(ann.next_reply().await.is("reply_acks"));
    let after = ann.replies_to(&welcome, "That's all for today.");
    assert!(ann.next_reply().await.is("note_acks"));

    let entries = world.service().store().all_entries(ANN).unwrap();
    let kept = |id: i32| entries.iter().find(|entry| entry.message_id == id).unwrap();
    assert_eq!(kept(note).prompt_id, None);
    assert_eq!(
        kept(answer).prompt_id.as_deref(),
        Some(question_in(&catalog, &question).id.as_str())
    );
    assert_eq!(kept(after).prompt_id, None);
    world.finish().await;
}

/// The newest list of themes, its buttons as `(label, data)`.
fn theme_buttons(list: &SentMessage) -> Vec<(String, String)> {
    list.buttons
        .iter()
        .flatten()
        .filter_map(|button| match button {
            support::fake_telegram::Button::Callback { text, data } => {
                Some((text.clone(), data.clone()))
            }
            support::fake_telegram::Button::Url { .. } => None,
        })
        .collect()
}

fn button_for<'a>(list: &'a [(String, String)], title: &str) -> &'a (String, String) {
    list.iter()
        .find(|(label, _)| label.ends_with(title))
        .unwrap_or_else(|| panic!("no button for {title}: {list:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_question_comes_only_from_the_chosen_themes_without_repeats() {
    let world = World::start().await;
    let catalog = catalog();
    let ann = world.user(ANN, "Ann");
    ann.asks("/start").await;
    let mut list = ann.asks("/themes").await;
    assert!(list.is("themes"), "{}", list.text);
    assert_eq!(theme_buttons(&list).len(), catalog.themes.len());
    let on_mark = {
        let buttons = theme_buttons(&list);
        let (label, _) = button_for(&buttons, catalog.themes[0].title.trim());
        label
            .trim_end_matches(catalog.themes[0].title.trim())
            .to_owned()
    };
    assert!(
        theme_buttons(&list)
            .iter()
            .all(|(label, _)| label.starts_with(&on_mark)),
        "every theme is on at first"
    );

    // Ann keeps two parts of the article on.
    let kept: Vec<_> = catalog.themes[2..4].to_vec();
    for theme in catalog.themes.iter().filter(|theme| {
        !kept
            .iter()
            .any(|kept_theme: &crossroads_core::content::Theme| kept_theme.id == theme.id)
    }) {
        let buttons = theme_buttons(&list);
        let (_, data) = button_for(&buttons, theme.title.trim());
        ann.presses(&list, data);
        list = ann.next_reply().await;
        assert!(list.is("themes"), "{}", list.text);
        let buttons = theme_buttons(&list);
        let (label, _) = button_for(&buttons, theme.title.trim());
        assert!(!label.starts_with(&on_mark), "{} is off now", theme.id);
    }
    let chosen: Vec<&str> = kept.iter().map(|theme| theme.id.as_str()).collect();
    let in_chosen = catalog
        .prompts
        .iter()
        .filter(|prompt| chosen.contains(&prompt.theme.as_str()))
        .count();

    // Every daily question from now on is from those two, each once before any comes again.
    let mut seen = Vec::new();
    for day in 0..=in_chosen {
        let question = question_on(&world, &ann, 2 + u32::try_from(day).unwrap()).await;
        let prompt = question_in(&catalog, &question);
        assert!(chosen.contains(&prompt.theme.as_str()), "{}", prompt.id);
        seen.push(prompt.id);
    }
    let first_pass = &seen[..in_chosen];
    let mut unique = first_pass.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), in_chosen, "no repeats: {seen:?}");
    assert_eq!(seen[in_chosen], seen[0], "then around again");

    // Turning off one of the two leaves one; the last one stays on, kindly.
    let buttons = theme_buttons(&list);
    ann.presses(&list, &button_for(&buttons, kept[0].title.trim()).1);
    list = ann.next_reply().await;
    let buttons = theme_buttons(&list);
    ann.presses(&list, &button_for(&buttons, kept[1].title.trim()).1);
    let refused = ann.next_reply().await;
    assert!(refused.is("themes_keep_one"), "{}", refused.text);
    let buttons = theme_buttons(&refused);
    assert!(
        button_for(&buttons, kept[1].title.trim())
            .0
            .starts_with(&on_mark)
    );
    let profile = world.service().store().profile(ANN).unwrap().unwrap();
    assert_eq!(profile.themes_off.len(), catalog.themes.len() - 1);
    assert!(profile.chooses(&kept[1].id));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_theme_buttons_change_nothing() {
    let world = World::start().await;
    let catalog = catalog();
    let ann = world.user(ANN, "Ann");
    let ben = world.user(BEN, "Ben");
    ann.asks("/start").await;
    ben.asks("/start").await;
    let title = catalog.themes[0].title.trim();
    let older = ann.asks("/themes").await;
    world.advance(minutes(1)).await;
    let bens = ben.asks("/themes").await;
    world.advance(minutes(1)).await;

    // A button of an older list.
    let newer = ann.asks("/themes").await;
    ann.presses(&older, &button_for(&theme_buttons(&older), title).1);
    assert!(ann.next_reply().await.is("themes_stale"));
    // Ben's button, carried into Ann's chat by a tampered client.
    ann.presses_forged(&newer, &button_for(&theme_buttons(&bens), title).1);
    assert!(ann.next_reply().await.is("themes_stale"));
    // Made-up data on a fresh list: a theme that is not one, a nonce that never was, nonsense.
    for forged in [
        |nonce: &str, _: &str| format!("themes:{nonce}:not-a-theme"),
        |_: &str, theme: &str| format!("themes:1:{theme}"),
        |_: &str, _: &str| "themes:".to_owned(),
    ] {
        world.advance(minutes(1)).await;
        let list = ann.asks("/themes").await;
        let (_, data) = button_for(&theme_buttons(&list), title).clone();
        let nonce = data.split(':').nth(1).unwrap().to_owned();
        let forged = forged(&nonce, &catalog.themes[0].id);
        ann.presses_forged(&list, &forged);
        assert!(ann.next_reply().await.is("themes_stale"), "{forged}");
    }
    let profile = world.service().store().profile(ANN).unwrap().unwrap();
    assert!(profile.themes_off.is_empty(), "{:?}", profile.themes_off);

    // A fresh list's own button works, for Ann only.
    world.advance(minutes(1)).await;
    let list = ann.asks("/themes").await;
    ann.presses(&list, &button_for(&theme_buttons(&list), title).1);
    assert!(ann.next_reply().await.is("themes"));
    let profile = world.service().store().profile(ANN).unwrap().unwrap();
    assert_eq!(profile.themes_off, [catalog.themes[0].id.clone()]);
    let ben_profile = world.service().store().profile(BEN).unwrap().unwrap();
    assert!(ben_profile.themes_off.is_empty());
    world.finish().await;
}

/// The terminal chat: `/themes` shows the parts as buttons typed as `!N`, and a press turns one
/// off there too.
#[test]
fn themes_work_in_the_terminal_chat() {
    let catalog = catalog();
    let dir = tempfile::tempdir().unwrap();
    let output = support::binary::chat(dir.path(), "/start\n/themes\n!1\n");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first = catalog.themes[0].title.trim();
    let lines_for = |title: &str| -> Vec<String> {
        shown
            .lines()
            .filter(|line| line.contains(title) && line.contains("to press"))
            .map(str::to_owned)
            .collect()
    };
    let first_lines = lines_for(first);
    assert_eq!(first_lines.len(), 2, "two lists: {shown}");
    assert_ne!(
        first_lines[0],
        first_lines[1].replace("!9", "!1"),
        "{shown}"
    );
    assert!(first_lines[1].contains("!9"), "{shown}");
    let second = catalog.themes[1].title.trim();
    let second_lines = lines_for(second);
    assert_eq!(
        second_lines[0].replace("!2", ""),
        second_lines[1].replace("!10", ""),
        "the others stay as they were: {shown}"
    );
}
