//! `crossroads chat`: the same bot in a terminal, with no Telegram and no token.
//!
//! Each line typed is a message; replies print as text, buttons as text you can act on: a link
//! to open, or `!1`, `!2` … (or `!` and the button's label) to press a button. Every message
//! the bot sends is numbered (`#7`), as Telegram numbers messages in a chat: `!reply 7 words`
//! answers message 7, as a Telegram reply does. `!location 48.86 2.35` shares a place, as
//! Telegram's location button does: only the timezone it lies in goes on. A message that
//! changes in place prints again under `[updated]`; a button's notice prints in parentheses.
//! Keys that type for the user (the zones /timezone offers) are pressed the same way, or by
//! typing their label.
//!
//! A located place and a reply are turned into the same inbox arrival a Telegram update
//! becomes, and read from it the same way, so both transports mean the same by them.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicI32, Ordering},
    },
};

use std::panic::AssertUnwindSafe;

use futures::{FutureExt as _, future::BoxFuture};
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crossroads_core::{
    event::{Chat, Event},
    markup::visible_text,
    model::UserId,
    reply::{Button, Key, Outbound, ReplyKeyboard},
};

use crate::service::{
    Service,
    parcel::{Arrival, ArrivalChat, Step, StepButton, What},
    scheduler,
    sender::{self, Carried, Courier, SenderOptions},
};

/// The one person using a terminal chat.
pub const LOCAL_USER: UserId = 1;

/// How the bot is addressed in commands like `/start@name`.
const BOT_NAME: &str = "crossroads";

/// What the terminal shows; shared by the typing loop and the scheduler so their output never
/// interleaves and button numbers stay meaningful.
struct Screen<W> {
    out: tokio::sync::Mutex<W>,
    buttons: Mutex<Vec<Pressable>>,
    exports: PathBuf,
    /// The next message's number in this chat, the user's or the bot's: one sequence, as on
    /// Telegram, carried on from the last run so numbers never repeat.
    numbers: AtomicI32,
    /// The first number of this run: a number below it may be a message from an earlier run.
    first_number: i32,
    /// Where the next number is kept between runs: most of the bot's messages are kept nowhere
    /// else, and a number used again could name the wrong message to `!reply` or to a deletion
    /// still pending from discreet mode.
    numbers_file: Option<PathBuf>,
    /// The bot's messages shown in this run, which `!reply` may answer.
    shown: Mutex<BTreeSet<i32>>,
}

/// How many of an answer's items show as messages of their own, each with a number.
fn numbered_count(outbound: &[Outbound]) -> i32 {
    outbound
        .iter()
        .filter(|item| {
            matches!(
                item,
                Outbound::Message(_) | Outbound::Document(_) | Outbound::Keyboard(_)
            )
        })
        .count() as i32
}

/// What a line typed in the terminal asks for, beyond what it would on Telegram.
#[derive(Clone, Debug, PartialEq)]
enum Typed<'a> {
    /// `!location LAT LON`: a shared place; `None` when the line cannot be read as one.
    Location(Option<(f64, f64)>),
    /// `!reply N words`: words in reply to message `N`; the number is `None` when the line
    /// does not start with one. The words are kept either way: nothing typed is lost.
    Reply { number: Option<i32>, words: &'a str },
    /// Anything else: a message, a command or a button press.
    Other,
}

/// `!word` followed by nothing or a space, and what follows it.
fn local_command<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let rest = line.strip_prefix('!')?;
    let head = rest.get(..word.len())?;
    if !head.eq_ignore_ascii_case(word) {
        return None;
    }
    let rest = &rest[word.len()..];
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim())
}

