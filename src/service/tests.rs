//! The service with a real store in a temporary folder and a manual clock: every scenario runs
//! in microseconds, and nothing here knows about Telegram.

use std::sync::{
    Arc,
    atomic::{AtomicI32, Ordering},
};

use chrono::{DateTime, Duration, NaiveTime, Utc};

use crossroads_core::{
    command::Command,
    event::Incoming,
    fixtures,
    reply::{Button, Message},
    zone::Zone,
};
use crossroads_store::SecretKey;

use super::*;
use crate::clock::ManualClock;
use sender::Carried;

const ANN: UserId = 1001;
const BEN: UserId = 1002;

struct Harness {
    dir: tempfile::TempDir,
    key: SecretKey,
    clock: ManualClock,
    service: Arc<Service>,
    next_message_id: AtomicI32,
}

impl Harness {
    fn start(at: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let clock = ManualClock::new(at.parse().unwrap());
        let service = Harness::service(&dir, &key, &clock);
        Harness {
            dir,
            key,
            clock,
            service,
            next_message_id: AtomicI32::new(100),
        }
    }

    fn service(dir: &tempfile::TempDir, key: &SecretKey, clock: &ManualClock) -> Arc<Service> {
        let store = Arc::new(Store::open_with_key(&dir.path().join("db"), key).unwrap());
        Arc::new(Service::new(
            store,
            Catalog::builtin().unwrap(),
            fixtures::settings(),
            Arc::new(clock.clone()),
        ))
    }

    /// Like a restart: the same folder, a fresh process.
    fn restart(self) -> Harness {
        let Harness {
            dir,
            key,
            clock,
            service,
            next_message_id,
        } = self;
        drop(service);
        let service = Harness::service(&dir, &key, &clock);
        Harness {
            dir,
            key,
            clock,
            service,
            next_message_id,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.service.clock().now()
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    fn set(&self, to: &str) {
        self.clock.set(to.parse().unwrap());
    }

    async fn command(&self, user: UserId, command: Command) -> Vec<Message> {
        let event = self.command_event(command);
        messages(self.service.handle(Chat::Private(user), event).await)
    }

    fn command_event(&self, command: Command) -> Event {
        let message_id = self.next_message_id.fetch_add(1, Ordering::SeqCst);
        let text = match &command {
            Command::Time(argument) | Command::Timezone(argument) => {
                format!("/{} {argument}", command.name())
            }
            other => format!("/{}", other.name()),
        };
        Event::Command(
            command,
            Incoming {
                message_id,
                sent_at: self.now(),
                text,
                reply_to: None,
            },
        )
    }

    async fn write(&self, user: UserId, text: &str) -> (i32, Vec<Message>) {
        let message_id = self.next_message_id.fetch_add(1, Ordering::SeqCst);
        let incoming = Incoming {
            message_id,
            sent_at: self.now(),
            text: text.into(),
            reply_to: None,
        };
        (
            message_id,
            messages(
                self.service
                    .handle(Chat::Private(user), Event::Text(incoming))
                    .await,
            ),
        )
    }

    async fn due(&self) -> Vec<(UserId, Vec<Message>)> {
        self.service
            .take_due_and_deliver(self.now(), 100)
            .await
            .unwrap()
            .into_iter()
            .map(|(user, outbound)| (user, messages(outbound)))
            .collect()
    }

    /// Walks the clock forward ten minutes at a time, as a scheduler would wake, and returns
    /// when each question went out.
    async fn walk_until(&self, end: &str) -> Vec<DateTime<Utc>> {
        let end: DateTime<Utc> = end.parse().unwrap();
        let mut sent = Vec::new();
        while self.now() < end {
            for _ in self.due().await {
                sent.push(self.now());
            }
            self.advance(Duration::minutes(10));
        }
        sent
    }

    fn entries(&self, user: UserId) -> Vec<crossroads_core::model::Entry> {
        self.service.store().all_entries(user).unwrap()
    }

    fn profile(&self, user: UserId) -> Option<crossroads_core::model::Profile> {
        self.service.store().profile(user).unwrap()
    }
}

fn messages(outbound: Vec<Outbound>) -> Vec<Message> {
    outbound
        .into_iter()
        .filter_map(|outbound| match outbound {
            Outbound::Message(message) => Some(message),
            _ => None,
        })
        .collect()
}

fn text(message: &Message) -> String {
    crossroads_core::markup::visible_text(message.html.as_str())
        .expect("every message must be valid Telegram HTML")
}

fn has_booking(message: &Message) -> bool {
    message.buttons.iter().any(
        |button| matches!(button, Button::Url { url, .. } if url == "https://example.com/book"),
    )
}

fn is_prompt(message: &Message) -> bool {
    text(message).starts_with("Today's question")
}

#[tokio::test]
async fn start_welcomes_with_the_practice_the_defaults_and_the_booking_button() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    let replies = h.command(ANN, Command::Start).await;
    assert_eq!(replies.len(), 1);
    let welcome = text(&replies[0]);
    assert!(welcome.contains("Boutique & Co"), "{welcome}");
    assert!(welcome.contains("not therapy"));
    assert!(welcome.contains("09:00") && welcome.contains("Europe/London"));
    assert!(
        welcome.contains("/time") && welcome.contains("/timezone") && welcome.contains("/delete")
    );
    assert!(has_booking(&replies[0]));
    let profile = h.profile(ANN).unwrap();
    assert_eq!(
        profile.next_due.unwrap().at,
        "2026-03-02T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
}

#[tokio::test]
async fn start_again_never_wipes_anything() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.command(ANN, Command::Time("21:30".into())).await;
    h.write(ANN, "a first note").await;
    let replies = h.command(ANN, Command::Start).await;
    assert!(text(&replies[0]).contains("Welcome back"));
    assert_eq!(h.entries(ANN).len(), 1);
    assert_eq!(
        h.profile(ANN).unwrap().prompt_time,
        NaiveTime::from_hms_opt(21, 30, 0).unwrap()
    );
}

#[tokio::test]
async fn a_question_arrives_once_a_day_at_the_chosen_local_time() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.command(ANN, Command::Timezone("America/New_York".into()))
        .await;
    h.command(ANN, Command::Time("08:15".into())).await;
    assert!(h.due().await.is_empty());
    h.set("2026-03-02T13:14:59Z");
    assert!(h.due().await.is_empty(), "not before 08:15 in New York");
    h.set("2026-03-02T13:15:00Z");
    let due = h.due().await;
    assert_eq!(due.len(), 1);
    assert!(is_prompt(&due[0].1[0]));
    assert!(h.due().await.is_empty(), "never twice on one local date");
    h.advance(Duration::hours(12));
    assert!(h.due().await.is_empty());
    h.set("2026-03-03T13:15:00Z");
    let next = h.due().await;
    assert_eq!(next.len(), 1);
    assert_ne!(
        text(&due[0].1[0]),
        text(&next[0].1[0]),
        "the next question is a different one"
    );
}

