//! Renders every message the bot can send, with empty, long and markup-heavy user text, and
//! checks each against Telegram's rules and the practice's: valid HTML within the limits, a
//! booking button on every answer to the user's own words, and no advice in any template.

use std::sync::Arc;

use chrono::Duration;
use crossroads::{
    clock::{Clock, ManualClock},
    service::Service,
};
use crossroads_core::{
    command::Command,
    event::{Chat, Event, Incoming},
    fixtures,
    reply::{Button, Outbound, ReplyKeyboard},
    voice::{Contact, CrisisLine, Settings},
};
// Telegram's rules as the fake Bot API server implements them, independently of the bot's own
// markup code, which is what is under audit here.
#[path = "support/telegram_html.rs"]
#[allow(
    dead_code,
    reason = "the audit needs the parser, not the fake server's refusal wording"
)]
mod telegram_html;
use telegram_html::{CAPTION_LIMIT, MESSAGE_LIMIT, parse, utf16_len, visible_text};

const BOOKING_URL: &str = "https://example.com/book?from=bot&x=<1>";

fn settings() -> Settings {
    Settings {
        // Markup in the practice's own settings must be escaped too.
        practice_name: "Dr. <Smith> & \"Partners\"".into(),
        booking_url: BOOKING_URL.into(),
        emergency: "112 & 999 <now>".into(),
        crisis_lines: vec![
            CrisisLine {
                name: "Line <A> & co".into(),
                contact: Contact::Phone("116 123".into()),
            },
            CrisisLine {
                name: "Directory".into(),
                contact: Contact::Url("https://findahelpline.com/?a=1&b=<2>".into()),
            },
        ],
        retention_days: 365,
        ..fixtures::settings()
    }
}

/// User text at the edges: nearly empty, as long as Telegram allows (counted in UTF-16 units,
/// with characters that take two), and full of markup that must never be read as markup.
fn hostile_texts() -> Vec<String> {
    let long_emoji = "🙂".repeat(MESSAGE_LIMIT / 2);
    let long_escapes = "<&>\"".repeat(MESSAGE_LIMIT / 4);
    vec![
        ".".into(),
        long_emoji,
        long_escapes,
        "<b>bold?</b> <a href=\"x\">link</a> &amp; &lt; </i> <script>alert(1)</script> & < > \""
            .into(),
        "should I leave <him> & go?".into(),
        "I want to kill myself <tonight> & nobody knows".into(),
        "/time <b>25:99</b> & more".into(),
    ]
}

struct Audit {
    service: Arc<Service>,
    clock: ManualClock,
    next_id: i32,
    _dir: tempfile::TempDir,
    seen: usize,
    /// Discreet mode is being audited: every message to a user who has it on must open with
    /// the neutral line and hide everything else.
    discreet: bool,
    veiled: usize,
}

impl Audit {
    fn new() -> Audit {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new("2026-03-02T07:00:00Z".parse().unwrap());
        let service = Service::for_tests(dir.path(), settings(), &clock);
        Audit {
            service,
            clock,
            next_id: 1,
            _dir: dir,
            seen: 0,
            discreet: false,
            veiled: 0,
        }
    }

    fn message(&mut self, text: &str) -> Incoming {
        self.next_id += 1;
        Incoming {
            message_id: self.next_id,
            sent_at: self.clock.now(),
            text: text.into(),
            reply_to: None,
        }
    }

    /// Sends an event and checks everything that comes back. Returns the replies.
    async fn send(&mut self, user: i64, event: Event, answers_user_words: bool) -> Vec<Outbound> {
        let label = format!("{event:?}").chars().take(80).collect::<String>();
        let replies = self.service.handle(Chat::Private(user), event).await;
        let veiled = self.is_discreet(user);
        for reply in &replies {
            self.check(reply, &label);
            if veiled {
                self.check_veiled(reply, &label);
            }
        }
        if answers_user_words {
            let last = replies
                .last()
                .unwrap_or_else(|| panic!("{label}: no answer at all"));
            assert!(
                carries_booking(last),
                "{label}: an answer to the user's words must carry the booking button"
            );
        }
        replies
    }

