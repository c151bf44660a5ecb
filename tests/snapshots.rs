//! Snapshots of the messages people see most, exactly as the bot sends them (Telegram HTML and
//! buttons): the welcome, a daily question, an acknowledgement, the advice and crisis answers,
//! a recap and the delete confirmation. A change of wording, or of what fills it, shows up here
//! as a diff to review; `INSTA_UPDATE=always cargo test --test snapshots` records a reviewed one.

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
};

const ANN: i64 = 1001;

struct Session {
    service: Arc<Service>,
    clock: ManualClock,
    next_id: i32,
    _dir: tempfile::TempDir,
}

impl Session {
    fn new() -> Session {
        let dir = tempfile::tempdir().unwrap();
        // A Monday morning in London, before the 09:00 question.
        let clock = ManualClock::new("2026-03-02T07:00:00Z".parse().unwrap());
        let service = Service::for_tests(dir.path(), fixtures::settings(), &clock);
        Session {
            service,
            clock,
            next_id: 0,
            _dir: dir,
        }
    }

    fn incoming(&mut self, text: &str) -> Incoming {
        self.next_id += 1;
        Incoming {
            message_id: self.next_id,
            sent_at: self.clock.now(),
            text: text.to_owned(),
            reply_to: None,
        }
    }

    async fn command(&mut self, command: Command, text: &str) -> Vec<Outbound> {
        let event = Event::Command(command, self.incoming(text));
        self.service.handle(Chat::Private(ANN), event).await
    }

    async fn write(&mut self, text: &str) -> Vec<Outbound> {
        let event = Event::Text(self.incoming(text));
        self.service.handle(Chat::Private(ANN), event).await
    }

    async fn daily_question(&self) -> Vec<Outbound> {
        let due = self
            .service
            .take_due_and_deliver(self.clock.now(), 10)
            .await
            .unwrap();
        due.into_iter()
            .find(|(user, _)| *user == ANN)
            .map(|(_, outbound)| outbound)
            .expect("Ann's question is due")
    }
}

/// What a person would be sent, as the bot sends it: each message's HTML, then its buttons.
fn shown(outbound: &[Outbound]) -> String {
    let mut out = Vec::new();
    for item in outbound {
        match item {
            Outbound::Message(message) => {
                let mut text = message.html.as_str().to_owned();
                for button in &message.buttons {
                    text.push_str(&match button {
                        Button::Url { label, url } => format!("\n[{label}]({url})"),
                        Button::Callback { label, data } => format!("\n[{label}] -> {data}"),
                    });
                }
                out.push(text);
            }
            Outbound::Document(document) => out.push(format!("<document {}>", document.filename)),
            Outbound::LeaveChat => out.push("<leaves the chat>".to_owned()),
            Outbound::DeleteMessage { message_id } => {
                out.push(format!("<deletes the user's message {message_id}>"))
            }
            other => out.push(format!("{other:?}")),
        }
    }
    out.join("\n\n======== next message ========\n\n")
}

#[tokio::test]
async fn the_messages_people_see_most() {
    let mut session = Session::new();
    insta::assert_snapshot!(
        "welcome",
        shown(&session.command(Command::Start, "/start").await)
    );

    session.clock.advance(Duration::hours(2));
    insta::assert_snapshot!("daily_question", shown(&session.daily_question().await));
    insta::assert_snapshot!(
        "acknowledgement",
        shown(
            &session
                .write("We talk about the kids & the bills, not <us>.")
                .await
        )
    );
    insta::assert_snapshot!(
        "advice_answer",
        shown(&session.write("should I leave him?").await)
    );
    insta::assert_snapshot!(
        "check_in_answer",
        shown(&session.write(fixtures::borderline_message(true)).await)
    );
    insta::assert_snapshot!(
        "crisis_answer",
        shown(&session.write("I don't want to be here anymore").await)
    );

    for day in 1..=3 {
        session.clock.advance(Duration::days(1));
        session.daily_question().await;
        session
            .write(&format!("Day {day}: we were polite all evening."))
            .await;
    }
    insta::assert_snapshot!(
        "recap",
        shown(&session.command(Command::Recap, "/recap").await)
    );
    insta::assert_snapshot!(
        "delete_confirmation",
        shown(&session.command(Command::Delete, "/delete").await)
    );
}