#[tokio::test]
async fn users_get_their_own_times() {
    let h = Harness::start("2026-03-02T00:00:00Z");
    h.command(ANN, Command::Time("07:00".into())).await;
    h.command(BEN, Command::Time("07:00".into())).await;
    h.command(BEN, Command::Timezone("Asia/Tokyo".into())).await;
    h.set("2026-03-02T07:00:00Z");
    assert_eq!(
        h.due()
            .await
            .iter()
            .map(|(user, _)| *user)
            .collect::<Vec<_>>(),
        [ANN]
    );
    h.set("2026-03-02T22:00:00Z");
    assert_eq!(
        h.due()
            .await
            .iter()
            .map(|(user, _)| *user)
            .collect::<Vec<_>>(),
        [BEN]
    );
}

#[tokio::test]
async fn the_next_text_after_a_question_is_its_reply_and_later_ones_are_notes() {
    let h = Harness::start("2026-03-02T08:00:00Z");
    let replies = h.command(ANN, Command::Prompt).await;
    assert!(
        replies.iter().any(is_prompt),
        "a first /prompt also welcomes, then asks"
    );
    let (_, ack) = h.write(ANN, "It shifted after the move").await;
    assert_eq!(ack.len(), 1);
    assert!(has_booking(&ack[0]));
    let (_, note_ack) = h.write(ANN, "and one more thing").await;
    assert!(has_booking(&note_ack[0]));
    let entries = h.entries(ANN);
    assert_eq!(entries.len(), 2);
    let given = h.profile(ANN).unwrap().rotation.given;
    assert_eq!(
        entries[0].prompt_id.as_deref(),
        given.first().map(String::as_str)
    );
    assert_eq!(entries[1].prompt_id, None);
    assert_eq!(entries[0].local_date.to_string(), "2026-03-02");
}