    async fn command(&mut self, user: i64, command: Command) -> Vec<Outbound> {
        let text = format!("/{}", command.name());
        let message = self.message(&text);
        self.send(user, Event::Command(command, message), false)
            .await
    }

    fn is_discreet(&self, user: i64) -> bool {
        self.discreet
            && self
                .service
                .store()
                .profile(user)
                .unwrap()
                .is_some_and(|profile| profile.discreet)
    }

    /// The first line is the neutral one, and nothing else shows until tapped.
    fn check_veiled(&mut self, reply: &Outbound, label: &str) {
        let dialogues: toml::Table =
            toml::from_str(include_str!("../dialogues/messages.toml")).unwrap();
        let header = dialogues["discreet_header"].as_str().unwrap().to_owned();
        let html = match reply {
            Outbound::Message(message) => message.html.as_str(),
            Outbound::Document(document) => document
                .caption
                .as_ref()
                .unwrap_or_else(|| panic!("{label}: a document needs the neutral caption"))
                .as_str(),
            Outbound::Edit(panel) => panel.html.as_str(),
            Outbound::Keyboard(keyed) => keyed.html.as_str(),
            Outbound::Notice(_) | Outbound::LeaveChat | Outbound::DeleteMessage { .. } => return,
        };
        let parsed = parse(html).unwrap();
        assert_eq!(parsed.text.lines().next(), Some(header.as_str()), "{label}");
        let preview = parsed.preview();
        let shown: String = preview
            .lines()
            .skip(1)
            .filter(|line| !line.chars().all(|c| c == '▒' || c.is_whitespace()))
            .collect();
        let notice = visible_text(dialogues["discreet_deleted_notice"].as_str().unwrap()).unwrap();
        assert!(
            shown.is_empty() || shown == notice,
            "{label}: shows {shown:?} beyond the neutral line"
        );
        self.veiled += 1;
    }

    fn check(&mut self, reply: &Outbound, label: &str) {
        self.seen += 1;
        match reply {
            Outbound::Message(message) => {
                let visible = visible_text(message.html.as_str()).unwrap_or_else(|error| {
                    panic!("{label}: Telegram would refuse the HTML: {error}")
                });
                let length = utf16_len(&visible);
                assert!(
                    (1..=MESSAGE_LIMIT).contains(&length),
                    "{label}: {length} units"
                );
                assert!(!visible.trim().is_empty(), "{label}: an empty message");
                for button in &message.buttons {
                    match button {
                        Button::Url { label: text, url } => {
                            assert!(!text.is_empty());
                            assert!(
                                url::Url::parse(url).is_ok_and(|url| url.scheme() == "https"),
                                "{label}: {url}"
                            );
                        }
                        Button::Callback { label: text, data } => {
                            assert!(!text.is_empty());
                            assert!(
                                (1..=64).contains(&data.len()),
                                "{label}: callback data of {} bytes",
                                data.len()
                            );
                        }
                    }
                }
            }
            Outbound::Document(document) => {
                assert!(!document.bytes.is_empty() && !document.filename.is_empty());
                if let Some(caption) = &document.caption {
                    let visible = visible_text(caption.as_str()).expect("caption HTML");
                    assert!(
                        utf16_len(&visible) <= CAPTION_LIMIT,
                        "{label}: caption too long"
                    );
                }
            }
            Outbound::LeaveChat | Outbound::DeleteMessage { .. } => {}
            Outbound::Edit(panel) => {
                self.check(
                    &Outbound::with_buttons(
                        panel.html.clone(),
                        panel.rows.iter().flatten().cloned().collect(),
                    ),
                    label,
                );
                self.seen -= 1;
                assert!(!panel.rows.is_empty() && panel.rows.iter().all(|row| !row.is_empty()));
                // Telegram shows at most 8 buttons a row, and 100 in all.
                assert!(panel.rows.iter().all(|row| row.len() <= 8), "{label}");
                assert!(panel.rows.iter().flatten().count() <= 100, "{label}");
            }
            Outbound::Notice(text) => {
                // answerCallbackQuery shows 0 to 200 characters of plain text.
                let length = text.chars().count();
                assert!((1..=200).contains(&length), "{label}: a notice of {length}");
                assert!(
                    !text.contains('<') && !text.contains("&lt;"),
                    "{label}: {text}"
                );
            }
            Outbound::Keyboard(keyed) => {
                self.check(&Outbound::text(keyed.html.clone()), label);
                self.seen -= 1;
                if let ReplyKeyboard::Offer(keys) = &keyed.keyboard {
                    assert!(!keys.is_empty(), "{label}");
                    for key in keys {
                        assert!(!key.label.trim().is_empty(), "{label}");
                    }
                    assert!(keys.iter().filter(|key| key.location).count() == 1);
                }
            }
        }
    }
}