fn read_typed(line: &str) -> Typed<'_> {
    // Any line starting so is taken for a place, even mistyped ("!location:48.8,2.3"), so that
    // coordinates are never kept as words.
    if let Some(rest) = line
        .get(..9)
        .filter(|head| head.eq_ignore_ascii_case("!location"))
        .map(|_| line[9..].trim_start_matches([':', ' ', '\t']))
    {
        let numbers: Vec<&str> = rest
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .collect();
        let place = match numbers.as_slice() {
            [latitude, longitude] => latitude
                .parse::<f64>()
                .ok()
                .zip(longitude.parse::<f64>().ok()),
            _ => None,
        };
        return Typed::Location(place);
    }
    if let Some(rest) = local_command(line, "reply") {
        let (first, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return match first.trim_start_matches('#').parse::<i32>() {
            Ok(number) => Typed::Reply {
                number: Some(number),
                words: after.trim(),
            },
            Err(_) => Typed::Reply {
                number: None,
                words: rest,
            },
        };
    }
    Typed::Other
}

/// Said when `!location` is not followed by a place. The line itself is never repeated back:
/// it may hold where someone lives.
const LOCATION_HELP: &str = "(To share a place here, type !location and its latitude and longitude, \
for example: !location 48.86 2.35. Only the timezone it lies in is kept, never the place. \
Nothing has changed.)\n\n";

const REPLY_HELP: &str = "(To answer an earlier message, type !reply, the message's number and your \
words, for example: !reply 3 I slept better last night.)\n\n";

/// What pressing a numbered button does.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pressable {
    /// An inline button: its data comes back as a press.
    Callback { label: String, data: String },
    /// A key under the message field: its label is sent as if typed.
    Types(String),
}

impl Pressable {
    fn label(&self) -> &str {
        match self {
            Pressable::Callback { label, .. } | Pressable::Types(label) => label,
        }
    }
}

impl<W: AsyncWrite + Unpin + Send> Screen<W> {
    /// Takes the numbers for an answer's messages, in the order they are shown; the last one
    /// is where a question always is.
    fn reserve(&self, outbound: &[Outbound]) -> std::ops::Range<i32> {
        let count = numbered_count(outbound);
        let first = self.take_numbers(count);
        first..first + count
    }

    /// A number for one message, shown now.
    fn next_number(&self) -> i32 {
        self.take_numbers(1)
    }

    /// Takes `count` numbers, and keeps the next one for the next run.
    fn take_numbers(&self, count: i32) -> i32 {
        let first = self.numbers.fetch_add(count, Ordering::SeqCst);
        if let (Some(path), true) = (&self.numbers_file, count > 0)
            && let Err(error) = std::fs::write(path, (first + count).to_string())
        {
            tracing::warn!(%error, "cannot keep the terminal's message numbers for the next run");
        }
        first
    }

    fn note_shown(&self, number: i32) {
        self.shown
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(number);
    }

    /// Whether `!reply` may answer message `number`: one of the bot's shown in this run, or
    /// one from an earlier run (which the bot itself then recognises or not).
    fn may_reply_to(&self, number: i32) -> bool {
        let shown = self
            .shown
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shown.contains(&number) || (1..self.first_number).contains(&number)
    }