#[tokio::test]
async fn a_redelivered_message_is_kept_once_and_keeps_its_question() {
    let h = Harness::start("2026-03-02T08:00:00Z");
    h.command(ANN, Command::Prompt).await;
    let incoming = Incoming {
        message_id: 55,
        sent_at: h.now(),
        text: "my answer".into(),
        reply_to: None,
    };
    let first = h
        .service
        .handle(Chat::Private(ANN), Event::Text(incoming.clone()))
        .await;
    let again = h
        .service
        .handle(Chat::Private(ANN), Event::Text(incoming))
        .await;
    assert_eq!(first, again, "the same acknowledgement again");
    let entries = h.entries(ANN);
    assert_eq!(entries.len(), 1);
    assert!(entries[0].prompt_id.is_some());
}

#[tokio::test]
async fn an_edit_updates_the_kept_words_quietly() {
    let h = Harness::start("2026-03-02T08:00:00Z");
    h.command(ANN, Command::Start).await;
    let (message_id, _) = h.write(ANN, "first words").await;
    let sent_at = h.now();
    h.advance(Duration::minutes(5));
    let edit = Incoming {
        message_id,
        sent_at,
        text: "better words".into(),
        reply_to: None,
    };
    let replies = h
        .service
        .handle(Chat::Private(ANN), Event::Edited(edit))
        .await;
    assert!(replies.is_empty());
    let entries = h.entries(ANN);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].text, "better words");
    assert_eq!(entries[0].edited_at, Some(h.now()));
    // An edit of something never kept (a command, say) changes nothing.
    let stray = Incoming {
        message_id: 9999,
        sent_at,
        text: "/recap".into(),
        reply_to: None,
    };
    assert!(
        h.service
            .handle(Chat::Private(ANN), Event::Edited(stray))
            .await
            .is_empty()
    );
    assert_eq!(h.entries(ANN).len(), 1);
}

#[tokio::test]
async fn a_question_missed_briefly_is_sent_late_and_an_old_one_is_skipped() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    // Down from before 09:00 until 11:30: within the three hours of catch-up.
    h.set("2026-03-02T11:30:00Z");
    assert_eq!(h.due().await.len(), 1);
    // Down from the next morning until 15:00: more than three hours late, so skipped.
    h.set("2026-03-03T15:00:00Z");
    assert!(h.due().await.is_empty());
    assert_eq!(
        h.profile(ANN).unwrap().next_due.unwrap().at,
        "2026-03-04T09:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        "skipping never piles questions up"
    );
    // Even days of downtime give one question at most.
    h.set("2026-03-09T10:00:00Z");
    assert!(h.due().await.is_empty());
    h.set("2026-03-10T09:00:00Z");
    assert_eq!(h.due().await.len(), 1);
}

#[tokio::test]
async fn a_restart_keeps_everything_and_never_resends_todays_question() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.set("2026-03-02T09:00:00Z");
    assert_eq!(h.due().await.len(), 1);
    h.write(ANN, "kept across restarts").await;
    let h = h.restart();
    h.set("2026-03-02T10:00:00Z");
    assert!(h.due().await.is_empty());
    assert_eq!(h.entries(ANN)[0].text, "kept across restarts");
    h.set("2026-03-03T09:00:00Z");
    assert_eq!(h.due().await.len(), 1);
}

#[tokio::test]
async fn spring_forward_and_fall_back_days_each_get_exactly_one_question() {
    let h = Harness::start("2026-03-27T12:00:00Z");
    h.command(ANN, Command::Timezone("Europe/Berlin".into()))
        .await;
    h.command(ANN, Command::Time("02:30".into())).await;
    let sent = h.walk_until("2026-03-31T00:00:00Z").await;
    let expected: Vec<DateTime<Utc>> = [
        "2026-03-28T01:30:00Z",
        "2026-03-29T01:00:00Z",
        "2026-03-30T00:30:00Z",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(sent, expected);

    h.set("2026-10-23T12:00:00Z");
    h.service
        .handle(
            Chat::Private(ANN),
            h.command_event(Command::Time("02:30".into())),
        )
        .await;
    let sent = h.walk_until("2026-10-27T00:00:00Z").await;
    let expected: Vec<DateTime<Utc>> = [
        "2026-10-24T00:30:00Z",
        "2026-10-25T00:30:00Z",
        "2026-10-26T01:30:00Z",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn asking_for_a_question_counts_as_todays() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.command(ANN, Command::Prompt).await;
    h.set("2026-03-02T09:00:00Z");
    assert!(h.due().await.is_empty());
    h.set("2026-03-03T09:00:00Z");
    assert_eq!(h.due().await.len(), 1);
}

#[tokio::test]
async fn pause_stops_questions_and_resume_brings_them_back() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    let paused = h.command(ANN, Command::Pause).await;
    assert!(text(&paused[0]).contains("paused"));
    assert!(text(&h.command(ANN, Command::Pause).await[0]).contains("already paused"));
    h.set("2026-03-05T09:00:00Z");
    assert!(h.due().await.is_empty());
    let settings = text(&h.command(ANN, Command::Settings).await[0]);
    assert!(settings.contains("paused"), "{settings}");
    let resumed = text(&h.command(ANN, Command::Resume).await[0]);
    assert!(
        resumed.contains("Thu 5 Mar at 09:00") || resumed.contains("Fri 6 Mar at 09:00"),
        "{resumed}"
    );
    h.set("2026-03-06T09:00:00Z");
    assert_eq!(h.due().await.len(), 1);
}

#[tokio::test]
async fn bad_settings_input_gets_a_kind_answer_and_changes_nothing() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    let before = h.profile(ANN);
    for command in [
        Command::Time("25:99".into()),
        Command::Time("<b>soon</b>".into()),
        Command::Timezone("Mars/Olympus".into()),
        Command::Timezone("UTC+99".into()),
    ] {
        let replies = h.command(ANN, command).await;
        assert_eq!(replies.len(), 1);
        assert!(text(&replies[0]).contains("Nothing has changed"));
    }
    assert_eq!(h.profile(ANN), before);
    // Bad input from someone new creates nothing at all.
    h.command(BEN, Command::Time("99".into())).await;
    assert_eq!(h.profile(BEN), None);
}

