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
    reply::{Button, Outbound},
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
use telegram_html::{CAPTION_LIMIT, MESSAGE_LIMIT, utf16_len, visible_text};

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
        }
    }

    fn message(&mut self, text: &str) -> Incoming {
        self.next_id += 1;
        Incoming {
            message_id: self.next_id,
            sent_at: self.clock.now(),
            text: text.into(),
        }
    }

    /// Sends an event and checks everything that comes back. Returns the replies.
    async fn send(&mut self, user: i64, event: Event, answers_user_words: bool) -> Vec<Outbound> {
        let label = format!("{event:?}").chars().take(80).collect::<String>();
        let replies = self.service.handle(Chat::Private(user), event).await;
        for reply in &replies {
            self.check(reply, &label);
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
            Outbound::LeaveChat => {}
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
    let user = 7;

    for command in [
        Command::Urgent,
        Command::Help,
        Command::Book,
        Command::Privacy,
        Command::Settings,
        Command::Recap,
        Command::Export,
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
    // The scheduled question, for every catalog entry in turn.
    let mut scheduled = 0;
    for _ in 0..fixtures::catalog().prompts.len() {
        let profile = audit.service.store().profile(user).unwrap().unwrap();
        audit
            .clock
            .set(profile.next_due.expect("questions are on").at);
        let now = audit.clock.now();
        for (_, replies) in audit.service.take_due(now, 10).await.unwrap() {
            for reply in &replies {
                audit.check(reply, "scheduled question");
                scheduled += 1;
            }
        }
    }
    assert_eq!(scheduled, fixtures::catalog().prompts.len());
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
    assert!(
        audit.seen > 100,
        "only {} messages were checked",
        audit.seen
    );
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