    /// Shows what the bot said, numbering its messages from `first` (as [`Screen::reserve`]
    /// gave). The messages that fade (discreet mode) and how long each stays are returned, for
    /// the deletion to come.
    async fn show(&self, outbound: Vec<Outbound>, first: i32) -> Vec<(i32, chrono::Duration)> {
        let mut text = String::new();
        let mut fading = Vec::new();
        let mut number = first;
        let mut numbered = |text: &mut String| {
            let this = number;
            number += 1;
            self.note_shown(this);
            text.push_str(&format!("#{this} "));
            this
        };
        let mut fades =
            |discretion: crossroads_core::reply::Discretion, this: i32, text: &mut String| {
                if let Some(after) = discretion.delete_after {
                    fading.push((this, after));
                    text.push_str(&format!(
                        "[protected, can't be forwarded; #{this} leaves the chat in {} min]\n",
                        after.num_minutes()
                    ));
                }
            };
        for item in outbound {
            match item {
                Outbound::Message(message) => {
                    let this = numbered(&mut text);
                    text.push_str(&as_plain(message.html.as_str()));
                    text.push('\n');
                    fades(message.discretion, this, &mut text);
                    for button in message.buttons {
                        text.push_str(&self.button_line(button));
                    }
                }
                Outbound::DeleteMessage { .. } => {
                    text.push_str("[deleted: your message, from this chat; your words are kept]\n");
                    continue;
                }
                Outbound::Document(document) => {
                    let this = numbered(&mut text);
                    let path = self.exports.join(&document.filename);
                    let saved = std::fs::create_dir_all(&self.exports)
                        .and_then(|()| std::fs::write(&path, &document.bytes));
                    match saved {
                        Ok(()) => text.push_str(&format!("[file saved: {}]\n", path.display())),
                        Err(error) => text.push_str(&format!(
                            "[file {} could not be saved: {error}]\n",
                            document.filename
                        )),
                    }
                    if let Some(caption) = document.caption {
                        text.push_str(&as_plain(caption.as_str()));
                        text.push('\n');
                    }
                    fades(document.discretion, this, &mut text);
                }
                Outbound::LeaveChat => {}
                Outbound::Edit(panel) => {
                    text.push_str("[updated]\n");
                    text.push_str(&as_plain(panel.html.as_str()));
                    text.push('\n');
                    for button in panel.rows.into_iter().flatten() {
                        text.push_str(&self.button_line(button));
                    }
                }
                Outbound::Notice(notice) => text.push_str(&format!("({notice})\n")),
                Outbound::Keyboard(keyed) => {
                    numbered(&mut text);
                    text.push_str(&as_plain(keyed.html.as_str()));
                    text.push('\n');
                    if let ReplyKeyboard::Offer(keys) = keyed.keyboard {
                        for key in keys {
                            text.push_str(&self.key_line(key));
                        }
                    }
                }
            }
            text.push('\n');
        }
        self.write(&text).await;
        fading
    }

    async fn write(&self, text: &str) {
        let mut out = self.out.lock().await;
        // A closed terminal is not an error worth stopping for.
        let _ = out.write_all(text.as_bytes()).await;
        let _ = out.flush().await;
    }

    fn button_line(&self, button: Button) -> String {
        match button {
            Button::Url { label, url } => format!("  [ {label} ]  {url}\n"),
            Button::Callback { label, data } => {
                let number = self.remember(Pressable::Callback {
                    label: label.clone(),
                    data,
                });
                format!("  [ {label} ]  type !{number} to press\n")
            }
        }
    }

    fn key_line(&self, key: Key) -> String {
        if key.location {
            return format!(
                "  [ {} ]  type !location and a latitude and longitude, like !location 48.86 2.35\n",
                key.label
            );
        }
        let number = self.remember(Pressable::Types(key.label.clone()));
        format!("  [ {} ]  type it, or !{number}\n", key.label)
    }

    /// Numbers a button for `!N`; returns its number.
    fn remember(&self, pressable: Pressable) -> usize {
        let mut buttons = self
            .buttons
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buttons.push(pressable);
        buttons.len()
    }

    /// `!N` presses the N-th button shown so far; `!label` the newest button with that label.
    fn pressed(&self, line: &str) -> Option<Pressable> {
        let wanted = line.strip_prefix('!')?.trim();
        let buttons = self
            .buttons
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match wanted.parse::<usize>() {
            Ok(number) => buttons.get(number.checked_sub(1)?).cloned(),
            Err(_) => buttons
                .iter()
                .rev()
                .find(|button| button.label().eq_ignore_ascii_case(wanted))
                .cloned(),
        }
    }
}

/// The text as a reader sees it. A spoiler (discreet mode) shows as `[hidden: …]`: a terminal
/// cannot hide text until tapped, so it marks what Telegram would hide.
fn as_plain(html: &str) -> String {
    let marked = html
        .replace("<tg-spoiler>", "[hidden: ")
        .replace("</tg-spoiler>", "]");
    visible_text(&marked).unwrap_or_else(|_| html.to_owned())
}