#[tokio::test]
async fn a_group_gets_one_line_a_goodbye_and_nothing_is_kept() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    let replies = h
        .service
        .handle(
            Chat::Group,
            Event::Text(Incoming {
                message_id: 1,
                sent_at: h.now(),
                text: "hi".into(),
                reply_to: None,
            }),
        )
        .await;
    assert!(matches!(replies.last(), Some(Outbound::LeaveChat)));
    assert!(text(&messages(replies)[0]).contains("one to one"));
    assert_eq!(h.service.store().profile_count(), 0);
}

#[tokio::test]
async fn non_text_is_answered_kindly_and_not_kept() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    let replies = messages(h.service.handle(Chat::Private(ANN), Event::NonText).await);
    assert!(text(&replies[0]).contains("only keep written words"));
    assert!(h.entries(ANN).is_empty());
}

#[tokio::test]
async fn a_request_for_advice_is_declined_kindly_and_still_kept() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Prompt).await;
    let (_, replies) = h.write(ANN, "Should I leave him?").await;
    let answer = text(&replies[0]);
    assert!(answer.contains("not able to give advice"), "{answer}");
    assert!(has_booking(&replies[0]));
    assert_eq!(h.entries(ANN)[0].text, "Should I leave him?");
    assert!(
        h.entries(ANN)[0].prompt_id.is_some(),
        "it still answers the open question"
    );
}

#[tokio::test]
async fn a_crisis_gets_the_crisis_answer_first_and_the_words_are_kept() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Prompt).await;
    let (_, replies) = h.write(ANN, "I want to kill myself").await;
    let answer = text(&replies[0]);
    assert!(answer.contains("not a crisis service"), "{answer}");
    assert!(
        answer.contains("112") && answer.contains("Helpline: 116 123"),
        "{answer}"
    );
    assert!(has_booking(&replies[0]));
    assert_eq!(h.entries(ANN).len(), 1);
}

#[tokio::test]
async fn a_crisis_inside_a_command_is_answered_as_a_crisis_and_kept() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    let replies = h
        .command(ANN, Command::Time("i dont want to be here anymore".into()))
        .await;
    assert!(text(&replies[0]).contains("not a crisis service"));
    let entries = h.entries(ANN);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].text, "/time i dont want to be here anymore");
}

#[tokio::test]
async fn recap_quotes_the_week_back_with_its_questions_and_the_booking_button() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    for day in 0..9 {
        h.set(&format!("2026-03-{:02}T09:00:00Z", 2 + day));
        assert_eq!(h.due().await.len(), 1);
        if day % 2 == 0 {
            h.advance(Duration::minutes(30));
            h.write(ANN, &format!("answer on day {day} <with & markup>"))
                .await;
        }
    }
    let replies = h.command(ANN, Command::Recap).await;
    let all: String = replies.iter().map(text).collect::<Vec<_>>().join("\n");
    assert!(has_booking(replies.last().unwrap()));
    assert!(all.contains("answer on day 8 <with & markup>"));
    assert!(all.contains("answer on day 2"));
    assert!(!all.contains("answer on day 0"), "older than seven days");
    assert!(all.contains("You wrote on 4 of these 7 days"), "{all}");
    assert!(all.contains("This week's questions touched on"), "{all}");
    // One question per answer, quoted from the catalog.
    let catalog = Catalog::builtin().unwrap();
    for entry in h.entries(ANN).iter().skip(1) {
        let question = catalog.prompt(entry.prompt_id.as_deref().unwrap()).unwrap();
        assert!(all.contains(question.text.trim()));
    }
}