fn carries_booking(reply: &Outbound) -> bool {
    matches!(reply, Outbound::Message(message)
        if message.buttons.iter().any(|button| matches!(button, Button::Url { url, .. } if url == BOOKING_URL)))
}

#[tokio::test]
async fn every_message_fits_telegram_and_every_answer_points_to_booking() {
    let mut audit = Audit::new();
    exercise(&mut audit, 7).await;
    assert!(
        audit.seen > 100,
        "only {} messages were checked",
        audit.seen
    );
}

/// The same, in discreet mode: with the neutral line and the spoilers, everything still fits,
/// and nothing personal shows before a tap.
#[tokio::test]
async fn in_discreet_mode_every_message_still_fits_and_shows_only_its_neutral_line() {
    let mut audit = Audit::new();
    audit.discreet = true;
    audit.command(7, Command::Start).await;
    audit.command(7, Command::Discreet).await;
    assert!(audit.is_discreet(7));
    exercise(&mut audit, 7).await;
    assert!(audit.veiled > 100, "only {} were veiled", audit.veiled);
}

async fn exercise(audit: &mut Audit, user: i64) {
    for command in [
        Command::Urgent,
        Command::Help,
        Command::Book,
        Command::Privacy,
        Command::Settings,
        Command::Recap,
        Command::Export,
        Command::Brief,
        Command::Delete,
        Command::Start,
        Command::Start,
        Command::Settings,
        Command::Time(String::new()),
        Command::Timezone(String::new()),
        Command::Time("21:15".into()),
        Command::Timezone("UTC-09:30".into()),
        Command::Pause,
        Command::Pause,
        Command::Settings,
        Command::Resume,
        Command::Resume,
        Command::Prompt,
        Command::Themes,
    ] {
        audit.command(user, command).await;
    }
    let unknown = audit.message("/dance <b>");
    audit
        .send(user, Event::UnknownCommand(unknown), false)
        .await;
    audit.send(user, Event::NonText, false).await;
    audit
        .send(
            user,
            Event::ButtonPressed {
                data: "nonsense".into(),
            },
            false,
        )
        .await;

    for text in hostile_texts() {
        // As a reply to a question, as a note, and as an edit of each.
        audit.command(user, Command::Prompt).await;
        let reply = audit.message(&text);
        audit.send(user, Event::Text(reply.clone()), true).await;
        let note = audit.message(&text);
        audit.send(user, Event::Text(note.clone()), true).await;
        audit
            .send(
                user,
                Event::Edited(Incoming {
                    text: format!("{text} (edited)"),
                    ..reply
                }),
                false,
            )
            .await;
        // Quoted back in error messages.
        audit.command(user, Command::Time(text.clone())).await;
        audit.command(user, Command::Timezone(text.clone())).await;
        audit.clock.advance(Duration::hours(5));
    }

    // Quoted back in the recap, and sent as files in an export, with all of the above stored.
    let recap = audit.command(user, Command::Recap).await;
    assert!(
        carries_booking(recap.last().unwrap()),
        "the recap ends with the booking button"
    );
    assert!(
        recap.len() > 1,
        "this much text needs more than one message"
    );
    audit.command(user, Command::Export).await;
    audit.command(user, Command::Brief).await;
    // The scheduled question, for every catalog entry in turn.
    let mut scheduled = 0;
    for _ in 0..fixtures::catalog().prompts.len() {
        let profile = audit.service.store().profile(user).unwrap().unwrap();
        audit
            .clock
            .set(profile.next_due.expect("questions are on").at);
        let now = audit.clock.now();
        let veiled = audit.is_discreet(user);
        for (_, replies) in audit.service.take_due_and_deliver(now, 10).await.unwrap() {
            for reply in &replies {
                audit.check(reply, "scheduled question");
                if veiled {
                    audit.check_veiled(reply, "scheduled question");
                }
                scheduled += 1;
            }
        }
    }
    assert_eq!(scheduled, fixtures::catalog().prompts.len());
    // /themes: the list, every theme turned off in turn (the last one stays on), and a button
    // of an older list.
    let listed = audit.command(user, Command::Themes).await;
    let callbacks = |outbound: &[Outbound]| -> Vec<String> {
        let Some(Outbound::Message(message)) = outbound.last() else {
            panic!("a list of themes: {outbound:?}")
        };
        message
            .buttons
            .iter()
            .filter_map(|button| match button {
                Button::Callback { data, .. } => Some(data.clone()),
                Button::Url { .. } => None,
            })
            .collect()
    };
    let oldest = callbacks(&listed)[0].clone();
    let mut list = listed;
    for index in 0..fixtures::catalog().themes.len() {
        let data = callbacks(&list)[index].clone();
        list = audit.send(user, Event::ButtonPressed { data }, false).await;
    }
    audit
        .send(user, Event::ButtonPressed { data: oldest }, false)
        .await;
    // Deleting: the question, a stale button, and the confirmation.
    let asked = audit.command(user, Command::Delete).await;
    let Some(Outbound::Message(question)) = asked.first() else {
        panic!("delete asks first")
    };
    let Button::Callback { data, .. } = &question.buttons[0] else {
        panic!("with a button: {question:?}")
    };
    audit
        .send(user, Event::ButtonPressed { data: data.clone() }, false)
        .await;
    audit
        .send(user, Event::ButtonPressed { data: data.clone() }, false)
        .await;
    // The button under a check-in line.
    audit
        .send(
            user,
            Event::ButtonPressed {
                data: "urgent".into(),
            },
            true,
        )
        .await;
    // A group.
    let replies = audit.service.handle(Chat::Group, Event::NonText).await;
    for reply in &replies {
        audit.check(reply, "group");
    }
}