/// Shows what the sender delivers (the daily question) the same way as replies.
struct TerminalCourier<W> {
    screen: Arc<Screen<W>>,
}

impl<W: AsyncWrite + Unpin + Send + Sync + 'static> Courier for TerminalCourier<W> {
    fn carry(&self, _chat_id: i64, step: Step) -> BoxFuture<'_, Carried> {
        Box::pin(async move {
            let screen = &self.screen;
            let with_buttons = |mut text: String, buttons: Vec<StepButton>| {
                text.push('\n');
                for button in buttons {
                    text.push_str(&screen.button_line(match button {
                        StepButton::Url { label, url } => Button::Url { label, url },
                        StepButton::Callback { label, data } => Button::Callback { label, data },
                    }));
                }
                text
            };
            let (number, shown) = match step {
                Step::Message { html, buttons, .. } => {
                    let number = screen.next_number();
                    (
                        number,
                        with_buttons(format!("#{number} {}", as_plain(&html)), buttons),
                    )
                }
                Step::Edit {
                    message_id,
                    html,
                    rows,
                } => {
                    // A message changed in place keeps its number; with none, it comes anew.
                    let (number, heading) = match message_id {
                        Some(number) => (number, format!("[#{number} updated]\n")),
                        None => {
                            let number = screen.next_number();
                            (number, format!("#{number} "))
                        }
                    };
                    (
                        number,
                        with_buttons(
                            format!("{heading}{}", as_plain(&html)),
                            rows.into_iter().flatten().collect(),
                        ),
                    )
                }
                Step::Keyboard { html, .. } => {
                    let number = screen.next_number();
                    (number, format!("#{number} {}\n", as_plain(&html)))
                }
                Step::DeleteMessage { message_id } => {
                    screen
                        .write(&format!(
                            "[deleted: message #{message_id}, from this chat]\n\n"
                        ))
                        .await;
                    return Carried::Delivered { message_id: None };
                }
                Step::Document { .. } | Step::LeaveChat | Step::AnswerButton { .. } => {
                    return Carried::Delivered { message_id: None };
                }
            };
            screen.note_shown(number);
            screen.write(&format!("{shown}\n")).await;
            // Numbered like a Telegram message, so that a reply to a question finds it.
            Carried::Delivered {
                message_id: Some(number),
            }
        })
    }
}

/// The event a typed line is, read through the same arrival a Telegram update becomes; `None`
/// when the line was a terminal command that could not be read (a hint is shown instead).
async fn event_for<W: AsyncWrite + Unpin + Send>(
    screen: &Screen<W>,
    service: &Service,
    typed: &str,
) -> Option<Event> {
    let arrival = |what| Arrival {
        chat: ArrivalChat::Private(LOCAL_USER),
        what,
        button: None,
    };
    let message = |text: &str, reply_to| What::Message {
        message_id: screen.next_number(),
        sent_at: service.clock().now(),
        text: Some(text.to_owned()),
        reply_to,
    };
    let what = match read_typed(typed.trim()) {
        Typed::Location(Some((latitude, longitude))) => {
            // A shared location is a message in the chat, with its own number.
            screen.next_number();
            What::Location {
                zone: super::location::zone_at(latitude, longitude),
            }
        }
        Typed::Location(None) => {
            screen.write(LOCATION_HELP).await;
            return None;
        }
        Typed::Reply {
            number: Some(number),
            words,
        } if !words.is_empty() && screen.may_reply_to(number) => message(words, Some(number)),
        Typed::Reply { words: "", .. } => {
            screen.write(REPLY_HELP).await;
            return None;
        }
        // Words that answer nothing known are still words: kept, and read like any others.
        Typed::Reply {
            number: Some(number),
            words,
        } => {
            screen
                .write(&format!(
                    "(There's no message #{number} from the bot in this chat to answer, so your words are kept as they are. \
                     The numbers are the ones shown at the start of each message, like #3.)\n\n"
                ))
                .await;
            message(words, None)
        }
        Typed::Reply {
            number: None,
            words,
        } => {
            screen.write(REPLY_HELP).await;
            message(words, None)
        }
        Typed::Other => match screen.pressed(typed.trim()) {
            Some(Pressable::Callback { data, .. }) => return Some(Event::ButtonPressed { data }),
            Some(Pressable::Types(label)) => message(&label, None),
            None => message(typed, None),
        },
    };
    arrival(what).event(BOT_NAME).map(|(_, event)| event)
}