#[tokio::test]
async fn recap_with_nothing_says_so_kindly() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    let replies = h.command(ANN, Command::Recap).await;
    assert!(text(&replies[0]).contains("Nothing has been saved"));
    assert!(has_booking(&replies[0]));
    assert_eq!(h.profile(ANN), None, "reading creates nothing");
}

#[tokio::test]
async fn delete_asks_first_and_only_the_users_own_fresh_button_erases() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.command(BEN, Command::Start).await;
    h.write(ANN, "ann's words").await;
    h.write(BEN, "ben's words").await;
    let ask = h.command(ANN, Command::Delete).await;
    assert!(
        text(&ask[0]).contains("saved entries (1)"),
        "{}",
        text(&ask[0])
    );
    let Button::Callback { data: yes, .. } = &ask[0].buttons[0] else {
        panic!("expected a confirm button")
    };
    assert!(yes.len() <= 64);

    // Ben presses a copy of Ann's button: his own profile has no such request.
    let replies = messages(
        h.service
            .handle(
                Chat::Private(BEN),
                Event::ButtonPressed { data: yes.clone() },
            )
            .await,
    );
    assert!(text(&replies[0]).contains("expired"));
    assert_eq!(h.entries(BEN).len(), 1);

    // A newer /delete makes the older button stale.
    let newer = h.command(ANN, Command::Delete).await;
    let replies = messages(
        h.service
            .handle(
                Chat::Private(ANN),
                Event::ButtonPressed { data: yes.clone() },
            )
            .await,
    );
    assert!(text(&replies[0]).contains("expired"));
    assert_eq!(h.entries(ANN).len(), 1);

    let Button::Callback { data: yes, .. } = &newer[0].buttons[0] else {
        panic!()
    };
    let replies = messages(
        h.service
            .handle(
                Chat::Private(ANN),
                Event::ButtonPressed { data: yes.clone() },
            )
            .await,
    );
    assert!(text(&replies[0]).contains("erased"));
    assert_eq!(h.profile(ANN), None);
    assert!(h.entries(ANN).is_empty());
    assert_eq!(h.entries(BEN).len(), 1);
}

#[tokio::test]
async fn a_delete_button_expires() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    let ask = h.command(ANN, Command::Delete).await;
    let Button::Callback { data: yes, .. } = &ask[0].buttons[0] else {
        panic!()
    };
    h.advance(Duration::hours(1));
    h.service
        .handle(
            Chat::Private(ANN),
            Event::ButtonPressed { data: yes.clone() },
        )
        .await;
    assert!(h.profile(ANN).is_some());
}

#[tokio::test]
async fn blocked_users_get_nothing_until_they_come_back() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.service.mark_unreachable(ANN).await;
    h.set("2026-03-04T09:00:00Z");
    assert!(h.due().await.is_empty());
    assert!(h.profile(ANN).is_some(), "data stays");
    h.command(ANN, Command::Start).await;
    h.set("2026-03-05T09:00:00Z");
    assert_eq!(h.due().await.len(), 1);
}

#[tokio::test]
async fn old_entries_are_purged_after_the_retention_period() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.write(ANN, "old words").await;
    h.advance(Duration::days(20));
    h.write(ANN, "newer words").await;
    h.advance(Duration::days(11));
    assert_eq!(h.service.purge_expired(h.now()).await.unwrap(), 1);
    assert_eq!(
        h.entries(ANN)
            .iter()
            .map(|e| e.text.as_str())
            .collect::<Vec<_>>(),
        ["newer words"]
    );
}