/// Phrases that tell someone what to do. None may appear in anything the bot says.
const ADVICE_LANGUAGE: [&str; 18] = [
    "you should",
    "you must",
    "you need to",
    "you ought",
    "you have to",
    "try to",
    "i recommend",
    "i suggest",
    "i advise",
    "my advice",
    "it's best",
    "it is best",
    "make sure",
    "consider leaving",
    "consider staying",
    "should leave",
    "should stay",
    "the right choice",
];

#[test]
fn no_template_and_no_question_gives_advice() {
    let catalog = fixtures::catalog();
    // Every string in messages.toml, read as plain TOML rather than through the catalog, so a
    // message the catalog forgot to declare is read too.
    let source = include_str!("../dialogues/messages.toml");
    let table: toml::Table = toml::from_str(source).expect("messages.toml is TOML");
    let mut texts: Vec<(String, String)> = Vec::new();
    for (key, value) in &table {
        match value {
            toml::Value::String(text) => texts.push((key.clone(), text.clone())),
            toml::Value::Array(items) => texts.extend(
                items
                    .iter()
                    .filter_map(toml::Value::as_str)
                    .map(|text| (key.clone(), text.to_owned())),
            ),
            other => panic!("messages.toml: {key} is not text: {other:?}"),
        }
    }
    texts.extend(
        catalog
            .prompts
            .iter()
            .map(|prompt| (prompt.id.clone(), prompt.text.clone())),
    );
    texts.extend(
        catalog
            .commands
            .iter()
            .map(|command| (command.name.clone(), command.description.clone())),
    );
    for (key, text) in &texts {
        let lowered = text.to_lowercase().replace('’', "'");
        for phrase in ADVICE_LANGUAGE {
            assert!(!lowered.contains(phrase), "{key} says {phrase:?}: {text}");
        }
    }
    assert!(texts.len() > 100);
}