/// Runs the chat until the input ends or `shutdown` is cancelled.
pub async fn run<R, W>(
    service: Arc<Service>,
    input: R,
    output: W,
    data_dir: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + Sync + 'static,
{
    // Entries are keyed by message, and replies find questions by number, so numbers must not
    // repeat across runs of the chat: carry on from the highest one kept.
    let numbers_file = data_dir.join("terminal-numbers");
    let kept_number = std::fs::read_to_string(&numbers_file)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok());
    let first_number = service
        .highest_message_id(LOCAL_USER)?
        .unwrap_or(0)
        .saturating_add(1)
        .max(kept_number.unwrap_or(1));
    let screen = Arc::new(Screen {
        out: tokio::sync::Mutex::new(output),
        buttons: Mutex::new(Vec::new()),
        exports: data_dir.join("exports"),
        numbers: AtomicI32::new(first_number),
        first_number,
        numbers_file: Some(numbers_file),
        shown: Mutex::new(BTreeSet::new()),
    });
    let introduction = format!(
        "Crossroads, in your terminal. Type as you would in Telegram: /start to begin, /prompt for a question, \
         /help for everything else.\n\
         Each message from the bot has a number, like #3: !reply 3 and your words answers it, as a Telegram reply does. \
         !location and a latitude and longitude (!location 48.86 2.35) shares a place, to set your timezone; \
         only the timezone is kept. Ctrl-D leaves.\nYour words are kept in {}.\n\n",
        data_dir.display()
    );
    screen
        .out
        .lock()
        .await
        .write_all(introduction.as_bytes())
        .await?;

    let courier: Arc<dyn Courier> = Arc::new(TerminalCourier {
        screen: Arc::clone(&screen),
    });
    let stop_sending = CancellationToken::new();
    let sending = tokio::spawn(sender::run(
        Arc::clone(&service),
        courier,
        SenderOptions::default(),
        stop_sending.clone(),
    ));
    let scheduler = scheduler::spawn_supervised(Arc::clone(&service), shutdown.clone());

    let mut lines = BufReader::new(input).lines();
    loop {
        let line = tokio::select! {
            () = shutdown.cancelled() => break,
            line = lines.next_line() => line?,
        };
        let Some(line) = line else { break };
        let typed = line.trim_end_matches(['\r', '\n']);
        if typed.trim().is_empty() {
            continue;
        }
        let Some(event) = event_for(&screen, &service, typed).await else {
            continue;
        };
        // The answer's numbers are taken before it is kept, so that a question in it is
        // remembered under the number it is shown with.
        let reserved = Mutex::new(None);
        let numbering = |outbound: &[Outbound]| {
            let numbers = screen.reserve(outbound);
            let last = numbers.clone().last();
            *reserved
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(numbers);
            last
        };
        // As on Telegram, a bug must cost one answer, not the whole chat.
        let outbound =
            AssertUnwindSafe(service.handle_shown(Chat::Private(LOCAL_USER), event, numbering))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| vec![service.trouble()]);
        let first = match reserved
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            Some(numbers) if numbers.len() == numbered_count(&outbound) as usize => numbers.start,
            // Trouble instead of the answer that was numbered: number what is shown instead.
            _ => screen.reserve(&outbound).start,
        };
        for (number, after) in screen.show(outbound, first).await {
            if let Err(error) = service.fade_later(LOCAL_USER, number, after).await {
                tracing::warn!(error = %crate::service::cause_chain(&error), "cannot remember to delete a message");
            }
        }
    }
    shutdown.cancel();
    scheduler.await??;
    stop_sending.cancel();
    sending.await?;
    service.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_is_two_numbers_and_anything_else_is_explained() {
        assert_eq!(
            read_typed("!location 48.86 2.35"),
            Typed::Location(Some((48.86, 2.35)))
        );
        assert_eq!(
            read_typed("!Location -33.87,151.21"),
            Typed::Location(Some((-33.87, 151.21)))
        );
        assert_eq!(read_typed("!location"), Typed::Location(None));
        assert_eq!(read_typed("!location paris"), Typed::Location(None));
        assert_eq!(read_typed("!location 1 2 3"), Typed::Location(None));
        assert_eq!(
            read_typed("!location:48.86,2.35"),
            Typed::Location(Some((48.86, 2.35)))
        );
        // Mistyped, it is still never kept as words.
        assert_eq!(read_typed("!locations 48.86 2.35"), Typed::Location(None));
    }

    #[test]
    fn a_reply_is_a_number_and_words() {
        let reply = |number, words| Typed::Reply { number, words };
        assert_eq!(
            read_typed("!reply 7 I slept  better"),
            reply(Some(7), "I slept  better")
        );
        assert_eq!(read_typed("!reply #7 yes"), reply(Some(7), "yes"));
        assert_eq!(read_typed("!reply 7"), reply(Some(7), ""));
        assert_eq!(read_typed("!reply"), reply(None, ""));
        // Without a number the words are still the words, to be kept.
        assert_eq!(
            read_typed("!reply I can't go on"),
            reply(None, "I can't go on")
        );
        assert_eq!(read_typed("reply 7 words"), Typed::Other);
    }

    fn screen(first_number: i32) -> Arc<Screen<Vec<u8>>> {
        Arc::new(Screen {
            out: tokio::sync::Mutex::new(Vec::new()),
            buttons: Mutex::new(Vec::new()),
            exports: PathBuf::from("exports"),
            numbers: AtomicI32::new(first_number),
            first_number,
            numbers_file: None,
            shown: Mutex::new(BTreeSet::new()),
        })
    }

    #[tokio::test]
    async fn a_delivered_question_gets_the_next_number_and_may_be_replied_to() {
        let screen = screen(5);
        let courier = TerminalCourier {
            screen: Arc::clone(&screen),
        };
        let carried = courier
            .carry(
                1,
                Step::Message {
                    html: "<b>Today's question</b>".into(),
                    buttons: Vec::new(),
                    protect: false,
                    delete_after_secs: None,
                },
            )
            .await;
        assert_eq!(
            carried,
            Carried::Delivered {
                message_id: Some(5)
            }
        );
        let shown = String::from_utf8(screen.out.lock().await.clone()).unwrap();
        assert!(shown.starts_with("#5 Today's question"), "{shown}");
        assert!(screen.may_reply_to(5));
        assert!(!screen.may_reply_to(6), "not shown yet");
        assert!(screen.may_reply_to(4), "from an earlier run");
        assert!(!screen.may_reply_to(0));
    }

    #[test]
    fn an_answer_is_numbered_in_order_with_its_last_message_last() {
        let screen = screen(10);
        let answer = [
            Outbound::text(crossroads_core::markup::Html::text("one")),
            Outbound::Notice("a notice is not a message".into()),
            Outbound::text(crossroads_core::markup::Html::text("two")),
        ];
        assert_eq!(screen.reserve(&answer), 10..12);
        assert_eq!(screen.reserve(&[]), 12..12);
        assert_eq!(screen.next_number(), 12);
    }
}