#[tokio::test]
async fn export_holds_settings_and_every_entry() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Prompt).await;
    h.write(ANN, "answer <one> & more").await;
    h.write(ANN, "a note").await;
    let outbound = h
        .service
        .handle(Chat::Private(ANN), h.command_event(Command::Export))
        .await;
    let documents: Vec<_> = outbound
        .into_iter()
        .filter_map(|outbound| match outbound {
            Outbound::Document(document) => Some(document),
            _ => None,
        })
        .collect();
    assert_eq!(documents.len(), 2);
    let json: serde_json::Value = serde_json::from_slice(&documents[0].bytes).unwrap();
    assert_eq!(json["settings"]["timezone"], "Europe/London");
    assert_eq!(json["entries"].as_array().unwrap().len(), 2);
    assert_eq!(json["entries"][0]["text"], "answer <one> & more");
    assert_eq!(json["entries"][0]["kind"], "reply");
    assert!(json["entries"][0]["question"].is_string());
    let readable = String::from_utf8(documents[1].bytes.clone()).unwrap();
    assert!(
        readable.contains("answer <one> & more") && readable.contains("a note"),
        "{readable}"
    );
    assert!(documents[1].caption.is_some());
}

#[tokio::test]
async fn concurrent_replies_from_many_users_are_all_kept_and_share_flushes() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    let flushes_before = h.service.store().flush_count();
    let tasks: Vec<_> = (0..200)
        .map(|user| {
            let service = Arc::clone(&h.service);
            let sent_at = h.now();
            tokio::spawn(async move {
                let incoming = Incoming {
                    message_id: 1,
                    sent_at,
                    text: format!("words of {user}"),
                    reply_to: None,
                };
                service
                    .handle(Chat::Private(5000 + user), Event::Text(incoming))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert!(!task.await.unwrap().is_empty());
    }
    for user in 0..200 {
        assert_eq!(h.entries(5000 + user)[0].text, format!("words of {user}"));
    }
    let flushes = h.service.store().flush_count() - flushes_before;
    assert!(
        flushes < 200,
        "{flushes} flushes for 200 replies: no batching"
    );
}

#[tokio::test]
async fn every_zone_a_user_can_set_is_shown_back_the_same() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    for zone in ["UTC+05:30", "Pacific/Chatham", "america/sao_paulo"] {
        let replies = h.command(ANN, Command::Timezone(zone.into())).await;
        let shown = zone.parse::<Zone>().unwrap().to_string();
        assert!(text(replies.last().unwrap()).contains(&shown));
    }
}

/// A Telegram that takes (or refuses) every step after `delay`, and remembers what it took.
struct Courier {
    answer: Carried,
    delay: std::time::Duration,
    carried: std::sync::Mutex<Vec<(i64, Step)>>,
}

impl Courier {
    fn new(answer: Carried, delay: std::time::Duration) -> Arc<Courier> {
        Arc::new(Courier {
            answer,
            delay,
            carried: Default::default(),
        })
    }

    fn carried(&self) -> Vec<(i64, Step)> {
        self.carried.lock().unwrap().clone()
    }
}

impl sender::Courier for Courier {
    /// Each step takes a different time (by its size), and is recorded when it lands: sends
    /// that ran side by side would land out of order.
    fn carry(&self, chat_id: i64, step: Step) -> futures::future::BoxFuture<'_, Carried> {
        Box::pin(async move {
            let size = match &step {
                Step::Message { html, .. } => html.len(),
                _ => 0,
            };
            let uneven = u32::try_from(size % 5 + 1).unwrap_or(1);
            tokio::time::sleep(self.delay * uneven).await;
            self.carried.lock().unwrap().push((chat_id, step));
            self.answer.clone()
        })
    }
}

impl Harness {
    /// Runs the sender until the outbox is empty.
    async fn send_everything(&self, courier: Arc<Courier>, options: sender::SenderOptions) {
        let stop = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn(sender::run(
            Arc::clone(&self.service),
            courier,
            options,
            stop.clone(),
        ));
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while self.service.store().outbox_len() != (0, 0) {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the outbox empties");
        stop.cancel();
        running.await.unwrap();
    }
}

#[tokio::test]
async fn a_question_opens_only_once_telegram_took_it() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.set("2026-03-02T09:00:00Z");
    assert_eq!(h.service.take_due(h.now(), 100).await.unwrap(), 1);
    assert_eq!(
        h.profile(ANN).unwrap().open_prompt,
        None,
        "queued is not delivered"
    );
    let courier = Courier::new(
        Carried::Delivered {
            message_id: Some(321),
        },
        std::time::Duration::ZERO,
    );
    h.send_everything(Arc::clone(&courier), sender::SenderOptions::default())
        .await;
    let open = h
        .profile(ANN)
        .unwrap()
        .open_prompt
        .expect("open once delivered");
    assert_eq!(open.message_id, Some(321));
    assert_eq!(h.service.store().delivered_messages(ANN).unwrap().len(), 1);
    h.write(ANN, "my answer").await;
    assert_eq!(h.entries(ANN)[0].prompt_id, Some(open.prompt_id));
}