#[test]
fn every_question_in_the_catalog_asks_and_every_theme_is_used() {
    let catalog = fixtures::catalog();
    assert!(catalog.prompts.len() >= 40);
    for prompt in &catalog.prompts {
        assert!(
            prompt.text.trim().ends_with('?'),
            "{} is not a question",
            prompt.id
        );
    }
    for theme in &catalog.themes {
        let count = catalog
            .prompts
            .iter()
            .filter(|prompt| prompt.theme == theme.id)
            .count();
        assert!(count >= 5, "theme {} has only {count} questions", theme.id);
    }
    // The eight parts of the article.
    assert_eq!(catalog.themes.len(), 8);
}

/// The settings message and every view its buttons lead to, the zone keys and the answers to a
/// shared location, for a practice whose settings need escaping.
#[tokio::test]
async fn every_settings_view_and_location_answer_fits_telegram() {
    let mut audit = Audit::new();
    let user = 8;
    audit.command(user, Command::Settings).await;
    audit.command(user, Command::Start).await;
    let mut seen_data = std::collections::HashSet::new();
    let mut to_press: Vec<String> = Vec::new();
    let shown = audit.command(user, Command::Settings).await;
    let data_of = |replies: &[Outbound]| -> Vec<String> {
        replies
            .iter()
            .flat_map(|reply| match reply {
                Outbound::Message(message) => message.buttons.clone(),
                Outbound::Edit(panel) => panel.rows.iter().flatten().cloned().collect(),
                _ => Vec::new(),
            })
            .filter_map(|button| match button {
                Button::Callback { data, .. } => Some(data),
                Button::Url { .. } => None,
            })
            .collect()
    };
    to_press.extend(data_of(&shown));
    // Every button reachable from /settings, each pressed once: every hour, every quarter.
    while let Some(data) = to_press.pop() {
        if !seen_data.insert(data.clone()) {
            continue;
        }
        let replies = audit.send(user, Event::ButtonPressed { data }, false).await;
        to_press.extend(data_of(&replies));
    }
    assert!(
        seen_data.len() > 24 + 4 * 24,
        "{} buttons pressed",
        seen_data.len()
    );
    // An old keyboard, after a newer /settings.
    let old = seen_data.iter().next().unwrap().clone();
    audit.command(user, Command::Settings).await;
    let stale = audit
        .send(user, Event::ButtonPressed { data: old }, false)
        .await;
    assert!(matches!(stale.as_slice(), [Outbound::Notice(_)]));
    // The zone keys, a zone tapped, and locations found and not.
    audit.command(user, Command::Timezone(String::new())).await;
    for zone in [
        Some("Europe/Paris".to_owned()),
        Some("Mars/Olympus".to_owned()),
        None,
    ] {
        audit.send(user, Event::Location { zone }, false).await;
    }
    audit
        .send(
            9,
            Event::Location {
                zone: Some("Asia/Tokyo".into()),
            },
            false,
        )
        .await;
}