#[tokio::test]
async fn words_after_a_question_that_never_arrived_are_kept_as_a_note() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.set("2026-03-02T09:00:00Z");
    h.service.take_due(h.now(), 100).await.unwrap();
    let courier = Courier::new(
        Carried::Refused("Bad Request: chat not found".into()),
        std::time::Duration::ZERO,
    );
    h.send_everything(Arc::clone(&courier), sender::SenderOptions::default())
        .await;
    assert_eq!(courier.carried().len(), 1, "a refusal is not retried");
    assert_eq!(h.profile(ANN).unwrap().open_prompt, None);
    h.write(ANN, "something on my mind").await;
    assert_eq!(h.entries(ANN)[0].prompt_id, None);
    assert!(
        h.due().await.is_empty(),
        "the day's question is not sent twice"
    );
}

#[tokio::test]
async fn a_question_that_waited_past_the_catch_up_window_is_closed_not_sent() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.set("2026-03-02T09:00:00Z");
    h.service.take_due(h.now(), 100).await.unwrap();
    // The bot went down with the question still queued, and came back after the window.
    h.set("2026-03-02T12:30:00Z");
    let courier = Courier::new(
        Carried::Delivered {
            message_id: Some(1),
        },
        std::time::Duration::ZERO,
    );
    h.send_everything(Arc::clone(&courier), sender::SenderOptions::default())
        .await;
    assert!(courier.carried().is_empty());
    assert_eq!(h.profile(ANN).unwrap().open_prompt, None);
}

#[tokio::test]
async fn a_reply_goes_before_the_questions_queued_ahead_of_it() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    for user in 0..40 {
        h.command(3000 + user, Command::Start).await;
    }
    h.set("2026-03-02T09:00:00Z");
    assert_eq!(h.service.take_due(h.now(), 100).await.unwrap(), 40);
    // Ann writes while the questions wait: her answer comes through the inbox, as on Telegram.
    let arrival = parcel::Arrival {
        chat: parcel::ArrivalChat::Private(ANN),
        what: parcel::What::Message {
            message_id: 1,
            sent_at: h.now(),
            text: Some("/help".into()),
            reply_to: None,
        },
        button: None,
    };
    let received = crossroads_store::Received {
        chat_id: ANN,
        update_id: 500,
        payload: arrival.encode(),
    };
    h.service
        .receive(vec![received.clone()], None)
        .await
        .unwrap();
    h.service.handle_received(&received, "bot").await.unwrap();
    assert_eq!(h.service.store().outbox_len(), (1, 40));
    let courier = Courier::new(
        Carried::Delivered {
            message_id: Some(1),
        },
        std::time::Duration::from_millis(2),
    );
    let options = sender::SenderOptions {
        messages_per_second: 20,
        ..sender::SenderOptions::default()
    };
    h.send_everything(Arc::clone(&courier), options).await;
    let order: Vec<i64> = courier.carried().iter().map(|(chat, _)| *chat).collect();
    assert_eq!(order[0], ANN, "the reply went first: {order:?}");
    assert_eq!(order.len(), 41);
}

#[tokio::test]
async fn a_redelivered_update_is_handled_once() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    let arrival = parcel::Arrival {
        chat: parcel::ArrivalChat::Private(ANN),
        what: parcel::What::Message {
            message_id: 1,
            sent_at: h.now(),
            text: Some("I keep thinking about the move".into()),
            reply_to: None,
        },
        button: None,
    };
    let received = crossroads_store::Received {
        chat_id: ANN,
        update_id: 500,
        payload: arrival.encode(),
    };
    assert_eq!(
        h.service
            .receive(vec![received.clone()], None)
            .await
            .unwrap(),
        1
    );
    h.service.handle_received(&received, "bot").await.unwrap();
    // Telegram did not hear our 200 and posts it again.
    assert_eq!(h.service.receive(vec![received], None).await.unwrap(), 0);
    assert_eq!(
        h.service.waiting_updates(),
        1,
        "only the first is waiting in memory"
    );
    assert_eq!(
        h.service.store().outbox_len(),
        (1, 0),
        "one acknowledgement, queued once"
    );
    assert_eq!(h.entries(ANN).len(), 1);
}

#[tokio::test]
async fn a_403_marks_the_user_unreachable_and_keeps_their_words() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.write(ANN, "kept before they left").await;
    h.set("2026-03-02T09:00:00Z");
    h.service.take_due(h.now(), 100).await.unwrap();
    let courier = Courier::new(Carried::Unreachable, std::time::Duration::ZERO);
    h.send_everything(Arc::clone(&courier), sender::SenderOptions::default())
        .await;
    let profile = h.profile(ANN).unwrap();
    assert!(!profile.reachable);
    assert_eq!(profile.next_due, None, "no more questions");
    assert_eq!(profile.open_prompt, None);
    assert_eq!(h.entries(ANN).len(), 1);
}

#[tokio::test]
async fn a_chats_messages_go_in_the_order_they_were_decided() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    for (update_id, text) in [(1, "/start"), (2, "/help"), (3, "/book"), (4, "/privacy")] {
        let arrival = parcel::Arrival {
            chat: parcel::ArrivalChat::Private(ANN),
            what: parcel::What::Message {
                message_id: update_id as i32,
                sent_at: h.now(),
                text: Some(text.into()),
                reply_to: None,
            },
            button: None,
        };
        let received = crossroads_store::Received {
            chat_id: ANN,
            update_id,
            payload: arrival.encode(),
        };
        h.service
            .receive(vec![received.clone()], None)
            .await
            .unwrap();
        h.service.handle_received(&received, "bot").await.unwrap();
    }
    // Slow and uneven sends: a later message must still never overtake an earlier one.
    let courier = Courier::new(
        Carried::Delivered {
            message_id: Some(1),
        },
        std::time::Duration::from_millis(3),
    );
    let options = sender::SenderOptions {
        chat_burst: 100,
        chat_interval: std::time::Duration::from_millis(1),
        ..sender::SenderOptions::default()
    };
    h.send_everything(Arc::clone(&courier), options).await;
    let texts: Vec<String> = courier
        .carried()
        .into_iter()
        .filter_map(|(_, step)| match step {
            Step::Message { html, .. } => Some(html),
            _ => None,
        })
        .collect();
    let position = |needle: &str| {
        texts
            .iter()
            .position(|html| html.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} was sent: {texts:#?}"))
    };
    let (welcome, help, book, privacy) = (
        position("Hello, and welcome"),
        position("What I can do"),
        position("Talking with a therapist"),
        position("Your privacy"),
    );
    assert!(
        welcome < help && help < book && book < privacy,
        "{texts:#?}"
    );
}

/// Fails the first `failures` steps with a 502, then takes everything.
struct FlakyCourier {
    failures: std::sync::atomic::AtomicUsize,
    carried: std::sync::Mutex<Vec<String>>,
}

impl sender::Courier for FlakyCourier {
    fn carry(&self, _chat_id: i64, step: Step) -> futures::future::BoxFuture<'_, Carried> {
        Box::pin(async move {
            let failing = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok();
            if failing {
                return Carried::Transient("HTTP 502 without a Bot API answer".into());
            }
            if let Step::Message { html, .. } = step {
                self.carried.lock().unwrap().push(html);
            }
            Carried::Delivered {
                message_id: Some(1),
            }
        })
    }
}

#[tokio::test]
async fn a_retry_never_lets_a_later_message_overtake() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    for (update_id, text) in [(1, "/book"), (2, "/privacy")] {
        let arrival = parcel::Arrival {
            chat: parcel::ArrivalChat::Private(ANN),
            what: parcel::What::Message {
                message_id: update_id as i32,
                sent_at: h.now(),
                text: Some(text.into()),
                reply_to: None,
            },
            button: None,
        };
        let received = crossroads_store::Received {
            chat_id: ANN,
            update_id,
            payload: arrival.encode(),
        };
        h.service
            .receive(vec![received.clone()], None)
            .await
            .unwrap();
        h.service.handle_received(&received, "bot").await.unwrap();
    }
    let courier = Arc::new(FlakyCourier {
        failures: 1.into(),
        carried: Default::default(),
    });
    let stop = tokio_util::sync::CancellationToken::new();
    let options = sender::SenderOptions {
        chat_burst: 100,
        chat_interval: std::time::Duration::from_millis(1),
        ..sender::SenderOptions::default()
    };
    let running = tokio::spawn(sender::run(
        Arc::clone(&h.service),
        courier.clone(),
        options,
        stop.clone(),
    ));
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while h.service.store().outbox_len() != (0, 0) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the outbox empties");
    stop.cancel();
    running.await.unwrap();
    let carried = courier.carried.lock().unwrap().clone();
    let book = carried
        .iter()
        .position(|html| html.contains("Talking with a therapist"));
    let privacy = carried
        .iter()
        .position(|html| html.contains("Your privacy"));
    assert!(
        book.is_some() && book < privacy,
        "the failed first message went first after its retry: {carried:#?}"
    );
}

mod answers;
